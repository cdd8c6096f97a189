"""Trackers and result readers for the custom-action unit tests in this folder (as in RasaHQ/financial-demo:
a rasa_sdk Tracker built in the test, a CollectingDispatcher, the returned events checked — no Rasa server).

`tracker()` builds the tracker Rasa would send after the user's latest message; `form_tracker()` the one a
form's validation action gets (the answer already in the requested slot, as a from_text mapping puts it).
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from rasa_sdk import Tracker

SENDER = "unit-sender"
CHANNEL = "socketio"


def parse_data(
    text: str,
    intent: Optional[str] = None,
    confidence: float = 0.95,
    entities: Iterable[dict] = (),
    ranking: Optional[list[dict]] = None,
) -> dict:
    """What the NLU gives for a message: intent, its ranking, entities."""
    name = intent or "nlu_fallback"
    return {
        "text": text,
        "intent": {"name": name, "confidence": confidence},
        "intent_ranking": ranking if ranking is not None else [{"name": name, "confidence": confidence}],
        "entities": list(entities),
    }


def user_event(
    text: str,
    intent: Optional[str] = None,
    confidence: float = 0.95,
    entities: Iterable[dict] = (),
    channel: str = CHANNEL,
    timestamp: Optional[float] = None,
) -> dict:
    return {
        "event": "user",
        "text": text,
        "parse_data": parse_data(text, intent, confidence, entities),
        "input_channel": channel,
        "timestamp": timestamp,
    }


def bot_event(text: str, buttons: Optional[list[dict]] = None, timestamp: Optional[float] = None) -> dict:
    return {"event": "bot", "text": text, "data": {"buttons": buttons or []}, "timestamp": timestamp}


def action_event(name: str) -> dict:
    return {"event": "action", "name": name}


def bot_turn(action: str, messages: list[dict]) -> list[dict]:
    """The events of one bot turn: the action, then the messages it sent (e.g. a CollectingDispatcher's)."""
    return [action_event(action)] + [bot_event(m.get("text") or "", m.get("buttons")) for m in messages]


def tracker(
    text: str = "",
    intent: Optional[str] = None,
    *,
    confidence: float = 0.95,
    entities: Iterable[dict] = (),
    ranking: Optional[list[dict]] = None,
    slots: Optional[dict[str, Any]] = None,
    events: Iterable[dict] = (),
    active_loop: Optional[str] = None,
    requested_slot: Optional[str] = None,
    sender_id: str = SENDER,
    channel: str = CHANNEL,
) -> Tracker:
    """The tracker after the user said `text`: `events` come before that message (earlier turns)."""
    latest = parse_data(text, intent, confidence, entities, ranking)
    slots = dict(slots or {})
    if requested_slot:
        slots["requested_slot"] = requested_slot
    history = list(events) + [{"event": "user", "text": text, "parse_data": latest, "input_channel": channel}]
    return Tracker(
        sender_id, slots, latest, history, False, None, {"name": active_loop} if active_loop else {}, "action_listen"
    )


def form_tracker(
    text: str,
    form: str,
    requested: str,
    *,
    intent: str = "inform",
    slots: Optional[dict[str, Any]] = None,
    events: Iterable[dict] = (),
    sender_id: str = SENDER,
) -> Tracker:
    """The tracker a form's validation action gets after the user answered `requested` with `text`."""
    t = tracker(
        text,
        intent,
        slots={**(slots or {}), requested: text},
        events=events,
        active_loop=form,
        requested_slot=requested,
        sender_id=sender_id,
    )
    t.events.append({"event": "slot", "name": requested, "value": text})
    return t


def applied(t: Tracker, events: list[dict]) -> Tracker:
    """`t` with the slot events an action returned applied (what the next action sees)."""
    slots = dict(t.slots)
    slots.update(slot_events(events))
    return Tracker(
        t.sender_id,
        slots,
        t.latest_message,
        list(t.events) + list(events),
        t.is_paused(),
        t.followup_action,
        t.active_loop,
        t.latest_action_name,
    )


# ---- reading what an action did -------------------------------------------------------------------


def texts(dispatcher) -> list[str]:
    return [m.get("text") or "" for m in dispatcher.messages]


def said(dispatcher) -> str:
    """Everything the bot said, one message a line."""
    return "\n".join(texts(dispatcher))


def responses(dispatcher) -> list[str]:
    """Domain responses uttered by name (utter_…)."""
    return [m["response"] for m in dispatcher.messages if m.get("response")]


def buttons(dispatcher) -> list[dict]:
    return [b for m in dispatcher.messages for b in m.get("buttons") or []]


def payloads(dispatcher) -> list[str]:
    return [b["payload"] for b in buttons(dispatcher)]


def slot_events(events: list[dict]) -> dict[str, Any]:
    """The slots the events set (the last value wins)."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def followups(events: list[dict]) -> list[str]:
    return [e["name"] for e in events if e.get("event") == "followup"]


def kinds(events: list[dict]) -> list[str]:
    return [e.get("event") for e in events]
