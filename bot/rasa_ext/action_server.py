"""The action server behind a token: python -m bot.rasa_ext.action_server [--port N] [--actions actions].

rasa_sdk's own app (rasa_sdk.endpoint.create_app) with one request check in front: every call needs
``?token=<ACTIONS_TOKEN>`` (what Rasa sends when the action endpoint has ``token:``, see
bot/rasa_ext/endpoints.py), compared in constant time; otherwise 401 with a short JSON error. Only
``/health`` is open (the launcher and the desk's health check call it). It listens on ACTIONS_BIND
(default 127.0.0.1); without ACTIONS_TOKEN it does not start.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import sys

from bot import logmask
from bot.settings import Settings

OPEN_PATHS = frozenset({"/health"})


def create_app(token: str, actions: str = "actions"):
    """rasa_sdk's Sanic app for the `actions` package, refusing calls without `token` (except /health)."""
    if not token:
        raise ValueError("动作服务器缺少访问令牌 ACTIONS_TOKEN / the action server needs ACTIONS_TOKEN")
    from rasa_sdk.endpoint import create_app as sdk_app  # lazy: rasa_sdk + Sanic take 0.4 s; only at start
    from sanic import response  # lazy: Sanic, as above

    app = sdk_app(actions, cors_origins=None)  # no browser calls it: no CORS
    expected = token.encode("utf-8")

    @app.middleware("request")
    async def require_token(request):
        if request.path in OPEN_PATHS:
            return None
        supplied = (request.args.get("token") or "").encode("utf-8")
        if not hmac.compare_digest(supplied, expected):
            return response.json({"error": "unauthorised", "message": "缺少或错误的访问令牌"}, status=401)
        return None

    return app


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    settings = settings or Settings.from_env()
    ap = argparse.ArgumentParser(description="启动动作服务器（每次调用都要带 ACTIONS_TOKEN）")
    ap.add_argument("--port", type=int, default=settings.actions_port)
    ap.add_argument("--actions", default="actions", help="动作所在的 Python 包")
    args = ap.parse_args(argv)
    token = settings.actions_token
    if not token:
        print(
            "错误：未设置 ACTIONS_TOKEN，动作服务器不接受无凭据的调用，拒绝启动。\n"
            "Error: ACTIONS_TOKEN is not set; the action server refuses to start without it.",
            file=sys.stderr,
        )
        return 2
    host = settings.actions_bind

    from rasa_sdk import utils  # lazy: rasa_sdk, as above

    logging.getLogger("matplotlib").setLevel(logging.WARN)
    utils.configure_colored_logging(settings.log_level)
    utils.update_sanic_log_level()
    logmask.install()
    app = create_app(token, args.actions)
    print(f"动作服务器已监听 http://{host}:{args.port}", flush=True)
    # No access log: the token is in the query string of every call.
    app.run(host, args.port, workers=utils.number_of_sanic_workers(), access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
