"""政策体检 actions called directly (as tests/unit/test_actions.py): a Tracker, a CollectingDispatcher, the events;
real rules (knowledge/policies), a fresh migrated SQLite database."""

from datetime import datetime, timezone

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.db import sessions
from bot.db.schema import Contact, Enterprise


@pytest.fixture(autouse=True)
def fresh_services(action_services):
    """A fresh database and service caches for every test (tests/conftest.py)."""
    return action_services


def tracker(
    text, intent="policy_check", slots=None, active_loop=None, requested_slot=None, entities=None, sender="pc-test"
):
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "intent_ranking": [{"name": intent, "confidence": 0.9}],
        "entities": entities or [],
    }
    slots = dict(slots or {})
    if requested_slot:
        slots["requested_slot"] = requested_slot
    return Tracker(
        sender,
        slots,
        parse,
        [{"event": "user", "text": text, "parse_data": parse}],
        False,
        None,
        {"name": active_loop} if active_loop else {},
        "action_listen",
    )


def slot_events(events):
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def texts(d):
    return "\n".join(m.get("text") or "" for m in d.messages)


async def run(action, t):
    d = CollectingDispatcher()
    events = await action.run(d, t, {})
    return d, events


def answer(form, text, slots):
    d = CollectingDispatcher()
    out = form.validate_policy_answer(
        text,
        d,
        tracker(text, "inform", slots=slots, active_loop="policy_check_form", requested_slot="policy_answer"),
        {},
    )
    return d, out


async def test_a_check_asks_only_for_missing_figures_and_reuses_earlier_ones():
    from actions.actions import ActionPolicyCheckStart
    from actions.policy_check import ActionAskPolicyAnswer

    d, events = await run(
        ActionPolicyCheckStart(), tracker("我们能评高企吗", slots={"company_facts": {"employees": 60, "tech_staff": 9}})
    )
    slots = slot_events(events)
    assert slots["policy_check_state"]["focus"] == ["hnte"]
    assert slots["policy_check_state"]["asked"] == ["founded"]  # staff figures known: not asked
    assert {"event": "followup", "name": "policy_check_form"}.items() <= events[-1].items()
    assert "职工60人" in texts(d)
    d2, _ = await run(ActionAskPolicyAnswer(), tracker("", slots=slots))
    assert "哪一年" in texts(d2)


async def test_answers_skip_and_result():
    from actions.policy_check import ActionPolicyCheckResult, ValidatePolicyCheckForm

    form = ValidatePolicyCheckForm()
    state = {"focus": ["hnte"], "asked": ["founded"], "skipped": [], "asked_in": "我们能评高企吗"}
    facts = {"employees": 60, "tech_staff": 9}
    _, out = answer(form, "2019年成立的", {"company_facts": facts, "policy_check_state": state})
    assert out["policy_answer"] is None and out["company_facts"]["founded_year"] == 2019
    assert (
        out["policy_check_state"]["asked"][-1] == "money" and "近三个会计年度" in out["policy_check_state"]["question"]
    )
    # not understood once: asked again; then "跳过" moves on (the check gives need_more_info for it)
    d, again = answer(
        form, "这个嘛", {"company_facts": out["company_facts"], "policy_check_state": out["policy_check_state"]}
    )
    assert again["policy_answer"] is None and "跳过" in texts(d)
    _, out2 = answer(
        form, "不清楚", {"company_facts": out["company_facts"], "policy_check_state": again["policy_check_state"]}
    )
    assert "money" in out2["policy_check_state"]["skipped"]
    assert out2["policy_check_state"]["asked"][-1] == "ip"
    # "没有" to a question it cannot answer is a skip too (not asked again)
    _, none = answer(form, "没有", {"company_facts": facts, "policy_check_state": state})
    assert "founded" in none["policy_check_state"]["skipped"]
    # cancel ends the form with a marker the result action understands
    _, cancelled = answer(form, "取消", {"company_facts": facts, "policy_check_state": state})
    assert cancelled == {"policy_answer": "cancelled"}
    d, events = await run(ActionPolicyCheckResult(), tracker("取消", slots={"policy_answer": "cancelled"}))
    assert "已退出政策体检" in texts(d)


async def test_the_result_lines_buttons_and_ticket_slots():
    from actions.policy_check import ActionPolicyCheckResult

    facts = {
        "employees": 60,
        "tech_staff": 9,
        "years_since_founding": 3,
        "invention_patents": 5,
        "revenue_years": {"2023": 8e6, "2024": 1.2e7, "2025": 1.5e7},
        "rd_expense_years": {"2023": 6e5, "2024": 9e5, "2025": 2e6},
        "rd_domestic_share": 1.0,
        "hightech_revenue_share": 0.8,
    }
    state = {"focus": ["hnte"], "asked": ["shares"], "skipped": [], "asked_in": "我们能评高企吗"}
    d, events = await run(
        ActionPolicyCheckResult(),
        tracker("80%", slots={"policy_answer": "done", "company_facts": facts, "policy_check_state": state}),
    )
    body = texts(d)
    assert "✓ 高新技术企业认定" in body and "创新能力评价：需专家评估" in body and "依据：国科发火〔2016〕32号" in body
    buttons = d.messages[-1]["buttons"]
    assert buttons[0]["payload"] == '/policy_register{"policy":"hnte"}' and buttons[-1]["payload"] == "/request_human"
    slots = slot_events(events)
    assert slots["ticket_category"] == "need_qualification" and "高企认定" in slots["ticket_seed"]
    assert slots["policy_check_state"] is None


async def test_register_button_starts_the_ticket_form_with_the_category():
    from actions.policy_check import ActionPolicyRegister

    d, events = await run(
        ActionPolicyRegister(),
        tracker(
            '/policy_register{"policy":"small_low_profit"}',
            intent="policy_register",
            entities=[{"entity": "policy", "value": "small_low_profit"}],
            slots={"company_facts": {"employees": 20, "total_assets": 1e7, "taxable_income": 1e6}},
        ),
    )
    slots = slot_events(events)
    assert slots["ticket_category"] == "need_policy_consult"
    assert "小微企业所得税优惠" in slots["need_description"] and "职工20人" in slots["need_description"]
    assert events[-1]["name"] == "ticket_form"


async def test_figures_are_saved_to_a_verified_enterprise_and_prefill_the_next_check(fresh_services):
    from actions.actions import ActionPolicyCheckStart
    from actions.policy_check import ActionPolicyCheckResult
    from bot.tickets import figures

    url = fresh_services
    with sessions(url)() as s, s.begin():
        e = Enterprise(name="西安测试科技有限公司")
        s.add(e)
        s.flush()
        s.add(
            Contact(
                enterprise_id=e.id,
                name="李娜",
                sender_id="verified-1",
                verified_at=datetime.now(timezone.utc),
                verified_by="staff:admin",
            )
        )
        s.add(Contact(enterprise_id=e.id, name="张三", sender_id="unverified-1"))
        eid = e.id
    facts = {"employees": 60, "tech_staff": 9}
    await run(
        ActionPolicyCheckResult(),
        tracker(
            "60人",
            slots={"policy_answer": "done", "company_facts": facts, "policy_check_state": {}},
            sender="verified-1",
        ),
    )
    saved, sources = figures.load(url, eid)
    assert (
        saved == facts
        and sources["employees"]["by"] == "verified-1"
        and sources["employees"]["via"].startswith("chat:")
    )
    # the next check of the verified contact starts from them; an unverified one neither sees nor writes them
    _, events = await run(ActionPolicyCheckStart(), tracker("政策体检", sender="verified-1"))
    assert slot_events(events)["company_facts"]["employees"] == 60
    _, events = await run(ActionPolicyCheckStart(), tracker("政策体检", sender="unverified-1"))
    assert "employees" not in slot_events(events)["company_facts"]
    await run(
        ActionPolicyCheckResult(),
        tracker(
            "x",
            slots={"policy_answer": "done", "company_facts": {"employees": 5}, "policy_check_state": {}},
            sender="unverified-1",
        ),
    )
    assert figures.load(url, eid)[0]["employees"] == 60


async def test_a_need_message_with_figures_asking_for_a_check_starts_it():
    from actions.actions import ActionHandleNeed

    d, events = await run(
        ActionHandleNeed(), tracker("我们50个人，营收两千万，研发三百万，能评高企吗", intent="need_qualification")
    )
    slots = slot_events(events)
    assert slots["company_facts"]["employees"] == 50 and slots["company_facts"]["rd_expense"] == 3e6
    assert slots["policy_check_state"]["focus"] == ["hnte"] and events[-1]["name"] == "policy_check_form"
    assert "职工50人" in texts(d)


async def test_contact_details_left_for_a_person_register_instead():
    from actions.actions import ActionPolicyCheckStart

    text = "帮我们看看能享受哪些政策，西安某某数据科技有限公司，联系人李娜，13912345678，请专员联系"
    _, events = await run(ActionPolicyCheckStart(), tracker(text))
    slots = slot_events(events)
    assert "policy_check_state" not in slots
    assert any(e.get("name") == "ticket_form" for e in events if e.get("event") == "followup")


async def test_a_requirement_question_the_classifier_called_a_check_is_answered_and_the_check_offered():
    from actions.actions import ActionPolicyCheckStart

    text = "我们成立五年了，去年营收3000万，研发投入400万，想问下我们这种情况申请高企，研发费用占比要达到多少？"
    d, events = await run(ActionPolicyCheckStart(), tracker(text))
    assert "5%" in texts(d) and "policy_check_state" not in slot_events(events)
    assert d.messages[-1]["buttons"] == [{"title": "按我们的数字做政策体检", "payload": "/policy_check"}]
    assert slot_events(events)["company_facts"]["revenue"] == 3e7
    # the button starts the check from the figures already given
    _, started = await run(
        ActionPolicyCheckStart(),
        tracker("/policy_check", slots={"company_facts": slot_events(events)["company_facts"]}),
    )
    assert slot_events(started)["company_facts"]["rd_expense"] == 4e6
    assert started[-1]["name"] == "policy_check_form"


async def test_a_follow_up_question_taken_for_a_yes_is_answered():
    """The retrained classifier reads "那税率呢" as affirm (0.91): it is a follow-up to the answer just given."""
    from actions.actions import ActionAffirmDeny

    context = {
        "entry_id": "small-low-profit-enterprise",
        "faq_id": "small-low-profit-enterprise-conditions",
        "question": "什么样的企业算小型微利企业",
        "category": "need_policy_consult",
    }
    d, _ = await run(ActionAffirmDeny(), tracker("那税率呢", intent="affirm", slots={"kb_context": context}))
    body = texts(d)
    assert "请告诉我您想办理或咨询的具体事项" not in body and ("5%" in body or "20%" in body), body
    d, _ = await run(ActionAffirmDeny(), tracker("好的", intent="affirm"))
    assert "请告诉我您想办理或咨询的具体事项" in texts(d)
