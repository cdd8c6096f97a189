"""The console's 我的 page, read marks and unread counts, and the reply / internal note modes (issue 13 item 8):
each scoped to the staff member's node, CSRF-protected; a text sent in one mode never goes out in the other."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot import handover as ho
from bot.db import read_sessions, sessions
from bot.db.schema import Conversation, Message
from bot.tickets.service import EnterpriseInput, TicketService
from tests.unit.desk_helpers import TestDesk, add_staff

pytestmark = pytest.mark.desk


def stored(db, cid) -> list[tuple[str, bool]]:
    with read_sessions(db)() as s:
        return [
            (m.text, m.internal)
            for m in s.scalars(select(Message).where(Message.conversation_id == cid).order_by(Message.id))
        ]


def say(db, cid, text):
    with sessions(db).begin() as s:
        s.add(Message(conversation_id=cid, direction="in", author="user", text=text))


async def test_mine_unread_and_modes(db_url, tmp_path):
    wang = add_staff(db_url, "wang", "王芳", "fengxi")
    add_staff(db_url, "zhao", "赵磊", "fengdong")
    with sessions(db_url).begin() as s:
        s.add(Conversation(id="web-mine", channel="web", mode="bot", node_id="fengxi"))
        s.add(Conversation(id="web-other", channel="web", mode="bot", node_id="fengdong"))
    svc = TicketService(db_url)
    t = svc.open_ticket(
        category="need_recruitment",
        description="招聘五名焊工",
        contact_name="王经理",
        mobile="13912345678",
        sender_id="web-mine",
        channel="web",
        conversation_id="web-mine",
        enterprise=EnterpriseInput(name="西咸我的测试有限公司", new_city="沣西"),
    ).ticket
    say(db_url, "web-mine", "机器人接待时问过的问题")  # before the handover: not news
    ho.start_handover(db_url, "web-mine", "request_human", node_id="fengxi", channel="web")
    ho.start_handover(db_url, "web-other", "request_human", node_id="fengdong", channel="web")
    desk = TestDesk(db_url, tmp_path)
    try:
        w, z = await desk.browser(), await desk.browser()
        assert (await w.login("wang")).status == 302 and (await z.login("zhao")).status == 302
        q = await (await w.client.get("/console/api/queue")).json()
        assert q["waiting"] == 1 and [i["conversation_id"] for i in q["items"]] == ["web-mine"]
        assert q["items"][0]["unread"] == 0
        assert (await w.post("/console/conversations/web-mine/claim")).status == 303
        say(db_url, "web-mine", "焊工要有证吗")
        say(db_url, "web-mine", "我们下周要人")
        q = await (await w.client.get("/console/api/queue")).json()
        assert q["items"][0]["unread"] == 2 and q["waiting"] == 2  # claimed: its unread messages count
        assert (await w.client.get("/console/conversations/web-mine")).status == 200  # opening reads them
        q = await (await w.client.get("/console/api/queue")).json()
        assert q["items"][0]["unread"] == 0 and q["waiting"] == 0
        say(db_url, "web-mine", "还在吗")
        newest = stored_ids(db_url, "web-mine")[-1]
        r = await w.client.post(
            "/console/api/conversations/web-mine/read",
            json={"last_id": newest},
            headers={"X-CSRF-Token": await w.csrf()},
        )
        assert r.status == 200 and (await (await w.client.get("/console/api/queue")).json())["waiting"] == 0
        r = await w.client.post(
            "/console/api/conversations/web-other/read", json={"last_id": 1}, headers={"X-CSRF-Token": await w.csrf()}
        )
        assert r.status == 403  # another node's conversation
        r = await w.client.post("/console/api/conversations/web-mine/read", json={"last_id": 1})
        assert r.status in (400, 403)  # no CSRF token

        # modes: the route must match the composer's mode
        before = stored(db_url, "web-mine")
        r = await w.post("/console/conversations/web-mine/reply", {"text": "内部：企业资质待核", "mode": "note"})
        assert r.status == 400 and "内部备注" in await r.text()
        r = await w.post("/console/conversations/web-mine/note", {"text": "您好，需要焊工证", "mode": "reply"})
        assert r.status == 400
        assert stored(db_url, "web-mine") == before
        assert (
            await w.post("/console/conversations/web-mine/note", {"text": "企业资质待核", "mode": "note"})
        ).status == 303
        assert (
            await w.post("/console/conversations/web-mine/reply", {"text": "您好，需要焊工证", "mode": "reply"})
        ).status == 303
        assert stored(db_url, "web-mine")[-2:] == [("企业资质待核", True), ("您好，需要焊工证", False)]
        page = await (await w.client.get("/console/conversations/web-mine")).text()
        assert 'value="reply" id="mode-reply" checked' in page and 'class="composer"' in page  # claimed: reply
        other = await (await z.client.get("/console/conversations/web-other")).text()
        assert 'value="note" id="mode-note" checked' in other and 'class="composer note-mode"' in other  # not claimed

        # 我的: the conversation I serve and the ticket I took
        assert t.number not in await (await w.client.get("/console/mine")).text()
        r = await w.post(f"/console/tickets/{t.number}/assign", {"staff_id": str(wang.id)})
        assert r.status == 303 and svc.get(t.number).assignee_id == wang.id
        mine = await (await w.client.get("/console/mine")).text()
        assert t.number in mine and "/console/conversations/web-mine" in mine
        theirs = await (await z.client.get("/console/mine")).text()
        assert t.number not in theirs and "web-mine" not in theirs
        listed = await (await w.client.get("/console/tickets", params={"mine": "1"})).text()
        assert t.number in listed
        assert t.number not in await (await z.client.get("/console/tickets", params={"mine": "1"})).text()
    finally:
        await desk.close()


def stored_ids(db, cid) -> list[int]:
    with read_sessions(db)() as s:
        return list(s.scalars(select(Message.id).where(Message.conversation_id == cid).order_by(Message.id)))
