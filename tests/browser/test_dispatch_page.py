"""日调度 in the console, in a real browser: a new ticket of the staff member's node is listed once,
under the heading the shared rules (bot/reports/dispatch.py) give it at this moment; on a 390 px
phone the list scrolls sideways instead of squeezing its columns to one character per line.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from bot.db.schema import utcnow
from bot.reports import dispatch as dp
from bot.staff.accounts import create_staff
from bot.tickets.service import EnterpriseInput, TicketService

pytestmark = pytest.mark.e2e

PASSWORD = "Dispatch-e2e-2026"


def heading_of(db: str, number: str) -> str:
    d = dp.dispatch(db, utcnow(), node_ids={"fengxi"})
    return next(kind for kind, _, items in d["fengxi"].sections() if number in [t.number for t in items])


@pytest.mark.parametrize("width", [1366, 390])
def test_dispatch_page_lists_a_new_ticket_once(stack, browser, width):
    desk, db = stack.settings.desk_url, stack.settings.effective_database_url
    tag = uuid.uuid4().hex[:6]
    username = f"dp{tag}"
    create_staff(db, username, "调度员", "fengxi", "staff", PASSWORD)
    ticket = (
        TicketService(db)
        .open_ticket(
            category="need_recruitment",
            description=f"招聘二十名操作工 {tag}",
            enterprise=EnterpriseInput(name=f"西咸调度测试{tag}有限公司", new_city="沣西"),
            contact_name="王经理",
            mobile="13912345678",
            sender_id=f"dispatch-{tag}",
            channel="web",
        )
        .ticket
    )
    before = heading_of(db, ticket.number)

    ctx = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
    try:
        page = ctx.new_page()
        page.goto(f"{desk}/console/login")
        page.fill('input[name="username"]', username)
        page.fill('input[name="password"]', PASSWORD)
        page.click('button[type="submit"]')
        expect(page).to_have_url(re.compile(r"/console/$"))
        page.goto(f"{desk}/console/reports")
        expect(page.locator("h1").first).to_contain_text("今日调度清单")
        rows = page.locator(f'.dispatch-node tr[data-number="{ticket.number}"]')
        expect(rows).to_have_count(1)
        after = heading_of(db, ticket.number)
        kind = rows.first.locator("xpath=ancestor::table[1]").get_attribute("data-kind")
        assert kind in {before, after}, (kind, before, after)  # (before/after: a 17:30 or midnight edge)
        expect(rows.first).to_contain_text(f"西咸调度测试{tag}有限公司")
        node = page.locator('.dispatch-node[data-node="fengxi"]')
        expect(node.locator("h3")).to_contain_text("沣西新城服务中心")
        assert page.locator('.dispatch-node[data-node="fengdong"]').count() == 0  # another node's list
        cell = rows.first.locator("td").nth(1)
        assert cell.bounding_box()["width"] >= 60  # not one character wide
        if width == 390:
            scroll = node.evaluate("el => [el.scrollWidth, el.clientWidth]")
            assert scroll[0] > scroll[1]  # scrolls sideways
    finally:
        ctx.close()
