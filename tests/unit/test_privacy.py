"""Personal data (bot.privacy): retention at the cut-off, export and erasure, on SQLite and PostgreSQL.

The fixture is built by hand: two people, each with a contact, a conversation (messages, a handover
transcript, question logs, a notification) and a ticket with events and a rating; one's last activity is
one day before the retention cut-off, the other's one day after it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot import scheduler as sch
from bot.db import read_sessions, sessions
from bot.db.schema import (
    ConsoleAudit,
    Contact,
    Conversation,
    Handover,
    JobRun,
    KbQuery,
    Message,
    Notification,
    PolicyPush,
    PolicyPushOptOut,
    Rating,
    Ticket,
    TicketEvent,
    VerificationCode,
)
from bot.privacy import data
from bot.privacy.__main__ import main as cli
from bot.privacy.service import run_erase, run_export
from tests.unit.privacy_helpers import NOW, person

DAYS = 1095
CUTOFF = NOW - timedelta(days=DAYS)


@pytest.fixture
def two_people(db_url):
    with sessions(db_url).begin() as s:
        old = person(s, "old", "13912340001", CUTOFF - timedelta(days=1))
        new = person(s, "new", "13912340002", CUTOFF + timedelta(days=1))
    return db_url, old, new


def count(s, model, *where) -> int:
    return s.scalar(select(func.count()).select_from(model).where(*where))


def assert_erased(s, p: dict) -> None:
    cid = p["cid"]
    assert count(s, Message, Message.conversation_id == cid) == 0
    assert count(s, Conversation, Conversation.id == cid) == 0
    assert count(s, KbQuery, KbQuery.conversation_id == cid) == 0
    assert count(s, Notification, Notification.recipient == f"sender:{cid}") == 0
    h = s.scalar(select(Handover).where(Handover.conversation_id == cid))
    assert h is not None and h.transcript is None and h.profile is None
    c = s.get(Contact, p["contact"])
    assert (c.name, c.mobile, c.sender_id) == (data.ANON_NAME, None, None)
    t = s.scalar(select(Ticket).where(Ticket.number == p["ticket"]))
    assert t.description == data.ANON_TEXT and t.conversation_id is None
    assert (t.category, t.node_id, t.status) == ("need_policy_redemption", "centre", "resolved")
    assert t.resolved_at is not None
    events = list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.id)))
    assert [e.actor for e in events] == [data.ANON_ACTOR, "staff:wang"]
    assert events[0].note == data.ANON_TEXT
    assert p["mobile"] not in events[1].note and "已电话联系" in events[1].note
    assert s.scalar(select(Rating.comment).where(Rating.ticket_id == t.id)) is None
    assert s.scalar(select(Rating.score).where(Rating.ticket_id == t.id)) == 2
    assert count(s, VerificationCode, VerificationCode.mobile == p["mobile"]) == 0
    assert count(s, VerificationCode, VerificationCode.sender_id == cid) == 0
    push = s.scalar(select(PolicyPush).where(PolicyPush.enterprise_id == p["enterprise"]))
    assert (push.conversation_id, push.contact_id) == (data.ANON_NAME, None) and push.policy_id == "hnte"
    assert count(s, PolicyPushOptOut, PolicyPushOptOut.sender_id == cid) == 0


def assert_intact(s, p: dict) -> None:
    cid = p["cid"]
    assert count(s, Message, Message.conversation_id == cid) == 2
    assert count(s, Conversation, Conversation.id == cid) == 1
    assert count(s, KbQuery, KbQuery.conversation_id == cid) == 1
    assert count(s, Notification, Notification.recipient == f"sender:{cid}") == 1
    assert s.scalar(select(Handover.transcript).where(Handover.conversation_id == cid)) is not None
    c = s.get(Contact, p["contact"])
    assert c.mobile == p["mobile"] and c.sender_id == cid
    t = s.scalar(select(Ticket).where(Ticket.number == p["ticket"]))
    assert p["mobile"] in t.description
    assert count(s, VerificationCode, VerificationCode.sender_id == cid) == 1
    assert s.scalar(select(PolicyPush.conversation_id).where(PolicyPush.enterprise_id == p["enterprise"])) == cid
    assert count(s, PolicyPushOptOut, PolicyPushOptOut.sender_id == cid) == 1


def test_retention_at_the_boundary(two_people):
    db, old, new = two_people
    with sessions(db).begin() as s:
        result = data.purge(s, NOW, DAYS)
    assert result.erased.conversations == 1 and result.erased.contacts == 1 and result.erased.tickets == 1
    with read_sessions(db)() as s:
        assert_erased(s, old)
        assert_intact(s, new)
    with sessions(db).begin() as s:  # idempotent: a second run changes nothing
        again = data.purge(s, NOW, DAYS)
    assert again.erased.as_dict() == data.Erased().as_dict() and again.old_notifications == 0


def test_retention_zero_days_keeps_everything(two_people):
    db, old, new = two_people
    with sessions(db).begin() as s:
        assert data.purge(s, NOW, 0).cutoff is None
    with read_sessions(db)() as s:
        assert_intact(s, old)
        assert_intact(s, new)


def test_a_late_question_keeps_an_old_conversation(two_people):
    """Activity in any table after the cut-off (here a question log) keeps the whole conversation."""
    db, old, _new = two_people
    with sessions(db).begin() as s:
        s.add(
            KbQuery(
                conversation_id=old["cid"],
                channel="web",
                text="还在吗",
                decision="unknown",
                asked_at=CUTOFF + timedelta(hours=1),
            )
        )
    with sessions(db).begin() as s:
        data.purge(s, NOW, DAYS)
    with read_sessions(db)() as s:
        assert count(s, Message, Message.conversation_id == old["cid"]) == 2
        assert s.get(Contact, old["contact"]).mobile == old["mobile"]


def test_the_scheduler_runs_the_retention_once(two_people, tmp_path, monkeypatch):
    db, old, new = two_people
    monkeypatch.setenv("PERSONAL_DATA_RETENTION_DAYS", str(DAYS))
    only = {sch.PRIVACY: sch.JOBS[sch.PRIVACY]}
    tracker = f"sqlite:///{tmp_path / 'tracker.db'}"
    a = sch.Scheduler(db, "a", reports_dir=tmp_path, jobs=only, tracker_url=tracker)
    b = sch.Scheduler(db, "b", reports_dir=tmp_path, jobs=only, tracker_url=tracker)
    today = NOW.astimezone(a.tz).date().isoformat()
    first = a.run_job(sch.PRIVACY, today, NOW)
    second = b.run_job(sch.PRIVACY, today, NOW)
    assert first.status == sch.DONE and "匿名化联系人 1 位" in first.output
    assert second.status == "skipped"
    assert sch.PRIVACY in sch.Scheduler(db, "c", reports_dir=tmp_path, tracker_url=tracker).jobs  # the desk's
    tomorrow = datetime.combine(NOW.astimezone(a.tz).date() + timedelta(days=1), sch.RETENTION_AT, tzinfo=a.tz)
    ran = a.run_due(tomorrow, sweep=False)
    assert [(r.job, r.status) for r in ran] == [(sch.PRIVACY, sch.DONE)]
    assert b.run_due(tomorrow + timedelta(minutes=5), sweep=False) == []
    with read_sessions(db)() as s:
        assert_erased(s, old)
        assert_intact(s, new)
        assert count(s, JobRun, JobRun.job == sch.PRIVACY, JobRun.status == sch.DONE) == 2


def test_export_by_mobile_holds_everything_and_is_audited(two_people):
    db, old, new = two_people
    out = run_export(db, mobile="139 1234 0001", actor="staff:admin", ip="10.0.0.9")
    assert [c["mobile"] for c in out["contacts"]] == ["13912340001"]
    assert [t["number"] for t in out["tickets"]] == [old["ticket"]]
    assert out["tickets"][0]["ratings"][0]["comment"] == "old经理很不满意"
    assert len(out["tickets"][0]["events"]) == 2
    assert [c["id"] for c in out["conversations"]] == [old["cid"]]
    assert [m["text"] for m in out["conversations"][0]["messages"]] == ["我的手机号是13912340001", "好的"]
    assert out["handovers"][0]["transcript"] == [{"text": "13912340001"}]
    assert [q["text"] for q in out["question_logs"]] == ["old高企认定条件"]
    assert [n["kind"] for n in out["notifications"]] == ["rating_request"]
    assert [(v["mobile"], v["attempts"]) for v in out["verification_codes"]] == [("13912340001", 1)]
    assert "code_hash" not in json.dumps(out["verification_codes"])
    assert [p["policy"] for p in out["policy_pushes"]] == ["高新技术企业认定"]
    assert [o["conversation_id"] for o in out["policy_push_optouts"]] == [old["cid"]]
    assert "13912340002" not in json.dumps(out, ensure_ascii=False)  # nobody else's data
    with read_sessions(db)() as s:
        row = s.scalar(select(ConsoleAudit).where(ConsoleAudit.action == "privacy_export"))
    assert row.actor == "staff:admin" and row.ip == "10.0.0.9"
    assert "13912340001" not in row.detail and "139****0001" in row.detail


def test_export_by_conversation(two_people):
    db, _old, new = two_people
    out = run_export(db, conversation=new["cid"])
    assert [t["number"] for t in out["tickets"]] == [new["ticket"]]
    assert out["contacts"][0]["name"] == "new经理"


def test_erase_leaves_the_other_person_and_an_anonymised_ticket(two_people):
    db, old, new = two_people
    done = run_erase(db, mobile=new["mobile"], actor="cli:root")
    assert done.messages == 2 and done.tickets == 1 and done.contacts == 1
    with read_sessions(db)() as s:
        assert_erased(s, new)
        assert_intact(s, old)
        audit = s.scalar(select(ConsoleAudit).where(ConsoleAudit.action == "privacy_erase"))
    assert audit.actor == "cli:root" and "删除消息 2 条" in audit.detail and new["mobile"] not in audit.detail
    assert done.verification_codes == 1 and done.policy_pushes == 1 and "验证码记录 1 条" in audit.detail


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mobile": "12345"}, "手机号格式不正确"),
        ({"mobile": "1391234000１x"}, "手机号格式不正确"),
        ({"conversation": ""}, "会话编号不能为空"),
        ({"conversation": "a\x00b"}, "会话编号格式不正确"),
        ({"conversation": "x" * 129}, "会话编号格式不正确"),
        ({"mobile": "13900000000"}, "没有找到"),
        ({"conversation": "web-nobody"}, "没有找到"),
        ({}, "只指定"),
        ({"mobile": "13912340001", "conversation": "web-old"}, "只指定"),
    ],
)
def test_bad_selectors_are_refused_by_name(sqlite_url, kwargs, message):
    with pytest.raises(data.SelectorError, match=message):
        run_export(sqlite_url, **kwargs)
    with pytest.raises(data.SelectorError, match=message):
        run_erase(sqlite_url, **kwargs)


def test_full_width_and_prefixed_mobiles_are_the_same_person():
    assert data.normalise_mobile("+86 139-1234-0001") == "13912340001"
    assert data.normalise_mobile("１３９１２３４０００１") == "13912340001"


def test_cli_export_erase(two_people, tmp_path, capsys):
    db, old, _new = two_people
    out = tmp_path / "old.json"
    assert cli(["export", "--db", db, "--mobile", old["mobile"], "--out", str(out)]) == 0
    assert (out.stat().st_mode & 0o777) == 0o600
    assert json.loads(out.read_text(encoding="utf-8"))["contacts"][0]["mobile"] == old["mobile"]
    assert cli(["erase", "--db", db, "--conversation", old["cid"]]) == 2  # no --yes: nothing happens
    assert "--yes" in capsys.readouterr().err
    with read_sessions(db)() as s:
        assert_intact(s, old)
    tracker = f"sqlite:///{tmp_path / 'tracker.db'}"
    assert cli(["erase", "--db", db, "--conversation", old["cid"], "--yes", "--tracker", tracker]) == 0
    with read_sessions(db)() as s:
        assert_erased(s, old)
    assert cli(["export", "--db", db, "--mobile", "123"]) == 1
    assert "手机号格式不正确" in capsys.readouterr().err


def test_erase_removes_the_conversations_rasa_tracker_events(two_people, tmp_path):
    """Rasa's `events` table (declared minimally by bot.privacy.data) loses only this person's events."""
    db, old, new = two_people
    tracker = f"sqlite:///{tmp_path / 'rasa_tracker.db'}"
    engine = __import__("bot.db", fromlist=["engine_for"]).engine_for(tracker)
    data.tracker_events.metadata.create_all(engine)
    with sessions(tracker).begin() as s:
        for sender in (old["cid"], old["cid"], new["cid"]):
            s.execute(data.tracker_events.insert().values(sender_id=sender, timestamp=1.0))
    done = run_erase(db, conversation=old["cid"], tracker_url=tracker)
    assert done.tracker_events == 2
    with read_sessions(tracker)() as s:
        left = list(s.scalars(select(data.tracker_events.c.sender_id)))
    assert left == [new["cid"]]
