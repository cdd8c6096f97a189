"""The desk's Rasa input channel: Rasa's REST channel behind a shared secret.

credentials.yml names this class instead of the stock ``rest:`` channel (which is then off: its
``/webhooks/rest/webhook`` answers 404). The desk posts to ``/webhooks/desk/webhook`` with the secret in
the ``X-Desk-Secret`` header (bot.settings.DESK_CHANNEL_HEADER); any request without it, or with another
value, gets 401 before Rasa reads the message, so nothing reaches the tracker. The secret comes from the
environment (``secret: ${RASA_CHANNEL_SECRET}``; the launcher generates one per start when none is set).

The body and reply are the REST channel's (``{"sender", "message"}`` → list of bot messages). Messages keep
Rasa's input channel name "rest", as before (the actions store it on handovers and tickets).
"""

from __future__ import annotations

import hmac
from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request

from bot.settings import DESK_CHANNEL_HEADER

RECORDED_CHANNEL = "rest"


class DeskInput(RestInput):
    """RestInput whose every route requires the shared secret (constant-time comparison)."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError(
                "desk 渠道缺少共享密钥（credentials.yml 的 secret，环境变量 RASA_CHANNEL_SECRET）"
                " / the desk channel needs a secret (RASA_CHANNEL_SECRET)"
            )
        self._secret = secret.encode("utf-8")

    @classmethod
    def name(cls) -> str:
        return "desk"

    @classmethod
    def from_credentials(cls, credentials: Optional[dict[str, Any]]) -> InputChannel:
        return cls(str((credentials or {}).get("secret") or ""))

    def _extract_input_channel(self, req: Request) -> str:
        return RECORDED_CHANNEL

    def authorised(self, request: Request) -> bool:
        supplied = (request.headers.get(DESK_CHANNEL_HEADER) or "").encode("utf-8")
        return hmac.compare_digest(supplied, self._secret)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        bp = super().blueprint(on_new_message)

        @bp.middleware("request")
        async def require_secret(request: Request):
            if not self.authorised(request):
                return response.json({"error": "unauthorised", "message": "缺少或错误的渠道密钥"}, status=401)
            return None

        return bp
