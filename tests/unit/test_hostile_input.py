"""Hostile input on a real desk app and database: injection and script attempts in every
free-text field, attempts to get past the console's sign-in, oversize bodies, floods.

Rasa is a closed port (a chat message is stored and left pending, as during an outage).
Free text must be stored exactly as typed (SQL strings do nothing), shown escaped in every
console page, and handed to the chat page only as JSON (the page sets it as text).
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot import handover as ho
from bot.db import read_sessions, sessions
from bot.db.schema import Conversation, Message, Rating, Staff, Ticket
from bot.desk import wechat
from bot.desk.console import auth, views
from bot.desk.wechat import xml as wxml
from bot.runtime.supervisor import free_port
from bot.tickets.service import EnterpriseInput, TicketService
from tests.clock import Clock
from tests.unit.desk_helpers import PASSWORD, add_staff, chat_session, console_login, csrf_token, desk_client

pytestmark = pytest.mark.desk

PAYLOADS = [
    '<script>alert("x")</script>',
    '"><img src=x onerror=alert(1)>',
    "'><svg/onload=alert(1)>",
    "</textarea><script>alert(2)</script>",
    "javascript:alert(3)",
    "'; DROP TABLE messages; --",
    "1' OR '1'='1",
    "{{7*7}} ${7*7} <%= 7*7 %>",
    "\u202e<b>反转</b>",
]
LIVE_TAG = re.compile(
    r"<img src=x|<svg/onload|<script>alert|</textarea><script|<b>反转"
    r"|<script(?![^>]*src=\"/console/static/console\.js\")",
    re.I,
)
CJK = re.compile(r"[\u3400-\u9fff]")


@dataclasses.dataclass
class Desk:
    client: TestClient
    app: object
    db: str
    clock: Clock

    async def login(self, username: str, password: str = PASSWORD, ip: str | None = None):
        return await console_login(self.client, username, password, headers={"X-Forwarded-For": ip} if ip else {})

    async def csrf(self) -> str:
        return await csrf_token(self.client)

    async def post(self, path: str, data: dict, **headers):
        data = {**data, "csrf_token": await self.csrf()}
        return await self.client.post(
            path, data=data, headers={"Accept": "application/json", **headers}, allow_redirects=False
        )

    async def chat_session(self, ip: str | None = None) -> tuple[str, str]:
        return await chat_session(self.client, {"X-Forwarded-For": ip} if ip else {})

    async def say(self, cid: str, key: str, text: str, ip: str | None = None):
        headers = {"X-Chat-Key": key, **({"X-Forwarded-For": ip} if ip else {})}
        return await self.client.post("/api/chat/message", json={"conversation_id": cid, "text": text}, headers=headers)


async def start(db: str, tmp_path, **env) -> Desk:
    """A desk configured as these environment variables (RATE_LIMIT_CHAT="3/60", …) say, started."""
    closed = free_port()
    clock = Clock(datetime.now(timezone.utc).replace(microsecond=0))
    client = desk_client(db, tmp_path, clock=clock, env=env, rasa_port=closed, actions_port=closed)
    await client.start_server()
    return Desk(client, client.app, db, clock)


@pytest.fixture
async def desk(sqlite_url, tmp_path):
    d = await start(sqlite_url, tmp_path)
    yield d
    await d.client.close()


def assert_escaped_page(html: str, where: str) -> None:
    assert not LIVE_TAG.search(html), (where, LIVE_TAG.search(html).group(0))
    assert 'href="javascript:' not in html.lower(), where


def staff(db, username, node, role="staff"):
    return add_staff(db, username, username.upper(), node, role)


# ---- injection and script attempts ----------------------------------------------------------------


async def test_chat_text_is_stored_verbatim_and_escaped_in_the_console(desk):
    cid, key = await desk.chat_session()
    for i, p in enumerate(PAYLOADS):
        r = await desk.say(cid, key, p)
        assert r.status == 200, await r.text()
    history = await (
        await desk.client.get(f"/api/chat/history?conversation_id={cid}", headers={"X-Chat-Key": key})
    ).json()
    texts = [m["text"] for m in history["messages"] if m["direction"] == "in"]
    assert texts == PAYLOADS  # verbatim, in order; SQL did nothing
    with read_sessions(desk.db)() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == len(PAYLOADS)
    ho.start_handover(desk.db, cid, "request_human", node_id="fengxi", channel="web")
    staff(desk.db, "boss", "centre", role="admin")
    await desk.login("boss")
    for path in ("/console/", f"/console/conversations/{cid}"):
        r = await desk.client.get(path)
        assert r.status == 200
        assert_escaped_page(await r.text(), path)
    page = await (await desk.client.get(f"/console/conversations/{cid}")).text()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page and "&lt;b&gt;反转&lt;/b&gt;" in page
    api = await (await desk.client.get(f"/console/api/conversations/{cid}")).json()
    assert [m["text"] for m in api["messages"] if m["kind"] == "user"] == PAYLOADS


async def test_the_chat_page_only_ever_sets_text():
    """The page's script shows messages with textContent; the CSP forbids inline script anyway."""
    js = (Path(__file__).resolve().parents[2] / "bot/desk/static/chat/chat.js").read_text(encoding="utf-8")
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "document.write" not in js
    assert "textContent" in js


async def test_ticket_fields_staff_inputs_ratings_and_canned_replies_are_escaped(desk, tmp_path, monkeypatch):
    xss, sql = PAYLOADS[0], PAYLOADS[5]
    canned = tmp_path / "canned.yml"
    canned.write_text(
        json.dumps({"replies": [{"id": "x", "title": PAYLOADS[1], "text": xss}]}, ensure_ascii=False), encoding="utf-8"
    )
    monkeypatch.setattr(views, "CANNED_FILE", canned)
    cid = "web-hostile"
    with sessions(desk.db).begin() as s:
        s.add(Conversation(id=cid, channel="web", mode="bot"))
        s.flush()
        s.add(Message(conversation_id=cid, direction="in", author="user", text=xss))
    svc = TicketService(desk.db)
    t = svc.open_ticket(
        category="need_talent_living",
        description=f"需求{xss}{sql}",
        enterprise=EnterpriseInput(name=f"企业{PAYLOADS[2]}", new_city="沣西", park=PAYLOADS[3]),
        contact_name=f"联系人{PAYLOADS[1]}",
        mobile="13912345678",
        sender_id=cid,
        channel="web",
    ).ticket
    info = ho.start_handover(desk.db, cid, "request_human", node_id=t.node_id, channel="web")
    staff(desk.db, "boss", "centre", role="admin")
    await desk.login("boss")
    assert (await desk.post(f"/console/conversations/{cid}/claim", {"handover_id": info.id})).status == 200
    for path, data in (
        (f"/console/conversations/{cid}/reply", {"handover_id": info.id, "text": PAYLOADS[4]}),
        (f"/console/conversations/{cid}/note", {"text": PAYLOADS[6]}),
        (f"/console/tickets/{t.number}/note", {"text": PAYLOADS[7]}),
        (f"/console/tickets/{t.number}/close", {"result": f"结果{xss}{sql}"}),
        (f"/console/tickets/{t.number}/close", {"result": f"结果{xss}{sql}", "confirm": "1"}),
    ):
        r = await desk.post(path, data)
        assert r.status == 200, (path, await r.text())
        if "confirm" not in data and path.endswith("/close"):  # the confirmation step shows it escaped
            assert not LIVE_TAG.search(await r.text())
    svc.rate(t.number, cid, 2, comment=f"不满意{xss}{sql}")
    svc.comment_on_rating(t.number, cid, f"补充{PAYLOADS[1]}")

    with read_sessions(desk.db)() as s:  # stored verbatim
        ticket = s.get(Ticket, t.id)
        assert ticket.description == f"需求{xss}{sql}"
        assert s.scalar(select(Rating.comment).where(Rating.ticket_id == t.id)) == f"补充{PAYLOADS[1]}"
        staff_texts = {m.text for m in s.scalars(select(Message).where(Message.author == "staff:boss"))}
        assert {PAYLOADS[4], PAYLOADS[6]} <= staff_texts
    notes = [e.note for e in svc.events(t.number) if e.action == "note"]
    assert PAYLOADS[7] in notes

    for path in (
        "/console/",
        f"/console/conversations/{cid}",
        f"/console/tickets/{t.number}",
        "/console/tickets",
        f"/console/tickets?q={PAYLOADS[1]}",
        "/console/reports",
        "/console/reports/monthly.html",
    ):
        r = await desk.client.get(path)
        assert r.status == 200, path
        html = await r.text()
        assert not LIVE_TAG.search(html), (path, LIVE_TAG.search(html).group(0))
        assert 'href="javascript:' not in html.lower() and "onerror=alert(1)>" not in html, path
    page = await (await desk.client.get(f"/console/tickets/{t.number}")).text()
    assert "&lt;script&gt;" in page and "{{7*7}}" in page
    conv = await (await desk.client.get(f"/console/conversations/{cid}")).text()
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in conv  # the canned reply's title, escaped


# ---- getting past the sign-in ------------------------------------------------------------------


async def test_authentication_bypass_attempts(desk):
    staff(desk.db, "ws", "fengxi-ws-xinxi")  # a workstation: staff role
    ho_info = None
    with sessions(desk.db).begin() as s:
        s.add(Conversation(id="web-dong", channel="web", mode="bot"))
        s.flush()
        s.add(Message(conversation_id="web-dong", direction="in", author="user", text="沣东的秘密"))
    ho_info = ho.start_handover(desk.db, "web-dong", "request_human", node_id="fengdong", channel="web")
    t = (
        TicketService(desk.db)
        .open_ticket(
            category="need_talent_living",
            description="沣东企业的需求",
            enterprise=EnterpriseInput(name="沣东企业", new_city="沣东"),
            contact_name="王",
            mobile="13912345678",
            sender_id="web-dong",
            channel="web",
        )
        .ticket
    )
    c = desk.client

    async def no_data(r, where):
        body = await r.text()
        assert "沣东的秘密" not in body and "沣东企业的需求" not in body, where
        assert r.status in (302, 401, 403, 404), (where, r.status)
        if r.status == 302:
            assert r.headers["Location"].startswith("/console/login"), where

    # no session, a forged cookie, a cookie of an expired session
    for cookie in (None, "forged-" + "A" * 40, "", "x" * 500):
        c.session.cookie_jar.clear()
        headers = {"Cookie": f"{auth.COOKIE}={cookie}"} if cookie is not None else {}
        for path in (
            "/console/",
            "/console/conversations/web-dong",
            "/console/api/conversations/web-dong",
            f"/console/tickets/{t.number}",
            "/console/reports/monthly.xlsx",
            "/console/events",
        ):
            await no_data(await c.get(path, headers=headers, allow_redirects=False), (cookie, path))
    await desk.login("ws")
    stolen = c.session.cookie_jar.filter_cookies(c.make_url("/console/"))[auth.COOKIE].value
    desk.clock.now += timedelta(hours=8, seconds=1)
    c.session.cookie_jar.clear()
    await no_data(
        await c.get("/console/", headers={"Cookie": f"{auth.COOKIE}={stolen}"}, allow_redirects=False), "expired"
    )
    desk.clock.now -= timedelta(hours=8, seconds=1)

    # signed in as staff of a workstation: another node's conversation and ticket, admin pages
    await desk.login("ws")
    for path in (
        "/console/conversations/web-dong",
        "/console/api/conversations/web-dong",
        f"/console/tickets/{t.number}",
        "/console/reports/monthly.html",
        "/console/reports/monthly.xlsx",
        "/console/tickets?node=fengdong",
    ):
        await no_data(await c.get(path, allow_redirects=False), path)
    # CSRF: missing, wrong, and "method override" headers that try to make a POST look like a GET
    for headers in (
        {},
        {"X-CSRF-Token": "wrong"},
        {"X-HTTP-Method-Override": "GET"},
        {"X-HTTP-Method": "GET", "X-Method-Override": "GET"},
    ):
        r = await c.post(
            "/console/tickets/QCY-20000101-0001/note",
            data={"text": "x", "_method": "GET"},
            headers=headers,
            allow_redirects=False,
        )
        assert r.status == 403, headers
    r = await desk.post("/console/conversations/web-dong/claim", {"handover_id": ho_info.id})
    await no_data(r, "claim another node's conversation")
    assert ho.open_for(desk.db, "web-dong").claimed_by is None
    # the login form's own token cannot be skipped or forged either
    c.session.cookie_jar.clear()
    r = await c.post(
        "/console/login",
        data={"username": "ws", "password": PASSWORD, "csrf_token": "x"},
        headers={"Cookie": f"{auth.LOGIN_CSRF_COOKIE}=y"},
        allow_redirects=False,
    )
    assert r.status == 403 and auth.COOKIE not in r.cookies
    # open redirects after sign-in are refused
    page = await c.get("/console/login?next=//evil.example/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text()).group(1)
    r = await c.post(
        "/console/login",
        data={"username": "ws", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/"},
        allow_redirects=False,
    )
    assert r.status == 302 and r.headers["Location"] == "/console/"


@pytest.mark.parametrize(
    "path",
    [
        "/console/static/../auth.py",
        "/console/static/..%2fauth.py",
        "/console/static/%2e%2e%2fauth.py",
        "/console/static/..%5cauth.py",
        "/chat/..%2f..%2fgateway.py",
        "/chat/%2e%2e/%2e%2e/desk/gateway.py",
        "/chat/chat.js/../../gateway.py",
        "/console/static/console.css%00.py",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/console/static//etc/passwd",
    ],
)
async def test_path_traversal_in_static_routes(desk, path):
    r = await desk.client.get(path, allow_redirects=False)
    body = await r.text()
    assert r.status in (302, 400, 403, 404), r.status
    assert "import " not in body and "root:" not in body
    assert r.status == 302 or CJK.search(body)


# ---- size limits ---------------------------------------------------------------------------------


async def test_oversize_bodies_get_413_in_chinese(desk, monkeypatch):
    staff(desk.db, "boss", "centre", role="admin")
    await desk.login("boss")
    token = await desk.csrf()
    cid, key = await desk.chat_session()
    big = "字" * 40_000  # 120 KB of UTF-8, over the 64 KB limit
    cases = [
        ("/api/chat/message", {"json": {"conversation_id": cid, "text": big}, "headers": {"X-Chat-Key": key}}),
        ("/api/chat/session", {"data": big.encode()}),  # not even read: refused by its length
        ("/console/login", {"data": {"username": big, "password": "x"}}),
        ("/console/tickets/QCY-20000101-0001/note", {"data": {"text": big, "csrf_token": token}}),
        (
            "/console/conversations/web-x/reply",
            {"data": {"text": big}, "headers": {"X-CSRF-Token": token, "Accept": "application/json"}},
        ),
    ]
    for path, kw in cases:
        r = await desk.client.post(path, allow_redirects=False, **kw)
        body = await r.text()
        assert r.status == 413, (path, r.status, body[:200])
        assert "请求内容过大" in body, (path, body[:200])
    r = await desk.client.post(
        "/api/chat/message",
        data=b"{" + b" " * 70_000 + b"}",
        headers={"X-Chat-Key": key, "Content-Type": "application/json"},
    )
    assert r.status == 413 and (await r.json())["message"].startswith("请求内容过大")
    # a message of 2,001 characters is refused by its length, not by the body limit
    r = await desk.say(cid, key, "字" * 2001)
    assert r.status == 400 and "最多2000字" in (await r.json())["message"]


async def test_oversize_wechat_callback_gets_413(sqlite_url, tmp_path):
    d = await start(sqlite_url, tmp_path, WECHAT_MP_TOKEN="tok")
    try:
        ts = str(int(time.time()))
        r = await d.client.post(f"/wechat/mp?timestamp={ts}&nonce=n&signature=x", data=b"<xml>" + b"a" * 70_000)
        assert r.status == 413 and CJK.search(await r.text())
    finally:
        await d.client.close()


# ---- floods: per-sender rate limits --------------------------------------------------------------


async def test_web_chat_rate_limits(sqlite_url, tmp_path):
    d = await start(
        sqlite_url,
        tmp_path,
        RATE_LIMIT_CHAT="3/60",
        RATE_LIMIT_CHAT_IP="5/60",
        RATE_LIMIT_SESSION_IP="4/600",
    )
    try:
        cid, key = await d.chat_session(ip="198.51.100.1")
        for i in range(3):
            assert (await d.say(cid, key, f"第{i}条", ip="198.51.100.1")).status == 200
        r = await d.say(cid, key, "第4条", ip="198.51.100.1")
        assert r.status == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
        assert (await r.json()) == {"error": "rate_limited", "message": "发送太频繁，请稍后再试"}
        with read_sessions(d.db)() as s:  # refused = not stored (the user was told)
            assert (
                s.scalar(
                    select(func.count())
                    .select_from(Message)
                    .where(Message.conversation_id == cid, Message.direction == "in")
                )
                == 3
            )
        # the WebSocket says the same for the same conversation
        ws = await d.client.ws_connect(f"/ws/chat?conversation_id={cid}", protocols=("yschat", f"key.{key}"))
        await ws.send_json({"type": "send", "text": "再来一条", "client_msg_id": "ws-1"})
        while True:
            event = await ws.receive_json(timeout=10)
            if event["type"] == "error":
                break
        assert event["code"] == "rate_limited" and event["message"] == "发送太频繁，请稍后再试"
        await ws.close()
        # per address: a second conversation from the same address reaches the address limit (5)
        other, other_key = await d.chat_session(ip="198.51.100.1")
        statuses = [(await d.say(other, other_key, f"另{i}", ip="198.51.100.1")).status for i in range(3)]
        assert statuses == [200, 200, 429]
        third, third_key = await d.chat_session(ip="203.0.113.5")
        assert (await d.say(third, third_key, "换个地址", ip="203.0.113.5")).status == 200
        # new conversations per address
        for _ in range(2):
            await d.chat_session(ip="198.51.100.1")
        r = await d.client.post("/api/chat/session", headers={"X-Forwarded-For": "198.51.100.1"})
        assert r.status == 429 and "Retry-After" in r.headers and CJK.search((await r.json())["message"])
    finally:
        await d.client.close()


async def test_console_login_is_limited_per_address(sqlite_url, tmp_path):
    d = await start(sqlite_url, tmp_path, RATE_LIMIT_LOGIN_IP="3/900")
    try:
        for name in ("aa", "bb"):
            staff(d.db, name, "fengxi")
        for i in range(3):  # three accounts guessed from one address: under each account's lockout
            r = await d.login(("aa", "bb", "nobody")[i], "wrong-password", ip="198.51.100.9")
            assert r.status == 401
        r = await d.login("aa", ip="198.51.100.9")  # even the right password now waits
        text = await r.text()
        assert r.status == 429 and "登录失败次数过多" in text and int(r.headers["Retry-After"]) > 60
        assert auth.COOKIE not in r.cookies
        r = await d.login("aa", ip="203.0.113.7")  # another address is not affected
        assert r.status == 302
        with read_sessions(d.db)() as s:
            assert s.scalar(select(Staff.failed_logins).where(Staff.username == "aa")) == 0
    finally:
        await d.client.close()


def _sign(*parts: str) -> str:
    import hashlib

    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


async def test_wechat_flood_gets_a_clear_passive_reply(sqlite_url, tmp_path):
    d = await start(sqlite_url, tmp_path, WECHAT_MP_TOKEN="tok", RATE_LIMIT_WECHAT="2/60")
    try:

        async def send(n: int, user: str = "oUser1"):
            ts, nonce = str(int(time.time())), f"n{n}{user}"
            xml = (
                f"<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
                f"<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                f"<Content><![CDATA[第{n}条]]></Content><MsgId>{9000 + n}</MsgId></xml>"
            )
            started = time.monotonic()
            r = await d.client.post(
                f"/wechat/mp?timestamp={ts}&nonce={nonce}&signature={_sign('tok', ts, nonce)}", data=xml.encode()
            )
            assert time.monotonic() - started < 5  # WeChat's deadline
            return r.status, await r.text()

        for n in (1, 2):
            assert (await send(n))[0] == 200
        status, body = await send(3)
        assert status == 200
        reply = wxml.parse(body)
        assert "太频繁" in reply["Content"] and "没有收到" in reply["Content"]
        assert reply["ToUserName"] == "oUser1"
        channel = d.app[wechat.CHANNELS_KEY]["wechat_mp"]
        assert channel.stats["rate_limited"] == 1
        with read_sessions(d.db)() as s:
            stored = list(
                s.scalars(
                    select(Message.text).where(Message.conversation_id == "wxmp:oUser1", Message.direction == "in")
                )
            )
        assert stored == ["第1条", "第2条"]  # the refused one is not stored
        assert (await send(4, user="oUser2"))[0] == 200  # per user
        assert channel.stats["rate_limited"] == 1
    finally:
        await d.client.close()


# ---- characters PostgreSQL refuses ---------------------------------------------------------------


async def test_nul_and_broken_unicode_on_postgresql(pg_url, tmp_path):
    """PostgreSQL cannot store NUL; such input gets a Chinese 400 or is cleaned, never a 500."""
    d = await start(pg_url, tmp_path)
    try:
        cid, key = await d.chat_session()
        for text in ("a\x00b", "\ud800", "正常的消息 ' OR 1=1 --"):
            r = await d.client.post(
                "/api/chat/message",
                data=json.dumps({"conversation_id": cid, "text": text}),
                headers={"X-Chat-Key": key, "Content-Type": "application/json"},
            )
            body = await r.json()
            if text.startswith("正常"):
                assert r.status == 200 and body["message"]["text"] == text
            else:
                assert r.status == 400 and body["error"] == "bad_text" and CJK.search(body["message"])
        r = await d.client.get("/api/chat/history?conversation_id=a%00b", headers={"X-Chat-Key": key})
        assert r.status == 400 and CJK.search((await r.json())["message"])
        staff(d.db, "boss", "centre", role="admin")
        r = await d.login("boss\x00", PASSWORD + "\x00")
        assert r.status == 302
        t = (
            TicketService(d.db)
            .open_ticket(
                category="need_talent_living",
                description="需求",
                enterprise=EnterpriseInput(name="某企业", new_city="沣西"),
                contact_name="王",
                mobile="13912345678",
                sender_id=cid,
                channel="web",
            )
            .ticket
        )
        r = await d.post(f"/console/tickets/{t.number}/note", {"text": "备注\x00内容"})
        assert r.status == 200
        assert "备注内容" in [e.note for e in TicketService(d.db).events(t.number)]
        for path in ("/console/tickets?q=%00", "/console/conversations/a%00b", "/console/tickets/QCY%00"):
            r = await d.client.get(path)
            assert r.status == 400 and CJK.search(await r.text()), path
    finally:
        await d.client.close()
