"""Export or erase what the service holds about one person (个人信息查阅、复制、删除).

    python -m bot.privacy export --mobile 13912345678 [--out person.json]
    python -m bot.privacy export --conversation web-xxxx
    python -m bot.privacy erase  --mobile 13912345678 --yes
    python -m bot.privacy retention [--days N] [--now 2029-12-01T04:00]     # what the daily job does, once

Both are written to the console audit (actor ``cli:<user>``). Erasure deletes messages, conversations,
handover transcripts, question logs, notifications to the conversation and Rasa's tracker events of it;
tickets keep their record with the personal fields anonymised. Database from --db / DATABASE_URL /
var/yuanshang.db, tracker store from --tracker / TRACKER_STORE_URL / var/rasa_tracker.db.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from bot.privacy import data
from bot.privacy.service import run_erase, run_export, run_retention
from bot.settings import Settings


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in a container: still audited
        return "cli:unknown"


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bot.privacy", description="个人信息的导出、删除与到期清理")
    sub = ap.add_subparsers(dest="command", metavar="命令")
    exp = sub.add_parser("export", help="导出与某人有关的全部信息（JSON）")
    era = sub.add_parser("erase", help="删除与某人有关的个人信息（工单保留，个人字段匿名化）")
    ret = sub.add_parser("retention", help="按保存期限清理一次（定时任务每天自动执行）")
    for p in (exp, era):
        who = p.add_mutually_exclusive_group(required=True)
        who.add_argument("--mobile", help="联系人手机号")
        who.add_argument("--conversation", help="会话编号（如 web-…、微信 openid 会话）")
    for p in (exp, era, ret):
        p.add_argument("--db", default=None, help="数据库 URL（默认 DATABASE_URL，否则 var/yuanshang.db）")
    exp.add_argument("--out", type=Path, default=None, help="写入文件（权限 0600），默认输出到屏幕")
    era.add_argument("--yes", action="store_true", help="确认删除（不可恢复）")
    era.add_argument(
        "--tracker", default=None, help="Rasa 对话记录库 URL（默认 TRACKER_STORE_URL，否则 var/rasa_tracker.db）"
    )
    ret.add_argument("--days", type=int, default=None, help="保存天数（默认 PERSONAL_DATA_RETENTION_DAYS，3 年）")
    ret.add_argument("--now", default=None, help="按此时间计算（ISO 格式，带时区或按 UTC）")
    args = ap.parse_args(argv)
    if args.command is None:
        ap.print_help(sys.stderr)
        return 2
    settings = Settings.from_env()
    db_url = args.db or settings.effective_database_url
    try:
        if args.command == "export":
            result = run_export(db_url, mobile=args.mobile, conversation=args.conversation, actor=_actor())
            text = json.dumps(result, ensure_ascii=False, indent=2)
            if args.out:
                fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(text + "\n")
                print(f"已导出到 {args.out}", file=sys.stderr)
            else:
                print(text)
            return 0
        if args.command == "erase":
            if not args.yes:
                print("删除不可恢复：请确认后加 --yes 再执行。", file=sys.stderr)
                return 2
            done = run_erase(
                db_url,
                mobile=args.mobile,
                conversation=args.conversation,
                tracker_url=args.tracker or settings.effective_tracker_store_url,
                actor=_actor(),
            )
            print(f"已删除：{done.summary()}；对话记录事件 {done.tracker_events} 条")
            return 0
        now = None
        if args.now:
            try:
                now = datetime.fromisoformat(args.now)
            except ValueError:
                print(f"错误：--now 的格式不正确：{args.now!r}", file=sys.stderr)
                return 2
            now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
        days = settings.personal_data_retention_days if args.days is None else args.days
        print(run_retention(db_url, days, now).summary())
        return 0
    except data.SelectorError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
