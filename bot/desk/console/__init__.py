"""The staff console of the desk, under /console/ (sign-in at /console/login).

`setup(app)` registers the routes, the access middleware (sessions, CSRF) and the
security headers; everything else lives in the modules beside this one:
auth (sign-in, sessions, CSRF), staff_view (StaffView: who is signed in and what they may see),
views (pages and actions), live (server-sent events), store (database reads, audit),
dispatch (today's dispatch list), templates (HTML);
feature pages, each with its own setup(app) and top-bar link: admin, privacy, dashboard, contact,
pushes (政策推送), knowledge (知识库 editing), enterprises (一企一档), visits (入企服务), search.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from aiohttp import web

from bot.db.schema import utcnow
from bot.desk.console import (
    admin,
    auth,
    contact,
    dashboard,
    enterprises,
    knowledge,
    live,
    privacy,
    pushes,
    search,
    views,
    visits,
)

STATIC_DIR = Path(__file__).resolve().parent / "static"  # console.css, console.js: aiohttp's static route
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


async def static_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the console's files are revalidated on every load (the security headers come from
    auth.security_headers; only console.css is served without a session, auth.PUBLIC_PATHS)."""
    if not request.path.startswith("/console/static/"):
        return
    response.headers["Cache-Control"] = "no-cache"
    ctype = STATIC_TYPES.get(Path(request.path).suffix)
    if ctype and isinstance(response, web.FileResponse):
        response.headers["Content-Type"] = ctype


async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/")


def setup(app: web.Application, clock: Optional[Callable] = None) -> None:
    """Mount the console on the desk (call once from create_app)."""
    app[auth.CLOCK_KEY] = clock or utcnow
    app.middlewares.append(auth.console_middleware)
    app.on_response_prepare.append(auth.security_headers)
    app.on_response_prepare.append(static_headers)
    live.track(app)
    r = app.router
    r.add_get("/console", root)
    r.add_get("/console/login", auth.login_get)
    r.add_post("/console/login", auth.login_post)
    r.add_get("/console/logout", auth.logout_get)
    r.add_post("/console/logout", auth.logout_post)
    r.add_static("/console/static", STATIC_DIR)
    r.add_get("/console/", views.queue_page)
    r.add_get("/console/events", live.tracked_events)
    r.add_get("/console/api/queue", views.api_queue)
    r.add_get("/console/api/conversations/{cid}", views.api_conversation)
    r.add_post("/console/api/conversations/{cid}/read", views.api_read)
    r.add_get("/console/conversations/{cid}", views.conversation_page)
    r.add_post("/console/conversations/{cid}/claim", views.claim)
    r.add_post("/console/conversations/{cid}/reply", views.reply)
    r.add_post("/console/conversations/{cid}/note", views.note)
    r.add_post("/console/conversations/{cid}/transfer", views.transfer)
    r.add_post("/console/conversations/{cid}/end", views.end)
    r.add_post("/console/conversations/{cid}/takeover", views.takeover)
    r.add_get("/console/conversations/{cid}/contact", contact.contact_page)
    r.add_post("/console/conversations/{cid}/verify-contact", contact.verify_contact)
    r.add_post("/console/conversations/{cid}/unverify-contact", contact.unverify_contact)
    r.add_get("/console/tickets", views.tickets_page)
    r.add_get("/console/tickets/{number}", views.ticket_page)
    r.add_post("/console/tickets/{number}/status", views.ticket_status)
    r.add_post("/console/tickets/{number}/note", views.ticket_note)
    r.add_post("/console/tickets/{number}/assign", views.ticket_assign)
    r.add_post("/console/tickets/{number}/close", views.ticket_close)
    r.add_post("/console/tickets/{number}/reclassify", views.ticket_reclassify)
    r.add_get("/console/mine", views.mine_page)
    r.add_get("/console/reports", views.reports_page)
    r.add_get("/console/reports/monthly.html", views.monthly_html)
    r.add_get("/console/reports/monthly.xlsx", views.monthly_xlsx)
    search.setup(app)
    admin.setup(app)
    privacy.setup(app)
    dashboard.setup(app)
    pushes.setup(app)
    knowledge.setup(app)
    enterprises.setup(app)
    visits.setup(app)
