"""入企服务 recorded in the console (both databases): the form at /console/visits/new, POST /console/visits,
the month list; each need raised becomes a routed ticket linked to the visit; the visit shows in the
enterprise's file, today's dispatch list, the monthly summary and the node's scorecard. Node scoping of
every route, CSRF on the POST.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import select

from bot.db import read_sessions
from bot.db.schema import ConsoleAudit, Contact, Enterprise, Staff, Ticket, Visit, VisitParticipant
from bot.reports import dispatch as dp
from bot.reports.monthly import monthly_summary
from bot.reports.scorecard import scorecard
from bot.tickets import credit_code as cc
from tests.unit.desk_helpers import add_staff, desk_client, sign_in
from tests.unit.enterprise_file_helpers import FORM, JIA, MOMENT, YI, populate

pytestmark = pytest.mark.desk

BASE_FORM = {
    "enterprise_id": "1",
    "node_id": "fengxi-ws-xinxi",
    "day": "2026-11-25",
    "at": "10:30",
    "hosts": "张总",
    "mobile": "13900001111",
    "findings": "企业计划扩产，缺少熟练工，想了解贷款贴息",
}


def staff_id(db: str, username: str) -> int:
    with read_sessions(db)() as s:
        return s.scalar(select(Staff.id).where(Staff.username == username))


def form_data(token: str, participants=(), needs=(), **over) -> list[tuple[str, str]]:
    data = [("csrf_token", token)] + [(k, v) for k, v in {**BASE_FORM, **over}.items()]
    data += [("participants", str(p)) for p in participants]
    for i, (cat, text) in enumerate(needs, 1):
        data += [(f"need_category_{i}", cat), (f"need_text_{i}", text)]
    return data


@pytest.fixture
async def desk(db_url, tmp_path):
    populate(db_url)  # the enterprises and staff of tests/unit/enterprise_file_helpers.py
    async with desk_client(db_url, tmp_path, clock=lambda: MOMENT) as client:
        yield client


@pytest.fixture
def colleague(desk):
    add_staff(desk.db, "xinxi_two", "第二专员", "fengxi-ws-xinxi")
    return staff_id(desk.db, "xinxi_two")


async def test_form_offers_own_node_and_colleagues(desk, colleague):
    await sign_in(desk, "xinxi_staff")
    r = await desk.get("/console/visits/new?enterprise=1")
    html = await r.text()
    assert r.status == 200 and "登记入企服务" in html and JIA in html
    assert re.findall(r'<option value="([^"]+)"[^>]*>[^<]*工作站</option>', html) == ["fengxi-ws-xinxi"]
    assert "第二专员" in html and "沣东专员" not in html
    assert 'name="need_category_5"' in html


async def test_recording_a_visit_raises_routed_tickets_and_shows_in_the_file(desk, colleague):
    token = await sign_in(desk, "xinxi_staff")
    me = staff_id(desk.db, "xinxi_staff")
    r = await desk.post(
        "/console/visits",
        data=form_data(
            token,
            participants=[me, colleague],
            needs=[("need_recruitment", "招聘二十名熟练焊工"), ("need_debt_financing", "申请技改贷款贴息约200万")],
        ),
        allow_redirects=False,
    )
    assert r.status == 303, await r.text()
    assert r.headers["Location"] == "/console/enterprises/1?done=visit"
    with read_sessions(desk.db)() as s:
        [v] = s.scalars(select(Visit)).all()
        people = s.scalars(select(VisitParticipant.staff_id).where(VisitParticipant.visit_id == v.id)).all()
        tickets = s.scalars(select(Ticket).where(Ticket.visit_id == v.id).order_by(Ticket.id)).all()
        audit = s.scalars(select(ConsoleAudit).where(ConsoleAudit.action == "visit_record")).all()
    assert (v.enterprise_id, v.node_id, v.staff_id, v.recorded_by, v.hosts) == (1, "fengxi-ws-xinxi", me, me, "张总")
    assert v.visited_at.astimezone(MOMENT.tzinfo).strftime("%Y-%m-%d %H:%M") == "2026-11-25 10:30"
    assert sorted(people) == sorted([me, colleague])
    assert [t.category for t in tickets] == ["need_recruitment", "need_debt_financing"]
    assert all(t.source_channel == "visit" and t.enterprise_id == 1 and t.status == "accepted" for t in tickets)
    assert tickets[0].node_id == "fengxi-ws-xinxi"  # routed by the rules from the enterprise's park
    assert len(audit) == 1 and audit[0].detail.startswith("[enterprise:1] ") and tickets[0].number in audit[0].detail
    # both tickets name the enterprise's host, one contact row (not one per ticket)
    assert tickets[0].contact_id == tickets[1].contact_id
    with read_sessions(desk.db)() as s:
        assert s.scalars(select(Contact.name).where(Contact.enterprise_id == 1).order_by(Contact.id)).all() == [
            "李春梅",
            "张总",
        ]
    page = await (await desk.get("/console/enterprises/1?done=visit")).text()
    assert "入企服务已登记" in page and f'data-visit="{v.id}"' in page
    assert "工作站专员、第二专员" in page and tickets[1].number in page
    assert "企业计划扩产" in page and "登记入企服务" in page
    # the month list of the node
    listed = await (await desk.get("/console/visits?month=2026-11")).text()
    assert f'data-visit="{v.id}"' in listed and "入企发现需求 <b>2</b> 件" in listed

    # the dispatch list of that day, the monthly summary and the node's scorecard count it
    d = dp.dispatch(desk.db, datetime(2026, 11, 25, 16, 0, tzinfo=MOMENT.tzinfo), node_ids={"fengxi-ws-xinxi"})
    [dv] = d["fengxi-ws-xinxi"].visits
    assert dv.staff == "工作站专员、第二专员" and set(dv.tickets) == {t.number for t in tickets} and not dv.planned
    assert "走访人：工作站专员、第二专员" in dp.node_text(d["fengxi-ws-xinxi"], d)
    summary = monthly_summary(desk.db, "2026-11", MOMENT)
    assert summary.visits == 1 and summary.visit_tickets == 2
    assert next(p for p in summary.performance if p.node_id == "fengxi-ws-xinxi").visits == 1
    sc = scorecard(desk.db, "2026-11", MOMENT)
    assert next(r for r in sc.rows if r.node_id == "fengxi-ws-xinxi").current.visits == 1


async def test_a_new_enterprise_is_created_from_the_form(desk):
    token = await sign_in(desk, "xinxi_staff")
    code = cc.generate()
    r = await desk.post(
        "/console/visits",
        data=form_data(
            token,
            participants=[staff_id(desk.db, "xinxi_staff")],
            enterprise_id="",
            enterprise_name="沣西新开张科技有限公司",
            credit_code=code,
            new_city="沣西",
            park="信息产业园",
            needs=[("need_policy_consult", "想了解高企认定条件")],
        ),
        allow_redirects=False,
    )
    assert r.status == 303, await r.text()
    with read_sessions(desk.db)() as s:
        ent = s.scalars(select(Enterprise).where(Enterprise.credit_code == code)).one()
        actions = [
            a.action
            for a in s.scalars(
                select(ConsoleAudit)
                .where(ConsoleAudit.detail.like(f"[enterprise:{ent.id}] %"))
                .order_by(ConsoleAudit.id)
            )
        ]
    assert ent.name == "沣西新开张科技有限公司" and ent.park == "信息产业园"
    assert r.headers["Location"] == f"/console/enterprises/{ent.id}?done=visit"
    assert actions == ["enterprise_create", "visit_record"]
    # typed again by name, the same enterprise is used (no second file)
    r = await desk.post(
        "/console/visits",
        data=form_data(
            token,
            participants=[staff_id(desk.db, "xinxi_staff")],
            enterprise_id="",
            enterprise_name="沣西新开张科技有限公司",
        ),
        allow_redirects=False,
    )
    assert r.headers["Location"] == f"/console/enterprises/{ent.id}?done=visit"


@pytest.mark.parametrize(
    "over, message",
    [
        (dict(node_id="fengdong"), "走访节点不在您可登记的范围内"),
        (dict(day="2026-11-26"), "晚于当前时间"),
        (dict(day="11/25"), "请填写正确的走访日期和时间"),
        (dict(enterprise_id="", enterprise_name=""), "请选择已有企业"),
        (dict(mobile="12345"), "手机号格式不正确"),
    ],
)
async def test_bad_visits_are_refused_with_the_form_again(desk, over, message):
    token = await sign_in(desk, "xinxi_staff")
    r = await desk.post(
        "/console/visits", data=form_data(token, participants=[staff_id(desk.db, "xinxi_staff")], **over)
    )
    html = await r.text()
    assert r.status == 400 and message in html and 'id="visit-form"' in html
    with read_sessions(desk.db)() as s:
        assert s.scalars(select(Visit)).all() == []


async def test_needs_and_participants_are_checked(desk):
    token = await sign_in(desk, "xinxi_staff")
    other = staff_id(desk.db, "fengdong_staff")
    r = await desk.post("/console/visits", data=form_data(token, participants=[other]))
    assert r.status == 400 and "走访人员只能从本节点" in await r.text()
    r = await desk.post("/console/visits", data=form_data(token, participants=[]))
    assert r.status == 400 and "请至少选择一位走访人员" in await r.text()
    r = await desk.post(
        "/console/visits",
        data=form_data(token, participants=[staff_id(desk.db, "xinxi_staff")], needs=[("", "没有类别的需求")]),
    )
    assert r.status == 400 and "需求 1：请选择需求类别" in await r.text()
    with read_sessions(desk.db)() as s:
        assert (
            s.scalars(select(Visit)).all() == []
            and s.scalars(select(Ticket).where(Ticket.source_channel == "visit")).all() == []
        )


async def test_an_enterprise_of_another_node_is_refused(desk):
    token = await sign_in(desk, "xinxi_staff")
    r = await desk.post(
        "/console/visits", data=form_data(token, participants=[staff_id(desk.db, "xinxi_staff")], enterprise_id="2")
    )
    assert r.status == 403 and "无权访问" in await r.text()
    r = await desk.get("/console/visits/new?enterprise=2")
    assert r.status == 403


async def test_recording_needs_the_csrf_token(desk):
    await sign_in(desk, "xinxi_staff")
    data = [(k, v) for k, v in form_data("wrong", participants=[staff_id(desk.db, "xinxi_staff")])]
    r = await desk.post("/console/visits", data=data)
    assert r.status == 403
    with read_sessions(desk.db)() as s:
        assert s.scalars(select(Visit)).all() == []


async def test_the_month_list_is_scoped(desk):
    from bot.visits import record_visit

    fd = staff_id(desk.db, "fengdong_staff")
    record_visit(
        desk.db, 2, fd, "fengdong", datetime(2026, 11, 20, 9, tzinfo=MOMENT.tzinfo), "走访乙", clock=lambda: MOMENT
    )
    await sign_in(desk, "xinxi_staff")
    html = await (await desk.get("/console/visits?month=2026-11")).text()
    assert YI not in html and "本月暂无入企服务记录" in html
    r = await desk.get("/console/visits?month=2026-11&node=fengdong")
    assert r.status == 403 and "无权访问" in await r.text()
    r = await desk.get("/console/visits?month=2026-13")
    assert r.status == 400
    desk.session.cookie_jar.clear()
    await sign_in(desk, "fengdong_staff")
    html = await (await desk.get("/console/visits?month=2026-11")).text()
    assert YI in html and "走访乙" in html and "沣东专员" in html
    html = await (await desk.get("/console/visits?month=2026-10")).text()
    assert YI not in html


async def test_a_lead_records_for_a_node_of_the_scope(desk):
    token = await sign_in(desk, "fengxi_lead")
    html = await (await desk.get("/console/visits/new")).text()
    assert 'value="fengxi-ws-xinxi"' in html and 'value="fengdong"' not in html
    r = await desk.post(
        "/console/visits",
        data=form_data(token, participants=[staff_id(desk.db, "fengxi_lead"), staff_id(desk.db, "xinxi_staff")]),
        allow_redirects=False,
    )
    assert r.status == 303, await r.text()


async def test_a_need_lands_in_the_visited_file_whatever_the_stored_spelling(desk):
    """A name stored with full-width brackets (as typed before names were normalised) is found by the ticket
    service after the visit brings it into normalised form; no second file is opened."""
    from sqlalchemy import func, update

    from bot.db import sessions

    with sessions(desk.db).begin() as s:
        s.execute(update(Enterprise).where(Enterprise.id == 1).values(name="沣西甲光电科技（西安）有限公司"))
    token = await sign_in(desk, "xinxi_staff")
    r = await desk.post(
        "/console/visits",
        data=form_data(
            token, participants=[staff_id(desk.db, "xinxi_staff")], needs=[("need_recruitment", "招聘十名装配工")]
        ),
        allow_redirects=False,
    )
    assert r.status == 303, await r.text()
    with read_sessions(desk.db)() as s:
        [t] = s.scalars(select(Ticket).where(Ticket.source_channel == "visit")).all()
        assert t.enterprise_id == 1 and s.get(Enterprise, 1).name == "沣西甲光电科技(西安)有限公司"
        assert s.scalar(select(func.count()).select_from(Enterprise)) == 3


async def test_profile_names_are_stored_as_the_ticket_service_finds_them(desk):
    token = await sign_in(desk, "xinxi_staff")
    r = await desk.post(
        "/console/enterprises/1/profile",
        data={**FORM, "csrf_token": token, "name": "ABC光電（西安）有限公司"},
        allow_redirects=False,
    )
    assert r.status == 303
    with read_sessions(desk.db)() as s:
        assert s.get(Enterprise, 1).name == "abc光电(西安)有限公司"
    r = await desk.post(
        "/console/visits",
        data=form_data(
            token, participants=[staff_id(desk.db, "xinxi_staff")], needs=[("need_recruitment", "招聘十名装配工")]
        ),
        allow_redirects=False,
    )
    with read_sessions(desk.db)() as s:
        [t] = s.scalars(select(Ticket).where(Ticket.source_channel == "visit")).all()
    assert t.enterprise_id == 1
