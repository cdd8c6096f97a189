"""日调度: today's dispatch list per node — new tickets, tickets due today, overdue tickets.

Computed on demand from the tickets and the SLA policy (working days and office
hours), for the nodes a member of staff may see:
- 新增: created since the end of office hours of the previous working day (so Monday's
  list carries the weekend's requests);
- 今日到期: open, not waiting for the enterprise (待补充 pauses the clock), with the
  即日办 first response still outstanding and due today, or the resolution due today;
- 已超期: open, not paused, with the first response or the resolution past due.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

from sqlalchemy import or_, select

from bot.db import read_sessions
from bot.db.schema import Enterprise, Ticket
from bot.tickets import lifecycle as lc
from bot.tickets.sla import SlaPolicy, default_policy


@dataclass
class DispatchItem:
    ticket: Ticket
    enterprise: str
    deadline: str            # 首次响应 / 办结
    due: datetime


@dataclass
class NodeDispatch:
    node_id: str
    name: str
    new: list[DispatchItem] = field(default_factory=list)
    due_today: list[DispatchItem] = field(default_factory=list)
    overdue: list[DispatchItem] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.new or self.due_today or self.overdue)


def _deadline(t: Ticket) -> tuple[str, datetime]:
    """The deadline that matters now: the first response while none was given, else the resolution."""
    if t.first_response_at is None and t.first_response_due < t.resolution_due:
        return "首次响应", t.first_response_due
    return "办结", t.resolution_due


def dispatch_lists(db_url: str, node_ids: Optional[set], now: datetime,
                   sla: Optional[SlaPolicy] = None) -> list[NodeDispatch]:
    """One list per node (network order) for `node_ids` (None: every node); nodes with nothing are kept."""
    from bot.network import default_network

    sla = sla or default_policy()
    network = default_network()
    new_since = sla.working_day_end(sla.previous_working_day(now))
    today = now.astimezone(sla.tz).date()
    with read_sessions(db_url)() as s:
        q = (select(Ticket, Enterprise.name).join(Enterprise, Enterprise.id == Ticket.enterprise_id)
             .where(or_(Ticket.status.in_(lc.OPEN_STATES), Ticket.created_at >= new_since)))
        if node_ids is not None:
            q = q.where(Ticket.node_id.in_(node_ids))
        rows = s.execute(q.order_by(Ticket.created_at)).all()
    nodes = [n for n in network.topological() if node_ids is None or n.id in node_ids]
    out = {n.id: NodeDispatch(n.id, n.name) for n in nodes}
    for t, ent in rows:
        nd = out.get(t.node_id)
        if nd is None:
            nd = out[t.node_id] = NodeDispatch(t.node_id, t.node_id)
        label, due = _deadline(t)
        item = DispatchItem(t, ent, label, due)
        if t.created_at >= new_since:
            nd.new.append(item)
        if t.status not in lc.OPEN_STATES or t.status == lc.AWAITING_INFO:
            continue
        overdue = [(lbl, d) for lbl, d in (("首次响应", t.first_response_due if t.first_response_at is None else None),
                                           ("办结", t.resolution_due)) if d is not None and d < now]
        if overdue:
            lbl, d = overdue[0]
            nd.overdue.append(DispatchItem(t, ent, lbl, d))
        elif due.astimezone(sla.tz).date() == today or t.resolution_due.astimezone(sla.tz).date() == today:
            if due.astimezone(sla.tz).date() != today:
                label, due = "办结", t.resolution_due
            nd.due_today.append(DispatchItem(t, ent, label, due))
    for nd in out.values():
        nd.overdue.sort(key=lambda i: i.due)
        nd.due_today.sort(key=lambda i: i.due)
    return list(out.values())


def totals(lists: list[NodeDispatch]) -> tuple[int, int, int]:
    return (sum(len(n.new) for n in lists), sum(len(n.due_today) for n in lists),
            sum(len(n.overdue) for n in lists))
