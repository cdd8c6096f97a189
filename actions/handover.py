"""Handing the conversation to staff, and the bot's return afterwards.

`hand_over` records a handover (bot.handover), tells the user who answers and when, and pauses the bot; every
flow that gives up on a message calls it — the turn (a complaint, "转人工", two misses, a staff-only category),
the ticket form and the policy check ("转人工" in the middle). The actions around a handover live here too:
`action_request_human` (转人工), `action_after_handover` (the desk ended it: the bot is back and asks for a
rating) and `action_rate_handover` (that rating, of the staff rather than of a ticket).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused
from rasa_sdk.executor import CollectingDispatcher

from actions import services, wording
from bot import handover as ho
from bot.taxonomy import is_need
from bot.tickets.chat import RATING_BUTTONS, rating_score

log = logging.getLogger(__name__)

RATE_WITHIN = timedelta(minutes=30)  # the after-handover rating is asked only right after staff served


def _latest_need(tracker: Tracker) -> Optional[str]:
    """The need category the conversation is about: the one being registered (the ticket's own), else the
    latest need intent the user expressed — so the console and the ticket never disagree."""
    if tracker.get_slot("ticket_category"):
        return tracker.get_slot("ticket_category")
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            intent = (event.get("parse_data") or {}).get("intent", {}).get("name")
            if is_need(intent):
                return intent
    return None


def _transcript(tracker: Tracker, limit: int = 100) -> list[dict]:
    """The conversation as Rasa saw it (used when the desk stored no messages, e.g. REST clients)."""
    out = []
    for e in tracker.events:
        kind = e.get("event")
        if kind not in ("user", "bot") or not e.get("text"):
            continue
        at = e.get("timestamp")
        out.append(
            {
                "at": datetime.fromtimestamp(at, timezone.utc).isoformat() if at else None,
                "direction": "in" if kind == "user" else "out",
                "author": "user" if kind == "user" else "bot",
                "text": e.get("text"),
            }
        )
    return out[-limit:]


def hand_over(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: str,
    category: Optional[str] = None,
    lead: Optional[str] = None,
) -> list:
    """Record the handover, tell the user who answers and when, pause the bot.

    The custom message tells the desk at once that the conversation now waits for staff.
    If the handover cannot be recorded the bot says so and keeps answering (no silent pause).
    """
    try:
        info = ho.start_handover(
            services.db_url(),
            tracker.sender_id,
            reason,
            category=category or _latest_need(tracker),
            transcript=_transcript(tracker),
            channel=tracker.get_latest_input_channel() or "rest",
        )
    except Exception:  # noqa: BLE001
        log.exception("handover of %s failed", tracker.sender_id)
        dispatcher.utter_message(text=wording.HANDOVER_FAILED, buttons=[wording.REGISTER_NEED_BUTTON])
        return []
    if lead:
        dispatcher.utter_message(text=lead)
    dispatcher.utter_message(text=info.notice)
    dispatcher.utter_message(
        json_message={
            "handover": {"id": info.id, "node": info.node_id, "node_name": info.node_name, "reason": info.reason}
        }
    )
    # The bot stops here without predicting action_listen; log it ourselves so that, once the desk
    # resumes the conversation, the next user turn (EXTERNAL_handover_ended) matches the rules.
    return [ConversationPaused(), ActionExecuted("action_listen")]


class ActionRequestHuman(Action):
    """The user wants a person (or complains): record the handover and pause the bot."""

    def name(self) -> Text:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        reason = "complaint" if tracker.get_intent_of_latest_message() == "complain" else "request_human"
        lead = None if reason == "complaint" else wording.HANDOVER_LEAD
        return hand_over(dispatcher, tracker, reason, lead=lead)


class ActionAfterHandover(Action):
    """The desk ended a handover (EXTERNAL_handover_ended): the bot is back and asks for a rating."""

    def name(self) -> Text:
        return "action_after_handover"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        served = False
        try:
            h = ho.latest(services.db_url(), tracker.sender_id)
            served = (
                h is not None
                and h.ended_at is not None
                and h.claimed_by is not None
                and datetime.now(timezone.utc) - h.ended_at < RATE_WITHIN
            )
        except Exception:  # noqa: BLE001
            log.exception("could not read the handover of %s", tracker.sender_id)
        if not served:
            dispatcher.utter_message(text=wording.BOT_IS_BACK)
            return []
        dispatcher.utter_message(
            text=wording.HANDOVER_RATING_QUESTION,
            buttons=[{"title": label, "payload": label} for label, _ in RATING_BUTTONS],
        )
        return []


class ActionRateHandover(Action):
    """The answer to action_after_handover's question: a rating of the staff, not of a ticket."""

    def name(self) -> Text:
        return "action_rate_handover"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        score = rating_score(tracker.latest_message.get("text") or "")
        if score is None:
            dispatcher.utter_message(text=wording.HANDOVER_RATING_NO_SCORE)
            return []
        try:
            h = ho.latest(services.db_url(), tracker.sender_id)
            if h is not None:
                ho.rate(services.db_url(), h.id, score, f"user:{tracker.sender_id}")
        except Exception:  # noqa: BLE001 - thank the user anyway; staff get the log
            log.exception("could not record the handover rating of %s", tracker.sender_id)
        if score <= 2:
            dispatcher.utter_message(text=wording.HANDOVER_RATING_LOW)
        else:
            dispatcher.utter_message(text=wording.HANDOVER_RATING_THANKS)
        return []
