"""日调度: the dispatch list of every service node at one moment — the one implementation.

The scheduler's 08:30 job (bot/scheduler.py), the console (/console/reports and the queue page,
bot/desk/console/dispatch.py) and the command line (``python -m bot.reports dispatch``, ``make
dispatch``) all call :func:`build`; the same moment and the same database give the same list.
The rules are written down for staff in docs/dispatch.md; in short, for a moment ``m`` on the
local (Beijing) day ``D``:

- the list covers open tickets (已受理/已分派/办理中/待补充) created before ``m``, and the visits
  (入企服务) from the previous dispatch moment to the end of day ``D``;
- a ticket is listed under exactly one heading, the first that applies, in this order:
  1. 已超期: the clock runs (not 待补充) and a deadline has passed before ``m`` — the 即日办 first
     response while no staff member has responded yet, or the resolution deadline;
  2. 今日到期: the clock runs and such a deadline falls later on day ``D``;
  3. 待补充: waiting for the enterprise (the clock is paused, no deadline runs);
  4. 新增: created since the previous dispatch moment — 08:30 of the working day before ``D`` —
     and not listed above (so every ticket is new on exactly one day's list, whatever the time
     it arrived, and Monday's list carries the weekend's requests);
  5. 本周推进: open for at least seven days (the tickets the weekly progress push reports to the
     enterprise), not listed above;
  open tickets that fit none of these (on schedule, between one and seven days old) are not
  listed. A new ticket listed under 已超期 or 今日到期 is marked 新 there, and counted in the
  number of new tickets.
- visits from the previous dispatch moment to the end of day ``D`` are listed per node (a visit at or after
  ``m`` as planned), with everyone who went (visit_participants): visits are recorded after they happen, so
  yesterday afternoon's visits reach this morning's list instead of none.

Nothing here imports the desk or Rasa.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable, Optional

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot.db import read_sessions
from bot.db.schema import Enterprise, ServiceNode, Staff, Ticket, Visit, VisitParticipant
from bot.db.schema import aware as _aware
from bot.taxonomy import BY_INTENT
from bot.tickets import lifecycle as lc
from bot.tickets.sla import SlaPolicy, default_policy

DISPATCH_AT = time(8, 30)  # the scheduler sends the day's list at this local time
WEEKLY_AGE = timedelta(days=7)  # 本周推进 / 周推进: tickets open at least this long
LIST_LIMIT = 50  # lines per section in the text (the data has all)
VISITS_HEADING = "入企服务（上次调度以来及今日计划）"
FINDINGS_CHARS = 40  # a visit's findings, shortened in the text

OVERDUE, DUE_TODAY, AWAITING, NEW, WEEKLY = "overdue", "due_today", "awaiting_info", "new", "weekly"
SECTIONS: tuple[tuple[str, str], ...] = (
    (OVERDUE, "已超期"),
    (DUE_TODAY, "今日到期"),
    (AWAITING, "待补充（暂停计时）"),
    (NEW, "新增工单"),
    (WEEKLY, "本周推进（受理满 7 天仍在办）"),
)
SECTION_LABELS = dict(SECTIONS)
FIRST_RESPONSE, RESOLUTION = "首次响应", "办结"
ACTIVE_OPEN = frozenset(lc.OPEN_STATES - {lc.AWAITING_INFO})  # the SLA clock runs
_NODE_KIND_ORDER = {"centre": 0, "new_city": 1, "workstation": 2, "special_window": 3}
_WEEKDAYS = "一二三四五六日"
_NUMERALS = "一二三四五六七八九十"


def _category_name(category: str) -> str:
    c = BY_INTENT.get(category)
    return c.name if c else category


@dataclass(frozen=True)
class DispatchTicket:
    number: str
    category: str
    category_name: str
    enterprise: str
    status: str
    status_label: str
    node_id: str
    assignee: Optional[str]  # display name of the staff member in charge
    created_at: datetime
    deadline: Optional[str]  # 首次响应 / 办结: the deadline the line is about (None: none runs)
    due: Optional[datetime]
    new: bool  # created since the previous dispatch moment
    paused_at: Optional[datetime] = None

    def key(self) -> tuple:
        return (self.number, self.deadline, self.due.isoformat() if self.due else None, self.new)


@dataclass(frozen=True)
class DispatchVisit:
    id: int
    visited_at: datetime
    node_id: str
    enterprise: str
    staff: Optional[str]  # everyone who went, "王专员、李专员" (the lead visitor first)
    findings: Optional[str]
    tickets: tuple[str, ...]
    planned: bool  # at or after the list's moment


@dataclass
class NodeDispatch:
    node_id: str
    name: str
    overdue: list[DispatchTicket] = field(default_factory=list)
    due_today: list[DispatchTicket] = field(default_factory=list)
    awaiting_info: list[DispatchTicket] = field(default_factory=list)
    new: list[DispatchTicket] = field(default_factory=list)
    weekly: list[DispatchTicket] = field(default_factory=list)
    visits: list[DispatchVisit] = field(default_factory=list)

    def section(self, kind: str) -> list[DispatchTicket]:
        return getattr(self, kind)

    def sections(self) -> list[tuple[str, str, list[DispatchTicket]]]:
        return [(kind, label, self.section(kind)) for kind, label in SECTIONS]

    @property
    def tickets(self) -> list[DispatchTicket]:
        return [t for kind, _ in SECTIONS for t in self.section(kind)]

    @property
    def new_count(self) -> int:
        """Tickets new since the previous list, wherever they are listed."""
        return sum(1 for t in self.tickets if t.new)

    @property
    def empty(self) -> bool:
        return not (self.tickets or self.visits)

    def counts(self) -> dict[str, int]:
        return {
            **{kind: len(self.section(kind)) for kind, _ in SECTIONS},
            "new_total": self.new_count,
            "visits": len(self.visits),
        }


@dataclass
class Dispatch:
    """The dispatch lists of one moment: one per node, in network order."""

    moment: datetime  # local time
    day: date
    since: datetime  # the previous dispatch moment: new = created in [since, moment)
    nodes: list[NodeDispatch]
    catch_up: bool = False

    def __getitem__(self, node_id: str) -> NodeDispatch:
        found = self.node(node_id)
        if found is None:
            raise KeyError(node_id)
        return found

    def node(self, node_id: str) -> Optional[NodeDispatch]:
        return next((n for n in self.nodes if n.node_id == node_id), None)

    def by_node(self) -> dict[str, NodeDispatch]:
        return {n.node_id: n for n in self.nodes}

    def totals(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for n in self.nodes:
            for k, v in n.counts().items():
                out[k] += v
        return dict(out)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly, for the command line and for comparing lists."""

        def ticket(t: DispatchTicket) -> dict:
            return {
                "number": t.number,
                "category": t.category_name,
                "enterprise": t.enterprise,
                "status": t.status_label,
                "assignee": t.assignee,
                "deadline": t.deadline,
                "due": t.due.isoformat() if t.due else None,
                "new": t.new,
            }

        return {
            "moment": self.moment.isoformat(),
            "day": self.day.isoformat(),
            "since": self.since.isoformat(),
            "nodes": [
                {
                    "node_id": n.node_id,
                    "name": n.name,
                    **{kind: [ticket(t) for t in n.section(kind)] for kind, _ in SECTIONS},
                    "visits": [
                        {
                            "id": v.id,
                            "at": v.visited_at.isoformat(),
                            "enterprise": v.enterprise,
                            "staff": v.staff,
                            "planned": v.planned,
                            "tickets": list(v.tickets),
                        }
                        for v in n.visits
                    ],
                }
                for n in self.nodes
            ],
        }


# ---- the rules -------------------------------------------------------------------------------------


def previous_dispatch_moment(day: date, sla: SlaPolicy) -> datetime:
    """08:30 of the working day before `day`: where the window of new tickets starts."""
    return datetime.combine(sla.previous_working_day(day), DISPATCH_AT, tzinfo=sla.tz)


def dispatch_moment(day: date, sla: SlaPolicy) -> datetime:
    """The scheduler's moment for `day`'s list."""
    return datetime.combine(day, DISPATCH_AT, tzinfo=sla.tz)


def _deadlines(t) -> list[tuple[str, datetime]]:
    out = []
    if t.first_response_at is None:
        out.append((FIRST_RESPONSE, _aware(t.first_response_due)))
    out.append((RESOLUTION, _aware(t.resolution_due)))
    return out


def classify(
    t, moment: datetime, since: datetime, day_end: datetime
) -> tuple[Optional[str], Optional[str], Optional[datetime]]:
    """(heading, deadline kind, due) of an open ticket; heading None: not listed."""
    created = _aware(t.created_at)
    if t.status in ACTIVE_OPEN:
        deadlines = _deadlines(t)
        passed = [(due, kind) for kind, due in deadlines if due < moment]
        if passed:
            due, kind = min(passed)
            return OVERDUE, kind, due
        today = [(due, kind) for kind, due in deadlines if due < day_end]
        if today:
            due, kind = min(today)
            return DUE_TODAY, kind, due
    elif t.status == lc.AWAITING_INFO:
        return AWAITING, None, None
    else:
        return None, None, None
    kind, due = next((k, d) for k, d in _deadlines(t) if k == RESOLUTION)
    if since <= created < moment:
        return NEW, kind, due
    if created <= moment - WEEKLY_AGE:
        return WEEKLY, kind, due
    return None, None, None


def _check_moment(moment: datetime) -> None:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"需要带时区的时间，收到的是：{moment!r}")


def build(
    s: Session,
    moment: datetime,
    *,
    sla: Optional[SlaPolicy] = None,
    node_ids: Optional[Iterable[str]] = None,
    catch_up: bool = False,
) -> Dispatch:
    """The dispatch lists at `moment` for `node_ids` (None: every node; active nodes are always
    listed, inactive ones when they hold something)."""
    _check_moment(moment)
    sla = sla or default_policy()
    tz = sla.tz
    moment = moment.astimezone(tz)
    day = moment.date()
    since = previous_dispatch_moment(day, sla)
    day_start = datetime.combine(day, time(0), tzinfo=tz)
    day_end = day_start + timedelta(days=1)
    scope = None if node_ids is None else sorted(set(node_ids))
    T = Ticket
    q = (
        select(
            T.number,
            T.category,
            T.status,
            T.node_id,
            T.created_at,
            T.first_response_due,
            T.first_response_at,
            T.resolution_due,
            T.paused_at,
            Enterprise.name.label("enterprise"),
            Staff.display_name.label("assignee"),
        )
        .join(Enterprise, Enterprise.id == T.enterprise_id)
        .outerjoin(Staff, Staff.id == T.assignee_id)
        .where(
            T.status.in_(sorted(lc.OPEN_STATES)),
            T.created_at < moment,
            or_(
                T.status == lc.AWAITING_INFO,
                T.created_at >= since,
                T.created_at <= moment - WEEKLY_AGE,
                T.resolution_due < day_end,
                and_(T.first_response_at.is_(None), T.first_response_due < day_end),
            ),
        )
    )
    if scope is not None:
        q = q.where(T.node_id.in_(scope))
    rows = s.execute(q.order_by(T.number)).all()

    vq = (
        select(
            Visit.id,
            Visit.visited_at,
            Visit.node_id,
            Visit.findings,
            Enterprise.name,
            Staff.display_name,
            Visit.staff_id,
        )
        .join(Enterprise, Enterprise.id == Visit.enterprise_id)
        .outerjoin(Staff, Staff.id == Visit.staff_id)
        .where(Visit.visited_at >= since, Visit.visited_at < day_end)
    )
    if scope is not None:
        vq = vq.where(Visit.node_id.in_(scope))
    visit_rows = s.execute(vq.order_by(Visit.visited_at, Visit.id)).all()
    raised: dict[int, list[str]] = defaultdict(list)
    went: dict[int, list[tuple[int, str]]] = defaultdict(list)  # everyone who went (visit_participants)
    if visit_rows:
        for vid, number in s.execute(
            select(T.visit_id, T.number).where(T.visit_id.in_([v.id for v in visit_rows])).order_by(T.id)
        ):
            raised[vid].append(number)
        for vid, sid, name in s.execute(
            select(VisitParticipant.visit_id, Staff.id, Staff.display_name)
            .join(Staff, Staff.id == VisitParticipant.staff_id)
            .where(VisitParticipant.visit_id.in_([v.id for v in visit_rows]))
            .order_by(Staff.id)
        ):
            went[vid].append((sid, name))

    held = {r.node_id for r in rows} | {v.node_id for v in visit_rows}
    nq = select(ServiceNode).where(or_(ServiceNode.active.is_(True), ServiceNode.id.in_(sorted(held))))
    if scope is not None:
        nq = nq.where(ServiceNode.id.in_(scope))
    nodes = sorted(s.scalars(nq), key=lambda n: (_NODE_KIND_ORDER.get(n.kind, 9), n.parent_id or "", n.id))
    lists = {n.id: NodeDispatch(n.id, n.name) for n in nodes}
    for nid in sorted(held - set(lists)):  # a node missing from the table: keep its tickets
        lists[nid] = NodeDispatch(nid, nid)

    for r in rows:
        heading, kind, due = classify(r, moment, since, day_end)
        if heading is None:
            continue
        created = _aware(r.created_at)
        lists[r.node_id].section(heading).append(
            DispatchTicket(
                r.number,
                r.category,
                _category_name(r.category),
                r.enterprise,
                r.status,
                lc.LABELS.get(r.status, r.status),
                r.node_id,
                r.assignee,
                created,
                kind,
                due.astimezone(tz) if due else None,
                since <= created < moment,
                _aware(r.paused_at),
            )
        )
    for v in visit_rows:
        at = _aware(v.visited_at).astimezone(tz)
        people = sorted(went[v.id], key=lambda p: (p[0] != v.staff_id, p[0]))  # the lead visitor first
        who = "、".join(name for _, name in people) or v[5]
        lists[v.node_id].visits.append(
            DispatchVisit(v.id, at, v.node_id, v[4], who, v.findings, tuple(raised[v.id]), at >= moment)
        )
    far = datetime.max.replace(tzinfo=timezone.utc)
    for nd in lists.values():
        nd.overdue.sort(key=lambda t: (t.due, t.number))
        nd.due_today.sort(key=lambda t: (t.due, t.number))
        nd.awaiting_info.sort(key=lambda t: (t.paused_at or far, t.number))
        nd.new.sort(key=lambda t: (t.created_at, t.number))
        nd.weekly.sort(key=lambda t: (t.created_at, t.number))
    return Dispatch(moment, day, since, list(lists.values()), catch_up)


def dispatch(
    db_url: str, moment: datetime, *, node_ids: Optional[Iterable[str]] = None, sla: Optional[SlaPolicy] = None
) -> Dispatch:
    """:func:`build` in its own read-only session."""
    with read_sessions(db_url)() as s:
        return build(s, moment, sla=sla, node_ids=node_ids)


# ---- as text (the scheduler's notification, the command line) -------------------------------------


def _md_hm(dt: datetime, tz) -> str:
    loc = dt.astimezone(tz)
    return f"{loc.month}月{loc.day}日 {loc:%H:%M}"


def _line_detail(kind: str, t: DispatchTicket, d: Dispatch, tz) -> str:
    if kind == AWAITING:
        return f"{_md_hm(t.paused_at, tz)} 起等待企业补充｜" if t.paused_at else "等待企业补充｜"
    due = t.due
    assert due is not None  # classify gives a deadline to every list but 待补充
    if kind == OVERDUE:
        return f"{t.deadline} {_md_hm(due, tz)} 到期，已超期｜"
    if kind == DUE_TODAY:
        return f"{t.deadline} 今日 {due.astimezone(tz):%H:%M} 到期｜"
    return f"受理于 {_md_hm(t.created_at, tz)}，办结时限 {_md_hm(due, tz)}｜"


def node_text(n: NodeDispatch, d: Dispatch, tz=None) -> str:
    """One node's list as the message the node receives."""
    tz = tz or d.moment.tzinfo
    day = d.day
    title = f"【日调度】{n.name} {day.year}年{day.month}月{day.day}日（星期{_WEEKDAYS[day.weekday()]}）工单清单"
    lines = [title + ("（补发）" if d.catch_up else "")]
    if d.catch_up:
        lines.append("系统停机期间未能按时发送，现补发当日清单；工单状态以工作台为准。")
    since = d.since.astimezone(tz)
    for i, (kind, label, items) in enumerate(n.sections()):
        heading = label if kind != NEW else f"{label}（{since.month}月{since.day}日 {since:%H:%M} 以来）"
        lines.append(f"{_NUMERALS[i]}、{heading}：{len(items)} 件")
        for j, t in enumerate(items[:LIST_LIMIT], 1):
            mark = "〔新〕" if t.new and kind != NEW else ""
            who = f"｜承办人：{t.assignee}" if t.assignee else ""
            lines.append(
                f"  {j}. {mark}{t.number} {t.category_name}｜{t.enterprise}｜"
                f"{_line_detail(kind, t, d, tz)}{t.status_label}{who}"
            )
        if len(items) > LIST_LIMIT:
            lines.append(f"  ……另有 {len(items) - LIST_LIMIT} 件，请在工作台查看")
    lines.append(f"{_NUMERALS[len(SECTIONS)]}、{VISITS_HEADING}：{len(n.visits)} 次")
    for j, v in enumerate(n.visits, 1):
        findings = (v.findings or "").replace("\n", " ")
        if len(findings) > FINDINGS_CHARS:
            findings = findings[:FINDINGS_CHARS] + "…"
        parts = [f"{visit_time(v, d.day, tz)}{' 计划' if v.planned else ' 已走访'}", v.enterprise]
        if v.staff:
            parts.append(f"走访人：{v.staff}")
        if findings:
            parts.append(f"发现：{findings}")
        if v.tickets:
            parts.append("需求工单：" + "、".join(v.tickets))
        lines.append(f"  {j}. " + "｜".join(parts))
    if n.empty:
        lines.append("今日没有需要调度的工单。")
    else:
        new_per_list = [(label.split("（")[0], sum(1 for t in items if t.new)) for kind, label, items in n.sections()]
        where = [f"{label} {k} 件" for label, k in new_per_list if k]
        if n.new_count:
            lines.append(
                f"新增工单共 {n.new_count} 件" + (f"，分列于：{'、'.join(where)}" if len(where) > 1 else "") + "。"
            )
        lines.append("请及时分派、办理；超期工单将按规定逐级升级督办。")
    return "\n".join(lines)


def visit_time(v: "DispatchVisit", day: date, tz) -> str:
    """ "15:00" for a visit on the list's day, "11-24 15:00" for one since the previous dispatch."""
    at = v.visited_at.astimezone(tz)
    return f"{at:%H:%M}" if at.date() == day else f"{at:%m-%d %H:%M}"


def to_text(d: Dispatch, tz=None, *, skip_empty: bool = False) -> str:
    """Every node's list, one after the other (the command line)."""
    tz = tz or d.moment.tzinfo
    shown = [n for n in d.nodes if not (skip_empty and n.empty)]
    parts = [node_text(n, d, tz) for n in shown]
    quiet = len(d.nodes) - len(shown)
    if quiet:
        parts.append(f"其余 {quiet} 个服务节点今日没有需要调度的工单。")
    return "\n\n".join(parts) if parts else "没有可显示的服务节点。"


__all__ = [
    "DISPATCH_AT",
    "WEEKLY_AGE",
    "SECTIONS",
    "SECTION_LABELS",
    "OVERDUE",
    "DUE_TODAY",
    "AWAITING",
    "NEW",
    "WEEKLY",
    "DispatchTicket",
    "DispatchVisit",
    "NodeDispatch",
    "Dispatch",
    "build",
    "dispatch",
    "classify",
    "dispatch_moment",
    "previous_dispatch_moment",
    "node_text",
    "to_text",
]
