"""Conversations that finish the job, through the real stack (Rasa, action server, desk):

- a new web chat starts with the welcome and its suggested questions;
- typed = clicked: a number or an option's words at a buttons prompt reach Rasa as the button's
  payload, while the stored message keeps what the user typed; stale buttons do not count;
- a rating request is answered by typing its words, and rates the ticket it named;
- while waiting for staff every message is acknowledged (wait, office hours), and the user can
  take the request back (button, number or words): the bot answers again.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from sqlalchemy import select

from bot.db import read_sessions
from bot.db.schema import Handover, Message, Rating, Ticket
from bot.desk import gateway
from bot.tickets import lifecycle as lc
from bot.tickets.service import EnterpriseInput, TicketService
from tests.e2e.gateway_helpers import conversation, db_of, desk_for, in_thread, rows, session, tracker, user_events

pytestmark = pytest.mark.e2e


def cid_() -> str:
    return f"dc-{uuid.uuid4().hex[:10]}"


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def last_buttons(replies: list[dict]) -> list[dict]:
    for r in reversed(replies):
        if r.get("buttons"):
            return r["buttons"]
    return []


def stored(db: str, cid: str, client_msg_id: str) -> Message:
    return rows(db, cid, client_msg_id=client_msg_id)[0]


# ---- welcome ---------------------------------------------------------------------------------------


@in_thread
async def test_a_new_web_chat_starts_with_the_welcome_and_suggested_questions(stack):
    async with desk_for(stack.settings) as desk:
        cid, key = await session(desk)
        r = await desk.get(f"/api/chat/history?conversation_id={cid}", headers={"X-Chat-Key": key})
        messages = (await r.json())["messages"]
        assert len(messages) == 1
        welcome = messages[0]
        assert welcome["author"] == "bot" and welcome["direction"] == "out"
        assert welcome["text"] == gateway.WELCOME_TEXT and "原上管家" in welcome["text"]
        assert [(b["title"], b["payload"]) for b in welcome["buttons"]] == [(q, q) for q in gateway.WELCOME_QUESTIONS]
        assert 3 <= len(welcome["buttons"]) <= 4
        # A suggested question typed by its number goes through the NLU like the question itself.
        await gateway.handle_inbound(desk.server.app, cid, "1", "w-1")
        assert user_events(stack.settings, cid) == [gateway.WELCOME_QUESTIONS[0]]
        m = stored(db_of(stack.settings), cid, "w-1")
        assert m.text == "1" and json.loads(m.payload)["choice"]["payload"] == gateway.WELCOME_QUESTIONS[0]


@in_thread
async def test_wechat_follow_gets_the_same_welcome_numbered(stack):
    """关注 arrives as "/greet" (bot.desk.wechat): the desk answers it with the web chat's welcome,
    rendered as numbered options, and a number picks a suggested question."""
    from bot.desk.wechat import Channel

    async with desk_for(stack.settings) as desk:
        app, cid = desk.server.app, f"wxmp:oDC{uuid.uuid4().hex[:20]}"
        replies = await gateway.handle_inbound(
            app, cid, gateway.WELCOME_PAYLOAD, f"{cid}:1:subscribe", channel="wechat_mp", title="（关注）"
        )
        assert [(r["author"], r["text"]) for r in replies] == [("bot", gateway.WELCOME_TEXT)]
        body, options = Channel._render_one(replies[0]["text"], replies[0]["buttons"])
        assert body.startswith(gateway.WELCOME_TEXT)
        for i, q in enumerate(gateway.WELCOME_QUESTIONS, 1):
            assert f"\n{i}. {q}" in body
        assert options == [(q, q) for q in gateway.WELCOME_QUESTIONS]
        assert user_events(stack.settings, cid) == []  # the desk answered, not Rasa
        await gateway.handle_inbound(app, cid, "３", f"{cid}:2", channel="wechat_mp")
        assert user_events(stack.settings, cid) == [gateway.WELCOME_QUESTIONS[2]]


# ---- typed = clicked -------------------------------------------------------------------------------


@in_thread
async def test_typed_number_or_words_answer_the_latest_buttons(stack):
    async with desk_for(stack.settings) as desk:
        app, db, cid = desk.server.app, db_of(stack.settings), cid_()
        greeting = await gateway.handle_inbound(app, cid, "你好", "t-1")
        options = [b for b in last_buttons(greeting) if b.get("payload")]
        assert len(options) >= 2, greeting
        second = options[1]

        # "2" → the second button's payload reaches Rasa; the stored message keeps "2".
        await gateway.handle_inbound(app, cid, "2", "t-2")
        assert user_events(stack.settings, cid)[-1] == second["payload"]
        m = stored(db, cid, "t-2")
        assert m.text == "2" and json.loads(m.payload)["choice"] == {
            "title": second["title"],
            "payload": second["payload"],
        }

        # The option's words, typed (traditional characters, full-width punctuation), do the same.
        greeting = await gateway.handle_inbound(app, cid, "你好", "t-3")
        first = [b for b in last_buttons(greeting) if b.get("payload")][0]
        from opencc import OpenCC

        typed = OpenCC("s2t").convert(first["title"]) + "！"
        await gateway.handle_inbound(app, cid, typed, "t-4")
        assert user_events(stack.settings, cid)[-1] == first["payload"]
        assert stored(db, cid, "t-4").text == typed

        # Once the user has typed something else, the old buttons no longer count.
        await gateway.handle_inbound(app, cid, "你好", "t-5")
        await gateway.handle_inbound(app, cid, "谢谢", "t-6")
        await gateway.handle_inbound(app, cid, "2", "t-7")
        assert user_events(stack.settings, cid)[-1] == "2"
        assert stored(db, cid, "t-7").payload is None


@in_thread
async def test_typed_confirmation_words_submit_the_ticket_form(stack):
    """At the form's summary (buttons 确认提交 / 修改… / 取消), typing the button's number reaches the
    form as 「确认提交」 and the ticket is filed."""
    async with desk_for(stack.settings) as desk:
        app, cid = desk.server.app, cid_()
        say = lambda text, n: gateway.handle_inbound(app, cid, text, f"f-{n}")  # noqa: E731
        await say("我们想在沣西找一个500平米左右的实验室场地", 1)
        for n, text in enumerate(["/open_ticket", "西安启明芯片科技有限公司", "王经理"], 2):
            await say(text, n)
        summary = await say("13912345678", 5)  # 沣西 was in the first message: not asked again
        if "请确认需求登记信息" not in texts(summary):
            summary = await say("沣西新城", 6)
        buttons = [b for b in last_buttons(summary) if b.get("payload")]
        assert "请确认需求登记信息" in texts(summary), texts(summary)
        number = next(i for i, b in enumerate(buttons, 1) if b["payload"] == "确认提交")
        done = await say(str(number), 7)
        assert "工单号 QCY-" in texts(done), texts(done)
        assert user_events(stack.settings, cid)[-1] == "确认提交"


# ---- rating requests ------------------------------------------------------------------------------


async def _wait(cond, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        await asyncio.sleep(0.3)
    raise AssertionError("condition not met in time")


@in_thread
async def test_typing_the_rating_words_rates_the_ticket_the_request_named(stack):
    db = db_of(stack.settings)
    async with desk_for(stack.settings) as desk:
        app, cid = desk.server.app, cid_()
        await gateway.handle_inbound(app, cid, "你好", "r-0")
        svc = TicketService(db)
        ent = EnterpriseInput(name=f"西安评价测试{uuid.uuid4().hex[:6]}科技有限公司")
        older = svc.open_ticket(
            category="need_space",
            description="想在沣西找一个实验室场地",
            enterprise=ent,
            contact_name="王经理",
            mobile="13912345678",
            sender_id=cid,
            conversation_id=cid,
        ).ticket.number
        newer = svc.open_ticket(
            category="need_talent_living",
            description="想给员工申请人才公寓",
            enterprise=ent,
            contact_name="王经理",
            mobile="13912345678",
            sender_id=cid,
            conversation_id=cid,
        ).ticket.number
        # The newer ticket is resolved first, then the older one: the latest request names the older.
        svc.transition(newer, lc.RESOLVED, "staff:e2e")
        svc.transition(older, lc.RESOLVED, "staff:e2e")

        def requests_delivered():
            got = [m for m in rows(db, cid, author="system") if m.payload and "非常满意" in m.payload]
            return got if len(got) == 2 else None

        delivered = await _wait(requests_delivered)
        assert older in delivered[-1].text
        assert [b["title"] for b in json.loads(delivered[-1].payload)["buttons"]] == [
            "非常满意",
            "满意",
            "一般",
            "不满意",
            "非常不满意",
        ]

        replies = await gateway.handle_inbound(app, cid, "非常满意", "r-1")
        assert user_events(stack.settings, cid)[-1] == f"非常满意 {older}"
        assert older in texts(replies), texts(replies)
        with read_sessions(db)() as s:
            scores = dict(
                s.execute(
                    select(Ticket.number, Rating.score)
                    .join(Rating, Rating.ticket_id == Ticket.id)
                    .where(Ticket.number.in_([older, newer]))
                ).all()
            )
        assert scores == {older: 5}
        assert stored(db, cid, "r-1").text == "非常满意"


# ---- waiting for staff: acknowledged, and cancellable -----------------------------------------------


async def _hand_over(app, cid: str) -> list[dict]:
    replies = await gateway.handle_inbound(app, cid, "转人工", f"{cid}-h")
    assert conversation(db_of_app(app), cid).mode == "waiting", texts(replies)
    return replies


def db_of_app(app) -> str:
    return gateway.db_url(app)


@pytest.mark.parametrize("how", ["words", "button", "number"])
@in_thread
async def test_waiting_messages_are_acknowledged_and_the_handover_can_be_cancelled(stack, how):
    async with desk_for(stack.settings) as desk:
        app, db, cid = desk.server.app, db_of(stack.settings), cid_()
        await gateway.handle_inbound(app, cid, "你好", "c-0")
        await _hand_over(app, cid)
        events_before = user_events(stack.settings, cid)

        # The first message while waiting: the full acknowledgement (wait, office hours, the way back).
        ack = await gateway.handle_inbound(app, cid, "我想问下高企认定的材料", "c-1")
        assert len(ack) == 1 and ack[0]["author"] == "system"
        text = ack[0]["text"]
        assert "已收到" in text and "服务专员" in text
        assert "分钟内回复您" in text or "非工作时间" in text, text
        assert [b["payload"] for b in ack[0]["buttons"]] == [gateway.CANCEL_HANDOVER]
        assert ack[0]["buttons"][0]["title"] == "取消转人工"
        # The next one within ten minutes: the short acknowledgement only.
        again = await gateway.handle_inbound(app, cid, "是关于复审的", "c-2")
        assert [r["text"] for r in again] == [gateway.ACK_SHORT] and not again[0]["buttons"]
        assert user_events(stack.settings, cid) == events_before  # Rasa saw none of them
        assert stored(db, cid, "c-1").state == "forwarded"  # … staff did

        # Take it back.
        if how == "words":
            done = await gateway.handle_inbound(app, cid, "不用了", "c-3")
        elif how == "button":
            done = await gateway.handle_inbound(app, cid, gateway.CANCEL_HANDOVER, "c-3", title="取消转人工")
        else:  # a number answers the latest buttons: ten minutes later the full acknowledgement (with
            # the button) comes again, and "1" picks 取消转人工
            await _wait_short_ack_window_passed(db, cid)
            full = await gateway.handle_inbound(app, cid, "还在吗", "c-2b")
            assert full[0]["buttons"], full
            done = await gateway.handle_inbound(app, cid, "1", "c-3")
        assert [r["text"] for r in done] == [gateway.CANCELLED_TEXT], done
        assert conversation(db, cid).mode == "bot"
        with read_sessions(db)() as s:
            h = s.scalars(select(Handover).where(Handover.conversation_id == cid)).one()
        assert h.ended_at is not None
        assert tracker(stack.settings, cid)["paused"] is False
        notes = [m.text for m in rows(db, cid, internal=True)]
        assert any("用户已取消转人工" in n for n in notes)

        # The bot answers again.
        back = await gateway.handle_inbound(app, cid, "你好", "c-4")
        assert back and back[0]["author"] == "bot" and "原上管家" in texts(back), back
        assert user_events(stack.settings, cid)[-1] == "你好"
        # An old 取消转人工 button clicked now: nothing to cancel, Rasa is not bothered.
        late = await gateway.handle_inbound(app, cid, gateway.CANCEL_HANDOVER, "c-5", title="取消转人工")
        assert [r["text"] for r in late] == [gateway.NOTHING_TO_CANCEL]
        assert user_events(stack.settings, cid)[-1] == "你好"


async def _wait_short_ack_window_passed(db: str, cid: str) -> None:
    """Make the last full acknowledgement older than ACK_FULL_EVERY (as if ten minutes had passed)."""
    from datetime import timedelta

    from bot.db import sessions

    with sessions(db).begin() as s:
        for m in s.scalars(select(Message).where(Message.conversation_id == cid, Message.author == "system")):
            m.created_at = m.created_at - gateway.ACK_FULL_EVERY - timedelta(seconds=5)
