"""The desk's front door through the real stack: store first, dedupe, handover, outages.

Desk apps run in-process (aiohttp test server) against the stack's Rasa, action server and
database, so the tests can watch the hub; an outage is a desk pointed at a closed port. Every
test runs on both profiles (`any_stack`: SQLite embedded, PostgreSQL + Redis scale).
Each test body runs in its own thread and event loop (`in_thread`): Playwright's sync API,
used by the browser tests of the same session, keeps an event loop on the main thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.db import migrate, read_sessions, sessions
from bot.db.schema import Conversation, Handover, Staff
from bot.desk import gateway
from bot.desk.hub import HUB_KEY
from bot.network import sync_network
from bot.runtime.supervisor import free_port
from bot.settings import DESK_CHANNEL_HEADER, DESK_CHANNEL_PATH
from tests.e2e.gateway_helpers import (
    conversation,
    db_of,
    desk_for,
    in_thread,
    rows,
    session,
    start_desk,
    tracker,
    user_events,
)
from tests.settings_env import with_env

pytestmark = pytest.mark.e2e


# ---- helpers ---------------------------------------------------------------------------------------


def cid_() -> str:
    return f"gw-{uuid.uuid4().hex[:10]}"


async def ws_connect(client: TestClient, cid: str, key: str):
    return await client.ws_connect(f"/ws/chat?conversation_id={cid}", protocols=("yschat", f"key.{key}"))


async def receive_until(ws, pred, timeout: float = 20.0) -> list[dict]:
    got: list[dict] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        msg = await asyncio.wait_for(ws.receive_json(), max(0.1, deadline - loop.time()))
        got.append(msg)
        if pred(msg):
            return got


async def wait_for(cond, timeout: float = 20.0, step: float = 0.2):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = cond()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)


def is_bot_message(m: dict) -> bool:
    return m.get("type") == "message" and m["message"]["direction"] == "out"


@pytest.fixture
def fresh_db(any_stack, tmp_path, request):
    """An empty service database of the stack's kind (SQLite or PostgreSQL)."""
    if any_stack.settings.database_url.startswith("postgresql"):
        return request.getfixturevalue("pg_url")
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    migrate(url)
    sync_network(url)
    return url


# ---- store first, then forward ------------------------------------------------------------------


@in_thread
async def test_inbound_is_stored_before_it_is_forwarded(any_stack):
    """A proxy in front of the real Rasa looks into the database when the message arrives."""
    db = db_of(any_stack.settings)
    seen: list[list[tuple[str, str]]] = []

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append([(m.text, m.state) for m in rows(db, body["sender"], direction="in")])
        async with aiohttp.ClientSession() as c:
            async with c.post(
                any_stack.settings.desk_channel_url,
                json=body,
                headers={DESK_CHANNEL_HEADER: request.headers.get(DESK_CHANNEL_HEADER, "")},
            ) as r:
                return web.json_response(await r.json())

    proxy = web.Application()
    proxy.router.add_post(DESK_CHANNEL_PATH, webhook)
    server = TestServer(proxy, host="127.0.0.1")
    await server.start_server()
    client = await start_desk(dataclasses.replace(any_stack.settings, rasa_port=server.port))
    try:
        cid = cid_()
        replies = await gateway.handle_inbound(client.server.app, cid, "你好", "first-1")
        assert seen == [[("你好", "forwarded")]]  # stored (and claimed) before Rasa saw it
        assert replies and "原上管家" in replies[0]["text"]
        inbound = rows(db, cid, direction="in")
        assert [(m.text, m.state, m.client_msg_id) for m in inbound] == [("你好", "answered", "first-1")]
        out = rows(db, cid, direction="out")
        assert [m.id for m in out] == [r["id"] for r in replies]
        assert all(m.author == "bot" and m.reply_to == inbound[0].id for m in out)
        assert any(b["payload"] == "/request_human" for b in replies[0]["buttons"])
    finally:
        await client.close()
        await server.close()


@in_thread
async def test_duplicate_client_message_id_is_answered_once(any_stack):
    async with desk_for(any_stack.settings) as desk:
        app, db = desk.server.app, db_of(any_stack.settings)
        cid, key = await session(desk)
        ws = await ws_connect(desk, cid, key)
        try:
            await ws.send_json({"type": "send", "text": "你好", "client_msg_id": "dup-1"})
            first = await receive_until(ws, is_bot_message)
            ack = next(m for m in first if m["type"] == "ack")
            assert ack["client_msg_id"] == "dup-1"
            await asyncio.sleep(0.5)  # let every reply of the first be stored
            replies = rows(db, cid, direction="out", reply_to=ack["id"])  # (not the welcome)
            # The repeat (a resend after a lost ack) gets the same id and the stored replies, no new turn.
            await ws.send_json({"type": "send", "text": "你好", "client_msg_id": "dup-1"})
            again = await receive_until(ws, lambda m: m["type"] == "ack")
            assert again[-1]["id"] == ack["id"]
            again += await receive_until(ws, lambda m: is_bot_message(m) and m["message"]["id"] == replies[-1].id)
            assert len(rows(db, cid, direction="in")) == 1
            assert len(rows(db, cid, direction="out")) == len(replies) + 1  # + the welcome
            assert user_events(any_stack.settings, cid) == ["你好"]
            # The same through the Python API: the stored replies of the first copy.
            same = await gateway.handle_inbound(app, cid, "你好", "dup-1")
            assert [r["id"] for r in same] == [m.id for m in replies]
            assert user_events(any_stack.settings, cid) == ["你好"]
        finally:
            await ws.close()


@in_thread
async def test_bad_input_gets_a_clear_error_and_the_socket_stays_open(any_stack):
    async with desk_for(any_stack.settings) as desk:
        db = db_of(any_stack.settings)
        cid, key = await session(desk)
        ws = await ws_connect(desk, cid, key)
        try:
            await ws.send_json({"type": "send", "text": "专" * 2001, "client_msg_id": "long-1"})
            err = (await receive_until(ws, lambda m: m["type"] == "error"))[-1]
            assert err["message"] == "消息过长（最多2000字）" and err["client_msg_id"] == "long-1"
            await ws.send_json({"type": "send", "text": "   ", "client_msg_id": "empty-1"})
            err = (await receive_until(ws, lambda m: m["type"] == "error"))[-1]
            assert err["code"] == "empty" and "不能为空" in err["message"]
            await ws.send_str("{not json")
            err = (await receive_until(ws, lambda m: m["type"] == "error"))[-1]
            assert err["code"] == "bad_json" and "格式" in err["message"]
            await ws.send_json(["send"])
            assert (await receive_until(ws, lambda m: m["type"] == "error"))[-1]["code"] == "bad_json"
            assert rows(db, cid, direction="in") == []
            # Exactly 2000 characters are fine, and the socket still works.
            await ws.send_json({"type": "send", "text": "专" * 2000, "client_msg_id": "ok-2000"})
            ack = (await receive_until(ws, lambda m: m["type"] == "ack"))[-1]
            assert ack["client_msg_id"] == "ok-2000"
            assert len(rows(db, cid, direction="in")[0].text) == 2000
        finally:
            await ws.close()


@in_thread
async def test_rate_limit_per_conversation(any_stack):
    async with desk_for(any_stack.settings) as desk:
        cid, key = await session(desk)
        ws = await ws_connect(desk, cid, key)
        try:
            for i in range(21):
                await ws.send_json({"type": "send", "text": f"第{i}条", "client_msg_id": f"rl-{i}"})
            err = (await receive_until(ws, lambda m: m["type"] == "error", timeout=30))[-1]
            assert err["code"] == "rate_limited" and err["client_msg_id"] == "rl-20"
        finally:
            await ws.close()


@in_thread
async def test_wrong_key_is_403_and_nothing_leaks(any_stack):
    async with desk_for(any_stack.settings) as desk:
        cid, key = await session(desk)
        other, other_key = await session(desk)
        r = await desk.get(f"/api/chat/history?conversation_id={cid}", headers={"X-Chat-Key": other_key})
        assert r.status == 403 and "你好" not in await r.text()
        r = await desk.get(f"/api/chat/history?conversation_id={cid}")
        assert r.status == 403
        r = await desk.get(f"/api/chat/history?conversation_id=no-such&after=0", headers={"X-Chat-Key": key})
        assert r.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
            await desk.ws_connect(f"/ws/chat?conversation_id={cid}", protocols=("yschat", f"key.{other_key}"))
        assert exc.value.status == 403
        r = await desk.get(f"/api/chat/history?conversation_id={cid}", headers={"X-Chat-Key": key})
        assert r.status == 200
        assert [m["text"] for m in (await r.json())["messages"]] == [gateway.WELCOME_TEXT]  # only the welcome
        with read_sessions(gateway.db_url(desk.server.app))() as s:
            stored = s.get(Conversation, cid).access_key_hash
        assert stored != key and len(stored) == 64  # only the SHA-256 is kept


@in_thread
async def test_page_embed_and_security_headers(any_stack):
    client = await start_desk(with_env(any_stack.settings, DESK_FRAME_ANCESTORS="'self' https://www.example.gov.cn"))
    try:
        r = await client.get("/")
        assert r.status == 200 and "原上管家" in await r.text()
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'self' https://www.example.gov.cn" in csp and "script-src 'self'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff" and "X-Frame-Options" not in r.headers
        r = await client.get("/embed.js")
        assert r.status == 200 and r.headers["Content-Type"].startswith("application/javascript")
        body = await r.text()
        assert "iframe" in body and "/?embed=1" in body
        for path in ("/chat/chat.js", "/chat/chat.css"):
            r = await client.get(path)
            assert r.status == 200 and r.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        await client.close()
    client = await start_desk(with_env(any_stack.settings, DESK_FRAME_ANCESTORS="evil; script-src *"))
    try:
        r = await client.get("/")
        assert "frame-ancestors 'self'" in r.headers["Content-Security-Policy"]
        assert "evil" not in r.headers["Content-Security-Policy"]
        assert r.headers["X-Frame-Options"] == "SAMEORIGIN"
    finally:
        await client.close()


# ---- handover ------------------------------------------------------------------------------------


@in_thread
async def test_request_human_pauses_the_bot_and_later_messages_go_to_staff(any_stack):
    async with desk_for(any_stack.settings) as desk:
        app, db = desk.server.app, db_of(any_stack.settings)
        cid, key = await session(desk)
        ws = await ws_connect(desk, cid, key)
        try:
            with app[HUB_KEY].subscribe("console") as console:
                await ws.send_json({"type": "send", "text": "转人工", "client_msg_id": "h-1"})
                got = await receive_until(ws, lambda m: m == {"type": "mode", "mode": "waiting"})
                texts = "\n".join(m["message"]["text"] or "" for m in got if is_bot_message(m))
                assert "服务专员" in texts and ("分钟内回复您" in texts or "非工作时间" in texts), texts
                event = await asyncio.wait_for(console.get(), 10)
                while event["type"] != "handover":
                    event = await asyncio.wait_for(console.get(), 10)
                assert event["conversation_id"] == cid and event["handover"]["reason"] == "request_human"

                with read_sessions(db)() as s:
                    h = s.scalars(select(Handover).where(Handover.conversation_id == cid)).one()
                assert h.reason == "request_human" and h.ended_at is None and h.node_id == "centre"
                assert "转人工" in h.transcript
                assert conversation(db, cid).mode == "waiting"
                tr = tracker(any_stack.settings, cid)
                assert tr["paused"] is True
                assert any(e["event"] == "pause" for e in tr["events"])
                before = user_events(any_stack.settings, cid)

                # While waiting, the user's messages are stored and reach staff, not Rasa.
                await ws.send_json({"type": "send", "text": "我想问下高企认定的材料", "client_msg_id": "h-2"})
                ack = (await receive_until(ws, lambda m: m["type"] == "ack"))[-1]
                event = await asyncio.wait_for(console.get(), 10)
                while event["type"] != "user_message":
                    event = await asyncio.wait_for(console.get(), 10)
                assert event["conversation_id"] == cid and event["message"]["id"] == ack["id"]
                assert event["message"]["text"] == "我想问下高企认定的材料"
                await asyncio.sleep(0.5)
                assert user_events(any_stack.settings, cid) == before
                assert rows(db, cid, client_msg_id="h-2")[0].state == "forwarded"
                # … and the user is told at once that staff have it (tests/e2e/test_desk_conversation.py)
                assert [m.author for m in rows(db, cid, reply_to=ack["id"])] == ["system"]

                # Staff claim, reply, end: the bot is back and asks for a rating.
                with sessions(db).begin() as s:
                    staff = Staff(username=f"gw-{uuid.uuid4().hex[:6]}", display_name="张丽", node_id="centre")
                    s.add(staff)
                    s.flush()
                await gateway.claim_handover(app, h.id, staff)
                assert conversation(db, cid).mode == "staff"
                msg = await gateway.send_to_user(app, cid, "您好，我是服务专员张丽。", f"staff:{staff.username}")
                seen = await receive_until(ws, lambda m: m.get("type") == "message" and m["message"]["id"] == msg.id)
                assert seen[-1]["message"]["author"].startswith("staff:")
                note = await gateway.send_to_user(app, cid, "内部备注：企业为高企", "staff:x", internal=True)
                await gateway.end_handover(app, h.id, f"staff:{staff.username}")
                back = await receive_until(
                    ws, lambda m: is_bot_message(m) and "人工服务已结束" in (m["message"]["text"] or "")
                )
                rating = back[-1]["message"]
                assert [b["payload"] for b in rating["buttons"]] == ["非常满意", "满意", "一般", "不满意", "非常不满意"]
                assert all(m["message"]["id"] != note.id for m in back if m.get("type") == "message")
                assert conversation(db, cid).mode == "bot" and tracker(any_stack.settings, cid)["paused"] is False
                # The rating that follows is for the staff service (not for some resolved ticket).
                await ws.send_json({"type": "send", "text": "满意", "client_msg_id": "h-3", "title": "满意"})
                thanks = await receive_until(ws, lambda m: is_bot_message(m) and "评价" in (m["message"]["text"] or ""))
                assert "感谢您对服务专员的评价" in thanks[-1]["message"]["text"]
                r = await desk.get(f"/api/chat/history?conversation_id={cid}", headers={"X-Chat-Key": key})
                assert "内部备注" not in await r.text()
        finally:
            await ws.close()


def test_second_fallback_in_a_row_hands_over(any_stack):
    sender = cid_()
    first = any_stack.say("/nlu_fallback", sender)
    assert "暂时没有确切答案" in "".join(r.get("text") or "" for r in first)
    second = any_stack.say("/nlu_fallback", sender)
    custom = [r["custom"] for r in second if r.get("custom")]
    assert custom and custom[0]["handover"]["reason"] == "fallback"
    assert "已为您转接服务专员" in "".join(r.get("text") or "" for r in second)
    assert tracker(any_stack.settings, sender)["paused"] is True
    with read_sessions(db_of(any_stack.settings))() as s:
        h = s.scalars(select(Handover).where(Handover.conversation_id == sender)).one()
    assert h.reason == "fallback"


def test_complaint_hands_over_with_reason_complaint(any_stack):
    sender = cid_()
    replies = any_stack.say("你们效率太低了，我要投诉", sender)
    assert any(r.get("custom", {}).get("handover") for r in replies)
    with read_sessions(db_of(any_stack.settings))() as s:
        h = s.scalars(select(Handover).where(Handover.conversation_id == sender)).one()
    assert h.reason == "complaint"


# ---- outages -------------------------------------------------------------------------------------


@in_thread
async def test_rasa_down_then_back_nothing_is_lost(any_stack, fresh_db):
    down = dataclasses.replace(any_stack.settings, rasa_port=free_port(), database_url=fresh_db)
    cid = cid_()
    client = await start_desk(down, retry_interval=60)
    try:
        app = client.server.app
        with app[HUB_KEY].subscribe(f"conversation:{cid}") as q:
            replies = await gateway.handle_inbound(app, cid, "你好", "out-1", channel="rest")
            assert [r["text"] for r in replies] == [gateway.BUSY_NOTICE] and "稍后回复" in gateway.BUSY_NOTICE
            assert replies[0]["author"] == "system"
            published = [q.get_nowait() for _ in range(q.qsize())]
            assert any(e["type"] == "message" and e["message"]["text"] == gateway.BUSY_NOTICE for e in published)
            # A second message during the outage is kept too, without a second notice.
            assert await gateway.handle_inbound(app, cid, "谢谢", "out-2", channel="rest") == []
        assert [(m.text, m.state) for m in rows(fresh_db, cid, direction="in")] == [
            ("你好", "pending"),
            ("谢谢", "pending"),
        ]
        assert await gateway.retry_pending(app) == 0  # Rasa still down: nothing changes
    finally:
        await client.close()

    client = await start_desk(dataclasses.replace(down, rasa_port=any_stack.settings.rasa_port))
    try:
        app = client.server.app
        with app[HUB_KEY].subscribe(f"conversation:{cid}") as q:
            await wait_for(lambda: all(m.state == "answered" for m in rows(fresh_db, cid, direction="in")))
            events = []
            while not q.empty():
                events.append(q.get_nowait())
        inbound = rows(fresh_db, cid, direction="in")
        greet = rows(fresh_db, cid, reply_to=inbound[0].id, author="bot")
        thanks = rows(fresh_db, cid, reply_to=inbound[1].id, author="bot")
        assert greet and "原上管家" in greet[0].text and thanks
        assert greet[0].id < thanks[0].id  # answered in order
        assert any(e["type"] == "message" and e["message"]["id"] == greet[0].id for e in events)
        assert user_events(any_stack.settings, cid) == ["你好", "谢谢"]  # each reached Rasa once
    finally:
        await client.close()


@in_thread
async def test_pending_messages_go_to_staff_if_a_handover_happens_meanwhile(any_stack, fresh_db):
    from bot import handover as ho

    down = dataclasses.replace(any_stack.settings, rasa_port=free_port(), database_url=fresh_db)
    client = await start_desk(down, retry_interval=60)
    try:
        app, cid = client.server.app, cid_()
        await gateway.handle_inbound(app, cid, "有人吗", "p-1", channel="rest")
        assert rows(fresh_db, cid, direction="in")[0].state == "pending"
        with app[HUB_KEY].subscribe("console") as console:
            ho.start_handover(fresh_db, cid, "staff_takeover")
            await gateway.retry_pending(app)  # (the background round may get there first)
            event = await asyncio.wait_for(console.get(), 5)
            while event["type"] != "user_message":
                event = await asyncio.wait_for(console.get(), 5)
        assert event["message"]["text"] == "有人吗" and event["conversation_id"] == cid
        assert rows(fresh_db, cid, direction="in")[0].state == "forwarded"
    finally:
        await client.close()


@pytest.mark.parametrize("failure", ["http500", "empty_reply_actions_down", "timeout"])
@in_thread
async def test_rasa_failures_are_pending_not_dropped(any_stack, fresh_db, failure):
    async def webhook(request: web.Request) -> web.Response:
        if failure == "http500":
            return web.Response(status=500, text="boom")
        if failure == "timeout":
            await asyncio.sleep(5)
        return web.json_response([])  # what Rasa says when the action failed

    fake = web.Application()
    fake.router.add_post(DESK_CHANNEL_PATH, webhook)
    server = TestServer(fake, host="127.0.0.1")
    await server.start_server()
    settings = dataclasses.replace(
        any_stack.settings, rasa_port=server.port, actions_port=free_port(), database_url=fresh_db
    )
    client = await start_desk(settings, retry_interval=60)
    client.server.app[gateway.GATEWAY_KEY].rasa_timeout = 1.0
    try:
        cid = cid_()
        replies = await gateway.handle_inbound(client.server.app, cid, "我要申请高企认定", "f-1", channel="rest")
        assert [r["text"] for r in replies] == [gateway.BUSY_NOTICE]
        assert rows(fresh_db, cid, direction="in")[0].state == "pending"
    finally:
        await client.close()
        await server.close()
