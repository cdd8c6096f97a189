"""The one way a conversation row comes into being: insert-if-missing, then read it back.

Several writers meet the same conversation for the first time at once (the desk storing a message, a handover,
a file arriving from WeChat), so creation is an INSERT … ON CONFLICT DO NOTHING that never fails on a race, on
SQLite and PostgreSQL alike. `lock=True` also holds the row for the rest of the transaction (SELECT … FOR
UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers) — for callers that decide on the
conversation's mode, as a handover does."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import dialect_insert
from bot.db.schema import Conversation, utcnow


def ensure_conversation(
    s: Session, conversation_id: str, channel: str, now: Optional[datetime] = None, *, lock: bool = False
) -> Conversation:
    """The conversation row, created (bot mode, this channel) if missing; locked for the transaction if asked."""
    now = now or utcnow()
    s.execute(
        dialect_insert(s, Conversation)
        .values(id=conversation_id, channel=channel, mode="bot", created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    if lock:
        conv = s.scalars(select(Conversation).where(Conversation.id == conversation_id).with_for_update()).one()
    else:
        conv = s.get(Conversation, conversation_id)
    s.refresh(conv)
    return conv
