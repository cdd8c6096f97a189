"""个人信息保护法 in the chat (issue 16 item 4): the ticket form tells what is collected, why, for how long and how to
have it deleted — once per conversation, before the first personal detail is asked (or, for a returning contact
whose details are on file, before they are used). The form's validation action is called directly, as Rasa calls it."""

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.privacy.notice import MARKER, PRIVACY_PATH

FORM_DOMAIN = {
    "forms": {
        "ticket_form": {
            "required_slots": [
                "need_description",
                "enterprise_name",
                "contact_name",
                "contact_mobile",
                "ticket_location",
                "ticket_confirm",
            ]
        }
    },
    "slots": {},
}


def form_turn(text, requested, slots=None, earlier_bot_texts=()):
    """The tracker Rasa sends after the user answered `requested`: the answer already in the slot (from_text)."""
    parse = {
        "text": text,
        "intent": {"name": "inform", "confidence": 0.9},
        "intent_ranking": [{"name": "inform", "confidence": 0.9}],
    }
    events = [{"event": "bot", "text": t} for t in earlier_bot_texts]
    events += [
        {"event": "user", "text": text, "parse_data": parse},
        {"event": "slot", "name": requested, "value": text},
    ]
    slots = dict(slots or {}, requested_slot=requested)
    slots[requested] = text
    return Tracker("notice-test", slots, parse, events, False, None, {"name": "ticket_form"}, "action_listen")


async def run_form(t):
    from actions.ticket_form import ValidateTicketForm

    d = CollectingDispatcher()
    events = await ValidateTicketForm().run(d, t, FORM_DOMAIN)
    return [m.get("text") or "" for m in d.messages], events


async def test_the_notice_comes_once_before_the_first_personal_question(action_services):
    texts, events = await run_form(form_turn("想申请知识产权质押贷款，额度500万左右", "need_description"))
    notices = [t for t in texts if MARKER in t]
    assert len(notices) == 1, texts
    notice = notices[0]
    assert "接下来会请您提供企业名称、联系人姓名和手机号" in notice and PRIVACY_PATH in notice
    assert "保存 3 年" in notice and "删除" in notice  # how long (default retention) and how to delete
    assert any(e.get("name") == "need_description" and e.get("value") for e in events)

    # the next step of the same conversation, the notice already in the history: not repeated
    texts, _ = await run_form(
        form_turn(
            "西安甲乙科技有限公司",
            "enterprise_name",
            slots={"need_description": "想申请知识产权质押贷款，额度500万左右"},
            earlier_bot_texts=[notice, "请问您的企业全称是？"],
        )
    )
    assert not any(MARKER in t for t in texts), texts


async def test_no_notice_while_the_need_itself_is_still_missing(action_services):
    texts, _ = await run_form(form_turn("嗯", "need_description"))
    assert not any(MARKER in t for t in texts), texts  # asked again for the need, nothing personal yet


async def test_a_returning_contact_is_told_how_the_details_on_file_are_used(action_services):
    on_file = {
        "enterprise_name": "西安甲乙科技有限公司",
        "contact_name": "王磊",
        "contact_mobile": "13912345678",
        "ticket_location": "沣西新城",
    }
    texts, _ = await run_form(form_turn("想找律所做股权架构梳理", "need_description", slots=on_file))
    notice = next(t for t in texts if MARKER in t)
    assert "使用您此前留下的企业名称、联系人姓名和手机号" in notice and "接下来会请您提供" not in notice


async def test_cancelling_the_form_says_nothing_about_personal_data(action_services):
    texts, _ = await run_form(form_turn("取消", "enterprise_name", slots={"need_description": "想申请贷款"}))
    assert not any(MARKER in t for t in texts), texts
