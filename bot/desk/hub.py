"""In-process publish/subscribe for live updates (web chat sockets, console event streams).

Topics: "conversation:<id>" — everything a user's chat screen must show;
"console" — queue changes and messages staff must see (handover created,
claimed, ended, new user message in a waiting/staff conversation).
One desk instance delivers to its own subscribers; with REDIS_URL set, every
publish is also relayed through Redis pub/sub (bot/desk/hub_bridge.py), so a
staff reply sent on one desk reaches a user whose chat is open on another.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

from aiohttp import web

QUEUE_SIZE = 1000


class Hub:
    def __init__(self) -> None:
        self._subs: dict[str, set[asyncio.Queue]] = defaultdict(set)
        self.relay: Optional[Callable[[str, dict[str, Any]], None]] = None  # set by the Redis bridge

    def publish(self, topic: str, event: dict[str, Any]) -> int:
        """Deliver to this desk's subscribers of `topic` (and relay to other desks, if bridged);
        returns how many local subscribers got it."""
        if self.relay is not None:
            self.relay(topic, event)
        return self.deliver(topic, event)

    def deliver(self, topic: str, event: dict[str, Any]) -> int:
        """Deliver to every current local subscriber of `topic`; returns how many got it.

        A subscriber whose queue is full is dropped from the topic (it reconnects
        and reloads history by id), so one stuck browser never blocks the desk.
        """
        delivered = 0
        for q in list(self._subs.get(topic, ())):
            try:
                q.put_nowait(event)
                delivered += 1
            except asyncio.QueueFull:
                self._subs[topic].discard(q)
        return delivered

    def resync(self) -> int:
        """Tell every local subscriber to reload what it shows (after live events may have been lost)."""
        return sum(self.deliver(topic, {"type": "resync"}) for topic in list(self._subs))

    @contextmanager
    def subscribe(self, topic: str) -> Iterator[asyncio.Queue]:
        q: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        self._subs[topic].add(q)
        try:
            yield q
        finally:
            self._subs[topic].discard(q)
            if not self._subs[topic]:
                self._subs.pop(topic, None)

    def subscribers(self, topic: str) -> int:
        return len(self._subs.get(topic, ()))


HUB_KEY = web.AppKey("hub", Hub)
