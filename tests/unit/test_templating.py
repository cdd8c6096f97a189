"""The HTML templates (bot/templating.py, bot/desk/templates/, bot/reports/templates/): autoescape is on for
every template, values are escaped as html.escape does, a misspelt name fails the render, and no template
carries inline script or style (the desk's Content-Security-Policy forbids both)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from jinja2 import UndefinedError
from markupsafe import Markup

from bot.desk import pages
from bot.desk.console import templates as t

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [ROOT / "bot" / "desk" / "templates", ROOT / "bot" / "reports" / "templates"]
HOSTILE = '<script>alert("x")</script>\'&'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#x27;&amp;"


def staff(**kw):
    base = dict(csrf_token="tok", display_name="李明", node_id="fengxi", role="staff", id=1, is_lead=False)
    return SimpleNamespace(**{**base, **kw})


def test_values_are_escaped_as_html_escape_does_and_none_prints_nothing():
    tpl = pages.ENV.from_string('<p title="{{ v }}">{{ v }}|{{ n }}|{{ safe }}</p>')
    out = tpl.render(v=HOSTILE, n=None, safe=Markup("<b>ok</b>"))
    assert out == f'<p title="{ESCAPED}">{ESCAPED}||<b>ok</b></p>'


def test_a_misspelt_name_fails_the_render():
    with pytest.raises(UndefinedError):
        pages.ENV.from_string("{{ no_such_name }}").render()


def without_console_script(page: str) -> str:
    return page.replace('<script src="/console/static/console.js" defer></script>', "")


def test_a_hostile_enterprise_name_is_escaped_on_console_pages():
    from datetime import datetime, timezone

    now = datetime(2026, 12, 3, 2, 0, tzinfo=timezone.utc)
    item = SimpleNamespace(
        id=1,
        created_at=now,
        conversation_id="web-1",
        enterprise_name=HOSTILE,
        reason="fallback",
        category=None,
        node_id="fengxi",
        last_user_text=HOSTILE,
        claimed_by=None,
        claimed_by_name=None,
    )
    page = t.queue_page(
        staff(display_name=HOSTILE),
        [item],
        [],
        [{"id": "web-1", "enterprise": HOSTILE, "channel": "web", "mode": "bot", "updated_at": now}],
        now,
    )
    assert "<script>" not in without_console_script(page)
    assert page.count(ESCAPED) == 4  # the signed-in name, the enterprise twice, the last message
    ticket = SimpleNamespace(
        number="QCY-20261203-0001",
        status="in_progress",
        category=None,
        node_id="fengxi",
        description=HOSTILE,
        result=None,
        service_content="",
        assignee_id=None,
        created_at=now,
        first_response_due=now,
        first_response_at=None,
        resolution_due=now,
        resolved_at=None,
        reason=None,
        redeemed_amount=None,
        followup_required=False,
        source_channel="web",
        priority="normal",
    )
    enterprise = SimpleNamespace(name=HOSTILE, credit_code=None, new_city=None, park=HOSTILE)
    tv = SimpleNamespace(
        ticket=ticket,
        enterprise=enterprise,
        contact=None,
        assignee=None,
        ratings=[],
        handover_conversation=None,
        events=[],
        files=None,
    )
    page = t.ticket_page(staff(), tv, {}, [], [])
    assert "<script>" not in without_console_script(page) and page.count(ESCAPED) == 3


def test_hostile_text_in_the_layout_and_the_sign_in_page_is_escaped():
    page = t.error_page(HOSTILE, HOSTILE, staff(display_name=HOSTILE))
    assert "<script>alert" not in page and page.count(ESCAPED) == 4  # <title>, <h1>, the message, the name
    page = t.login_page('"><script>x</script>', "/console/", HOSTILE, HOSTILE)
    assert "<script>" not in page and page.count(ESCAPED) == 2


def test_the_desk_error_page_escapes_the_message():
    html = pages.render("error.html", message=HOSTILE)
    assert "<script>" not in html and html.count(ESCAPED) == 2


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"<style\b", re.I), "a <style> element"),
    (re.compile(r"\sstyle=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+=", re.I), "an event-handler attribute"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


# The monthly report is a file that is mailed and archived as well as shown: its stylesheet is inlined, and
# the console serves it with a policy of its own that allows inline styles but no script (views.monthly_html).
SELF_CONTAINED = {"monthly.html"}


def test_no_template_has_inline_script_or_style():
    files = [p for d in TEMPLATE_DIRS if d.is_dir() for p in sorted(d.rglob("*.html"))]
    assert len(files) > 5
    found = [
        f"{p.relative_to(ROOT)}: {what}"
        for p in files
        for rx, what in INLINE
        if rx.search(p.read_text(encoding="utf-8"))
        and not (p.name in SELF_CONTAINED and what in ("a <style> element", "a style attribute"))
    ]
    assert not found, found


def test_the_monthly_report_has_no_script_and_escapes_names():
    from bot.reports import render

    text = (ROOT / "bot" / "reports" / "templates" / "monthly.html").read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    chart = render.ENV.get_template("macros.html").module.bar_chart(render.bar_chart(HOSTILE, [(HOSTILE, 3, "red")]))
    assert "<script>" not in chart and chart.count(ESCAPED) == 3  # aria-label, the two <title>s


def test_every_template_compiles():
    for name in pages.ENV.list_templates(extensions=["html"]):
        pages.ENV.get_template(name)


def test_the_desk_error_page_is_html_for_a_browser_and_json_for_the_api():
    from aiohttp.test_utils import make_mocked_request

    from bot.desk import chat

    resp = chat.chinese_error(make_mocked_request("GET", "/nope", headers={"Accept": "text/html"}), 404)
    assert resp.status == 404 and resp.content_type == "text/html" and resp.charset == "utf-8"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.text == (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>页面不存在</title>'
        '</head><body><h1>页面不存在</h1><p><a href="/">返回首页</a></p></body></html>'
    )
    resp = chat.chinese_error(make_mocked_request("GET", "/api/chat/nope"), 404)
    assert resp.content_type == "application/json" and "页面不存在" in resp.text
