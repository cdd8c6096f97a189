"""Reclassifying a ticket (issue 13 item 8): category and node change, each audited, the 办结时限 recomputed by
the SLA rules from the acceptance (time waiting for the enterprise kept), the new node told and the old
node's 承办人 released."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.db import read_sessions
from bot.db.schema import Notification
from bot.staff.accounts import create_staff
from bot.tickets import history
from bot.tickets import lifecycle as lc
from bot.tickets.service import EnterpriseInput, TicketError, TicketService
from tests.clock import Clock

pytestmark = pytest.mark.desk

CST = timezone(timedelta(hours=8))


@pytest.fixture
def clock():
    return Clock(datetime(2026, 11, 25, 10, 0, tzinfo=CST))


@pytest.fixture
def svc(db_url, clock):
    return TicketService(db_url, clock=clock)


def open_one(svc, sender="web-rc-1"):
    return svc.open_ticket(
        category="need_recruitment",
        description="想申请研发费用补贴，顺便招几个人",
        enterprise=EnterpriseInput(name="西咸分类测试有限公司", new_city="沣西"),
        contact_name="王经理",
        mobile="13912345678",
        sender_id=sender,
        channel="web",
        conversation_id=sender,
    ).ticket


def test_reclassify_reroutes_recomputes_the_deadline_and_audits(svc, db_url, clock):
    li = create_staff(db_url, "li", "李明", "fengxi", "staff", "Reclass-test-2026")
    t = open_one(svc)
    assert t.node_id == "fengxi"
    svc.assign(t.number, None, li.id, "staff:li")
    clock.now += timedelta(hours=2)
    moved, left = svc.reclassify(t.number, "staff:li", "need_subsidy_redemption", reason="企业实际要办奖补兑现")
    assert left == "fengxi" and moved.node_id == "window-district"  # the routing rule of 奖补兑现
    assert moved.category == "need_subsidy_redemption" and moved.service_content == "政策兑现"
    assert moved.assignee_id is None and moved.status == lc.ASSIGNED
    assert moved.resolution_due == svc.sla.resolution_due(t.created_at, "need_subsidy_redemption")
    assert moved.resolution_due > t.resolution_due  # 15 working days, not 5
    assert moved.first_response_due == t.first_response_due  # 即日办 counts from acceptance still
    events = svc.events(t.number)
    tail = [(e.action, e.field) for e in events][-4:]
    assert tail == [
        ("reclassify", "category"),
        ("sla", "resolution_due"),
        ("transfer", "node_id"),
        ("assign", "assignee_id"),
    ]
    words = [history.value_text(e.before, e.field) + " → " + history.value_text(e.after, e.field) for e in events[-4:]]
    assert words[0] == "人才服务 · 招聘用工 → 政策兑现 · 奖补兑现"
    assert "need_" not in " ".join(words) and "window-district" not in " ".join(words)
    with read_sessions(db_url)() as s:
        [n] = s.scalars(select(Notification).where(Notification.ticket_id == t.id))
    assert n.recipient == "node:window-district" and t.number in n.body and "奖补兑现" in n.body


def test_reclassify_keeps_the_pause_and_allows_an_explicit_node(svc, clock):
    t = open_one(svc, sender="web-rc-2")
    svc.transition(t.number, lc.AWAITING_INFO, "staff:li", reason="营业执照")
    clock.now += timedelta(days=1)  # Thursday 10:00: a working day paused
    svc.transition(t.number, lc.IN_PROGRESS, "staff:li")
    paused = svc.get(t.number).paused_working_seconds
    assert paused > 0
    moved, left = svc.reclassify(t.number, "staff:li", "need_training", node_id="fengxi")
    assert left is None and moved.node_id == "fengxi"
    base = svc.sla.resolution_due(t.created_at, "need_training")
    assert moved.resolution_due == svc.sla.add_working_seconds(base, paused)
    moved, left = svc.reclassify(t.number, "staff:li", "need_training", node_id="centre")  # node only
    assert left == "fengxi" and moved.node_id == "centre"
    assert [e.action for e in svc.events(t.number)][-1] == "transfer"


def test_reclassify_refusals(svc):
    t = open_one(svc, sender="web-rc-3")
    with pytest.raises(TicketError, match="没有变化"):
        svc.reclassify(t.number, "staff:li", "need_recruitment", node_id="fengxi")
    with pytest.raises(TicketError, match="未知的需求类别"):
        svc.reclassify(t.number, "staff:li", "need_nonsense")
    with pytest.raises(TicketError, match="不存在"):
        svc.reclassify(t.number, "staff:li", "need_training", node_id="nowhere")
    assert svc.get(t.number).category == "need_recruitment"  # nothing half done
    svc.close(t.number, "staff:li", "已推荐招聘渠道")
    with pytest.raises(TicketError, match="办理中的工单才能重新分类"):
        svc.reclassify(t.number, "staff:li", "need_training")


async def test_console_reclassify_is_scoped_and_checks_the_node(db_url, tmp_path):
    from tests.unit.desk_helpers import TestDesk, add_staff, audit

    t = open_one(TicketService(db_url), sender="web-rc-9")
    add_staff(db_url, "wang", "王芳", "fengxi")
    add_staff(db_url, "zhao", "赵磊", "fengdong")
    desk = TestDesk(db_url, tmp_path)
    try:
        wang, zhao = await desk.browser(), await desk.browser()
        assert (await wang.login("wang")).status == 302 and (await zhao.login("zhao")).status == 302
        url = f"/console/tickets/{t.number}/reclassify"
        assert 'id="reclassify-form"' in await (await wang.client.get(f"/console/tickets/{t.number}")).text()
        assert (await zhao.post(url, {"category": "need_training"})).status == 403  # another node's ticket
        assert (await wang.post(url, {"category": "need_training", "node_id": "fengdong"})).status == 403
        assert (await wang.post(url, {"category": "need_nonsense"})).status == 400
        assert TicketService(db_url).get(t.number).category == "need_recruitment"
        r = await wang.post(url, {"category": "need_training", "reason": "企业要的是培训"})
        assert r.status == 303 and r.headers["Location"].endswith("?done=reclassified")
        assert TicketService(db_url).get(t.number).category == "need_training"
        assert audit(db_url, "ticket_reclassify")[-1].actor == "staff:wang"
        page = await (await wang.client.get(f"/console/tickets/{t.number}")).text()
        assert "重新分类" in page and "人才服务 · 培训交流" in page
        # the routing rule sends 奖补兑现 out of 沣西's scope: the ticket leaves, staff land on the list
        r = await wang.post(url, {"category": "need_subsidy_redemption"})
        assert r.status == 303 and r.headers["Location"] == "/console/tickets?done=reclassified"
        assert (await wang.client.get(f"/console/tickets/{t.number}")).status == 403
    finally:
        await desk.close()
