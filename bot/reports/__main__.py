"""python -m bot.reports monthly --month 2026-11 [--db URL] [--html out.html] [--xlsx out.xlsx]"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError


def _default_db() -> str:
    from bot.settings import Settings

    # DATABASE_URL if set, else sqlite:///<project>/var/yuanshang.db (VAR_DIR honoured), as the services use
    return os.environ.get("DATABASE_URL") or Settings.from_env().effective_database_url


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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.report != "monthly":
        parser.print_help(sys.stderr)
        return 2

    from bot.reports.monthly import monthly_summary, parse_month
    from bot.reports.render import to_html, to_text, to_xlsx

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
        print(f"错误：无法从数据库读取统计数据（{db_url.split('@')[-1]}）。"
              f"请确认数据库地址正确并已完成迁移。\n详情：{exc.__class__.__name__}: {str(exc).splitlines()[0]}",
              file=sys.stderr)
        return 1

    print(to_text(summary))
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
