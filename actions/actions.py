"""Custom actions. Each one reads the tracker, calls bot/ and renders replies."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet

from actions.tickets import start_ticket_events
from rasa_sdk.executor import CollectingDispatcher

from bot import kb_log, kb_replies, needs, services
from bot.knowledge import Answer
from bot.taxonomy import is_need

log = logging.getLogger(__name__)

KB_ACTIONS = ("action_handle_need", "action_nlu_fallback")
TICKET_BUTTON = {"title": "登记需求，专员跟进", "payload": "/open_ticket"}
ACK_YES = "好的。请告诉我您想办理或咨询的具体事项。"
ACK_NO = "好的，没问题。还有其他需要随时告诉我。"

# Build the knowledge index when the action server starts, not on the first question.
services.knowledge()


def _previous_user_intent(tracker: Tracker) -> Optional[str]:
    """Intent of the user message before the latest one (None if there is none)."""
    seen_latest = False
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if not seen_latest:
            seen_latest = True
            continue
        return (event.get("parse_data") or {}).get("intent", {}).get("name")
    return None


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


def _utter(dispatcher: CollectingDispatcher, replies: list[kb_replies.Reply]) -> None:
    for r in replies:
        dispatcher.utter_message(**r.as_message())


def _ask_kb(tracker: Tracker, intent: Optional[str]) -> tuple[Answer, Optional[int]]:
    """Ask the knowledge base and record the question (a DB failure never blocks the reply)."""
    text = tracker.latest_message.get("text") or ""
    answer = services.knowledge().ask(text)
    top = answer.top
    try:
        qid = kb_log.record_question(
            services.db_url(), conversation_id=tracker.sender_id, text=text,
            decision=answer.decision, category=intent,
            faq_id=top.faq.id if top else None, entry_id=top.entry.id if top else None,
            score=round(top.score, 4) if top else None,
            channel=tracker.get_latest_input_channel() or "rest",
        )
    except Exception:  # noqa: BLE001
        log.exception("could not record knowledge-base question")
        qid = None
    return answer, qid


class ActionHandleNeed(Action):
    """A recognised need: answer from the knowledge base, or name the category (ticket hook)."""

    def name(self) -> Text:
        return "action_handle_need"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        intent = tracker.get_intent_of_latest_message()
        if not is_need(intent):
            dispatcher.utter_message(response="utter_default")
            return []
        text = tracker.latest_message.get("text") or ""
        remember = [SlotSet("ticket_category", intent), SlotSet("ticket_seed", text[:2000])]
        answer, qid = _ask_kb(tracker, intent)
        if answer.decision == "answer":
            replies = kb_replies.render_answer(answer, intent)
            replies[-1].buttons.append(TICKET_BUTTON)
            _utter(dispatcher, replies)
            return remember + [SlotSet("kb_query_id", qid)]
        if answer.decision == "ambiguous":
            replies = kb_replies.render_options(answer, intent)
            replies[-1].buttons.insert(-1, TICKET_BUTTON)
            _utter(dispatcher, replies)
            return remember + [SlotSet("kb_query_id", None)]
        # Nothing to answer from the knowledge base: this is a need to handle → register it.
        dispatcher.utter_message(text=needs.acknowledge(intent))
        return [SlotSet("kb_query_id", None)] + start_ticket_events(tracker, intent, text[:2000])


class ActionNluFallback(Action):
    """Not understood: a confident KB answer first, else the two-stage fallback."""

    def name(self) -> Text:
        return "action_nlu_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if (tracker.latest_message.get("text") or "").startswith("/"):
            answer, qid = None, None  # a button payload, not a question
        else:
            answer, qid = _ask_kb(tracker, None)
        if answer is not None and answer.decision == "answer":
            _utter(dispatcher, kb_replies.render_answer(answer, None))
            return [SlotSet("kb_query_id", qid)]
        if _previous_user_intent(tracker) == "nlu_fallback":
            dispatcher.utter_message(
                text="抱歉，我还是没能理解您的问题。为避免耽误您的时间，建议由服务专员为您解答。",
                buttons=[kb_replies.HUMAN_BUTTON, {"title": "看看能办哪些事", "payload": "/ask_capabilities"}],
            )
            return [SlotSet("kb_query_id", None)]
        ranking = tracker.latest_message.get("intent_ranking") or []
        buttons = [{"title": needs.label(i), "payload": f"/{i}"} for i in needs.fallback_choices(ranking)]
        buttons.append({"title": "都不是，转人工", "payload": "/request_human"})
        dispatcher.utter_message(
            text="抱歉，我没太理解您的意思。您是想咨询下面哪一类事项？也可以换个说法再说一次。",
            buttons=buttons,
        )
        return [SlotSet("kb_query_id", None)]


class ActionAffirmDeny(Action):
    """"是/好的" or "不是/没帮助": feedback on the answer just given, else a plain acknowledgement."""

    def name(self) -> Text:
        return "action_affirm_deny"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        helpful = tracker.get_intent_of_latest_message() == "affirm"
        qid = tracker.get_slot("kb_query_id")
        if qid is not None and _last_bot_action_before_latest_user(tracker) in KB_ACTIONS:
            try:
                kb_log.record_feedback(services.db_url(), int(qid), tracker.sender_id, helpful)
            except Exception:  # noqa: BLE001
                log.exception("could not record feedback")
            if helpful:
                dispatcher.utter_message(text="感谢您的反馈！还有其他问题随时问我。")
            else:
                dispatcher.utter_message(
                    text="抱歉没能帮到您，您的反馈已记录，我们会改进解答。需要的话可以请服务专员为您详细解答。",
                    buttons=[kb_replies.HUMAN_BUTTON],
                )
            return [SlotSet("kb_query_id", None)]
        dispatcher.utter_message(text=ACK_YES if helpful else ACK_NO)
        return []


class ActionRequestHuman(Action):
    """The user wants a person (hand-over to the staff console is wired in by the desk)."""

    def name(self) -> Text:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(
            text="好的，正在为您转接服务专员。工作时间（法定工作日 9:00-17:30）内会尽快回复您，请稍候。"
        )
        return []
