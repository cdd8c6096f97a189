"""The desks' hub relayed through a real Redis server (a private one, so it can be stopped)."""

from __future__ import annotations

import asyncio

from bot.desk.hub import Hub
from bot.desk.hub_bridge import HubBridge
from bot.redis_client import close_all


async def next_event(q: asyncio.Queue, timeout: float = 10.0) -> dict:
    return await asyncio.wait_for(q.get(), timeout)


async def test_events_cross_desks_and_a_lost_redis_makes_screens_resync(private_redis):
    url, start, stop = private_redis.url, private_redis.start, private_redis.stop
    hubs = [Hub(), Hub()]
    bridges = [HubBridge(h, url, "ystest") for h in hubs]
    tasks = []
    for h, b in zip(hubs, bridges):
        h.relay = b.relay
        tasks += [asyncio.create_task(b.send_forever()), asyncio.create_task(b.listen_forever())]
    try:
        await asyncio.wait_for(asyncio.gather(*(b.connected.wait() for b in bridges)), 10)
        with hubs[0].subscribe("conversation:c1") as screen, hubs[1].subscribe("conversation:c1") as own:
            assert hubs[1].publish("conversation:c1", {"type": "message", "n": 1}) == 1
            assert await next_event(screen) == {"type": "message", "n": 1}
            assert await next_event(own) == {"type": "message", "n": 1}  # once: not echoed back
            await asyncio.sleep(0.3)
            assert own.empty()

            stop()  # Redis gone: desk B's event cannot reach desk A
            await asyncio.sleep(1.5)
            hubs[1].publish("conversation:c1", {"type": "message", "n": 2})
            await asyncio.sleep(1.0)
            start()  # back, empty: what was missed must be reloaded
            events = [await next_event(screen, 15)]
            while events[-1] != {"type": "resync"}:
                events.append(await next_event(screen, 15))
            hubs[1].publish("conversation:c1", {"type": "message", "n": 3})
            later = [await next_event(screen, 10)]
            while later[-1].get("n") != 3:
                later.append(await next_event(screen, 10))
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await close_all()


async def test_the_console_reloads_on_resync():
    """A resync reaches staff as the stream's "ready" event, which makes the console reload."""
    from bot.desk.console.live import notice_for

    assert await notice_for(None, "sqlite://", "console", {"type": "resync"}) == ("ready", {"resync": True})
    assert await notice_for(None, "sqlite://", "conversation:c1", {"type": "resync"}) == ("ready", {"resync": True})
