"""What a WeChat channel remembers between callbacks: numbered options and seen nonces.

A user answers "2" to the numbered options of the previous reply, and WeChat's next
callback may reach another desk instance; a replayed (timestamp, nonce) may too. With
REDIS_URL set the state lives in Redis (shared by every desk); otherwise in this process.

When Redis does not answer, both checks degrade instead of failing the callback: a number
is passed to the bot as typed (it asks again), and the replay check falls back to the
signature and timestamp window (a warning is logged). WeChat must get an answer in 5 s.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from typing import Optional

from bot.redis_client import redis_for

log = logging.getLogger(__name__)

Options = list[tuple[str, str]]  # (title, payload) in display order
OPTIONS_MAX = 10000
OPTIONS_TTL = 24 * 3600  # a menu older than a day is not what "2" means
NONCE_CACHE_MAX = 20000


class InProcessState:
    def __init__(self) -> None:
        self._options: OrderedDict[str, Options] = OrderedDict()
        self._nonces: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()

    async def set_options(self, conv: str, options: Optional[Options]) -> None:
        if options:
            self._options[conv] = list(options)
            self._options.move_to_end(conv)
            while len(self._options) > OPTIONS_MAX:
                self._options.popitem(last=False)
        else:
            self._options.pop(conv, None)

    async def take_options(self, conv: str) -> Optional[Options]:
        """The options on offer (they stay until used or replaced)."""
        return self._options.get(conv)

    async def drop_options(self, conv: str) -> None:
        self._options.pop(conv, None)

    async def first_body(self, timestamp: str, nonce: str, digest: str, ttl: float, now: float) -> str:
        """The body digest first seen with (timestamp, nonce); records `digest` if it is new."""
        while self._nonces:
            _, (_, expires) = next(iter(self._nonces.items()))
            if expires > now and len(self._nonces) < NONCE_CACHE_MAX:
                break
            self._nonces.popitem(last=False)
        seen = self._nonces.get((timestamp, nonce))
        if seen:
            return seen[0]
        self._nonces[(timestamp, nonce)] = (digest, now + ttl)
        return digest


class RedisState:
    """The same, in Redis under ``{prefix}:wx:{channel}:…`` (shared by every desk instance)."""

    def __init__(self, url: str, prefix: str, channel: str) -> None:
        self.url = url
        self.ns = f"{prefix}:wx:{channel}"
        self._warned = 0.0

    def _redis(self):
        return redis_for(self.url)

    def _warn(self, what: str, exc: Exception) -> None:
        if time.monotonic() - self._warned > 60:
            self._warned = time.monotonic()
            log.warning("WeChat %s: Redis unavailable (%s); degrading", what, type(exc).__name__)

    async def set_options(self, conv: str, options: Optional[Options]) -> None:
        key = f"{self.ns}:opt:{conv}"
        try:
            if options:
                await self._redis().set(key, json.dumps(options, ensure_ascii=False), ex=OPTIONS_TTL)
            else:
                await self._redis().delete(key)
        except Exception as exc:  # noqa: BLE001 - see module docstring
            self._warn("options", exc)

    async def take_options(self, conv: str) -> Optional[Options]:
        try:
            raw = await self._redis().get(f"{self.ns}:opt:{conv}")
        except Exception as exc:  # noqa: BLE001
            self._warn("options", exc)
            return None
        if not raw:
            return None
        try:
            return [(str(t), str(p)) for t, p in json.loads(raw)]
        except (ValueError, TypeError):
            return None

    async def drop_options(self, conv: str) -> None:
        try:
            await self._redis().delete(f"{self.ns}:opt:{conv}")
        except Exception as exc:  # noqa: BLE001
            self._warn("options", exc)

    async def first_body(self, timestamp: str, nonce: str, digest: str, ttl: float, now: float) -> str:
        key = f"{self.ns}:nonce:{timestamp}:{nonce}"
        try:
            r = self._redis()
            if await r.set(key, digest, nx=True, ex=max(1, int(ttl))):
                return digest
            return await r.get(key) or digest
        except Exception as exc:  # noqa: BLE001
            self._warn("replay check", exc)
            return digest
