"""The latest message: a button's payload, or the user's own words.

A button's payload arrives as the message text ("/need_space", or a title the desk mapped to it when the user
typed it), so what the user said about their need is the latest message only when it did not come from a
button; otherwise it is the `user_statement` slot kept from before. The turn, the ticket form and the
feedback action all ask.
"""

from __future__ import annotations

from typing import Optional

from rasa_sdk import Tracker


def _previous_bot_buttons(tracker: Tracker) -> list[dict]:
    """The buttons of the bot's last message before the latest user message."""
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return []
            seen_user = True
        elif kind == "bot" and seen_user:
            return list((event.get("data") or {}).get("buttons") or [])
    return []


def from_button(tracker: Tracker) -> bool:
    """The latest message is a button's payload (clicked, or typed and mapped by the desk), not the user's words."""
    text = (tracker.latest_message.get("text") or "").strip()
    if text.startswith("/"):
        return True
    return any(text == str(b.get("payload", "")).strip() for b in _previous_bot_buttons(tracker))


def user_statement(tracker: Tracker) -> Optional[str]:
    """The user's own words for the need: the latest message unless it came from a button."""
    if from_button(tracker):
        return tracker.get_slot("user_statement")
    return (tracker.latest_message.get("text") or "").strip()[:2000] or None
