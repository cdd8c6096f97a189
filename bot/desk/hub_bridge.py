"""Relay the desk's hub through Redis pub/sub when several desk instances run (REDIS_URL).

Every event published on one desk is sent to one Redis channel with the desk's instance
id; every desk listens on that channel and delivers events from the *other* desks to its
own subscribers. Events are relayed in publish order by one sender task. Redis is a live
path only: the messages themselves are in the database, and screens reload history by id
when they reconnect, so an event lost while Redis is down costs freshness, not data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

from aiohttp import web

from bot.desk.hub import HUB_KEY, Hub
from bot.desk.keys import SETTINGS_KEY
from bot.redis_client import redis_for

log = logging.getLogger(__name__)

OUTBOX_SIZE = 10000
RECONNECT_DELAY = 1.0


class HubBridge:
    def __init__(self, hub: Hub, redis_url: str, prefix: str) -> None:
        self.hub = hub
        self.redis_url = redis_url
        self.channel = f"{prefix}:hub"
        self.instance = uuid.uuid4().hex
        self.outbox: asyncio.Queue = asyncio.Queue(OUTBOX_SIZE)
        self.dropped = 0
        self.connected = asyncio.Event()  # the listener is subscribed (tests wait for it)
        self.lost = False  # the listener lost Redis since it last subscribed

    def relay(self, topic: str, event: dict[str, Any]) -> None:
        try:
            self.outbox.put_nowait((topic, event))
        except asyncio.QueueFull:
            self.dropped += 1  # Redis has been away a long time; screens catch up on reconnect

    async def send_forever(self) -> None:
        while True:
            topic, event = await self.outbox.get()
            data = json.dumps({"o": self.instance, "t": topic, "e": event}, ensure_ascii=False, default=str)
            while True:
                try:
                    await redis_for(self.redis_url).publish(self.channel, data)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - Redis down: retry, keep order
                    log.warning("hub relay to Redis failed (%s); retrying", type(exc).__name__)
                    await asyncio.sleep(RECONNECT_DELAY)

    async def listen_forever(self) -> None:
        while True:
            pubsub = None
            try:
                pubsub = redis_for(self.redis_url).pubsub()
                await pubsub.subscribe(self.channel)
                self.connected.set()
                if self.lost:
                    # Events other desks published meanwhile are gone (pub/sub keeps nothing):
                    # every screen of this desk reloads from the database.
                    self.lost = False
                    self.hub.resync()
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is None:
                        continue
                    self._deliver(msg.get("data"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis down or restarted: resubscribe
                self.connected.clear()
                self.lost = True
                log.warning("hub listener lost Redis (%s); resubscribing", type(exc).__name__)
                await asyncio.sleep(RECONNECT_DELAY)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.close()

    def _deliver(self, raw: Any) -> None:
        try:
            data = json.loads(raw)
        except (TypeError, ValueError):
            return
        if not isinstance(data, dict) or data.get("o") == self.instance:
            return
        topic, event = data.get("t"), data.get("e")
        if isinstance(topic, str) and isinstance(event, dict):
            self.hub.deliver(topic, event)


BRIDGE_KEY = web.AppKey("hub_bridge", HubBridge)


async def _bridge_ctx(app: web.Application):
    settings = app[SETTINGS_KEY]
    hub = app[HUB_KEY]
    bridge = HubBridge(hub, settings.redis_url, settings.redis_prefix)
    app[BRIDGE_KEY] = bridge
    hub.relay = bridge.relay
    tasks = [asyncio.create_task(bridge.send_forever()), asyncio.create_task(bridge.listen_forever())]
    yield
    hub.relay = None
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def setup(app: web.Application) -> None:
    """Bridge the hub through Redis when the scale profile is on (REDIS_URL)."""
    if app[SETTINGS_KEY].redis_url:
        app.cleanup_ctx.append(_bridge_ctx)
