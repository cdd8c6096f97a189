"""The actions whose intent is only a hint, and yes/no feedback on an answer.

action_handle_need, action_nlu_fallback, action_out_of_scope and action_complain hand the message to the turn
(`respond`, actions/turn.py), which decides what it really is; action_capabilities and
action_policy_check_start do too unless the message is what their intent says ("你们能办什么", "政策体检").
action_affirm_deny records "是/不是" as feedback on the knowledge-base answer just given. Building the
knowledge index when this module is loaded makes the action server ready before the first question.
"""

from __future__ import annotations

import abc
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services, wording
from actions.latest_message import from_button
from actions.policy_check import start_check
from actions.turn import respond
from actions.verification import verification_turn
from bot.dialogue import policy_check as policy_chat
from bot.dialogue import speech, turn
from bot.knowledge import log as kb_log
from bot.knowledge import replies as kb_replies

log = logging.getLogger(__name__)

KB_ACTIONS = (
    "action_handle_need",
    "action_nlu_fallback",
    "action_out_of_scope",
    "action_complain",
    "action_policy_check_start",
)

# Build the knowledge index when the action server starts, not on the first question.
services.knowledge()


def _last_bot_action_before_latest_user(tracker: Tracker) -> Optional[str]:
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return None
            seen_user = True
        elif seen_user and event.get("event") == "action" and event.get("name") != "action_listen":
            return event.get("name")
    return None


class _Respond(Action, metaclass=abc.ABCMeta):
    """Actions whose rule-given intent is only a hint: the turn planner decides (respond). Abstract, so the
    action server registers only its subclasses."""

    @abc.abstractmethod
    def name(self) -> Text: ...

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        return respond(dispatcher, tracker)


class ActionHandleNeed(_Respond):
    """A recognised need: answer what it asks, register what it requests (bot.dialogue.turn)."""

    def name(self) -> Text:
        return "action_handle_need"


class ActionNluFallback(_Respond):
    """Not understood by the classifier: the knowledge base is asked anyway; two misses in a row → a person."""

    def name(self) -> Text:
        return "action_nlu_fallback"


class ActionOutOfScope(_Respond):
    """ "Out of scope" by the classifier — but "你们窗口周末上班吗" is a question the knowledge base answers."""

    def name(self) -> Text:
        return "action_out_of_scope"


class ActionComplain(_Respond):
    """A complaint goes to a person — unless it is a question the knowledge base answers
    ("听说你们有个即日办，具体是什么意思" is not a complaint)."""

    def name(self) -> Text:
        return "action_complain"


class ActionCapabilities(Action):
    """ "你们能办什么" gets the five service contents — but "要什么材料" after an answer, or "你们的服务中心都在哪",
    are questions the knowledge base answers (the classifier often calls short questions "capabilities")."""

    def name(self) -> Text:
        return "action_capabilities"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        text = tracker.latest_message.get("text") or ""
        if not text.startswith("/") and turn.is_answerable(
            text, kb=services.knowledge(), context=turn.context_from_slot(tracker.get_slot("kb_context"))
        ):
            return respond(dispatcher, tracker)
        dispatcher.utter_message(response="utter_capabilities")
        return []


class ActionPolicyCheckStart(Action):
    """ "政策体检" / "能评高企吗" / figures: start the check (or answer at once when nothing is missing)."""

    def name(self) -> Text:
        return "action_policy_check_start"

    async def run(self, dispatcher, tracker, domain):
        text = (tracker.latest_message.get("text") or "").strip()
        if text.startswith("/"):
            return start_check(dispatcher, tracker, text)
        if policy_chat.leaves_contact(text, services.network()):
            # "帮我们做一次政策匹配…联系人杨帆，131…": contact details left for a person to call back — that is a
            # registration (the window's own 政策匹配 service), handled like any stated need.
            return respond(dispatcher, tracker)
        if policy_chat.wants_check(text):
            return start_check(dispatcher, tracker, text)
        # The classifier's guess, but the message asks about a requirement ("什么样的企业算小型微利企业",
        # "…我们这种情况申请高企，研发费用占比要达到多少"): the knowledge base answers; with figures in it the
        # check is offered.
        events = respond(dispatcher, tracker)
        if policy_chat.facts_of(text, services.network()):
            dispatcher.utter_message(text=wording.CHECK_OFFER, buttons=[wording.CHECK_OFFER_BUTTON])
        return events


class ActionAffirmDeny(Action):
    """ "是/好的" or "不是/没帮助": feedback on the answer just given, else a plain acknowledgement."""

    def name(self) -> Text:
        return "action_affirm_deny"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        verifying = verification_turn(dispatcher, tracker)
        if verifying is not None:
            return verifying
        text = tracker.latest_message.get("text") or ""
        if not from_button(tracker) and (
            speech.asks_what(text)
            or (not speech.is_affirmation(text) and not speech.is_negation(text) and speech.is_followup(text))
        ):
            # "那税率呢" taken for a yes, "哪些行业不行？" for a no: a follow-up question, not feedback
            return respond(dispatcher, tracker)
        helpful = tracker.get_intent_of_latest_message() == "affirm"
        qid = tracker.get_slot("kb_query_id")
        if qid is not None and _last_bot_action_before_latest_user(tracker) in KB_ACTIONS:
            try:
                kb_log.record_feedback(services.db_url(), int(qid), tracker.sender_id, helpful)
            except Exception:  # noqa: BLE001
                log.exception("could not record feedback")
            if helpful:
                dispatcher.utter_message(text=wording.FEEDBACK_THANKS)
            else:
                dispatcher.utter_message(text=wording.FEEDBACK_SORRY, buttons=[kb_replies.HUMAN_BUTTON])
            return [SlotSet("kb_query_id", None)]
        dispatcher.utter_message(text=wording.ACK_YES if helpful else wording.ACK_NO)
        return []
