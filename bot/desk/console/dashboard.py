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
from bot.desk.console.auth import StaffView, current_staff
from bot.reports.figures import Dashboard, WindowFigures
from bot.reports.monthly import NODE_KINDS
from bot.reports.scorecard import Scorecard, scorecard

e = t.e


def _score(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.2f}"


def _window_cards(w: WindowFigures, overdue_now: int, open_now: int, show_kb: bool) -> str:
    cards = [
        fg.card("受理诉求", f"{w.accepted} 件", f"办结 {w.closed} 件"),
        fg.card("办结率", fg.pct(w.completion_rate), f"无法办理 {w.cannot_handle} 件"),
        fg.card("首次响应（中位）", fg.hours(w.p50_first_response_hours),
                f"平均 {fg.hours(w.avg_first_response_hours)}，{w.first_responses} 件"),
        fg.card("办结用时（中位）", fg.hours(w.p50_resolution_hours),
                f"平均 {fg.hours(w.avg_resolution_hours)}，{w.resolved} 件"),
        fg.card("满意度", _score(w.satisfaction), f"评价 {w.ratings} 条，其中人工服务 {w.service_ratings} 条"),
        fg.card("入企服务", f"{w.visits} 次", f"服务企业 {w.enterprises} 家"),
        fg.card("兑现金额", fg.yuan(w.redeemed_amount), f"按时办结率 {fg.pct(w.on_time_rate)}"),
    ]
    if show_kb:
        cards.append(fg.card("知识库", f"解答 {w.kb_answered} 个", f"提问 {w.kb_questions} 个，未解答 {w.kb_unanswered} 个，"
                                                                f"没帮助 {w.kb_not_helpful} 条"))
    return f'<div class="figs" data-window="{e(w.kind)}">{"".join(cards)}</div>'


def _nodes_html(d: Dashboard) -> str:
    rows = "".join(f'<tr data-node="{e(n.node_id)}"><td class="l">{e(n.name)}<small>{e(NODE_KINDS.get(n.kind, n.kind))}</small></td>'
                   f'<td>{n.open}</td><td>{n.overdue}</td></tr>' for n in d.nodes)
    chart = fg.bar_chart("各节点超期在办", [(n.name, n.overdue, "#b42318") for n in d.nodes if n.overdue])
    return (f'<div class="two"><div class="scroll"><table class="grid nodes"><thead><tr><th>服务节点</th><th>在办</th>'
            f'<th>超期在办</th></tr></thead><tbody>{rows}</tbody></table></div><div>{chart}</div></div>')


def _questions_html(d: Dashboard) -> str:
    if d.scoped:
        return ""
    rows = "".join(f'<tr><td class="l wrap">{e(q.text)}</td><td>{q.asked}</td><td>{q.not_helpful}</td>'
                   f'<td>{e(t.dt(q.last_asked, "%m-%d %H:%M"))}</td></tr>' for q in d.questions)
    empty = '<tr><td class="l" colspan="4">本月没有未解答或“没帮助”的提问。</td></tr>'
    return f"""<section class="card"><h2>本月未解答与“没帮助”的提问 <small>按提问次数，前 {len(d.questions) or 10} 条；号码已隐去 · <a href="/console/knowledge/gaps">按主题归类并起草解答</a></small></h2>
<div class="scroll"><table class="grid questions"><thead><tr><th>提问</th><th>未解答</th><th>没帮助</th><th>最近一次</th></tr></thead>
<tbody>{rows or empty}</tbody></table></div></section>"""


def _change(now: Optional[float], before: Optional[float], pct: bool = True, lower_is_better: bool = False) -> str:
    if now is None or before is None or abs(now - before) < 1e-9:
        return ""
    up = now > before
    good = up != lower_is_better
    diff = f"{abs(now - before) * 100:.1f} 个百分点" if pct else f"{abs(now - before):g}"
    return f'<small class="{"up" if good else "down"}">{"↑" if up else "↓"} {diff}</small>'


def scorecard_html(sc: Scorecard, scope: Optional[set]) -> str:
    def cells(r_now, r_before) -> str:
        return "".join([
            f"<td>{r_now.accepted}<small>上月 {r_before.accepted}</small></td>",
            f"<td>{fg.pct(r_now.response_rate)}<small>{r_now.responded_in_time}/{r_now.responded}</small>"
            f"{_change(r_now.response_rate, r_before.response_rate)}</td>",
            f"<td>{fg.pct(r_now.on_time_rate)}<small>{r_now.on_time}/{r_now.resolved}</small>"
            f"{_change(r_now.on_time_rate, r_before.on_time_rate)}</td>",
            f"<td>{fg.pct(r_now.push_coverage)}<small>{r_now.pushed}/{r_now.push_due}</small>"
            f"{_change(r_now.push_coverage, r_before.push_coverage)}</td>",
            f"<td>{_score(r_now.satisfaction)}<small>{r_now.ratings} 条（人工 {r_now.service_ratings}）</small>"
            f"{_change(r_now.satisfaction, r_before.satisfaction, pct=False)}</td>",
            f"<td>{r_now.visits}<small>上月 {r_before.visits}</small></td>",
            f"<td>{r_now.unanswered}<small>上月 {r_before.unanswered}</small></td>",
            f"<td>{r_now.overdue_open}</td>",
        ])

    rows = "".join(f'<tr data-node="{e(r.node_id)}"><td class="l">{e(r.name)}</td>{cells(r.current, r.previous)}</tr>'
                   for r in sc.scoped(scope))
    total = f'<tfoot><tr><td class="l">合计</td>{cells(sc.total("current", scope), sc.total("previous", scope))}</tr></tfoot>'
    empty = '<tr><td class="l" colspan="9">本月及上月暂无数据。</td></tr>'
    return f"""<div class="scroll"><table class="grid scorecard"><thead><tr><th>服务节点</th><th>受理</th><th>即日办响应率</th>
<th>按时办结率</th><th>周推进覆盖率</th><th>满意度</th><th>入企服务</th><th>未响应诉求</th><th>超期在办</th></tr></thead>
<tbody>{rows or empty}</tbody>{total}</table></div>
<p class="muted">{e(sc.label)}，对照上月（{e(sc.previous_label)}）。即日办响应率：当月首次响应中按即日办时限响应的比例；按时办结率：当月办结中按时办结的比例；
周推进覆盖率：截止时在办满 7 天的工单中近 8 天已推进的比例；满意度含人工服务评价；未响应诉求：截止时已过即日办时限仍未首次响应的在办工单。</p>"""


def page(staff: StaffView, d: Dashboard, sc: Optional[Scorecard], month: str, error: Optional[str]) -> str:
    overdue_now = sum(n.overdue for n in d.nodes)
    open_now = sum(n.open for n in d.nodes)
    show_kb = not d.scoped
    m = d.month
    cats = [{"name": c.name, "accepted": c.accepted, "content": c.content} for c in m.categories]
    contents = [{"name": c.name, "accepted": c.accepted} for c in m.contents]
    scope_note = "全区" if not d.scoped else "本节点及下属节点"
    if sc is None:
        score = '<p class="muted">绩效评分面向节点负责人和管理员开放。</p>'
    else:
        score = scorecard_html(sc, None if staff.all_nodes else set(staff.scope))
    body = f"""<link rel="stylesheet" href="/figures.css">
<section class="card"><div class="head"><h1>数据看板 <small>{e(scope_note)} · {e(t.dt(d.generated_at, '%Y年%m月%d日 %H:%M'))}</small></h1>
<a href="/figures" target="_blank" rel="noopener">公开数据页</a></div>
<div class="figs now"><div class="fig warn" data-key="overdue"><div class="k">超期在办（当前）</div><div class="v">{overdue_now} 件</div>
<div class="s">在办 {open_now} 件</div></div></div>
<h2>今日</h2>{_window_cards(d.today, overdue_now, open_now, show_kb)}
<h2>本月</h2>{_window_cards(m, overdue_now, open_now, show_kb)}</section>
<section class="card"><h2>各节点在办与超期（当前）</h2>{_nodes_html(d)}</section>
<section class="card"><h2>本月诉求分布</h2>{fg.legend()}
<div class="two"><div><h3>按 19 类需求</h3>{fg.category_chart("本月按需求分类受理诉求", cats)}</div>
<div><h3>按五项服务内容</h3>{fg.content_chart("本月按服务内容受理诉求", contents)}</div></div></section>
{_questions_html(d)}
<section class="card"><div class="head"><h2>绩效评分</h2>
<form method="get" action="/console/dashboard" class="inline"><label>月份 <input type="month" name="month" value="{e(month)}" required></label>
<button type="submit">查看</button></form></div>{score}</section>"""
    return t.layout("数据看板", body, staff, page="dashboard", error=error)


async def dashboard_page(request: web.Request) -> web.Response:
    from bot.reports import parse_month
    from bot.reports.figures import dashboard

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
