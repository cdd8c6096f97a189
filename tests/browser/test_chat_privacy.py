"""Chat keys expire after inactivity and 结束会话 forgets the key — in a real browser against the running stack."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from sqlalchemy import update

from bot.db import sessions
from bot.db.schema import Conversation, utcnow

pytestmark = pytest.mark.e2e


def open_chat(page, stack):
    page.goto(stack.settings.desk_url + "/")
    page.wait_for_function("() => window.__yschat && window.__yschat.state.connected === true")


def state(page) -> dict:
    return page.evaluate("({cid: window.__yschat.state.cid, key: window.__yschat.state.key})")


def history_status(stack, cid: str, key: str) -> int:
    return requests.get(
        f"{stack.settings.desk_url}/api/chat/history",
        params={"conversation_id": cid},
        headers={"X-Chat-Key": key},
        timeout=30,
    ).status_code


def test_an_idle_key_expires_and_the_page_starts_a_new_session_with_a_notice(page, stack):
    open_chat(page, stack)
    page.wait_for_load_state("networkidle")  # the history fetch after connecting has come back
    old = state(page)
    then = utcnow() - timedelta(days=stack.settings.chat_key_idle_days + 1)
    with sessions(stack.settings.effective_database_url).begin() as s:
        s.execute(update(Conversation).where(Conversation.id == old["cid"]).values(created_at=then, last_user_at=then))
    page.reload()
    page.wait_for_function(
        "(old) => window.__yschat && window.__yschat.state.connected === true && window.__yschat.state.cid !== old",
        arg=old["cid"],
    )
    notice = page.locator("#notice")
    assert "天未使用" in notice.inner_text() and "新的会话" in notice.inner_text()
    assert history_status(stack, old["cid"], old["key"]) == 403
    new = state(page)
    assert history_status(stack, new["cid"], new["key"]) == 200
    stored = page.evaluate("JSON.parse(localStorage.getItem('yschat.v1.session')).conversation_id")
    assert stored == new["cid"]


def test_end_session_forgets_the_key_on_this_device_and_on_the_server(page, stack):
    open_chat(page, stack)
    old = state(page)
    assert page.locator("#end").inner_text() == "结束会话"
    page.on("dialog", lambda d: d.accept())
    page.click("#end")
    page.wait_for_function(
        "(old) => window.__yschat.state.cid && window.__yschat.state.cid !== old "
        "&& window.__yschat.state.connected === true",
        arg=old["cid"],
    )
    assert "会话已结束" in page.locator("#notice").inner_text()
    assert history_status(stack, old["cid"], old["key"]) == 403
    stored = page.evaluate("localStorage.getItem('yschat.v1.session')")
    assert old["key"] not in stored


def test_the_privacy_link_opens_the_privacy_page(page, stack):
    open_chat(page, stack)
    href = page.locator("a.bar-privacy").get_attribute("href")
    assert href == "/privacy"
    page.goto(stack.settings.desk_url + href)
    assert "原上管家隐私说明" in page.inner_text("h1")


def test_the_ticket_form_tells_the_privacy_notice_once_with_a_link(page, stack):
    """个人信息保护法: typed as a user would, the form says what is collected and why before asking for the
    company, once; in the web chat the page path in the notice is a link."""
    open_chat(page, stack)
    page.locator(".row.in").first.wait_for()
    for text in ("帮我登记一个需求", "想申请知识产权质押贷款，额度500万左右"):
        page.fill("#input", text)
        page.press("#input", "Enter")
        page.wait_for_function("() => document.querySelectorAll('#rows .row.pending').length === 0")
    page.locator(".row.in .bubble", has_text="企业全称").first.wait_for(timeout=20000)
    notice = page.locator(".row.in .bubble", has_text="隐私说明")
    assert notice.count() == 1
    assert "保存 3 年" in notice.inner_text() and "手机号" in notice.inner_text()
    link = notice.locator("a")
    assert link.get_attribute("href") == "/privacy" and link.get_attribute("rel") == "noopener"
    page.fill("#input", "西安云图生物科技有限公司")
    page.press("#input", "Enter")
    page.locator(".row.in .bubble", has_text="怎么称呼").first.wait_for(timeout=20000)
    assert page.locator(".row.in .bubble", has_text="隐私说明").count() == 1  # not repeated
