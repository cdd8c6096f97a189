"""WeChat Official Account (/wechat/mp) and WeCom application (/wechat/work) on the desk.

Both are the same conversation model as the web chat: a WeChat user is the
conversation "wxmp:<openid>" / "wecom:<userid>", every message goes through the
desk gateway (stored first, deduplicated, forwarded to Rasa in bot mode), and
staff replies and progress pushes come back through `register_channel_sender`.

What is WeChat-specific lives here: WeChat waits 5 seconds for an answer and then
retries (three times in all). Each message therefore has one in-flight entry
keyed by its MsgId (events: sender + CreateTime + event): retries wait for the
same result instead of forwarding again, and get the same answer. A result ready
within the reply budget goes back passively; otherwise the request is answered
at once and the reply follows through the customer-service API.

Per-user rate limit (RATE_LIMIT_WECHAT, checked after the signature): a message over
the limit is NOT stored; the passive reply tells the user it was not received and
when to send it again, so nothing is dropped silently. Retries of an accepted
message are not counted again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from aiohttp import web

from bot.desk import gateway
from bot.desk.keys import SETTINGS_KEY
from bot.desk.wechat.channel import (
    CHANNELS_KEY,
    FILE_SENDERS_KEY,
    INBOUND_KEY,
    MEDIA_KEY,
    Channel,
    ChannelConfig,
    Outcome,
    Reject,
    Turn,
    WeChatConfig,
    _conversation_fields,
)
from bot.desk.wechat.mp import OfficialAccount
from bot.desk.wechat.work import WorkApp

__all__ = [
    "CHANNELS_KEY",
    "FILE_SENDERS_KEY",
    "INBOUND_KEY",
    "MEDIA_KEY",
    "Channel",
    "ChannelConfig",
    "Outcome",
    "Reject",
    "Turn",
    "WeChatConfig",
    "setup",
]

log = logging.getLogger(__name__)


# ---- wiring -----------------------------------------------------------------------------------


def _sender(name: str) -> Callable[..., Awaitable[bool]]:
    async def send(app: web.Application, conversation: Any, text: str, buttons: list | None = None) -> bool:
        channel = app.get(CHANNELS_KEY, {}).get(name)
        if channel is None:
            log.warning("%s 渠道未配置，无法发送给 %s", name, _conversation_fields(conversation)[0])
            return False
        return await channel.send(conversation, text, buttons)

    send.__name__ = f"send_{name}"
    return send


async def _off(request: web.Request) -> web.Response:
    raise web.HTTPNotFound(text="该渠道未启用")


def setup(app: web.Application, config: WeChatConfig | None = None) -> None:
    """Register /wechat/mp and /wechat/work; a channel without configuration answers 404."""
    config = config or WeChatConfig.from_settings(app[SETTINGS_KEY].wechat)
    channels: dict[str, Channel] = {}
    if config.mp:
        channels[OfficialAccount.name] = OfficialAccount(app, config.mp, config)
    if config.work:
        channels[WorkApp.name] = WorkApp(app, config.work, config)
    app[CHANNELS_KEY] = channels

    for path, cls in (("/wechat/mp", OfficialAccount), ("/wechat/work", WorkApp)):
        channel = channels.get(cls.name)
        app.router.add_get(path, channel.handle_get if channel else _off)
        app.router.add_post(path, channel.handle_post if channel else _off)

    app[INBOUND_KEY] = gateway.handle_inbound
    for name in channels:
        gateway.register_channel_sender(name, _sender(name))
    senders = app[FILE_SENDERS_KEY] = {}  # staff files out (bot/desk/files.py)
    for name, channel in channels.items():
        senders[name] = lambda _app, conv, data, file_name, kind, c=channel: c.send_file(conv, data, file_name, kind)

    async def _drain(_app: web.Application) -> None:
        await asyncio.gather(*(c.drain() for c in channels.values()))

    app.on_shutdown.append(_drain)
