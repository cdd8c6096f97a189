"""The enterprise chat page in a real browser (Debian's Chromium) against the running stack."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest
import requests

from tests.browser.helpers import cid_of, inbound, open_chat, say

pytestmark = pytest.mark.e2e


def bot_reply_containing(page, text: str):
    loc = page.locator(".row.in .bubble", has_text=text)
    loc.first.wait_for(timeout=20000)
    return loc


def test_conversation_buttons_and_history_after_reload(page, stack):
    open_chat(page, stack)
    page.locator(".row.in").first.wait_for()  # the welcome, before anything is typed
    say(page, "你好")
    page.wait_for_function("() => document.querySelectorAll('#rows .row.in').length >= 2", timeout=20000)
    bot_reply_containing(page, "原上管家")
    assert page.locator(".row.out .bubble", has_text="你好").count() == 1
    assert (
        page.locator(".row.out").first.evaluate("e => getComputedStyle(e.querySelector('.bubble')).backgroundColor")
        == "rgb(149, 236, 105)"
    )  # the green outgoing bubble
    assert page.locator(".time").count() >= 1  # a timestamp line
    buttons = page.locator(".row.in .quick button")
    assert buttons.count() >= 2
    page.locator(".row.in .quick button", has_text="我能办哪些事").first.click()
    bot_reply_containing(page, "五大类")
    assert page.locator(".row.out .bubble", has_text="我能办哪些事").count() == 1  # the label, not "/ask_capabilities"
    page.wait_for_function("() => document.querySelectorAll('#rows .row.pending').length === 0")
    before = page.evaluate("Array.from(document.querySelectorAll('#rows .row')).map(r => r.dataset.id)")
    assert len(before) == len(set(before)) >= 4

    page.reload()
    page.wait_for_function("() => window.__yschat && window.__yschat.state.connected === true")
    page.wait_for_function(f"() => document.querySelectorAll('#rows .row').length >= {len(before)}")
    page.wait_for_timeout(500)
    after = page.evaluate("Array.from(document.querySelectorAll('#rows .row')).map(r => r.dataset.id)")
    assert after == before  # same history, each message once


def test_message_typed_offline_is_sent_exactly_once(page, stack):
    open_chat(page, stack)
    cid = cid_of(page)
    page.context.set_offline(True)
    page.locator("#banner").wait_for(state="visible")
    assert "网络已断开" in page.locator("#banner").inner_text()
    say(page, "离线时写的一条消息")
    page.locator(".row.out.pending", has_text="离线时写的一条消息").wait_for()
    page.wait_for_timeout(1000)
    assert inbound(stack, cid) == []
    assert page.evaluate(f"JSON.parse(localStorage.getItem('yschat.v1.outbox.{cid}')).length") == 1

    page.context.set_offline(False)
    page.wait_for_function("() => document.querySelectorAll('#rows .row.out.pending').length === 0", timeout=30000)
    page.wait_for_function(
        "() => document.querySelectorAll('#rows .row.in').length >= 2", timeout=20000
    )  # the bot answered it (after the welcome)
    page.wait_for_timeout(1500)
    rows = inbound(stack, cid)
    assert [m.text for m in rows] == ["离线时写的一条消息"]  # exactly once on the server
    assert page.locator(".row.out .bubble", has_text="离线时写的一条消息").count() == 1
    assert page.evaluate(f"JSON.parse(localStorage.getItem('yschat.v1.outbox.{cid}')).length") == 0


def test_enter_while_composing_chinese_does_not_send(page, stack):
    open_chat(page, stack)
    cid = cid_of(page)
    page.fill("#input", "高企认定")
    page.evaluate("""() => {
        const input = document.getElementById('input');
        input.dispatchEvent(new CompositionEvent('compositionstart', {bubbles: true, data: ''}));
        input.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', code: 'Enter', bubbles: true, cancelable: true}));
        input.dispatchEvent(new CompositionEvent('compositionend', {bubbles: true, data: '高企认定'}));
    }""")
    page.wait_for_timeout(800)
    assert page.locator("#rows .row.out").count() == 0
    assert page.input_value("#input") == "高企认定"
    assert inbound(stack, cid) == []
    page.press("#input", "Enter")  # a real Enter after composing sends
    page.locator(".row.out .bubble", has_text="高企认定").wait_for()
    assert page.input_value("#input") == ""


def test_over_long_input_shows_a_notice_and_is_not_sent(page, stack):
    open_chat(page, stack)
    cid = cid_of(page)
    page.fill("#input", "专" * 2001)
    assert page.locator("#counter").inner_text() == "2001/2000"
    assert "over" in page.locator("#counter").get_attribute("class")
    assert "消息过长（最多2000字）" in page.locator("#notice").inner_text()
    assert page.locator("#send").is_disabled()
    page.press("#input", "Enter")
    page.wait_for_timeout(800)
    assert page.locator("#rows .row.out").count() == 0 and inbound(stack, cid) == []
    page.press("#input", "Backspace")
    assert page.locator("#counter").inner_text() == "2000/2000" and not page.locator("#send").is_disabled()


def test_markup_is_shown_as_text_and_never_runs(page, stack):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_chat(page, stack)
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    say(page, evil)
    bubble = page.locator(".row.out .bubble").first
    bubble.wait_for()
    page.wait_for_function("() => document.querySelectorAll('#rows .row.pending').length === 0")
    page.locator(".row.in").first.wait_for(timeout=20000)
    page.reload()  # and again from history
    page.wait_for_function("() => document.querySelectorAll('#rows .row.out').length === 1")
    page.wait_for_timeout(500)
    assert page.locator(".row.out .bubble").first.text_content() == evil
    assert page.locator("#rows script, #rows img").count() == 0
    assert dialogs == []


def test_other_conversations_history_is_forbidden(page, stack):
    other = requests.post(stack.settings.desk_url + "/api/chat/session", timeout=10).json()
    open_chat(page, stack)
    status = page.evaluate(
        """async (other) => {
        const st = window.__yschat.state;
        const r = await fetch('/api/chat/history?conversation_id=' + encodeURIComponent(other),
                              {headers: {'X-Chat-Key': st.key}});
        return r.status;
    }""",
        other["conversation_id"],
    )
    assert status == 403
    own = page.evaluate("""async () => {
        const st = window.__yschat.state;
        const r = await fetch('/api/chat/history?conversation_id=' + encodeURIComponent(st.cid),
                              {headers: {'X-Chat-Key': st.key}});
        return r.status;
    }""")
    assert own == 200


def test_embed_snippet_adds_a_chat_button_with_an_iframe(page, stack, tmp_path):
    """A host site on another origin (served from loopback too: Chromium's local-network rules)."""
    desk = stack.settings.desk_url
    (tmp_path / "index.html").write_text(
        f'<!doctype html><html><head><meta charset="utf-8"></head><body><h1>园区官网</h1>'
        f'<script src="{desk}/embed.js"></script></body></html>',
        encoding="utf-8",
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
        page.locator("button", has_text="在线咨询").click()
        frame = page.locator("iframe")
        frame.wait_for()
        assert frame.get_attribute("src") == f"{desk}/?embed=1"
        page.locator("button", has_text="收起").click()
        assert not frame.is_visible()
    finally:
        server.shutdown()
