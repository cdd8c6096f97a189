"""Staff work safely, in a real browser (Debian's Chromium) at 1366 and 390 px (issue 13 items 8 and 5).

A web chat conversation with a ticket waits for 沣西's staff. In the console: the tab title counts it; the
composer starts in 内部备注 (not claimed yet); after claiming, 回复企业 and 内部备注 are two tabs that look
different, Ctrl+Enter sends in the mode shown, and the enterprise's own history API (what its chat shows) has the
reply but never the note. 办结 needs a result and a confirmation page that shows what the enterprise will get;
the result then reaches the enterprise's chat (the desk's notifier). The ticket is reclassified (audited, the
deadline recomputed), and the top-bar search finds it — never 沣东's ticket. No page scrolls sideways.
The desk runs as its own process without Rasa (bench/policy_check_api.desk_process).
"""

from __future__ import annotations

import re
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from policy_check_api import desk_process  # noqa: E402 - bench/ is not a package

pytestmark = pytest.mark.e2e

PASSWORD = "Modes-e2e-2026"
NO_OVERFLOW = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    from bot.db import migrate
    from bot.network import sync_network
    from bot.staff.accounts import create_staff

    var = tmp_path_factory.mktemp("console-modes")
    db = f"sqlite:///{var / 'modes.db'}"
    migrate(db)
    sync_network(db)
    create_staff(db, "wang", "王芳", "fengxi", "staff", PASSWORD)
    with desk_process(var, db) as base:
        yield base, db


def history(base: str, cid: str, key: str) -> list[dict]:
    r = requests.get(
        f"{base}/api/chat/history", params={"conversation_id": cid}, headers={"X-Chat-Key": key}, timeout=10
    )
    r.raise_for_status()
    return r.json()["messages"]


def chat_texts(base: str, cid: str, key: str) -> str:
    return "\n".join(m.get("text") or "" for m in history(base, cid, key))


def setup_case(base: str, db: str, tag: str):
    """A web chat session (the enterprise's key), its ticket at 沣西 and an open handover; a 沣东 ticket."""
    from bot import handover as ho
    from bot.tickets.service import EnterpriseInput, TicketService

    s = requests.post(f"{base}/api/chat/session", json={}, timeout=10).json()
    cid, key = s["conversation_id"], s["key"]
    svc = TicketService(db)
    ticket = svc.open_ticket(
        category="need_recruitment",
        description=f"招聘十名焊工 {tag}",
        enterprise=EnterpriseInput(name=f"西咸模式测试{tag}有限公司", new_city="沣西"),
        contact_name="王经理",
        mobile="13912345678",
        sender_id=cid,
        channel="web",
        conversation_id=cid,
    ).ticket
    other = svc.open_ticket(
        category="need_recruitment",
        description=f"招聘十名焊工 {tag} 沣东",
        enterprise=EnterpriseInput(name=f"沣东模式测试{tag}有限公司", new_city="沣东"),
        contact_name="李经理",
        mobile="13912345679",
        sender_id=f"fd-{tag}",
        channel="web",
        conversation_id=f"fd-{tag}",
    ).ticket
    ho.start_handover(db, cid, "request_human", node_id="fengxi", channel="web")
    return cid, key, ticket, other


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/console/login")
    page.fill('input[name="username"]', "wang")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    expect(page).to_have_url(re.compile(r"/console/$"))


def no_sideways(page) -> None:
    scroll, client = page.evaluate(NO_OVERFLOW)
    assert scroll <= client, (page.url, scroll, client)


@pytest.mark.parametrize("width", [1366, 390])
def test_modes_close_reclassify_and_search(desk, browser, width):
    base, db = desk
    tag = uuid.uuid4().hex[:6]
    cid, key, ticket, other = setup_case(base, db, tag)
    REPLY, NOTE = f"您好，焊工需要持证上岗吗？{tag}", f"企业资质待核实，勿外传 {tag}"
    ctx = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
    try:
        page = ctx.new_page()
        sign_in(page, base)
        # ---- the tab title counts the unclaimed handover
        expect(page).to_have_title(re.compile(r"^\(\d+\) 人工队列"))
        no_sideways(page)

        # ---- not claimed: the composer is in 内部备注, the reply button is not offered
        page.goto(f"{base}/console/conversations/{cid}")
        composer = page.locator("#composer")
        expect(composer).to_have_class(re.compile(r"note-mode"))
        expect(page.locator("#send")).to_be_hidden()
        expect(page.locator("#note")).to_be_visible()
        no_sideways(page)
        page.click("#claim")
        expect(page.locator(".flash.ok")).to_contain_text("已接单")

        # ---- 回复企业: white, its own button; Ctrl+Enter sends to the enterprise
        expect(composer).not_to_have_class(re.compile(r"note-mode"))
        expect(page.locator("#send")).to_be_visible()
        expect(page.locator("#note")).to_be_hidden()
        reply_bg = composer.evaluate("el => getComputedStyle(el).backgroundColor")
        page.fill("#reply-text", REPLY)
        page.press("#reply-text", "Control+Enter")
        expect(page.locator("#messages .msg.staff").last).to_contain_text(REPLY)
        expect(page.locator("#reply-text")).to_have_value("")

        # ---- 内部备注: yellow, its own button; Ctrl+Enter adds the note, the enterprise never gets it
        page.click("label.mode.note")
        expect(composer).to_have_class(re.compile(r"note-mode"))
        note_bg = composer.evaluate("el => getComputedStyle(el).backgroundColor")
        assert note_bg != reply_bg and note_bg == "rgb(255, 247, 224)", (reply_bg, note_bg)
        expect(page.locator("#send")).to_be_hidden()
        expect(page.locator("#note")).to_have_text("添加内部备注")
        page.fill("#reply-text", NOTE)
        page.press("#reply-text", "Control+Enter")
        expect(page.locator("#messages .msg.note").last).to_contain_text(NOTE)
        expect(composer).to_have_class(re.compile(r"note-mode"))  # stays in the mode chosen
        said = chat_texts(base, cid, key)
        assert REPLY in said and NOTE not in said

        # ---- 办结: a result, a confirmation page with what the enterprise receives, then its chat has it
        RESULT = f"已推荐三家持证焊工劳务机构 {tag}"
        page.locator("#close-box summary").click()
        page.fill('#close-form textarea[name="result"]', RESULT)
        page.click("#close-next")
        expect(page.locator("h1")).to_contain_text(f"确认办结 {ticket.number}")
        expect(page.locator("#close-preview")).to_contain_text(f"办理结果：{RESULT}")
        no_sideways(page)
        assert RESULT not in chat_texts(base, cid, key)  # nothing sent before 确认
        page.click("#close-confirm")
        expect(page).to_have_url(re.compile(rf"/console/conversations/{re.escape(cid)}\?done=closed"))
        expect(page.locator(".flash.ok")).to_contain_text("已办结")
        deadline = time.monotonic() + 20  # the notifier runs every 5 s
        while RESULT not in chat_texts(base, cid, key) and time.monotonic() < deadline:
            time.sleep(0.5)
        said = chat_texts(base, cid, key)
        assert f"您的工单 {ticket.number}（招聘用工）已办结。办理结果：{RESULT}" in said
        assert NOTE not in said

        # ---- reclassify a fresh ticket of the same conversation; the trail says it in words
        from bot.tickets.service import EnterpriseInput, TicketService

        again = (
            TicketService(db)
            .open_ticket(
                category="need_recruitment",
                description=f"另需组织一次安全培训 {tag}",
                enterprise=EnterpriseInput(name=f"西咸模式测试{tag}有限公司", new_city="沣西"),
                contact_name="王经理",
                mobile="13912345678",
                sender_id=cid,
                channel="web",
                conversation_id=cid,
            )
            .ticket
        )
        page.goto(f"{base}/console/tickets/{again.number}")
        page.select_option('#reclassify-form select[name="category"]', "need_training")
        page.fill('#reclassify-form input[name="reason"]', "实际是培训需求")
        page.click('#reclassify-form button[type="submit"]')
        expect(page.locator(".flash.ok")).to_contain_text("已重新分类")
        expect(page.locator("table.audit")).to_contain_text("重新分类")
        expect(page.locator("table.audit")).to_contain_text("人才服务 · 招聘用工 → 人才服务 · 培训交流")
        no_sideways(page)

        # ---- search from the top bar: this node's tickets, never 沣东's
        page.fill("#top-search", tag)
        page.press("#top-search", "Enter")
        expect(page).to_have_url(re.compile(r"/console/search\?q="))
        hits = page.locator("#hits-tickets")
        expect(hits).to_contain_text(ticket.number)
        expect(hits).to_contain_text(again.number)
        expect(page.locator("body")).not_to_contain_text(other.number)
        expect(page.locator("#hits-conversations")).to_contain_text(f"西咸模式测试{tag}有限公司")
        no_sideways(page)
        page.goto(f"{base}/console/search?q={other.number}")
        expect(page.locator("#no-hits")).to_be_visible()

        # ---- 我的: the conversation I serve, from the top bar
        page.click('header nav a[href="/console/mine"]')
        expect(page.locator("#my-conversations")).to_contain_text(f"西咸模式测试{tag}有限公司")
        no_sideways(page)
    finally:
        ctx.close()


FAKE_NOTIFICATIONS = """
window.__notes = [];
window.Notification = function (title, opts) { window.__notes.push([title, (opts || {}).body || ""]); this.close = function () {}; };
window.Notification.permission = "granted";
window.Notification.requestPermission = function () { return Promise.resolve("granted"); };
Object.defineProperty(document, "visibilityState", { get: function () { return "hidden"; } });
"""


def console_session(base: str, username: str) -> tuple[requests.Session, str]:
    """Another member of staff, signed in with plain HTTP; returns the session and its CSRF token."""
    s = requests.Session()
    page = s.get(f"{base}/console/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = s.post(
        f"{base}/console/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/console/"},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 302
    meta = s.get(f"{base}/console/tickets", timeout=10).text
    return s, re.search(r'<meta name="csrf-token" content="([^"]+)"', meta).group(1)


def test_desktop_notifications_are_opt_in_and_fire_in_the_background(desk, browser):
    from bot import handover as ho
    from bot.staff.accounts import create_staff

    base, db = desk
    tag = uuid.uuid4().hex[:6]
    create_staff(db, f"li{tag}", "李明", "fengxi", "staff", PASSWORD)
    # refused by the browser: the box does not stay ticked, staff are told why
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    try:
        page = ctx.new_page()
        sign_in(page, base)
        box = page.locator("#notify-toggle")
        expect(box).not_to_be_checked()
        page.evaluate("() => { Notification.requestPermission = () => Promise.resolve('denied'); }")
        page.click("label:has(#notify-toggle)")
        expect(box).not_to_be_checked()
        expect(page.locator("#toasts")).to_contain_text("未开启桌面通知")
    finally:
        ctx.close()

    # allowed, page in the background: a conversation transferred to me raises a desktop notification
    s = requests.post(f"{base}/api/chat/session", json={}, timeout=10).json()
    cid = s["conversation_id"]
    info = ho.start_handover(db, cid, "request_human", node_id="fengxi", channel="web")
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    try:
        ctx.add_init_script(FAKE_NOTIFICATIONS)
        page = ctx.new_page()
        sign_in(page, base)
        page.click("label:has(#notify-toggle)")
        expect(page.locator("#notify-toggle")).to_be_checked()
        page.reload()
        page.wait_for_selector("html[data-live=ready]", state="attached")  # this page's live stream is up
        expect(page.locator("#notify-toggle")).to_be_checked()
        other, token = console_session(base, f"li{tag}")
        assert other.post(
            f"{base}/console/conversations/{cid}/claim", data={"handover_id": info.id, "csrf_token": token}, timeout=10
        ).status_code in (200, 303)
        from sqlalchemy import select

        from bot.db import read_sessions
        from bot.db.schema import Staff

        with read_sessions(db)() as rs:
            wang_id = rs.scalar(select(Staff.id).where(Staff.username == "wang"))
        r = other.post(
            f"{base}/console/conversations/{cid}/transfer",
            data={"handover_id": info.id, "staff_id": wang_id, "csrf_token": token},
            allow_redirects=False,
            timeout=10,
        )
        assert r.status_code in (200, 303), r.text
        page.wait_for_function("() => window.__notes.some(n => n[0] === '会话已转交给您')", timeout=15_000)
    finally:
        ctx.close()
