"""绩效评估: the per-node scorecard of a month, beside the month before (domain core).

The standard's angles, per active node, each as "part of whole" so months compare:

- 即日办响应率: of the first responses given in the month, those by the ticket's 即日办 deadline
  (first_response_at ≤ first_response_due).
- 按时办结率 (日调度 follows the deadlines): of the tickets resolved in the month, those by the
  resolution deadline — the monthly summary's figure.
- 周推进覆盖率: the tickets due a weekly push at the cut-off (open then, created at least 7 days
  before) that got one (a ``progress_push`` event) in the 8 days before the cut-off (a week and a
  day, so a Monday push counts on the Tuesday after). "Open then": open now, or resolved after
  the cut-off.
- 满意度: the average of the ticket ratings and staff-service ratings given in the month (the
  monthly summary's figure), and how many of them rated the staff service.
- 入企服务: visits in the month.
- 未响应诉求: tickets created before the cut-off, open with the clock running (not 待补充), with no
  first response and the 即日办 deadline passed at the cut-off.
- 超期在办: the monthly summary's 月末 / month-to-date 超期在办.

The cut-off is the month end, or `now` while the month is running (as in the monthly summary).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from sqlalchemy import exists, func, or_, select
from sqlalchemy.engine import Connection

from bot.db.schema import ServiceNode, Ticket, TicketEvent
from bot.reports.dispatch import WEEKLY_AGE
from bot.reports.figures import _aware, _snapshot
from bot.reports.monthly import MonthlySummary, Period, _compute, _count_if, _in, _int, _node_order, parse_month
from bot.tickets.lifecycle import AWAITING_INFO, OPEN_STATES

PUSH_WINDOW = WEEKLY_AGE + timedelta(days=1)


def _rate(part: int, whole: int) -> Optional[float]:
    return None if not whole else part / whole


@dataclass
class NodeScore:
    node_id: str
    name: str
    kind: str
    accepted: int = 0
    responded: int = 0
    responded_in_time: int = 0
    resolved: int = 0
    on_time: int = 0
    push_due: int = 0
    pushed: int = 0
    ratings: int = 0
    score_sum: int = 0
    service_ratings: int = 0
    visits: int = 0
    unanswered: int = 0
    overdue_open: int = 0

    @property
    def response_rate(self) -> Optional[float]:
        return _rate(self.responded_in_time, self.responded)

    @property
    def on_time_rate(self) -> Optional[float]:
        return _rate(self.on_time, self.resolved)

    @property
    def push_coverage(self) -> Optional[float]:
        return _rate(self.pushed, self.push_due)

    @property
    def satisfaction(self) -> Optional[float]:
        return None if not self.ratings else self.score_sum / self.ratings

    @property
    def has_activity(self) -> bool:
        return any(
            (
                self.accepted,
                self.responded,
                self.resolved,
                self.push_due,
                self.ratings,
                self.visits,
                self.unanswered,
                self.overdue_open,
            )
        )

    def add(self, other: "NodeScore") -> None:
        for name in (
            "accepted",
            "responded",
            "responded_in_time",
            "resolved",
            "on_time",
            "push_due",
            "pushed",
            "ratings",
            "score_sum",
            "service_ratings",
            "visits",
            "unanswered",
            "overdue_open",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class ScoreRow:
    node_id: str
    name: str
    kind: str
    current: NodeScore
    previous: NodeScore


@dataclass
class Scorecard:
    month: str
    label: str
    previous_month: str
    previous_label: str
    rows: list[ScoreRow] = field(default_factory=list)

    def total(self, which: str = "current", scope: Optional[set] = None) -> NodeScore:
        out = NodeScore("", "合计", "")
        for r in self.rows:
            if scope is None or r.node_id in scope:
                out.add(getattr(r, which))
        return out

    def scoped(self, scope: Optional[set]) -> list[ScoreRow]:
        return [r for r in self.rows if scope is None or r.node_id in scope]


def _scores(
    conn: Connection, period: Period, as_of: Optional[datetime], summary: Optional[MonthlySummary] = None
) -> tuple[dict[str, NodeScore], dict[str, Any]]:
    """Every node's score for the month (active or not), and the node rows."""
    summary = summary or _compute(conn, period, as_of)
    start, end = period.start_utc, period.end_utc
    cutoff = end if as_of is None else min(end, as_of.astimezone(timezone.utc))
    T = Ticket

    nodes = {
        r.id: r
        for r in conn.execute(select(ServiceNode.id, ServiceNode.name, ServiceNode.kind, ServiceNode.active)).all()
    }
    scores = {nid: NodeScore(nid, r.name, r.kind) for nid, r in nodes.items()}

    for n in summary.nodes:
        scores[n.node_id].accepted = n.accepted
    for p in summary.performance:
        s = scores[p.node_id]
        s.resolved, s.on_time = p.resolved, p.on_time
        s.ratings, s.score_sum, s.service_ratings = p.ratings, p.score_sum, p.service_ratings
        s.visits, s.overdue_open = p.visits, p.overdue_open

    for r in conn.execute(
        select(T.node_id, func.count().label("n"), _count_if(T.first_response_at <= T.first_response_due).label("ok"))
        .where(_in(T.first_response_at, start, end))
        .group_by(T.node_id)
    ).all():
        scores[r.node_id].responded, scores[r.node_id].responded_in_time = _int(r.n), _int(r.ok)

    pushed = exists().where(
        TicketEvent.ticket_id == T.id,
        TicketEvent.action == "progress_push",
        TicketEvent.at > cutoff - PUSH_WINDOW,
        TicketEvent.at <= cutoff,
    )
    open_then = or_(T.status.in_(sorted(OPEN_STATES)), T.resolved_at > cutoff)
    for r in conn.execute(
        select(T.node_id, func.count().label("n"), _count_if(pushed).label("pushed"))
        .where(T.created_at <= cutoff - WEEKLY_AGE, open_then)
        .group_by(T.node_id)
    ).all():
        scores[r.node_id].push_due, scores[r.node_id].pushed = _int(r.n), _int(r.pushed)

    for r in conn.execute(
        select(T.node_id, func.count().label("n"))
        .where(
            T.status.in_(sorted(OPEN_STATES - {AWAITING_INFO})),
            T.created_at < cutoff,
            or_(T.first_response_at.is_(None), T.first_response_at >= cutoff),
            T.first_response_due < cutoff,
        )
        .group_by(T.node_id)
    ).all():
        scores[r.node_id].unanswered = _int(r.n)
    return scores, nodes


def previous_month(month: str) -> str:
    p = parse_month(month)
    return f"{p.year - 1:04d}-12" if p.number == 1 else f"{p.year:04d}-{p.number - 1:02d}"


def compute_scorecard(
    conn: Connection, period: Period, as_of: Optional[datetime] = None, current: Optional[MonthlySummary] = None
) -> Scorecard:
    prev = parse_month(previous_month(period.month))
    now_scores, nodes = _scores(conn, period, as_of, current)
    prev_scores, _ = _scores(conn, prev, as_of)
    rows = [
        ScoreRow(nid, r.name, r.kind, now_scores[nid], prev_scores[nid])
        for nid, r in nodes.items()
        if r.active and (now_scores[nid].has_activity or prev_scores[nid].has_activity)
    ]
    rows.sort(key=lambda r: _node_order(r.kind, r.node_id))
    return Scorecard(period.month, period.label, prev.month, prev.label, rows)


def scorecard(db_url: str, month: str, now: Optional[datetime] = None) -> Scorecard:
    """The scorecard of `month` ("YYYY-MM", Beijing time) and the month before, taken at `now`."""
    period = parse_month(month)
    now = _aware(now)
    return _snapshot(db_url, lambda conn: compute_scorecard(conn, period, now))


def monthly_summary(db_url: str, month: str, now: Optional[datetime] = None) -> MonthlySummary:
    """`bot.reports.monthly.monthly_summary` with its 绩效评分 (`summary.scorecard`), in one snapshot:
    what `bot.reports.monthly_summary` gives the console, the scheduler and the command line."""
    period = parse_month(month)
    now = _aware(now)

    def work(conn: Connection) -> MonthlySummary:
        summary = _compute(conn, period, now)
        summary.scorecard = compute_scorecard(conn, period, now, summary)
        return summary

    return _snapshot(db_url, work)


__all__ = [
    "NodeScore",
    "ScoreRow",
    "Scorecard",
    "compute_scorecard",
    "previous_month",
    "scorecard",
    "monthly_summary",
    "PUSH_WINDOW",
]
