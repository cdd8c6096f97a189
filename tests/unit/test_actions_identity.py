"""The chat side of identity before access (issue 16), actions called directly as in test_actions.py: a second
chat claiming the same company sees, rates and completes none of the first's tickets; "验证" sends a code to
the mobile on file and the typed code verifies; without an SMS provider the chat says staff verify."""

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from bot.tickets import lifecycle as lc
from bot.tickets.identity import IdentityService
from bot.tickets.service import EnterpriseInput
from tests.conftest import fresh_sqlite

COMPANY = "西安光启芯科技有限公司"


class FakeSms:
    name = "fake"

    def __init__(self):
        self.sent = []

    def send_code(self, mobile, code):
        self.sent.append((mobile, code))


@pytest.fixture(autouse=True)
def fresh_services(tmp_path, monkeypatch):
    url = fresh_sqlite(tmp_path / "svc.db")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.delenv("SMS_PROVIDER", raising=False)
    for cached in (services.settings, services.tickets, services.identity):
        cached.cache_clear()
    yield
    for cached in (services.settings, services.tickets, services.identity):
        getattr(cached, "cache_clear", lambda: None)()  # identity may be the test's own (sms fixture)


@pytest.fixture
def sms(monkeypatch):
    fake = FakeSms()
    ids = IdentityService(services.db_url(), sms=fake)
    monkeypatch.setattr(services, "identity", lambda: ids)
    return fake


def tracker(sender, text, intent="nlu_fallback"):
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "intent_ranking": [{"name": intent, "confidence": 0.9}],
    }
    return Tracker(
        sender, {}, parse, [{"event": "user", "text": text, "parse_data": parse}], False, None, {}, "action_listen"
    )


async def run(action, t):
    from actions import actions as _  # noqa: F401 - registers the action module

    d = CollectingDispatcher()
    events = await action.run(d, t, {})
    return "\n".join(m.get("text") or "" for m in d.messages), d.messages, events


def open_for(sender, mobile, description="想申请知识产权质押贷款，额度500万"):
    return (
        services.tickets()
        .open_ticket(
            category="need_debt_financing",
            description=description,
            enterprise=EnterpriseInput(name=COMPANY),
            contact_name="王经理",
            mobile=mobile,
            sender_id=sender,
            channel="web",
        )
        .ticket
    )


async def test_a_second_chat_sees_rates_and_completes_none_of_the_first_chats_tickets(sms):
    from actions.tickets import ActionRateTicket, ActionStartAddInfo, ActionTicketStatus

    first = open_for("chat-a", "13912345678")
    services.tickets().transition(first.number, lc.RESOLVED, "staff:li")
    mine = open_for("chat-b", "13800001111", description="人才公寓怎么申请")
    body, messages, _ = await run(ActionTicketStatus(), tracker("chat-b", "我的工单", "ask_ticket_status"))
    assert mine.number in body and first.number not in body
    assert "回复「验证」" in body and {"title": "验证企业联系人身份", "payload": "验证"} in messages[0]["buttons"]
    body, _, _ = await run(ActionRateTicket(), tracker("chat-b", f"非常不满意 {first.number}", "rate_service"))
    assert body == f"没有找到您名下待评价的工单 {first.number}。"
    assert services.tickets().get(first.number).status == lc.RESOLVED
    assert not services.tickets().get(first.number).followup_required
    body, messages, events = await run(
        ActionStartAddInfo(), tracker("chat-b", f"补充工单 {first.number} 的信息", "add_ticket_info")
    )
    assert all(e.get("value") != first.number for e in events)  # no add-info form for it
    assert first.number not in body + str(messages)


async def test_verify_by_code_typed_in_the_chat(sms):
    from actions.actions import ActionNluFallback
    from actions.tickets import ActionTicketStatus

    first = open_for("chat-a", "13912345678")
    services.identity().verify_by_staff("chat-a", "li")
    open_for("chat-b", "13800001111", description="人才公寓怎么申请")
    body, _, _ = await run(ActionNluFallback(), tracker("chat-b", "验证"))
    assert "139****5678" in body and "5分钟" in body
    code = sms.sent[-1][1]
    wrong = "000000" if code != "000000" else "111111"
    body, _, _ = await run(ActionNluFallback(), tracker("chat-b", wrong))
    assert "不正确" in body and "4次" in body
    body, _, _ = await run(ActionNluFallback(), tracker("chat-b", f"验证码是{code}"))
    assert "验证成功" in body and COMPANY in body
    body, _, _ = await run(ActionTicketStatus(), tracker("chat-b", "我的工单", "ask_ticket_status"))
    assert first.number in body and "回复「验证」" not in body
    body, _, _ = await run(ActionNluFallback(), tracker("chat-b", code))  # replay: nothing pending any more
    assert "验证成功" not in body


async def test_without_a_provider_the_chat_says_staff_verify():
    from actions.actions import ActionNluFallback

    open_for("chat-b", "13800001111")
    body, messages, _ = await run(ActionNluFallback(), tracker("chat-b", "我要验证身份"))
    assert "服务专员核实确认" in body and messages[0]["buttons"]
    body, _, _ = await run(ActionNluFallback(), tracker("chat-new", "验证"))
    assert "还没有在这里登记过企业" in body


async def test_six_digits_without_a_pending_code_are_not_taken_for_one(sms):
    from actions.verification import verification_turn

    open_for("chat-b", "13800001111")
    assert verification_turn(CollectingDispatcher(), tracker("chat-b", "123456")) is None
