"""退订 / 订阅 of the proactive policy reminders (bot/policy/push.py), per chat identity.

A user replies "退订" (also 取消订阅, TD, traditional 退訂) on any channel and gets no more reminders; "订阅"
turns them back on. The desk's gateway asks `command()` about every inbound message before Rasa sees it, so
the words work in every channel and every conversation mode without touching the Rasa training data. Only
the whole message counts ("退订" yes, "怎么退订会员" no), after normalisation (traditional → simplified,
full-width → half-width, case, punctuation).

The choice belongs to the person (the chat identity), not to the whole enterprise: a colleague who did not
unsubscribe still gets the enterprise's reminders.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Optional

from sqlalchemy import delete, select

from bot.db import dialect_insert, read_sessions, sessions
from bot.db.schema import Conversation, PolicyPushOptOut, utcnow
from bot.text import normalise

UNSUBSCRIBE, SUBSCRIBE = "unsubscribe", "subscribe"
UNSUBSCRIBE_WORDS = frozenset(
    {"退订", "取消订阅", "td", "退订提醒", "退订政策提醒", "退订推送", "取消推送", "不要推送", "别再推送", "不再接收"}
)
SUBSCRIBE_WORDS = frozenset({"订阅", "重新订阅", "恢复订阅", "订阅提醒", "订阅政策提醒", "恢复推送", "开启推送"})

UNSUBSCRIBED_TEXT = "已退订政策提醒，今后不再向您推送。需要时回复“订阅”即可恢复。"
ALREADY_OUT_TEXT = "您已退订政策提醒，不会再收到推送。需要时回复“订阅”即可恢复。"
SUBSCRIBED_TEXT = "已恢复政策提醒：有适合贵企业的政策开始申报时会告诉您，每周最多一条。回复“退订”可随时停止。"
ALREADY_IN_TEXT = "您已订阅政策提醒，有适合贵企业的政策开始申报时会告诉您，每周最多一条。回复“退订”可停止。"

_BARE = re.compile(r"[\s\W_]+", re.UNICODE)


def command(text: Optional[str]) -> Optional[str]:
    """UNSUBSCRIBE / SUBSCRIBE when the whole message is one of the words, else None."""
    if not isinstance(text, str) or len(text) > 20:
        return None
    bare = _BARE.sub("", normalise(text)).lower()
    if bare in UNSUBSCRIBE_WORDS:
        return UNSUBSCRIBE
    if bare in SUBSCRIBE_WORDS:
        return SUBSCRIBE
    return None


def is_opted_out(db_url: str, sender_id: str) -> bool:
    with read_sessions(db_url)() as s:
        return s.get(PolicyPushOptOut, sender_id) is not None


def apply(db_url: str, sender_id: str, what: str, channel: Optional[str] = None, at: Optional[datetime] = None) -> str:
    """Record 退订 / 订阅 for the chat identity; returns the confirmation to send (Chinese)."""
    at = at or utcnow()
    with sessions(db_url).begin() as s:
        present = s.get(PolicyPushOptOut, sender_id) is not None
        if what == UNSUBSCRIBE:
            if present:
                return ALREADY_OUT_TEXT
            if channel is None:
                channel = s.scalar(select(Conversation.channel).where(Conversation.id == sender_id))
            ins = dialect_insert(s, PolicyPushOptOut)
            s.execute(
                ins.values(sender_id=sender_id, channel=(channel or None), opted_out_at=at).on_conflict_do_nothing(
                    index_elements=["sender_id"]
                )
            )
            return UNSUBSCRIBED_TEXT
        if what == SUBSCRIBE:
            if not present:
                return ALREADY_IN_TEXT
            s.execute(delete(PolicyPushOptOut).where(PolicyPushOptOut.sender_id == sender_id))
            return SUBSCRIBED_TEXT
    raise ValueError(f"unknown subscription command {what!r}")


def opted_out(s, sender_ids) -> set[str]:
    """Which of `sender_ids` replied 退订 (inside a caller's session)."""
    ids = list(sender_ids)
    if not ids:
        return set()
    out: set[str] = set()
    for i in range(0, len(ids), 500):
        out |= set(
            s.scalars(select(PolicyPushOptOut.sender_id).where(PolicyPushOptOut.sender_id.in_(ids[i : i + 500])))
        )
    return out
