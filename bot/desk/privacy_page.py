"""GET /privacy: the privacy page (隐私说明) linked from the chat page and from the notice the chat shows
before it asks for personal details; GET /api/privacy/notice gives that notice as JSON. Text in bot.privacy.notice."""

from __future__ import annotations

import json

from aiohttp import web

from bot.desk import pages
from bot.desk.keys import SETTINGS_KEY
from bot.privacy import notice

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'",
}


def render(settings) -> str:
    """The page (templates/privacy.html; its stylesheet is static/chat/privacy.css, so no inline style)."""
    return pages.render("privacy.html", sections=notice.page_sections(settings))


async def privacy_page(request: web.Request) -> web.Response:
    return web.Response(
        text=render(request.app.get(SETTINGS_KEY)), content_type="text/html", charset="utf-8", headers=HEADERS
    )


async def privacy_notice(request: web.Request) -> web.Response:
    settings = request.app.get(SETTINGS_KEY)
    return web.json_response(
        {"notice": notice.chat_notice(settings), "url": notice.PRIVACY_PATH},
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
        dumps=lambda d: json.dumps(d, ensure_ascii=False),
    )


def setup(app: web.Application) -> None:
    app.router.add_get(notice.PRIVACY_PATH, privacy_page)
    app.router.add_get("/api/privacy/notice", privacy_notice)
