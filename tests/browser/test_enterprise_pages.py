"""一企一档 in a real browser (Debian's Chromium) at 1366 px and 390 px: a workstation's staff member opens the
enterprise list (only the enterprises of their node), the file of one, edits its profile (saved, shown, and
in the file's change history), exports the list (their enterprises only) and is refused another node's file.
The desk runs as its own process (no Rasa needed) on a SQLite database (tests/unit/enterprise_file_helpers.py).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.helpers import NO_OVERFLOW, desk, sign_in  # noqa: F401 - the fixture desk
from tests.unit.enterprise_file_helpers import BING, JIA, YI

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("width", [1366, 390])
def test_list_file_edit_export(desk, browser, width):
    from openpyxl import load_workbook

    from bot.db import read_sessions
    from bot.db.schema import ConsoleAudit, Enterprise

    base, db = desk
    ctx = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900}, accept_downloads=True)
    try:
        page = ctx.new_page()
        sign_in(page, base, "xinxi_staff")
        page.click("header nav >> text=企业档案")
        expect(page.locator("h1").first).to_contain_text("企业档案")
        rows = page.locator("table.enterprises tbody tr[data-enterprise]")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(JIA)
        scroll, client = page.evaluate(NO_OVERFLOW)
        assert scroll <= client, (scroll, client)

        with page.expect_download() as info:
            page.click("#export")
        wb = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()))
        names = [r[0] for r in wb.active.iter_rows(min_row=3, values_only=True)]
        assert names == [JIA] and YI not in names and BING not in names

        page.click(f"table.enterprises >> text={JIA}")
        expect(page.locator("#enterprise-name")).to_have_text(JIA)
        expect(page.locator("table.tickets tbody tr")).to_have_count(2)
        expect(page.locator("#redeemed")).to_have_text("¥120,000.50")
        scroll, client = page.evaluate(NO_OVERFLOW)
        assert scroll <= client, (scroll, client)

        page.click("#edit-profile summary")
        page.fill('#profile-form input[name="industry"]', "光电子器件")
        page.fill('#profile-form input[name="employees"]', "75")
        page.check('#profile-form input[value="specialized"]')
        page.click("#save-profile")
        expect(page.locator(".flash.ok")).to_contain_text("企业档案已保存")
        expect(page.locator("#profile")).to_contain_text("光电子器件")
        expect(page.locator("#profile")).to_contain_text("专精特新中小企业")
        history = page.locator("table.history")
        expect(history).to_contain_text("所属行业：光电 → 光电子器件")
        expect(history).to_contain_text("职工人数：60 → 75")
        expect(history).to_contain_text("工作站专员")
        with read_sessions(db)() as s:
            assert s.get(Enterprise, 1).industry == "光电子器件"
            assert s.scalars(select(ConsoleAudit.actor).where(ConsoleAudit.action == "enterprise_edit")).all() == [
                "staff:xinxi_staff"
            ]

        # a wrong value: nothing saved, the field named, the form kept open with what was typed
        page.click("#edit-profile summary") if not page.locator("#edit-profile").get_attribute("open") else None
        page.fill('#profile-form input[name="tech_staff"]', "500")
        page.click("#save-profile")
        expect(page.locator(".flash.err")).to_contain_text("科技人员数（500人）不能超过职工人数（75人）")

        resp = page.goto(f"{base}/console/enterprises/2")
        assert resp.status == 403
        expect(page.locator("h1")).to_contain_text("无权访问")
    finally:
        ctx.close()
