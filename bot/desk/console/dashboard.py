"""数据看板 and 绩效评分 in the console: GET /console/dashboard[?month=YYYY-MM].

Today and this month (bot.reports.figures.dashboard) and the per-node scorecard of a month beside the
month before (bot.reports.scorecard), both limited to the member of staff's scope: a workstation sees its
own node, a new-city centre its workstations too, the comprehensive centre and admins everything. The
knowledge-base figures have no node and are shown to whole-network staff only. The scorecard is for leads
and admins, as the monthly summary is. Charts are inline SVG (bot.desk.figures); styles from /figures.css.
"""

from __future__ import annotations

from typing import Optional

from aiohttp import web

from bot.desk import figures as fg
from bot.desk.console import templates as t
from bot.desk.console import views
from bot.desk.console.auth import current_staff
from bot.desk.console.staff_view import StaffView
from bot.reports import parse_month
from bot.reports.figures import Dashboard, WindowFigures, dashboard
from bot.reports.monthly import NODE_KINDS
from bot.reports.scorecard import Scorecard, scorecard


def _score(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.2f}"


def _diff(now: float, before: float, pct: bool) -> str:
    """How far a figure moved since last month: percentage points for rates, the plain number otherwise."""
    return f"{abs(now - before) * 100:.1f} 个百分点" if pct else f"{abs(now - before):g}"


def _window_cards(w: WindowFigures, show_kb: bool) -> list[tuple[str, str, str]]:
    """(key, value, sub) of the cards of a window (the card macro of templates/figures_macros.html)."""
    cards = [
        ("受理诉求", f"{w.accepted} 件", f"办结 {w.closed} 件"),
        ("办结率", fg.pct(w.completion_rate), f"无法办理 {w.cannot_handle} 件"),
        (
            "首次响应（中位）",
            fg.hours(w.p50_first_response_hours),
            f"平均 {fg.hours(w.avg_first_response_hours)}，{w.first_responses} 件",
        ),
        (
            "办结用时（中位）",
            fg.hours(w.p50_resolution_hours),
            f"平均 {fg.hours(w.avg_resolution_hours)}，{w.resolved} 件",
        ),
        ("满意度", _score(w.satisfaction), f"评价 {w.ratings} 条，其中人工服务 {w.service_ratings} 条"),
        ("入企服务", f"{w.visits} 次", f"服务企业 {w.enterprises} 家"),
        ("兑现金额", fg.yuan(w.redeemed_amount), f"按时办结率 {fg.pct(w.on_time_rate)}"),
    ]
    if show_kb:
        cards.append(
            (
                "知识库",
                f"解答 {w.kb_answered} 个",
                f"提问 {w.kb_questions} 个，未解答 {w.kb_unanswered} 个，没帮助 {w.kb_not_helpful} 条",
            )
        )
    return cards


def page(staff: StaffView, d: Dashboard, sc: Optional[Scorecard], month: str, error: Optional[str]) -> str:
    """The page (template console/dashboard.html); the cards and charts are the public figures page's macros."""
    show_kb = not d.scoped
    m = d.month
    cats = [{"name": c.name, "accepted": c.accepted, "content": c.content} for c in m.categories]
    contents = [{"name": c.name, "accepted": c.accepted} for c in m.contents]
    return t.render(
        "console/dashboard.html",
        "数据看板",
        staff,
        page="dashboard",
        error=error,
        d=d,
        sc=sc,
        month=month,
        scope=None if staff.all_nodes else set(staff.scope),
        scope_note="全区" if not d.scoped else "本节点及下属节点",
        overdue_now=sum(n.overdue for n in d.nodes),
        open_now=sum(n.open for n in d.nodes),
        today_cards=_window_cards(d.today, show_kb),
        month_cards=_window_cards(m, show_kb),
        overdue_chart=fg.bar_chart("各节点超期在办", [(n.name, n.overdue, "#b42318") for n in d.nodes if n.overdue]),
        colours=fg.CONTENT_COLOURS,
        category_chart=fg.category_chart("本月按需求分类受理诉求", cats),
        content_chart=fg.content_chart("本月按服务内容受理诉求", contents),
        NODE_KINDS=NODE_KINDS,
        pct=fg.pct,
        score=_score,
        diff=_diff,
    )


async def dashboard_page(request: web.Request) -> web.Response:
    staff = current_staff(request)
    db, now = views.db_url(request), views.now_of(request)
    month, error = views._month(request), None
    try:
        parse_month(month)
    except ValueError as exc:
        error, month = str(exc), t.dt(now, "%Y-%m")
    d = await views.run(dashboard, db, now, staff.node_filter())
    sc = await views.run(scorecard, db, month, now) if staff.is_lead else None
    return views.html(page(staff, d, sc, month, error), 400 if error else 200)


def setup(app: web.Application) -> None:
    app.router.add_get("/console/dashboard", dashboard_page)
