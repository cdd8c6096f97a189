"""The load generator's script and database checks (bench/loadlib.py), on the running system.

Three enterprises play the scripted conversation through the desk's web chat API; the
checks must pass. Then the checks must notice what they are there for: a message missing
from the database, a duplicated ticket, a message left pending (on a copy of the database,
so the shared test system is not disturbed).
"""

import asyncio
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from bot.db import migrate, sessions
from bot.db.schema import Message, Ticket

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import loadlib  # noqa: E402

pytestmark = pytest.mark.e2e


def _copy(db_url: str, dest: Path) -> str:
    """A consistent copy of the SQLite service database (the backup API copes with WAL)."""
    src = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    dst = sqlite3.connect(dest)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    url = f"sqlite:///{dest}"
    migrate(url)
    return url


def test_three_enterprises_pass_the_checks_and_the_checks_can_fail(stack, tmp_path):
    db = stack.settings.effective_database_url
    ents = loadlib.enterprises(3, seed=time.time_ns() % 10**9, taken=loadlib.enterprise_names(db))
    result = asyncio.run(loadlib.run([stack.settings.desk_url], ents, concurrency=3))

    s = loadlib.summary(result)
    # Up to 10 turns each; fewer when details the need message gave are not asked again.
    assert 3 * 7 <= s["turns"] <= 30 and s["errors"] == 0, (s["turns"], s["errors_by_kind"])
    assert s["tickets_seen"] == 3
    checks = loadlib.check(db, result.transcripts, since=result.started_at)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert [c.name for c in checks][:4] == [
        "every message stored exactly once",
        "every message answered",
        "exactly one ticket per scripted need",
        "one handover per conversation",
    ]

    # The checker notices a lost message, a duplicated ticket and a message left pending.
    copy = _copy(db, tmp_path / "copy.db")
    victim, dup_of, stuck = result.transcripts
    with sessions(copy).begin() as s:
        lost = s.scalars(
            select(Message).where(
                Message.conversation_id == victim.conversation_id,
                Message.client_msg_id == victim.turns[3].client_msg_id,
            )
        ).one()
        for reply in s.scalars(select(Message).where(Message.reply_to == lost.id)):
            reply.reply_to = None
        s.delete(lost)
        cols = [c for c in Ticket.__table__.columns if c.key not in ("id", "redeemed_amount")]
        row = s.execute(select(*cols).where(Ticket.conversation_id == dup_of.conversation_id)).one()._asdict()
        s.execute(insert(Ticket).values({**row, "number": row["number"] + "-dup"}))
        m = s.scalars(
            select(Message).where(Message.conversation_id == stuck.conversation_id, Message.direction == "in")
        ).first()
        m.state = "pending"
    by_name = {c.name: c for c in loadlib.check(copy, result.transcripts, since=result.started_at)}
    assert not by_name["every message stored exactly once"].ok
    assert "stored 0×" in by_name["every message stored exactly once"].detail
    assert not by_name["exactly one ticket per scripted need"].ok
    assert f"{dup_of.enterprise.name}: 2 tickets" in by_name["exactly one ticket per scripted need"].detail
    assert not by_name["every message answered"].ok and "pending" in by_name["every message answered"].detail
    assert by_name["one handover per conversation"].ok


def test_typed_variants_stay_on_track_and_pass_the_checks(stack, monkeypatch):
    """bench/load.py's typing enterprises: they type a button's number or words, 「确认无误，提交」 and
    「手机号是…」 where the script clicks. Numbers and option words are the desk's (bot.dialogue.options)
    and must never miss; free wording is the NLU's — a miss there is counted, then the click follows,
    so the database checks hold either way."""
    import load

    db = stack.settings.effective_database_url
    ents = load.typed_enterprises(
        loadlib.enterprises(3, seed=time.time_ns() % 10**9, taken=loadlib.enterprise_names(db)), 1.0
    )
    assert load.TYPING == {0, 1, 2} and all(e.mobile_typed.startswith("手机号是") for e in ents)
    monkeypatch.setattr(loadlib, "ChatClient", load.script_client)
    result = asyncio.run(loadlib.run([stack.settings.desk_url], ents, concurrency=3))

    s = loadlib.summary(result)
    assert s["errors"] == 0, s["errors_by_kind"]
    checks = loadlib.check(db, result.transcripts, since=result.started_at)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    typed = sum((t.typed for t in result.transcripts), Counter())
    missed = sum((t.typed_miss for t in result.transcripts), Counter())
    assert typed["form:ticket_confirm"] == 3 and typed["form:contact_mobile"] == 3
    assert not {k: v for k, v in missed.items() if k in ("open", "clarify")}, missed  # numbers / words: the desk's
    # what was typed is what was stored (checked above: "stored with its text"), e.g. a bare number
    assert any(turn.text.isdigit() or turn.text.startswith("手机号是") for t in result.transcripts for turn in t.turns)
    print("typed misses:", load.typed_summary(result))
