"""日调度 in the console: the dispatch list of the staff member's nodes, as HTML.

The list itself — which tickets, under which heading — is bot/reports/dispatch.py's, the same
that the scheduler sends at 08:30 and ``make dispatch`` prints (rules: docs/dispatch.md).
"""
from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Optional

from bot.reports import dispatch as dp
from bot.tickets.sla import SlaPolicy


def dispatch_lists(db_url: str, node_ids: Optional[set], now: datetime,
                   sla: Optional[SlaPolicy] = None) -> dp.Dispatch:
    """The lists at `now` for `node_ids` (None: every node)."""
    return dp.dispatch(db_url, now, node_ids=node_ids, sla=sla)


def due_items(d: dp.Dispatch) -> list[tuple[str, dp.DispatchTicket]]:
    """Overdue, then due today, over every node (the queue page's table)."""
    return [(dp.OVERDUE, t) for n in d.nodes for t in n.overdue] + \
        [(dp.DUE_TODAY, t) for n in d.nodes for t in n.due_today]


def totals(d: dp.Dispatch) -> tuple[int, int, int]:
    """(new, due today, overdue) over every node."""
    n = d.totals()
    return n.get("new_total", 0), n.get(dp.DUE_TODAY, 0), n.get(dp.OVERDUE, 0)


def _e(value) -> str:
    return "" if value is None else escape(str(value), quote=True)


def _dt(value: Optional[datetime], tz, fmt: str = "%m-%d %H:%M") -> str:
    return value.astimezone(tz).strftime(fmt) if value is not None else ""


def _table(kind: str, label: str, items: list[dp.DispatchTicket], tz) -> str:
    if not items:
        return ""
    rows = "".join(f"""<tr data-number="{_e(t.number)}"><td><a href="/console/tickets/{_e(t.number)}">{_e(t.number)}</a>{' <span class="badge new">新</span>' if t.new and kind != dp.NEW else ''}</td>
<td>{_e(t.enterprise)}</td><td>{_e(t.category_name)}</td><td>{_e(t.status_label)}</td><td>{_e(t.assignee or '—')}</td>
<td>{_e(_dt(t.created_at, tz))}</td><td>{_e(f'{t.deadline} {_dt(t.due, tz)}' if t.due else ('自 ' + _dt(t.paused_at, tz) + ' 暂停' if t.paused_at else '暂停计时'))}</td></tr>"""
                   for t in items)
    return f"""<h4 class="{_e(kind)}">{_e(label)}（{len(items)}）</h4>
<table class="grid dispatch" data-kind="{_e(kind)}"><thead><tr><th>工单号</th><th>企业</th><th>类别</th><th>状态</th><th>承办人</th>
<th>受理时间</th><th>时限</th></tr></thead><tbody>{rows}</tbody></table>"""


def _visits(n: dp.NodeDispatch, day, tz) -> str:
    if not n.visits:
        return ""
    rows = "".join(f"""<tr data-visit="{v.id}"><td>{_e(dp.visit_time(v, day, tz))} {'计划' if v.planned else '已走访'}</td>
<td>{_e(v.enterprise)}</td><td>{_e(v.staff or '—')}</td><td class="pre">{_e(v.findings or '')}</td>
<td>{''.join(f'<a href="/console/tickets/{_e(x)}">{_e(x)}</a> ' for x in v.tickets)}</td></tr>""" for v in n.visits)
    return f"""<h4 class="visits">{dp.VISITS_HEADING}（{len(n.visits)}）</h4>
<table class="grid dispatch" data-kind="visits"><thead><tr><th>时间</th><th>企业</th><th>走访人</th><th>发现</th><th>需求工单</th></tr></thead>
<tbody>{rows}</tbody></table>"""


def dispatch_html(d: dp.Dispatch) -> str:
    tz = d.moment.tzinfo
    since = d.since.astimezone(tz)
    parts = []
    shown = [n for n in d.nodes if not n.empty]
    for n in shown:
        c = n.counts()
        summary = " · ".join(f"{label.split('（')[0]} {c[kind]}" for kind, label in dp.SECTIONS)
        parts.append(f"""<div class="dispatch-node" data-node="{_e(n.node_id)}"><h3>{_e(n.name)} <small>{_e(summary)} · 入企服务 {c['visits']}</small></h3>
{''.join(_table(kind, label, items, tz) for kind, label, items in n.sections())}{_visits(n, d.day, tz)}
<p class="muted">新增工单共 {n.new_count} 件（{since.month}月{since.day}日 {since:%H:%M} 以来受理，每件只列在一个栏目中）。</p></div>""")
    if not parts:
        parts.append('<p class="muted">今日范围内没有需要调度的工单或入企服务。</p>')
    elif len(d.nodes) > len(shown):
        parts.append(f'<p class="muted">其余 {len(d.nodes) - len(shown)} 个节点今日没有需要调度的工单。</p>')
    parts.append('<p class="muted">每件工单只列在一个栏目，依次为：已超期、今日到期、待补充、新增、本周推进；'
                 '规则与每个工作日 08:30 发给各节点的日调度清单相同。</p>')
    return "".join(parts)
