"""Staff accounts disabled and enabled (admin page and CLI), the real client address in audit rows,
and bounded numeric parameters — on a real desk app and database, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.db import read_sessions, sessions
from bot.db.schema import Conversation, Message, StaffSession
from bot.staff import accounts as cli
from bot.staff import throttle
from tests.unit.desk_helpers import TestDesk, add_staff, audit

pytestmark = pytest.mark.desk


@pytest.fixture
async def desk(db_url, tmp_path):
    d = TestDesk(db_url, tmp_path)
    yield d
    await d.close()


def sessions_of(db, staff_id):
    with read_sessions(db)() as s:
        return list(s.scalars(select(StaffSession).where(StaffSession.staff_id == staff_id)))


# ---- disable and enable ---------------------------------------------------------------------------


async def test_admin_disables_and_enables_an_account_and_its_sessions_end(desk):
    add_staff(desk.db, "boss", "管理员", "centre", "admin")
    li = add_staff(desk.db, "li", "李明", "fengxi")
    admin, staff = await desk.browser(), await desk.browser()
    assert (await admin.login("boss")).status == 302
    assert (await staff.login("li")).status == 302
    assert (await staff.client.get("/console/tickets", allow_redirects=False)).status == 200

    page = await admin.client.get("/console/admin/staff")
    text = await page.text()
    assert page.status == 200 and "账号管理" in text and "/console/admin/staff/li/disable" in text
    assert "/console/admin/staff/boss/disable" not in text  # not oneself

    fwd = {"X-Forwarded-For": "198.51.100.23"}  # through the local reverse proxy
    r = await admin.post("/console/admin/staff/li/disable", headers=fwd)
    assert r.status == 303 and r.headers["Location"] == "/console/admin/staff?done=disable"
    assert sessions_of(desk.db, li.id) == []
    gone = await staff.client.get("/console/tickets", allow_redirects=False)
    assert gone.status == 302 and gone.headers["Location"].startswith("/console/login")
    assert (await staff.login("li")).status == 401  # the usual answer, nothing more
    row = audit(desk.db, "staff_disable")[-1]
    assert row.actor == "staff:boss" and row.ip == "198.51.100.23" and row.detail.startswith("li")
    page = await (await admin.client.get("/console/admin/staff")).text()
    assert "已停用" in page and "/console/admin/staff/li/enable" in page

    assert (await admin.post("/console/admin/staff/li/enable")).status == 303
    assert (await staff.login("li")).status == 302
    assert [a.actor for a in audit(desk.db, "staff_enable")] == ["staff:boss"]


async def test_the_admin_page_is_for_admins_only_and_needs_the_csrf_token(desk):
    add_staff(desk.db, "boss", "管理员", "centre", "admin")
    add_staff(desk.db, "lead", "负责人", "centre", "lead")
    b = await desk.browser()
    assert (await b.login("lead")).status == 302
    assert "/console/admin/staff" not in await (await b.client.get("/console/tickets")).text()
    assert (await b.client.get("/console/admin/staff")).status == 403
    assert (await b.post("/console/admin/staff/boss/disable")).status == 403
    assert cli.list_staff(desk.db)[0].active
    assert [a.actor for a in audit(desk.db, "denied")] == ["staff:lead", "staff:lead"]

    assert (await b.login("boss")).status == 302
    assert "/console/admin/staff" in await (await b.client.get("/console/tickets")).text()
    r = await b.post("/console/admin/staff/lead/disable", token=False)
    assert r.status == 403 and all(s.active for s in cli.list_staff(desk.db))
    r = await b.post("/console/admin/staff/boss/disable")
    assert r.status == 400 and "不能停用自己的账号" in await r.text()
    r = await b.post("/console/admin/staff/nobody/disable")
    assert r.status == 404 and "没有用户名为“nobody”的工作人员" in await r.text()
    assert (await b.post("/console/admin/staff/lead/explode")).status == 404


async def test_admin_lifts_a_sign_in_pause(desk):
    add_staff(desk.db, "boss", "管理员", "centre", "admin")
    add_staff(desk.db, "li", "李明", "fengxi")
    b = await desk.browser()
    now = datetime.now(timezone.utc)
    for i in range(throttle.PAIR_MAX):  # five attempts from one address, each after its delay
        assert throttle.count_attempt(desk.db, "li", "198.51.100.5", now + timedelta(seconds=10 * i)).allowed
    assert [a for a, _ in cli.paused(desk.db, "li", now + timedelta(minutes=1))] == ["198.51.100.5"]
    assert (await b.login("boss")).status == 302
    page = await (await b.client.get("/console/admin/staff")).text()
    assert "198.51.100.5 暂停登录至" in page and "/console/admin/staff/li/unlock" in page
    assert (await b.post("/console/admin/staff/li/unlock")).status == 303
    assert cli.paused(desk.db, "li", now + timedelta(minutes=1)) == []
    assert [a.actor for a in audit(desk.db, "staff_unlock")] == ["staff:boss"]


def test_cli_disable_and_enable(db_url, capsys):
    info = add_staff(db_url, "li", "李明", "fengxi")
    with sessions(db_url).begin() as s:
        s.add(
            StaffSession(
                id="y" * 64, staff_id=info.id, csrf_token="c", expires_at=datetime.now(timezone.utc).replace(year=2100)
            )
        )
    assert cli.main(["--db", db_url, "disable", "--username", "LI"]) == 0
    assert "已停用账号 li，该账号已登录的会话均已退出" in capsys.readouterr().out
    assert sessions_of(db_url, info.id) == [] and not cli.list_staff(db_url)[0].active
    assert cli.main(["--db", db_url, "list"]) == 0 and "停用" in capsys.readouterr().out
    assert cli.main(["--db", db_url, "enable", "--username", "li"]) == 0
    assert "已重新启用账号 li" in capsys.readouterr().out and cli.list_staff(db_url)[0].active
    assert cli.main(["--db", db_url, "disable", "--username", "nobody"]) == 1
    assert "没有用户名为“nobody”的工作人员" in capsys.readouterr().err
    actions = [a.action for a in audit(db_url) if a.action.startswith("staff_")]
    assert actions == ["staff_create", "staff_disable", "staff_enable"]


# ---- the client's address -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "trusted, headers, expected",
    [
        ("127.0.0.0/8 ::1", {"X-Forwarded-For": "198.51.100.8"}, "198.51.100.8"),
        # a client's own made-up first hop is not believed: the nearest untrusted hop is the client
        ("127.0.0.0/8 ::1", {"X-Forwarded-For": "10.9.9.9, 198.51.100.8"}, "198.51.100.8"),
        ("127.0.0.0/8 ::1", {"X-Real-IP": "198.51.100.9"}, "198.51.100.9"),
        ("127.0.0.0/8 ::1", {"X-Forwarded-For": "not-an-address"}, "127.0.0.1"),
        ("127.0.0.0/8 ::1", {}, "127.0.0.1"),
        ("none", {"X-Forwarded-For": "198.51.100.8", "X-Real-IP": "198.51.100.9"}, "127.0.0.1"),
        ("192.0.2.1", {"X-Forwarded-For": "198.51.100.8"}, "127.0.0.1"),  # the peer is no trusted proxy
    ],
)
async def test_audit_rows_keep_the_real_client_address(sqlite_url, tmp_path, trusted, headers, expected):
    d = TestDesk(sqlite_url, tmp_path, trusted_proxies=trusted)
    add_staff(sqlite_url, "li", "李明", "fengxi")
    try:
        b = await d.browser()
        assert (await b.login("li", "wrong-password-1", headers=headers)).status == 401
        assert (await b.login("li", headers=headers)).status == 302
        assert [a.ip for a in audit(sqlite_url) if a.action in ("login_failed", "login")] == [expected, expected]
        with read_sessions(sqlite_url)() as s:
            assert s.scalars(select(StaffSession)).one().ip == expected
        r = await b.post("/console/logout", headers=headers)
        assert r.status == 302 and audit(sqlite_url, "logout")[-1].ip == expected
    finally:
        await d.close()


# ---- numeric parameters ---------------------------------------------------------------------------


async def test_numeric_parameters_are_bounded(desk):
    add_staff(desk.db, "boss", "管理员", "centre", "admin")
    with sessions(desk.db).begin() as s:
        s.add(Conversation(id="c-1", channel="web", mode="bot"))
        s.flush()
        s.add(Message(conversation_id="c-1", direction="in", author="user", text="你好"))
    b = await desk.browser()
    assert (await b.login("boss")).status == 302
    for value in ("99999999999999999999", "-1", "0", "abc", "1e9", "9" * 5000):
        r = await b.client.get(f"/console/tickets?page={value}")
        assert r.status == 400 and "参数 page（页码）" in await r.text(), value
        r = await b.client.get(f"/console/api/conversations/c-1?after={value if value != '0' else '-5'}")
        assert r.status == 400 and "参数 after" in (await r.json())["message"], value
    assert (await b.client.get("/console/tickets?page=100000")).status == 200
    assert (await b.client.get("/console/tickets?page=2")).status == 200
    r = await b.client.get("/console/api/conversations/c-1?after=0")
    assert r.status == 200 and [m["text"] for m in (await r.json())["messages"]] == ["你好"]
    # ids posted in forms: out of range or not numbers are refused, never a server error
    for value in ("99999999999999999999", "x"):
        r = await b.post(
            "/console/conversations/c-1/claim", {"handover_id": value}, headers={"Accept": "application/json"}
        )
        assert r.status == 409 and "没有等待接单的人工服务" in (await r.json())["message"]


async def test_a_disabled_accounts_event_stream_ends_even_while_events_flow(desk, monkeypatch):
    import asyncio
    import json

    from bot.desk.console import live
    from bot.desk.hub import HUB_KEY

    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.3)
    add_staff(desk.db, "li", "李明", "centre")
    b = await desk.browser()
    assert (await b.login("li")).status == 302
    resp = await b.client.get("/console/events")
    assert resp.status == 200
    hub = desk.app[HUB_KEY]

    async def publish():
        n = 0
        while True:  # busier than the heartbeat: the stream never falls quiet
            n += 1
            hub.publish(
                "console",
                {
                    "type": "handover",
                    "action": "created",
                    "conversation_id": f"web-{n}",
                    "handover": {"id": n, "node": "centre", "reason": "request_human"},
                },
            )
            await asyncio.sleep(0.05)

    async def events_until_logout() -> list[str]:
        seen, name = [], None
        while True:
            line = (await resp.content.readline()).decode().strip()
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and name:
                json.loads(line.split(":", 1)[1])
                seen.append(name)
                if name == "logout":
                    return seen
                if seen.count("handover") == 3:
                    cli.set_active(desk.db, "li", False)  # disabled while the stream is busy

    publisher = asyncio.ensure_future(publish())
    try:
        seen = await asyncio.wait_for(events_until_logout(), 30)
    finally:
        publisher.cancel()
        resp.close()
    assert seen[0] == "ready" and seen[-1] == "logout" and seen.count("handover") >= 3
