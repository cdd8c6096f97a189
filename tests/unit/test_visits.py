"""入企服务: recording visits, raising tickets from them, listing them per node and month."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.db import read_sessions, sessions
from bot.db.schema import Enterprise, ServiceNode, Staff, Ticket, TicketEvent
from bot.reports import monthly_summary
from bot.tickets.service import TicketError, TicketService
from bot.visits import VisitError, list_visits, raise_ticket_from_visit, record_visit, visits_by_node
from tests.clock import Clock

CST = ZoneInfo("Asia/Shanghai")


def bj(y, mo, d, h=10, mi=0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CST)


@pytest.fixture
def clock():
    return Clock(bj(2026, 11, 25, 16))


@pytest.fixture
def world(db_url):
    """Two enterprises (one in a park of 沣西) and two staff members."""
    with sessions(db_url).begin() as s:
        e1 = Enterprise(name="西安沣信科技有限公司", new_city="沣西", park="沣西新城信息产业园")
        e2 = Enterprise(name="秦汉智造装备有限公司", new_city="秦汉")
        wang = Staff(username="wang", display_name="王专员", node_id="fengxi-ws-xinxi")
        zhao = Staff(username="zhao", display_name="赵主任", node_id="fengxi")
        s.add_all([e1, e2, wang, zhao])
        s.flush()
        return {"url": db_url, "e1": e1.id, "e2": e2.id, "wang": wang.id, "zhao": zhao.id}


def test_record_visit(world, clock):
    url = world["url"]
    v = record_visit(
        url,
        world["e1"],
        world["wang"],
        "fengxi-ws-xinxi",
        bj(2026, 11, 25, 10),
        "  企业计划明年申报高企，研发费用归集不规范；另有专利质押贷款意向。  ",
        clock=clock,
    )
    assert v.id and v.node_id == "fengxi-ws-xinxi" and v.staff_id == world["wang"]
    assert v.findings.startswith("企业计划明年申报高企") and not v.findings.endswith(" ")
    [row] = list_visits(url)
    assert (row.enterprise_name, row.node_name, row.staff_name) == (
        "西安沣信科技有限公司",
        "沣西新城信息产业园工作站",
        "王专员",
    )
    assert row.visited_at == bj(2026, 11, 25, 10) and row.tickets == ()
    # a visit by nobody in particular (staff unknown) is allowed, with empty findings
    assert record_visit(url, world["e2"], None, "qinhan", bj(2026, 11, 24), "", clock=clock).findings is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(enterprise_id=999), "企业（编号 999）不存在"),
        (dict(node_id="nowhere"), "服务节点“nowhere”不存在"),
        (dict(staff_id=999), "工作人员（编号 999）不存在"),
        (dict(visited_at=datetime(2026, 11, 25, 10)), "需要带时区"),
        (dict(visited_at=bj(2026, 11, 26, 10)), "晚于当前时间"),
    ],
)
def test_record_visit_refuses_bad_input(world, clock, kwargs, message):
    args = dict(
        enterprise_id=world["e1"],
        staff_id=world["wang"],
        node_id="fengxi-ws-xinxi",
        visited_at=bj(2026, 11, 25, 10),
        findings="走访",
    )
    args.update(kwargs)
    with pytest.raises(VisitError, match=message):
        record_visit(world["url"], clock=clock, **args)
    assert list_visits(world["url"]) == []


def test_record_visit_refuses_a_closed_node(world, clock):
    with sessions(world["url"]).begin() as s:
        s.execute(update(ServiceNode).where(ServiceNode.id == "jinghe").values(active=False))
    with pytest.raises(VisitError, match="已停用"):
        record_visit(world["url"], world["e1"], None, "jinghe", bj(2026, 11, 25, 10), "走访", clock=clock)


def test_raise_ticket_from_visit(world, clock):
    url = world["url"]
    svc = TicketService(url, clock=clock)
    v = record_visit(
        url, world["e1"], world["wang"], "fengxi-ws-xinxi", bj(2026, 11, 25, 10), "专利质押贷款意向", clock=clock
    )
    res = raise_ticket_from_visit(
        url,
        v.id,
        "need_debt_financing",
        "企业想用两件发明专利做质押贷款，额度约300万",
        contact_name="李总",
        mobile="139-1234-5678",
        service=svc,
    )
    t = res.ticket
    assert not res.linked and res.node.id == "fengxi-ws-xinxi"  # the ordinary routing (park)
    assert (t.visit_id, t.source_channel, t.status) == (v.id, "visit", "accepted")
    assert t.number.startswith("QCY-20261125-")
    with read_sessions(url)() as s:
        evs = list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.id)))
    assert [(e.action, e.actor) for e in evs] == [("created", "staff:wang"), ("visit", "staff:wang")]
    assert "入企服务发现：11月25日 沣西新城信息产业园工作站（王专员）走访" in evs[1].note

    # the same need raised again is linked to the open ticket, not duplicated
    again = raise_ticket_from_visit(url, v.id, "need_debt_financing", "专利质押贷款，额度300万左右", service=svc)
    assert again.linked and again.ticket.number == t.number
    # a different need on the same visit is a second ticket; the contact is remembered
    second = raise_ticket_from_visit(url, v.id, "need_qualification", "明年申报高新技术企业认定，需要辅导", service=svc)
    assert not second.linked and second.ticket.visit_id == v.id
    [row] = list_visits(url, node_id="fengxi-ws-xinxi")
    assert row.tickets == (t.number, second.ticket.number)

    with pytest.raises(VisitError, match="走访记录（编号 999）不存在"):
        raise_ticket_from_visit(url, 999, "need_debt_financing", "贷款", service=svc)
    with pytest.raises(TicketError, match="未知的需求类别"):
        raise_ticket_from_visit(url, v.id, "need_unknown", "随便什么", service=svc)


def test_visits_per_node_and_month_and_in_the_monthly_summary(world, clock):
    url = world["url"]
    clock.now = bj(2026, 12, 2, 12)
    svc = TicketService(url, clock=clock)
    # 2026-10-31 23:30 Beijing belongs to October, 2026-11-01 00:30 to November
    oct_v = record_visit(
        url, world["e1"], world["wang"], "fengxi-ws-xinxi", bj(2026, 10, 31, 23, 30), "十月", clock=clock
    )
    nov1 = record_visit(
        url, world["e1"], world["wang"], "fengxi-ws-xinxi", bj(2026, 11, 1, 0, 30), "十一月一", clock=clock
    )
    nov2 = record_visit(url, world["e2"], world["zhao"], "fengxi", bj(2026, 11, 20, 15), "十一月二", clock=clock)
    nov3 = record_visit(url, world["e1"], world["zhao"], "fengxi", bj(2026, 11, 30, 23, 59), "十一月三", clock=clock)
    record_visit(url, world["e2"], None, "qinhan", bj(2026, 12, 1, 0, 0), "十二月", clock=clock)
    clock.now = bj(2026, 11, 20, 16)
    raised = raise_ticket_from_visit(
        url, nov2.id, "need_recruitment", "需要组织一场校园招聘，招30名工程师", service=svc
    )

    ws_nov = list_visits(url, node_id="fengxi-ws-xinxi", month="2026-11")
    assert [v.id for v in ws_nov] == [nov1.id]
    assert [v.id for v in list_visits(url, node_id="fengxi-ws-xinxi", month="2026-10")] == [oct_v.id]
    subtree = list_visits(url, node_id="fengxi", month="2026-11", include_subtree=True)
    assert [v.id for v in subtree] == [nov3.id, nov2.id, nov1.id]  # newest first
    assert [v.id for v in list_visits(url, node_id="fengxi", month="2026-11")] == [nov3.id, nov2.id]
    assert next(v for v in subtree if v.id == nov2.id).tickets == (raised.ticket.number,)
    assert [v.id for v in list_visits(url, enterprise_id=world["e2"], month="2026-11")] == [nov2.id]
    with pytest.raises(VisitError):
        list_visits(url, node_id="nowhere", include_subtree=True)
    with pytest.raises(ValueError, match="月份格式不正确"):
        list_visits(url, month="2026/11")

    per_node = {n.node_id: n for n in visits_by_node(url, "2026-11")}
    assert (per_node["fengxi"].visits, per_node["fengxi"].enterprises, per_node["fengxi"].tickets) == (2, 2, 1)
    assert (per_node["fengxi-ws-xinxi"].visits, per_node["fengxi-ws-xinxi"].tickets) == (1, 0)
    assert "qinhan" not in per_node

    s = monthly_summary(url, "2026-11")
    assert (s.visits, s.visit_tickets) == (3, 1)
    with read_sessions(url)() as ss:
        assert ss.scalar(select(Ticket.source_channel).where(Ticket.id == raised.ticket.id)) == "visit"
