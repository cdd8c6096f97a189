"""Ticket actions: the registration form, 我的工单, adding information and rating."""
from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot import needs, services
from bot.tickets import chat
from bot.tickets import lifecycle as lc
from bot.tickets.service import EnterpriseInput, TicketError, normalise_mobile

log = logging.getLogger(__name__)

FORM_SLOTS = ["need_description", "enterprise_name", "contact_name", "contact_mobile",
              "ticket_location", "ticket_confirm"]
CANCELLED = "cancelled"


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


def start_ticket_events(tracker: Tracker, category: Optional[str], description: Optional[str]) -> list:
    events = [SlotSet("ticket_category", category), SlotSet("ticket_confirm", None),
              SlotSet("need_description", description)]
    events += [e for e in profile_slots(tracker.sender_id) if not tracker.get_slot(e["name"])]
    return events + [FollowupAction("ticket_form")]


class ActionStartTicket(Action):
    """"帮我登记需求": start the form for the need discussed last."""

    def name(self) -> Text:
        return "action_start_ticket"

    async def run(self, dispatcher, tracker, domain):
        category = tracker.get_slot("ticket_category")
        seed = tracker.get_slot("ticket_seed")
        dispatcher.utter_message(text="好的，我来帮您登记需求，由服务专员跟进办理。随时说「取消」可退出登记。")
        return start_ticket_events(tracker, category, seed)


class ValidateTicketForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_ticket_form"

    # -- shared checks ------------------------------------------------------------------------

    def _cancel(self) -> Dict[Text, Any]:
        return {s: "-" for s in FORM_SLOTS[:-1]} | {"ticket_confirm": CANCELLED}

    def _digression(self, value: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
        """A question in the middle of the form: answer it from the KB, then ask the slot again."""
        if not chat.looks_like_question(value):
            return False
        answer = services.knowledge().ask(value)
        if answer.decision != "answer":
            return False
        from bot import kb_replies

        reply = kb_replies.render_answer(answer, tracker.get_intent_of_latest_message())[0]
        dispatcher.utter_message(text=reply.text)
        dispatcher.utter_message(text="以上是您问题的解答。我们继续刚才的需求登记：")
        return True

    async def run(self, dispatcher, tracker, domain):
        """"取消" at any step ends the form (all slots filled with a cancel marker)."""
        text = tracker.latest_message.get("text") or ""
        if tracker.get_slot("requested_slot") and chat.is_cancel(text):
            return [SlotSet(k, v) for k, v in self._cancel().items()]
        return await super().run(dispatcher, tracker, domain)

    # -- slots ------------------------------------------------------------------------------------

    def validate_need_description(self, value, dispatcher, tracker, domain: DomainDict):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"need_description": None}
        text = (value or "").strip()
        if len(text) < 4 or text.startswith("/"):
            dispatcher.utter_message(text="请用一两句话描述您的需求，例如「想申请知识产权质押贷款，额度500万左右」。")
            return {"need_description": None}
        slots: Dict[str, Any] = {"need_description": text[:2000]}
        if not tracker.get_slot("ticket_category"):
            ranking = tracker.latest_message.get("intent_ranking") or []
            top = needs.fallback_choices(ranking, 1)
            slots["ticket_category"] = top[0] if top else "need_policy_consult"
        return slots

    def validate_enterprise_name(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"enterprise_name": None}
        text = (value or "").strip()
        if self._digression(text, dispatcher, tracker):
            return {"enterprise_name": None}
        if not 2 <= len(text) <= 64 or text.isdigit() or text.startswith("/"):
            dispatcher.utter_message(text="请告诉我企业的全称，例如「西安某某科技有限公司」。")
            return {"enterprise_name": None}
        return {"enterprise_name": text}

    def validate_contact_name(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"contact_name": None}
        text = (value or "").strip()
        if self._digression(text, dispatcher, tracker):
            return {"contact_name": None}
        if not 1 <= len(text) <= 20 or any(ch.isdigit() for ch in text) or text.startswith("/"):
            dispatcher.utter_message(text="请告诉我联系人的姓名（例如「王经理」或「李明」）。")
            return {"contact_name": None}
        return {"contact_name": text}

    def validate_contact_mobile(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"contact_mobile": None}
        if self._digression(value or "", dispatcher, tracker):
            return {"contact_mobile": None}
        try:
            return {"contact_mobile": normalise_mobile(value or "")}
        except TicketError as exc:
            dispatcher.utter_message(text=str(exc))
            return {"contact_mobile": None}

    def validate_ticket_location(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"ticket_location": None}
        text = (value or "").strip()
        if chat.is_none(text):
            return {"ticket_location": "无"}
        if self._digression(text, dispatcher, tracker):
            return {"ticket_location": None}
        net = services.network()
        park = net.find_park(text)
        city = net.find_new_city(text)
        if park is not None:
            return {"ticket_location": park.park or park.name}
        if city is not None:
            return {"ticket_location": f"{city.new_city}新城"}
        dispatcher.utter_message(
            text="没有识别出您所在的园区或新城。请告诉我所在新城（沣东、沣西、秦汉、空港、泾河）或园区名称；不在园区请回复「无」。")
        return {"ticket_location": None}

    def validate_ticket_confirm(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"ticket_confirm": None}
        text = (value or "").strip()
        if chat.is_yes(text) or tracker.get_intent_of_latest_message() == "affirm" and len(text) <= 6:
            return {"ticket_confirm": "yes"}
        fix = chat.correction(text)
        if fix is not None:
            field, new_value = fix
            if new_value is None:
                return {field: None, "ticket_confirm": None}
            validator = getattr(self, f"validate_{field}")
            result = validator(new_value, dispatcher, tracker, domain)
            return {**result, "ticket_confirm": None}
        dispatcher.utter_message(text="请点「确认提交」，或说明要修改哪一项；不办了请说「取消」。")
        return {"ticket_confirm": None}


class ActionAskTicketConfirm(Action):
    """The confirmation question shows everything collected."""

    def name(self) -> Text:
        return "action_ask_ticket_confirm"

    async def run(self, dispatcher, tracker, domain):
        slots = {k: tracker.get_slot(k) for k in FORM_SLOTS + ["ticket_category"]}
        dispatcher.utter_message(text=chat.summary(slots), buttons=chat.confirm_buttons())
        return []


def _reset_form() -> list[SlotSet]:
    return [SlotSet(s, None) for s in ("need_description", "ticket_confirm", "ticket_category", "ticket_seed")]


class ActionSubmitTicket(Action):
    def name(self) -> Text:
        return "action_submit_ticket"

    async def run(self, dispatcher, tracker, domain):
        if tracker.get_slot("ticket_confirm") == CANCELLED:
            dispatcher.utter_message(text="好的，已取消本次需求登记。还有其他问题随时找我。")
            resets = [SlotSet(s, None) for s in FORM_SLOTS]
            return resets + [SlotSet("ticket_category", None), SlotSet("ticket_seed", None)] \
                + profile_slots(tracker.sender_id)
        location = tracker.get_slot("ticket_location") or "无"
        net = services.network()
        park = None if chat.is_none(location) else net.find_park(location)
        city = None if chat.is_none(location) else (net.find_new_city(location) or
                                                     (net.new_city_of(park.id) if park else None))
        try:
            result = services.tickets().open_ticket(
                category=tracker.get_slot("ticket_category") or "need_policy_consult",
                description=tracker.get_slot("need_description") or "",
                enterprise=EnterpriseInput(name=tracker.get_slot("enterprise_name"),
                                           new_city=city.new_city if city else None,
                                           park=park.park if park else None),
                contact_name=tracker.get_slot("contact_name"),
                mobile=tracker.get_slot("contact_mobile"),
                sender_id=tracker.sender_id,
                channel=tracker.get_latest_input_channel() or "rest",
                conversation_id=tracker.sender_id,
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
    """我的工单: only the sender's own enterprise's tickets."""

    def name(self) -> Text:
        return "action_ticket_status"

    async def run(self, dispatcher, tracker, domain):
        rows = services.tickets().tickets_for_sender(tracker.sender_id)
        if not rows:
            dispatcher.utter_message(
                text="目前还没有查到您企业名下的工单。您可以直接告诉我想办理的事项，我来帮您登记并跟踪进度。")
            return []
        wanted = chat.ticket_numbers(tracker.latest_message.get("text") or "")
        if wanted:
            rows = [r for r in rows if r[0].number in wanted] or rows
        lines = [f"您企业名下最近的工单（共{len(rows)}个）："]
        buttons = []
        for i, (t, node) in enumerate(rows, 1):
            lines.append(chat.ticket_line(i, t, node.name))
            if t.status in lc.OPEN_STATES and len(buttons) < 4:
                buttons.append({"title": f"补充信息 {t.number}", "payload": f"补充工单 {t.number} 的信息"})
            if t.status == lc.RESOLVED and len(buttons) < 4:
                buttons.append({"title": f"评价 {t.number}", "payload": f"评价工单 {t.number}"})
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
                dispatcher.utter_message(text="您企业名下没有办理中的工单可以补充。如有新需求，直接告诉我即可。")
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
        if chat.is_cancel(text):
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
        text = tracker.latest_message.get("text") or ""
        svc = services.tickets()
        rows = svc.tickets_for_sender(tracker.sender_id, limit=20)
        resolved = [t for t, _ in rows if t.status == lc.RESOLVED]
        target = chat.ticket_meant(resolved, text)
        if target is None:
            dispatcher.utter_message(text="感谢您的评价！我们会根据您的反馈持续改进服务。")
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
        dispatcher.utter_message(text="如有意见或建议可直接回复，我们会认真改进；没有请回复「没有」。")
        return [SlotSet("rating_ticket_number", target.number), SlotSet("rating_comment", None),
                FollowupAction("rating_comment_form")]


class ValidateRatingCommentForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_rating_comment_form"

    def validate_rating_comment(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"rating_comment": None}
        text = (value or "").strip()
        return {"rating_comment": "-" if chat.is_none(text) or chat.is_cancel(text) else text[:500]}


class ActionSubmitRatingComment(Action):
    def name(self) -> Text:
        return "action_submit_rating_comment"

    async def run(self, dispatcher, tracker, domain):
        comment = tracker.get_slot("rating_comment")
        number = tracker.get_slot("rating_ticket_number")
        if comment and comment != "-" and number:
            services.tickets().comment_on_rating(number, tracker.sender_id, comment)
            dispatcher.utter_message(text="您的意见已记录，谢谢！")
        else:
            dispatcher.utter_message(text="好的，感谢您的支持！")
        return [SlotSet("rating_ticket_number", None), SlotSet("rating_comment", None)]
