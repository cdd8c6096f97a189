"""Custom actions called directly, as in RasaHQ/financial-demo: a Tracker built in the test, a CollectingDispatcher,
and the events checked — no Rasa server. The service objects are real: the knowledge base in knowledge/, the
network data and a fresh migrated SQLite database."""

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher


@pytest.fixture(autouse=True)
def fresh_services(action_services):
    """A fresh database and service caches for every test (tests/conftest.py)."""
    return action_services


def tracker(text, intent, confidence=0.9, slots=None, events=None, active_loop=None, requested_slot=None):
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": intent, "confidence": confidence}],
    }
    slots = dict(slots or {})
    if requested_slot:
        slots["requested_slot"] = requested_slot
    return Tracker(
        "act-test",
        slots,
        parse,
        (events or []) + [{"event": "user", "text": text, "parse_data": parse}],
        False,
        None,
        {"name": active_loop} if active_loop else {},
        "action_listen",
    )


def slot_events(events):
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def run(action, t):
    from actions import actions as _  # noqa: F401 - registers the action module

    d = CollectingDispatcher()
    events = await action.run(d, t, {})
    return d, events


async def test_a_question_is_answered_and_its_topic_kept():
    from actions.actions import ActionHandleNeed

    d, events = await run(ActionHandleNeed(), tracker("高企认定对研发费用占比有什么要求", "need_qualification"))
    body = "\n".join(m.get("text") or "" for m in d.messages)
    assert "5%" in body and "国科发火〔2016〕32号" in body
    slots = slot_events(events)
    assert slots["kb_context"]["entry_id"] == "hnte-recognition" and slots["ticket_category"] == "need_qualification"
    assert not any(e.get("event") == "followup" for e in events)


async def test_a_request_with_details_starts_the_form_with_them_filled():
    from actions.actions import ActionHandleNeed

    text = "我叫李娜，手机 138 0000 1234，西安云图生物科技有限公司，在空港新城，需要找律所做股权架构梳理，请安排一下"
    d, events = await run(ActionHandleNeed(), tracker(text, "need_professional_services"))
    slots = slot_events(events)
    assert slots["enterprise_name"] == "西安云图生物科技有限公司" and slots["contact_mobile"] == "13800001234"
    assert slots["contact_name"] == "李娜" and slots["ticket_location"] == "空港新城"
    assert slots["need_description"] == text and slots["ticket_category"] == "need_professional_services"
    assert {"event": "followup", "name": "ticket_form"}.items() <= next(
        e for e in events if e.get("event") == "followup"
    ).items()


async def test_the_confirmation_step_takes_typed_answers():
    from actions.ticket_form import ValidateTicketForm

    form = ValidateTicketForm()
    base = {
        "enterprise_name": "西安甲乙科技有限公司",
        "contact_name": "王磊",
        "contact_mobile": "13912345678",
        "ticket_location": "沣西新城",
        "need_description": "想申请知识产权质押贷款",
    }

    def at_confirm(text):
        return tracker(text, "affirm", slots=base, active_loop="ticket_form", requested_slot="ticket_confirm")

    d = CollectingDispatcher()
    assert form.validate_ticket_confirm("确认无误，提交", d, at_confirm("确认无误，提交"), {}) == {
        "ticket_confirm": "yes",
        "form_misses": 0,
    }
    fixed = form.validate_ticket_confirm(
        "手机号写错了，是13800001111", d, at_confirm("手机号写错了，是13800001111"), {}
    )
    assert fixed["contact_mobile"] == "13800001111" and fixed["ticket_confirm"] is None
    described = form.validate_ticket_confirm(
        "需求描述改成：帮我们找律所，公司50人", d, at_confirm("需求描述改成：帮我们找律所，公司50人"), {}
    )
    assert described["need_description"].startswith("帮我们找律所") and "enterprise_name" not in described


async def test_two_unrecognised_answers_offer_a_person():
    from actions.ticket_form import ValidateTicketForm

    form, d = ValidateTicketForm(), CollectingDispatcher()
    first = form.validate_contact_mobile("不知道", d, tracker("不知道", "deny", requested_slot="contact_mobile"), {})
    assert first["form_misses"] == 1
    second = form.validate_contact_mobile(
        "随便", d, tracker("随便", "deny", slots={"form_misses": 1}, requested_slot="contact_mobile"), {}
    )
    assert second["form_misses"] == 2
    last = d.messages[-1]
    assert "还是没能识别" in last["text"] and any(b["payload"] == "/request_human" for b in last["buttons"])


async def test_a_what_question_after_an_answer_is_answered_not_taken_as_no():
    """ "哪些行业不行？" after the 加计扣除 answer: the classifier says deny (不行), but it asks which industries."""
    from actions.actions import ActionAffirmDeny, ActionHandleNeed

    first, events = await run(ActionHandleNeed(), tracker("加计扣除现在是百分之多少", "need_policy_consult"))
    slots = slot_events(events)
    bot = [{"event": "action", "name": "action_handle_need"}] + [
        {"event": "bot", "text": m.get("text")} for m in first.messages
    ]
    d, _ = await run(ActionAffirmDeny(), tracker("哪些行业不行？", "deny", confidence=0.9, slots=slots, events=bot))
    body = "\n".join(m.get("text") or "" for m in d.messages)
    assert "烟草" in body and "反馈已记录" not in body, body
    # a plain "不行" is still feedback on that answer
    d, _ = await run(ActionAffirmDeny(), tracker("没帮助", "deny", slots=slots, events=bot))
    assert "反馈已记录" in d.messages[0]["text"]
