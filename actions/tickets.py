"""Ticket actions: the registration form, 我的工单, adding information and rating."""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.knowledge import replies as kb_replies
from bot.privacy import notice as privacy_notice
from actions import services
from bot.dialogue import speech, turn
from bot.dialogue.details import extract
from bot.tickets import chat
from bot.tickets.identity import code_in
from bot.tickets import lifecycle as lc
from bot.tickets.service import EnterpriseInput, TicketError

log = logging.getLogger(__name__)

FORM_SLOTS = ["need_description", "enterprise_name", "contact_name", "contact_mobile",
              "ticket_location", "ticket_confirm"]
CANCELLED = "cancelled"
PERSONAL_SLOTS = ("enterprise_name", "contact_name", "contact_mobile")
HANDOVER = "handover"          # "转人工" in the middle of the form: stop it and hand over
BARE_COMMAND_CHARS = 14        # "帮我登记一下需求" and the like name no need of their own
YES_WITH_DETAIL = re.compile(r"^\s*(?:对|是的?|没错|嗯|确认|好的?|OK|ok)[，,。！!\s]*")
ADD_TO_DESCRIPTION = re.compile(r"^(?:需求|描述|情况)?(?:再|还要|还想)?补充(?:一下|说明|几句|一点)?[:：,，]\s*(.+)$", re.S)
WANTS_A_PERSON = re.compile(r"转人工|人工(?:服务|客服)?$|真人|找(?:个|一下)?(?:人|客服|专员)|客服")
# "我的工单", "我提交的需求办到哪了", a ticket number: the user asks about their own tickets.
OWN_TICKETS = re.compile(r"我的|我们的|我(?:们)?(?:提交|报|登记|申请)的|工单号|QCY|办到|到哪|进度|进展|查询|查一下|查下",
                         re.IGNORECASE)
MOBILE_AGAIN = "这个号码好像不是有效的手机号，请输入11位大陆手机号（以1开头）。"
EXPECTED = {
    "need_description": "我需要您用一两句话说明想办理的事，例如「想申请知识产权质押贷款，额度500万左右」。",
    "enterprise_name": "我需要企业的全称，例如「西安某某科技有限公司」。",
    "contact_name": "我需要联系人的称呼，例如「李明」或「王经理」。",
    "contact_mobile": "我需要一个11位的大陆手机号，例如「139 1234 5678」这样的格式。",
    "ticket_location": "我需要企业所在的新城（沣东、沣西、秦汉、空港、泾河）或园区名称；不在园区请回复「无」。",
    "ticket_confirm": "请回复「确认」提交；要修改就直接说「手机号改成…」「公司名改成…」。",
}


# "验证", "我要验证身份", "验证企业联系人": the user asks to be verified as a contact of their enterprise.
VERIFY_REQUEST = re.compile(r"^\s*(?:我要|我想|请|申请|进行|开始)?\s*(?:身份|企业联系人|联系人)?(?:身份)?验证"
                            r"(?:一下|身份|企业联系人(?:身份)?|联系人(?:身份)?)?\s*[。.!！]?\s*$")
VERIFY_BUTTON = {"title": "验证企业联系人身份", "payload": "验证"}
SENT = {
    "sent": "验证码已发送至贵企业登记的手机号 {mobile}，5分钟内有效。请直接回复6位验证码（例如「123456」）。",
    "staff": "企业联系人身份由服务专员核实确认。您可以输入「转人工」，专员确认后即可查看和办理贵企业的全部工单。",
    "no_claim": "您还没有在这里登记过企业。登记需求时填写企业名称后，才能验证为该企业的联系人。",
    "verified": "您已是「{name}」的已验证联系人，可以查看和办理贵企业的全部工单（说「我的工单」即可）。",
    "wait": "验证码刚刚发送过，请稍等一分钟再试；如已收到，请直接回复6位验证码。",
    "limit": "今天获取验证码的次数已达上限。请明天再试，或输入「转人工」由服务专员核实确认。",
    "failed": "验证码暂时没能发送，请稍后再试，或输入「转人工」由服务专员核实确认。",
}
CHECKED = {
    "verified": "验证成功！您已确认为「{name}」的联系人，现在可以查看和办理贵企业的全部工单（说「我的工单」即可）。",
    "wrong": "验证码不正确，还可以再试{left}次。",
    "expired": "验证码已过期，请回复「验证」重新获取。",
    "too_many": "验证码输错次数过多，已失效。请回复「验证」重新获取。",
    "none": "现在没有待输入的验证码，请回复「验证」获取。",
}


def start_verification(dispatcher: CollectingDispatcher, sender_id: str) -> None:
    ids = services.identity()
    result = ids.send_code(sender_id)
    name = ids.standing(sender_id).enterprise_name or ""
    buttons = [kb_replies.HUMAN_BUTTON] if result.outcome in ("staff", "limit", "failed") else []
    dispatcher.utter_message(text=SENT[result.outcome].format(mobile=result.masked_mobile, name=name),
                             buttons=buttons)


def verification_turn(dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[list]:
    """"验证" starts verification; a 6-digit code typed while one is pending ("验证码是123456", "123456") is
    checked. None: the message is about something else (whatever intent the NLU gave it, these texts mean
    verification; no new intent is needed)."""
    text = (tracker.latest_message.get("text") or "").strip()
    if not text or text.startswith("/") or tracker.get_slot("requested_slot"):
        return None
    if VERIFY_REQUEST.match(text):
        start_verification(dispatcher, tracker.sender_id)
        return []
    code = code_in(text)
    if code is None or len(text) > 24:
        return None
    ids = services.identity()
    if not ids.pending(tracker.sender_id) and "验证码" not in text:
        return None
    result = ids.check_code(tracker.sender_id, code)
    name = ids.standing(tracker.sender_id).enterprise_name or ""
    dispatcher.utter_message(text=CHECKED[result.outcome].format(left=result.attempts_left, name=name))
    return []


def profile_slots(sender_id: str) -> list[SlotSet]:
    """Prefill what the window already knows about this sender (returning users)."""
    p = services.tickets().profile(sender_id)
    if p is None:
        return []
    location = p.park or (f"{p.new_city}新城" if p.new_city else "无")
    events = [SlotSet("enterprise_name", p.enterprise_name), SlotSet("contact_name", p.contact_name),
              SlotSet("ticket_location", location)]
    if p.mobile:
        events.append(SlotSet("contact_mobile", p.mobile))
    return events


def start_ticket_events(tracker: Tracker, category: Optional[str], description: Optional[str],
                        prefilled: Optional[list] = None) -> list:
    """Events that start the registration form: what the user already said (this turn's `prefilled` slot
    events, earlier slots) is kept, and a returning sender's profile fills what is still missing."""
    known = {e["name"]: e["value"] for e in (prefilled or []) if e.get("event") == "slot" and e.get("value")}
    events = [SlotSet("ticket_category", category), SlotSet("ticket_confirm", None),
              SlotSet("need_description", description), SlotSet("form_misses", 0)]
    events += [e for e in profile_slots(tracker.sender_id)
               if not tracker.get_slot(e["name"]) and e["name"] not in known]
    return events + [FollowupAction("ticket_form")]


class ActionStartTicket(Action):
    """"帮我登记需求": start the form for the need discussed last (or the one this message states)."""

    def name(self) -> Text:
        return "action_start_ticket"

    async def run(self, dispatcher, tracker, domain):
        from actions.actions import from_button

        text = (tracker.latest_message.get("text") or "").strip()
        details = extract(text, services.network()) if not from_button(tracker) else None
        prefilled = [SlotSet(k, v) for k, v in details.as_slots().items()] if details else []
        category = tracker.get_slot("ticket_category")
        seed = tracker.get_slot("user_statement") or tracker.get_slot("ticket_seed")
        if details is not None and len(text) > BARE_COMMAND_CHARS:
            # "请安排专员对接一下融资需求": the message itself states the need.
            stated = turn.request_category(
                text, None, 0.0, tracker.latest_message.get("intent_ranking") or [], kb=services.knowledge(),
                context=tracker.get_slot("kb_context"))
            category, seed = stated or category, text[:2000]
            prefilled.append(SlotSet("user_statement", seed))
        dispatcher.utter_message(text="好的，我来帮您登记需求，由服务专员跟进办理。随时说「取消」可退出登记。")
        return prefilled + start_ticket_events(tracker, category, seed, prefilled)


def _prefilled(value: str, tracker: Tracker) -> Optional[str]:
    """A slot value that is not the user's latest message was filled by our own extractor earlier (Rasa
    validates prefilled slots when the form starts): it is already clean, accept it as it is."""
    latest = (tracker.latest_message.get("text") or "").strip()
    return value if value and value != latest and not value.startswith("/") else None


class ValidateTicketForm(FormValidationAction):
    """Every step accepts what people type: the answer inside a sentence ("我叫王磊", "手机号是139…"),
    other details given on the way, corrections, "取消" and "转人工"; two misses → say plainly, offer a person."""

    def name(self) -> Text:
        return "validate_ticket_form"

    # -- shared checks ------------------------------------------------------------------------

    def _cancel(self, marker: str = CANCELLED) -> Dict[Text, Any]:
        return {s: "-" for s in FORM_SLOTS[:-1]} | {"ticket_confirm": marker}

    def _digression(self, value: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
        """A question in the middle of the form: answer it from the KB, then ask the slot again."""
        if not speech.is_question(value) or extract(value, services.network()).as_slots():
            return False
        answer = services.knowledge().ask(value)
        if answer.decision not in turn.ANSWERED:
            return False
        replies = kb_replies.render(answer)
        dispatcher.utter_message(text=replies[0].text)
        dispatcher.utter_message(text="以上是您问题的解答。我们继续刚才的需求登记：")
        return True

    def _miss(self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker, again: str) -> Dict[Text, Any]:
        """An answer that did not fit: ask again; the second time say plainly what is expected and offer a person."""
        misses = int(tracker.get_slot("form_misses") or 0) + 1
        if misses >= 2:
            dispatcher.utter_message(
                text=f"抱歉，我还是没能识别。{EXPECTED[slot]}\n如果不方便在这里填写，可以请服务专员帮您登记；不办了请说「取消」。",
                buttons=[kb_replies.HUMAN_BUTTON, {"title": "取消登记", "payload": "取消"}])
        else:
            dispatcher.utter_message(text=again)
        return {slot: None, "form_misses": misses}

    async def run(self, dispatcher, tracker, domain):
        """"取消" / "转人工" at any step; details given on the way are kept (never asked again)."""
        text = tracker.latest_message.get("text") or ""
        requested = tracker.get_slot("requested_slot")
        if requested and speech.is_cancel(text):
            return [SlotSet(k, v) for k, v in self._cancel().items()]
        if requested and WANTS_A_PERSON.search(text) and len(text) <= 16:
            return [SlotSet(k, v) for k, v in self._cancel(HANDOVER).items()]
        events = await super().run(dispatcher, tracker, domain)
        if requested and not text.startswith("/") and requested != "ticket_confirm":
            set_now = {e["name"] for e in events if e.get("event") == "slot"}
            found = extract(text, services.network(), expecting=requested).as_slots()
            for slot, value in found.items():
                if slot != requested and slot not in set_now and not tracker.get_slot(slot):
                    events.append(SlotSet(slot, value))
        self._tell_privacy_notice(dispatcher, tracker, events)
        return events

    @staticmethod
    def _tell_privacy_notice(dispatcher: CollectingDispatcher, tracker: Tracker, events: list) -> None:
        """个人信息保护法: before the first personal detail is asked (or, for a returning contact, used), the chat
        says once per conversation what is collected, why, for how long and how to have it deleted."""
        after = {s: tracker.get_slot(s) for s in FORM_SLOTS}
        after.update({e["name"]: e.get("value") for e in events if e.get("event") == "slot" and e["name"] in after})
        if not after["need_description"] or after["need_description"] == "-" or after["ticket_confirm"]:
            return      # still on the need itself, or the form is ending (cancelled / handed over / confirmed)
        if privacy_notice.notice_shown(e.get("text") for e in tracker.events if e.get("event") == "bot"):
            return
        asking = any(not after[s] for s in PERSONAL_SLOTS)
        dispatcher.utter_message(text=privacy_notice.chat_notice(asking=asking))

    # -- slots ------------------------------------------------------------------------------------

    def validate_need_description(self, value, dispatcher, tracker, domain: DomainDict):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"need_description": None}
        text = (value or "").strip()
        if len(text) < 4 or text.startswith("/"):
            return self._miss("need_description", dispatcher, tracker,
                              "请用一两句话描述您的需求，例如「想申请知识产权质押贷款，额度500万左右」。")
        slots: Dict[str, Any] = {"need_description": text[:2000], "form_misses": 0}
        if not tracker.get_slot("ticket_category"):
            ranking = tracker.latest_message.get("intent_ranking") or []
            slots["ticket_category"] = turn.need_category(
                tracker.get_intent_of_latest_message(), ranking, [], None) or "need_policy_consult"
        return slots

    def validate_enterprise_name(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"enterprise_name": None}
        text = (value or "").strip()
        if self._digression(text, dispatcher, tracker):
            return {"enterprise_name": None}
        name = extract(text, services.network(), expecting="enterprise_name").company or _prefilled(text, tracker)
        if not name or not 2 <= len(name) <= 64 or name.isdigit() or name.startswith("/"):
            return self._miss("enterprise_name", dispatcher, tracker,
                              "请告诉我企业的全称，例如「西安某某科技有限公司」。")
        return {"enterprise_name": name, "form_misses": 0}

    def validate_contact_name(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"contact_name": None}
        text = (value or "").strip()
        if self._digression(text, dispatcher, tracker):
            return {"contact_name": None}
        name = extract(text, services.network(), expecting="contact_name").contact_name or _prefilled(text, tracker)
        if not name or not 1 <= len(name) <= 20 or name.startswith("/"):
            return self._miss("contact_name", dispatcher, tracker,
                              "请告诉我联系人的姓名（例如「王经理」或「李明」）。")
        return {"contact_name": name, "form_misses": 0}

    def validate_contact_mobile(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"contact_mobile": None}
        if self._digression(value or "", dispatcher, tracker):
            return {"contact_mobile": None}
        found = extract(value or "", services.network(), expecting="contact_mobile")
        if found.mobile:
            return {"contact_mobile": found.mobile, "form_misses": 0}
        return self._miss("contact_mobile", dispatcher, tracker, MOBILE_AGAIN)

    def validate_ticket_location(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"ticket_location": None}
        text = (value or "").strip()
        if speech.is_none_answer(text):
            return {"ticket_location": "无", "form_misses": 0}
        if self._digression(text, dispatcher, tracker):
            return {"ticket_location": None}
        location = extract(text, services.network(), expecting="ticket_location").as_slots().get("ticket_location") \
            or _prefilled(text, tracker)
        if location:
            return {"ticket_location": location, "form_misses": 0}
        return self._miss("ticket_location", dispatcher, tracker,
                          "没有识别出您所在的园区或新城。请告诉我所在新城（沣东、沣西、秦汉、空港、泾河）或园区名称；"
                          "不在园区请回复「无」。")

    def validate_ticket_confirm(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"ticket_confirm": None}
        text = (value or "").strip()
        fix = speech.correction(text)
        if fix is not None:
            field, new_value = fix
            if new_value is None:           # "修改手机号": ask that field again
                return {field: None, "ticket_confirm": None, "form_misses": 0}
            if field == "need_description":
                return {"need_description": new_value[:2000], "ticket_confirm": None, "form_misses": 0}
            if field == "credit_code":
                code = extract(new_value, services.network()).credit_code
                if code:
                    return {"credit_code": code, "ticket_confirm": None, "form_misses": 0}
                dispatcher.utter_message(text="统一社会信用代码应为18位，请核对后再说一次。")
                return {"ticket_confirm": None}
            result = getattr(self, f"validate_{field}")(new_value, dispatcher, tracker, domain)
            return {**result, "ticket_confirm": None}
        if speech.is_affirmation(text):
            return {"ticket_confirm": "yes", "form_misses": 0}
        # Details typed without a change verb ("手机号是13912345678", "我们在沣西") correct the summary too.
        found = extract(text, services.network()).as_slots()
        if found and all(tracker.get_slot(k) == v for k, v in found.items()) and YES_WITH_DETAIL.match(text):
            return {"ticket_confirm": "yes", "form_misses": 0}      # "对，就是沣西": a yes that repeats a detail
        if found:
            return {**found, "ticket_confirm": None, "form_misses": 0}
        added = ADD_TO_DESCRIPTION.match(text)
        if added and added.group(1).strip():                          # "需求再补充一下：…"
            description = f"{tracker.get_slot('need_description') or ''}；{added.group(1).strip()}".strip("；")
            return {"need_description": description[:2000], "ticket_confirm": None, "form_misses": 0}
        return self._miss("ticket_confirm", dispatcher, tracker,
                          "请回复「确认」提交登记；要修改请直接说，例如「手机号改成139…」；不办了请说「取消」。")


class ActionAskTicketConfirm(Action):
    """The confirmation question shows everything collected."""

    def name(self) -> Text:
        return "action_ask_ticket_confirm"

    async def run(self, dispatcher, tracker, domain):
        slots = {k: tracker.get_slot(k) for k in FORM_SLOTS + ["ticket_category", "credit_code"]}
        dispatcher.utter_message(text=chat.summary(slots), buttons=chat.confirm_buttons())
        return []


def _reset_form() -> list[SlotSet]:
    return [SlotSet(s, None) for s in ("need_description", "ticket_confirm", "ticket_category", "ticket_seed",
                                       "user_statement")] + [SlotSet("form_misses", 0)]


class ActionSubmitTicket(Action):
    def name(self) -> Text:
        return "action_submit_ticket"

    async def run(self, dispatcher, tracker, domain):
        if tracker.get_slot("ticket_confirm") in (CANCELLED, HANDOVER):
            resets = [SlotSet(s, None) for s in FORM_SLOTS] + [SlotSet("form_misses", 0)]
            resets += [SlotSet("ticket_category", None), SlotSet("ticket_seed", None)] \
                + profile_slots(tracker.sender_id)
            if tracker.get_slot("ticket_confirm") == HANDOVER:
                from actions.actions import hand_over

                return resets + hand_over(dispatcher, tracker, "request_human",
                                          category=tracker.get_slot("ticket_category"),
                                          lead="好的，先不在这里登记了，正在为您转接服务专员。")
            dispatcher.utter_message(text="好的，已取消本次需求登记。还有其他问题随时找我。")
            return resets
        location = tracker.get_slot("ticket_location") or "无"
        net = services.network()
        park = None if speech.is_none_answer(location) else net.find_park(location)
        city = None if speech.is_none_answer(location) else (net.find_new_city(location) or
                                                     (net.new_city_of(park.id) if park else None))
        try:
            result = services.tickets().open_ticket(
                category=tracker.get_slot("ticket_category") or "need_policy_consult",
                description=tracker.get_slot("need_description") or "",
                enterprise=EnterpriseInput(name=tracker.get_slot("enterprise_name"),
                                           credit_code=tracker.get_slot("credit_code") or None,
                                           new_city=city.new_city if city else None,
                                           park=park.park if park else None),
                contact_name=tracker.get_slot("contact_name"),
                mobile=tracker.get_slot("contact_mobile"),
                sender_id=tracker.sender_id,
                channel=tracker.get_latest_input_channel() or "rest",
                conversation_id=tracker.sender_id,
                policy_level=extract(tracker.get_slot("need_description") or "").policy_level,
            )
        except TicketError as exc:
            dispatcher.utter_message(text=f"登记没有成功：{exc}")
            return _reset_form()
        except Exception:  # noqa: BLE001 - the user must hear something, staff get the log
            log.exception("ticket could not be opened")
            dispatcher.utter_message(text="抱歉，系统暂时无法登记，请稍后再试，或输入「转人工」由服务专员为您登记。")
            return _reset_form()
        t = result.ticket
        dispatcher.utter_message(text=chat.opened_message(t.number, result.node.name,
                                                          chat.local(t.first_response_due), result.linked))
        return _reset_form() + [SlotSet("last_ticket_number", t.number)]


class ActionTicketStatus(Action):
    """我的工单: the enterprise's tickets for a verified contact, the sender's own ones until then."""

    def name(self) -> Text:
        return "action_ticket_status"

    async def run(self, dispatcher, tracker, domain):
        handled = verification_turn(dispatcher, tracker)
        if handled is not None:
            return handled
        text = tracker.latest_message.get("text") or ""
        if not text.startswith("/") and not OWN_TICKETS.search(text) and turn.is_answerable(
                text, kb=services.knowledge(), context=turn.context_from_slot(tracker.get_slot("kb_context"))):
            from actions.actions import respond    # "提交了需求多久有人回复" asks about the service, not a ticket

            return respond(dispatcher, tracker)
        rows = services.tickets().tickets_for_sender(tracker.sender_id)
        standing = services.identity().standing(tracker.sender_id)
        # Unverified: only its own tickets, and the way to see the enterprise's (nothing says whether it has any).
        offer = None if standing.verified or not standing.enterprise_name else (
            f"如需查看「{standing.enterprise_name}」的全部工单，请先验证您是该企业的联系人：回复「验证」。")
        if not rows:
            dispatcher.utter_message(
                text="目前还没有查到您登记的工单。您可以直接告诉我想办理的事项，我来帮您登记并跟踪进度。"
                     + (f"\n{offer}" if offer else ""), buttons=[VERIFY_BUTTON] if offer else [])
            return []
        wanted = chat.ticket_numbers(tracker.latest_message.get("text") or "")
        if wanted:
            rows = [r for r in rows if r[0].number in wanted] or rows
        lines = [f"您企业名下最近的工单（共{len(rows)}个）：" if standing.verified
                 else f"您在这里登记的工单（共{len(rows)}个）："]
        buttons = []
        for i, (t, node) in enumerate(rows, 1):
            lines.append(chat.ticket_line(i, t, node.name))
            if t.status in lc.OPEN_STATES and len(buttons) < 4:
                buttons.append({"title": f"补充信息 {t.number}", "payload": f"补充工单 {t.number} 的信息"})
            if t.status == lc.RESOLVED and len(buttons) < 4:
                buttons.append({"title": f"评价 {t.number}", "payload": f"评价工单 {t.number}"})
        if offer:
            lines.append(offer)
            buttons.append(VERIFY_BUTTON)
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
        return []


class ActionStartAddInfo(Action):
    def name(self) -> Text:
        return "action_start_add_info"

    async def run(self, dispatcher, tracker, domain):
        rows = services.tickets().tickets_for_sender(tracker.sender_id, limit=20)
        open_rows = [t for t, _ in rows if t.status in lc.OPEN_STATES]
        target = chat.ticket_meant(open_rows, tracker.latest_message.get("text") or "", only_if_single=True)
        if target is None:
            if not open_rows:
                dispatcher.utter_message(text="没有查到您名下办理中的工单可以补充。如有新需求，直接告诉我即可。")
                return []
            dispatcher.utter_message(
                text="请问要补充到哪个工单？",
                buttons=[{"title": t.number, "payload": f"补充工单 {t.number} 的信息"} for t in open_rows[:5]])
            return []
        return [SlotSet("info_ticket_number", target.number), SlotSet("info_text", None),
                FollowupAction("add_info_form")]


class ValidateAddInfoForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_add_info_form"

    def validate_info_text(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"info_text": None}
        text = (value or "").strip()
        if speech.is_cancel(text):
            return {"info_text": CANCELLED}
        if len(text) < 2 or text.startswith("/"):
            dispatcher.utter_message(text="请直接输入要补充的内容。")
            return {"info_text": None}
        return {"info_text": text}


class ActionSubmitAddInfo(Action):
    def name(self) -> Text:
        return "action_submit_add_info"

    async def run(self, dispatcher, tracker, domain):
        number, text = tracker.get_slot("info_ticket_number"), tracker.get_slot("info_text")
        if text == CANCELLED:
            dispatcher.utter_message(text="好的，已取消补充。")
        else:
            try:
                t = services.tickets().add_info(number, tracker.sender_id, text)
                dispatcher.utter_message(
                    text=f"已补充到工单 {t.number}，服务专员会看到。当前状态：{lc.LABELS[t.status]}。")
            except TicketError as exc:
                dispatcher.utter_message(text=str(exc))
        return [SlotSet("info_ticket_number", None), SlotSet("info_text", None)]


class ActionRateTicket(Action):
    """Rate a closed ticket (5 levels); 不满意 reopens it with a follow-up flag."""

    def name(self) -> Text:
        return "action_rate_ticket"

    async def run(self, dispatcher, tracker, domain):
        handled = verification_turn(dispatcher, tracker)
        if handled is not None:
            return handled
        text = tracker.latest_message.get("text") or ""
        svc = services.tickets()
        rows = svc.tickets_for_sender(tracker.sender_id, limit=20)
        resolved = [t for t, _ in rows if t.status == lc.RESOLVED]
        # The ticket the rating request named (its buttons carry the number), or the only one waiting for a
        # rating — never simply "the latest" when several wait.
        target = chat.ticket_meant(resolved, text, only_if_single=True)
        if target is None:
            if len(resolved) > 1 and not chat.ticket_numbers(text):
                score = chat.rating_score(text)
                label = next((lbl for lbl, v in chat.RATING_BUTTONS if v == score), None)
                dispatcher.utter_message(
                    text="您有几个已办结的工单，请问要评价哪一个？",
                    buttons=[{"title": f"评价 {t.number}",
                              "payload": f"{label} {t.number}" if label else f"评价工单 {t.number}"}
                             for t in resolved[:5]])
                return []
            named = chat.ticket_numbers(text)
            if named:   # a number that is not (or no longer) the sender's to rate: the same answer either way
                dispatcher.utter_message(text=f"没有找到您名下待评价的工单 {'、'.join(sorted(named))}。")
                return []
            # Nothing of the sender's waits for a rating (not closed yet, or not theirs): say so rather than
            # thank them for a rating that was not recorded; a complaint still gets a way to a person.
            score = chat.rating_score(text)
            if score is not None and score <= 2:
                dispatcher.utter_message(
                    text="抱歉没能让您满意。您名下暂时没有待评价的已办结工单；请说说哪里不满意，我帮您登记，"
                         "也可以直接转人工服务。", buttons=[kb_replies.HUMAN_BUTTON])
            else:
                dispatcher.utter_message(text="谢谢您的反馈！您名下暂时没有待评价的已办结工单，工单办结后我会请您评价。")
            return []
        score = chat.rating_score(text)
        if score is None:
            dispatcher.utter_message(
                text=f"请为工单 {target.number} 的服务打分：",
                buttons=[{"title": label, "payload": f"{label} {target.number}"} for label, _ in chat.RATING_BUTTONS])
            return []
        try:
            svc.rate(target.number, tracker.sender_id, score)
        except TicketError as exc:
            dispatcher.utter_message(text=str(exc))
            return []
        if score <= 2:
            dispatcher.utter_message(
                text=f"非常抱歉这次没能让您满意！工单 {target.number} 已重新进入办理，我们会安排专人回访。")
        else:
            dispatcher.utter_message(text=f"感谢您对工单 {target.number} 的评价！")
        return [SlotSet("rating_ticket_number", target.number), SlotSet("rating_comment", None),
                FollowupAction("rating_comment_form")]


class ValidateRatingCommentForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_rating_comment_form"

    def validate_rating_comment(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"rating_comment": None}
        text = (value or "").strip()
        return {"rating_comment": "-" if speech.is_none_answer(text) or speech.is_cancel(text) else text[:500]}


class ActionSubmitRatingComment(Action):
    def name(self) -> Text:
        return "action_submit_rating_comment"

    async def run(self, dispatcher, tracker, domain):
        comment = tracker.get_slot("rating_comment")
        number = tracker.get_slot("rating_ticket_number")
        if comment and comment != "-" and number:
            try:
                services.tickets().comment_on_rating(number, tracker.sender_id, comment)
                dispatcher.utter_message(text="您的意见已记录，谢谢！")
            except TicketError as exc:      # e.g. the sender's verification was revoked since the rating
                dispatcher.utter_message(text=str(exc))
        else:
            dispatcher.utter_message(text="好的，感谢您的支持！")
        return [SlotSet("rating_ticket_number", None), SlotSet("rating_comment", None)]
