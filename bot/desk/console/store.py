"""What the console reads from the database, and its audit writes (plain synchronous SQLAlchemy).

Handlers call these through asyncio.to_thread, so a slow query never stalls the
desk's event loop (web chat sockets share it). Scope checks happen here too:
every lookup that answers "may this member of staff see X" resolves X's node.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Optional

from sqlalchemy import func, or_, select

from bot import handover as ho
from bot.db import read_sessions, sessions
from bot.db.schema import (
    ConsoleAudit,
    Contact,
    Conversation,
    Enterprise,
    Handover,
    Message,
    Rating,
    Staff,
    Ticket,
    TicketEvent,
    utcnow,
)
from bot.desk.console.staff_view import StaffView
from bot.network import default_network
from bot.tickets import lifecycle as lc

MESSAGE_PAGE = 500
TICKET_PAGE = 50


def _loads(text: Optional[str]) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


# ---- scope ---------------------------------------------------------------------------------------


def _latest_handover(s, conversation_id: str) -> Optional[Handover]:
    return s.scalars(
        select(Handover).where(Handover.conversation_id == conversation_id).order_by(Handover.id.desc()).limit(1)
    ).first()


def _conversation_node(s, conversation_id: str) -> tuple[bool, Optional[str]]:
    """(exists, node id): the open handover's node, else the conversation's, else the last handover's."""
    conv = s.get(Conversation, conversation_id)
    last = _latest_handover(s, conversation_id)
    if conv is None and last is None:
        ticket_node = s.scalar(
            select(Ticket.node_id).where(Ticket.conversation_id == conversation_id).order_by(Ticket.id.desc()).limit(1)
        )
        return (ticket_node is not None), ticket_node
    if last is not None and last.ended_at is None and last.node_id:
        return True, last.node_id
    if conv is not None and conv.node_id:
        return True, conv.node_id
    return True, last.node_id if last is not None else None


def conversation_node(db_url: str, conversation_id: str) -> tuple[bool, Optional[str]]:
    with read_sessions(db_url)() as s:
        return _conversation_node(s, conversation_id)


def ticket_node(db_url: str, number: str) -> tuple[bool, Optional[str]]:
    with read_sessions(db_url)() as s:
        node = s.scalar(select(Ticket.node_id).where(Ticket.number == number))
        return node is not None, node


# ---- audit ---------------------------------------------------------------------------------------


def record(
    db_url: str,
    staff: StaffView,
    action: str,
    *,
    conversation_id: str | None = None,
    handover_id: int | None = None,
    ticket_id: int | None = None,
    detail: str | None = None,
    ip: str | None = None,
    ticket_action: str | None = None,
    ticket_note: str | None = None,
    at: datetime | None = None,
) -> None:
    """One console audit row (ConsoleAudit: every staff action, sign-out included; sign-in writes its own in
    auth.login); with `ticket_action`, also the ticket's own audit trail (TicketEvent)."""
    at = at or utcnow()
    with sessions(db_url).begin() as s:
        s.add(
            ConsoleAudit(
                at=at,
                actor=staff.actor,
                action=action[:32],
                conversation_id=conversation_id,
                handover_id=handover_id,
                ticket_id=ticket_id,
                detail=(detail or None) and detail[:4000],
                ip=ip,
            )
        )
        if ticket_id is not None and ticket_action:
            s.add(
                TicketEvent(
                    ticket_id=ticket_id,
                    at=at,
                    actor=staff.actor,
                    action=ticket_action[:32],
                    note=ticket_note if ticket_note is not None else detail,
                )
            )


# ---- names ---------------------------------------------------------------------------------------


def staff_names(db_url: str, ids: Iterable[int] = (), usernames: Iterable[str] = ()) -> tuple[dict, dict]:
    ids, usernames = {i for i in ids if i}, {u for u in usernames if u}
    by_id, by_name = {}, {}
    if not ids and not usernames:
        return by_id, by_name
    with read_sessions(db_url)() as s:
        rows = s.scalars(select(Staff).where(or_(Staff.id.in_(ids or [-1]), Staff.username.in_(usernames or [""]))))
        for r in rows:
            by_id[r.id] = r.display_name
            by_name[r.username] = r.display_name
    return by_id, by_name


def node_name(node_id: Optional[str]) -> str:

    if not node_id:
        return "未分配节点"
    node = default_network().get(node_id)
    return node.name if node is not None else node_id


# ---- the queue -----------------------------------------------------------------------------------


def queue(db_url: str, staff: StaffView) -> list:
    """Open handovers in the staff member's scope (bot.handover.QueueItem), unclaimed and oldest first."""

    items = ho.open_handovers(db_url, staff.node_filter())
    return [it for it in items if staff.sees(it.node_id)]


def recent_conversations(db_url: str, staff: StaffView, limit: int = 15) -> list[dict]:
    """Conversations in scope with recent activity (for taking one over from the bot)."""
    with read_sessions(db_url)() as s:
        q = select(Conversation).order_by(Conversation.updated_at.desc()).limit(limit * 4)
        rows = list(s.scalars(q))
        out = []
        for c in rows:
            _, node = _conversation_node(s, c.id)
            if not staff.sees(node):
                continue
            name = s.scalar(
                select(Enterprise.name)
                .join(Contact, Contact.enterprise_id == Enterprise.id)
                .where(Contact.sender_id == c.id)
            )
            if name is None and c.enterprise_id:
                name = s.scalar(select(Enterprise.name).where(Enterprise.id == c.enterprise_id))
            out.append(
                {
                    "id": c.id,
                    "channel": c.channel,
                    "mode": c.mode,
                    "node_id": node,
                    "enterprise": name or "未登记企业",
                    "updated_at": c.updated_at,
                }
            )
            if len(out) >= limit:
                break
        return out


# ---- one conversation ----------------------------------------------------------------------------


@dataclass
class ConversationView:
    id: str
    conversation: Optional[Conversation]
    node_id: Optional[str]
    handover: Optional[Handover]  # the open one, else the latest
    handover_open: bool
    claimed_by_name: Optional[str]
    messages: list[Message]
    transcript: list[dict]  # snapshot taken at handover (used when no messages are stored)
    profile: list[tuple[str, str]]
    enterprise_name: Optional[str]
    ticket: Optional[Ticket]
    ticket_events: list[TicketEvent]
    author_names: dict = field(default_factory=dict)


PROFILE_LABELS = {
    "enterprise_name": "企业名称",
    "enterprise": "企业名称",
    "name": "企业名称",
    "credit_code": "统一社会信用代码",
    "contact_name": "联系人",
    "contact": "联系人",
    "mobile": "手机号",
    "new_city": "所在新城",
    "park": "所在园区",
    "category": "需求类别",
    "channel": "渠道",
    "tickets": "历史工单",
}


def _profile_rows(profile: Any) -> list[tuple[str, str]]:
    if not isinstance(profile, dict):
        return []
    rows = []
    for key, value in profile.items():
        if value in (None, "", [], {}) or key.endswith("_id"):
            continue
        if isinstance(value, (list, dict)):
            value = json.dumps(value, ensure_ascii=False)
        rows.append((PROFILE_LABELS.get(key, key), str(value)))
    return rows


def linked_ticket(s, conversation_id: str, handover: Optional[Handover]) -> Optional[Ticket]:
    """The handover's ticket, else the conversation's newest open ticket, else its newest ticket."""
    if handover is not None and handover.ticket_id:
        t = s.get(Ticket, handover.ticket_id)
        if t is not None:
            return t
    tickets = list(
        s.scalars(select(Ticket).where(Ticket.conversation_id == conversation_id).order_by(Ticket.id.desc()).limit(20))
    )
    for t in tickets:
        if t.status in lc.OPEN_STATES:
            return t
    return tickets[0] if tickets else None


def conversation_view(db_url: str, conversation_id: str, after: int = 0) -> Optional[ConversationView]:
    with read_sessions(db_url)() as s:
        exists, node = _conversation_node(s, conversation_id)
        if not exists:
            return None
        conv = s.get(Conversation, conversation_id)
        last = _latest_handover(s, conversation_id)
        msgs = list(
            s.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.id > after)
                .order_by(Message.id.desc())
                .limit(MESSAGE_PAGE)
            )
        )[::-1]
        transcript = _loads(last.transcript) if last is not None else None
        profile = _profile_rows(_loads(last.profile)) if last is not None else []
        ent_name = None
        contact = s.scalars(select(Contact).where(Contact.sender_id == conversation_id)).first()
        ent_id = (
            (last.enterprise_id if last is not None else None)
            or (conv.enterprise_id if conv else None)
            or (contact.enterprise_id if contact else None)
        )
        if ent_id:
            ent = s.get(Enterprise, ent_id)
            if ent is not None:
                ent_name = ent.name
                if not profile:
                    profile = [
                        (k, v)
                        for k, v in (
                            ("企业名称", ent.name),
                            ("统一社会信用代码", ent.credit_code or ""),
                            ("所在新城", ent.new_city or ""),
                            ("所在园区", ent.park or ""),
                            ("联系人", contact.name if contact else ""),
                            ("手机号", (contact.mobile or "") if contact else ""),
                        )
                        if v
                    ]
        ticket = linked_ticket(s, conversation_id, last)
        events = (
            list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)))
            if ticket is not None
            else []
        )
    usernames = {m.author.split(":", 1)[1] for m in msgs if m.author.startswith("staff:")}
    claimed = last.claimed_by if last is not None else None
    by_id, by_name = staff_names(db_url, ids=[claimed] if claimed else [], usernames=usernames)
    return ConversationView(
        id=conversation_id,
        conversation=conv,
        node_id=node,
        handover=last,
        handover_open=last is not None and last.ended_at is None,
        claimed_by_name=by_id.get(claimed),
        messages=msgs,
        transcript=transcript if isinstance(transcript, list) else [],
        profile=profile,
        enterprise_name=ent_name,
        ticket=ticket,
        ticket_events=events,
        author_names=by_name,
    )


def open_handover(db_url: str, conversation_id: str) -> Optional[Handover]:
    with read_sessions(db_url)() as s:
        return s.scalars(
            select(Handover)
            .where(Handover.conversation_id == conversation_id, Handover.ended_at.is_(None))
            .order_by(Handover.id.desc())
            .limit(1)
        ).first()


def handover_ticket(db_url: str, conversation_id: str, handover_id: Optional[int]) -> Optional[Ticket]:
    with read_sessions(db_url)() as s:
        h = s.get(Handover, handover_id) if handover_id else _latest_handover(s, conversation_id)
        return linked_ticket(s, conversation_id, h)


# ---- tickets -------------------------------------------------------------------------------------


@dataclass
class TicketRow:
    ticket: Ticket
    enterprise: str
    assignee: Optional[str]


def tickets_page(
    db_url: str,
    staff: StaffView,
    status: str = "",
    category: str = "",
    node: str = "",
    q: str = "",
    page: int = 1,
    assignee_id: Optional[int] = None,
) -> tuple[list[TicketRow], int]:
    with read_sessions(db_url)() as s:
        query = select(Ticket, Enterprise.name).join(Enterprise, Enterprise.id == Ticket.enterprise_id)
        nodes = staff.node_filter()
        if nodes is not None:
            query = query.where(Ticket.node_id.in_(nodes))
        if status == "open":
            query = query.where(Ticket.status.in_(lc.OPEN_STATES))
        elif status:
            query = query.where(Ticket.status == status)
        if category:
            query = query.where(Ticket.category == category)
        if node:
            query = query.where(Ticket.node_id == node)
        if assignee_id is not None:  # 我承办的
            query = query.where(Ticket.assignee_id == assignee_id)
        if q:
            like = f"%{q}%"
            query = query.where(
                or_(Ticket.number.like(like), Enterprise.name.like(like), Ticket.description.like(like))
            )
        total = s.scalar(select(func.count()).select_from(query.subquery()))
        rows = s.execute(
            query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .offset((max(page, 1) - 1) * TICKET_PAGE)
            .limit(TICKET_PAGE)
        ).all()
    by_id, _ = staff_names(db_url, ids=[t.assignee_id for t, _ in rows])
    return [TicketRow(t, name, by_id.get(t.assignee_id)) for t, name in rows], int(total or 0)


@dataclass
class TicketView:
    ticket: Ticket
    enterprise: Optional[Enterprise]
    contact: Optional[Contact]
    assignee: Optional[str]
    events: list[TicketEvent]
    ratings: list[Rating]
    handover_conversation: Optional[str]


def ticket_view(db_url: str, number: str) -> Optional[TicketView]:
    with read_sessions(db_url)() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == number)).first()
        if t is None:
            return None
        ent = s.get(Enterprise, t.enterprise_id)
        contact = s.get(Contact, t.contact_id) if t.contact_id else None
        events = list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.id)))
        ratings = list(s.scalars(select(Rating).where(Rating.ticket_id == t.id).order_by(Rating.id)))
        conv = t.conversation_id
        if (
            conv
            and s.get(Conversation, conv) is None
            and s.scalar(select(Handover.id).where(Handover.conversation_id == conv).limit(1)) is None
        ):
            conv = None
    by_id, _ = staff_names(db_url, ids=[t.assignee_id] if t.assignee_id else [])
    return TicketView(t, ent, contact, by_id.get(t.assignee_id), events, ratings, conv)


# ---- transfer targets ----------------------------------------------------------------------------


def transfer_nodes(staff: StaffView) -> list:
    """Nodes a member of staff may hand a conversation or ticket to.

    staff: their own node (back to its queue) and the node above it (escalation);
    lead: every node in their scope and the node above; admin: every active node.
    """

    network = default_network()
    if staff.is_admin:
        return [n for n in network.topological() if n.active]
    ids = {staff.node_id}
    parent = network.parent(staff.node_id) if staff.node_id in network else None
    if parent is not None:
        ids.add(parent.id)
    if staff.role == "lead":
        ids |= set(staff.scope)
    return [n for n in network.topological() if n.id in ids and n.active]


def transfer_people(db_url: str, staff: StaffView) -> list[Staff]:
    """Colleagues a conversation or ticket may be given to (staff: own node; lead: scope; admin: all)."""
    with read_sessions(db_url)() as s:
        q = select(Staff).where(Staff.active.is_(True)).order_by(Staff.node_id, Staff.display_name)
        if not staff.is_admin:
            nodes = set(staff.scope) if staff.role == "lead" else {staff.node_id}
            q = q.where(Staff.node_id.in_(nodes))
        return list(s.scalars(q))


def staff_row(db_url: str, staff_id: int) -> Optional[Staff]:
    with read_sessions(db_url)() as s:
        return s.get(Staff, staff_id)
