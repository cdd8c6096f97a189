"""Everything the window holds about one enterprise (一企一档), read in one go for its page.

Profile and contacts; every ticket (newest first, with its ratings and redeemed amount); every visit (with
who went and the tickets raised from it); the conversations of its contacts and of the chats linked to it;
the policy-check figures the chat saved (enterprise_figures, with when and where each came from); the
staff-service ratings of its handovers; policy pushes (see `pushes`); and the history of changes made to the
file in the console (console_audit rows whose detail starts with `audit_tag(id)`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Optional

from sqlalchemy import func, or_, select

from bot.db import read_sessions
from bot.db.schema import (
    Base,
    ConsoleAudit,
    Contact,
    Conversation,
    Enterprise,
    EnterpriseFigures,
    Handover,
    Rating,
    Staff,
    Ticket,
)
from bot.db.schema import aware as _aware
from bot.enterprises.membership import enterprise_nodes, home_node
from bot.tickets import lifecycle as lc
from bot.visits import list_visits

AUDIT_PREFIX = "[enterprise:"
HISTORY_LIMIT = 200
CONVERSATION_LIMIT = 50
PUSH_LIMIT = 50


def audit_tag(enterprise_id: int) -> str:
    """The start of every console_audit detail about this enterprise's file (how its history is found)."""
    return f"{AUDIT_PREFIX}{int(enterprise_id)}] "


@dataclass
class TicketLine:
    number: str
    category: str
    status: str
    node_id: str
    source_channel: str
    description: str
    created_at: datetime
    resolved_at: Optional[datetime]
    resolution_due: datetime
    redeemed_amount: Optional[Decimal]
    visit_id: Optional[int]
    ratings: list[tuple[int, Optional[str], datetime]] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.status in lc.OPEN_STATES


@dataclass
class ConversationLine:
    id: str
    channel: str
    mode: str
    updated_at: Optional[datetime]
    contact: Optional[str]


@dataclass
class HistoryLine:
    at: datetime
    actor: str
    action: str
    detail: str


@dataclass
class EnterpriseFile:
    enterprise: Enterprise
    home_node: str
    nodes: set[str]
    contacts: list[Contact]
    tickets: list[TicketLine]
    visits: list  # bot.visits.VisitRow
    conversations: list[ConversationLine]
    figures: dict
    figure_sources: dict
    figures_updated_at: Optional[datetime]
    service_ratings: list[tuple[int, datetime, Optional[str]]]  # (score, when, node)
    pushes: Optional[list[dict]]  # None: the window has no push records (yet)
    history: list[HistoryLine]

    @property
    def open_tickets(self) -> int:
        return sum(1 for t in self.tickets if t.open)

    @property
    def redeemed(self) -> Decimal:
        return sum((t.redeemed_amount for t in self.tickets if t.redeemed_amount is not None), Decimal("0.00"))

    @property
    def ratings(self) -> list[int]:
        return [r[0] for t in self.tickets for r in t.ratings] + [r[0] for r in self.service_ratings]

    @property
    def satisfaction(self) -> Optional[float]:
        scores = self.ratings
        return sum(scores) / len(scores) if scores else None


def push_table():
    """Issue 12's policy-push records, once a table of them exists: the first table of the models whose name
    mentions "push" and that has an `enterprise_id` column; None until then (the page says so)."""
    tables = Base.metadata.tables
    if "policy_pushes" in tables and "enterprise_id" in tables["policy_pushes"].c:
        return tables["policy_pushes"]
    for name in sorted(tables):
        table = Base.metadata.tables[name]
        if "push" in name and "enterprise_id" in table.c:
            return table
    return None


def pushes(s, enterprise_id: int) -> Optional[list[dict]]:
    table = push_table()
    if table is None:
        return None
    order = next((c for c in table.c if c.name in ("sent_at", "created_at", "at", "pushed_at")), None)
    q = select(table).where(table.c.enterprise_id == enterprise_id)
    if order is not None:
        q = q.order_by(order.desc())
    return [dict(r._mapping) for r in s.execute(q.limit(PUSH_LIMIT))]


def load(db_url: str, enterprise_id: int) -> Optional[EnterpriseFile]:
    with read_sessions(db_url)() as s:
        ent = s.get(Enterprise, enterprise_id)
        if ent is None:
            return None
        s.expunge(ent)
        nodes = enterprise_nodes(s, [enterprise_id]).get(enterprise_id, set())
        contacts = list(
            s.scalars(
                select(Contact)
                .where(Contact.enterprise_id == enterprise_id)
                .order_by(Contact.verified_at.is_(None), Contact.id.desc())
            )
        )
        for c in contacts:
            s.expunge(c)
        rows = list(
            s.scalars(
                select(Ticket)
                .where(Ticket.enterprise_id == enterprise_id)
                .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            )
        )
        ratings: dict[int, list] = {}
        if rows:
            for r in s.scalars(select(Rating).where(Rating.ticket_id.in_([t.id for t in rows])).order_by(Rating.id)):
                ratings.setdefault(r.ticket_id, []).append((r.score, r.comment, _aware(r.created_at)))
        tickets = [
            TicketLine(
                t.number,
                t.category,
                t.status,
                t.node_id,
                t.source_channel,
                t.description,
                _aware(t.created_at),
                _aware(t.resolved_at),
                _aware(t.resolution_due),
                t.redeemed_amount,
                t.visit_id,
                ratings.get(t.id, []),
            )
            for t in rows
        ]
        senders = [c.sender_id for c in contacts if c.sender_id]
        names = {c.sender_id: c.name for c in contacts if c.sender_id}
        conv_q = select(Conversation).where(
            or_(Conversation.enterprise_id == enterprise_id, Conversation.id.in_(senders or [""]))
        )
        conversations = [
            ConversationLine(c.id, c.channel, c.mode, _aware(c.updated_at), names.get(c.id))
            for c in s.scalars(conv_q.order_by(Conversation.updated_at.desc()).limit(CONVERSATION_LIMIT))
        ]
        fig = s.get(EnterpriseFigures, enterprise_id)
        figures = json.loads(fig.figures or "{}") if fig is not None else {}
        sources = json.loads(fig.sources or "{}") if fig is not None else {}
        service = [
            (h.rating, _aware(h.rated_at), h.node_id)
            for h in s.scalars(
                select(Handover)
                .where(Handover.enterprise_id == enterprise_id, Handover.rating.is_not(None))
                .order_by(Handover.rated_at.desc())
            )
        ]
        push_rows = pushes(s, enterprise_id)
        history = [
            HistoryLine(_aware(a.at), a.actor, a.action, (a.detail or "")[len(audit_tag(enterprise_id)) :])
            for a in s.scalars(
                select(ConsoleAudit)
                .where(ConsoleAudit.detail.like(audit_tag(enterprise_id) + "%"))
                .order_by(ConsoleAudit.id.desc())
                .limit(HISTORY_LIMIT)
            )
        ]
        home = home_node(ent.new_city, ent.park)
    visits = list_visits(db_url, enterprise_id=enterprise_id)
    return EnterpriseFile(
        ent,
        home,
        nodes,
        contacts,
        tickets,
        visits,
        conversations,
        figures,
        sources,
        _aware(fig.updated_at) if fig is not None else None,
        service,
        push_rows,
        history,
    )


def nodes_of(db_url: str, enterprise_id: int) -> Optional[set[str]]:
    """The enterprise's nodes (the scope check of every route), None when it does not exist."""
    with read_sessions(db_url)() as s:
        if s.get(Enterprise, enterprise_id) is None:
            return None
        return enterprise_nodes(s, [enterprise_id]).get(enterprise_id, set())


def staff_names(db_url: str, usernames) -> dict[str, str]:
    usernames = {u for u in usernames if u}
    if not usernames:
        return {}
    with read_sessions(db_url)() as s:
        return dict(s.execute(select(Staff.username, Staff.display_name).where(Staff.username.in_(usernames))).all())


def count(db_url: str) -> int:
    with read_sessions(db_url)() as s:
        return int(s.scalar(select(func.count()).select_from(Enterprise)) or 0)


__all__ = [
    "EnterpriseFile",
    "TicketLine",
    "ConversationLine",
    "HistoryLine",
    "audit_tag",
    "load",
    "nodes_of",
    "push_table",
    "pushes",
    "staff_names",
]
