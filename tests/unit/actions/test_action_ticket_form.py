"""The registration form (actions/ticket_form.py) called directly: action_start_ticket, validate_ticket_form,
action_ask_ticket_confirm, action_submit_ticket — and a whole registration driven step by step as Rasa drives
the form, typed confirmation and a correction included, that opens exactly one ticket."""

from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from bot.db import read_sessions
from bot.db.schema import Ticket
from bot.tickets import lifecycle as lc
from bot.tickets.service import EnterpriseInput
from tests.unit.actions.helpers import form_tracker, kinds, payloads, said, slot_events, texts, tracker

FORM = "ticket_form"
FILLED = {
    "need_description": "想申请知识产权质押贷款，额度500万左右",
    "enterprise_name": "西安甲乙科技有限公司",
    "contact_name": "王磊",
    "contact_mobile": "13912345678",
    "ticket_location": "沣西新城",
    "ticket_category": "need_debt_financing",
}
RESET = [
    SlotSet(s, None) for s in ("need_description", "ticket_confirm", "ticket_category", "ticket_seed", "user_statement")
] + [SlotSet("form_misses", 0)]


def tickets(db) -> list[Ticket]:
    with read_sessions(db)() as s:
        return list(s.scalars(select(Ticket).order_by(Ticket.id)))


def ticket_count(db) -> int:
    with read_sessions(db)() as s:
        return s.execute(select(func.count(Ticket.id))).scalar_one()


def open_earlier(services, sender="unit-sender"):
    """A ticket the sender registered before (so the window knows its enterprise and contact)."""
    return (
        services.tickets()
        .open_ticket(
            category="need_space",
            description="想在沣西找500平米实验室",
            enterprise=EnterpriseInput(name="西安光启芯科技有限公司", new_city="沣西"),
            contact_name="王经理",
            mobile="13800001111",
            sender_id=sender,
            channel="web",
        )
        .ticket
    )


async def validate(domain, text, requested, slots=None, events=()):
    """One answer in the form: what the bot said and the slots the validation set."""
    from actions.ticket_form import ValidateTicketForm

    d = CollectingDispatcher()
    out = await ValidateTicketForm().run(d, form_tracker(text, FORM, requested, slots=slots, events=events), domain)
    return d, slot_events(out)


# ---- action_start_ticket ---------------------------------------------------------------------------


async def test_start_ticket_opens_the_form_for_the_need_discussed_last(dispatcher, domain):
    from actions.ticket_form import ActionStartTicket

    t = tracker(
        "帮我登记一下需求",
        "open_ticket",
        slots={"ticket_category": "need_space", "user_statement": "想在沣西找500平米实验室"},
    )
    events = await ActionStartTicket().run(dispatcher, t, domain)

    assert texts(dispatcher) == ["好的，我来帮您登记需求，由服务专员跟进办理。随时说「取消」可退出登记。"]
    assert events == [
        SlotSet("ticket_category", "need_space"),
        SlotSet("ticket_confirm", None),
        SlotSet("need_description", "想在沣西找500平米实验室"),
        SlotSet("form_misses", 0),
        FollowupAction(FORM),
    ]


async def test_start_ticket_takes_the_need_a_long_message_states(dispatcher, domain):
    from actions.ticket_form import ActionStartTicket

    text = "请安排专员对接一下融资需求，我们想贷款300万"
    t = tracker(
        text,
        "open_ticket",
        confidence=0.6,
        ranking=[{"name": "open_ticket", "confidence": 0.6}, {"name": "need_debt_financing", "confidence": 0.3}],
        slots={"ticket_category": "need_space", "user_statement": "想在沣西找实验室"},
    )
    events = await ActionStartTicket().run(dispatcher, t, domain)

    slots = slot_events(events)
    assert slots["ticket_category"] == "need_debt_financing"  # this message's need, not the earlier one
    assert slots["need_description"] == text and slots["user_statement"] == text
    assert events[-1] == FollowupAction(FORM)


async def test_start_ticket_fills_what_a_returning_sender_left_before(dispatcher, domain, services):
    from actions.ticket_form import ActionStartTicket

    open_earlier(services)
    t = tracker("帮我登记一下需求", "open_ticket", slots={"contact_name": "王磊"})  # said in this conversation
    events = await ActionStartTicket().run(dispatcher, t, domain)

    slots = slot_events(events)
    assert slots["enterprise_name"] == "西安光启芯科技有限公司" and slots["contact_mobile"] == "13800001111"
    assert slots["ticket_location"] == "沣西新城"
    assert "contact_name" not in slots  # what the user said now is kept
    assert events[-1] == FollowupAction(FORM)


async def test_start_ticket_from_the_button_with_nothing_known_asks_everything(dispatcher, domain):
    from actions.ticket_form import ActionStartTicket

    events = await ActionStartTicket().run(dispatcher, tracker("/open_ticket", "open_ticket"), domain)

    assert events == [
        SlotSet("ticket_category", None),
        SlotSet("ticket_confirm", None),
        SlotSet("need_description", None),
        SlotSet("form_misses", 0),
        FollowupAction(FORM),
    ]


# ---- validate_ticket_form --------------------------------------------------------------------------


async def test_the_need_is_taken_and_a_category_given(domain):
    d, slots = await validate(domain, "想申请知识产权质押贷款，额度500万左右", "need_description")

    assert slots == {
        "need_description": "想申请知识产权质押贷款，额度500万左右",
        "form_misses": 0,
        "ticket_category": "need_policy_consult",
    }
    assert "接下来会请您提供企业名称、联系人姓名和手机号" in said(d)  # the privacy notice, once


async def test_a_too_short_need_is_asked_again(domain):
    d, slots = await validate(domain, "嗯", "need_description")

    assert slots == {"need_description": None, "form_misses": 1}
    assert texts(d) == ["请用一两句话描述您的需求，例如「想申请知识产权质押贷款，额度500万左右」。"]


async def test_details_given_on_the_way_are_kept(domain):
    _, slots = await validate(
        domain,
        "我叫王磊，手机13912345678",
        "contact_name",
        slots={"need_description": "想贷款", "enterprise_name": "西安甲乙科技有限公司"},
    )

    assert slots == {"contact_name": "王磊", "form_misses": 0, "contact_mobile": "13912345678"}


async def test_a_bad_mobile_is_asked_again_and_the_second_miss_offers_a_person(domain):
    d, slots = await validate(domain, "139123", "contact_mobile", slots={"need_description": "想贷款"})
    assert slots == {"contact_mobile": None, "form_misses": 1}
    assert texts(d)[0] == "这个号码好像不是有效的手机号，请输入11位大陆手机号（以1开头）。"

    d, slots = await validate(
        domain, "不知道", "contact_mobile", slots={"need_description": "想贷款", "form_misses": 1}
    )
    assert slots == {"contact_mobile": None, "form_misses": 2}
    assert "还是没能识别" in texts(d)[0] and payloads(d) == ["/request_human", "取消"]


async def test_cancel_and_a_person_end_the_form_at_any_step(domain):
    for text, marker in (("取消", "cancelled"), ("转人工", "handover")):
        d, slots = await validate(domain, text, "contact_name", slots={"need_description": "想贷款"})
        assert slots == {
            "need_description": "-",
            "enterprise_name": "-",
            "contact_name": "-",
            "contact_mobile": "-",
            "ticket_location": "-",
            "ticket_confirm": marker,
        }
        assert d.messages == []


async def test_a_question_in_the_middle_is_answered_and_the_step_asked_again(domain):
    d, slots = await validate(domain, "高企认定需要什么条件？", "enterprise_name", slots={"need_description": "想贷款"})

    assert slots == {"enterprise_name": None}
    assert "注册成立一年以上" in texts(d)[0] and texts(d)[1] == "以上是您问题的解答。我们继续刚才的需求登记："


async def test_the_location_takes_a_new_city_or_none(domain):
    _, slots = await validate(domain, "我们在沣西", "ticket_location", slots={"need_description": "想贷款"})
    assert slots == {"ticket_location": "沣西新城", "form_misses": 0}
    _, slots = await validate(domain, "无", "ticket_location", slots={"need_description": "想贷款"})
    assert slots == {"ticket_location": "无", "form_misses": 0}


async def test_confirmation_typed_in_words(domain):
    for text in ("确认无误，提交", "确认", "对，没问题"):
        d, slots = await validate(domain, text, "ticket_confirm", slots=FILLED)
        assert slots == {"ticket_confirm": "yes", "form_misses": 0}, text
        assert d.messages == []


async def test_corrections_at_the_confirmation_step(domain):
    _, slots = await validate(domain, "手机号改成13800001111", "ticket_confirm", slots=FILLED)
    assert slots == {"ticket_confirm": None, "contact_mobile": "13800001111", "form_misses": 0}
    _, slots = await validate(domain, "公司名改成西安丙丁科技有限公司", "ticket_confirm", slots=FILLED)
    assert slots == {"ticket_confirm": None, "enterprise_name": "西安丙丁科技有限公司", "form_misses": 0}
    _, slots = await validate(domain, "修改手机号", "ticket_confirm", slots=FILLED)  # asked again
    assert slots == {"ticket_confirm": None, "contact_mobile": None, "form_misses": 0}
    _, slots = await validate(domain, "需求再补充一下：希望下个月放款", "ticket_confirm", slots=FILLED)
    assert slots["need_description"] == "想申请知识产权质押贷款，额度500万左右；希望下个月放款"


async def test_an_unclear_answer_at_the_confirmation_step_is_no_yes(domain):
    d, slots = await validate(domain, "这个嘛", "ticket_confirm", slots=FILLED)

    assert slots == {"ticket_confirm": None, "form_misses": 1}
    assert "请回复「确认」提交登记" in texts(d)[0]


async def test_hesitating_at_the_confirmation_step_submits_nothing(domain):
    """ "嗯，我再考虑一下" starts with a yes-word but defers the decision: it must not confirm the registration."""
    for text in ("嗯，我再考虑一下", "嗯……我再想想", "好的，我回头问问老板再说", "好的，我考虑考虑"):
        _, slots = await validate(domain, text, "ticket_confirm", slots=FILLED)
        assert slots.get("ticket_confirm") is None, text


# ---- action_ask_ticket_confirm ---------------------------------------------------------------------


async def test_the_confirmation_question_shows_everything_collected(dispatcher, domain):
    from actions.ticket_form import ActionAskTicketConfirm

    events = await ActionAskTicketConfirm().run(dispatcher, tracker("沣西", slots=FILLED), domain)

    assert events == []
    summary = texts(dispatcher)[0]
    for value in (
        "贷款融资（科技金融）",
        "西安甲乙科技有限公司",
        "王磊",
        "13912345678",
        "沣西新城",
        "想申请知识产权质押贷款，额度500万左右",
    ):
        assert value in summary
    assert payloads(dispatcher)[0] == "确认提交" and payloads(dispatcher)[-1] == "取消"


async def test_the_confirmation_question_with_no_location_says_the_centre_handles_it(dispatcher, domain):
    from actions.ticket_form import ActionAskTicketConfirm

    await ActionAskTicketConfirm().run(dispatcher, tracker("无", slots={**FILLED, "ticket_location": "无"}), domain)

    assert "未指定（由综合服务中心受理）" in texts(dispatcher)[0]


# ---- action_submit_ticket --------------------------------------------------------------------------


async def test_submit_opens_the_ticket_routed_to_the_new_city(dispatcher, domain, db):
    from actions.ticket_form import ActionSubmitTicket

    events = await ActionSubmitTicket().run(
        dispatcher, tracker("确认", slots={**FILLED, "ticket_confirm": "yes"}), domain
    )

    [t] = tickets(db)
    assert (t.category, t.node_id, t.status, t.conversation_id, t.source_channel) == (
        "need_debt_financing",
        "fengxi",
        lc.ACCEPTED,
        "unit-sender",
        "socketio",
    )
    assert t.description == FILLED["need_description"]
    assert texts(dispatcher)[0].startswith(f"已为您登记需求，工单号 {t.number}。")
    assert "沣西新城服务中心" in texts(dispatcher)[0]
    assert events == RESET + [SlotSet("last_ticket_number", t.number)]


async def test_submit_after_cancel_opens_nothing_and_keeps_the_profile(dispatcher, domain, db, services):
    from actions.ticket_form import ActionSubmitTicket

    open_earlier(services)
    t = tracker("取消", slots={**{k: "-" for k in FILLED}, "ticket_confirm": "cancelled"})
    events = await ActionSubmitTicket().run(dispatcher, t, domain)

    assert texts(dispatcher) == ["好的，已取消本次需求登记。还有其他问题随时找我。"]
    assert ticket_count(db) == 1  # only the earlier one
    slots = slot_events(events)
    assert slots["need_description"] is None and slots["ticket_confirm"] is None
    assert slots["enterprise_name"] == "西安光启芯科技有限公司"  # the "-" markers give way to what is known


async def test_submit_after_a_person_was_asked_for_hands_over(dispatcher, domain, db):
    from actions.ticket_form import ActionSubmitTicket
    from bot import handover

    t = tracker(
        "转人工", slots={**{k: "-" for k in FILLED}, "ticket_confirm": "handover", "ticket_category": "need_space"}
    )
    events = await ActionSubmitTicket().run(dispatcher, t, domain)

    assert ticket_count(db) == 0
    assert texts(dispatcher)[0] == "好的，先不在这里登记了，正在为您转接服务专员。"
    assert kinds(events)[-2:] == ["pause", "action"]
    assert handover.open_for(db, "unit-sender").reason == "request_human"


async def test_submit_with_a_mobile_the_service_rejects_says_why(dispatcher, domain, db):
    from actions.ticket_form import ActionSubmitTicket

    t = tracker("确认", slots={**FILLED, "contact_mobile": "12345", "ticket_confirm": "yes"})
    events = await ActionSubmitTicket().run(dispatcher, t, domain)

    assert texts(dispatcher)[0].startswith("登记没有成功：手机号格式不正确")
    assert events == RESET and ticket_count(db) == 0


async def test_submitting_the_same_registration_again_opens_no_second_ticket(domain, db):
    """Rasa re-running the action with the same tracker (a retried call): the service links it to the first."""
    from actions.ticket_form import ActionSubmitTicket

    t = tracker("确认", slots={**FILLED, "ticket_confirm": "yes"})
    first, again = CollectingDispatcher(), CollectingDispatcher()
    await ActionSubmitTicket().run(first, t, domain)
    events = await ActionSubmitTicket().run(again, t, domain)

    [ticket] = tickets(db)
    assert "不再重复登记" in texts(again)[0] and ticket.number in texts(again)[0]
    assert slot_events(events)["last_ticket_number"] == ticket.number


# ---- the whole form ----------------------------------------------------------------------------------


async def test_a_registration_with_a_correction_and_a_typed_confirmation_opens_exactly_one_ticket(domain, db):
    from actions.ticket_form import ActionAskTicketConfirm, ActionStartTicket, ActionSubmitTicket

    slots: dict = {"ticket_category": "need_debt_financing", "user_statement": "想申请知识产权质押贷款，额度500万左右"}
    d = CollectingDispatcher()
    started = await ActionStartTicket().run(d, tracker("帮我登记一下需求", "open_ticket", slots=slots), domain)
    slots.update(slot_events(started))
    history = [{"event": "bot", "text": t} for t in texts(d)]
    steps = [
        ("enterprise_name", "西安甲乙科技有限公司"),
        ("contact_name", "我叫王磊"),
        ("contact_mobile", "139 1234 5678"),
        ("ticket_location", "沣西"),
        ("ticket_confirm", "手机号写错了，是13800001111"),
        ("ticket_confirm", "确认无误，提交"),
    ]
    for requested, text in steps:
        if requested == "ticket_confirm":
            asked = CollectingDispatcher()
            await ActionAskTicketConfirm().run(asked, tracker(text, slots=slots), domain)
            history += [{"event": "bot", "text": t} for t in texts(asked)]
        said_now, validated = await validate(domain, text, requested, slots=slots, events=history)
        history += [{"event": "bot", "text": t} for t in texts(said_now)]
        slots.update(validated)
        assert ticket_count(db) == 0  # nothing is opened before the confirmation
    assert slots["contact_mobile"] == "13800001111" and slots["ticket_confirm"] == "yes"
    assert sum("《隐私说明》" in e["text"] for e in history) == 1  # the notice once in the whole form

    d = CollectingDispatcher()
    events = await ActionSubmitTicket().run(d, tracker("确认无误，提交", slots=slots), domain)

    [t] = tickets(db)
    assert (t.category, t.node_id, t.description) == (
        "need_debt_financing",
        "fengxi",
        "想申请知识产权质押贷款，额度500万左右",
    )
    assert slot_events(events)["last_ticket_number"] == t.number and t.number in texts(d)[0]
    with read_sessions(db)() as s:
        from bot.db.schema import Contact

        contact = s.get(Contact, t.contact_id)
        assert (contact.name, contact.mobile) == ("王磊", "13800001111")  # the corrected number
