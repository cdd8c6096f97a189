"""Verifying a chat user as a contact of their enterprise, in whatever flow the message arrives.

"验证" (or "我要验证身份", "验证企业联系人") sends a one-time code by SMS to a mobile already on file for the
enterprise (bot.tickets.identity, which also says who is verified by staff instead); a 6-digit code typed while
one is pending ("验证码是123456", "123456") is checked. A verified contact sees the enterprise's tickets, not
only their own. These texts mean verification whatever intent the classifier gave them, so the actions that
may receive them (the turn, 我的工单, a rating, yes/no feedback) ask `verification_turn` first.
"""

from __future__ import annotations

import re
from typing import Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import services, wording
from bot.knowledge import replies as kb_replies
from bot.tickets.identity import code_in

# "验证", "我要验证身份", "验证企业联系人": the user asks to be verified as a contact of their enterprise.
VERIFY_REQUEST = re.compile(
    r"^\s*(?:我要|我想|请|申请|进行|开始)?\s*(?:身份|企业联系人|联系人)?(?:身份)?验证"
    r"(?:一下|身份|企业联系人(?:身份)?|联系人(?:身份)?)?\s*[。.!！]?\s*$"
)


def start_verification(dispatcher: CollectingDispatcher, sender_id: str) -> None:
    ids = services.identity()
    result = ids.send_code(sender_id)
    name = ids.standing(sender_id).enterprise_name or ""
    buttons = [kb_replies.HUMAN_BUTTON] if result.outcome in ("staff", "limit", "failed") else []
    dispatcher.utter_message(
        text=wording.SENT[result.outcome].format(mobile=result.masked_mobile, name=name), buttons=buttons
    )


def verification_turn(dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[list]:
    """ "验证" starts verification; a 6-digit code typed while one is pending ("验证码是123456", "123456") is
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
    dispatcher.utter_message(text=wording.CHECKED[result.outcome].format(left=result.attempts_left, name=name))
    return []
