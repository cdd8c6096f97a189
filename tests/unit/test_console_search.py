"""The console's search (issue 13 item 5): tickets by number, enterprise and text, enterprises by name and credit
code, conversations by message text — never outside the staff member's node scope; LIKE wildcards typed by staff
are taken literally. Core module and the /console/search page, both databases."""

from __future__ import annotations

import pytest

from bot import handover as ho
from bot.db import sessions
from bot.db.schema import Conversation, Message
from bot.tickets import search as core
from bot.tickets.service import EnterpriseInput, TicketService
from tests.unit.desk_helpers import TestDesk, add_staff, audit

pytestmark = pytest.mark.desk

XIXIAN = "西咸搜索光电科技有限公司"  # 沣西
FENGDONG = "沣东搜索生物医药有限公司"  # 沣东
CODE = "91440300708461136T"


def seed(db):
    svc = TicketService(db)
    a = svc.open_ticket(
        category="need_recruitment",
        description="招聘二十名光学检测员，100%到岗",
        enterprise=EnterpriseInput(name=XIXIAN, new_city="沣西"),
        contact_name="王经理",
        mobile="13912345678",
        sender_id="web-search-a",
        channel="web",
        conversation_id="web-search-a",
    ).ticket
    b = svc.open_ticket(
        category="need_recruitment",
        description="招聘生物检测员 五名",
        enterprise=EnterpriseInput(name=FENGDONG, new_city="沣东"),
        contact_name="李经理",
        mobile="13912345679",
        sender_id="web-search-b",
        channel="web",
        conversation_id="web-search-b",
    ).ticket
    with sessions(db).begin() as s:
        for cid, node, text in (
            ("web-search-a", "fengxi", "请问检测员的社保怎么交"),
            ("web-search-b", "fengdong", "检测员的公寓还有吗"),
            ("web-search-c", None, "检测员 无节点的会话"),
        ):
            s.add(Conversation(id=cid, channel="web", mode="bot", node_id=node))
            s.flush()
            s.add(Message(conversation_id=cid, direction="in", author="user", text=text))
    return a, b


def test_core_search_scopes_every_kind(db_url):
    a, b = seed(db_url)
    mine = core.search(db_url, "检测员", {"fengxi"})
    assert [h.number for h in mine.tickets] == [a.number]
    assert [h.conversation_id for h in mine.conversations] == ["web-search-a"]
    assert [h.name for h in core.search(db_url, "搜索", {"fengxi"}).enterprises] == [XIXIAN]
    everything = core.search(db_url, "检测员", None)
    assert {h.number for h in everything.tickets} == {a.number, b.number}
    assert {h.conversation_id for h in everything.conversations} == {"web-search-a", "web-search-b", "web-search-c"}
    assert [h.conversation_id for h in core.search(db_url, "检测员", {"centre"}).conversations] == ["web-search-c"]
    # by number (any case) and by credit code
    assert [h.number for h in core.search(db_url, a.number.lower(), {"fengxi"}).tickets] == [a.number]
    TicketService(db_url).open_ticket(
        category="need_recruitment",
        description="招聘",
        contact_name="王经理",
        mobile=None,
        sender_id=None,
        enterprise=EnterpriseInput(name=XIXIAN, credit_code=CODE, new_city="沣西"),
    )
    assert [h.name for h in core.search(db_url, CODE[-6:], {"fengxi"}).enterprises] == [XIXIAN]
    assert core.search(db_url, CODE[-6:], {"fengdong"}).enterprises == []
    # a handover to 沣东 moves the conversation (and its enterprise) into 沣东's scope while it is open
    ho.start_handover(db_url, "web-search-a", "request_human", node_id="fengdong", channel="web")
    assert core.search(db_url, "社保", {"fengxi"}).conversations == []
    assert [h.conversation_id for h in core.search(db_url, "社保", {"fengdong"}).conversations] == ["web-search-a"]


def test_wildcards_are_literal_and_snippets_cut_around_the_match(db_url):
    a, _ = seed(db_url)
    assert [h.number for h in core.search(db_url, "100%", None).tickets] == [a.number]
    assert core.search(db_url, "%", {"fengdong"}).tickets == []  # not "everything"
    assert core.search(db_url, "_", None).tickets == []
    assert core.like_pattern("a%b_c\\") == "%a\\%b\\_c\\\\%"
    assert core.search(db_url, "   ", None).empty
    long = "甲" * 100 + "关键字" + "乙" * 100
    cut = core.snippet(long, "关键字")
    assert cut.startswith("…") and cut.endswith("…") and "关键字" in cut and len(cut) < 100


async def test_search_page_in_scope_only_and_audited(db_url, tmp_path):
    a, b = seed(db_url)
    add_staff(db_url, "wang", "王芳", "fengxi")
    add_staff(db_url, "boss", "管理员", "centre", "admin")
    desk = TestDesk(db_url, tmp_path)
    try:
        wang, boss = await desk.browser(), await desk.browser()
        assert (await wang.login("wang")).status == 302 and (await boss.login("boss")).status == 302
        page = await (await wang.client.get("/console/search", params={"q": "检测员"})).text()
        assert a.number in page and "/console/conversations/web-search-a" in page
        assert b.number not in page and "web-search-b" not in page and FENGDONG not in page
        assert "web-search-c" not in page and "无节点的会话" not in page
        assert "<mark>检测员</mark>" in page and 'id="top-search"' in page
        page = await (await wang.client.get("/console/search", params={"q": FENGDONG})).text()
        assert "没有找到" in page and b.number not in page
        page = await (await boss.client.get("/console/search", params={"q": "检测员"})).text()
        assert a.number in page and b.number in page and "web-search-c" in page
        xss = await wang.client.get("/console/search", params={"q": "<script>alert(1)</script>"})
        assert xss.status == 200 and "<script>alert(1)" not in await xss.text()
        rows = [r for r in audit(db_url, "search") if r.actor == "staff:wang"]
        assert rows and rows[0].detail.startswith("检测员")
        anon = await desk.browser()
        r = await anon.client.get("/console/search", params={"q": "检测员"}, allow_redirects=False)
        assert r.status == 302 and "/console/login" in r.headers["Location"]
    finally:
        await desk.close()
