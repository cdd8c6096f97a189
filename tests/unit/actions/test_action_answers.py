"""The answering actions (actions/actions.py, the turn they hand over to in actions/turn.py) called directly:
action_handle_need, action_nlu_fallback, action_out_of_scope, action_complain, action_capabilities,
action_affirm_deny.

Real knowledge base (knowledge/), a fresh service database per test; the questions are stored in kb_queries.
"""

from rasa_sdk.events import ActionExecuted, ConversationPaused, SlotSet

from bot.knowledge import log as kb_log
from tests.unit.actions.helpers import bot_turn, followups, payloads, responses, said, slot_events, texts, tracker

FEEDBACK = ["/affirm", "/deny", "/open_ticket"]
PAUSED = [ConversationPaused(), ActionExecuted("action_listen")]


def handover_message(dispatcher) -> dict:
    """The custom message that tells the desk the conversation now waits for staff."""
    return next(m["custom"]["handover"] for m in dispatcher.messages if (m.get("custom") or {}).get("handover"))


# ---- action_handle_need ----------------------------------------------------------------------------


async def test_handle_need_answers_a_question_with_its_citation_and_stores_it(dispatcher, domain, db):
    from actions.actions import ActionHandleNeed

    events = await ActionHandleNeed().run(dispatcher, tracker("高企认定需要什么条件", "need_qualification"), domain)

    assert "注册成立一年以上" in texts(dispatcher)[0] and "国科发火〔2016〕32号" in texts(dispatcher)[0]
    assert payloads(dispatcher)[-3:] == FEEDBACK  # was it helpful / register a need
    slots = slot_events(events)
    asked = kb_log.questions(db, "unit-sender")
    assert [(q.text, q.decision, q.category) for q in asked] == [
        ("高企认定需要什么条件", "answer", "need_qualification")
    ]
    assert slots["kb_query_id"] == asked[0].id and slots["kb_unknown"] is False
    assert slots["kb_context"]["entry_id"] == "hnte-recognition"
    assert slots["ticket_category"] == "need_qualification" and slots["ticket_seed"] == "高企认定需要什么条件"
    assert slots["user_statement"] == "高企认定需要什么条件"
    assert followups(events) == []  # an answer, not a registration


async def test_handle_need_registers_a_request_and_starts_the_form_with_the_details_given(dispatcher, domain):
    from actions.actions import ActionHandleNeed

    text = "我是西安云图生物科技有限公司的李娜，电话13800001234，请安排专员帮我们对接一家律所做股权架构梳理"
    events = await ActionHandleNeed().run(dispatcher, tracker(text, "need_professional_services"), domain)

    slots = slot_events(events)
    assert slots["enterprise_name"] == "西安云图生物科技有限公司" and slots["contact_mobile"] == "13800001234"
    assert slots["ticket_category"] == "need_professional_services" and slots["need_description"] == text
    assert slots["ticket_confirm"] is None and slots["form_misses"] == 0
    assert followups(events) == ["ticket_form"] and events[-1]["name"] == "ticket_form"
    assert "随时说「取消」" in said(dispatcher) or "登记" in said(dispatcher)


async def test_handle_need_from_a_category_button_uses_what_the_user_said_before(dispatcher, domain):
    """ "/need_space" is a button: the need is the statement kept from the user's previous message."""
    from actions.actions import ActionHandleNeed

    t = tracker("/need_space", "need_space", slots={"user_statement": "想在沣西找500平米实验室"})
    events = await ActionHandleNeed().run(dispatcher, t, domain)

    slots = slot_events(events)
    assert slots["ticket_category"] == "need_space" and slots["ticket_seed"] == "想在沣西找500平米实验室"
    assert slots["ticket_location"] == "沣西新城"
    assert "user_statement" not in slots  # a payload is never taken for the user's words
    assert "实验室" in texts(dispatcher)[0]


async def test_handle_need_from_a_button_with_nothing_said_before_asks_for_the_need(dispatcher, domain, db):
    """ "/need_space" clicked first thing: the category is known, the description must still be asked."""
    from actions.actions import ActionHandleNeed

    events = await ActionHandleNeed().run(dispatcher, tracker("/need_space", "need_space"), domain)

    assert "「场地入驻」类" in said(dispatcher)
    slots = slot_events(events)
    assert slots["ticket_category"] == "need_space" and slots["need_description"] is None
    assert "user_statement" not in slots and followups(events) == ["ticket_form"]
    # nothing was asked: no empty question in kb_queries (the monthly figures count every row as a question)
    assert kb_log.questions(db, "unit-sender") == []


# ---- action_nlu_fallback ---------------------------------------------------------------------------


async def test_nlu_fallback_first_miss_offers_registration_and_a_person(dispatcher, domain, db):
    from actions.actions import ActionNluFallback

    events = await ActionNluFallback().run(dispatcher, tracker("啊啊啊哦哦哦", "nlu_fallback", confidence=0.2), domain)

    assert "暂时没有确切答案" in said(dispatcher) and payloads(dispatcher) == ["/open_ticket", "/request_human"]
    assert slot_events(events) == {"kb_unknown": True, "kb_query_id": None, "user_statement": "啊啊啊哦哦哦"}
    assert [q.decision for q in kb_log.questions(db, "unit-sender")] == ["unknown"]


async def test_nlu_fallback_second_miss_in_a_row_hands_over_to_staff(dispatcher, domain, db):
    from actions.actions import ActionNluFallback
    from bot import handover

    t = tracker("啊啊啊哦哦哦", "nlu_fallback", confidence=0.2, slots={"kb_unknown": True})
    events = await ActionNluFallback().run(dispatcher, t, domain)

    assert texts(dispatcher)[0].startswith("抱歉，我还是没能找到您要的答案")
    assert handover_message(dispatcher)["reason"] == "fallback"
    assert events[-2:] == PAUSED
    h = handover.open_for(db, "unit-sender")
    assert h is not None and h.reason == "fallback" and h.id == handover_message(dispatcher)["id"]


async def test_nlu_fallback_understands_a_question_the_classifier_could_not_place(dispatcher, domain):
    from actions.actions import ActionNluFallback

    events = await ActionNluFallback().run(
        dispatcher, tracker("你们窗口周末上班吗", "nlu_fallback", confidence=0.3), domain
    )

    assert "周末和法定节假日休息" in texts(dispatcher)[0]
    assert slot_events(events)["kb_unknown"] is False and ConversationPaused() not in events


# ---- action_out_of_scope ---------------------------------------------------------------------------


async def test_out_of_scope_says_what_the_window_does(dispatcher, domain):
    from actions.actions import ActionOutOfScope

    events = await ActionOutOfScope().run(dispatcher, tracker("今天天气怎么样", "out_of_scope"), domain)

    assert responses(dispatcher) == ["utter_out_of_scope"]
    assert slot_events(events)["kb_unknown"] is True and followups(events) == []


async def test_out_of_scope_that_the_knowledge_base_answers_is_answered(dispatcher, domain):
    from actions.actions import ActionOutOfScope

    events = await ActionOutOfScope().run(dispatcher, tracker("你们窗口周末上班吗", "out_of_scope"), domain)

    assert responses(dispatcher) == [] and "周末和法定节假日休息" in texts(dispatcher)[0]
    assert slot_events(events)["kb_context"]["entry_id"] == "window-office-hours"


# ---- action_complain -------------------------------------------------------------------------------


async def test_complain_acknowledges_and_hands_over_as_a_complaint(dispatcher, domain, db):
    from actions.actions import ActionComplain
    from bot import handover

    t = tracker("你们服务太差了，打了三次电话都没人接", "complain")
    events = await ActionComplain().run(dispatcher, t, domain)

    assert responses(dispatcher) == ["utter_complain_ack"]
    assert handover_message(dispatcher)["reason"] == "complaint" and events[-2:] == PAUSED
    assert handover.open_for(db, "unit-sender").reason == "complaint"


async def test_complain_that_is_really_a_question_is_answered_without_a_handover(dispatcher, domain, db):
    from actions.actions import ActionComplain
    from bot import handover

    events = await ActionComplain().run(dispatcher, tracker("听说你们有个即日办，具体是什么意思", "complain"), domain)

    assert "即日办" in texts(dispatcher)[0] and "utter_complain_ack" not in responses(dispatcher)
    assert ConversationPaused() not in events and handover.open_for(db, "unit-sender") is None


# ---- action_capabilities ---------------------------------------------------------------------------


async def test_capabilities_lists_the_services(dispatcher, domain):
    from actions.actions import ActionCapabilities

    events = await ActionCapabilities().run(dispatcher, tracker("你们能办什么", "ask_capabilities"), domain)

    assert responses(dispatcher) == ["utter_capabilities"] and events == []


async def test_capabilities_button_and_empty_text_list_the_services(domain):
    from rasa_sdk.executor import CollectingDispatcher

    from actions.actions import ActionCapabilities

    for text in ("/ask_capabilities", ""):
        d = CollectingDispatcher()
        assert await ActionCapabilities().run(d, tracker(text, "ask_capabilities"), domain) == []
        assert responses(d) == ["utter_capabilities"]


async def test_capabilities_answers_a_question_the_classifier_took_for_it(dispatcher, domain):
    """ "五个新城服务中心在哪里" is a question the knowledge base answers, not "what can you do"."""
    from actions.actions import ActionCapabilities

    t = tracker("五个新城服务中心在哪里", "ask_capabilities")
    events = await ActionCapabilities().run(dispatcher, t, domain)

    assert responses(dispatcher) == [] and "沣东、沣西、秦汉、空港、泾河" in texts(dispatcher)[0]
    assert slot_events(events)["kb_context"]["entry_id"] == "window-locations"


# ---- action_affirm_deny ----------------------------------------------------------------------------


async def _answered(domain):
    """An answered question: the slots and history events a following "有帮助/没帮助" sees."""
    from rasa_sdk.executor import CollectingDispatcher

    from actions.actions import ActionHandleNeed

    d = CollectingDispatcher()
    events = await ActionHandleNeed().run(d, tracker("高企认定需要什么条件", "need_qualification"), domain)
    history = [{"event": "user", "text": "高企认定需要什么条件"}] + bot_turn("action_handle_need", d.messages)
    return slot_events(events), history


async def test_affirm_after_an_answer_records_that_it_helped(dispatcher, domain, db):
    from actions.actions import ActionAffirmDeny

    slots, history = await _answered(domain)
    t = tracker("/affirm", "affirm", slots=slots, events=history)
    events = await ActionAffirmDeny().run(dispatcher, t, domain)

    assert texts(dispatcher) == ["感谢您的反馈！还有其他问题随时问我。"]
    assert events == [SlotSet("kb_query_id", None)]
    assert [q.helpful for q in kb_log.questions(db, "unit-sender")] == [True]


async def test_deny_after_an_answer_records_it_and_offers_a_person(dispatcher, domain, db):
    from actions.actions import ActionAffirmDeny

    slots, history = await _answered(domain)
    events = await ActionAffirmDeny().run(dispatcher, tracker("没帮助", "deny", slots=slots, events=history), domain)

    assert "反馈已记录" in said(dispatcher) and payloads(dispatcher) == ["/request_human"]
    assert events == [SlotSet("kb_query_id", None)]
    assert [q.helpful for q in kb_log.questions(db, "unit-sender")] == [False]


async def test_affirm_and_deny_without_an_answer_before_are_plain_acknowledgements(domain, db):
    from rasa_sdk.executor import CollectingDispatcher

    from actions.actions import ActionAffirmDeny
    from actions.wording import ACK_NO, ACK_YES

    for text, intent, reply in (("好的", "affirm", ACK_YES), ("不用了", "deny", ACK_NO)):
        d = CollectingDispatcher()
        # a query id left in the slot from long ago: the message before was no answer, so it is no feedback
        t = tracker(
            text,
            intent,
            slots={"kb_query_id": 99},
            events=[{"event": "user", "text": "你好"}] + bot_turn("utter_greet", [{"text": "您好！"}]),
        )
        assert await ActionAffirmDeny().run(d, t, domain) == []
        assert texts(d) == [reply]
    assert kb_log.questions(db, "unit-sender") == []


async def test_a_follow_up_question_taken_for_a_no_is_answered_not_recorded(dispatcher, domain, db):
    from actions.actions import ActionAffirmDeny

    slots, history = await _answered(domain)
    t = tracker("那需要准备哪些材料？", "deny", slots=slots, events=history)
    await ActionAffirmDeny().run(dispatcher, t, domain)

    assert "反馈已记录" not in said(dispatcher)
    assert kb_log.questions(db, "unit-sender")[0].helpful is None


async def test_verification_request_goes_to_verification_whatever_the_intent(dispatcher, domain):
    from actions.actions import ActionAffirmDeny

    events = await ActionAffirmDeny().run(dispatcher, tracker("验证", "affirm"), domain)

    assert events == [] and "还没有在这里登记过企业" in said(dispatcher)
