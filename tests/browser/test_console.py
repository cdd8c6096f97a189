"""The staff console in a real browser against the real stack (desk + Rasa + action server).

An enterprise asks for a person in the web chat; the handover appears in the signed-in
staff member's queue live (no reload, with a notice); staff claim it, reply (the reply is
on the enterprise's screen within a second), see the enterprise's next message live, add
an internal note the enterprise never sees, and end the handover: Rasa is resumed and the
bot asks the enterprise for a rating.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import select

from bot.db import read_sessions
from bot.db.schema import ConsoleAudit, Handover, Message
from bot.staff.accounts import create_staff

pytestmark = pytest.mark.e2e

PASSWORD = "Console-e2e-2026"
REPLY = "您好，我是服务专员李明，请问您想咨询人才公寓还是住房补贴？"
XSS = '<img src=x onerror="window.__pwned=1">我们想了解人才公寓'
NOTE = "企业此前咨询过住房补贴，已告知需社保缴纳满6个月"


def tracker(settings, cid: str) -> dict:
    r = requests.get(
        f"{settings.rasa_url}/conversations/{cid}/tracker", params={"token": settings.rasa_token}, timeout=10
    )
    r.raise_for_status()
    return r.json()


def messages(db: str, cid: str) -> list[Message]:
    with read_sessions(db)() as s:
        return list(s.scalars(select(Message).where(Message.conversation_id == cid).order_by(Message.id)))


@pytest.fixture
def contexts(browser):
    made = []

    def make(**kw):
        ctx = browser.new_context(locale="zh-CN", **kw)
        made.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in made:
        ctx.close()


def test_live_handover_claim_reply_end(stack, contexts):
    desk, db = stack.settings.desk_url, stack.settings.effective_database_url
    username = f"li{uuid.uuid4().hex[:6]}"
    create_staff(db, username, "李明", "centre", "staff", PASSWORD)

    # ---- staff sign in; the console is closed without a session
    staff = contexts(viewport={"width": 1366, "height": 900})
    staff.goto(f"{desk}/console/")
    expect(staff).to_have_url(re.compile(r"/console/login\?next="))
    staff.fill('input[name="username"]', username)
    staff.fill('input[name="password"]', PASSWORD)
    staff.click('button[type="submit"]')
    staff.wait_for_selector("html[data-live=ready]", state="attached")  # the live stream is up
    expect(staff).to_have_url(f"{desk}/console/")
    expect(staff.locator("h1")).to_contain_text("待处理的转人工")
    staff.evaluate("window.__noReload = true")

    # ---- an enterprise asks for a person in the web chat
    user = contexts(viewport={"width": 390, "height": 844})
    user.goto(f"{desk}/")
    expect(user.locator("#send")).to_be_visible()
    user.fill("#input", "转人工")
    user.click("#send")
    expect(user.locator("#rows")).to_contain_text("服务专员", timeout=30_000)
    cid = json.loads(user.evaluate("localStorage.getItem('yschat.v1.session')"))["conversation_id"]

    # ---- the handover appears in the queue live, with a notice
    row = staff.locator(f'#queue-body a[href="/console/conversations/{cid}"]')
    expect(row).to_be_visible(timeout=10_000)
    expect(staff.locator("#toasts .toast").first).to_contain_text("新的转人工")
    assert staff.evaluate("window.__noReload") is True
    wait_cell = staff.locator(f'#queue-body tr:has(a[href="/console/conversations/{cid}"]) td.wait')
    expect(wait_cell).to_have_text(re.compile(r"\d+秒|\d+分"))

    # ---- claim
    row.click()
    expect(staff).to_have_url(f"{desk}/console/conversations/{cid}")
    expect(staff.locator("#messages")).to_contain_text("转人工")
    with staff.expect_response(lambda r: "/console/api/conversations/" in r.url):
        staff.click("#claim")
    expect(staff.locator(".flash.ok")).to_contain_text("已接单")
    expect(user.locator("#rows")).to_contain_text("李明已接入", timeout=5_000)

    # ---- reply: on the enterprise's screen within a second
    user.evaluate(
        """(text) => {
        window.__seenAt = null;
        const rows = document.getElementById('rows');
        new MutationObserver(() => {
            if (window.__seenAt === null && rows.textContent.includes(text)) window.__seenAt = Date.now();
        }).observe(rows, {childList: true, subtree: true, characterData: true});
    }""",
        REPLY,
    )
    staff.fill("#reply-text", REPLY)
    sent_at = staff.evaluate("Date.now()")
    staff.click("#send")
    expect(user.locator("#rows")).to_contain_text(REPLY, timeout=5_000)
    latency_ms = user.evaluate("window.__seenAt") - sent_at
    print(f"staff reply → enterprise screen: {latency_ms} ms")
    assert latency_ms < 1000, f"reply took {latency_ms} ms to reach the enterprise"
    expect(staff.locator("#messages .msg.staff")).to_contain_text(REPLY)
    expect(staff.locator("#reply-text")).to_have_value("")
    stored = [m for m in messages(db, cid) if m.author == f"staff:{username}"]
    assert [(m.text, m.internal, m.direction) for m in stored] == [(REPLY, False, "out")]

    # ---- the enterprise answers: it shows up in the pane live, as text (no markup runs)
    user.fill("#input", XSS)
    user.click("#send")
    expect(staff.locator("#messages .msg.user").last).to_contain_text(XSS, timeout=10_000)
    assert staff.evaluate("window.__pwned") is None

    # ---- an internal note: a mode of its own (the 内部备注 tab); staff see it, the enterprise never does
    expect(staff.locator("#note")).to_be_hidden()  # in 回复企业 mode only the reply button
    staff.click("label.mode.note")
    expect(staff.locator("#send")).to_be_hidden()
    staff.fill("#reply-text", NOTE)
    staff.click("#note")
    expect(staff.locator("#messages .msg.note")).to_contain_text(NOTE)
    assert any(m.internal and m.text == NOTE for m in messages(db, cid))

    # ---- end: the bot is back (Rasa no longer paused) and asks for a rating
    assert tracker(stack.settings, cid)["paused"] is True
    staff.once("dialog", lambda d: d.accept())
    staff.click("#end")
    expect(staff.locator(".flash.ok")).to_contain_text("人工服务已结束")
    expect(user.locator("#rows")).to_contain_text("请为刚才服务专员的服务打个分", timeout=15_000)
    expect(user.locator("#rows")).to_contain_text("非常满意")
    assert NOTE not in user.locator("#rows").inner_text()
    t = tracker(stack.settings, cid)
    assert t["paused"] is False
    assert any(
        e.get("event") == "user"
        and (e.get("parse_data") or {}).get("intent", {}).get("name") == "EXTERNAL_handover_ended"
        for e in t["events"]
    )
    with read_sessions(db)() as s:
        h = s.scalars(select(Handover).where(Handover.conversation_id == cid)).one()
        actions = [
            a.action
            for a in s.scalars(
                select(ConsoleAudit).where(ConsoleAudit.actor == f"staff:{username}").order_by(ConsoleAudit.id)
            )
        ]
    assert h.ended_at is not None and h.claimed_by is not None
    assert actions == ["login", "claim", "reply", "note", "end"]

    # the queue no longer lists it
    staff.goto(f"{desk}/console/")
    expect(staff.locator(f'#queue-body a[href="/console/conversations/{cid}"]')).to_have_count(0)


def test_other_nodes_conversation_is_forbidden_in_the_browser(stack, contexts):
    """A workstation's staff member opening a conversation handed to another new city gets 403."""
    from bot import handover as ho

    desk, db = stack.settings.desk_url, stack.settings.effective_database_url
    username = f"ws{uuid.uuid4().hex[:6]}"
    create_staff(db, username, "赵磊", "fengxi-ws-xinxi", "staff", PASSWORD)
    cid = f"web-{uuid.uuid4().hex[:10]}"
    ho.start_handover(db, cid, "request_human", node_id="fengdong", channel="web")
    page = contexts()
    page.goto(f"{desk}/console/login")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    expect(page).to_have_url(f"{desk}/console/")
    expect(page.locator(f'a[href="/console/conversations/{cid}"]')).to_have_count(0)
    resp = page.goto(f"{desk}/console/conversations/{cid}")
    assert resp.status == 403
    expect(page.locator("h1")).to_contain_text("无权访问")
