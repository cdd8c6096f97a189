"""The desk side of personal information: chat keys expire after inactivity, 结束会话 kills the key, the
privacy page and notice, the admins' export/erase page (CSRF, admin only, audited), abuse of the new
endpoints — a real desk app on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import func, select, update

from bot.db import read_sessions, sessions
from bot.db.schema import ConsoleAudit, Contact, Conversation, Message, utcnow
from tests.unit.desk_helpers import TestDesk, add_staff, chat_session
from tests.unit.privacy_helpers import NOW, person

pytestmark = pytest.mark.desk


@pytest.fixture
async def desk(db_url, tmp_path):
    d = TestDesk(db_url, tmp_path, chat_key_idle_days=30)
    yield d
    await d.close()


def idle_for(db: str, cid: str, days: float) -> None:
    then = utcnow() - timedelta(days=days)
    with sessions(db).begin() as s:
        s.execute(update(Conversation).where(Conversation.id == cid).values(created_at=then, last_user_at=then))


async def history(client, cid, key):
    return await client.get(f"/api/chat/history?conversation_id={cid}", headers={"X-Chat-Key": key})


# ---- chat keys ----------------------------------------------------------------------------------------


async def test_a_key_unused_for_longer_than_the_limit_expires_for_good(desk):
    b = await desk.browser()
    cid, key = await chat_session(b.client)
    idle_for(desk.db, cid, 29.9)
    assert (await history(b.client, cid, key)).status == 200  # a day inside the limit: still valid
    idle_for(desk.db, cid, 30.1)
    r = await history(b.client, cid, key)
    body = await r.json()
    assert r.status == 403 and body["error"] == "session_expired"
    assert "30 天未使用" in body["message"] and "新的会话" in body["message"]
    idle_for(desk.db, cid, 0)  # even after fresh activity: dead,
    r = await history(b.client, cid, key)  # and still told why (a second tab,
    assert r.status == 403 and (await r.json())["error"] == "session_expired"  # a request already on its way)
    r = await history(b.client, cid, "x" * 43)
    assert r.status == 403 and (await r.json())["error"] == "forbidden"  # a wrong key learns nothing
    with read_sessions(desk.db)() as s:
        stored = s.get(Conversation, cid).access_key_hash
    assert key not in stored and len(stored.split(":")[-1]) == 64  # still only a hash
    r = await b.client.post(
        "/api/chat/message", headers={"X-Chat-Key": key}, json={"conversation_id": cid, "text": "你好"}
    )
    assert r.status == 403


async def test_an_expired_key_cannot_open_the_websocket(desk):
    b = await desk.browser()
    cid, key = await chat_session(b.client)
    idle_for(desk.db, cid, 31)
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await b.client.ws_connect(f"/ws/chat?conversation_id={cid}", protocols=("yschat", f"key.{key}"))
    assert err.value.status == 403


async def test_end_session_forgets_the_key_and_closes_the_socket(desk):
    b = await desk.browser()
    cid, key = await chat_session(b.client)
    other_cid, other_key = await chat_session(b.client)
    ws = await b.client.ws_connect(f"/ws/chat?conversation_id={cid}", protocols=("yschat", f"key.{key}"))
    r = await b.client.post("/api/chat/end", headers={"X-Chat-Key": key}, json={"conversation_id": cid})
    assert r.status == 200 and "已结束" in (await r.json())["message"]
    msg = await ws.receive(timeout=10)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
    await ws.close()
    assert (await history(b.client, cid, key)).status == 403
    again = await b.client.post("/api/chat/end", headers={"X-Chat-Key": key}, json={"conversation_id": cid})
    assert again.status == 403  # replay: nothing to end
    assert (await history(b.client, other_cid, other_key)).status == 200  # nobody else's
    with read_sessions(desk.db)() as s:
        ended = s.scalar(select(Message).where(Message.conversation_id == cid, Message.author == "system"))
    assert ended.internal and ended.text == "用户已结束会话"


@pytest.mark.parametrize(
    "headers, body",
    [
        ({}, {"conversation_id": "CID"}),
        ({"X-Chat-Key": "wrong"}, {"conversation_id": "CID"}),
        ({"X-Chat-Key": "KEY"}, {"conversation_id": "web-other"}),
        ({"X-Chat-Key": "KEY"}, {"conversation_id": 5}),
        ({"X-Chat-Key": "KEY"}, {}),
        ({"X-Chat-Key": "KEY" * 100}, {"conversation_id": "CID"}),
        ({"X-Chat-Key": "KEY"}, {"conversation_id": "CID\x00"}),
    ],
)
async def test_end_session_abuse_is_refused(desk, headers, body):
    b = await desk.browser()
    cid, key = await chat_session(b.client)
    headers = {k: v.replace("KEY", key) for k, v in headers.items()}
    body = {k: (v.replace("CID", cid) if isinstance(v, str) else v) for k, v in body.items()}
    r = await b.client.post("/api/chat/end", headers=headers, json=body)
    assert r.status == 403 and "无权" in (await r.json())["message"]
    assert (await history(b.client, cid, key)).status == 200


@pytest.mark.parametrize("raw", [b"not json", b"[]", b"\xff\xfe", b'"x"'])
async def test_end_session_bad_bodies_get_400(desk, raw):
    b = await desk.browser()
    r = await b.client.post("/api/chat/end", data=raw, headers={"Content-Type": "application/json"})
    assert r.status == 400 and "JSON" in (await r.json())["message"]


async def test_a_key_offered_without_the_protocol_name_is_not_logged(desk, caplog):
    from bot import logmask

    logmask.install()
    b = await desk.browser()
    cid, key = await chat_session(b.client)
    caplog.set_level(logging.DEBUG)
    ws = await b.client.ws_connect(f"/ws/chat?conversation_id={cid}", protocols=(f"key.{key}",))
    await ws.close()
    assert any("key." in r.getMessage() for r in caplog.records), "aiohttp logs the offered protocols"
    assert not any(key in r.getMessage() for r in caplog.records)
    assert key not in caplog.text


# ---- privacy page and notice -------------------------------------------------------------------------


async def test_the_privacy_page_says_what_why_how_long_and_how_to_delete(desk):
    b = await desk.browser()
    r = await b.client.get("/privacy")
    text = await r.text()
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
    for heading in ("我们收集哪些信息", "为什么收集", "保存多久", "如何查阅、导出或删除"):
        assert heading in text
    assert "3 年" in text and "30 天未使用即失效" in text and "结束会话" in text
    notice = await (await b.client.get("/api/privacy/notice")).json()
    assert notice["url"] == "/privacy" and "手机号" in notice["notice"] and "3 年" in notice["notice"]
    page = await (await b.client.get("/")).text()
    assert 'href="/privacy"' in page and 'id="end"' in page and "结束会话" in page


# ---- the admins' export / erase page ---------------------------------------------------------------------


@pytest.fixture
async def people(desk):
    with sessions(desk.db).begin() as s:
        old = person(s, "old", "13912340001", NOW - timedelta(days=5))
        new = person(s, "new", "13912340002", NOW - timedelta(days=5))
    add_staff(desk.db, "boss", "管理员", "centre", "admin")
    add_staff(desk.db, "lead", "负责人", "centre", "lead")
    return old, new


async def test_admin_exports_and_erases_with_csrf_and_audit(desk, people):
    old, new = people
    b = await desk.browser()
    assert (await b.login("boss")).status in (302, 303)
    page = await b.client.get("/console/admin/privacy")
    assert page.status == 200 and "个人信息导出与删除" in await page.text()
    assert '<a href="/console/admin/privacy" class="on">个人信息</a>' in await page.text()
    assert 'href="/console/admin/privacy"' in await (await b.client.get("/console/tickets")).text()  # in the nav
    r = await b.post("/console/admin/privacy/export", {"mobile": old["mobile"]})
    assert r.status == 200 and "attachment" in r.headers["Content-Disposition"]
    exported = json.loads(await r.text())
    assert exported["contacts"][0]["mobile"] == old["mobile"] and new["mobile"] not in await r.text()
    r = await b.post("/console/admin/privacy/erase", {"mobile": old["mobile"]})  # no confirmation
    assert r.status == 400 and "勾选确认" in await r.text()
    r = await b.post("/console/admin/privacy/erase", {"mobile": old["mobile"], "confirm": "yes"}, token=False)
    assert r.status in (400, 403)  # no CSRF token
    with read_sessions(desk.db)() as s:
        assert s.get(Contact, old["contact"]).mobile == old["mobile"]
    r = await b.post("/console/admin/privacy/erase", {"mobile": old["mobile"], "confirm": "yes"})
    assert r.status == 303
    with read_sessions(desk.db)() as s:
        assert s.get(Contact, old["contact"]).mobile is None
        assert s.get(Contact, new["contact"]).mobile == new["mobile"]
        rows = s.execute(
            select(ConsoleAudit.action, ConsoleAudit.actor, ConsoleAudit.ip)
            .where(ConsoleAudit.action.like("privacy_%"))
            .order_by(ConsoleAudit.id)
        ).all()
    assert [(a, who) for a, who, _ in rows] == [("privacy_export", "staff:boss"), ("privacy_erase", "staff:boss")]
    assert all(ip for *_, ip in rows)


async def test_only_admins_may_use_the_page(desk, people):
    old, _ = people
    b = await desk.browser()
    await b.login("lead")
    assert 'href="/console/admin/privacy"' not in await (await b.client.get("/console/tickets")).text()
    assert (await b.client.get("/console/admin/privacy")).status == 403
    r = await b.post("/console/admin/privacy/export", {"mobile": old["mobile"]})
    assert r.status == 403 and "仅限管理员" in await r.text()
    with read_sessions(desk.db)() as s:
        assert (
            s.scalar(select(func.count()).select_from(ConsoleAudit).where(ConsoleAudit.action.like("privacy_%"))) == 0
        )


async def test_an_admin_scoped_to_other_nodes_is_refused(desk, people, monkeypatch):
    old, _ = people
    from bot.desk.console import auth

    b = await desk.browser()
    await b.login("boss")
    real = auth.staff_view

    def narrowed(staff, session_id, csrf):  # an administrator whose nodes exclude the centre
        v = real(staff, session_id, csrf)
        import dataclasses

        return dataclasses.replace(v, scope=frozenset({"fengxi"}), all_nodes=False)

    monkeypatch.setattr(auth, "staff_view", narrowed)
    r = await b.post("/console/admin/privacy/export", {"mobile": old["mobile"]})
    assert r.status == 403 and "不属于您的服务节点" in await r.text()


@pytest.mark.parametrize(
    "form, message",
    [
        ({"mobile": "123"}, "手机号格式不正确"),
        ({"mobile": "", "conversation": ""}, "填写手机号或会话编号中的一项"),
        ({"mobile": "13912340001", "conversation": "web-old"}, "填写手机号或会话编号中的一项"),
        ({"conversation": "x" * 300}, "会话编号格式不正确"),
        ({"conversation": "web-nobody"}, "没有找到"),
        ({"mobile": "13900000000"}, "没有找到"),
    ],
)
async def test_bad_selectors_get_400_in_chinese(desk, people, form, message):
    b = await desk.browser()
    await b.login("boss")
    for action in ("export", "erase"):
        r = await b.post(f"/console/admin/privacy/{action}", {**form, "confirm": "yes"})
        assert r.status == 400 and message in await r.text(), action
