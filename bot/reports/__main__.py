"""python -m bot.reports monthly --month 2026-11 [--db URL] [--html out.html] [--xlsx out.xlsx]
python -m bot.reports dispatch [--now 2026-11-25T08:30] [--node fengxi] [--db URL] [--json]"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bot.db.schema import utcnow
from bot.reports import monthly_summary, parse_month, render
from bot.reports.dispatch import dispatch, to_text
from bot.reports.render import to_html, to_xlsx
from bot.settings import Settings
from bot.tickets.sla import default_policy


def _default_db() -> str:
    # DATABASE_URL if set, else sqlite:///<project>/var/yuanshang.db (VAR_DIR honoured), as the services use
    return Settings.from_env().effective_database_url


def _missing_sqlite_file(url: str) -> str | None:
    """The path of a SQLite database file that does not exist (a report must not create an empty one)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1].split("?", 1)[0]
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return None if Path(path).exists() else path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.reports", description="原上管家报表")
    sub = parser.add_subparsers(dest="report", metavar="报表")
    monthly = sub.add_parser("monthly", help="月总结", description="生成某月（北京时间自然月）的月总结")
    monthly.add_argument("--month", required=True, help="统计月份，格式 YYYY-MM，例如 2026-11")
    monthly.add_argument("--db", default=None, help="数据库 URL（默认取环境变量 DATABASE_URL，否则 var/yuanshang.db）")
    monthly.add_argument("--html", type=Path, default=None, help="另存为可打印的 HTML 页面")
    monthly.add_argument("--xlsx", type=Path, default=None, help="另存为 Excel 工作簿")
    disp = sub.add_parser(
        "dispatch",
        help="日调度清单",
        description="某一时刻各服务节点的日调度清单（与 08:30 定时发送、工作台显示的相同）",
    )
    disp.add_argument(
        "--now", default=None, help="清单时刻（ISO 格式，不带时区按北京时间），默认当前时间；定时任务用当天 08:30"
    )
    disp.add_argument("--node", action="append", default=None, help="只看某个服务节点（可重复）")
    disp.add_argument("--db", default=None, help="数据库 URL（默认取环境变量 DATABASE_URL，否则 var/yuanshang.db）")
    disp.add_argument("--json", action="store_true", help="输出 JSON")
    disp.add_argument("--all", action="store_true", help="也列出没有待调度工单的节点")
    return parser


def _dispatch(args) -> int:
    tz = default_policy().tz
    if args.now:
        try:
            now = datetime.fromisoformat(args.now.strip())
        except ValueError:
            print(
                f"错误：--now 的格式不正确：{args.now!r}，应为 ISO 时间，例如 2026-11-25T08:30（北京时间）",
                file=sys.stderr,
            )
            return 2
        now = now.replace(tzinfo=tz) if now.tzinfo is None else now
    else:
        now = utcnow()
    db_url = args.db or _default_db()
    missing = _missing_sqlite_file(db_url)
    if missing:
        print(f"错误：数据库文件不存在：{missing}。请用 --db 或环境变量 DATABASE_URL 指定数据库。", file=sys.stderr)
        return 1
    try:
        d = dispatch(db_url, now, node_ids=args.node)
    except SQLAlchemyError as exc:
        print(
            f"错误：无法从数据库读取工单（{db_url.split('@')[-1]}）。"
            f"详情：{exc.__class__.__name__}: {str(exc).splitlines()[0]}",
            file=sys.stderr,
        )
        return 1
    if args.node:
        unknown = sorted(set(args.node) - {n.node_id for n in d.nodes})
        if unknown:
            print(f"错误：没有这个服务节点（或节点已停用且没有待调度的工单）：{'、'.join(unknown)}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps(d.to_dict(), ensure_ascii=False, indent=1))
    else:
        print(to_text(d, skip_empty=not args.all))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.report == "dispatch":
        return _dispatch(args)
    if args.report != "monthly":
        parser.print_help(sys.stderr)
        return 2

    try:
        parse_month(args.month)
    except ValueError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    db_url = args.db or _default_db()
    missing = _missing_sqlite_file(db_url)
    if missing:
        print(f"错误：数据库文件不存在：{missing}。请用 --db 或环境变量 DATABASE_URL 指定数据库。", file=sys.stderr)
        return 1
    try:
        summary = monthly_summary(db_url, args.month)
    except SQLAlchemyError as exc:
        print(
            f"错误：无法从数据库读取统计数据（{db_url.split('@')[-1]}）。"
            f"请确认数据库地址正确并已完成迁移。\n详情：{exc.__class__.__name__}: {str(exc).splitlines()[0]}",
            file=sys.stderr,
        )
        return 1

    print(render.to_text(summary))
    if args.html or args.xlsx:
        print()
    try:
        if args.html:
            args.html.parent.mkdir(parents=True, exist_ok=True)
            args.html.write_text(to_html(summary), encoding="utf-8")
            print(f"已生成 HTML：{args.html}")
        if args.xlsx:
            args.xlsx.parent.mkdir(parents=True, exist_ok=True)
            to_xlsx(summary, str(args.xlsx))
            print(f"已生成 Excel：{args.xlsx}")
    except OSError as exc:
        print(f"错误：无法写入文件：{exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
