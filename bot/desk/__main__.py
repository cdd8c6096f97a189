"""Run the desk: python -m bot.desk (port from DESK_PORT, log level from LOG_LEVEL, default INFO)."""

import logging
import os
import sys

from aiohttp import web

from bot import logmask
from bot.desk.app import create_app
from bot.settings import Settings


def main() -> None:
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logmask.install()  # phone and ID numbers never reach the log (bot/logmask.py)
    problem = settings.internal_ports_problem()  # scale profile: Rasa / action server open beyond loopback
    if problem:
        print(f"错误：{problem}", file=sys.stderr, flush=True)
        raise SystemExit(2)
    os.umask(0o077)  # files the desk writes (reports, SQLite) are its user's only
    # Open chat sockets and event streams are closed on shutdown; idle keep-alive connections
    # (a proxy's) must not hold a restart up for aiohttp's default 60 s.
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.desk_port,
        shutdown_timeout=5,
        print=lambda msg: print(f"服务台已监听 {settings.desk_url}", flush=True),
    )


if __name__ == "__main__":
    main()
