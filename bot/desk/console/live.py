"""Server-sent events for the console: the live queue and the open conversation pane.

GET /console/events[?conversation=<id>] streams small notices only ("handover",
"queue", "message" with ids); the page then fetches what changed through the JSON
API, which applies the same scope checks as the pages. A notice is sent only when
the thing it is about is in the member of staff's scope, so nothing of another
node's conversations reaches a browser. The stream re-checks the session every
heartbeat and closes once it has ended (sign-out, expiry, account disabled).
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import ExitStack
from typing import Any, Optional

from aiohttp import web

from bot.desk.console import store
from bot.desk.console.auth import COOKIE, clock_of, current_staff, load_session
from bot.desk.console.staff_view import StaffView
from bot.desk.hub import HUB_KEY
from bot.desk.keys import SETTINGS_KEY

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0


def _sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode("utf-8")


async def _node_of(db_url: str, event: dict[str, Any]) -> tuple[list[Optional[str]], Optional[str]]:
    """(nodes the event concerns, conversation id)."""
    h = event.get("handover") if isinstance(event.get("handover"), dict) else {}
    cid = event.get("conversation_id") or h.get("conversation_id")
    nodes: list[Optional[str]] = []
    for source in (h, event):
        for key in ("node_id", "node"):
            if key in source and isinstance(source.get(key), (str, type(None))):
                nodes.append(source.get(key))
    if not nodes and cid:
        exists, node = await asyncio.to_thread(store.conversation_node, db_url, cid)
        if exists:
            nodes.append(node)
    return nodes, cid


async def notice_for(staff: StaffView, db_url: str, topic: str, event: Any) -> Optional[tuple[str, dict]]:
    """The SSE notice for a hub event, or None when it is outside the staff member's scope."""
    if not isinstance(event, dict):
        return None
    if event.get("type") == "resync":  # live events may have been missed: reload like a reconnect
        return "ready", {"resync": True}
    if topic.startswith("conversation:"):
        # only subscribed after the conversation's scope was checked
        return "message", {"conversation_id": topic.split(":", 1)[1]}
    nodes, cid = await _node_of(db_url, event)
    if not nodes or not any(staff.sees(n) for n in nodes):
        return None
    kind = event.get("type") or ""
    h = event.get("handover") if isinstance(event.get("handover"), dict) else {}
    data = {"type": kind, "conversation_id": cid, "handover_id": h.get("id") or event.get("handover_id")}
    if kind == "handover":
        return "handover", data
    if kind in ("user_message", "message", "staff_message", "note"):
        return "message", data
    return "queue", data


async def events(request: web.Request) -> web.StreamResponse:
    staff = current_staff(request)
    db_url = request.app[SETTINGS_KEY].effective_database_url
    cid = request.query.get("conversation") or None
    if cid:
        exists, node = await asyncio.to_thread(store.conversation_node, db_url, cid)
        if not exists or not staff.sees(node):
            return web.json_response({"error": "forbidden", "message": "无权访问该会话"}, status=403)
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await resp.prepare(request)
    await resp.write(b"retry: 3000\n\n")
    hub = request.app[HUB_KEY]
    token = request.cookies.get(COOKIE, "")
    topics = ["console"] + ([f"conversation:{cid}"] if cid else [])
    with ExitStack() as stack:
        queues = {topic: stack.enter_context(hub.subscribe(topic)) for topic in topics}
        await resp.write(_sse("ready", {"conversation_id": cid}))
        getters: dict[asyncio.Task, str] = {}
        loop = asyncio.get_running_loop()
        checked = loop.time()
        try:
            while True:
                for topic, q in queues.items():
                    if topic not in getters.values():
                        getters[asyncio.ensure_future(q.get())] = topic
                done, _ = await asyncio.wait(
                    getters.keys(), timeout=HEARTBEAT_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
                if not done or loop.time() - checked >= HEARTBEAT_SECONDS:
                    # the session is checked at least every heartbeat, busy or not: a signed-out,
                    # expired or disabled account's stream ends within one
                    checked = loop.time()
                    now = clock_of(request.app)()
                    if await asyncio.to_thread(load_session, db_url, token, now) is None:
                        await resp.write(_sse("logout", {}))
                        break
                if not done:
                    await resp.write(b": ping\n\n")
                    continue
                for task in done:
                    topic = getters.pop(task)
                    notice = await notice_for(staff, db_url, topic, task.result())
                    if notice is not None:
                        await resp.write(_sse(*notice))
        except ConnectionResetError:
            pass
        finally:
            for task in getters:
                task.cancel()
    return resp


STREAMS_KEY = web.AppKey("console_streams", set)


def track(app: web.Application) -> None:
    """Open event streams end when the desk shuts down (they would otherwise hold it up)."""
    app[STREAMS_KEY] = set()

    async def _close(app: web.Application) -> None:
        for task in list(app[STREAMS_KEY]):
            task.cancel()

    app.on_shutdown.append(_close)


async def tracked_events(request: web.Request) -> web.StreamResponse:
    task = asyncio.current_task()
    streams = request.app[STREAMS_KEY]
    streams.add(task)
    try:
        return await events(request)
    finally:
        streams.discard(task)
