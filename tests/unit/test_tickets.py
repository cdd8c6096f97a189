"""The ticket service on a real database: opening, routing, dedup, lifecycle, SLA, rating."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bot.tickets import lifecycle as lc
from bot.tickets.service import EnterpriseInput, TicketError, TicketService, normalise_mobile
from tests.clock import Clock

CST = timezone(timedelta(hours=8))


@pytest.fixture
def clock():
    return Clock(datetime(2026, 11, 25, 10, 0, tzinfo=CST))  # a Wednesday, working day


@pytest.fixture
def svc(db_url, clock):
    return TicketService(db_url, clock=clock)


def open_one(
    svc,
    sender="wx-1",
    category="need_debt_financing",
    description="想申请知识产权质押贷款，额度500万",
    name="西安光启芯科技有限公司",
    park=None,
    new_city=None,
    mobile="139 1234 5678",
):
    return svc.open_ticket(
        category=category,
        description=description,
        enterprise=EnterpriseInput(name=name, park=park, new_city=new_city),
        contact_name="王经理",
        mobile=mobile,
        sender_id=sender,
        channel="web",
    )


def test_open_ticket_number_route_deadlines_and_audit(svc, clock):
    res = open_one(svc, new_city="沣西")
    t = res.ticket
    assert t.number == "QCY-20261125-0001" and not res.linked
    assert res.node.id == "fengxi" and t.status == lc.ACCEPTED
    assert t.service_content == "科技金融"
    # 即日办: first response by the end of the same working day (17:30 Beijing)
    assert t.first_response_due.astimezone(CST) == datetime(2026, 11, 25, 17, 30, tzinfo=CST)
    assert t.resolution_due > t.first_response_due
    events = svc.events(t.number)
    assert [e.action for e in events] == ["created"]
    assert "沣西" in events[0].note
    assert (
        open_one(svc, sender="wx-2", name="另一家公司", description="担保贷款咨询").ticket.number == "QCY-20261125-0002"
    )


def test_park_routes_to_its_workstation_and_default_is_the_centre(svc):
    from bot.network import load_network

    ws = load_network().parks()[0]
    assert open_one(svc, park=ws.park, new_city=ws.new_city).node.id == ws.id
    assert open_one(svc, sender="wx-9", name="无园区公司").node.id == "centre"


def test_returning_user_profile_is_remembered(svc):
    assert svc.profile("wx-1") is None
    open_one(svc, new_city="沣东")
    p = svc.profile("wx-1")
    assert p.enterprise_name == "西安光启芯科技有限公司" and p.contact_name == "王经理"
    assert p.mobile == "13912345678" and p.new_city == "沣东"


def test_similar_need_within_seven_days_is_linked_not_duplicated(svc, clock):
    first = open_one(svc).ticket
    clock.advance(days=2)
    again = open_one(svc, description="知识产权质押贷款，想问下进度，额度500万")
    assert again.linked and again.ticket.number == first.number
    assert [e.action for e in svc.events(first.number)] == ["created", "add_info"]
    other = open_one(svc, description="想了解科技保险保费补贴")  # same category, different need
    assert not other.linked
    clock.advance(days=8)
    later = open_one(svc)
    assert not later.linked and later.ticket.number != first.number


def test_lifecycle_refuses_illegal_transitions_with_a_clear_message(svc):
    t = open_one(svc).ticket
    with pytest.raises(lc.IllegalTransition, match="已受理.*已评价"):
        svc.transition(t.number, lc.RATED, "staff:li")
    with pytest.raises(lc.IllegalTransition, match="原因"):
        svc.transition(t.number, lc.CANNOT_HANDLE, "staff:li")
    svc.transition(t.number, lc.CANNOT_HANDLE, "staff:li", reason="不属于本窗口职责")
    assert svc.get(t.number).reason == "不属于本窗口职责"
    svc.transition(t.number, lc.IN_PROGRESS, "staff:li")  # reopen
    assert svc.get(t.number).status == lc.IN_PROGRESS


def test_awaiting_info_pauses_the_clock_and_extends_the_deadline(svc, clock):
    t = open_one(svc).ticket
    due = t.resolution_due
    svc.transition(t.number, lc.IN_PROGRESS, "staff:li")
    clock.advance(hours=1)
    svc.transition(t.number, lc.AWAITING_INFO, "staff:li")
    clock.advance(days=1)  # Thu 11:00: 7 working hours paused
    t2 = svc.add_info(t.number, "wx-1", "营业执照和专利证书已上传")
    assert t2.status == lc.IN_PROGRESS
    assert t2.paused_working_seconds == 7 * 3600
    assert t2.resolution_due - due >= timedelta(hours=7)
    svc.transition(t.number, lc.RESOLVED, "staff:li")
    done = svc.get(t.number)
    # 25 Nov 10:00 → 26 Nov 11:00 is 8 working hours, of which 7 were paused
    assert done.resolution_wsecs == 3600
    assert done.first_response_wsecs == 0


def test_rating_unsatisfied_reopens_and_flags_followup(svc):
    t = open_one(svc).ticket
    with pytest.raises(TicketError, match="办结后才能评价"):
        svc.rate(t.number, "wx-1", 5)
    svc.transition(t.number, lc.RESOLVED, "staff:li")
    svc.rate(t.number, "wx-1", 2, "没解决问题")
    t2 = svc.get(t.number)
    assert t2.status == lc.IN_PROGRESS and t2.followup_required
    actions = [e.action for e in svc.events(t.number)]
    assert actions[-3:] == ["rating", "status", "followup"]


def test_enterprise_sees_only_its_own_tickets(svc):
    mine = open_one(svc).ticket
    theirs = open_one(svc, sender="wx-other", name="别人的公司", description="人才公寓申请").ticket
    assert [t.number for t, _ in svc.tickets_for_sender("wx-1")] == [mine.number]
    with pytest.raises(TicketError, match="没有找到"):
        svc.add_info(theirs.number, "wx-1", "我来捣乱")
    assert svc.tickets_for_sender("nobody") == []


def test_redeemed_amount_only_for_policy_redemption(svc):
    t = open_one(svc, category="need_subsidy_redemption", description="高企认定奖励什么时候到账").ticket
    svc.transition(t.number, lc.RESOLVED, "staff:li", redeemed_amount=Decimal("200000.00"))
    assert svc.get(t.number).redeemed_amount == Decimal("200000.00")
    other = open_one(svc, sender="wx-5", name="公司五", description="贷款贴息").ticket
    with pytest.raises(lc.IllegalTransition):
        svc.transition(other.number, lc.RESOLVED, "staff:li", redeemed_amount=Decimal("1"))


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("13912345678", "13912345678"),
        ("139 1234 5678", "13912345678"),
        ("+86-139-1234-5678", "13912345678"),
        ("１３９１２３４５６７８", "13912345678"),
    ],
)
def test_mobile_numbers_are_normalised(raw, expected):
    assert normalise_mobile(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "23912345678", "139123456789", "电话", ""])
def test_bad_mobile_numbers_are_refused(raw):
    with pytest.raises(TicketError, match="手机号"):
        normalise_mobile(raw)


def _concurrent_openings(url, n=50):
    svc = TicketService(url)
    numbers, errors = [], []

    def work(i):
        try:
            r = svc.open_ticket(
                category="need_space",
                description=f"需要{i}号实验室场地",
                enterprise=EnterpriseInput(name=f"并发测试企业{i}"),
                contact_name="张三",
                mobile="13800000000",
                sender_id=f"conc-{i}",
            )
            numbers.append(r.ticket.number)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return numbers, errors


def test_fifty_concurrent_openings_get_fifty_distinct_numbers(db_url):
    from sqlalchemy import func, select

    from bot.db import read_sessions
    from bot.db.schema import Ticket

    url = db_url
    numbers, errors = _concurrent_openings(url)
    assert not errors, errors[:3]
    assert len(numbers) == 50 and len(set(numbers)) == 50
    with read_sessions(url)() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 50


def test_credit_code_is_validated_and_normalised(svc):
    import random

    from bot.tickets.credit_code import generate

    code = generate(random.Random(7))
    r = svc.open_ticket(
        category="need_space",
        description="需要办公场地",
        enterprise=EnterpriseInput(name="信用代码测试公司", credit_code=code.lower()),
        contact_name="赵六",
        mobile=None,
        sender_id="cc-1",
    )
    assert r.ticket.number
    broken = code[:-1] + ("0" if code[-1] != "0" else "1")
    with pytest.raises(TicketError):
        svc.open_ticket(
            category="need_space",
            description="需要办公场地",
            enterprise=EnterpriseInput(name="另一家", credit_code=broken),
            contact_name="赵六",
            mobile=None,
            sender_id="cc-2",
        )


def test_the_ticket_a_chat_message_means():
    from types import SimpleNamespace

    from bot.tickets.chat import ticket_meant

    a, b = SimpleNamespace(number="QCY-20261125-0002"), SimpleNamespace(number="QCY-20261124-0007")
    assert ticket_meant([a, b], "补充工单 qcy-20261124-0007 的信息") is b  # named (any case)
    assert ticket_meant([a, b], "评价 QCY-20260101-0001") is None  # names another one
    assert ticket_meant([a, b], "非常满意") is a  # unnamed: the newest
    assert ticket_meant([a, b], "补充信息", only_if_single=True) is None  # unclear which
    assert ticket_meant([b], "补充信息", only_if_single=True) is b
    assert ticket_meant([], "非常满意") is None


def test_the_ticket_list_in_the_chat_shows_the_result_of_a_closed_ticket():
    """「我的工单」: a closed ticket shows what was done (staff must write a result when closing), shortened."""
    from types import SimpleNamespace

    from bot.tickets import chat

    done = SimpleNamespace(
        number="QCY-20261125-0001",
        category="need_debt_financing",
        status=lc.RESOLVED,
        result="已对接长安银行科技贷，额度300万元已获批。" + "后续跟进说明" * 30,
    )
    line = chat.ticket_line(1, done, "沣西新城服务中心")
    assert "办理结果：已对接长安银行科技贷" in line and line.endswith("…")
    assert len(line.split("办理结果：")[1]) == chat.RESULT_CHARS + 1
    open_ = SimpleNamespace(number="QCY-20261125-0002", category="need_space", status=lc.IN_PROGRESS, result=None)
    assert "办理结果" not in chat.ticket_line(2, open_, "沣西新城服务中心")
