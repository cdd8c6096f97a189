"""Retention of Rasa's tracker events (bot.rasa_ext.retention) on SQLite and PostgreSQL, and its daily job.

The tracker store is Rasa's own SQLTrackerStore (it creates the table); conversations are real
DialogueStateTrackers saved through it with events at controlled times, and read back through it
after the purge — by the store and by a Rasa agent with the trained model.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from datetime import time as dtime

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine

from bot import scheduler as sch
from bot.db import read_sessions
from bot.db.schema import JobRun
from bot.rasa_ext import retention
from bot.settings import PROJECT_ROOT
from tests.race import race

PG_ADMIN = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DAY = 86400.0
DAYS = 180


# ---- fixtures: Rasa's tracker store on SQLite or on a fresh PostgreSQL database ------------------------


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker(request, tmp_path, domain):
    """(SQLAlchemy URL of the tracker store, Rasa's SQLTrackerStore on it)."""
    if request.param == "sqlite":
        path = tmp_path / "rasa_tracker.db"
        store = SQLTrackerStore(domain, dialect="sqlite", db=str(path))
        yield f"sqlite:///{path}", store
        store.engine.dispose()
        return
    psycopg2 = pytest.importorskip("psycopg2")
    name = f"yuanshang_tracker_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg2.connect(PG_ADMIN)
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN}: {exc}")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        store = SQLTrackerStore(domain, dialect="postgresql", host="127.0.0.1", port=5432, db=name, username="postgres")
        # the URL form the launcher passes on (login_db: Rasa's parameter, ignored by retention)
        yield f"postgresql://postgres@127.0.0.1:5432/{name}?login_db=postgres", store
        store.engine.dispose()
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="module")
def agent():
    """Rasa with the trained model (no action server: the turns below need none)."""
    from rasa.core.agent import Agent

    from bot.rasa_ext.training import ensure_model
    from bot.settings import Settings

    return Agent.load(str(ensure_model(Settings.from_env().model_dir)))


# ---- conversations ---------------------------------------------------------------------------------------


def session(start: float, turns: int = 2, carried: dict | None = None, set_slots: dict | None = None) -> list:
    """One Rasa session as the processor writes it, starting at epoch `start`."""
    evs = [ActionExecuted(ACTION_SESSION_START_NAME, timestamp=start), SessionStarted(timestamp=start + 0.01)]
    evs += [SlotSet(k, v, timestamp=start + 0.02) for k, v in (carried or {}).items()]
    evs.append(ActionExecuted(ACTION_LISTEN_NAME, timestamp=start + 0.03))
    for i in range(turns):
        t = start + 60 * (i + 1)
        evs += [
            UserUttered("你好", intent={"name": "greet", "confidence": 1.0}, timestamp=t),
            ActionExecuted("utter_greet", timestamp=t + 1),
            BotUttered("您好！我是原上管家。", timestamp=t + 2),
            ActionExecuted(ACTION_LISTEN_NAME, timestamp=t + 3),
        ]
    t = start + 60 * (turns + 1)
    evs += [SlotSet(k, v, timestamp=t) for k, v in (set_slots or {}).items()]
    return evs


def save(store, domain, sender: str, evs: list) -> None:
    asyncio.run(store.save(DialogueStateTracker.from_events(sender, evs, slots=domain.slots)))


def count(url: str, sender: str | None = None) -> int:
    engine = retention.tracker_engine(url)
    try:
        with engine.connect() as conn:
            q = select(func.count()).select_from(retention.events)
            if sender is not None:
                q = q.where(retention.events.c.sender_id == sender)
            return conn.scalar(q)
    finally:
        engine.dispose()


def names(tracker: DialogueStateTracker) -> list[str]:
    return [getattr(e, "action_name", None) or e.type_name for e in tracker.events]


def populate(store, domain, now: float) -> dict[str, int]:
    """The conversations of the scenario; returns each one's number of stored events."""
    ago = lambda days: now - days * DAY  # noqa: E731
    convs = {
        # idle for longer than the retention period: deleted entirely
        "idle": session(ago(200)),
        "idle-two-sessions": session(ago(300)) + session(ago(190), carried={"enterprise_name": "旧公司"}),
        # in use: the 200-day-old session goes; the one from 185 days ago (the last started before
        # the cutoff) and everything after it stay
        "live": (
            session(ago(200), set_slots={"enterprise_name": "西安光启芯科技有限公司"})
            + session(
                ago(185), carried={"enterprise_name": "西安光启芯科技有限公司"}, set_slots={"contact_name": "张伟"}
            )
            + session(
                ago(2),
                turns=3,
                carried={"enterprise_name": "西安光启芯科技有限公司", "contact_name": "张伟"},
                set_slots={"contact_mobile": "13800000000"},
            )
        ),
        # one long session that began before the cutoff and is still going: nothing can go
        "live-one-long-session": session(ago(200), turns=1)
        + [
            UserUttered("还在吗", intent={"name": "greet", "confidence": 1.0}, timestamp=ago(1)),
            ActionExecuted("utter_greet", timestamp=ago(1) + 1),
        ],
        # recent only: untouched
        "fresh": session(ago(10)),
    }
    for sender, evs in convs.items():
        save(store, domain, sender, evs)
    return {sender: len(evs) for sender, evs in convs.items()}


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


# ---- purge -------------------------------------------------------------------------------------------


def test_old_conversations_go_live_sessions_stay_whole(tracker, domain, agent):
    url, store = tracker
    now = time.time()
    stored = populate(store, domain, now)
    assert count(url) == sum(stored.values())
    live_old = len(session(now - 200 * DAY, set_slots={"enterprise_name": "x"}))  # the first session of "live"
    expected = stored["idle"] + stored["idle-two-sessions"] + live_old

    dry = retention.purge(url, DAYS, now=at(now), dry_run=True)
    assert (dry.events_deleted, dry.conversations_removed, dry.conversations_trimmed) == (expected, 2, 1)
    assert count(url) == sum(stored.values())  # a dry run deletes nothing
    assert "将删除" in dry.summary() and "试运行" in dry.summary()

    deletes: list[int] = []

    def on_execute(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("DELETE"):
            deletes.append(cursor.rowcount)

    event.listen(Engine, "after_cursor_execute", on_execute)
    try:
        result = retention.purge(url, DAYS, now=at(now), batch=7)
    finally:
        event.remove(Engine, "after_cursor_execute", on_execute)
    assert (result.events_deleted, result.conversations_removed, result.conversations_trimmed) == (expected, 2, 1)
    assert sum(deletes) == expected and max(deletes) <= 7 and len(deletes) >= -(-expected // 7)  # bounded
    assert "已删除" in result.summary() and f"{expected} 条" in result.summary()

    assert count(url, "idle") == count(url, "idle-two-sessions") == 0
    assert asyncio.run(store.retrieve("idle")) is None
    assert count(url, "live") == stored["live"] - live_old
    assert count(url, "live-one-long-session") == stored["live-one-long-session"]
    assert names(asyncio.run(store.retrieve("live-one-long-session")))[0] == "session_started"
    assert count(url, "fresh") == stored["fresh"]

    # what Rasa loads for the live conversation: its latest session with every slot
    live = asyncio.run(store.retrieve("live"))
    assert names(live)[0] == "session_started" and names(live).count("user") == 3
    assert live.current_slot_values()["enterprise_name"] == "西安光启芯科技有限公司"
    assert live.current_slot_values()["contact_name"] == "张伟"
    assert live.current_slot_values()["contact_mobile"] == "13800000000"
    # the full history now begins with the kept session's start (its start action included)
    full = asyncio.run(store.retrieve_full_tracker("live"))
    assert names(full)[:2] == [ACTION_SESSION_START_NAME, "session_started"]
    assert full.events[0].timestamp == pytest.approx(now - 185 * DAY)
    assert names(full).count("session_started") == 2
    assert all(e.timestamp >= now - 185 * DAY - 1 for e in full.events)

    # idempotent
    again = retention.purge(url, DAYS, now=at(now))
    assert (again.events_deleted, again.conversations_removed, again.conversations_trimmed) == (0, 0, 0)

    # Rasa carries on with the trimmed conversation: the old session expired, a new one starts with
    # the slots carried over, and the store appends without losing or duplicating anything
    agent.processor.tracker_store = store  # the module's agent, on this test's store
    agent.tracker_store = store
    before = count(url, "live")
    replies = asyncio.run(agent.handle_text("你好", sender_id="live"))
    assert replies and "原上管家" in replies[0]["text"]
    after = asyncio.run(store.retrieve("live"))
    assert names(after)[0] == "session_started" and names(after).count("user") == 1
    assert after.current_slot_values()["contact_name"] == "张伟"
    assert after.current_slot_values()["enterprise_name"] == "西安光启芯科技有限公司"
    # appended: exactly the new session (what Rasa loads) and the start action before it
    assert count(url, "live") - before == len(after.events) + 1
    assert names(asyncio.run(store.retrieve_full_tracker("live"))).count("session_started") == 3
    # … and a user whose conversation was deleted starts afresh
    replies = asyncio.run(agent.handle_text("你好", sender_id="idle"))
    assert replies and "原上管家" in replies[0]["text"]
    fresh_start = asyncio.run(store.retrieve_full_tracker("idle"))
    assert names(fresh_start)[:2] == [ACTION_SESSION_START_NAME, "session_started"]
    assert all(e.timestamp > now - 60 for e in fresh_start.events)


def test_a_user_returning_during_the_purge_keeps_the_new_session(tracker, domain):
    url, store = tracker
    now = time.time()
    save(store, domain, "back", session(now - 200 * DAY, set_slots={"enterprise_name": "陕西云谷数智有限公司"}))
    engine = retention.tracker_engine(url)
    try:
        plan = retention._plan(engine, (at(now) - timedelta(days=DAYS)).timestamp())
        assert plan.idle == ["back"]
        # the user comes back between the scan and the deletes: Rasa appends a new session
        old = asyncio.run(store.retrieve("back"))
        new = session(now, carried={"enterprise_name": "陕西云谷数智有限公司"})
        for e in new:
            old.update(e)
        asyncio.run(store.save(old))
        deleted = sum(retention._delete_in_batches(engine, w, 5, 0) for w in retention._conditions(plan))
    finally:
        engine.dispose()
    assert deleted == len(session(now, set_slots={"enterprise_name": "x"}))
    back = asyncio.run(store.retrieve("back"))
    assert names(back)[0] == "session_started" and len(back.events) == len(new) - 1
    assert back.current_slot_values()["enterprise_name"] == "陕西云谷数智有限公司"
    assert count(url, "back") == len(new)


def test_nothing_to_do_before_rasa_created_its_store_or_when_retention_is_off(tmp_path, tracker, domain):
    missing = tmp_path / "not-yet" / "rasa_tracker.db"
    r = retention.purge(f"sqlite:///{missing}", DAYS)
    assert r.no_table and r.events_deleted == 0 and "尚无记录" in r.summary()
    assert not missing.exists() and not missing.parent.exists()  # nothing created on the way
    empty = tmp_path / "empty.db"
    create_engine(f"sqlite:///{empty}").connect().close()  # a file without Rasa's table
    assert retention.purge(f"sqlite:///{empty}", DAYS).no_table

    url, store = tracker
    assert retention.purge(url, DAYS).events_deleted == 0  # the table, no rows
    save(store, domain, "old", session(time.time() - 400 * DAY))
    off = retention.purge(url, 0)
    assert off.events_deleted == 0 and "长期保存" in off.summary() and count(url, "old") > 0
    with pytest.raises(ValueError, match="不能为负数"):
        retention.purge(url, -1)


def test_no_table_on_postgresql(tmp_path):
    psycopg2 = pytest.importorskip("psycopg2")
    name = f"yuanshang_tracker_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(PG_ADMIN)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        r = retention.purge(f"postgres://postgres@127.0.0.1:5432/{name}", DAYS)
        assert r.no_table and r.events_deleted == 0
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_command_line(tmp_path, domain):
    path = tmp_path / "rasa_tracker.db"
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(path))
    now = time.time()
    save(store, domain, "old", session(now - 40 * DAY))
    save(store, domain, "new", session(now - 5 * DAY))
    store.engine.dispose()
    env = dict(os.environ, VAR_DIR=str(tmp_path), TRACKER_STORE_URL="", TRACKER_RETENTION_DAYS="30")

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "bot.rasa_ext.retention", *args],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    n_old = len(session(0))
    p = cli("--dry-run")  # VAR_DIR/rasa_tracker.db, 30 days from the env
    assert p.returncode == 0, p.stderr
    assert "将删除" in p.stdout and f"对话事件 {n_old} 条" in p.stdout and "整段删除长期无活动的会话 1 个" in p.stdout
    assert "rasa_tracker.db" in p.stdout
    p = cli("--days", "60")
    assert p.returncode == 0 and "对话事件 0 条" in p.stdout
    p = cli()
    assert p.returncode == 0 and "已删除" in p.stdout and f"对话事件 {n_old} 条" in p.stdout
    assert count(f"sqlite:///{path}", "old") == 0 and count(f"sqlite:///{path}", "new") == n_old
    p = cli("--days", "-3")
    assert p.returncode == 2 and "不能为负数" in p.stderr
    p = cli("--tracker", f"sqlite:///{tmp_path / 'nothing.db'}")
    assert p.returncode == 0 and "尚无记录" in p.stdout


# ---- the daily job ------------------------------------------------------------------------------------


def test_the_daily_job_runs_once_per_day_across_instances(sqlite_url, tracker, domain, tmp_path):
    url, store = tracker
    assert sch.RETENTION in sch.JOBS and sch.JOB_LABELS[sch.RETENTION] == "对话记录清理"
    assert sch.RETENTION not in sch.Scheduler(sqlite_url, "x", reports_dir=tmp_path).jobs  # no tracker given

    real = time.time()
    save(store, domain, "idle", session(real - 200 * DAY))
    save(store, domain, "fresh", session(real - 3 * DAY))
    n_fresh = count(url, "fresh")
    probe = sch.Scheduler(sqlite_url, "probe", reports_dir=tmp_path)
    today = probe.local_date(at(real))
    assert sch._retention_candidates(probe, probe.at(today, sch.RETENTION_AT) - timedelta(seconds=1)) == []
    now = max(at(real), probe.at(today, sch.RETENTION_AT))  # at or after today's 03:30
    day = probe.local_date(now).isoformat()

    results = race(
        2,
        lambda i: sch.Scheduler(sqlite_url, f"inst-{i}", reports_dir=tmp_path, tracker_url=url, retention_days=DAYS),
        lambda sched: sched.run_due(now, sweep=False),
    )
    [done] = [r for r in results if r.job == sch.RETENTION and r.status == "done"]
    assert done.period == day and done.data.conversations_removed == 1
    assert "整段删除长期无活动的会话 1 个" in done.output
    with read_sessions(sqlite_url)() as s:
        runs = s.scalars(select(JobRun).where(JobRun.job == sch.RETENTION)).all()
        assert [(r.period, r.status) for r in runs] == [(day, "done")]
    assert count(url, "idle") == 0 and count(url, "fresh") == n_fresh

    # later the same day: nothing; the next day: once more; a simulated future never reaches further
    other = sch.Scheduler(sqlite_url, "inst-9", reports_dir=tmp_path, tracker_url=url, retention_days=DAYS)
    end_of_day = datetime.combine(probe.local_date(now) + timedelta(days=1), dtime(0), tzinfo=probe.tz)
    assert [r for r in other.run_due(end_of_day - timedelta(seconds=1), sweep=False) if r.job == sch.RETENTION] == []
    later = now + timedelta(days=200)
    [next_run] = [r for r in other.run_due(later, sweep=False) if r.job == sch.RETENTION]
    assert next_run.status == "done" and next_run.period == other.local_date(later).isoformat()
    assert next_run.data.events_deleted == 0 and count(url, "fresh") == n_fresh
    status = sch.status_text(sqlite_url, later)
    assert f"对话记录清理（tracker_retention）：最近完成 {next_run.period}" in status
