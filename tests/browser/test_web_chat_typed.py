"""The web chat page in Chromium: the welcome on opening, typed answers to buttons, rating requests
as grey notices with their buttons, multi-line answers — on a phone (390 px) and a desktop (1440 px)."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from bot.db import read_sessions
from bot.db.schema import Message, Rating, Ticket
from bot.desk import gateway
from bot.tickets import lifecycle as lc
from bot.tickets.service import EnterpriseInput, TicketService
from tests.browser.helpers import cid_of, inbound, open_chat, say

pytestmark = pytest.mark.e2e

WIDTHS = {"phone": (390, 844), "desktop": (1440, 900)}


@pytest.fixture(params=sorted(WIDTHS))
def sized_page(request, page):
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[request.param])))
    return page


def rows_in(page) -> int:
    return page.locator("#rows .row.in").count()


def no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.evaluate(
        "(() => { const l = document.getElementById('log'); return l.scrollWidth <= l.clientWidth; })()"
    )


def test_the_welcome_and_its_questions_show_before_anything_is_typed(sized_page, stack):
    page = sized_page
    open_chat(page, stack)
    welcome = page.locator(".row.in").first
    welcome.wait_for()
    assert "原上管家" in welcome.locator(".bubble").inner_text()
    assert welcome.locator(".quick button").all_inner_texts() == list(gateway.WELCOME_QUESTIONS)
    assert inbound(stack, cid_of(page)) == []  # nothing sent: the page shows the stored welcome
    # the welcome's lines are lines: its bubble is several lines tall
    line = float(welcome.locator(".bubble").evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
    assert welcome.locator(".bubble").bounding_box()["height"] > 4 * line
    no_horizontal_scroll(page)


def test_typing_a_number_answers_the_buttons_like_a_click(sized_page, stack):
    page = sized_page
    open_chat(page, stack)
    page.locator(".row.in .quick button").first.wait_for()
    say(page, "2")
    page.wait_for_function("() => document.querySelectorAll('#rows .row.in').length >= 2", timeout=30000)
    cid = cid_of(page)
    [m] = inbound(stack, cid)
    assert m.text == "2"  # what the user typed is what was stored
    assert json.loads(m.payload)["choice"]["payload"] == gateway.WELCOME_QUESTIONS[1]
    assert page.locator(".row.out .bubble").last.inner_text() == "2"
    no_horizontal_scroll(page)


def test_a_rating_request_shows_its_buttons_and_typing_the_words_rates_that_ticket(sized_page, stack):
    page = sized_page
    open_chat(page, stack)
    cid = cid_of(page)
    db = stack.settings.effective_database_url
    svc = TicketService(db)
    ent = EnterpriseInput(name=f"西安浏览器评价{uuid.uuid4().hex[:6]}科技有限公司")
    number = svc.open_ticket(
        category="need_space",
        description="想在沣西找一个实验室场地",
        enterprise=ent,
        contact_name="王经理",
        mobile="13912345678",
        sender_id=cid,
        conversation_id=cid,
    ).ticket.number
    svc.transition(number, lc.RESOLVED, "staff:e2e")

    notice = page.locator(".row.system", has_text=number)
    notice.wait_for(timeout=30000)  # delivered by the desk's notifier
    assert notice.locator(".quick button").all_inner_texts() == ["非常满意", "满意", "一般", "不满意", "非常不满意"]
    assert notice.locator(".sys").evaluate("e => getComputedStyle(e).backgroundColor") != "rgb(255, 255, 255)"
    no_horizontal_scroll(page)
    box, view = notice.bounding_box(), page.viewport_size
    assert box["x"] >= 0 and box["x"] + box["width"] <= view["width"]

    say(page, "非常满意")
    page.locator(".row.in .bubble", has_text=f"感谢您对工单 {number} 的评价").wait_for(timeout=30000)
    with read_sessions(db)() as s:
        score = s.scalar(
            select(Rating.score).join(Ticket, Rating.ticket_id == Ticket.id).where(Ticket.number == number)
        )
        typed = s.scalars(
            select(Message).where(Message.conversation_id == cid, Message.direction == "in").order_by(Message.id.desc())
        ).first()
    assert score == 5
    assert typed.text == "非常满意" and json.loads(typed.payload)["choice"]["payload"] == f"非常满意 {number}"


def test_clicking_a_button_on_a_grey_notice_sends_it(page, stack):
    """The waiting acknowledgement's 「取消转人工」 is a button on a system notice: clicking it takes the
    request back and the bot answers again."""
    open_chat(page, stack)
    page.locator(".row.in .quick button").first.wait_for()
    say(page, "转人工")
    page.wait_for_function("() => window.__yschat.state.mode === 'waiting'", timeout=30000)
    say(page, "请问多久能有人回复")
    ack = page.locator(".row.system", has_text="已收到您的消息")
    ack.wait_for(timeout=20000)
    ack.locator(".quick button", has_text="取消转人工").click()
    page.locator(".row.system", has_text="已取消转人工").wait_for(timeout=20000)
    page.wait_for_function("() => window.__yschat.state.mode === 'bot'", timeout=10000)
    n = rows_in(page)
    say(page, "你好")
    page.wait_for_function(f"() => document.querySelectorAll('#rows .row.in').length > {n}", timeout=30000)
    assert page.locator(".row.out .bubble", has_text="取消转人工").count() == 1  # the label, not the payload
