"""The enterprise web chat: the page at /, its session/history API, the WebSocket, the embed snippet.

A browser gets a conversation id and a random key (POST /api/chat/session) and keeps
both in localStorage; only the key's SHA-256 is stored, and every later request proves
the key (history: header X-Chat-Key; WebSocket: the subprotocol "key.<key>", so the
secret never appears in a URL or an access log). A wrong key gets 403 and nothing else.

WebSocket protocol (JSON):
  client → {"type": "send", "text": "...", "client_msg_id": "<uuid>", "title"?: "<button label>"}
           {"type": "ping"}
  server → {"type": "ack", "client_msg_id", "id"}        stored (also for a repeat: same id)
           {"type": "message", "message": {...}}           any stored message of the conversation
           {"type": "typing"}                              the bot is working on an answer
           {"type": "mode", "mode": "bot|waiting|staff"}
           {"type": "error", "message": "<Chinese>", "code", "client_msg_id"?}
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import time
import weakref
from collections import defaultdict, deque
from pathlib import Path
from typing import Optional

from aiohttp import WSMsgType, web
from sqlalchemy import select

from bot.db import read_sessions, sessions
from bot.db.schema import Conversation
from bot.desk import gateway
from bot.desk.hub import HUB_KEY

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
RATE_MESSAGES, RATE_WINDOW = 20, 10.0          # per conversation
SESSION_RATE, SESSION_WINDOW = 300, 600.0      # new conversations per client address (a proxy counts as one)
WS_PROTOCOL = "yschat"
KEY_PREFIX = "key."
FORBIDDEN = "无权访问该会话"
_ANCESTOR = re.compile(r"^(?:'self'|'none'|\*|(?:https?|wss?):|(?:(?:https?)://)?(?:\*\.)?[A-Za-z0-9.-]+(?::(?:\d{1,5}|\*))?)$")

COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class ChatState:
    def __init__(self) -> None:
        self.sent: dict[str, deque] = defaultdict(deque)
        self.sessions: dict[str, deque] = defaultdict(deque)
        self.sockets: weakref.WeakSet = weakref.WeakSet()
        self.frame_ancestors = frame_ancestors()

    @staticmethod
    def _allow(bucket: dict[str, deque], key: str, limit: int, window: float) -> bool:
        now = time.monotonic()
        q = bucket[key]
        while q and now - q[0] > window:
            q.popleft()
        if len(q) >= limit:
            return False
        q.append(now)
        if len(bucket) > 10000:          # forget idle keys
            for k in [k for k, v in bucket.items() if not v or now - v[-1] > window]:
                bucket.pop(k, None)
        return True

    def allow_message(self, conversation_id: str) -> bool:
        return self._allow(self.sent, conversation_id, RATE_MESSAGES, RATE_WINDOW)

    def allow_session(self, client: str) -> bool:
        return self._allow(self.sessions, client, SESSION_RATE, SESSION_WINDOW)


CHAT_KEY = web.AppKey("chat", ChatState)


def frame_ancestors() -> str:
    """CSP frame-ancestors from DESK_FRAME_ANCESTORS (space-separated sources), default 'self'."""
    raw = os.environ.get("DESK_FRAME_ANCESTORS", "").strip()
    if not raw:
        return "'self'"
    parts = raw.split()
    bad = [p for p in parts if not _ANCESTOR.match(p)]
    if bad:
        log.warning("DESK_FRAME_ANCESTORS 中的来源无效，已忽略整个设置：%s", " ".join(bad))
        return "'self'"
    return " ".join(parts)


def _page_headers(request: web.Request) -> dict[str, str]:
    ancestors = request.app[CHAT_KEY].frame_ancestors
    csp = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           "connect-src 'self'; base-uri 'none'; form-action 'none'; "
           f"frame-ancestors {ancestors}")
    headers = {**COMMON_HEADERS, "Content-Security-Policy": csp, "Cache-Control": "no-cache"}
    if ancestors == "'self'":
        headers["X-Frame-Options"] = "SAMEORIGIN"
    return headers


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _authorised(db: str, conversation_id: str, key: Optional[str]) -> bool:
    """Constant-time check of the browser's key against the stored hash."""
    if not conversation_id or not key or len(key) > 256 or len(conversation_id) > 128:
        return False
    with read_sessions(db)() as s:
        stored = s.scalar(select(Conversation.access_key_hash).where(Conversation.id == conversation_id))
    expected = stored or "0" * 64
    ok = hmac.compare_digest(_hash(key), expected)
    return ok and stored is not None


async def _check(request: web.Request, conversation_id: str, key: Optional[str]) -> None:
    if not await asyncio.to_thread(_authorised, gateway.db_url(request.app), conversation_id, key):
        raise web.HTTPForbidden(text=FORBIDDEN, headers=COMMON_HEADERS)


# ---- pages and files ------------------------------------------------------------------------------

async def chat_page(request: web.Request) -> web.Response:
    return web.FileResponse(STATIC / "chat.html", headers={**_page_headers(request),
                                                           "Content-Type": "text/html; charset=utf-8"})


def _static(name: str, ctype: str):
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / name, headers={**COMMON_HEADERS, "Cache-Control": "no-cache",
                                                        "Content-Type": ctype})
    return handler


EMBED_JS = r"""(function () {
  "use strict";
  // 原上管家 web chat embed: <script src="https://<desk>/embed.js" async></script>
  var me = document.currentScript;
  if (!me || window.__yschatEmbedded) { return; }
  window.__yschatEmbedded = true;
  var origin = new URL(me.src, location.href).origin;
  var label = me.getAttribute("data-label") || "在线咨询";
  var btn = document.createElement("button");
  btn.type = "button";
  btn.textContent = label;
  btn.setAttribute("aria-label", "打开原上管家在线咨询");
  var s = btn.style;
  s.position = "fixed"; s.right = "20px"; s.bottom = "20px"; s.zIndex = "2147483646";
  s.background = "#07c160"; s.color = "#fff"; s.border = "0"; s.borderRadius = "24px";
  s.padding = "12px 20px"; s.fontSize = "15px"; s.cursor = "pointer";
  s.boxShadow = "0 4px 12px rgba(0,0,0,.2)";
  var frame = null;
  btn.addEventListener("click", function () {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.src = origin + "/?embed=1";
      frame.title = "原上管家在线咨询";
      frame.setAttribute("allow", "clipboard-write");
      var f = frame.style;
      f.position = "fixed"; f.right = "20px"; f.bottom = "76px"; f.zIndex = "2147483647";
      f.width = "380px"; f.height = "620px"; f.maxWidth = "calc(100vw - 40px)";
      f.maxHeight = "calc(100vh - 96px)"; f.border = "0"; f.borderRadius = "12px";
      f.boxShadow = "0 8px 24px rgba(0,0,0,.25)"; f.background = "#ededed";
      document.body.appendChild(frame);
      btn.textContent = "收起";
      return;
    }
    var hidden = frame.style.display === "none";
    frame.style.display = hidden ? "block" : "none";
    btn.textContent = hidden ? "收起" : label;
  });
  document.body.appendChild(btn);
})();
"""


async def embed_js(request: web.Request) -> web.Response:
    return web.Response(text=EMBED_JS, content_type="application/javascript", charset="utf-8",
                        headers={**COMMON_HEADERS, "Cache-Control": "max-age=300",
                                 "Cross-Origin-Resource-Policy": "cross-origin"})


# ---- API --------------------------------------------------------------------------------------------

def _new_conversation(db: str) -> tuple[str, str]:
    cid = f"web-{secrets.token_urlsafe(12)}"
    key = secrets.token_urlsafe(32)
    with sessions(db).begin() as s:
        s.add(Conversation(id=cid, channel="web", mode="bot", access_key_hash=_hash(key)))
    return cid, key


async def new_session(request: web.Request) -> web.Response:
    if not request.app[CHAT_KEY].allow_session(request.remote or "?"):
        raise web.HTTPTooManyRequests(text="请求过于频繁，请稍后再试", headers=COMMON_HEADERS)
    cid, key = await asyncio.to_thread(_new_conversation, gateway.db_url(request.app))
    return web.json_response({"conversation_id": cid, "key": key},
                             headers={**COMMON_HEADERS, "Cache-Control": "no-store"})


def _mode_of(db: str, cid: str) -> str:
    with read_sessions(db)() as s:
        conv = s.get(Conversation, cid)
        return conv.mode if conv else "bot"


async def chat_history(request: web.Request) -> web.Response:
    cid = request.query.get("conversation_id", "")
    await _check(request, cid, request.headers.get("X-Chat-Key"))
    try:
        after = max(0, int(request.query.get("after", "0")))
    except ValueError:
        raise web.HTTPBadRequest(text="参数 after 应为整数", headers=COMMON_HEADERS)
    db = gateway.db_url(request.app)
    limit = 200
    messages = await asyncio.to_thread(gateway.history, db, cid, after, limit + 1)
    mode = await asyncio.to_thread(_mode_of, db, cid)
    return web.json_response({"conversation_id": cid, "mode": mode, "messages": messages[:limit],
                              "more": len(messages) > limit},
                             headers={**COMMON_HEADERS, "Cache-Control": "no-store"})


def _key_from_protocols(header: Optional[str]) -> Optional[str]:
    for p in (header or "").split(","):
        p = p.strip()
        if p.startswith(KEY_PREFIX):
            return p[len(KEY_PREFIX):]
    return None


async def chat_ws(request: web.Request) -> web.WebSocketResponse:
    app = request.app
    cid = request.query.get("conversation_id", "")
    await _check(request, cid, _key_from_protocols(request.headers.get("Sec-WebSocket-Protocol")))
    ws = web.WebSocketResponse(protocols=(WS_PROTOCOL,), heartbeat=25, max_msg_size=64 * 1024)
    await ws.prepare(request)
    state = app[CHAT_KEY]
    state.sockets.add(ws)
    inbox: asyncio.Queue = asyncio.Queue()

    async def send(event: dict) -> None:
        if not ws.closed:
            try:
                await ws.send_json(event)
            except (ConnectionResetError, RuntimeError):
                pass

    async def pump(q: asyncio.Queue) -> None:
        while True:
            await send(await q.get())

    async def worker() -> None:
        """Store one message at a time (arrival order), ack it, let the gateway answer in the background."""
        while True:
            text, cmid, title = await inbox.get()
            try:
                msg, dup, mode = await gateway.store_inbound(app, cid, text, cmid, "web", title)
            except gateway.InboundError as exc:
                await send({"type": "error", "message": exc.message, "code": exc.code, "client_msg_id": cmid})
                continue
            except Exception:  # noqa: BLE001 - the client keeps the message and resends it
                log.exception("could not store a web chat message")
                await send({"type": "error", "message": "系统繁忙，消息暂未发出，将自动重试",
                            "code": "server_error", "client_msg_id": cmid})
                continue
            await send({"type": "ack", "client_msg_id": cmid, "id": msg["id"]})
            if dup:
                await send({"type": "message", "message": msg})
                for r in await gateway.stored_replies(app, msg["id"]):
                    await send({"type": "message", "message": r})
            else:
                app[gateway.GATEWAY_KEY].spawn(gateway.process_inbound(app, msg, mode))

    with app[HUB_KEY].subscribe(f"conversation:{cid}") as q:
        tasks = [asyncio.get_running_loop().create_task(pump(q)),
                 asyncio.get_running_loop().create_task(worker())]
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    if frame.type == WSMsgType.ERROR:
                        break
                    if frame.type == WSMsgType.BINARY:
                        await send({"type": "error", "message": "消息格式不正确", "code": "bad_json"})
                    continue
                try:
                    data = json.loads(frame.data)
                except ValueError:
                    await send({"type": "error", "message": "消息格式不正确", "code": "bad_json"})
                    continue
                if not isinstance(data, dict):
                    await send({"type": "error", "message": "消息格式不正确", "code": "bad_json"})
                    continue
                kind = data.get("type")
                if kind == "ping":
                    await send({"type": "pong"})
                    continue
                if kind != "send":
                    await send({"type": "error", "message": "不支持的消息类型", "code": "bad_request"})
                    continue
                text, cmid, title = data.get("text"), data.get("client_msg_id"), data.get("title")
                if cmid is not None and not isinstance(cmid, str):
                    cmid = None
                try:
                    gateway.validate(text, cmid)
                except gateway.InboundError as exc:
                    await send({"type": "error", "message": exc.message, "code": exc.code,
                                "client_msg_id": cmid})
                    continue
                if not state.allow_message(cid):
                    await send({"type": "error", "message": "发送太频繁，请稍后再试", "code": "rate_limited",
                                "client_msg_id": cmid})
                    continue
                inbox.put_nowait((text, cmid, title if isinstance(title, str) else None))
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            state.sockets.discard(ws)
    return ws


async def _close_sockets(app: web.Application) -> None:
    for ws in list(app[CHAT_KEY].sockets):
        await ws.close(code=1001, message=b"server shutdown")


def setup(app: web.Application) -> None:
    """Routes of the web chat, the gateway's state and its retry task."""
    gateway.setup(app)
    app[CHAT_KEY] = ChatState()
    app.on_shutdown.append(_close_sockets)
    app.router.add_get("/", chat_page)
    app.router.add_get("/chat/chat.js", _static("chat.js", "application/javascript; charset=utf-8"))
    app.router.add_get("/chat/chat.css", _static("chat.css", "text/css; charset=utf-8"))
    app.router.add_get("/embed.js", embed_js)
    app.router.add_post("/api/chat/session", new_session)
    app.router.add_get("/api/chat/history", chat_history)
    app.router.add_get("/ws/chat", chat_ws)
