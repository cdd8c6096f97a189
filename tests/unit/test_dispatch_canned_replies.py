"""Canned replies compute their deadline from office hours and working days (never 「今天下班前」 at
1 a.m. on a Saturday) and greet the enterprise by name — in the module and on the console's page.

Calendar facts (chinese-calendar): 2026-12-03 is a Thursday, 12-05/06 a weekend, 10-01…10-07 the
National Day holiday; office hours 09:00–12:00, 13:30–17:30 (bot/service_data/sla.yml).
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot import handover as ho
from bot.db import sessions
from bot.db.schema import Conversation, Message
from bot.tickets import canned
from bot.tickets.service import EnterpriseInput, TicketService
from tests.unit.desk_helpers import add_staff, desk_client, sign_in

pytestmark = pytest.mark.desk

CST = ZoneInfo("Asia/Shanghai")


def bj(mo, d, h, mi=0) -> datetime:
    return datetime(2026, mo, d, h, mi, tzinfo=CST)


def texts(now, **kw) -> dict[str, str]:
    return {r["id"]: r["text"] for r in canned.offered(now, **kw)}


@pytest.mark.parametrize(
    "now, promised, next_start",
    [
        (bj(12, 3, 1), "今天（12月3日）17:30前", "今天（12月3日）9:00"),  # 1 a.m. on a working day
        (bj(12, 3, 12, 30), "今天（12月3日）17:30前", "今天（12月3日）13:30"),  # lunch break
        (bj(12, 3, 18), "明天（12月4日）17:30前", "明天（12月4日）9:00"),  # after hours
        (bj(12, 4, 18), "12月7日（星期一）17:30前", "12月7日（星期一）9:00"),  # Friday evening
        (bj(12, 5, 1), "12月7日（星期一）17:30前", "12月7日（星期一）9:00"),  # Saturday 1 a.m.
        (bj(10, 1, 10), "10月8日（星期四）17:30前", "10月8日（星期四）9:00"),  # National Day
    ],
)
def test_the_deadline_follows_office_hours_and_working_days(now, promised, next_start):
    t = texts(now)
    assert f"我们会在{promised}联系您" in t["need_contact"]
    assert f"在{promised}给您首次答复" in t["ticket_created"]
    assert f"{next_start}上班后" in t["out_of_hours"]
    assert not any("今天下班前" in x or "{" in x for x in t.values())


def test_the_tickets_own_deadline_and_the_enterprise_name():
    now = bj(12, 3, 18)
    due = bj(12, 3, 17, 30)  # passed: the reply promises what a need arriving now gets
    assert "明天（12月4日）17:30前" in texts(now, first_response_due=due)["ticket_created"]
    later = bj(12, 7, 17, 30)  # the ticket's outstanding deadline is kept
    assert "12月7日（星期一）17:30前" in texts(now, first_response_due=later)["ticket_created"]
    assert texts(now, enterprise="西安星火光电科技有限公司")["greeting"].startswith("西安星火光电科技有限公司您好，")
    assert texts(now)["greeting"].startswith("您好，")
    # right whether or not the chat can carry files: send them, or describe them, or bring them
    assert "可直接在对话中发送图片或文件，或用文字说明材料内容" in texts(now)["need_materials"]
    assert "邮箱" not in texts(now)["need_materials"]
    with pytest.raises(ValueError):
        canned.render("{答复时限}", now=datetime(2026, 12, 3, 18))


def test_ticket_variables_are_filled_and_offered_only_with_a_ticket():
    now = bj(12, 3, 18)
    assert "ticket_progress" not in texts(now)  # no ticket: a reply needing one is left out
    t = texts(
        now, enterprise="西安星火光电科技有限公司", ticket_number="QCY-20261203-0007", resolution_due=bj(12, 10, 17, 30)
    )
    assert t["ticket_progress"] == (
        "西安星火光电科技有限公司您好，您的工单 QCY-20261203-0007 正在办理中，"
        "我们会在12月10日（星期四）前办结并在对话中告诉您结果，期间如需补充材料会及时联系您。"
    )
    assert "明天（12月4日）前" in texts(now, ticket_number="QCY-1", resolution_due=bj(12, 4, 17, 30))["ticket_progress"]


def test_unknown_variables_and_bad_entries_are_refused():
    with pytest.raises(canned.CannedError, match="「x」.*未知的变量：截止时间"):
        canned.parse({"replies": [{"id": "x", "title": "t", "text": "请在{截止时间}前"}]})
    with pytest.raises(canned.CannedError, match="缺少"):
        canned.parse({"replies": [{"id": "y", "title": "t"}]})
    with pytest.raises(canned.CannedError, match="重复"):
        canned.parse({"replies": [{"id": "z", "title": "t", "text": "a"}, {"id": "z", "title": "t", "text": "b"}]})
    with pytest.raises(canned.CannedError, match="括号不成对"):
        canned.parse({"replies": [{"id": "w", "title": "t", "text": "请在{答复时限前"}]})


async def test_the_console_offers_the_computed_replies(db_url, tmp_path):
    add_staff(db_url, "li", "李明", "fengxi")
    with sessions(db_url).begin() as s:
        s.add(Conversation(id="web-canned", channel="web", mode="bot"))
        s.flush()
        s.add(Message(conversation_id="web-canned", direction="in", author="user", text="周末找人工"))
    saturday = bj(12, 5, 1)
    TicketService(db_url, clock=lambda: saturday).open_ticket(
        category="need_talent_living",
        description="想申请人才公寓，请问需要什么材料",
        enterprise=EnterpriseInput(name="西安星火光电科技有限公司", new_city="沣西"),
        contact_name="王经理",
        mobile="13912345678",
        sender_id="web-canned",
        channel="rest",
        conversation_id="web-canned",
    )
    ho.start_handover(db_url, "web-canned", "request_human", node_id="fengxi", channel="web", now=saturday)

    async with desk_client(db_url, tmp_path, clock=lambda: saturday) as client:
        await sign_in(client, "li")
        r = await client.get("/console/conversations/web-canned")
        assert r.status == 200
        offered = [html.unescape(v) for v in re.findall(r'<option value="([^"]+)">', await r.text())]
    assert any("我们会在12月7日（星期一）17:30前联系您" in o for o in offered), offered
    assert any(o.startswith("西安星火光电科技有限公司您好，") for o in offered)
    assert not any("今天下班前" in o or "{" in o for o in offered)
    progress = next(o for o in offered if "正在办理中" in o)  # the ticket's number and deadline
    assert re.search(r"您的工单 QCY-20261205-\d{4} 正在办理中，我们会在\d+月\d+日（星期.）前办结", progress), progress
