"""Render the desk's HTML templates (bot/desk/templates/): the console's pages and the error pages.

One Environment for the whole desk (bot.templating: autoescape, StrictUndefined). The console adds its
formatting helpers (dates, labels) to it from bot.desk.console.templates. Pages load their stylesheet
and script from the desk's static files, never inline, so the Content-Security-Policy stays strict.
"""

from __future__ import annotations

from typing import Any, Optional

from aiohttp import web

from bot.templating import environment

ENV = environment("bot.desk")


def render(name: str, **context: Any) -> str:
    """The template `name` (relative to bot/desk/templates/) rendered with `context`."""
    return ENV.get_template(name).render(**context)


def response(name: str, *, status: int = 200, headers: Optional[dict] = None, **context: Any) -> web.Response:
    """The template as an HTML answer (UTF-8)."""
    return web.Response(
        text=render(name, **context), status=status, content_type="text/html", charset="utf-8", headers=headers
    )
