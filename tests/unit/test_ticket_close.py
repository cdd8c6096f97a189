"""办结 by staff and the status changes told to the enterprise (issue 13 item 8).

Closing needs a result, follows the lifecycle (a ticket nobody took is assigned to the member of staff closing
it first: 已受理 → 已分派 → 已办结) and sends the result with the rating request to the enterprise's
conversation; 办理中, 待补充 (with what is needed) and 无法办理 (with the reason) are told too, changes the
enterprise made itself are not.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.db import read_sessions
from bot.db.schema import Notification
from bot.staff.accounts import create_staff
from bot.tickets import lifecycle as lc
from bot.tickets.service import EnterpriseInput, TicketError, TicketService
from tests.clock import Clock

pytestmark = pytest.mark.desk

CST = timezone(timedelta(hours=8))


@pytest.fixture
def clock():
    return Clock(datetime(2026, 11, 25, 10, 0, tzinfo=CST))  # a Wednesday


@pytest.fixture
def svc(db_url, clock):
    return TicketService(db_url, clock=clock)


def open_one(svc, sender="web-close-1", category="need_recruitment", description="招聘二十名操作工"):
    return svc.open_ticket(
        category=category,
        description=description,
        enterprise=EnterpriseInput(name="西咸办结测试有限公司", new_city="沣西"),
        contact_name="王经理",
        mobile="13912345678",
        sender_id=sender,
        channel="web",
        conversation_id=sender,
    ).ticket


def told(url, ticket_id) -> list[tuple[str, str, str]]:
    with read_sessions(url)() as s:
        return [
            (n.kind, n.recipient, n.body)
            for n in s.scalars(
                select(Notification).where(Notification.ticket_id == ticket_id).order_by(Notification.id)
            )
        ]


def test_close_needs_a_result_and_assigns_an_untaken_ticket_to_the_closer(svc, db_url):
    staff = create_staff(db_url, "li", "李明", "fengxi", "staff", "Close-test-2026")
    t = open_one(svc)
    for empty in ("", "  ", "好"):
        with pytest.raises(TicketError, match="办理结果"):
            svc.close(t.number, "staff:li", empty, closer_id=staff.id)
    assert svc.get(t.number).status == lc.ACCEPTED and told(db_url, t.id) == []

    closed = svc.close(t.number, "staff:li", "已推荐三家人力资源机构，企业已对接", closer_id=staff.id)
    assert closed.status == lc.RESOLVED and closed.result == "已推荐三家人力资源机构，企业已对接"
    assert closed.assignee_id == staff.id and closed.first_response_at is not None
    trail = [(e.action, e.before, e.after) for e in svc.events(t.number)][1:]
    assert trail == [
        ("assign", None, str(staff.id)),
        ("status", '"accepted"', '"assigned"'),
        ("status", '"assigned"', '"resolved"'),
    ]
    [(kind, to, body)] = told(db_url, t.id)
    assert kind == "rating_request" and to == "sender:web-close-1"
    assert body.startswith(f"您的工单 {t.number}（招聘用工）已办结。办理结果：已推荐三家人力资源机构，企业已对接")
    assert "请为本次服务打分" in body
    with pytest.raises(lc.IllegalTransition):  # closed once: 办结 again is refused by the lifecycle
        svc.close(t.number, "staff:li", "再次办结", closer_id=staff.id)
    reopened = svc.transition(t.number, lc.IN_PROGRESS, "staff:li")
    assert reopened.result is None  # not shown as the result while it is being handled again
    assert any(e.note == "已推荐三家人力资源机构，企业已对接" for e in svc.events(t.number))


def test_close_keeps_the_assignee_and_records_the_redeemed_amount(svc, db_url):
    a = create_staff(db_url, "wang", "王芳", "window-district", "staff", "Close-test-2026")
    b = create_staff(db_url, "zhao", "赵磊", "window-district", "staff", "Close-test-2026")
    t = open_one(svc, sender="web-close-2", category="need_subsidy_redemption", description="申请研发费用奖补")
    svc.assign(t.number, None, a.id, "staff:wang")
    svc.transition(t.number, lc.IN_PROGRESS, "staff:wang")
    done = svc.close(
        t.number, "staff:zhao", "奖补资金已拨付到企业账户", closer_id=b.id, redeemed_amount=Decimal("120000.00")
    )
    assert done.assignee_id == a.id and done.redeemed_amount == Decimal("120000.00")
    with pytest.raises(lc.IllegalTransition):
        other = open_one(svc, sender="web-close-3")
        svc.close(other.number, "staff:zhao", "已办结", closer_id=b.id, redeemed_amount=Decimal("1"))
    assert svc.get(other.number).status == lc.ACCEPTED  # refused as a whole: not half closed


def test_status_changes_the_enterprise_should_know_reach_its_conversation(svc, db_url, clock):
    t = open_one(svc, sender="web-close-4")
    svc.assign(t.number, None, None, "staff:li")  # 已分派: internal, not told
    assert told(db_url, t.id) == []
    svc.transition(t.number, lc.IN_PROGRESS, "staff:li")
    svc.transition(t.number, lc.AWAITING_INFO, "staff:li", reason="近三个月的社保缴纳证明")
    clock.now += timedelta(hours=1)
    svc.add_info(t.number, "web-close-4", "已上传社保证明")  # the enterprise resumed it itself: not told
    svc.transition(t.number, lc.CANNOT_HANDLE, "staff:li", reason="该岗位不在本窗口服务范围")
    svc.transition(t.number, lc.IN_PROGRESS, "staff:li")  # reopened
    kinds_bodies = [(k, b) for k, _, b in told(db_url, t.id)]
    assert [k for k, _ in kinds_bodies] == ["status", "status_awaiting_info", "status", "status"]
    started, awaiting, cannot, reopened = (b for _, b in kinds_bodies)
    assert started.startswith(f"您的工单 {t.number}（招聘用工）已开始办理") and "前办结" in started
    assert "需要您补充：近三个月的社保缴纳证明" in awaiting and "发送图片或文件" in awaiting
    assert "暂无法办理。原因：该岗位不在本窗口服务范围" in cannot
    assert "已重新办理" in reopened
    assert all(len(b) <= 160 for _, b in kinds_bodies)  # concise


def test_a_ticket_without_a_conversation_is_closed_without_a_notification(svc, db_url):
    t = svc.open_ticket(
        category="need_recruitment",
        description="入企走访登记的招聘需求",
        enterprise=EnterpriseInput(name="走访企业有限公司"),
        contact_name="张三",
        mobile=None,
        sender_id=None,
        channel="visit",
    ).ticket
    svc.close(t.number, "staff:li", "已电话告知企业招聘会时间")
    assert told(db_url, t.id) == []


# ---- the console: 办结 in two steps, scoped, CSRF; the one-click route refuses 办结 -------------------------


async def test_console_close_confirms_first_and_is_scoped(db_url, tmp_path):
    import re

    from tests.unit.desk_helpers import TestDesk, add_staff, audit

    t = open_one(TicketService(db_url), sender="web-close-5")
    add_staff(db_url, "wang", "王芳", "fengxi")
    add_staff(db_url, "zhao", "赵磊", "fengdong")
    desk = TestDesk(db_url, tmp_path)
    try:
        wang, zhao = await desk.browser(), await desk.browser()
        assert (await wang.login("wang")).status == 302 and (await zhao.login("zhao")).status == 302
        page = await (await wang.client.get(f"/console/tickets/{t.number}")).text()
        assert 'id="close-form"' in page and 'name="target" value="resolved"' not in page  # no one-click 办结
        url = f"/console/tickets/{t.number}/close"
        one_click = await wang.post(f"/console/tickets/{t.number}/status", {"target": "resolved"})
        assert one_click.status == 400 and "办理结果" in await one_click.text()
        assert (await wang.post(url, {"result": " "})).status == 400
        assert (await wang.post(url, {"result": "已办好", "redeemed_amount": "12"})).status == 409  # not 政策兑现
        step = await wang.post(url, {"result": "已推荐三家人力资源机构"})
        text = await step.text()
        assert step.status == 200 and "确认办结" in text and 'id="close-preview"' in text
        assert "办理结果：已推荐三家人力资源机构" in text
        assert TicketService(db_url).get(t.number).status == lc.ACCEPTED  # nothing done before 确认
        assert told(db_url, t.id) == []
        refused = await zhao.post(url, {"result": "已推荐三家人力资源机构", "confirm": "1"})  # another node
        assert refused.status == 403
        no_csrf = await wang.post(url, {"result": "已推荐三家人力资源机构", "confirm": "1"}, token=False)
        assert no_csrf.status in (400, 403) and TicketService(db_url).get(t.number).status == lc.ACCEPTED
        done = await wang.post(
            url, {"result": "已推荐三家人力资源机构", "confirm": "1", "return_to": f"/console/tickets/{t.number}"}
        )
        assert done.status == 303 and done.headers["Location"].endswith("?done=closed")
        closed = TicketService(db_url).get(t.number)
        assert closed.status == lc.RESOLVED and closed.result == "已推荐三家人力资源机构"
        assert [k for k, _, _ in told(db_url, t.id)] == ["rating_request"]
        assert audit(db_url, "ticket_close")[-1].actor == "staff:wang"
        page = await (await wang.client.get(f"/console/tickets/{t.number}")).text()
        assert re.search(r'id="ticket-result">已推荐三家人力资源机构<', page)
        # 待补充 from the console needs what is needed
        other = open_one(TicketService(db_url), sender="web-close-6", description="招聘三名电工")
        r = await wang.post(f"/console/tickets/{other.number}/status", {"target": "awaiting_info"})
        assert r.status == 400 and "需要企业补充的内容" in await r.text()
        r = await wang.post(
            f"/console/tickets/{other.number}/status", {"target": "awaiting_info", "reason": "电工证复印件"}
        )
        assert r.status == 303 and "需要您补充：电工证复印件" in told(db_url, other.id)[-1][2]
    finally:
        await desk.close()


async def test_status_messages_reach_wecom_and_web_chat_through_the_notifier(db_url, tmp_path, monkeypatch):
    """The desk's notifier sends the rows on the conversation's own channel: WeCom through its channel sender
    (with the 补充信息 button), web chat into the history its page reads — internal notes never."""
    from bot.db import sessions
    from bot.db.schema import Conversation
    from bot.desk import gateway, notifier
    from tests.unit.desk_helpers import TestDesk

    pushed = []

    async def wecom(app, conversation_id, text, buttons):
        pushed.append((conversation_id, text, buttons))

    monkeypatch.setitem(gateway._CHANNEL_SENDERS, "wecom", wecom)
    with sessions(db_url).begin() as s:
        s.add(Conversation(id="wecom:zhangsan", channel="wecom", mode="bot", external_user="zhangsan"))
        s.add(Conversation(id="web-notify", channel="web", mode="bot"))
    svc = TicketService(db_url)
    wt = open_one(svc, sender="wecom:zhangsan", description="招聘两名电焊工")
    web = open_one(svc, sender="web-notify", description="招聘三名叉车司机")
    desk = TestDesk(db_url, tmp_path)
    try:
        await desk.browser()  # starts the app
        svc.transition(wt.number, lc.AWAITING_INFO, "staff:li", reason="营业执照照片")
        svc.close(web.number, "staff:li", "已推荐两家叉车司机培训学校")
        # delivered by this call, by the desk's own notifier loop (every 5 s), or one by each: the outcome
        # below is what counts, and that nothing is sent twice
        assert 0 <= await notifier.deliver_pending(desk.app) <= 2
        from bot.desk.messages import history

        closed = f"{web.number}（招聘用工）已办结。办理结果：已推荐两家叉车司机培训学校"
        deadline = asyncio.get_running_loop().time() + 15
        while asyncio.get_running_loop().time() < deadline and not (
            pushed and any(closed in (m["text"] or "") for m in history(db_url, "web-notify"))
        ):
            await asyncio.sleep(0.1)
        [(cid, text, buttons)] = pushed
        assert cid == "wecom:zhangsan" and "需要您补充：营业执照照片" in text
        assert buttons == [{"title": "补充信息", "payload": f"补充工单 {wt.number} 的信息"}]
        web_texts = [m["text"] for m in history(db_url, "web-notify")]
        assert any(f"{web.number}（招聘用工）已办结。办理结果：已推荐两家叉车司机培训学校" in x for x in web_texts)
        assert await notifier.deliver_pending(desk.app) == 0  # each once
    finally:
        await desk.close()
