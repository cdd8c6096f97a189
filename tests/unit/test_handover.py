"""Handover core on a real database: start (idempotent, node, ticket, notice), claim race, transfer, end."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest

from bot import handover as ho
from bot.db import read_sessions, sessions
from bot.db.schema import Conversation, Handover, Message, Staff
from bot.tickets.service import EnterpriseInput, TicketService

CST = timezone(timedelta(hours=8))
WED_10 = datetime(2026, 11, 25, 10, 0, tzinfo=CST)  # a Wednesday, office hours


@pytest.fixture
def db(db_url):
    return db_url


def add_staff(db, username, name, node="centre"):
    with sessions(db).begin() as s:
        st = Staff(username=username, display_name=name, node_id=node, role="staff")
        s.add(st)
        s.flush()
        return st


def open_ticket(db, sender, new_city="沣西", category="need_space"):
    svc = TicketService(db, clock=lambda: WED_10)
    return svc.open_ticket(
        category=category,
        description="想在沣西找500平米实验室",
        enterprise=EnterpriseInput(name="西安光启芯科技有限公司", new_city=new_city),
        contact_name="王经理",
        mobile="13912345678",
        sender_id=sender,
        channel="web",
    ).ticket


def conv(db, cid):
    with read_sessions(db)() as s:
        return s.get(Conversation, cid)


def test_start_records_everything_and_is_idempotent(db):
    t = open_ticket(db, "web-a")
    info = ho.start_handover(
        db, "web-a", "request_human", now=WED_10, transcript=[{"direction": "in", "author": "user", "text": "转人工"}]
    )
    assert info.created and info.node_id == "fengxi" and "沣西" in info.node_name
    assert info.ticket_number == t.number and info.in_office_hours
    assert info.notice.startswith(f"服务专员（{info.node_name}）将在约5分钟内回复您")
    c = conv(db, "web-a")
    assert c.mode == "waiting" and c.channel == "rest" and c.node_id == "fengxi"
    with read_sessions(db)() as s:
        h = s.get(Handover, info.id)
        assert h.reason == "request_human" and h.category == "need_space" and h.ticket_id == t.id
        assert json.loads(h.transcript) == [{"direction": "in", "author": "user", "text": "转人工"}]
        profile = json.loads(h.profile)
        assert profile["enterprise_name"] == "西安光启芯科技有限公司" and profile["mobile"] == "13912345678"
    events = TicketService(db).events(t.number)
    assert events[-1].action == "handover" and events[-1].actor == "user:web-a"

    again = ho.start_handover(db, "web-a", "fallback", now=WED_10)
    assert not again.created and again.id == info.id
    with read_sessions(db)() as s:
        assert s.query(Handover).count() == 1


def test_transcript_comes_from_stored_messages_when_there_are_any(db):
    with sessions(db).begin() as s:
        s.add(Conversation(id="web-m", channel="web"))
        s.flush()
        s.add_all(
            [
                Message(conversation_id="web-m", direction="in", author="user", text="你好"),
                Message(conversation_id="web-m", direction="out", author="bot", text="您好！"),
                Message(conversation_id="web-m", direction="out", author="staff:x", text="内部", internal=True),
            ]
        )
    info = ho.start_handover(db, "web-m", "complaint", now=WED_10, transcript=[{"text": "ignored"}])
    assert info.node_id == "centre"  # unknown enterprise → the centre
    with read_sessions(db)() as s:
        tr = json.loads(s.get(Handover, info.id).transcript)
    assert [m["text"] for m in tr] == ["你好", "您好！"]
    assert conv(db, "web-m").channel == "web"  # existing row kept


@pytest.mark.parametrize(
    "now, expected",
    [
        (datetime(2026, 11, 25, 19, 0, tzinfo=CST), "明天（11月26日）09:00"),
        (datetime(2026, 11, 25, 12, 30, tzinfo=CST), "今天（11月25日）13:30"),
        (datetime(2026, 11, 27, 18, 0, tzinfo=CST), "周一（11月30日）09:00"),
        (datetime(2026, 11, 28, 10, 0, tzinfo=CST), "后天（11月30日）09:00"),  # Saturday
        (datetime(2026, 11, 25, 7, 0, tzinfo=CST), "今天（11月25日）09:00"),
        (datetime(2026, 9, 30, 18, 0, tzinfo=CST), "10月8日 09:00"),  # National Day holiday (Oct 1-7)
    ],
)
def test_notice_outside_office_hours_says_when(db, now, expected):
    info = ho.start_handover(db, f"web-{now:%m%d%H}", "request_human", now=now)
    assert not info.in_office_hours
    assert info.notice == f"现在是非工作时间，服务专员将于{expected}上班后第一时间回复您，您的留言已记录。"


def test_notice_in_office_hours_grows_with_the_queue(db):
    first = ho.start_handover(db, "q-1", "request_human", now=WED_10)
    assert "约5分钟" in first.notice and first.in_office_hours
    for i in range(2, 5):
        info = ho.start_handover(db, f"q-{i}", "request_human", now=WED_10)
    assert info.notice.startswith("服务专员（")
    assert "约15分钟" in info.notice  # 3 ahead: 5 + 3×3 = 14 → 15


def test_claim_race_has_exactly_one_winner(db):
    info = ho.start_handover(db, "race-1", "request_human", now=WED_10)
    a, b = add_staff(db, "alice", "张丽"), add_staff(db, "bob", "李强")
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def go(staff):
        barrier.wait()
        try:
            results[staff.username] = ho.claim(db, info.id, staff)
        except ho.HandoverError as exc:
            results[staff.username] = exc

    threads = [threading.Thread(target=go, args=(st,)) for st in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [k for k, v in results.items() if isinstance(v, Handover)]
    losers = [v for v in results.values() if isinstance(v, ho.HandoverError)]
    assert len(winners) == 1 and len(losers) == 1
    winner_name = "张丽" if winners[0] == "alice" else "李强"
    assert str(losers[0]) == f"已被{winner_name}接手"
    c = conv(db, "race-1")
    assert c.mode == "staff" and c.assigned_staff_id == (a.id if winners[0] == "alice" else b.id)
    # The winner claiming again is harmless; the loser still cannot.
    winner = a if winners[0] == "alice" else b
    assert ho.claim(db, info.id, winner).claimed_by == winner.id


def test_transfer_to_node_then_to_staff_and_end(db):
    t = open_ticket(db, "tr-1")
    info = ho.start_handover(db, "tr-1", "request_human", now=WED_10)
    alice = add_staff(db, "alice", "张丽", node="fengxi")
    carol = add_staff(db, "carol", "王芳", node="fengdong")
    ho.claim(db, info.id, alice)

    h = ho.transfer(db, info.id, node_id="fengdong", actor=alice)
    assert h.node_id == "fengdong" and h.claimed_by is None
    assert conv(db, "tr-1").mode == "waiting"
    queue = ho.open_handovers(db, {"fengdong"})
    assert [q.id for q in queue] == [info.id] and queue[0].claimed_by is None
    assert ho.open_handovers(db, {"fengxi"}) == []

    h = ho.transfer(db, info.id, staff_id=carol.id, actor="staff:alice")
    assert h.claimed_by == carol.id
    c = conv(db, "tr-1")
    assert c.mode == "staff" and c.assigned_staff_id == carol.id
    with pytest.raises(ho.HandoverError, match="已被王芳接手"):
        ho.claim(db, info.id, alice)
    with pytest.raises(ho.HandoverError):
        ho.transfer(db, info.id, node_id="no-such-node", actor=carol)

    done = ho.end(db, info.id, carol)
    assert done.ended_at is not None
    c = conv(db, "tr-1")
    assert c.mode == "bot" and c.assigned_staff_id is None
    assert ho.open_handovers(db) == []
    assert ho.end(db, info.id, carol).ended_at == done.ended_at  # idempotent
    with pytest.raises(ho.HandoverError):
        ho.claim(db, info.id, alice)

    actions = [(e.action, e.actor) for e in TicketService(db).events(t.number)]
    assert actions[-5:] == [
        ("handover", "user:tr-1"),
        ("handover_claim", "staff:alice"),
        ("handover_transfer", "staff:alice"),
        ("handover_transfer", "staff:alice"),
        ("handover_end", "staff:carol"),
    ]
    # A new request after the end is a new handover.
    assert ho.start_handover(db, "tr-1", "request_human", now=WED_10).id != info.id


def test_queue_rows_have_waiting_times(db):
    a = ho.start_handover(db, "w-1", "request_human", now=WED_10)
    b = ho.start_handover(db, "w-2", "fallback", now=WED_10 + timedelta(minutes=5))
    alice = add_staff(db, "alice", "张丽")
    ho.claim(db, a.id, alice, now=WED_10 + timedelta(minutes=2))
    rows = ho.open_handovers(db, None, now=WED_10 + timedelta(minutes=10))
    assert [r.id for r in rows] == [b.id, a.id]  # unclaimed first
    assert rows[0].waiting_seconds == 300 and rows[0].reason_label == "机器人无法理解"
    assert rows[1].waiting_seconds == 120 and rows[1].claimed_by_name == "张丽"
    assert rows[1].open_seconds == 600
    assert json.dumps(rows[0].as_dict(), ensure_ascii=False)


def test_staff_takeover_of_a_bot_conversation(db):
    with sessions(db).begin() as s:
        s.add(Conversation(id="web-t", channel="web"))
    alice = add_staff(db, "alice", "张丽", node="fengxi")
    h = ho.takeover(db, "web-t", alice)
    assert h.reason == "staff_takeover" and h.claimed_by == alice.id and h.node_id == "fengxi"
    assert conv(db, "web-t").mode == "staff"
    bob = add_staff(db, "bob", "李强")
    with pytest.raises(ho.HandoverError, match="已被张丽接手"):
        ho.takeover(db, "web-t", bob)
    with pytest.raises(ho.HandoverError):
        ho.takeover(db, "no-such-conversation", bob)


def test_staff_only_category_is_handed_over_by_the_need_action(db, monkeypatch):
    """action_handle_need: a category routing.yml lists as staff_only goes to staff at once."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    import actions.actions as aa
    from actions import services
    from actions import turn as respond_module

    monkeypatch.setattr(services, "db_url", lambda: db)
    monkeypatch.setattr(respond_module, "_staff_only", lambda intent: intent == "need_listing")
    intent = {"name": "need_listing", "confidence": 0.9}
    latest = {"intent": intent, "intent_ranking": [intent], "text": "我们准备上科创板，需要辅导"}
    events = [{"event": "user", "text": latest["text"], "parse_data": latest, "timestamp": 1764050000.0}]
    tracker = Tracker("web-listing", {}, latest, events, False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    # A fresh loop in a worker thread: a browser test earlier in the session may own this thread's loop.
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(asyncio.run, aa.ActionHandleNeed().run(dispatcher, tracker, {})).result()
    assert [e["event"] for e in result][-2:] == ["pause", "action"]
    texts = [m.get("text") for m in dispatcher.messages if m.get("text")]
    assert "上市辅导" in texts[0] and "由服务专员直接为您办理" in texts[0]
    assert "服务专员" in texts[1]
    custom = [m["custom"] for m in dispatcher.messages if m.get("custom")]
    assert custom[0]["handover"]["reason"] == "staff_only"
    with read_sessions(db)() as s:
        h = s.query(Handover).filter_by(conversation_id="web-listing").one()
        assert h.reason == "staff_only" and h.category == "need_listing"
        assert json.loads(h.transcript)[0]["text"] == "我们准备上科创板，需要辅导"
    assert conv(db, "web-listing").mode == "waiting"


def test_rating_of_the_staff_service_goes_on_the_linked_ticket(db):
    t = open_ticket(db, "rate-1")
    info = ho.start_handover(db, "rate-1", "request_human", now=WED_10)
    assert ho.rate(db, info.id, 5, "user:rate-1") is True
    last = TicketService(db).events(t.number)[-1]
    assert (last.action, last.actor, last.after) == ("handover_rating", "user:rate-1", "5")
    other = ho.start_handover(db, "rate-2", "request_human", now=WED_10)
    assert ho.rate(db, other.id, 2, "user:rate-2") is False  # no ticket to keep it on
    with pytest.raises(ho.HandoverError):
        ho.rate(db, info.id, 7, "user:rate-1")
