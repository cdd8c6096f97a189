"""政策体检 actions (actions/policy_check.py; action_policy_check_start is in actions/actions.py) called directly:
action_policy_check_start, action_ask_policy_answer, validate_policy_check_form, action_policy_check_result,
action_policy_register. Real rules (knowledge/policies)."""

import pytest
from rasa_sdk.events import FollowupAction, SlotSet

from bot import handover
from tests.unit.actions.helpers import followups, form_tracker, kinds, payloads, said, slot_events, texts, tracker

FORM = "policy_check_form"
HNTE_FACTS = {
    "employees": 60,
    "tech_staff": 9,
    "years_since_founding": 3,
    "invention_patents": 5,
    "revenue_years": {"2023": 8e6, "2024": 1.2e7, "2025": 1.5e7},
    "rd_expense_years": {"2023": 6e5, "2024": 9e5, "2025": 2e6},
    "rd_domestic_share": 1.0,
    "hightech_revenue_share": 0.8,
}


async def answer(domain, text, slots):
    """One answer in the check's form: the dispatcher and the slots the validation set."""
    from rasa_sdk.executor import CollectingDispatcher

    from actions.policy_check import ValidatePolicyCheckForm

    d = CollectingDispatcher()
    events = await ValidatePolicyCheckForm().run(d, form_tracker(text, FORM, "policy_answer", slots=slots), domain)
    return d, slot_events(events)


# ---- action_policy_check_start ---------------------------------------------------------------------


async def test_start_asks_the_first_missing_figure(dispatcher, domain):
    from actions.actions import ActionPolicyCheckStart
    from actions.wording import CHECK_INTRO

    events = await ActionPolicyCheckStart().run(dispatcher, tracker("我们能评高企吗", "policy_check"), domain)

    assert texts(dispatcher) == [CHECK_INTRO]
    state = slot_events(events)["policy_check_state"]
    assert state["focus"] == ["hnte"] and state["asked"] == ["staff"] and state["asked_in"] == "我们能评高企吗"
    assert events[-2:] == [SlotSet("policy_answer", None), FollowupAction(FORM)]


async def test_start_from_the_button_uses_only_the_figures_already_known(dispatcher, domain):
    from actions.actions import ActionPolicyCheckStart

    t = tracker("/policy_check", "policy_check", slots={"company_facts": {"employees": 60}})
    events = await ActionPolicyCheckStart().run(dispatcher, t, domain)

    assert "已记下：职工60人" in texts(dispatcher)[0]
    slots = slot_events(events)
    assert slots["company_facts"] == {"employees": 60} and slots["policy_check_state"]["asked_in"] == ""
    assert followups(events) == [FORM]


async def test_start_with_every_figure_known_shows_the_result_at_once(dispatcher, domain):
    from actions.actions import ActionPolicyCheckStart

    t = tracker(
        "/policy_check", "policy_check", slots={"company_facts": HNTE_FACTS, "user_statement": "我们能评高企吗"}
    )
    events = await ActionPolicyCheckStart().run(dispatcher, t, domain)

    assert "✓ 高新技术企业认定" in said(dispatcher) and followups(events) == []
    assert slot_events(events)["policy_check_state"] is None


async def test_start_on_a_plain_question_answers_it_without_a_check(dispatcher, domain):
    from actions.actions import ActionPolicyCheckStart

    events = await ActionPolicyCheckStart().run(
        dispatcher, tracker("什么样的企业算小型微利企业", "policy_check"), domain
    )

    assert "policy_check_state" not in slot_events(events) and followups(events) == []
    assert "/policy_check" not in payloads(dispatcher)  # no figures: no check offered
    assert slot_events(events)["kb_context"]["entry_id"] == "small-low-profit-enterprise"


# ---- action_ask_policy_answer ----------------------------------------------------------------------


async def test_the_question_is_the_one_the_validation_chose(dispatcher, domain):
    from actions.policy_check import ActionAskPolicyAnswer

    state = {"focus": ["hnte"], "asked": ["founded"], "question": "贵企业是哪一年成立的？"}
    events = await ActionAskPolicyAnswer().run(dispatcher, tracker("", slots={"policy_check_state": state}), domain)

    assert events == [] and texts(dispatcher) == ["贵企业是哪一年成立的？"]


async def test_without_a_state_the_question_falls_back_to_the_staff_one(dispatcher, domain):
    from actions.policy_check import ActionAskPolicyAnswer
    from bot.dialogue import policy_check as pc

    for state in (None, "garbled"):
        dispatcher.messages.clear()
        await ActionAskPolicyAnswer().run(dispatcher, tracker("", slots={"policy_check_state": state}), domain)
        assert texts(dispatcher) == [pc.BY_KEY["staff"].text]


# ---- validate_policy_check_form --------------------------------------------------------------------

STATE = {"focus": ["hnte"], "asked": ["founded"], "skipped": [], "asked_in": "我们能评高企吗"}
FACTS = {"employees": 60, "tech_staff": 9}


async def test_an_answer_with_the_figure_moves_to_the_next_question(domain):
    d, slots = await answer(domain, "2019年成立的", {"company_facts": FACTS, "policy_check_state": STATE})

    assert d.messages == [] and slots["policy_answer"] is None
    assert slots["company_facts"]["founded_year"] == 2019 and slots["company_facts"]["employees"] == 60
    assert slots["policy_check_state"]["asked"] == ["founded", "money"]


async def test_an_answer_without_a_figure_is_asked_again_once_then_skipped(domain):
    d, slots = await answer(domain, "这个嘛", {"company_facts": FACTS, "policy_check_state": STATE})
    assert slots == {"policy_answer": None, "policy_check_state": {**STATE, "retried": True}}
    assert "没能从这句话里读出数字" in said(d)

    d, slots = await answer(
        domain, "这个嘛", {"company_facts": FACTS, "policy_check_state": {**STATE, "retried": True}}
    )
    assert "founded" in slots["policy_check_state"]["skipped"] and d.messages == []


@pytest.mark.parametrize("text, marker", [("取消", "cancelled"), ("转人工", "handover")])
async def test_cancel_and_a_person_end_the_check(text, marker, domain):
    d, slots = await answer(domain, text, {"company_facts": FACTS, "policy_check_state": STATE})

    assert slots == {"policy_answer": marker} and d.messages == []


async def test_the_last_answer_ends_the_form(domain):
    facts = {k: v for k, v in HNTE_FACTS.items() if k != "hightech_revenue_share"}
    state = {"focus": ["hnte"], "asked": ["shares"], "skipped": [], "asked_in": "我们能评高企吗"}
    _, slots = await answer(domain, "高新技术产品收入占80%", {"company_facts": facts, "policy_check_state": state})

    assert slots["policy_answer"] == "done" and slots["company_facts"]["hightech_revenue_share"] == 0.8


# ---- action_policy_check_result --------------------------------------------------------------------


async def test_the_result_names_what_fits_and_offers_to_register_it(dispatcher, domain):
    from actions.policy_check import ActionPolicyCheckResult

    state = {"focus": ["hnte"], "asked": ["shares"], "skipped": [], "asked_in": "我们能评高企吗"}
    t = tracker("80%", slots={"policy_answer": "done", "company_facts": HNTE_FACTS, "policy_check_state": state})
    events = await ActionPolicyCheckResult().run(dispatcher, t, domain)

    assert "✓ 高新技术企业认定" in said(dispatcher) and "国科发火〔2016〕32号" in said(dispatcher)
    assert (
        payloads(dispatcher)[0] == '/policy_register{"policy":"hnte"}' and payloads(dispatcher)[-1] == "/request_human"
    )
    slots = slot_events(events)
    assert (
        slots["company_facts"] == HNTE_FACTS and slots["policy_check_state"] is None and slots["policy_answer"] is None
    )
    assert slots["ticket_category"] == "need_qualification" and slots["ticket_seed"] == slots["user_statement"]


async def test_the_result_of_a_cancelled_check_keeps_the_figures(dispatcher, domain):
    from actions.policy_check import ActionPolicyCheckResult

    t = tracker("取消", slots={"policy_answer": "cancelled", "company_facts": FACTS, "policy_check_state": STATE})
    events = await ActionPolicyCheckResult().run(dispatcher, t, domain)

    assert texts(dispatcher) == ["好的，已退出政策体检。您说过的数字我先记着，想继续时说「政策体检」就行。"]
    assert events == [SlotSet("policy_check_state", None), SlotSet("policy_answer", None)]


async def test_the_result_when_a_person_was_asked_for_hands_over(dispatcher, domain, db):
    from actions.policy_check import ActionPolicyCheckResult

    t = tracker("转人工", slots={"policy_answer": "handover", "company_facts": FACTS, "policy_check_state": STATE})
    events = await ActionPolicyCheckResult().run(dispatcher, t, domain)

    assert texts(dispatcher)[0] == "好的，正在为您转接服务专员。"
    assert events[:2] == [SlotSet("policy_check_state", None), SlotSet("policy_answer", None)]
    assert kinds(events)[-2:] == ["pause", "action"]
    h = handover.open_for(db, "unit-sender")
    assert (h.reason, h.category) == ("request_human", "need_policy_consult")


async def test_the_result_with_no_figures_at_all_still_answers(dispatcher, domain):
    from actions.policy_check import ActionPolicyCheckResult

    events = await ActionPolicyCheckResult().run(dispatcher, tracker("跳过", slots={"policy_answer": "done"}), domain)

    assert texts(dispatcher) and payloads(dispatcher)[-1] == "/request_human"
    assert slot_events(events)["company_facts"] == {} and "ticket_category" not in slot_events(events)


# ---- action_policy_register ------------------------------------------------------------------------


async def test_register_from_a_result_button_starts_the_form_with_the_policy(dispatcher, domain):
    from actions.policy_check import ActionPolicyRegister

    t = tracker(
        '/policy_register{"policy":"hnte"}',
        "policy_register",
        entities=[{"entity": "policy", "value": "hnte"}],
        slots={"company_facts": HNTE_FACTS},
    )
    events = await ActionPolicyRegister().run(dispatcher, t, domain)

    assert texts(dispatcher) == ["好的，我来帮您登记需求，由服务专员跟进办理。随时说「取消」可退出登记。"]
    slots = slot_events(events)
    assert slots["ticket_category"] == "need_qualification" and "高企认定" in slots["need_description"]
    assert slots["user_statement"] == slots["need_description"]
    assert events[-1] == FollowupAction("ticket_form")


async def test_register_without_a_policy_uses_the_need_kept_from_the_result(dispatcher, domain):
    from actions.policy_check import ActionPolicyRegister

    t = tracker(
        "/policy_register",
        "policy_register",
        slots={"ticket_category": "need_qualification", "ticket_seed": "想申报高企，职工60人"},
    )
    events = await ActionPolicyRegister().run(dispatcher, t, domain)

    slots = slot_events(events)
    assert slots["ticket_category"] == "need_qualification" and slots["need_description"] == "想申报高企，职工60人"
    assert followups(events) == ["ticket_form"]


async def test_register_with_an_unknown_policy_falls_back_to_policy_consulting(dispatcher, domain):
    from actions.policy_check import ActionPolicyRegister

    t = tracker(
        '/policy_register{"policy":"nonsense"}', "policy_register", entities=[{"entity": "policy", "value": "nonsense"}]
    )
    events = await ActionPolicyRegister().run(dispatcher, t, domain)

    assert slot_events(events)["ticket_category"] == "need_policy_consult"
    assert followups(events) == ["ticket_form"]
