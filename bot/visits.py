"""入企服务: on-site visits to enterprises, and the needs found there.

Staff record a visit (who, which node, which enterprise, when, what they found);
each need found on the visit becomes a ticket through the ordinary ticket process
(`TicketService.open_ticket`, channel ``visit``, ``visit_id`` set), so the monthly
summary counts visits per node and the tickets raised from them (入企发现需求).

    v = record_visit(db_url, enterprise_id=3, staff_id=7, node_id="fengxi-ws-xinxi",
                     visited_at=datetime(2026, 11, 25, 10, 0, tzinfo=CST), findings="…")
    raise_ticket_from_visit(db_url, v.id, "need_debt_financing", "想申请知识产权质押贷款")
    list_visits(db_url, node_id="fengxi", month="2026-11", include_subtree=True)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Optional, Sequence

from sqlalchemy import func, select

from bot.db import read_sessions, sessions
from bot.db.schema import Contact, Enterprise, ServiceNode, Staff, Ticket, Visit, VisitParticipant, utcnow
from bot.db.schema import aware as _aware
from bot.reports.monthly import parse_month
from bot.text import normalise
from bot.tickets import credit_code as cc
from bot.tickets.service import EnterpriseInput, OpenResult, TicketService

MAX_FINDINGS = 2000
MAX_HOSTS = 128
FUTURE_TOLERANCE = timedelta(hours=1)  # clocks differ a little; a visit is recorded after it happened
CHANNEL = "visit"


class VisitError(ValueError):
    """A visit the window refuses to record; the message is for staff."""


@dataclass(frozen=True)
class VisitRow:
    id: int
    visited_at: datetime
    enterprise_id: int
    enterprise_name: str
    node_id: str
    node_name: str
    staff_id: Optional[int]
    staff_name: Optional[str]
    findings: Optional[str]
    tickets: tuple[str, ...] = ()  # numbers of the tickets raised from this visit
    participants: tuple[str, ...] = ()  # display names of everyone who went (the first is staff_name)
    hosts: Optional[str] = None  # the enterprise's people met

    @property
    def who(self) -> str:
        return "、".join(self.participants) or (self.staff_name or "")


@dataclass
class NodeVisits:
    node_id: str
    node_name: str
    visits: int = 0
    enterprises: int = 0
    tickets: int = 0


def record_visit(
    db_url: str,
    enterprise_id: int,
    staff_id: Optional[int],
    node_id: str,
    visited_at: datetime,
    findings: Optional[str] = None,
    *,
    participants: Sequence[int] = (),
    recorded_by: Optional[int] = None,
    hosts: Optional[str] = None,
    clock: Callable[[], datetime] = utcnow,
) -> Visit:
    """Record an on-site visit. Refuses unknown enterprises/staff, unknown or closed nodes,
    times without a zone and visits in the future.

    `participants`: everyone who went (visit_participants); `staff_id` defaults to the first of them and
    is always one of them. `recorded_by`: who entered the visit (the console's signed-in member of staff).
    `hosts`: the enterprise's people met."""
    people = list(dict.fromkeys(int(p) for p in participants))
    if staff_id is None and people:
        staff_id = people[0]
    if staff_id is not None and staff_id not in people:
        people.insert(0, staff_id)
    if not isinstance(visited_at, datetime):
        raise VisitError("走访时间应为日期时间。")
    if visited_at.tzinfo is None or visited_at.utcoffset() is None:
        raise VisitError("走访时间需要带时区（例如北京时间 +08:00），以免记录差 8 小时。")
    if visited_at > clock() + FUTURE_TOLERANCE:
        raise VisitError("走访时间晚于当前时间：请在走访之后再登记。")
    findings = (findings or "").strip()[:MAX_FINDINGS] or None
    with sessions(db_url).begin() as s:
        if s.get(Enterprise, enterprise_id) is None:
            raise VisitError(f"企业（编号 {enterprise_id}）不存在，请先登记企业信息。")
        node = s.get(ServiceNode, node_id)
        if node is None:
            raise VisitError(f"服务节点“{node_id}”不存在。")
        if not node.active:
            raise VisitError(f"服务节点“{node.name}”已停用，不能登记走访。")
        for pid in people:
            staff = s.get(Staff, pid)
            if staff is None or not staff.active:
                raise VisitError(f"工作人员（编号 {pid}）不存在或已停用。")
        hosts = (hosts or "").strip()[:MAX_HOSTS] or None
        visit = Visit(
            enterprise_id=enterprise_id,
            staff_id=staff_id,
            node_id=node_id,
            visited_at=visited_at,
            findings=findings,
            created_at=clock(),
            recorded_by=recorded_by,
            hosts=hosts,
        )
        s.add(visit)
        s.flush()
        for pid in people:
            s.add(VisitParticipant(visit_id=visit.id, staff_id=pid))
        s.flush()
        return visit


def raise_ticket_from_visit(
    db_url: str,
    visit_id: int,
    category: str,
    description: str,
    *,
    contact_name: Optional[str] = None,
    mobile: Optional[str] = None,
    sender_id: Optional[str] = None,
    priority: str = "normal",
    policy_level: Optional[str] = None,
    actor: Optional[str] = None,
    service: Optional[TicketService] = None,
) -> OpenResult:
    """Open a ticket for a need found on a visit (channel ``visit``, ``visit_id`` set).

    Routing, deadlines, duplicate linking and the audit trail are the ticket service's: a
    similar need of the same enterprise still open is linked (``linked=True``), not duplicated.
    The contact defaults to the enterprise's most recent one; the actor to the visiting staff.
    """
    _same_enterprise_for_tickets(db_url, visit_id)
    with read_sessions(db_url)() as s:
        visit = s.get(Visit, visit_id)
        if visit is None:
            raise VisitError(f"走访记录（编号 {visit_id}）不存在。")
        ent = s.get(Enterprise, visit.enterprise_id)
        staff = s.get(Staff, visit.staff_id) if visit.staff_id else None
        node = s.get(ServiceNode, visit.node_id)
        if contact_name is None:
            contact = s.scalars(
                select(Contact).where(Contact.enterprise_id == ent.id).order_by(Contact.id.desc())
            ).first()
            if contact is not None:
                contact_name = contact.name
                mobile = mobile or contact.mobile
    svc = service or TicketService(db_url)
    actor = actor or (f"staff:{staff.username}" if staff else "system")
    result = svc.open_ticket(
        category=category,
        description=description,
        enterprise=EnterpriseInput(name=ent.name, credit_code=ent.credit_code, new_city=ent.new_city, park=ent.park),
        contact_name=contact_name or "入企走访",
        mobile=mobile,
        sender_id=sender_id,
        channel=CHANNEL,
        conversation_id=sender_id,
        priority=priority,
        policy_level=policy_level,
        visit_id=visit.id,
        actor=actor,
    )
    visited = _aware(visit.visited_at).astimezone(svc.sla.tz)
    note = (
        f"入企服务发现：{visited.month}月{visited.day}日 {node.name if node else visit.node_id}"
        f"{'（' + staff.display_name + '）' if staff else ''}走访，走访记录编号 {visit.id}"
    )
    with sessions(db_url).begin() as s:
        ticket = s.get(Ticket, result.ticket.id)
        TicketService._event(
            s,
            ticket,
            actor,
            "visit",
            field="visit_id",
            after=visit.id if not result.linked else None,
            note=note,
            at=svc.clock(),
        )
        if not result.linked:
            _reuse_contact(s, ticket)
    return result


def _same_enterprise_for_tickets(db_url: str, visit_id: int) -> None:
    """The ticket service finds an enterprise by credit code, else by its normalised name: make sure that finds
    the visited one. A stored name not in normalised form (entered before names were normalised) is brought
    into it — full-width brackets to half-width and the like, what the service would store; a *different*
    enterprise with that name is refused (the visit's need would land in the wrong file)."""
    with sessions(db_url).begin() as s:
        visit = s.get(Visit, visit_id)
        if visit is None:
            raise VisitError(f"走访记录（编号 {visit_id}）不存在。")
        ent = s.get(Enterprise, visit.enterprise_id)
        if ent.credit_code:
            return
        key = normalise(ent.name)[:128]
        found = s.scalars(select(Enterprise).where(Enterprise.name == key)).first()
        if found is None:
            ent.name = key
        elif found.id != ent.id:
            raise VisitError(
                f"另有一家名为“{key}”的企业档案（编号 {found.id}）：请先在企业档案中补充统一社会信用代码，"
                "以免需求记到另一家企业名下。"
            )


def _reuse_contact(s, ticket: Ticket) -> None:
    """The ticket service adds a contact row for every ticket opened without a chat identity; a need raised on
    a visit names the same person as the enterprise's earlier visit tickets, so the ticket takes the earlier
    row (same enterprise, name and mobile, no chat identity) and the one just added is dropped — the
    enterprise file lists each person once."""
    if ticket.contact_id is None:
        return
    new = s.get(Contact, ticket.contact_id)
    if new is None or new.sender_id is not None:
        return
    same_mobile = Contact.mobile.is_(None) if new.mobile is None else Contact.mobile == new.mobile
    older = s.scalars(
        select(Contact)
        .where(
            Contact.enterprise_id == new.enterprise_id,
            Contact.id < new.id,
            Contact.sender_id.is_(None),
            Contact.name == new.name,
            same_mobile,
        )
        .order_by(Contact.id)
        .limit(1)
    ).first()
    if older is None:
        return
    ticket.contact_id = older.id
    s.flush()
    s.delete(new)


def visit_enterprise(
    db_url: str,
    *,
    name: str,
    credit_code: Optional[str] = None,
    new_city: Optional[str] = None,
    park: Optional[str] = None,
) -> tuple[int, bool]:
    """(enterprise id, created) for a visit entered by name: the enterprise with this credit code, else the
    one with exactly this name, else a new one with the place given. An existing record is not changed
    here (its file is edited on its own page, audited)."""
    name = normalise(name or "")[:128]
    if len(name) < 2:
        raise VisitError("请填写企业名称。")
    code = None
    if credit_code and credit_code.strip():
        try:
            code = cc.validate(credit_code)
        except cc.InvalidCreditCode as exc:
            raise VisitError(str(exc)) from exc
    with sessions(db_url).begin() as s:
        found = None
        if code:
            found = s.scalars(select(Enterprise).where(Enterprise.credit_code == code)).first()
        if found is None:
            found = s.scalars(select(Enterprise).where(Enterprise.name == name)).first()
            if found is not None and code and found.credit_code and found.credit_code != code:
                raise VisitError(f"已有名为“{name}”的企业，但统一社会信用代码不同，请核对。")
        if found is not None:
            return found.id, False
        ent = Enterprise(name=name, credit_code=code, new_city=new_city or None, park=park or None)
        s.add(ent)
        s.flush()
        return ent.id, True


def _month_range(month: str) -> tuple[datetime, datetime]:
    p = parse_month(month)
    return p.start_utc, p.end_utc


def list_visits(
    db_url: str,
    *,
    node_id: Optional[str] = None,
    month: Optional[str] = None,
    include_subtree: bool = False,
    enterprise_id: Optional[int] = None,
    node_ids: Optional[set] = None,
) -> list[VisitRow]:
    """Visits, newest first: of one node (or its whole subtree), of the nodes `node_ids` (a member of
    staff's scope), of one calendar month (Beijing time, "2026-11"), of one enterprise; each with the
    tickets raised from it and everyone who went."""
    with read_sessions(db_url)() as s:
        q = (
            select(Visit, Enterprise.name, ServiceNode.name, Staff.display_name)
            .join(Enterprise, Enterprise.id == Visit.enterprise_id)
            .join(ServiceNode, ServiceNode.id == Visit.node_id)
            .outerjoin(Staff, Staff.id == Visit.staff_id)
        )
        if node_id is not None:
            ids = _subtree(s, node_id) if include_subtree else {node_id}
            q = q.where(Visit.node_id.in_(sorted(ids)))
        if node_ids is not None:
            q = q.where(Visit.node_id.in_(sorted(node_ids) or [""]))
        if month is not None:
            start, end = _month_range(month)
            q = q.where(Visit.visited_at >= start, Visit.visited_at < end)
        if enterprise_id is not None:
            q = q.where(Visit.enterprise_id == enterprise_id)
        rows = s.execute(q.order_by(Visit.visited_at.desc(), Visit.id.desc())).all()
        numbers: dict[int, list[str]] = defaultdict(list)
        visit_ids = [v.id for v, *_ in rows]
        for chunk in range(0, len(visit_ids), 500):
            for vid, number in s.execute(
                select(Ticket.visit_id, Ticket.number)
                .where(Ticket.visit_id.in_(visit_ids[chunk : chunk + 500]))
                .order_by(Ticket.id)
            ):
                numbers[vid].append(number)
        people: dict[int, list[tuple[int, str]]] = defaultdict(list)  # visit → (staff id, name)
        for chunk in range(0, len(visit_ids), 500):
            for vid, sid, name in s.execute(
                select(VisitParticipant.visit_id, Staff.id, Staff.display_name)
                .join(Staff, Staff.id == VisitParticipant.staff_id)
                .where(VisitParticipant.visit_id.in_(visit_ids[chunk : chunk + 500]))
                .order_by(VisitParticipant.visit_id, Staff.id)
            ):
                people[vid].append((sid, name))
        out = []
        for v, ent, node, staff in rows:
            went = sorted(people[v.id], key=lambda p: (p[0] != v.staff_id, p[0]))  # the lead visitor first
            out.append(
                VisitRow(
                    v.id,
                    _aware(v.visited_at),
                    v.enterprise_id,
                    ent,
                    v.node_id,
                    node,
                    v.staff_id,
                    staff,
                    v.findings,
                    tuple(numbers[v.id]),
                    tuple(n for _, n in went),
                    v.hosts,
                )
            )
        return out


def visits_by_node(db_url: str, month: str) -> list[NodeVisits]:
    """Per node: visits in the month, distinct enterprises visited, tickets raised from them."""
    start, end = _month_range(month)
    with read_sessions(db_url)() as s:
        out: dict[str, NodeVisits] = {}
        for node_id, node_name, n, ents in s.execute(
            select(
                Visit.node_id, ServiceNode.name, func.count(Visit.id), func.count(func.distinct(Visit.enterprise_id))
            )
            .join(ServiceNode, ServiceNode.id == Visit.node_id)
            .where(Visit.visited_at >= start, Visit.visited_at < end)
            .group_by(Visit.node_id, ServiceNode.name)
        ):
            out[node_id] = NodeVisits(node_id, node_name, visits=n, enterprises=ents)
        for node_id, n in s.execute(
            select(Visit.node_id, func.count(Ticket.id))
            .join(Ticket, Ticket.visit_id == Visit.id)
            .where(Visit.visited_at >= start, Visit.visited_at < end)
            .group_by(Visit.node_id)
        ):
            out[node_id].tickets = n
    return sorted(out.values(), key=lambda x: (-x.visits, x.node_id))


def _subtree(s, node_id: str) -> set[str]:
    parents = dict(s.execute(select(ServiceNode.id, ServiceNode.parent_id)).all())
    if node_id not in parents:
        raise VisitError(f"服务节点“{node_id}”不存在。")
    children: dict[str, list[str]] = defaultdict(list)
    for nid, parent in parents.items():
        if parent:
            children[parent].append(nid)
    out, stack = set(), [node_id]
    while stack:
        nid = stack.pop()
        if nid not in out:
            out.add(nid)
            stack.extend(children[nid])
    return out


__all__ = [
    "VisitError",
    "VisitRow",
    "NodeVisits",
    "record_visit",
    "raise_ticket_from_visit",
    "visit_enterprise",
    "list_visits",
    "visits_by_node",
]
