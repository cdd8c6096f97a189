"""月总结: the window's monthly summary, computed with SQL aggregates.

A month is a calendar month in Beijing time (Asia/Shanghai); the database keeps
timezone-aware UTC timestamps (SQLite hands them back naive, meaning UTC), so
the month is turned into a half-open UTC interval [start, end) once and every
figure is a GROUP BY over an indexed timestamp range. No query loads tickets
one by one, so the cost grows with the number of groups (19 categories × nodes,
5 scores, a handful of handover reasons), not with the number of tickets.

Definitions (design.md §3):
- 受理 (accepted): tickets created in the month.
- 办结 (closed): of those, status in CLOSED_STATES (已办结 / 已评价) with resolved_at set —
  their status when the report runs, so a ticket created in the month and
  closed early the next month counts as closed once it is.
- 办结率 = closed ÷ accepted (None when nothing was accepted).
- 按时办结率: of tickets with resolved_at in the month, the share with resolved_at ≤ resolution_due.
- average first response / resolution time in working hours: AVG over tickets whose
  first_response_at / resolved_at falls in the month (precomputed working seconds).
- satisfaction: ratings created in the month — of tickets (Rating) and of the staff service
  (Handover.rating, given when a staff conversation ends; counted at the handover's node, the
  centre when it has none); follow-ups: tickets rated in the month with followup_required set.
- 月末超期在办: tickets still open, their clock running (not 待补充: the deadline is paused and moves
  on when the enterprise answers), whose resolution_due is before the end of the month — or, while
  the month is not over, before the moment the report is made (``as_of``): a deadline still in the
  future is never overdue. The same meaning as 已超期 in the dispatch list (docs/dispatch.md).
- 兑现金额: SUM(redeemed_amount) of tickets resolved in the month, exact to the fen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, and_, case, cast, func, literal_column, select, true
from sqlalchemy.engine import Connection

from bot.clock import BEIJING
from bot.db import engine_for
from bot.db.schema import Handover, KbQuery, Rating, ServiceNode, Ticket, Visit
from bot.taxonomy import CATEGORIES, SERVICE_CONTENTS
from bot.tickets.lifecycle import AWAITING_INFO, CANNOT_HANDLE, CLOSED_STATES, OPEN_STATES

SATISFACTION_LEVELS: tuple[tuple[int, str], ...] = (
    (5, "非常满意"),
    (4, "满意"),
    (3, "一般"),
    (2, "不满意"),
    (1, "非常不满意"),
)
SATISFIED_MIN_SCORE = 4

HANDOVER_REASONS = {
    "request_human": "用户要求人工",
    "fallback": "机器人无法理解",
    "complaint": "投诉",
    "staff_only": "需人工办理的分类",
    "staff_takeover": "工作人员主动接管",
}

NODE_KINDS = {
    "centre": "综合服务中心",
    "new_city": "新城服务中心",
    "workstation": "园区工作站",
    "special_window": "政策兑现专窗",
}
_KIND_ORDER = {kind: i for i, kind in enumerate(NODE_KINDS)}

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


# ---- the period ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    month: str  # "2026-11"
    year: int
    number: int
    start: datetime  # first instant of the month, Beijing time
    end: datetime  # first instant of the next month, Beijing time (exclusive)
    year_start: datetime  # 1 January of the year, Beijing time

    @property
    def start_utc(self) -> datetime:
        return self.start.astimezone(timezone.utc)

    @property
    def end_utc(self) -> datetime:
        return self.end.astimezone(timezone.utc)

    @property
    def year_start_utc(self) -> datetime:
        return self.year_start.astimezone(timezone.utc)

    @property
    def label(self) -> str:
        return f"{self.year}年{self.number}月"


def parse_month(month: str) -> Period:
    """'YYYY-MM' → the Beijing calendar month; ValueError (in Chinese) for anything else."""
    m = _MONTH_RE.match((month or "").strip())
    if not m:
        raise ValueError(f"月份格式不正确：{month!r}，应为 YYYY-MM，例如 2026-11")
    year, number = int(m.group(1)), int(m.group(2))
    if not 1 <= number <= 12:
        raise ValueError(f"月份不存在：{month}（月份应在 01 到 12 之间）")
    if not 1900 <= year <= 9998:
        raise ValueError(f"年份超出范围：{month}")
    start = datetime(year, number, 1, tzinfo=BEIJING)
    nxt = date(year + (number == 12), number % 12 + 1, 1)
    end = datetime(nxt.year, nxt.month, 1, tzinfo=BEIJING)
    return Period(f"{year:04d}-{number:02d}", year, number, start, end, datetime(year, 1, 1, tzinfo=BEIJING))


# ---- the figures -----------------------------------------------------------------------------------


def _rate(part: int | None, whole: int | None) -> float | None:
    return None if not whole else (part or 0) / whole


def _avg_hours(total_secs: Any, count: int) -> float | None:
    return None if not count else float(total_secs) / count / 3600


@dataclass
class NeedCounts:
    """Tickets created in the month and where they stand now."""

    accepted: int = 0
    closed: int = 0
    cannot_handle: int = 0
    open: int = 0

    @property
    def completion_rate(self) -> float | None:
        return _rate(self.closed, self.accepted)

    def add(self, accepted: int, closed: int, cannot: int, open_: int) -> None:
        self.accepted += accepted
        self.closed += closed
        self.cannot_handle += cannot
        self.open += open_


@dataclass
class CategoryFigures(NeedCounts):
    intent: str = ""
    name: str = ""
    content: str = ""


@dataclass
class ContentFigures(NeedCounts):
    content: str = ""


@dataclass
class NodeNeeds(NeedCounts):
    node_id: str = ""
    name: str = ""
    kind: str = ""
    active: bool = True


@dataclass
class NodePerformance:
    """绩效: one node's month."""

    node_id: str
    name: str
    kind: str
    accepted: int = 0
    closed: int = 0
    resolved: int = 0  # resolved_at in the month
    on_time: int = 0
    first_responses: int = 0
    first_response_secs: int = 0
    resolutions_timed: int = 0
    resolution_secs: int = 0
    ratings: int = 0  # ticket and staff-service ratings
    score_sum: int = 0
    service_ratings: int = 0  # of which staff-service ratings
    overdue_open: int = 0  # open, not paused, resolution_due before min(month end, as_of)
    visits: int = 0

    @property
    def completion_rate(self) -> float | None:
        return _rate(self.closed, self.accepted)

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.on_time, self.resolved)

    @property
    def avg_first_response_hours(self) -> float | None:
        return _avg_hours(self.first_response_secs, self.first_responses)

    @property
    def avg_resolution_hours(self) -> float | None:
        return _avg_hours(self.resolution_secs, self.resolutions_timed)

    @property
    def satisfaction(self) -> float | None:
        return None if not self.ratings else self.score_sum / self.ratings

    @property
    def has_activity(self) -> bool:
        return any((self.accepted, self.resolved, self.first_responses, self.ratings, self.overdue_open, self.visits))


@dataclass
class Satisfaction:
    count: int = 0
    score_sum: int = 0
    satisfied: int = 0  # score ≥ 4
    levels: dict[str, int] = field(default_factory=lambda: {label: 0 for _, label in SATISFACTION_LEVELS})
    followups: int = 0  # tickets rated in the month flagged for 回访
    service_count: int = 0  # of `count`: ratings of the staff service

    @property
    def average(self) -> float | None:
        return None if not self.count else self.score_sum / self.count

    @property
    def satisfied_share(self) -> float | None:
        return _rate(self.satisfied, self.count)


@dataclass
class Handovers:
    total: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


@dataclass
class KnowledgeBase:
    questions: int = 0
    answered: int = 0
    feedback: int = 0
    helpful: int = 0

    @property
    def answer_rate(self) -> float | None:
        return _rate(self.answered, self.questions)

    @property
    def helpful_share(self) -> float | None:
        return _rate(self.helpful, self.feedback)


@dataclass
class MonthlySummary:
    month: str
    period_start: datetime  # Beijing time
    period_end: datetime  # exclusive
    generated_at: datetime
    needs: NeedCounts  # accepted / closed / cannot_handle / open
    resolved: int  # resolved_at in the month (any creation month)
    on_time: int
    first_responses: int  # with first_response_at in the month and working seconds
    first_response_secs: int
    resolutions_timed: int
    resolution_secs: int
    overdue_open: int
    redeemed_amount: Decimal
    visits: int
    visit_tickets: int  # 入企发现需求: tickets raised on the month's visits (by visit date)
    satisfaction: Satisfaction
    handovers: Handovers
    knowledge: KnowledgeBase
    categories: list[CategoryFigures]  # the 19, taxonomy order, zeros included
    contents: list[ContentFigures]  # the 5, taxonomy order
    nodes: list[NodeNeeds]  # active nodes (zeros included) + inactive nodes with tickets
    performance: list[NodePerformance]  # active nodes with any activity
    uncategorised: int  # tickets of the month whose category is not one of the 19
    ytd_accepted: int  # 1 January … end of the month
    ytd_visits: int
    as_of: datetime | None = None  # Beijing time the figures were taken; None: after the month
    scorecard: Any = None  # 绩效评分 (bot.reports.scorecard.Scorecard), set by bot.reports.monthly_summary

    @property
    def month_to_date(self) -> bool:
        """The month is not over yet: 超期在办 counts up to `as_of`, not the month end."""
        return self.as_of is not None and self.as_of < self.period_end

    @property
    def overdue_label(self) -> str:
        a = self.as_of
        if self.month_to_date and a is not None:
            return f"截至{a.month}月{a.day}日 {a:%H:%M} 超期在办"
        return "月末超期在办"

    # headline figures
    @property
    def label(self) -> str:
        return f"{self.period_start.year}年{self.period_start.month}月"

    @property
    def accepted(self) -> int:
        return self.needs.accepted

    @property
    def closed(self) -> int:
        return self.needs.closed

    @property
    def cannot_handle(self) -> int:
        return self.needs.cannot_handle

    @property
    def open(self) -> int:
        return self.needs.open

    @property
    def completion_rate(self) -> float | None:
        return self.needs.completion_rate

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.on_time, self.resolved)

    @property
    def avg_first_response_hours(self) -> float | None:
        return _avg_hours(self.first_response_secs, self.first_responses)

    @property
    def avg_resolution_hours(self) -> float | None:
        return _avg_hours(self.resolution_secs, self.resolutions_timed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: datetimes as ISO 8601 (Beijing), money as a string with two decimals."""

        def counts(c: NeedCounts) -> dict[str, Any]:
            return {
                "accepted": c.accepted,
                "closed": c.closed,
                "completion_rate": c.completion_rate,
                "cannot_handle": c.cannot_handle,
                "open": c.open,
            }

        return {
            "month": self.month,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            **counts(self.needs),
            "resolved": self.resolved,
            "on_time": self.on_time,
            "on_time_rate": self.on_time_rate,
            "first_responses": self.first_responses,
            "avg_first_response_hours": self.avg_first_response_hours,
            "resolutions_timed": self.resolutions_timed,
            "avg_resolution_hours": self.avg_resolution_hours,
            "overdue_open": self.overdue_open,
            "overdue_label": self.overdue_label,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "redeemed_amount": f"{self.redeemed_amount:.2f}",
            "visits": self.visits,
            "visit_tickets": self.visit_tickets,
            "satisfaction": {
                "count": self.satisfaction.count,
                "average": self.satisfaction.average,
                "satisfied": self.satisfaction.satisfied,
                "satisfied_share": self.satisfaction.satisfied_share,
                "levels": dict(self.satisfaction.levels),
                "followups": self.satisfaction.followups,
                "service_ratings": self.satisfaction.service_count,
            },
            "handovers": {"total": self.handovers.total, "by_reason": dict(self.handovers.by_reason)},
            "knowledge": {
                "questions": self.knowledge.questions,
                "answered": self.knowledge.answered,
                "answer_rate": self.knowledge.answer_rate,
                "feedback": self.knowledge.feedback,
                "helpful": self.knowledge.helpful,
                "helpful_share": self.knowledge.helpful_share,
            },
            "categories": [
                {"intent": c.intent, "name": c.name, "content": c.content, **counts(c)} for c in self.categories
            ],
            "contents": [{"content": c.content, **counts(c)} for c in self.contents],
            "nodes": [
                {"node_id": n.node_id, "name": n.name, "kind": n.kind, "active": n.active, **counts(n)}
                for n in self.nodes
            ],
            "performance": [
                {
                    "node_id": p.node_id,
                    "name": p.name,
                    "kind": p.kind,
                    "accepted": p.accepted,
                    "closed": p.closed,
                    "completion_rate": p.completion_rate,
                    "resolved": p.resolved,
                    "on_time": p.on_time,
                    "on_time_rate": p.on_time_rate,
                    "avg_first_response_hours": p.avg_first_response_hours,
                    "avg_resolution_hours": p.avg_resolution_hours,
                    "ratings": p.ratings,
                    "service_ratings": p.service_ratings,
                    "satisfaction": p.satisfaction,
                    "overdue_open": p.overdue_open,
                    "visits": p.visits,
                }
                for p in self.performance
            ],
            "uncategorised": self.uncategorised,
            "ytd_accepted": self.ytd_accepted,
            "ytd_visits": self.ytd_visits,
        }


# ---- the queries -----------------------------------------------------------------------------------


def _count_if(cond) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _in(col, start: datetime, end: datetime):
    return and_(col >= start, col < end)


def _int(value: Any) -> int:
    return int(value or 0)


def _node_order(kind: str, node_id: str) -> tuple:
    return (_KIND_ORDER.get(kind, len(_KIND_ORDER)), node_id)


def _node_key(conn: Connection):
    """tickets.node_id as a GROUP BY key.

    Without statistics SQLite answers "GROUP BY node_id" by walking the node_id index
    and looking up every ticket row by rowid (10× slower than a table scan at 1M tickets
    for the unindexed first_response_at filter); grouping by an expression makes it
    scan the table once and group in a temporary B-tree. PostgreSQL gets the column.
    """
    if conn.dialect.name == "sqlite":
        return Ticket.node_id.op("||")(literal_column("''")).label("node_id")
    return Ticket.node_id


def _compute(conn: Connection, period: Period, as_of: datetime | None = None) -> MonthlySummary:
    start, end = period.start_utc, period.end_utc
    overdue_cutoff = end if as_of is None else min(end, as_of.astimezone(timezone.utc))
    T = Ticket
    node = _node_key(conn)

    # 1. tickets created in the month, by category × service content × node, with where they stand now
    closed_cond = and_(T.status.in_(sorted(CLOSED_STATES)), T.resolved_at.isnot(None))
    created = conn.execute(
        select(
            T.category,
            T.service_content,
            T.node_id,
            func.count().label("accepted"),
            _count_if(closed_cond).label("closed"),
            _count_if(T.status == CANNOT_HANDLE).label("cannot"),
            _count_if(T.status.in_(sorted(OPEN_STATES))).label("open"),
        )
        .where(_in(T.created_at, start, end))
        .group_by(T.category, T.service_content, T.node_id)
    ).all()

    # 2. tickets resolved in the month, by node: on time, working seconds, money (exact, in fen)
    resolved = conn.execute(
        select(
            node,
            func.count().label("resolved"),
            _count_if(T.resolved_at <= T.resolution_due).label("on_time"),
            func.count(T.resolution_wsecs).label("timed"),
            func.coalesce(func.sum(T.resolution_wsecs), 0).label("secs"),
            func.coalesce(func.sum(cast(func.round(T.redeemed_amount * 100), BigInteger)), 0).label("fen"),
        )
        .where(_in(T.resolved_at, start, end))
        .group_by(node)
    ).all()

    # 3. first responses in the month, by node
    responded = conn.execute(
        select(
            node,
            func.count(T.first_response_wsecs).label("n"),
            func.coalesce(func.sum(T.first_response_wsecs), 0).label("secs"),
        )
        .where(_in(T.first_response_at, start, end))
        .group_by(node)
    ).all()

    # 4. open, clock running, past the resolution deadline at the month end (or now, if earlier), by node
    overdue = conn.execute(
        select(node, func.count().label("n"))
        .where(T.status.in_(sorted(OPEN_STATES - {AWAITING_INFO})), T.resolution_due < overdue_cutoff)
        .group_by(node)
    ).all()

    # 5. ratings given in the month, by node and score
    rated = conn.execute(
        select(node, Rating.score, func.count().label("n"))
        .select_from(Rating)
        .join(T, T.id == Rating.ticket_id)
        .where(_in(Rating.created_at, start, end))
        .group_by(node, Rating.score)
    ).all()
    rated_in_month = select(Rating.ticket_id).where(_in(Rating.created_at, start, end))
    followups = conn.execute(
        select(func.count()).select_from(T).where(T.followup_required == true(), T.id.in_(rated_in_month))
    ).scalar_one()

    # 5b. ratings of the staff service given in the month, by the handover's node and score
    served = conn.execute(
        select(Handover.node_id, Handover.rating, func.count().label("n"))
        .where(_in(Handover.rated_at, start, end), Handover.rating.isnot(None))
        .group_by(Handover.node_id, Handover.rating)
    ).all()

    # 6. visits in the month, by node, and the needs raised on them: counted with the visit's month even when
    #    its tickets were entered days later (a visit on 30 November recorded on 2 December is November's)
    visited = conn.execute(
        select(Visit.node_id, func.count().label("n")).where(_in(Visit.visited_at, start, end)).group_by(Visit.node_id)
    ).all()
    visit_tickets = conn.execute(
        select(func.count(T.id))
        .select_from(T)
        .join(Visit, Visit.id == T.visit_id)
        .where(_in(Visit.visited_at, start, end))
    ).scalar_one()

    # 7. handovers, knowledge base, year to date
    handovers = conn.execute(
        select(Handover.reason, func.count().label("n"))
        .where(_in(Handover.created_at, start, end))
        .group_by(Handover.reason)
    ).all()
    kb = conn.execute(
        select(
            func.count().label("questions"),
            _count_if(KbQuery.decision.in_(("answer", "best_guess"))).label("answered"),  # an answer was shown
            func.count(KbQuery.helpful).label("feedback"),
            _count_if(KbQuery.helpful == true()).label("helpful"),
        ).where(_in(KbQuery.asked_at, start, end))
    ).one()
    ytd_accepted = conn.execute(
        select(func.count()).select_from(T).where(_in(T.created_at, period.year_start_utc, end))
    ).scalar_one()
    ytd_visits = conn.execute(
        select(func.count()).select_from(Visit).where(_in(Visit.visited_at, period.year_start_utc, end))
    ).scalar_one()

    node_rows = conn.execute(select(ServiceNode.id, ServiceNode.name, ServiceNode.kind, ServiceNode.active)).all()

    # ---- fold the (few) aggregate rows into the summary ----
    totals = NeedCounts()
    categories = {c.intent: CategoryFigures(intent=c.intent, name=c.name, content=c.content) for c in CATEGORIES}
    contents = {name: ContentFigures(content=name) for name in SERVICE_CONTENTS}
    node_info = {r.id: r for r in node_rows}
    node_needs: dict[str, NodeNeeds] = {
        r.id: NodeNeeds(node_id=r.id, name=r.name, kind=r.kind, active=bool(r.active)) for r in node_rows
    }
    perf: dict[str, NodePerformance] = {
        r.id: NodePerformance(node_id=r.id, name=r.name, kind=r.kind) for r in node_rows
    }
    uncategorised = 0
    for r in created:
        figs = (_int(r.accepted), _int(r.closed), _int(r.cannot), _int(r.open))
        totals.add(*figs)
        if r.category in categories:
            categories[r.category].add(*figs)
        else:
            uncategorised += figs[0]
        contents.setdefault(r.service_content, ContentFigures(content=r.service_content)).add(*figs)
        node_needs[r.node_id].add(*figs)
        perf[r.node_id].accepted += figs[0]
        perf[r.node_id].closed += figs[1]

    n_resolved = on_time = timed = res_secs = fen = 0
    for r in resolved:
        p = perf[r.node_id]
        p.resolved, p.on_time = _int(r.resolved), _int(r.on_time)
        p.resolutions_timed, p.resolution_secs = _int(r.timed), _int(r.secs)
        n_resolved += p.resolved
        on_time += p.on_time
        timed += p.resolutions_timed
        res_secs += p.resolution_secs
        fen += _int(r.fen)

    n_fr = fr_secs = 0
    for r in responded:
        p = perf[r.node_id]
        p.first_responses, p.first_response_secs = _int(r.n), _int(r.secs)
        n_fr += p.first_responses
        fr_secs += p.first_response_secs

    n_overdue = 0
    for r in overdue:
        perf[r.node_id].overdue_open = _int(r.n)
        n_overdue += _int(r.n)

    satisfaction = Satisfaction(followups=_int(followups))
    labels = dict(SATISFACTION_LEVELS)
    for r in rated:
        n, score = _int(r.n), int(r.score)
        p = perf[r.node_id]
        p.ratings += n
        p.score_sum += score * n
        satisfaction.count += n
        satisfaction.score_sum += score * n
        if score >= SATISFIED_MIN_SCORE:
            satisfaction.satisfied += n
        if score in labels:
            satisfaction.levels[labels[score]] += n

    centre = next((r.id for r in node_rows if r.kind == "centre"), None)
    for r in served:
        n, score = _int(r.n), int(r.rating)
        satisfaction.count += n
        satisfaction.service_count += n
        satisfaction.score_sum += score * n
        if score >= SATISFIED_MIN_SCORE:
            satisfaction.satisfied += n
        if score in labels:
            satisfaction.levels[labels[score]] += n
        served_node = r.node_id or centre
        served_perf = perf.get(served_node) if served_node is not None else None
        if served_perf is not None:
            served_perf.ratings += n
            served_perf.service_ratings += n
            served_perf.score_sum += score * n

    n_visits = 0
    for r in visited:
        perf[r.node_id].visits = _int(r.n)
        n_visits += _int(r.n)

    by_reason = {reason: 0 for reason in HANDOVER_REASONS}
    for r in handovers:
        by_reason[r.reason] = _int(r.n)

    def network_order(item) -> tuple:
        return _node_order(item.kind, item.node_id)

    nodes = sorted((n for n in node_needs.values() if n.active or n.accepted), key=network_order)
    performance = sorted(
        (p for p in perf.values() if node_info[p.node_id].active and p.has_activity), key=network_order
    )

    return MonthlySummary(
        month=period.month,
        period_start=period.start,
        period_end=period.end,
        generated_at=datetime.now(BEIJING),
        needs=totals,
        resolved=n_resolved,
        on_time=on_time,
        first_responses=n_fr,
        first_response_secs=fr_secs,
        resolutions_timed=timed,
        resolution_secs=res_secs,
        overdue_open=n_overdue,
        redeemed_amount=(Decimal(fen) / 100).quantize(Decimal("0.01")),
        visits=n_visits,
        visit_tickets=_int(visit_tickets),
        satisfaction=satisfaction,
        handovers=Handovers(total=sum(by_reason.values()), by_reason=by_reason),
        knowledge=KnowledgeBase(
            questions=_int(kb.questions),
            answered=_int(kb.answered),
            feedback=_int(kb.feedback),
            helpful=_int(kb.helpful),
        ),
        categories=list(categories.values()),
        contents=list(contents.values()),
        nodes=nodes,
        performance=performance,
        uncategorised=uncategorised,
        ytd_accepted=_int(ytd_accepted),
        ytd_visits=_int(ytd_visits),
        as_of=None if as_of is None or as_of >= end else as_of.astimezone(BEIJING),
    )


def monthly_summary(db_url: str, month: str, now: datetime | None = None) -> MonthlySummary:
    """The figures of calendar month `month` ("YYYY-MM", Beijing time) from the database at `db_url`,
    taken at `now` (default: the current time; it matters while the month is not over)."""
    period = parse_month(month)
    if now is None:
        now = datetime.now(timezone.utc)
    elif now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"统计时刻需要带时区，收到的是：{now!r}")
    engine = engine_for(db_url)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # one consistent snapshot for all the queries
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            return _compute(conn, period, now)


__all__ = [
    "MonthlySummary",
    "NeedCounts",
    "CategoryFigures",
    "ContentFigures",
    "NodeNeeds",
    "NodePerformance",
    "Satisfaction",
    "Handovers",
    "KnowledgeBase",
    "Period",
    "parse_month",
    "monthly_summary",
    "SATISFACTION_LEVELS",
    "HANDOVER_REASONS",
    "NODE_KINDS",
    "BEIJING",
]
