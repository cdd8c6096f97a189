"""Identity before access through the real Rasa and action servers (issue 16): two chats claim the same
company; the second sees none of the first's tickets until staff confirm it as a contact of the enterprise.
No SMS provider is configured in the test stacks, so 「验证」 says staff verify."""

import uuid

import pytest

from bot.tickets.identity import IdentityService
from bot.tickets.service import TicketService

pytestmark = pytest.mark.e2e

COMPANY = "西安验明科技有限公司"


def texts(replies):
    return "\n".join(r.get("text") or "" for r in replies)


def sender():
    return f"id-{uuid.uuid4().hex[:8]}"


def register(any_stack, who, name, mobile, place):
    summary = texts(
        any_stack.say(f"我叫{name}，手机 {mobile}，{COMPANY}，在{place}，需要找律所做股权架构梳理，请安排一下", who)
    )
    assert "请确认需求登记信息" in summary and COMPANY in summary, summary
    done = texts(any_stack.say("确认无误，提交", who))
    assert "工单号 QCY-" in done, done
    return done.split("工单号 ")[1].split("。")[0]


def test_a_second_chat_claiming_the_same_company_sees_its_tickets_only_after_staff_confirm_it(any_stack):
    db = any_stack.settings.effective_database_url
    first, second = sender(), sender()
    number_a = register(any_stack, first, "李娜", "138 0000 1234", "空港新城")
    number_b = register(any_stack, second, "赵强", "139 0000 5678", "沣西新城")
    assert number_b != number_a
    mine = any_stack.say("我的工单", second)
    body = texts(mine)
    assert number_b in body and number_a not in body and "回复「验证」" in body, body
    assert any(b["payload"] == "验证" for r in mine for b in r.get("buttons", []))
    assert TicketService(db).get(number_b).node_id == "fengxi"  # routed by what the second chat stated

    body = texts(any_stack.say("验证", second))
    assert "服务专员核实确认" in body, body

    IdentityService(db).verify_by_staff(second, "e2e")
    body = texts(any_stack.say("我的工单", second))
    assert number_a in body and number_b in body and "回复「验证」" not in body, body
