"""After the registration (actions/tickets.py), called directly: action_ticket_status, action_start_add_info,
validate_add_info_form, action_submit_add_info, action_rate_ticket, validate_rating_comment_form,
action_submit_rating_comment. Tickets are opened through the real TicketService on a fresh database."""

import pytest
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.tickets import lifecycle as lc
from bot.tickets.service import EnterpriseInput
from tests.unit.actions.helpers import form_tracker, payloads, said, slot_events, texts, tracker

COMPANY = "西安光启芯科技有限公司"


def open_ticket(
    services,
    sender="unit-sender",
    category="need_debt_financing",
    description="想申请知识产权质押贷款，额度500万",
    mobile="13912345678",
):
    return (
        services.tickets()
        .open_ticket(
            category=category,
            description=description,
            enterprise=EnterpriseInput(name=COMPANY, new_city="沣西"),
            contact_name="王经理",
            mobile=mobile,
            sender_id=sender,
            channel="web",
        )
        .ticket
    )


def resolved(services, **kwargs):
    t = open_ticket(services, **kwargs)
    services.tickets().transition(t.number, lc.RESOLVED, "staff:li")
    return t


def events_of(services, number) -> list[tuple[str, str]]:
    return [(e.action, e.note) for e in services.tickets().events(number)]


# ---- action_ticket_status --------------------------------------------------------------------------


async def test_status_lists_the_senders_tickets_with_what_can_be_done(dispatcher, domain, services):
    from actions.tickets import ActionTicketStatus

    waiting = open_ticket(services)
    done = resolved(services, category="need_space", description="想在沣西找500平米实验室")
    events = await ActionTicketStatus().run(dispatcher, tracker("我的工单", "ask_ticket_status"), domain)

    assert events == []
    body = texts(dispatcher)[0]
    assert body.startswith("您在这里登记的工单（共2个）：") and waiting.number in body and done.number in body
    assert "贷款融资｜已受理" in body and "场地入驻｜已办结" in body
    assert f"如需查看「{COMPANY}」的全部工单" in body  # not verified: the way to see more
    assert payloads(dispatcher) == [f"评价工单 {done.number}", f"补充工单 {waiting.number} 的信息", "验证"]


async def test_status_naming_a_ticket_shows_that_one(dispatcher, domain, services):
    from actions.tickets import ActionTicketStatus

    first = open_ticket(services)
    other = open_ticket(services, category="need_space", description="想在沣西找500平米实验室")
    await ActionTicketStatus().run(dispatcher, tracker(f"{first.number}办到哪了", "ask_ticket_status"), domain)

    assert "（共1个）" in texts(dispatcher)[0] and other.number not in texts(dispatcher)[0]


async def test_status_with_no_tickets_says_so(dispatcher, domain):
    from actions.tickets import ActionTicketStatus

    events = await ActionTicketStatus().run(dispatcher, tracker("/ask_ticket_status", "ask_ticket_status"), domain)

    assert events == [] and texts(dispatcher)[0].startswith("目前还没有查到您登记的工单。")
    assert payloads(dispatcher) == []  # no enterprise: nothing to verify


async def test_status_of_a_verified_contact_shows_the_enterprises_tickets(dispatcher, domain, services):
    from actions.tickets import ActionTicketStatus

    colleague = open_ticket(services, sender="colleague", mobile="13800001111")
    open_ticket(services)
    services.identity().verify_by_staff("unit-sender", "li")
    await ActionTicketStatus().run(dispatcher, tracker("我的工单", "ask_ticket_status"), domain)

    body = texts(dispatcher)[0]
    assert body.startswith("您企业名下最近的工单（共2个）：") and colleague.number in body
    assert "验证" not in payloads(dispatcher)


async def test_status_intent_on_a_question_about_the_service_answers_it(dispatcher, domain, services):
    from actions.tickets import ActionTicketStatus

    open_ticket(services)
    events = await ActionTicketStatus().run(dispatcher, tracker("提交了需求多久有人回复", "ask_ticket_status"), domain)

    assert "即日办" in texts(dispatcher)[0] and "您在这里登记的工单" not in said(dispatcher)
    assert slot_events(events)["kb_context"]["entry_id"] == "window-service-process"


async def test_status_intent_on_verify_starts_verification(dispatcher, domain, services, sms):
    from actions.tickets import ActionTicketStatus

    open_ticket(services, sender="colleague")  # a verified contact: the code goes to them
    services.identity().verify_by_staff("colleague", "li")
    open_ticket(services, mobile="13800001111")
    events = await ActionTicketStatus().run(dispatcher, tracker("我要验证身份", "ask_ticket_status"), domain)

    assert events == [] and "139****5678" in said(dispatcher) and [m for m, _ in sms.sent] == ["13912345678"]


# ---- action_start_add_info -------------------------------------------------------------------------


async def test_add_info_to_the_only_open_ticket_starts_the_form(dispatcher, domain, services):
    from actions.tickets import ActionStartAddInfo

    t = open_ticket(services)
    resolved(services, category="need_space", description="想在沣西找500平米实验室")  # not open: no candidate
    events = await ActionStartAddInfo().run(dispatcher, tracker("我要补充材料", "add_ticket_info"), domain)

    assert dispatcher.messages == []
    assert events == [
        SlotSet("info_ticket_number", t.number),
        SlotSet("info_text", None),
        FollowupAction("add_info_form"),
    ]


async def test_add_info_with_several_open_tickets_asks_which(dispatcher, domain, services):
    from actions.tickets import ActionStartAddInfo

    a = open_ticket(services)
    b = open_ticket(services, category="need_space", description="想在沣西找500平米实验室")
    events = await ActionStartAddInfo().run(dispatcher, tracker("我要补充材料", "add_ticket_info"), domain)

    assert events == [] and texts(dispatcher) == ["请问要补充到哪个工单？"]
    assert sorted(payloads(dispatcher)) == sorted([f"补充工单 {a.number} 的信息", f"补充工单 {b.number} 的信息"])
    # the button names the ticket
    d = CollectingDispatcher()
    events = await ActionStartAddInfo().run(d, tracker(f"补充工单 {a.number} 的信息", "add_ticket_info"), domain)
    assert slot_events(events)["info_ticket_number"] == a.number


async def test_add_info_without_open_tickets_says_so(dispatcher, domain, services):
    from actions.tickets import ActionStartAddInfo

    resolved(services)
    events = await ActionStartAddInfo().run(dispatcher, tracker("我要补充材料", "add_ticket_info"), domain)

    assert events == [] and texts(dispatcher) == ["没有查到您名下办理中的工单可以补充。如有新需求，直接告诉我即可。"]


# ---- validate_add_info_form ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value, reply",
    [
        ("我们的专利号是ZL202310000001.2", "我们的专利号是ZL202310000001.2", []),
        ("取消", "cancelled", []),
        ("a", None, ["请直接输入要补充的内容。"]),
        ("/affirm", None, ["请直接输入要补充的内容。"]),
    ],
)
async def test_the_added_information_is_checked(text, value, reply, dispatcher, domain):
    from actions.tickets import ValidateAddInfoForm

    events = await ValidateAddInfoForm().run(dispatcher, form_tracker(text, "add_info_form", "info_text"), domain)

    assert events == [SlotSet("info_text", value)] and texts(dispatcher) == reply


# ---- action_submit_add_info ------------------------------------------------------------------------


async def test_submit_add_info_adds_it_to_the_ticket(dispatcher, domain, services):
    from actions.tickets import ActionSubmitAddInfo

    t = open_ticket(services)
    slots = {"info_ticket_number": t.number, "info_text": "专利号ZL202310000001.2"}
    events = await ActionSubmitAddInfo().run(dispatcher, tracker("专利号ZL202310000001.2", slots=slots), domain)

    assert texts(dispatcher) == [f"已补充到工单 {t.number}，服务专员会看到。当前状态：已受理。"]
    assert events == [SlotSet("info_ticket_number", None), SlotSet("info_text", None)]
    assert ("add_info", "专利号ZL202310000001.2") in events_of(services, t.number)


async def test_submit_add_info_cancelled_adds_nothing(dispatcher, domain, services):
    from actions.tickets import ActionSubmitAddInfo

    t = open_ticket(services)
    before = events_of(services, t.number)
    events = await ActionSubmitAddInfo().run(
        dispatcher, tracker("取消", slots={"info_ticket_number": t.number, "info_text": "cancelled"}), domain
    )

    assert texts(dispatcher) == ["好的，已取消补充。"] and events_of(services, t.number) == before
    assert events == [SlotSet("info_ticket_number", None), SlotSet("info_text", None)]


async def test_submit_add_info_to_someone_elses_ticket_is_refused(dispatcher, domain, services):
    from actions.tickets import ActionSubmitAddInfo

    theirs = open_ticket(services, sender="someone-else", mobile="13800001111")
    before = events_of(services, theirs.number)
    slots = {"info_ticket_number": theirs.number, "info_text": "我来补充一下"}
    events = await ActionSubmitAddInfo().run(dispatcher, tracker("我来补充一下", slots=slots), domain)

    assert texts(dispatcher) == [f"没有找到您名下的工单 {theirs.number}。"]
    assert events == [SlotSet("info_ticket_number", None), SlotSet("info_text", None)]
    assert events_of(services, theirs.number) == before


# ---- action_rate_ticket ----------------------------------------------------------------------------


async def test_rating_the_only_resolved_ticket_records_it_and_asks_for_a_comment(dispatcher, domain, services):
    from actions.tickets import ActionRateTicket

    t = resolved(services)
    events = await ActionRateTicket().run(dispatcher, tracker("非常满意", "rate_service"), domain)

    assert texts(dispatcher) == [f"感谢您对工单 {t.number} 的评价！"]
    assert events == [
        SlotSet("rating_ticket_number", t.number),
        SlotSet("rating_comment", None),
        FollowupAction("rating_comment_form"),
    ]
    assert services.tickets().get(t.number).status == lc.RATED


async def test_an_unsatisfied_rating_reopens_the_ticket_for_a_follow_up(dispatcher, domain, services):
    from actions.tickets import ActionRateTicket

    t = resolved(services)
    await ActionRateTicket().run(dispatcher, tracker("不满意", "rate_service"), domain)

    assert "已重新进入办理" in texts(dispatcher)[0]
    after = services.tickets().get(t.number)
    assert after.status == lc.IN_PROGRESS and after.followup_required


async def test_rating_without_a_score_asks_for_one(dispatcher, domain, services):
    from actions.tickets import ActionRateTicket

    t = resolved(services)
    events = await ActionRateTicket().run(dispatcher, tracker("评价一下", "rate_service"), domain)

    assert events == [] and texts(dispatcher) == [f"请为工单 {t.number} 的服务打分："]
    assert payloads(dispatcher) == [
        f"{label} {t.number}" for label in ("非常满意", "满意", "一般", "不满意", "非常不满意")
    ]
    assert services.tickets().get(t.number).status == lc.RESOLVED


async def test_rating_with_several_resolved_tickets_asks_which_keeping_the_score(dispatcher, domain, services):
    from actions.tickets import ActionRateTicket

    a = resolved(services)
    b = resolved(services, category="need_space", description="想在沣西找500平米实验室")
    events = await ActionRateTicket().run(dispatcher, tracker("满意", "rate_service"), domain)

    assert events == [] and texts(dispatcher) == ["您有几个已办结的工单，请问要评价哪一个？"]
    assert sorted(payloads(dispatcher)) == sorted([f"满意 {a.number}", f"满意 {b.number}"])
    d = CollectingDispatcher()  # the button: score and number
    await ActionRateTicket().run(d, tracker(f"满意 {b.number}", "rate_service"), domain)
    assert services.tickets().get(b.number).status == lc.RATED
    assert services.tickets().get(a.number).status == lc.RESOLVED


async def test_rating_with_nothing_to_rate_records_nothing(dispatcher, domain, services):
    from actions.tickets import ActionRateTicket

    t = open_ticket(services)  # not resolved yet
    events = await ActionRateTicket().run(dispatcher, tracker("非常满意", "rate_service"), domain)

    assert events == [] and texts(dispatcher) == [
        "谢谢您的反馈！您名下暂时没有待评价的已办结工单，工单办结后我会请您评价。"
    ]
    assert services.tickets().get(t.number).status == lc.ACCEPTED


async def test_a_complaint_with_nothing_to_rate_gets_a_way_to_a_person(dispatcher, domain, services):
    from actions.tickets import ActionRateTicket

    t = open_ticket(services)
    events = await ActionRateTicket().run(dispatcher, tracker("非常不满意", "rate_service"), domain)
    assert events == [] and "没有待评价" in texts(dispatcher)[0] and "转人工" in texts(dispatcher)[0]
    assert dispatcher.messages[0]["buttons"][0]["payload"] == "/request_human"
    assert services.tickets().get(t.number).status == lc.ACCEPTED


async def test_rating_someone_elses_ticket_by_number_is_refused(dispatcher, domain, services):
    from actions.tickets import ActionRateTicket

    theirs = resolved(services, sender="someone-else", mobile="13800001111")
    events = await ActionRateTicket().run(dispatcher, tracker(f"非常不满意 {theirs.number}", "rate_service"), domain)

    assert events == [] and texts(dispatcher) == [f"没有找到您名下待评价的工单 {theirs.number}。"]
    assert services.tickets().get(theirs.number).status == lc.RESOLVED


# ---- validate_rating_comment_form ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value", [("办得很快，谢谢", "办得很快，谢谢"), ("没有", "-"), ("取消", "-"), ("好" * 600, "好" * 500)]
)
async def test_the_rating_comment_is_taken_or_skipped(text, value, dispatcher, domain):
    from actions.tickets import ValidateRatingCommentForm

    t = form_tracker(text, "rating_comment_form", "rating_comment")
    assert await ValidateRatingCommentForm().run(dispatcher, t, domain) == [SlotSet("rating_comment", value)]
    assert dispatcher.messages == []


# ---- action_submit_rating_comment ------------------------------------------------------------------


async def test_the_rating_comment_is_kept_with_the_rating(dispatcher, domain, services):
    from actions.tickets import ActionRateTicket, ActionSubmitRatingComment

    t = resolved(services)
    await ActionRateTicket().run(CollectingDispatcher(), tracker("一般", "rate_service"), domain)
    slots = {"rating_ticket_number": t.number, "rating_comment": "回复有点慢"}
    events = await ActionSubmitRatingComment().run(dispatcher, tracker("回复有点慢", slots=slots), domain)

    assert texts(dispatcher) == ["您的意见已记录，谢谢！"]
    assert events == [SlotSet("rating_ticket_number", None), SlotSet("rating_comment", None)]
    assert ("rating_comment", "回复有点慢") in events_of(services, t.number)


async def test_no_rating_comment_is_thanked_for_and_records_nothing(dispatcher, domain, services):
    from actions.tickets import ActionSubmitRatingComment

    t = resolved(services)
    before = events_of(services, t.number)
    events = await ActionSubmitRatingComment().run(
        dispatcher, tracker("没有", slots={"rating_ticket_number": t.number, "rating_comment": "-"}), domain
    )

    assert texts(dispatcher) == ["好的，感谢您的支持！"] and events_of(services, t.number) == before
    assert events == [SlotSet("rating_ticket_number", None), SlotSet("rating_comment", None)]


async def test_a_rating_comment_on_a_ticket_no_longer_the_senders_is_answered_not_crashed(dispatcher, domain, services):
    """Verified, the sender rated a colleague's ticket; staff revoked the verification before the comment came.
    The action raised TicketError: the user got no reply at all and the rating slots stayed set."""
    from actions.tickets import ActionRateTicket, ActionSubmitRatingComment

    theirs = resolved(services, sender="colleague", mobile="13800001111")
    open_ticket(services)
    services.identity().verify_by_staff("unit-sender", "li")
    rated = await ActionRateTicket().run(
        CollectingDispatcher(), tracker(f"满意 {theirs.number}", "rate_service"), domain
    )
    assert slot_events(rated)["rating_ticket_number"] == theirs.number
    services.identity().revoke("unit-sender")

    slots = {"rating_ticket_number": theirs.number, "rating_comment": "办得挺快"}
    events = await ActionSubmitRatingComment().run(dispatcher, tracker("办得挺快", slots=slots), domain)

    assert texts(dispatcher) == [f"没有找到您名下的工单 {theirs.number}。"]
    assert events == [SlotSet("rating_ticket_number", None), SlotSet("rating_comment", None)]
    assert ("rating_comment", "办得挺快") not in events_of(services, theirs.number)
