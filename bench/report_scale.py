"""How the monthly summary (月总结) scales: a year of demo data, then the report for one month.

    python bench/report_scale.py                          # 1,000,000 tickets, SQLite
    python bench/report_scale.py --pg                     # the same on SQLite and on PostgreSQL
    python bench/report_scale.py --tickets 100000 --keep  # smaller; keep the database afterwards

For each database the script creates a fresh one (SQLite: a file in a temporary directory;
PostgreSQL: a new database on --pg-admin, dropped at the end unless --keep), migrates it,
loads the service network, generates the demo data with bot.tooling.demo (fixed seed and "now", so
every run builds the same data), and then times:

- bot.reports.monthly.monthly_summary for --month, 3 runs (min and median; all runs shown),
- rendering the summary as HTML (to_html) and as an Excel workbook (to_xlsx, in memory).

It prints the generation time, the database size and the report's figures (to_text).
SQLite is left without ANALYZE statistics, as a deployment has them; bot.tooling.demo ANALYZEs the
PostgreSQL tables after loading, as autovacuum would soon do.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

PG_ADMIN = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_BASE = "postgresql+psycopg2://postgres@127.0.0.1:5432"
RUNS = 3


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GB"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(label: str, url: str, args, size_of) -> dict:
    from bot.db import migrate
    from bot.network import sync_network
    from bot.reports import monthly_summary, to_html, to_text, to_xlsx
    from bot.tooling.demo import generate

    print(f"\n=== {label} ===", flush=True)
    t0 = time.perf_counter()
    migrate(url)
    sync_network(url)
    t_setup = time.perf_counter() - t0
    result = generate(
        url,
        enterprises=args.enterprises,
        year=args.year,
        tickets=args.tickets,
        seed=args.seed,
        now=args.now,
        progress=_log,
    )
    print(f"迁移并同步服务网络：{_ms(t_setup)}")
    print(f"生成数据：{result.seconds:,.1f} s（{result.tickets / result.seconds:,.0f} 件工单/秒）")
    print(f"  {result.summary()}")
    print(f"数据库大小：{size_of()}")

    times = []
    summary = None
    for _ in range(RUNS):
        t = time.perf_counter()
        summary = monthly_summary(url, args.month)
        times.append(time.perf_counter() - t)
    html_times, xlsx_times = [], []
    for _ in range(RUNS):
        t = time.perf_counter()
        html = to_html(summary)
        html_times.append(time.perf_counter() - t)
        buf = io.BytesIO()
        t = time.perf_counter()
        to_xlsx(summary, buf)
        xlsx_times.append(time.perf_counter() - t)
    t_html, t_xlsx = min(html_times), min(xlsx_times)
    print(
        f"monthly_summary({args.month})：最短 {_ms(min(times))}，中位 {_ms(statistics.median(times))}"
        f"（{RUNS} 次：{'、'.join(_ms(x) for x in times)}）"
    )
    print(
        f"渲染（{RUNS} 次取最短）：HTML {_ms(t_html)}（{_size(len(html.encode('utf-8')))}），"
        f"xlsx {_ms(t_xlsx)}（{_size(len(buf.getvalue()))}；首次 {_ms(xlsx_times[0])}，含加载 openpyxl）"
    )
    print()
    report = to_text(summary)
    if not args.full_text:  # the headline figures; the per-category and per-node tables with --full-text
        report = report.split("\n按需求分类")[0]
    print(report)
    return {
        "label": label,
        "generate": result.seconds,
        "size": size_of(),
        "min": min(times),
        "median": statistics.median(times),
        "html": t_html,
        "xlsx": t_xlsx,
        "tickets": result.tickets,
    }


def sqlite_case(args) -> dict:
    from bot.db import engine_for

    directory = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="report_scale_"))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "report_scale.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"

    def size_of() -> str:
        with engine_for(url).connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return f"{_size(path.stat().st_size)}（{path}）"

    try:
        return run(f"SQLite：{args.tickets:,} 件工单", url, args, size_of)
    finally:
        for immediate in (False, True):
            engine_for(url, immediate).dispose()
        if not args.keep:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            if not args.dir:
                directory.rmdir()
        else:
            print(f"（已保留：{url}）")


def pg_case(args) -> dict:
    import psycopg2
    from sqlalchemy import text

    from bot.db import engine_for

    name = f"report_scale_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(args.pg_admin)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    url = f"{args.pg_base}/{name}"

    def size_of() -> str:
        with engine_for(url).connect() as conn:
            total = conn.scalar(text("SELECT pg_database_size(current_database())"))
            tickets = conn.scalar(text("SELECT pg_total_relation_size('tickets')"))
        return f"{_size(total)}（其中 tickets 表含索引 {_size(tickets)}；数据库 {name}）"

    try:
        return run(f"PostgreSQL：{args.tickets:,} 件工单", url, args, size_of)
    finally:
        for immediate in (False, True):
            engine_for(url, immediate).dispose()
        if args.keep:
            print(f"（已保留：{url}）")
        else:
            admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def main(argv: list[str] | None = None) -> int:
    from bot.tooling.demo import _parse_now

    p = argparse.ArgumentParser(description="月总结在大数据量下的耗时（SQLite，可加 PostgreSQL）")
    p.add_argument("--tickets", type=int, default=1_000_000, help="工单数（默认 1,000,000）")
    p.add_argument("--enterprises", type=int, default=None, help="企业数（默认 工单数/50，至少 500）")
    p.add_argument("--year", type=int, default=2026)
    p.add_argument(
        "--now",
        type=_parse_now,
        default=datetime(2026, 11, 25, 12, 0, tzinfo=timezone(timedelta(hours=8))),
        help="生成数据时的“现在”（默认 2026-11-25 12:00 北京时间，保证每次数据相同）",
    )
    p.add_argument("--month", default="2026-10", help="统计月份（默认 2026-10）")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--pg", action="store_true", help="另在一个新建的 PostgreSQL 数据库上运行（结束后删除）")
    p.add_argument("--pg-admin", default=PG_ADMIN, help=f"用于建库/删库的连接（默认 {PG_ADMIN}）")
    p.add_argument("--pg-base", default=PG_BASE, help=f"新数据库的 SQLAlchemy URL 前缀（默认 {PG_BASE}）")
    p.add_argument("--dir", default=None, help="SQLite 文件所在目录（默认临时目录）")
    p.add_argument("--keep", action="store_true", help="保留生成的数据库")
    p.add_argument("--full-text", action="store_true", help="打印完整的月总结文本（含分类和各节点表格）")
    args = p.parse_args(argv)
    # Ctrl-C and kill (also SIGINT when started in the background) clean up first: the database is dropped
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.enterprises = args.enterprises or max(500, args.tickets // 50)

    print(
        f"月总结压测：{args.tickets:,} 件工单，{args.enterprises:,} 家企业，{args.year} 年 1 月 1 日至 "
        f"{args.now.astimezone(timezone(timedelta(hours=8))):%Y-%m-%d %H:%M}，统计月份 {args.month}，"
        f"Python {sys.version.split()[0]}，{os.cpu_count()} 核"
    )
    results = [sqlite_case(args)]
    if args.pg:
        results.append(pg_case(args))

    print("\n=== 汇总 ===")
    for r in results:
        print(
            f"{r['label']}：生成 {r['generate']:,.1f} s，大小 {r['size'].split('（')[0]}，"
            f"monthly_summary 最短 {_ms(r['min'])} / 中位 {_ms(r['median'])}，"
            f"HTML {_ms(r['html'])}，xlsx {_ms(r['xlsx'])}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
