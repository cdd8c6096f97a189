"""Keys of the desk's aiohttp application: set by bot.desk.app, read by every feature module.

A module of its own so that feature modules need not import bot.desk.app (which imports them all).
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

from bot.settings import Settings

SETTINGS_KEY = web.AppKey("settings", Settings)
CLIENT_KEY = web.AppKey("http_client", aiohttp.ClientSession)


def db_url(where: "web.Application | web.Request") -> str:
    """The service database of this desk (from its settings), for an app or a request: the one such helper."""
    app = where.app if isinstance(where, web.Request) else where
    return app[SETTINGS_KEY].effective_database_url
