"""The record of questions put to the knowledge base and the users' feedback."""

from __future__ import annotations

from sqlalchemy import select, update

from bot.db import sessions
from bot.db.schema import KbQuery, utcnow

MAX_TEXT = 4000


def record_question(
    db_url: str,
    *,
    conversation_id: str,
    text: str,
    decision: str,
    category: str | None = None,
    faq_id: str | None = None,
    entry_id: str | None = None,
    score: float | None = None,
    channel: str = "rest",
) -> int:
    with sessions(db_url).begin() as s:
        row = KbQuery(
            conversation_id=conversation_id,
            text=(text or "")[:MAX_TEXT],
            decision=decision,
            category=category,
            faq_id=faq_id,
            entry_id=entry_id,
            score=score,
            channel=channel,
        )
        s.add(row)
        s.flush()
        return row.id


def record_feedback(db_url: str, query_id: int, conversation_id: str, helpful: bool) -> bool:
    """Store feedback for a question of this conversation; False if there is no such question."""
    with sessions(db_url).begin() as s:
        res = s.execute(
            update(KbQuery)
            .where(KbQuery.id == query_id, KbQuery.conversation_id == conversation_id)
            .values(helpful=helpful, feedback_at=utcnow())
        )
        return res.rowcount == 1


def questions(db_url: str, conversation_id: str) -> list[KbQuery]:
    with sessions(db_url)() as s:
        return list(s.scalars(select(KbQuery).where(KbQuery.conversation_id == conversation_id).order_by(KbQuery.id)))
