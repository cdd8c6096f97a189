"""Read marks and unread counts of the console, and the 我的 lists (issue 13 item 8).

A member of staff has read a conversation up to the last message the console showed them (console_reads: the
conversation page marks it when it is opened, the open pane whenever new messages arrive while it is
visible). Unread = the enterprise's messages after that mark. The tab title counts what waits for this
member of staff: unclaimed handovers in their scope plus unread messages of the conversations they serve.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Optional

from sqlalchemy import and_, func, or_, select, update

from bot.db import dialect_insert, read_sessions, sessions
from bot.db.schema import ConsoleRead, Enterprise, Handover, Message, Ticket, utcnow
from bot.desk.console.staff_view import StaffView
from bot.desk.console.store import TicketRow
from bot.tickets import lifecycle as lc


def mark_read(
    db_url: str, staff_id: int, conversation_id: str, last_message_id: int, at: Optional[datetime] = None
) -> None:
    """Read up to `last_message_id` (never moves back; ids above the conversation's newest are capped)."""
    at = at or utcnow()
    with sessions(db_url).begin() as s:
        newest = s.scalar(select(func.max(Message.id)).where(Message.conversation_id == conversation_id)) or 0
        last = max(0, min(int(last_message_id), newest))
        ins = dialect_insert(s, ConsoleRead)
        s.execute(
            ins.values(
                staff_id=staff_id, conversation_id=conversation_id, last_message_id=last, read_at=at
            ).on_conflict_do_nothing(index_elements=["staff_id", "conversation_id"])
        )
        s.execute(
            update(ConsoleRead)
            .where(
                ConsoleRead.staff_id == staff_id,
                ConsoleRead.conversation_id == conversation_id,
                ConsoleRead.last_message_id < last,
            )
            .values(last_message_id=last, read_at=at)
        )


def unread_counts(db_url: str, staff_id: int, conversation_ids: Iterable[str]) -> dict[str, int]:
    """The enterprise's messages (direction "in") after the staff member's read mark, per conversation — and, while
    the conversation is handed to staff, only those since the handover began (what the bot answered before is
    the transcript, not news)."""
    ids = list(dict.fromkeys(conversation_ids))
    if not ids:
        return {}
    with read_sessions(db_url)() as s:
        q = (
            select(Message.conversation_id, func.count())
            .outerjoin(
                ConsoleRead,
                and_(ConsoleRead.conversation_id == Message.conversation_id, ConsoleRead.staff_id == staff_id),
            )
            .outerjoin(Handover, and_(Handover.conversation_id == Message.conversation_id, Handover.ended_at.is_(None)))
            .where(
                Message.conversation_id.in_(ids),
                Message.direction == "in",
                Message.internal.is_(False),
                Message.id > func.coalesce(ConsoleRead.last_message_id, 0),
                or_(Handover.id.is_(None), Message.created_at >= Handover.created_at),
            )
            .group_by(Message.conversation_id)
        )
        return {cid: int(n) for cid, n in s.execute(q)}


def waiting_for(staff: StaffView, items, unread: dict[str, int]) -> int:
    """The tab title's number: unclaimed handovers plus unread messages of the conversations this member serves."""
    return sum(1 for it in items if it.claimed_by is None) + sum(
        unread.get(it.conversation_id, 0) for it in items if it.claimed_by == staff.id
    )


def my_open_tickets(db_url: str, staff: StaffView, limit: int = 200) -> list:
    """Open tickets whose 承办人 is this member of staff, in their scope, the nearest deadline first."""
    with read_sessions(db_url)() as s:
        q = (
            select(Ticket, Enterprise.name)
            .join(Enterprise, Enterprise.id == Ticket.enterprise_id)
            .where(Ticket.assignee_id == staff.id, Ticket.status.in_(lc.OPEN_STATES))
        )
        nodes = staff.node_filter()
        if nodes is not None:
            q = q.where(Ticket.node_id.in_(nodes))
        rows = s.execute(q.order_by(Ticket.resolution_due, Ticket.id).limit(limit)).all()
    return [TicketRow(t, name, staff.display_name) for t, name in rows]
