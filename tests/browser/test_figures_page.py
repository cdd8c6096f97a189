"""信息展示 and 数据看板 in a real browser (Debian's Chromium) at 390 px and 1440 px: the public /figures page and
the console dashboard of 沣西's lead render their figures and SVG charts, and the page body never scrolls
sideways. The desk runs as its own process (no Rasa needed) on a SQLite database with four tickets.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from policy_check_api import desk_process  # noqa: E402 - bench/ is not a package

from tests.unit.desk_helpers import PASSWORD  # noqa: E402
from tests.unit.figures_helpers import populate  # noqa: E402

pytestmark = pytest.mark.e2e

NO_OVERFLOW = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    from bot.db import migrate
    from bot.network import sync_network

    var = tmp_path_factory.mktemp("figures-browser")
    db = f"sqlite:///{var / 'figures.db'}"
    migrate(db)
    sync_network(db)
    populate(db, datetime.now(timezone.utc))
    with desk_process(var, db) as base:
        yield base


@pytest.mark.parametrize("width", [390, 1440])
def test_public_figures_page(desk, browser, width):
    ctx = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
    try:
        page = ctx.new_page()
        page.goto(f"{desk}/figures")
        expect(page.locator("h1")).to_contain_text("服务数据")
        expect(page.locator('td[data-window="all"][data-key="accepted"]')).to_have_text("4")
        charts = page.locator("svg.bars")
        expect(charts).to_have_count(2)
        box = charts.first.bounding_box()
        assert box["width"] > 300 and box["x"] + box["width"] <= width
        scroll, client = page.evaluate(NO_OVERFLOW)
        assert scroll <= client, (scroll, client)
        page.click("nav.tabs >> text=本月")
        expect(page).to_have_url(re.compile(r"window=month"))
    finally:
        ctx.close()


@pytest.mark.parametrize("width", [390, 1440])
def test_console_dashboard(desk, browser, width):
    ctx = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
    try:
        page = ctx.new_page()
        page.goto(f"{desk}/console/login?next=/console/dashboard")
        page.fill('input[name="username"]', "fengxi_lead")
        page.fill('input[name="password"]', PASSWORD)
        page.click('button[type="submit"]')
        page.goto(f"{desk}/console/dashboard")
        expect(page.locator("h1").first).to_contain_text("数据看板")
        expect(page.locator('table.nodes tr[data-node="fengxi"]')).to_have_count(1)
        expect(page.locator('table.nodes tr[data-node="fengdong"]')).to_have_count(0)
        expect(page.locator('table.scorecard tr[data-node="fengxi"]')).to_have_count(1)
        assert page.locator("svg.bars").count() >= 2
        scroll, client = page.evaluate(NO_OVERFLOW)
        assert scroll <= client, (scroll, client)
        # the scorecard's wide table scrolls inside its own box
        wrap = page.locator("table.scorecard").locator("xpath=..")
        inner, outer = wrap.evaluate("el => [el.scrollWidth, el.clientWidth]")
        assert outer <= client and (width == 1440 or inner >= outer)
    finally:
        ctx.close()
