"""One search over tickets, enterprises and conversations (the console's top bar, issue 13 item 5).

Staff type a ticket number, part of an enterprise's name or credit code, or words from a need or a chat;
they get the tickets, enterprises and conversations that match — only those of the nodes in their scope:

- a ticket is in scope when its node is;
- an enterprise when it has a ticket, a visit, a conversation or a handover at a node in scope;
- a conversation by the node the console gives it (its open handover's node, else its own node, else its
  last handover's, else its newest ticket's — `conversation_nodes`, the rule of bot/desk/console/store.py);
  a conversation with no node at all belongs to the comprehensive centre.

Plain LIKE queries (SQLite and PostgreSQL alike; `%`, `_` and the escape character typed by staff are
matched literally), newest first, a bounded number of each kind. Internal notes are searched too: only
staff see the results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Optional

from sqlalchemy import exists, func, or_, select

from bot.db import read_sessions
from bot.db.schema import Contact, Conversation, Enterprise, Handover, Message, Ticket, Visit
from bot.network import default_network

MAX_QUERY = 100
LIMIT = 20
SCAN = 400  # message hits read per search before grouping by conversation
SNIPPET = 36  # characters of context either side of a match
ESCAPE = "\\"


@dataclass
class TicketHit:
    number: str
    enterprise: str
    category: str
    status: str
    node_id: str
    created_at: datetime
    snippet: str


@dataclass
class EnterpriseHit:
    id: int
    name: str
    credit_code: Optional[str]
    new_city: Optional[str]
    park: Optional[str]


@dataclass
class ConversationHit:
    conversation_id: str
    enterprise: Optional[str]
    channel: Optional[str]
    node_id: Optional[str]
    message_id: int
    at: datetime
    snippet: str
    internal: bool


@dataclass
class Results:
    query: str
    tickets: list[TicketHit] = field(default_factory=list)
    enterprises: list[EnterpriseHit] = field(default_factory=list)
    conversations: list[ConversationHit] = field(default_factory=list)
    more: set[str] = field(default_factory=set)  # kinds with more matches than shown

    @property
    def empty(self) -> bool:
        return not (self.tickets or self.enterprises or self.conversations)


def clean_query(raw: Optional[str]) -> str:
    """What is searched for: trimmed, inner whitespace collapsed, NUL dropped, at most MAX_QUERY characters."""
    return " ".join((raw or "").replace("\x00", "").split())[:MAX_QUERY]


def like_pattern(text: str) -> str:
    """`%text%` with LIKE's wildcards in `text` escaped (use with escape=ESCAPE)."""
    for ch in (ESCAPE, "%", "_"):
        text = text.replace(ch, ESCAPE + ch)
    return f"%{text}%"


def snippet(text: Optional[str], query: str, width: int = SNIPPET) -> str:
    """The part of `text` around the first match of `query` (case-insensitive), with … where cut."""
    text = " ".join((text or "").split())
    at = text.lower().find(query.lower())
    if at < 0:
        return text[: 2 * width] + ("…" if len(text) > 2 * width else "")
    start, end = max(0, at - width), min(len(text), at + len(query) + width)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def _centre_id() -> str:
    return default_network().centre.id


def conversation_nodes(s, ids: Iterable[str]) -> dict[str, Optional[str]]:
    """The node of each conversation (see the module docstring); ids that name nothing are left out."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return {}
    convs = {c.id: c for c in s.scalars(select(Conversation).where(Conversation.id.in_(ids)))}
    latest: dict[str, Handover] = {}
    for h in s.scalars(select(Handover).where(Handover.conversation_id.in_(ids)).order_by(Handover.id)):
        latest[h.conversation_id] = h
    tickets: dict[str, str] = {}
    for cid, node in s.execute(
        select(Ticket.conversation_id, Ticket.node_id).where(Ticket.conversation_id.in_(ids)).order_by(Ticket.id)
    ):
        tickets[cid] = node
    out: dict[str, Optional[str]] = {}
    for cid in ids:
        conv, last = convs.get(cid), latest.get(cid)
        if conv is None and last is None:
            if cid in tickets:
                out[cid] = tickets[cid]
            continue
        if last is not None and last.ended_at is None and last.node_id:
            out[cid] = last.node_id
        elif conv is not None and conv.node_id:
            out[cid] = conv.node_id
        else:
            out[cid] = last.node_id if last is not None else None
    return out


def _in_scope(node: Optional[str], nodes: Optional[set], centre: str) -> bool:
    return nodes is None or (node or centre) in nodes


def search(db_url: str, raw_query: str, nodes: Optional[set], limit: int = LIMIT) -> Results:
    """Tickets, enterprises and conversations matching `raw_query` within `nodes` (None: the whole network)."""
    q = clean_query(raw_query)
    res = Results(q)
    if not q:
        return res
    pattern = like_pattern(q)
    centre = _centre_id()
    nodes = None if nodes is None else set(nodes)

    def like(col):
        return col.ilike(pattern, escape=ESCAPE)

    with read_sessions(db_url)() as s:
        # -- tickets
        tq = (
            select(Ticket, Enterprise.name)
            .join(Enterprise, Enterprise.id == Ticket.enterprise_id)
            .where(or_(like(Ticket.number), like(Enterprise.name), like(Ticket.description), like(Ticket.result)))
        )
        if nodes is not None:
            tq = tq.where(Ticket.node_id.in_(nodes))
        rows = s.execute(tq.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit + 1)).all()
        for t, name in rows[:limit]:
            text = next((x for x in (t.description, t.result) if x and q.lower() in x.lower()), t.description)
            res.tickets.append(
                TicketHit(t.number, name, t.category, t.status, t.node_id, t.created_at, snippet(text, q))
            )
        if len(rows) > limit:
            res.more.add("tickets")

        # -- enterprises
        eq = select(Enterprise).where(or_(like(Enterprise.name), like(Enterprise.credit_code)))
        if nodes is not None:
            eq = eq.where(
                or_(
                    exists().where(Ticket.enterprise_id == Enterprise.id, Ticket.node_id.in_(nodes)),
                    exists().where(Visit.enterprise_id == Enterprise.id, Visit.node_id.in_(nodes)),
                    exists().where(Conversation.enterprise_id == Enterprise.id, Conversation.node_id.in_(nodes)),
                    exists().where(Handover.enterprise_id == Enterprise.id, Handover.node_id.in_(nodes)),
                )
            )
        ents = list(s.scalars(eq.order_by(func.length(Enterprise.name), Enterprise.id).limit(limit + 1)))
        res.enterprises = [EnterpriseHit(e.id, e.name, e.credit_code, e.new_city, e.park) for e in ents[:limit]]
        if len(ents) > limit:
            res.more.add("enterprises")

        # -- conversations: the newest matching message of each, scoped by the conversation's node
        mq = select(Message.conversation_id, Message.id, Message.text, Message.created_at, Message.internal).where(
            like(Message.text)
        )
        if nodes is not None:  # a superset of the conversations in scope; the exact rule is applied below
            candidates = [
                Message.conversation_id.in_(select(Conversation.id).where(Conversation.node_id.in_(nodes))),
                Message.conversation_id.in_(select(Handover.conversation_id).where(Handover.node_id.in_(nodes))),
                Message.conversation_id.in_(select(Ticket.conversation_id).where(Ticket.node_id.in_(nodes))),
            ]
            if centre in nodes:  # what has no node at all is the centre's
                candidates.append(
                    Message.conversation_id.in_(select(Conversation.id).where(Conversation.node_id.is_(None)))
                )
            mq = mq.where(or_(*candidates))
        first: dict[str, tuple] = {}
        for cid, mid, text, at, internal in s.execute(mq.order_by(Message.id.desc()).limit(SCAN)):
            first.setdefault(cid, (mid, text, at, internal))
        node_of = conversation_nodes(s, first)
        hits = [cid for cid in first if cid in node_of and _in_scope(node_of[cid], nodes, centre)]
        if len(hits) > limit:
            res.more.add("conversations")
        hits = hits[:limit]
        convs = {c.id: c for c in s.scalars(select(Conversation).where(Conversation.id.in_(hits)))} if hits else {}
        names = (
            {
                k: v
                for k, v in s.execute(
                    select(Contact.sender_id, Enterprise.name)
                    .join(Enterprise, Enterprise.id == Contact.enterprise_id)
                    .where(Contact.sender_id.in_(hits))
                )
            }
            if hits
            else {}
        )
        ent_ids = {c.enterprise_id for c in convs.values() if c.enterprise_id}
        ent_names = (
            {k: v for k, v in s.execute(select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_(ent_ids)))}
            if ent_ids
            else {}
        )
        for cid in hits:
            mid, text, at, internal = first[cid]
            conv = convs.get(cid)
            name = names.get(cid) or (ent_names.get(conv.enterprise_id) if conv is not None else None)
            res.conversations.append(
                ConversationHit(
                    cid, name, conv.channel if conv else None, node_of[cid], mid, at, snippet(text, q), bool(internal)
                )
            )
    return res


__all__ = [
    "MAX_QUERY",
    "LIMIT",
    "Results",
    "TicketHit",
    "EnterpriseHit",
    "ConversationHit",
    "clean_query",
    "like_pattern",
    "snippet",
    "conversation_nodes",
    "search",
]
