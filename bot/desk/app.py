"""aiohttp application of the desk."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
from aiohttp import web

from bot.desk import chat, console, figures, files, hub_bridge, notifier, policy_check, privacy_page, wechat
from bot.desk.hub import HUB_KEY, Hub
from bot.desk.keys import CLIENT_KEY, SETTINGS_KEY
from bot.redis_client import close_all, redis_for
from bot.scheduler import run_forever
from bot.settings import Settings


async def _probe(client: aiohttp.ClientSession, url: str) -> str:
    try:
        async with client.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
            return "ok" if resp.status == 200 else f"HTTP {resp.status}"
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return f"不可达（{type(exc).__name__}）"


async def healthz(request: web.Request) -> web.Response:
    """200 once Rasa (model loaded) and the action server answer; 503 otherwise."""
    settings = request.app[SETTINGS_KEY]
    client = request.app[CLIENT_KEY]
    rasa, actions = await asyncio.gather(
        _probe(client, f"{settings.rasa_url}/status?token={settings.rasa_token}"),
        _probe(client, f"{settings.actions_url}/health"),
    )
    body = {"rasa": rasa, "actions": actions}
    if settings.redis_url:
        body["redis"] = await _probe_redis(settings.redis_url)
    ok = all(v == "ok" for v in body.values())
    return web.json_response({"status": "ok" if ok else "unavailable", **body}, status=200 if ok else 503)


async def _probe_redis(url: str) -> str:
    """Redis carries Rasa's conversation locks in the scale profile: without it no turn can run."""
    try:
        await asyncio.wait_for(redis_for(url).ping(), timeout=3)
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means unavailable
        return f"不可达（{type(exc).__name__}）"


async def _scheduler_ctx(app: web.Application):
    """日调度、周推进、月总结 and the SLA sweep run inside the desk (exactly once across instances)."""
    settings = app[SETTINGS_KEY]
    if not settings.desk_scheduler:  # DESK_SCHEDULER=0
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_forever(
            settings.effective_database_url,
            stop=stop,
            reports_dir=settings.var_dir / "reports",
            tracker_url=settings.effective_tracker_store_url,
            retention_days=settings.tracker_retention_days,
            knowledge_dir=settings.knowledge_dir,
            settings=settings,
        )
    )
    yield
    stop.set()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def _client_ctx(app: web.Application):
    app[CLIENT_KEY] = aiohttp.ClientSession()
    yield
    await app[CLIENT_KEY].close()
    if app[SETTINGS_KEY].redis_url:
        await close_all(app[SETTINGS_KEY].redis_url)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    app[SETTINGS_KEY] = settings
    app[HUB_KEY] = Hub()
    app.cleanup_ctx.append(_client_ctx)
    hub_bridge.setup(app)
    app.cleanup_ctx.append(_scheduler_ctx)
    app.router.add_get("/healthz", healthz)
    # Feature modules register their routes here (one line each).
    chat.setup(app)
    privacy_page.setup(app)
    wechat.setup(app)
    console.setup(app)
    files.setup(app)
    notifier.setup(app)
    policy_check.setup(app)
    figures.setup(app)
    return app
