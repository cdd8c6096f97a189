"""/figures, /api/figures and the console's 数据看板 on a desk in-process (both databases).

Four tickets on 2026-11-25 (Beijing) at four nodes of the real service network (tests/unit/figures_helpers.py):
the centre, the 沣西 new-city centre, one of its workstations (新兴 … xinxi) and 沣东. Node scoping: the centre's
lead sees all four, 沣西's lead 沣西 and its workstations, the workstation's staff only their node.
"""

from __future__ import annotations

import json
import re

import pytest
from aiohttp.test_utils import TestClient

from bot.db import engine_for
from bot.db.schema import Ticket
from bot.desk import figures as desk_figures
from bot.reports.figures import PublicFigures
from tests.unit.desk_helpers import desk_client, sign_in
from tests.unit.figures_helpers import MOMENT, NODES, SECRETS, populate

pytestmark = pytest.mark.desk


class FakeClock:
    def __call__(self):
        return MOMENT


def open_desk(db_url, tmp_path, **env) -> TestClient:
    """A desk on `db_url`, configured as the environment variables `env` say, not started yet (`async with`)."""
    client = desk_client(db_url, tmp_path, clock=FakeClock(), env=env)
    client.app[desk_figures.CACHE_KEY] = PublicFigures(db_url, ttl=3600, clock=FakeClock())
    return client


@pytest.fixture
async def desk(db_url, tmp_path):
    populate(db_url)
    async with open_desk(db_url, tmp_path) as client:
        yield client


# ---- the public page ------------------------------------------------------------------------------


async def test_public_page_and_json_show_the_figures_and_no_personal_data(desk):
    r = await desk.get("/api/figures")
    assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    data = await r.json()
    assert [data["windows"][k]["accepted"] for k in ("today", "month", "all")] == [4, 4, 4]
    assert data["windows"]["all"]["enterprises"] == 1 and data["windows"]["all"]["completion_rate"] == 0.0
    page = await desk.get("/figures")
    assert page.status == 200
    html = await page.text()
    assert '<td data-window="all" data-key="accepted">4</td>' in html
    assert "<svg" in html and "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    for secret in SECRETS:
        assert secret not in html and secret not in json.dumps(data, ensure_ascii=False)


async def test_public_page_headers_allow_framing_only_by_the_configured_sites(desk, tmp_path):
    r = await desk.get("/figures")
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in csp and "script-src" not in csp and "unsafe-inline" not in csp
    assert "style-src 'self'" in csp and r.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert r.headers["Cache-Control"] == "public, max-age=60"
    embeddable = open_desk(desk.db, tmp_path / "embeddable", DESK_FRAME_ANCESTORS="https://www.example.gov.cn")
    async with embeddable:
        r = await embeddable.get("/figures")
        assert "frame-ancestors https://www.example.gov.cn" in r.headers["Content-Security-Policy"]
        assert "X-Frame-Options" not in r.headers
    css = await desk.get("/figures.css")
    assert css.status == 200 and "svg.bars" in await css.text()


async def test_public_page_refuses_an_unknown_window_naming_the_parameter(desk):
    r = await desk.get("/figures?window=year")
    assert r.status == 400 and "window" in await r.text()
    r = await desk.get("/figures?window=month")
    assert r.status == 200 and 'class="on" aria-current="page">本月' in await r.text()


async def test_public_figures_are_cached(desk):
    first = await (await desk.get("/api/figures")).json()
    with engine_for(desk.db).begin() as conn:
        conn.execute(Ticket.__table__.update().where(Ticket.id == 1).values(status="resolved", resolved_at=MOMENT))
    again = await (await desk.get("/api/figures")).json()
    assert again == first  # the cached figures, not a new computation
    desk.server.app[desk_figures.CACHE_KEY].ttl = 0
    fresh = await (await desk.get("/api/figures")).json()
    assert fresh["windows"]["all"]["closed"] == 1


# ---- the console dashboard ------------------------------------------------------------------------


def today_accepted(html: str) -> int:
    block = re.search(r'data-window="today">(.*?)</div></div>', html, re.S).group(1)
    return int(re.search(r'受理诉求</div><div class="v">(\d+) 件', block).group(1))


def node_rows(html: str, table: str) -> set[str]:
    part = re.search(rf'<table class="grid {table}">(.*?)</table>', html, re.S).group(1)
    return set(re.findall(r'<tr data-node="([^"]+)"', part))


async def test_dashboard_needs_a_sign_in(desk):
    r = await desk.get("/console/dashboard", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/console/login")


@pytest.mark.parametrize(
    "username, accepted, nodes, scorecard",
    [
        (
            "centre_lead",
            4,
            {"centre", "fengxi", "fengxi-ws-xinxi", "fengdong"},
            {"centre", "fengxi", "fengxi-ws-xinxi", "fengdong"},
        ),
        ("fengxi_lead", 2, {"fengxi", "fengxi-ws-xinxi"}, {"fengxi", "fengxi-ws-xinxi"}),
        ("xinxi_staff", 1, {"fengxi-ws-xinxi"}, None),
    ],
)
async def test_dashboard_is_limited_to_the_staff_members_nodes(desk, username, accepted, nodes, scorecard):
    await sign_in(desk, username)
    r = await desk.get("/console/dashboard?month=2026-11")
    assert r.status == 200
    html = await r.text()
    assert today_accepted(html) == accepted
    assert node_rows(html, "nodes") & set(NODES) == nodes
    if username != "centre_lead":
        assert "沣东新城服务中心" not in html
    if scorecard is None:
        assert "绩效评分面向节点负责人和管理员开放" in html and 'class="grid scorecard"' not in html
    else:
        assert node_rows(html, "scorecard") == scorecard
    page = html.split("</header>", 1)[-1]  # the top bar may link the 知识库 editor
    assert ("知识库" in page) == (username == "centre_lead")  # questions have no node
    assert ('class="grid questions"' in html) == (username == "centre_lead")
    assert ('href="/console/knowledge/gaps"' in page) == (username == "centre_lead")  # editors write the answer
    for secret in SECRETS:
        assert secret not in html


async def test_dashboard_overdue_now_and_a_bad_month(desk):
    await sign_in(desk, "fengxi_lead")
    html = await (await desk.get("/console/dashboard")).text()
    row = re.search(r'<tr data-node="fengxi">.*?</tr>', html, re.S).group(0)
    assert re.findall(r"<td>(\d+)</td>", row) == ["1", "1"]  # 在办 1, 超期 1 (due an hour after it came)
    r = await desk.get("/console/dashboard?month=2026-13")
    assert r.status == 400 and "月份" in await r.text()


async def test_scoped_monthly_xlsx_has_the_scorecard_of_the_nodes_in_scope(desk):
    import io

    from openpyxl import load_workbook

    await sign_in(desk, "fengxi_lead")
    r = await desk.get("/console/reports/monthly.xlsx?month=2026-11")
    assert r.status == 200
    wb = load_workbook(io.BytesIO(await r.read()))
    assert wb.sheetnames == ["服务节点", "绩效", "绩效评分"]
    names = [row[0] for row in wb["绩效评分"].iter_rows(min_row=2, values_only=True) if row[0]]
    assert "沣西新城服务中心" in names and "合计" in names
    assert not any("沣东" in n or "综合服务中心" in n for n in names)
    for sheet in ("服务节点", "绩效"):  # the node sheets are scoped too, in the report's layout
        rows = list(wb[sheet].iter_rows(min_row=2, values_only=True))
        assert "fengxi" in [row[1] for row in rows]
        assert all(row[1] == "fengxi" or row[1].startswith("fengxi-") for row in rows), rows
