"""The console's search box (top bar) and its results page: GET /console/search?q=….

One query over tickets (number, enterprise, need and result text), enterprises (name, credit code) and
conversations (message text), through bot/tickets/search.py, restricted to the nodes the signed-in member of
staff may see — the same scope as every other console page, so a search never shows another node's ticket,
enterprise or chat. Searches are audited (console_audit "search") like other reads of personal data.
"""
from __future__ import annotations

from aiohttp import web

from bot.desk.console import store
from bot.desk.console import templates as t
from bot.desk.console.auth import current_staff
from bot.tickets import search as core

KINDS = (("tickets", "工单"), ("enterprises", "企业"), ("conversations", "会话"))


def _mark(text: str, query: str) -> str:
    """`text` escaped, each case-insensitive occurrence of `query` in <mark>."""
    if not query:
        return t.e(text)
    out, low, ql, i = [], text.lower(), query.lower(), 0
    while True:
        j = low.find(ql, i)
        if j < 0:
            out.append(t.e(text[i:]))
            return "".join(out)
        out.append(t.e(text[i:j]) + "<mark>" + t.e(text[j:j + len(query)]) + "</mark>")
        i = j + len(query)


def enterprise_href(app: web.Application, hit: core.EnterpriseHit) -> str:
    """The enterprise's file (一企一档) when the console has that page, else its tickets."""
    for resource in app.router.resources():
        if resource.canonical.startswith("/console/enterprises/{"):
            return f"/console/enterprises/{hit.id}"
    return f"/console/tickets?{t.qs(q=hit.name)}"


def results_html(app: web.Application, res: core.Results) -> str:
    q = res.query
    more = '<p class="muted">仅显示最近的 {n} 条，请输入更完整的内容缩小范围。</p>'.format(n=core.LIMIT)
    tickets = "".join(f"""<li data-kind="ticket"><a href="/console/tickets/{t.e(h.number)}">{_mark(h.number, q)}</a>
<span class="badge st-{t.e(h.status)}">{t.e(t.status_label(h.status))}</span> {_mark(h.enterprise, q)}
<small>{t.e(t.category_label(h.category))} · {t.e(store.node_name(h.node_id))} · {t.e(t.dt(h.created_at, '%Y-%m-%d'))}</small>
<div class="snippet">{_mark(h.snippet, q)}</div></li>""" for h in res.tickets)
    enterprises = "".join(f"""<li data-kind="enterprise"><a href="{t.e(enterprise_href(app, h))}">{_mark(h.name, q)}</a>
<small>{_mark(h.credit_code or '未登记信用代码', q)}{t.e(' · ' + ' '.join(x for x in (h.new_city, h.park) if x)) if (h.new_city or h.park) else ''}</small></li>"""
                          for h in res.enterprises)
    conversations = "".join(f"""<li data-kind="conversation"><a href="/console/conversations/{t.e(h.conversation_id)}">{t.e(h.enterprise or '未登记企业')}</a>
<small>{t.e(t.CHANNEL_LABELS.get(h.channel or '', h.channel or ''))} · {t.e(store.node_name(h.node_id))} · {t.e(t.dt(h.at, '%Y-%m-%d %H:%M'))}{' · 内部备注' if h.internal else ''}</small>
<div class="snippet">{_mark(h.snippet, q)}</div></li>""" for h in res.conversations)
    parts = []
    for (kind, label), items in zip(KINDS, (tickets, enterprises, conversations)):
        count = len(getattr(res, kind))
        body = f'<ul class="hits">{items}</ul>' if items else f'<p class="muted">没有匹配的{label}。</p>'
        parts.append(f"""<section class="card" id="hits-{kind}"><h2>{label} <span class="count">{count}{'+' if kind in res.more else ''}</span></h2>
{body}{more if kind in res.more else ''}</section>""")
    return "".join(parts)


def search_page(staff, app: web.Application, res: core.Results) -> str:
    scope = "全部服务节点" if staff.all_nodes else f"{store.node_name(staff.node_id)}及下属节点"
    form = f"""<form method="get" action="/console/search" class="filters" role="search">
<input type="search" name="q" value="{t.e(res.query)}" maxlength="{core.MAX_QUERY}" placeholder="工单号、企业名称、信用代码或对话内容" aria-label="搜索" autofocus>
<button type="submit" class="primary">搜索</button></form>"""
    if not res.query:
        body = '<p class="muted">输入工单号（如 QCY-20261203-0001）、企业名称、统一社会信用代码，或对话、需求中的文字。</p>'
    elif res.empty:
        body = f'<p class="muted" id="no-hits">在{t.e(scope)}范围内没有找到与「{t.e(res.query)}」相关的工单、企业或会话。</p>'
    else:
        body = results_html(app, res)
    head = f"""<section class="card"><div class="head"><h1>搜索</h1><span class="muted">范围：{t.e(scope)}</span></div>{form}</section>"""
    return t.layout(f"搜索 {res.query}".strip(), head + body, staff, page="search")


async def search(request: web.Request) -> web.Response:
    import asyncio

    from bot.desk.console.views import audit, db_url, html

    staff = current_staff(request)
    query = core.clean_query(request.query.get("q"))
    res = await asyncio.to_thread(core.search, db_url(request), query, staff.node_filter())
    if query:
        await audit(request, staff, "search", detail=f"{query}（工单 {len(res.tickets)}，企业 {len(res.enterprises)}，"
                                                     f"会话 {len(res.conversations)}）")
    return html(search_page(staff, request.app, res))


def setup(app: web.Application) -> None:
    app.router.add_get("/console/search", search)
