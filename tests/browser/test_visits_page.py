"""入企服务 recorded on a phone (390 px) in a real browser: the staff member finds the enterprise by typing part
of its name, ticks who went, writes what was found, raises two needs (the second through "再加一条需求"),
saves — and lands on the enterprise's file, where the visit and the two tickets it raised are listed; the
tickets were opened by the ticket service (channel 入企服务, routed to the park's workstation).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.helpers import NO_OVERFLOW, desk, sign_in  # noqa: F401 - the fixture desk

pytestmark = pytest.mark.e2e


def test_record_a_visit_on_a_phone(desk, browser):
    from bot.db import read_sessions
    from bot.db.schema import Ticket, Visit

    base, db = desk
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    try:
        page = ctx.new_page()
        sign_in(page, base, "xinxi_staff")
        page.goto(f"{base}/console/visits")
        page.click("#new-visit")
        expect(page.locator("h1")).to_contain_text("登记入企服务")
        page.fill("#enterprise-name", "沣西甲光电")
        suggestion = page.locator("#enterprise-suggest button.suggestion")
        expect(suggestion).to_have_count(1)
        suggestion.click()
        expect(page.locator("#picked")).to_contain_text("沣西甲光电科技有限公司")
        expect(page.locator("#new-enterprise")).to_be_hidden()
        expect(page.locator('input[name="participants"]:checked')).to_have_count(1)
        page.fill("#findings", "新厂房下月投产，缺少熟练焊工；有技改贷款需求")
        page.select_option("#need-category-1", "need_recruitment")
        page.fill("#need-text-1", "招聘二十名熟练焊工")
        expect(page.locator('.need[data-need="2"]')).to_be_hidden()
        page.click("#add-need")
        page.select_option("#need-category-2", "need_debt_financing")
        page.fill("#need-text-2", "申请技改贷款贴息约200万元")
        scroll, client = page.evaluate(NO_OVERFLOW)
        assert scroll <= client, (scroll, client)
        box = page.locator("#save-visit").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        page.click("#save-visit")

        expect(page).to_have_url(re.compile(r"/console/enterprises/1\?done=visit$"))
        expect(page.locator(".flash.ok")).to_contain_text("入企服务已登记")
        with read_sessions(db)() as s:
            [visit] = s.scalars(select(Visit)).all()
            tickets = s.scalars(select(Ticket).where(Ticket.visit_id == visit.id).order_by(Ticket.id)).all()
        assert [t.category for t in tickets] == ["need_recruitment", "need_debt_financing"]
        assert all(t.source_channel == "visit" and t.node_id == "fengxi-ws-xinxi" for t in tickets)
        row = page.locator(f'table.visits tr[data-visit="{visit.id}"]')
        expect(row).to_contain_text("工作站专员")
        expect(row).to_contain_text("新厂房下月投产")
        for t in tickets:
            expect(row).to_contain_text(t.number)
            expect(page.locator(f'table.tickets tr[data-number="{t.number}"]')).to_contain_text("入企服务")
        scroll, client = page.evaluate(NO_OVERFLOW)
        assert scroll <= client, (scroll, client)

        page.goto(f"{base}/console/visits")
        expect(page.locator(f'table.visits tr[data-visit="{visit.id}"]')).to_contain_text("沣西甲光电科技有限公司")
        scroll, client = page.evaluate(NO_OVERFLOW)  # the wide table scrolls in its own box
        assert scroll <= client, (scroll, client)
    finally:
        ctx.close()
