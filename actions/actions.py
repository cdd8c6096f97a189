"""Custom actions. Each one reads the tracker, calls bot/ and renders replies."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import needs
from bot.taxonomy import is_need


def _previous_user_intent(tracker: Tracker) -> str | None:
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


class ActionHandleNeed(Action):
    """A recognised need: name its category and service content (ticket hook)."""

    def name(self) -> Text:
        return "action_handle_need"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        intent = tracker.get_intent_of_latest_message()
        if not is_need(intent):
            dispatcher.utter_message(response="utter_default")
            return []
        dispatcher.utter_message(text=needs.acknowledge(intent))
        return []


class ActionNluFallback(Action):
    """Two-stage fallback: first offer the two likeliest categories, then a person."""

    def name(self) -> Text:
        return "action_nlu_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if _previous_user_intent(tracker) == "nlu_fallback":
            dispatcher.utter_message(
                text="抱歉，我还是没能理解您的问题。为避免耽误您的时间，建议由服务专员为您解答。",
                buttons=[
                    {"title": "转人工服务", "payload": "/request_human"},
                    {"title": "看看能办哪些事", "payload": "/ask_capabilities"},
                ],
            )
            return []
        ranking = tracker.latest_message.get("intent_ranking") or []
        choices = needs.fallback_choices(ranking)
        buttons = [{"title": needs.label(i), "payload": f"/{i}"} for i in choices]
        buttons.append({"title": "都不是，转人工", "payload": "/request_human"})
        dispatcher.utter_message(
            text="抱歉，我没太理解您的意思。您是想咨询下面哪一类事项？也可以换个说法再说一次。",
            buttons=buttons,
        )
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


class ActionTicketStatus(Action):
    """Progress of the sender's needs (tickets arrive with the ticket service)."""

    def name(self) -> Text:
        return "action_ticket_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(
            text="目前还没有查到您在线提交的需求记录。您可以直接告诉我想办理的事项，我来帮您登记并跟踪进度。"
        )
        return []
