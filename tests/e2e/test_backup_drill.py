"""Backup and restore drill (issue 16, item 6) on the running stack, embedded (SQLite) and scale (PostgreSQL).

Conversations run against the real desk and Rasa while `python -m bot.runtime.backup backup` copies both
databases (SQLite online backup API / pg_dump). Each backup is restored into fresh databases and a fresh
desk on them:
- the backup taken while conversations ran holds every row committed before it started, nothing that
  never existed, and is consistent (every message's conversation, every event's ticket);
- the backup taken afterwards holds exactly every ticket, message and audit row, and the restored desk
  serves every conversation's history to its key.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select, text

from bot.db import read_sessions, sessions
from bot.db.schema import ConsoleAudit, Conversation, Message, Ticket, TicketEvent
from bot.settings import PROJECT_ROOT, Settings
from tests.conftest import PG_ADMIN
from tests.unit.privacy_helpers import person

pytestmark = pytest.mark.e2e

QUESTIONS = ["你好", "高企认定需要什么条件", "研发费用加计扣除怎么申请", "有哪些人才政策"]


def rows(db: str) -> dict:
    with read_sessions(db)() as s:
        return {
            "tickets": set(s.execute(select(Ticket.number, Ticket.description)).all()),
            "events": set(s.execute(select(TicketEvent.id, TicketEvent.ticket_id, TicketEvent.action)).all()),
            "messages": set(s.execute(select(Message.id, Message.conversation_id, Message.text)).all()),
            "conversations": set(s.scalars(select(Conversation.id))),
            "audit": set(s.execute(select(ConsoleAudit.id, ConsoleAudit.action, ConsoleAudit.actor)).all()),
        }


def tracker_senders(url: str) -> set:
    eng = create_engine(url)
    try:
        with eng.connect() as c:
            return set(c.execute(text("SELECT DISTINCT sender_id FROM events")).scalars())
    finally:
        eng.dispose()


def run_backup(dest: Path, db: str, tracker: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot.runtime.backup", "backup", "--to", str(dest), "--db", db, "--tracker", tracker],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert (dest.stat().st_mode & 0o777) == 0o700
    for f in dest.iterdir():
        assert (f.stat().st_mode & 0o777) == 0o600, f


class Target:
    """Fresh, empty databases of the stack's kind to restore into."""

    def __init__(self, kind: str, tmp: Path):
        self.kind, self.tmp, self.dbs = kind, tmp, []

    def new(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.tmp / f'restored-{uuid.uuid4().hex[:8]}.db'}"
        from bot.tooling.stack import create_pg_database

        url = create_pg_database(f"ys_restore_{uuid.uuid4().hex[:10]}", PG_ADMIN)
        self.dbs.append(url)
        return url

    def drop(self) -> None:
        from bot.tooling.stack import drop_pg_database

        for url in self.dbs:
            drop_pg_database(url, PG_ADMIN)


def restore(src: Path, target: Target) -> tuple[str, str]:
    db, tracker = target.new(), target.new()
    proc = subprocess.run(
        [sys.executable, "-m", "bot.runtime.backup", "restore", "--from", str(src), "--db", db, "--tracker", tracker],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    again = subprocess.run(
        [sys.executable, "-m", "bot.runtime.backup", "restore", "--from", str(src), "--db", db, "--tracker", tracker],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 1 and "已有数据" in again.stderr  # never over a live database by accident
    return db, tracker


def chat(desk_url: str, sessions_out: list, errors: list, n: int) -> None:
    try:
        s = requests.post(f"{desk_url}/api/chat/session", timeout=30).json()
        sessions_out.append(s)
        for q in QUESTIONS[:n]:
            r = requests.post(
                f"{desk_url}/api/chat/message",
                headers={"X-Chat-Key": s["key"]},
                json={"conversation_id": s["conversation_id"], "text": q, "client_msg_id": str(uuid.uuid4())},
                timeout=120,
            )
            assert r.status_code == 200, r.text
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)


def test_backup_while_chatting_then_restore_into_a_fresh_instance(any_stack, tmp_path):
    st = any_stack.settings
    db, tracker = st.effective_database_url, st.effective_tracker_store_url
    kind = "sqlite" if db.startswith("sqlite") else "postgresql"
    tag = uuid.uuid4().hex[:6]
    with sessions(db).begin() as s:  # tickets with events and ratings, as the drill's fixture
        for i in range(3):
            person(s, f"drill{tag}{i}", f"1391234{i:04d}", datetime.now(timezone.utc) - timedelta(days=1))
    for i in range(3):  # audit rows through the real console (failed sign-ins)
        browser = requests.Session()
        page = browser.get(f"{st.desk_url}/console/login", timeout=30).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        browser.post(
            f"{st.desk_url}/console/login",
            data={"username": f"nobody{tag}{i}", "password": "x" * 12, "csrf_token": token},
            timeout=60,
            allow_redirects=False,
        )
    with read_sessions(db)() as s:
        assert s.scalars(select(ConsoleAudit).where(ConsoleAudit.actor.like(f"%nobody{tag}%"))).first() is not None
    # conversations running while the first backup is taken
    before = rows(db)
    chats, errors = [], []
    threads = [threading.Thread(target=chat, args=(st.desk_url, chats, errors, 4)) for _ in range(4)]
    for t in threads:
        t.start()
    during = tmp_path / "during"
    run_backup(during, db, tracker)
    for t in threads:
        t.join(600)
    assert not errors, errors
    after = rows(db)
    quiet = tmp_path / "after"
    run_backup(quiet, db, tracker)
    later = rows(db)  # the desk may still store (e.g. a retried reply) while the backup runs

    target = Target(kind, tmp_path)
    try:
        # the backup taken mid-conversation: everything before it, nothing invented, consistent
        r_db, r_tracker = restore(during, target)
        got = rows(r_db)
        for key in before:
            assert before[key] <= got[key], key
            assert got[key] <= after[key], key
        assert {cid for _, cid, _ in got["messages"]} <= got["conversations"]
        ticket_ids = {t for _, t, _ in got["events"]}
        with read_sessions(r_db)() as s:
            assert ticket_ids <= set(s.scalars(select(Ticket.id)))

        # the backup taken afterwards: every ticket, message and audit row
        r_db, r_tracker = restore(quiet, target)
        got = rows(r_db)
        for key in after:
            assert after[key] <= got[key] <= later[key], key
        assert {c["conversation_id"] for c in chats} <= tracker_senders(r_tracker)
        _fresh_desk_serves_history(r_db, r_tracker, chats, after, tmp_path)
    finally:
        target.drop()


def _fresh_desk_serves_history(db: str, tracker: str, chats: list, after: dict, tmp_path: Path) -> None:
    """A new desk on the restored databases: every conversation's history to its own key."""
    import asyncio

    from aiohttp.test_utils import TestClient, TestServer

    from bot.desk.app import create_app

    async def check():
        settings = dataclasses.replace(
            Settings(),
            database_url=db,
            tracker_store_url=tracker,
            var_dir=tmp_path / "fresh",
            rasa_port=9,
            actions_port=9,
            rasa_token="t",
            desk_scheduler=False,
        )
        client = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        try:
            for c in chats:
                r = await client.get(
                    f"/api/chat/history?conversation_id={c['conversation_id']}", headers={"X-Chat-Key": c["key"]}
                )
                assert r.status == 200
                texts = [m["text"] for m in (await r.json())["messages"]]
                assert [q for q in QUESTIONS if q in texts] == QUESTIONS
                stored = [t for _, cid, t in sorted(after["messages"]) if cid == c["conversation_id"]]
                assert len(texts) <= len(stored)
        finally:
            await client.close()

    asyncio.run(check())


def test_var_of_the_running_stack_is_private(any_stack):
    """var/ of a running instance: the directory 0700, every file (databases, WAL, logs, endpoints with
    tokens) readable by the service's user only — Rasa and the action server inherit umask 077."""
    var = any_stack.settings.var_dir
    assert (var.stat().st_mode & 0o777) == 0o700
    files = [p for p in var.rglob("*") if p.is_file()]
    assert any(p.suffix == ".log" for p in files) and any(p.name.startswith("endpoints-") for p in files)
    loose = {str(p.relative_to(var)): oct(p.stat().st_mode & 0o777) for p in files if p.stat().st_mode & 0o077}
    assert loose == {}
    if any_stack.settings.effective_tracker_store_url.startswith("sqlite"):
        assert (var / "rasa_tracker.db").exists() and (var / "yuanshang.db").exists()
