"""The console's search box (top bar) and its results page: GET /console/search?q=….

One query over tickets (number, enterprise, need and result text), enterprises (name, credit code) and
conversations (message text), through bot/tickets/search.py, restricted to the nodes the signed-in member of
staff may see — the same scope as every other console page, so a search never shows another node's ticket,
enterprise or chat. Searches are audited (console_audit "search") like other reads of personal data.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.desk.console import store
from bot.desk.console import templates as t
from bot.desk.console.auth import current_staff
from bot.desk.console.views import audit, db_url, html
from bot.tickets import search as core

KINDS = (("tickets", "工单"), ("enterprises", "企业"), ("conversations", "会话"))


def segments(text: str, query: str) -> list[tuple[str, bool]]:
    """`text` in pieces, (piece, is a case-insensitive occurrence of `query`): the template marks the hits."""
    if not query:
        return [(text, False)]
    out, low, ql, i = [], text.lower(), query.lower(), 0
    while True:
        j = low.find(ql, i)
        if j < 0:
            out.append((text[i:], False))
            return out
        out += [(text[i:j], False), (text[j : j + len(query)], True)]
        i = j + len(query)


def enterprise_href(app: web.Application, hit: core.EnterpriseHit) -> str:
    """The enterprise's file (一企一档) when the console has that page, else its tickets."""
    for resource in app.router.resources():
        if resource.canonical.startswith("/console/enterprises/{"):
            return f"/console/enterprises/{hit.id}"
    return f"/console/tickets?{t.qs(q=hit.name)}"


def search_page(staff, app: web.Application, res: core.Results) -> str:
    scope = "全部服务节点" if staff.all_nodes else f"{store.node_name(staff.node_id)}及下属节点"
    return t.render(
        "console/search.html",
        f"搜索 {res.query}".strip(),
        staff,
        page="search",
        res=res,
        scope=scope,
        kinds=KINDS,
        limit=core.LIMIT,
        max_query=core.MAX_QUERY,
        segments=lambda text: segments(text, res.query),
        enterprise_href=lambda h: enterprise_href(app, h),
    )


async def search(request: web.Request) -> web.Response:
    staff = current_staff(request)
    query = core.clean_query(request.query.get("q"))
    res = await asyncio.to_thread(core.search, db_url(request), query, staff.node_filter())
    if query:
        await audit(
            request,
            staff,
            "search",
            detail=f"{query}（工单 {len(res.tickets)}，企业 {len(res.enterprises)}，会话 {len(res.conversations)}）",
        )
    return html(search_page(staff, request.app, res))


def setup(app: web.Application) -> None:
    app.router.add_get("/console/search", search)
