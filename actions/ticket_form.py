"""The registration form (ticket_form): from "帮我登记需求" to the opened ticket.

`start_ticket_events` starts the form with what the conversation already holds (this turn's details, earlier
slots, a returning sender's profile); the turn, "帮我登记" (`action_start_ticket`) and a policy-check result
button all start it this way. `validate_ticket_form` reads each answer the way people type it (the answer
inside a sentence, other details on the way, corrections, "取消", "转人工"), the confirmation shows everything
collected, and `action_submit_ticket` opens the ticket (bot.tickets.service) or hands over. What happens to a
ticket afterwards (我的工单, adding information, rating) is in actions/tickets.py.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services, wording
from actions.handover import hand_over
from actions.latest_message import from_button
from bot import clock
from bot.dialogue import speech, turn
from bot.dialogue.details import extract
from bot.knowledge import replies as kb_replies
from bot.privacy import notice as privacy_notice
from bot.tickets import chat
from bot.tickets.service import EnterpriseInput, TicketError

log = logging.getLogger(__name__)

FORM_SLOTS = [
    "need_description",
    "enterprise_name",
    "contact_name",
    "contact_mobile",
    "ticket_location",
    "ticket_confirm",
]
CANCELLED = "cancelled"
PERSONAL_SLOTS = ("enterprise_name", "contact_name", "contact_mobile")
HANDOVER = "handover"  # "转人工" in the middle of the form: stop it and hand over
BARE_COMMAND_CHARS = 14  # "帮我登记一下需求" and the like name no need of their own
YES_WITH_DETAIL = re.compile(r"^\s*(?:对|是的?|没错|嗯|确认|好的?|OK|ok)[，,。！!\s]*")
ADD_TO_DESCRIPTION = re.compile(
    r"^(?:需求|描述|情况)?(?:再|还要|还想)?补充(?:一下|说明|几句|一点)?[:：,，]\s*(.+)$", re.S
)
WANTS_A_PERSON = re.compile(r"转人工|人工(?:服务|客服)?$|真人|找(?:个|一下)?(?:人|客服|专员)|客服")


def profile_slots(sender_id: str) -> list[SlotSet]:
    """Prefill what the window already knows about this sender (returning users)."""
    p = services.tickets().profile(sender_id)
    if p is None:
        return []
    location = p.park or (f"{p.new_city}新城" if p.new_city else "无")
    events = [
        SlotSet("enterprise_name", p.enterprise_name),
        SlotSet("contact_name", p.contact_name),
        SlotSet("ticket_location", location),
    ]
    if p.mobile:
        events.append(SlotSet("contact_mobile", p.mobile))
    return events


def start_ticket_events(
    tracker: Tracker, category: Optional[str], description: Optional[str], prefilled: Optional[list] = None
) -> list:
    """Events that start the registration form: what the user already said (this turn's `prefilled` slot
    events, earlier slots) is kept, and a returning sender's profile fills what is still missing."""
    known = {e["name"]: e["value"] for e in (prefilled or []) if e.get("event") == "slot" and e.get("value")}
    events = [
        SlotSet("ticket_category", category),
        SlotSet("ticket_confirm", None),
        SlotSet("need_description", description),
        SlotSet("form_misses", 0),
    ]
    events += [
        e for e in profile_slots(tracker.sender_id) if not tracker.get_slot(e["name"]) and e["name"] not in known
    ]
    return events + [FollowupAction("ticket_form")]


class ActionStartTicket(Action):
    """ "帮我登记需求": start the form for the need discussed last (or the one this message states)."""

    def name(self) -> Text:
        return "action_start_ticket"

    async def run(self, dispatcher, tracker, domain):
        text = (tracker.latest_message.get("text") or "").strip()
        details = extract(text, services.network()) if not from_button(tracker) else None
        prefilled = [SlotSet(k, v) for k, v in details.as_slots().items()] if details else []
        category = tracker.get_slot("ticket_category")
        seed = tracker.get_slot("user_statement") or tracker.get_slot("ticket_seed")
        if details is not None and len(text) > BARE_COMMAND_CHARS:
            # "请安排专员对接一下融资需求": the message itself states the need.
            stated = turn.request_category(
                text,
                None,
                0.0,
                tracker.latest_message.get("intent_ranking") or [],
                kb=services.knowledge(),
                context=tracker.get_slot("kb_context"),
            )
            category, seed = stated or category, text[:2000]
            prefilled.append(SlotSet("user_statement", seed))
        dispatcher.utter_message(text=wording.REGISTER_START_ON_REQUEST)
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
        dispatcher.utter_message(text=wording.FORM_RESUME)
        return True

    def _miss(self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker, again: str) -> Dict[Text, Any]:
        """An answer that did not fit: ask again; the second time say plainly what is expected and offer a person."""
        misses = int(tracker.get_slot("form_misses") or 0) + 1
        if misses >= 2:
            dispatcher.utter_message(
                text=wording.STILL_NOT_UNDERSTOOD.format(expected=wording.EXPECTED[slot]),
                buttons=[kb_replies.HUMAN_BUTTON, wording.CANCEL_FORM_BUTTON],
            )
        else:
            dispatcher.utter_message(text=again)
        return {slot: None, "form_misses": misses}

    async def run(self, dispatcher, tracker, domain):
        """ "取消" / "转人工" at any step; details given on the way are kept (never asked again)."""
        text = tracker.latest_message.get("text") or ""
        requested = tracker.get_slot("requested_slot")
        if requested and speech.is_cancel(text):
            return [SlotSet(k, v) for k, v in self._cancel().items()]
        if requested and WANTS_A_PERSON.search(text) and len(text) <= 16:
            return [SlotSet(k, v) for k, v in self._cancel(HANDOVER).items()]
        events = await super().run(dispatcher, tracker, domain)
        if requested and not text.startswith("/") and requested != "ticket_confirm":
            set_now = {e["name"] for e in events if e.get("event") == "slot"}
            found = extract(text, services.network(), expecting=requested, is_reply=speech.is_reply).as_slots()
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
            return  # still on the need itself, or the form is ending (cancelled / handed over / confirmed)
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
            return self._miss("need_description", dispatcher, tracker, wording.ASK_AGAIN["need_description"])
        slots: Dict[str, Any] = {"need_description": text[:2000], "form_misses": 0}
        if not tracker.get_slot("ticket_category"):
            ranking = tracker.latest_message.get("intent_ranking") or []
            slots["ticket_category"] = (
                turn.need_category(tracker.get_intent_of_latest_message(), ranking, [], None) or "need_policy_consult"
            )
        return slots

    def validate_enterprise_name(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"enterprise_name": None}
        text = (value or "").strip()
        if self._digression(text, dispatcher, tracker):
            return {"enterprise_name": None}
        name = extract(
            text, services.network(), expecting="enterprise_name", is_reply=speech.is_reply
        ).company or _prefilled(text, tracker)
        if not name or not 2 <= len(name) <= 64 or name.isdigit() or name.startswith("/"):
            return self._miss("enterprise_name", dispatcher, tracker, wording.ASK_AGAIN["enterprise_name"])
        return {"enterprise_name": name, "form_misses": 0}

    def validate_contact_name(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"contact_name": None}
        text = (value or "").strip()
        if self._digression(text, dispatcher, tracker):
            return {"contact_name": None}
        name = extract(
            text, services.network(), expecting="contact_name", is_reply=speech.is_reply
        ).contact_name or _prefilled(text, tracker)
        if not name or not 1 <= len(name) <= 20 or name.startswith("/"):
            return self._miss("contact_name", dispatcher, tracker, wording.ASK_AGAIN["contact_name"])
        return {"contact_name": name, "form_misses": 0}

    def validate_contact_mobile(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"contact_mobile": None}
        if self._digression(value or "", dispatcher, tracker):
            return {"contact_mobile": None}
        found = extract(value or "", services.network(), expecting="contact_mobile")
        if found.mobile:
            return {"contact_mobile": found.mobile, "form_misses": 0}
        return self._miss("contact_mobile", dispatcher, tracker, wording.ASK_AGAIN["contact_mobile"])

    def validate_ticket_location(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"ticket_location": None}
        text = (value or "").strip()
        if speech.is_none_answer(text):
            return {"ticket_location": "无", "form_misses": 0}
        if self._digression(text, dispatcher, tracker):
            return {"ticket_location": None}
        location = extract(text, services.network(), expecting="ticket_location").as_slots().get(
            "ticket_location"
        ) or _prefilled(text, tracker)
        if location:
            return {"ticket_location": location, "form_misses": 0}
        return self._miss("ticket_location", dispatcher, tracker, wording.ASK_AGAIN["ticket_location"])

    def validate_ticket_confirm(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"ticket_confirm": None}
        text = (value or "").strip()
        fix = speech.correction(text)
        if fix is not None:
            field, new_value = fix
            if new_value is None:  # "修改手机号": ask that field again
                return {field: None, "ticket_confirm": None, "form_misses": 0}
            if field == "need_description":
                return {"need_description": new_value[:2000], "ticket_confirm": None, "form_misses": 0}
            if field == "credit_code":
                code = extract(new_value, services.network()).credit_code
                if code:
                    return {"credit_code": code, "ticket_confirm": None, "form_misses": 0}
                dispatcher.utter_message(text=wording.CREDIT_CODE_AGAIN)
                return {"ticket_confirm": None}
            result = getattr(self, f"validate_{field}")(new_value, dispatcher, tracker, domain)
            return {**result, "ticket_confirm": None}
        if speech.is_affirmation(text):
            return {"ticket_confirm": "yes", "form_misses": 0}
        # Details typed without a change verb ("手机号是13912345678", "我们在沣西") correct the summary too.
        found = extract(text, services.network()).as_slots()
        if found and all(tracker.get_slot(k) == v for k, v in found.items()) and YES_WITH_DETAIL.match(text):
            return {"ticket_confirm": "yes", "form_misses": 0}  # "对，就是沣西": a yes that repeats a detail
        if found:
            return {**found, "ticket_confirm": None, "form_misses": 0}
        added = ADD_TO_DESCRIPTION.match(text)
        if added and added.group(1).strip():  # "需求再补充一下：…"
            description = f"{tracker.get_slot('need_description') or ''}；{added.group(1).strip()}".strip("；")
            return {"need_description": description[:2000], "ticket_confirm": None, "form_misses": 0}
        return self._miss("ticket_confirm", dispatcher, tracker, wording.ASK_AGAIN["ticket_confirm"])


class ActionAskTicketConfirm(Action):
    """The confirmation question shows everything collected."""

    def name(self) -> Text:
        return "action_ask_ticket_confirm"

    async def run(self, dispatcher, tracker, domain):
        slots = {k: tracker.get_slot(k) for k in FORM_SLOTS + ["ticket_category", "credit_code"]}
        dispatcher.utter_message(text=chat.summary(slots), buttons=chat.confirm_buttons())
        return []


def _reset_form() -> list[SlotSet]:
    return [
        SlotSet(s, None)
        for s in ("need_description", "ticket_confirm", "ticket_category", "ticket_seed", "user_statement")
    ] + [SlotSet("form_misses", 0)]


class ActionSubmitTicket(Action):
    def name(self) -> Text:
        return "action_submit_ticket"

    async def run(self, dispatcher, tracker, domain):
        if tracker.get_slot("ticket_confirm") in (CANCELLED, HANDOVER):
            resets = [SlotSet(s, None) for s in FORM_SLOTS] + [SlotSet("form_misses", 0)]
            resets += [SlotSet("ticket_category", None), SlotSet("ticket_seed", None)] + profile_slots(
                tracker.sender_id
            )
            if tracker.get_slot("ticket_confirm") == HANDOVER:
                return resets + hand_over(
                    dispatcher,
                    tracker,
                    "request_human",
                    category=tracker.get_slot("ticket_category"),
                    lead=wording.FORM_HANDOVER_LEAD,
                )
            dispatcher.utter_message(text=wording.FORM_CANCELLED)
            return resets
        location = tracker.get_slot("ticket_location") or "无"
        net = services.network()
        park = None if speech.is_none_answer(location) else net.find_park(location)
        city = (
            None
            if speech.is_none_answer(location)
            else (net.find_new_city(location) or (net.new_city_of(park.id) if park else None))
        )
        try:
            result = services.tickets().open_ticket(
                category=tracker.get_slot("ticket_category") or "need_policy_consult",
                description=tracker.get_slot("need_description") or "",
                enterprise=EnterpriseInput(
                    name=tracker.get_slot("enterprise_name"),
                    credit_code=tracker.get_slot("credit_code") or None,
                    new_city=city.new_city if city else None,
                    park=park.park if park else None,
                ),
                contact_name=tracker.get_slot("contact_name"),
                mobile=tracker.get_slot("contact_mobile"),
                sender_id=tracker.sender_id,
                channel=tracker.get_latest_input_channel() or "rest",
                conversation_id=tracker.sender_id,
                policy_level=extract(tracker.get_slot("need_description") or "").policy_level,
            )
        except TicketError as exc:
            dispatcher.utter_message(text=wording.SUBMIT_REFUSED.format(error=exc))
            return _reset_form()
        except Exception:  # noqa: BLE001 - the user must hear something, staff get the log
            log.exception("ticket could not be opened")
            dispatcher.utter_message(text=wording.SUBMIT_FAILED)
            return _reset_form()
        t = result.ticket
        dispatcher.utter_message(
            text=chat.opened_message(t.number, result.node.name, clock.local(t.first_response_due), result.linked)
        )
        return _reset_form() + [SlotSet("last_ticket_number", t.number)]
