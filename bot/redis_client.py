"""Redis connections for the scale profile (REDIS_URL), with short timeouts.

Every Redis call fails within a couple of seconds when Redis is down, so a user or
staff member gets a clear error instead of a hanging request. One client per URL and
event loop (redis.asyncio clients are bound to the loop that created them).
"""

from __future__ import annotations

import asyncio
from typing import Any, Optional

CONNECT_TIMEOUT = 2.0
SOCKET_TIMEOUT = 3.0

_clients: dict[tuple[str, int], Any] = {}  # redis.asyncio.Redis (redis 4 is untyped)


async def isolated(call):
    """Await a redis-py call in a task of its own, so that cancelling the caller cancels the caller.

    redis-py 4.6 (pinned with Rasa) checks a pooled connection with `async_timeout(0)` before
    each command; on Python 3.10 a cancellation that arrives during that check is turned into
    a timeout and swallowed, so the cancelled task carries on as if nothing happened (a desk
    shutting down would keep taking turns). Shielding the call lets the cancellation reach the
    caller at once while the command itself finishes (bounded by SOCKET_TIMEOUT); callers that
    must undo a command that landed keep the returned task (see Gateway._try_turn).
    """
    task = asyncio.ensure_future(call)
    return await asyncio.shield(task)


class RedisUnavailable(RuntimeError):
    """Redis did not answer; the message is for logs and operators."""


def redis_for(url: str):
    """An asyncio Redis client for `url` on the running loop (created once per loop)."""
    import redis.asyncio as aioredis  # lazy: redis adds 0.1-0.3 s; only the scale profile (a Redis URL) uses it

    key = (url, id(asyncio.get_running_loop()))
    client = _clients.get(key)
    if client is None:
        client = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=SOCKET_TIMEOUT,
            health_check_interval=15,
            decode_responses=True,
        )
        _clients[key] = client
    return client


def sync_redis_for(url: str):
    """A blocking client (CLI tools, the scheduler's checks), same timeouts."""
    import redis  # lazy: redis adds 0.1-0.3 s; only the scale profile (a Redis URL) uses it

    return redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=SOCKET_TIMEOUT, decode_responses=True
    )


async def close_all(url: Optional[str] = None) -> None:
    """Close the clients of the running loop (an app's cleanup)."""
    loop_id = id(asyncio.get_running_loop())
    for key in [k for k in _clients if k[1] == loop_id and (url is None or k[0] == url)]:
        client = _clients.pop(key)
        try:
            await client.close()
        except Exception:  # noqa: BLE001 - closing a broken connection must not fail a shutdown
            pass
