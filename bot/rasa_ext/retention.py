"""Retention of Rasa's tracker events: old conversations go, live sessions stay whole.

Rasa's SQLTrackerStore keeps every event of every conversation in its table ``events``
(SQLite file or PostgreSQL) and never deletes any. ``purge`` deletes what is older than
TRACKER_RETENTION_DAYS (0 = keep forever); the scheduler runs it daily at 03:30 Beijing time:

- a conversation whose newest event is older than the cutoff is deleted entirely;
- a conversation still in use loses only what precedes the start of its last session that
  began before the cutoff (the ``action_session_start`` action and the ``session_started``
  event after it). Rasa rebuilds a tracker from the latest ``session_started`` on, so the
  session it loads — slots carried over included — is untouched. A live conversation without
  such a session start keeps everything (cutting it anywhere else would lose its state).

Deletes run in bounded transactions (``BATCH`` rows) and only touch events that existed at the
scan, so a user who comes back meanwhile keeps the new session Rasa writes for them. The
``events`` table is Rasa's: it is declared here minimally, never created; before Rasa's first
start there is nothing to do.

    python -m bot.rasa_ext.retention [--days N] [--dry-run] [--tracker URL]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Optional

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    create_engine,
    delete,
    func,
    inspect,
    or_,
    select,
)
from sqlalchemy.engine import Engine, make_url

from bot.clock import BEIJING
from bot.settings import Settings

log = logging.getLogger(__name__)

BATCH = 5000  # rows per delete transaction
SENDERS_PER_QUERY = 200  # conversations per selecting query
SESSION_STARTED = "session_started"
ACTION_SESSION_START = "action_session_start"

_metadata = MetaData()
events = Table(  # the columns of Rasa's SQLTrackerStore.SQLEvent this module reads
    "events",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("action_name", String(255)),
)


@dataclass(frozen=True)
class RetentionResult:
    days: int
    cutoff: Optional[datetime]  # events before this moment are old (None: retention off)
    events_deleted: int = 0  # (dry run: would be deleted)
    conversations_removed: int = 0  # idle conversations deleted entirely
    conversations_trimmed: int = 0  # live conversations that lost their old sessions
    dry_run: bool = False
    no_table: bool = False  # Rasa has not created its tracker store yet

    def summary(self) -> str:
        if self.days <= 0:
            return "对话记录保留期限为 0（长期保存），未清理"
        if self.no_table:
            return "对话记录库中尚无记录（Rasa 尚未建表），无需清理"
        when = self.cutoff.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
        verb = "将删除" if self.dry_run else "已删除"
        text = (
            f"{verb} {when}（北京时间）之前的对话事件 {self.events_deleted} 条："
            f"整段删除长期无活动的会话 {self.conversations_removed} 个，"
            f"删除仍在进行的会话的早期记录 {self.conversations_trimmed} 个（其当前会话完整保留）"
        )
        return text + ("（试运行，未实际删除）" if self.dry_run else "")


def tracker_engine(url: str) -> Optional[Engine]:
    """An engine on the tracker store, or None when its SQLite file does not exist (yet)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if not u.database or u.database == ":memory:" or not Path(u.database).exists():
            return None
        return create_engine(u, future=True, connect_args={"timeout": 30})
    # login_db is a bot.rasa_ext.endpoints parameter for Rasa (the database to create ours from)
    return create_engine(u.difference_update_query(["login_db"]), future=True, pool_pre_ping=True)


@dataclass(frozen=True)
class _Plan:
    max_id: int
    idle: list[str]  # conversations to delete entirely (events up to max_id)
    trim: dict[str, int]  # conversation → first id to keep


def _plan(engine: Engine, cutoff_ts: float) -> _Plan:
    """Which conversations hold old events, and where each may be cut."""
    ev = events
    old_start = func.max(case((and_(ev.c.type_name == SESSION_STARTED, ev.c.timestamp < cutoff_ts), ev.c.id)))
    with engine.connect() as conn:
        max_id = conn.scalar(select(func.max(ev.c.id)))
        if max_id is None:
            return _Plan(0, [], {})
        rows = conn.execute(
            select(ev.c.sender_id, func.max(ev.c.timestamp), old_start)
            .where(ev.c.id <= max_id)
            .group_by(ev.c.sender_id)
            .having(func.min(ev.c.timestamp) < cutoff_ts)
        ).all()
    idle = sorted(sender for sender, newest, _ in rows if newest < cutoff_ts)
    trim: dict[str, int] = {}
    for sender, newest, start in rows:
        if newest < cutoff_ts or start is None:
            continue
        with engine.connect() as conn:
            before = conn.execute(
                select(ev.c.id, ev.c.type_name, ev.c.action_name)
                .where(ev.c.sender_id == sender, ev.c.id < start)
                .order_by(ev.c.id.desc())
                .limit(2)
            ).all()
        if before and before[0].type_name == "action" and before[0].action_name == ACTION_SESSION_START:
            start, before = before[0].id, before[1:]  # keep the session's start action with it
        if before:
            trim[sender] = start
    return _Plan(max_id, idle, trim)


def _chunks(items: list, n: int) -> Iterable[list]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _conditions(plan: _Plan):
    ev = events
    for senders in _chunks(plan.idle, SENDERS_PER_QUERY):
        yield and_(ev.c.sender_id.in_(senders), ev.c.id <= plan.max_id)
    for pairs in _chunks(sorted(plan.trim.items()), SENDERS_PER_QUERY):
        yield or_(*(and_(ev.c.sender_id == sender, ev.c.id < start) for sender, start in pairs))


def _delete_in_batches(engine: Engine, where, batch: int, pause: float) -> int:
    """Delete the rows matching `where`, at most `batch` per transaction."""
    total = 0
    while True:
        with engine.connect() as conn:  # the read ends before the write (SQLite locks)
            ids = conn.execute(select(events.c.id).where(where).order_by(events.c.id).limit(batch)).scalars().all()
        if not ids:
            return total
        with engine.begin() as conn:
            total += conn.execute(delete(events).where(events.c.id.in_(ids))).rowcount
        if len(ids) < batch:
            return total
        if pause:
            time.sleep(pause)


def purge(
    tracker_url: str,
    days: int,
    *,
    now: Optional[datetime] = None,
    batch: int = BATCH,
    dry_run: bool = False,
    pause: float = 0.0,
) -> RetentionResult:
    """Delete tracker events older than `days` days before `now` (see the module docstring)."""
    if days < 0:
        raise ValueError(f"对话记录保留天数不能为负数：{days}")
    if days == 0:
        return RetentionResult(0, None, dry_run=dry_run)
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise ValueError(f"需要带时区的当前时间，收到的是：{now!r}")
    cutoff = now - timedelta(days=days)
    engine = tracker_engine(tracker_url)
    if engine is None:
        return RetentionResult(days, cutoff, dry_run=dry_run, no_table=True)
    try:
        if not inspect(engine).has_table("events"):
            return RetentionResult(days, cutoff, dry_run=dry_run, no_table=True)
        plan = _plan(engine, cutoff.timestamp())
        deleted = 0
        for where in _conditions(plan):
            if dry_run:
                with engine.connect() as conn:
                    deleted += conn.scalar(select(func.count()).select_from(events).where(where))
            else:
                deleted += _delete_in_batches(engine, where, batch, pause)
        result = RetentionResult(days, cutoff, deleted, len(plan.idle), len(plan.trim), dry_run)
    finally:
        engine.dispose()
    log.info("对话记录清理：%s", result.summary())
    return result


def main(argv: Optional[list[str]] = None) -> int:
    settings = Settings.from_env()
    ap = argparse.ArgumentParser(
        prog="python -m bot.rasa_ext.retention", description="清理 Rasa 对话记录库中超过保留期限的对话事件"
    )
    ap.add_argument(
        "--days",
        type=int,
        default=None,
        help=f"保留天数（默认取环境变量 TRACKER_RETENTION_DAYS，当前为 {settings.tracker_retention_days}；0 表示长期保存）",
    )
    ap.add_argument("--dry-run", action="store_true", help="只统计将删除的记录，不实际删除")
    ap.add_argument(
        "--tracker", default=None, help="对话记录库 URL（默认取 TRACKER_STORE_URL，否则 var/rasa_tracker.db）"
    )
    args = ap.parse_args(argv)
    days = settings.tracker_retention_days if args.days is None else args.days
    url = args.tracker or settings.effective_tracker_store_url
    try:
        result = purge(url, days, dry_run=args.dry_run)
    except ValueError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the operator gets one Chinese line, not a traceback
        print(
            f"错误：无法清理对话记录库：{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            file=sys.stderr,
        )
        return 1
    print(f"对话记录库：{make_url(url).render_as_string(hide_password=True)}")
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
