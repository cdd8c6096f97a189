"""The desks' cross-desk turn lock (Gateway._cluster_lock) against a real Redis.

A desk that shuts down while it is taking a conversation's turn must not leave the lock
behind: every other desk would then wait out the TTL (30 s) before that conversation's
next message reaches Rasa — the CI failure of test_rasa_down_then_back_nothing_is_lost[scale].
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from bot.desk.gateway import Gateway
from bot.redis_client import close_all, redis_for
from tests.conftest import REDIS_URL, require_redis

pytestmark = pytest.mark.redis


async def _cancel_after(gw: Gateway, cid: str, steps: int) -> None:
    async def take() -> None:
        async with gw._cluster_lock(cid):
            await asyncio.Event().wait()  # holds the turn until cancelled

    task = asyncio.create_task(take())
    for _ in range(steps):  # cancel at every point of the SET round trip in turn
        await asyncio.sleep(0)
    task.cancel()
    # The cancellation must reach the task (redis-py 4.6 on Python 3.10 swallows one that
    # arrives while it checks a pooled connection): a swallowed one would hold the turn forever.
    done, _ = await asyncio.wait({task}, timeout=10)
    assert done and task.cancelled(), f"cancel after {steps} steps was swallowed"


async def test_a_turn_cancelled_at_any_point_leaves_no_lock_behind():
    require_redis()
    prefix = f"ysturn{uuid.uuid4().hex[:8]}"
    gw = Gateway(REDIS_URL, prefix)
    r = redis_for(REDIS_URL)
    try:
        left = []
        for i in range(200):
            cid = f"c{i}"
            await _cancel_after(gw, cid, i % 40)
            if await r.exists(f"{prefix}:turn:{cid}"):
                left.append(i % 40)
        assert left == []
    finally:
        keys = [k async for k in r.scan_iter(f"{prefix}:*")]
        if keys:
            await r.delete(*keys)
        await close_all(REDIS_URL)


async def test_the_turn_is_one_desk_at_a_time_and_free_after_release():
    require_redis()
    prefix = f"ysturn{uuid.uuid4().hex[:8]}"
    desks = [Gateway(REDIS_URL, prefix), Gateway(REDIS_URL, prefix)]
    inside, overlaps = 0, 0

    async def turn(gw: Gateway) -> None:
        nonlocal inside, overlaps
        async with gw._cluster_lock("same"):
            inside += 1
            overlaps += inside > 1
            await asyncio.sleep(0.01)
            inside -= 1

    try:
        await asyncio.gather(*(turn(desks[i % 2]) for i in range(20)))
        assert overlaps == 0
        assert not await redis_for(REDIS_URL).exists(f"{prefix}:turn:same")
    finally:
        await close_all(REDIS_URL)
