"""Live figures (信息展示): the public headline figures and the console dashboard (domain core).

Every figure is the monthly summary's figure taken over another window: the window is handed to
the same queries (`bot.reports.monthly._compute`) as a `Period`, so "this month" here is, by
construction, the monthly summary of the month so far, and "today" and "all time" follow the same
definitions (design.md §3, bot/reports/monthly.py):

- 受理诉求: tickets created in the window; 办结: of those, closed now; 办结率 = 办结 ÷ 受理.
- 入企服务: visits in the window. 兑现金额: redeemed amount of tickets resolved in the window.
- 服务企业（家）: distinct enterprises with a ticket created or a visit in the window.
- first response / resolution times: working hours of tickets answered / resolved in the window,
  as the monthly averages and, here, also as medians (p50).
- 满意度: ticket ratings and staff-service ratings (Handover.rating) given in the window.
- 在办 / 超期在办 per node: the state now (超期 = open, clock running, resolution deadline passed:
  the month-to-date 超期在办 of the monthly summary).
- 知识库: questions asked in the window; 已解答 = an answer was shown; 未解答 = the rest;
  没帮助 = answers marked unhelpful.

Windows, in Beijing time: today [00:00, tomorrow 00:00), this month [1st 00:00, next 1st 00:00),
all time [2000-01-01, tomorrow 00:00).

The public figures hold counts and money only: no names, mobiles, enterprise names or ticket text.
`PublicFigures` caches them per process for `CACHE_SECONDS`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable, Optional

from sqlalchemy import BigInteger, and_, cast, false, func, or_, select, true, union
from sqlalchemy.engine import Connection

from bot.clock import BEIJING
from bot.db import engine_for
from bot.db.schema import KbQuery, ServiceNode, Ticket, Visit
from bot.logmask import mask
from bot.reports.monthly import MonthlySummary, Period, _compute, _count_if, _in, _int, _node_order
from bot.taxonomy import CATEGORIES, SERVICE_CONTENTS
from bot.tickets.lifecycle import AWAITING_INFO, CLOSED_STATES, OPEN_STATES

CACHE_SECONDS = 60.0
EPOCH = datetime(2000, 1, 1, tzinfo=BEIJING)
WINDOWS = {"today": "今日", "month": "本月", "all": "累计"}
ANSWERED = ("answer", "best_guess")  # the monthly summary's "an answer was shown"


# ---- windows ---------------------------------------------------------------------------------------


def _aware(now: Optional[datetime]) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"统计时刻需要带时区，收到的是：{now!r}")
    return now


def window(kind: str, now: datetime) -> Period:
    """The Beijing-time window `kind` ('today' | 'month' | 'all') containing `now`, as a Period."""
    local = _aware(now).astimezone(BEIJING)
    day = datetime(local.year, local.month, local.day, tzinfo=BEIJING)
    tomorrow = datetime.combine((day + timedelta(days=1)).date(), datetime.min.time(), BEIJING)
    if kind == "today":
        start, end, label = day, tomorrow, f"{local:%Y-%m-%d}"
    elif kind == "month":
        start = datetime(local.year, local.month, 1, tzinfo=BEIJING)
        nxt = (start + timedelta(days=32)).replace(day=1)
        end, label = datetime(nxt.year, nxt.month, 1, tzinfo=BEIJING), f"{local:%Y-%m}"
    elif kind == "all":
        start, end, label = EPOCH, tomorrow, "all"
    else:
        raise ValueError(f"统计区间不存在：{kind!r}（可选 today / month / all）")
    return Period(label, start.year, start.month, start, end, start)


# ---- the figures -----------------------------------------------------------------------------------


@dataclass
class CountItem:
    key: str
    name: str
    accepted: int = 0
    closed: int = 0
    content: str = ""

    @property
    def completion_rate(self) -> Optional[float]:
        return None if not self.accepted else self.closed / self.accepted


@dataclass
class NodeState:
    node_id: str
    name: str
    kind: str
    open: int = 0
    overdue: int = 0


@dataclass
class WindowFigures:
    kind: str
    label: str
    start: datetime
    end: datetime
    accepted: int
    closed: int
    cannot_handle: int
    open: int
    enterprises: int
    visits: int
    visit_tickets: int
    redeemed_amount: Decimal
    categories: list[CountItem]
    contents: list[CountItem]
    first_responses: int
    avg_first_response_hours: Optional[float]
    p50_first_response_hours: Optional[float]
    resolved: int
    on_time: int
    avg_resolution_hours: Optional[float]
    p50_resolution_hours: Optional[float]
    ratings: int
    service_ratings: int
    satisfaction: Optional[float]  # average score
    satisfied_share: Optional[float]  # share of 4 and 5 (None when scoped: per node unknown)
    kb_questions: Optional[int] = None  # None for a node-scoped view (questions have no node)
    kb_answered: Optional[int] = None
    kb_not_helpful: Optional[int] = None
    summary: Optional[MonthlySummary] = field(default=None, repr=False)

    @property
    def completion_rate(self) -> Optional[float]:
        return None if not self.accepted else self.closed / self.accepted

    @property
    def on_time_rate(self) -> Optional[float]:
        return None if not self.resolved else self.on_time / self.resolved

    @property
    def services(self) -> int:
        """服务总量: needs accepted plus on-site visits."""
        return self.accepted + self.visits

    @property
    def kb_unanswered(self) -> Optional[int]:
        return None if self.kb_questions is None else self.kb_questions - (self.kb_answered or 0)

    def public_dict(self) -> dict[str, Any]:
        """Counts and money only: the public page and /api/figures."""
        return {
            "window": self.kind,
            "label": WINDOWS[self.kind],
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "services": self.services,
            "enterprises": self.enterprises,
            "accepted": self.accepted,
            "closed": self.closed,
            "completion_rate": _round(self.completion_rate),
            "visits": self.visits,
            "redeemed_amount": f"{self.redeemed_amount:.2f}",
            "categories": [
                {"intent": c.key, "name": c.name, "content": c.content, "accepted": c.accepted} for c in self.categories
            ],
            "contents": [{"name": c.name, "accepted": c.accepted} for c in self.contents],
        }


def _round(x: Optional[float], digits: int = 4) -> Optional[float]:
    return None if x is None else round(x, digits)


def _median(values: list[int]) -> Optional[float]:
    """p50 in hours of working seconds (the mean of the two middle values for an even count)."""
    if not values:
        return None
    v = sorted(values)
    mid = len(v) // 2
    secs = v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2
    return secs / 3600


def _scoped(col, node_ids: Optional[set]):
    return true() if node_ids is None else col.in_(sorted(node_ids))


def _window_figures(
    conn: Connection, kind: str, period: Period, now: datetime, node_ids: Optional[set] = None
) -> WindowFigures:
    summary = _compute(conn, period, now)
    start, end = period.start_utc, period.end_utc
    T = Ticket
    # medians: one column of the answered / resolved tickets of the window
    fr = [
        int(x)
        for x in conn.execute(
            select(T.first_response_wsecs).where(
                _in(T.first_response_at, start, end), T.first_response_wsecs.isnot(None), _scoped(T.node_id, node_ids)
            )
        ).scalars()
    ]
    res = [
        int(x)
        for x in conn.execute(
            select(T.resolution_wsecs).where(
                _in(T.resolved_at, start, end), T.resolution_wsecs.isnot(None), _scoped(T.node_id, node_ids)
            )
        ).scalars()
    ]
    served = union(
        select(T.enterprise_id.label("e")).where(_in(T.created_at, start, end), _scoped(T.node_id, node_ids)),
        select(Visit.enterprise_id.label("e")).where(
            _in(Visit.visited_at, start, end), _scoped(Visit.node_id, node_ids)
        ),
    ).subquery()
    enterprises = _int(conn.execute(select(func.count()).select_from(served)).scalar_one())

    if node_ids is None:
        cats = [CountItem(c.intent, c.name, c.accepted, c.closed, c.content) for c in summary.categories]
        contents = [
            CountItem(c.content, c.content, c.accepted, c.closed)
            for c in summary.contents
            if c.content in SERVICE_CONTENTS
        ]
        sat = summary.satisfaction
        return WindowFigures(
            kind=kind,
            label=WINDOWS[kind],
            start=period.start,
            end=period.end,
            accepted=summary.accepted,
            closed=summary.closed,
            cannot_handle=summary.cannot_handle,
            open=summary.open,
            enterprises=enterprises,
            visits=summary.visits,
            visit_tickets=summary.visit_tickets,
            redeemed_amount=summary.redeemed_amount,
            categories=cats,
            contents=contents,
            first_responses=summary.first_responses,
            avg_first_response_hours=summary.avg_first_response_hours,
            p50_first_response_hours=_median(fr),
            resolved=summary.resolved,
            on_time=summary.on_time,
            avg_resolution_hours=summary.avg_resolution_hours,
            p50_resolution_hours=_median(res),
            ratings=sat.count,
            service_ratings=sat.service_count,
            satisfaction=sat.average,
            satisfied_share=sat.satisfied_share,
            kb_questions=summary.knowledge.questions,
            kb_answered=summary.knowledge.answered,
            kb_not_helpful=summary.knowledge.feedback - summary.knowledge.helpful,
            summary=summary,
        )

    # a node's scope: the summary's per-node rows, plus the breakdowns the summary keeps only in total
    closed_cond = and_(T.status.in_(sorted(CLOSED_STATES)), T.resolved_at.isnot(None))
    rows = conn.execute(
        select(T.category, T.service_content, func.count().label("n"), _count_if(closed_cond).label("closed"))
        .where(_in(T.created_at, start, end), _scoped(T.node_id, node_ids))
        .group_by(T.category, T.service_content)
    ).all()
    cat_items = {c.intent: CountItem(c.intent, c.name, content=c.content) for c in CATEGORIES}
    content_items = {name: CountItem(name, name) for name in SERVICE_CONTENTS}
    for r in rows:
        for item in (cat_items.get(r.category), content_items.get(r.service_content)):
            if item is not None:
                item.accepted += _int(r.n)
                item.closed += _int(r.closed)
    fen = conn.execute(
        select(func.coalesce(func.sum(cast(func.round(T.redeemed_amount * 100), BigInteger)), 0)).where(
            _in(T.resolved_at, start, end), _scoped(T.node_id, node_ids)
        )
    ).scalar_one()
    needs = [n for n in summary.nodes if n.node_id in node_ids]
    perf = [p for p in summary.performance if p.node_id in node_ids]  # active nodes with any activity
    ratings = sum(p.ratings for p in perf)
    score_sum = sum(p.score_sum for p in perf)
    first_responses = sum(p.first_responses for p in perf)
    resolutions_timed = sum(p.resolutions_timed for p in perf)
    return WindowFigures(
        kind=kind,
        label=WINDOWS[kind],
        start=period.start,
        end=period.end,
        accepted=sum(n.accepted for n in needs),
        closed=sum(n.closed for n in needs),
        cannot_handle=sum(n.cannot_handle for n in needs),
        open=sum(n.open for n in needs),
        enterprises=enterprises,
        visits=sum(p.visits for p in perf),
        visit_tickets=0,
        redeemed_amount=(Decimal(_int(fen)) / 100).quantize(Decimal("0.01")),
        categories=list(cat_items.values()),
        contents=list(content_items.values()),
        first_responses=first_responses,
        avg_first_response_hours=(
            None if not first_responses else sum(p.first_response_secs for p in perf) / first_responses / 3600
        ),
        p50_first_response_hours=_median(fr),
        resolved=sum(p.resolved for p in perf),
        on_time=sum(p.on_time for p in perf),
        avg_resolution_hours=(
            None if not resolutions_timed else sum(p.resolution_secs for p in perf) / resolutions_timed / 3600
        ),
        p50_resolution_hours=_median(res),
        ratings=ratings,
        service_ratings=sum(p.service_ratings for p in perf),
        satisfaction=None if not ratings else score_sum / ratings,
        satisfied_share=None,
        summary=summary,
    )


def node_states(conn: Connection, now: datetime, node_ids: Optional[set] = None) -> list[NodeState]:
    """在办 / 超期在办 per active node now (the month-to-date 超期在办 of the monthly summary)."""
    T = Ticket
    now_utc = _aware(now).astimezone(timezone.utc)
    rows = conn.execute(
        select(
            T.node_id,
            func.count().label("open"),
            _count_if(and_(T.status != AWAITING_INFO, T.resolution_due < now_utc)).label("overdue"),
        )
        .where(T.status.in_(sorted(OPEN_STATES)), _scoped(T.node_id, node_ids))
        .group_by(T.node_id)
    ).all()
    counts = {r.node_id: (_int(r.open), _int(r.overdue)) for r in rows}
    nodes = conn.execute(
        select(ServiceNode.id, ServiceNode.name, ServiceNode.kind, ServiceNode.active).where(
            _scoped(ServiceNode.id, node_ids)
        )
    ).all()
    out = [NodeState(n.id, n.name, n.kind, *counts.get(n.id, (0, 0))) for n in nodes if n.active or n.id in counts]
    return sorted(out, key=lambda s: _node_order(s.kind, s.node_id))


@dataclass
class OpenQuestion:
    text: str  # as asked, mobile and ID numbers masked (bot.logmask)
    asked: int  # times asked in the window without an answer shown
    not_helpful: int  # times an answer was shown and marked 没帮助
    last_asked: datetime


UNANSWERED_LIMIT = 10


def open_questions(conn: Connection, period: Period, limit: int = UNANSWERED_LIMIT) -> list[OpenQuestion]:
    """The questions of the window that got no answer or an answer marked 没帮助, grouped by their text,
    most frequent first: what the knowledge editors should write next."""
    K = KbQuery
    unanswered = K.decision.notin_(ANSWERED)
    unhelpful = and_(K.decision.in_(ANSWERED), K.helpful == false())
    rows = conn.execute(
        select(
            K.text,
            _count_if(unanswered).label("asked"),
            _count_if(unhelpful).label("bad"),
            func.max(K.asked_at).label("last"),
        )
        .where(_in(K.asked_at, period.start_utc, period.end_utc), or_(unanswered, unhelpful))
        .group_by(K.text)
        .order_by((_count_if(unanswered) + _count_if(unhelpful)).desc(), func.max(K.asked_at).desc())
        .limit(limit)
    ).all()
    return [
        OpenQuestion(
            mask(r.text or ""),
            _int(r.asked),
            _int(r.bad),
            (r.last if r.last.tzinfo else r.last.replace(tzinfo=timezone.utc)).astimezone(BEIJING),
        )
        for r in rows
    ]


@dataclass
class Dashboard:
    generated_at: datetime
    today: WindowFigures
    month: WindowFigures
    nodes: list[NodeState]
    scoped: bool
    questions: list[OpenQuestion] = field(default_factory=list)  # whole network only: questions have no node


def _snapshot(db_url: str, work: Callable[[Connection], Any]) -> Any:
    engine = engine_for(db_url)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            return work(conn)


def dashboard(db_url: str, now: Optional[datetime] = None, node_ids: Optional[Iterable[str]] = None) -> Dashboard:
    """Today and this month for the console, limited to `node_ids` (None: the whole network)."""
    now = _aware(now)
    scope = None if node_ids is None else set(node_ids)

    def work(conn: Connection) -> Dashboard:
        return Dashboard(
            generated_at=now.astimezone(BEIJING),
            today=_window_figures(conn, "today", window("today", now), now, scope),
            month=_window_figures(conn, "month", window("month", now), now, scope),
            nodes=node_states(conn, now, scope),
            scoped=scope is not None,
            questions=[] if scope is not None else open_questions(conn, window("month", now)),
        )

    return _snapshot(db_url, work)


def public_figures(db_url: str, now: Optional[datetime] = None) -> dict[str, Any]:
    """The public headline figures of today, this month and all time (counts and money only)."""
    now = _aware(now)

    def work(conn: Connection) -> dict[str, Any]:
        return {
            "generated_at": now.astimezone(BEIJING).isoformat(timespec="seconds"),
            "windows": {kind: _window_figures(conn, kind, window(kind, now), now).public_dict() for kind in WINDOWS},
        }

    return _snapshot(db_url, work)


class PublicFigures:
    """`public_figures` cached per process for `ttl` seconds (one computation at a time)."""

    def __init__(
        self,
        db_url: str,
        ttl: float = CACHE_SECONDS,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db_url, self.ttl, self.clock, self.monotonic = db_url, ttl, clock, monotonic
        self._lock = threading.Lock()
        self._value: Optional[dict] = None
        self._taken = 0.0
        self.computations = 0

    def get(self) -> dict[str, Any]:
        with self._lock:
            if self._value is None or self.monotonic() - self._taken >= self.ttl:
                self._value = public_figures(self.db_url, self.clock())
                self._taken = self.monotonic()
                self.computations += 1
            return self._value


__all__ = [
    "CACHE_SECONDS",
    "WINDOWS",
    "CountItem",
    "Dashboard",
    "NodeState",
    "OpenQuestion",
    "open_questions",
    "PublicFigures",
    "WindowFigures",
    "dashboard",
    "node_states",
    "public_figures",
    "window",
]
