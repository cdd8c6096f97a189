"""The enterprise web chat: the page at /, its session/history API, the WebSocket, the embed snippet (static/embed.js).

A browser gets a conversation id and a random key (POST /api/chat/session) and keeps
both in localStorage; only the key's SHA-256 is stored, and every later request proves
the key (history: header X-Chat-Key; WebSocket: the subprotocol "key.<key>", so the
secret never appears in a URL or an access log). A wrong key gets 403 and nothing else.
A new conversation already holds the bot's welcome (what the assistant does, suggested
questions as buttons; wording in bot.desk.gateway), so the page is never empty.

Without a WebSocket, POST /api/chat/message (header X-Chat-Key, JSON body
{"conversation_id", "text", "client_msg_id"?, "title"?}) stores one message and answers
{"message", "replies", "duplicate"} once the bot has answered (or the message is pending).
Every error of the chat API is JSON {"error": code, "message": "<Chinese>"}; too many
messages get 429 with Retry-After (limits in bot.desk.ratelimit).

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
import re
import secrets
import weakref
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional

from aiohttp import WSMsgType, web
from aiohttp.http_exceptions import HttpProcessingError
from sqlalchemy import select, update

from bot.db import read_sessions, sessions
from bot.db.schema import Conversation, Message, utcnow
from bot.desk import gateway, pages, ratelimit
from bot.desk.hub import HUB_KEY
from bot.desk.keys import SETTINGS_KEY
from bot.settings import Settings

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
WS_PROTOCOL = "yschat"
KEY_PREFIX = "key."
FORBIDDEN = "无权访问该会话"
_ANCESTOR = re.compile(
    r"^(?:'self'|'none'|\*|(?:https?|wss?):|(?:(?:https?)://)?(?:\*\.)?[A-Za-z0-9.-]+(?::(?:\d{1,5}|\*))?)$"
)

COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class ChatState:
    def __init__(self, frame_ancestors: str = "'self'") -> None:
        self.sockets: weakref.WeakSet = weakref.WeakSet()
        self.conversation_of: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # socket → its conversation
        self.frame_ancestors = frame_ancestors  # checked CSP sources (also the figures page's)


CHAT_KEY = web.AppKey("chat", ChatState)


def frame_ancestors(settings: Settings) -> str:
    """CSP frame-ancestors from the DESK_FRAME_ANCESTORS setting (space-separated sources), default 'self'."""
    raw = settings.frame_ancestors.strip()
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
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {ancestors}"
    )
    headers = {**COMMON_HEADERS, "Content-Security-Policy": csp, "Cache-Control": "no-cache"}
    if ancestors == "'self'":
        headers["X-Frame-Options"] = "SAMEORIGIN"
    return headers


def json_error(exc_class, code: str, message: str, headers: Optional[dict] = None) -> web.HTTPException:
    """An HTTP error of the chat API: JSON with a Chinese message."""
    return exc_class(
        text=json.dumps({"error": code, "message": message}, ensure_ascii=False),
        content_type="application/json",
        headers={**COMMON_HEADERS, **(headers or {})},
    )


def too_many(decision: ratelimit.Decision) -> web.HTTPException:
    return json_error(
        web.HTTPTooManyRequests, "rate_limited", ratelimit.TOO_MANY, {"Retry-After": decision.retry_after_header}
    )


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _plain(value: Any) -> bool:
    """A string the database can hold as it is (UTF-8 encodable, no NUL)."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


EXPIRED = "该会话已超过 {days} 天未使用，为保护您的信息已自动结束，已为您开启新的会话。"
ENDED = "会话已结束，本设备上的聊天记录已清除。"


def _authorised(db: str, conversation_id: str, key: Optional[str], idle_days: int = 0) -> bool | str:
    """Constant-time check of the browser's key against the stored hash: True, False, or "expired"
    (right key, but nothing from the user for `idle_days`: the key is forgotten for good)."""
    if not conversation_id or not key or len(key) > 256 or len(conversation_id) > 128:
        return False
    if not _plain(conversation_id) or not _plain(key):
        return False
    with read_sessions(db)() as s:
        row = s.execute(
            select(Conversation.access_key_hash, Conversation.created_at, Conversation.last_user_at).where(
                Conversation.id == conversation_id
            )
        ).first()
    stored = row.access_key_hash if row else None
    expired = stored is not None and stored.startswith(EXPIRED_MARK)
    expected = (stored[len(EXPIRED_MARK) :] if expired else stored) or "0" * 64
    ok = hmac.compare_digest(_hash(key), expected)
    if not (ok and stored is not None):
        return False
    if expired:
        return "expired"
    if idle_days > 0 and max(row.created_at, row.last_user_at or row.created_at) < utcnow() - timedelta(days=idle_days):
        _expire_key(db, conversation_id, stored)
        return "expired"
    return True


# An expired key opens nothing, but the browser that still holds it keeps hearing *why* (a second tab, or a
# request that was already on its way, must not turn "expired" into a bare "forbidden"); 结束会话 forgets the
# key completely instead.
EXPIRED_MARK = "expired:"


def _expire_key(db: str, conversation_id: str, stored: str) -> None:
    with sessions(db).begin() as s:
        s.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.access_key_hash == stored)
            .values(access_key_hash=EXPIRED_MARK + stored)
            .execution_options(synchronize_session=False)
        )


def _idle_days(app: web.Application) -> int:
    settings = app.get(SETTINGS_KEY)
    return getattr(settings, "chat_key_idle_days", 30) if settings is not None else 30


async def _check(request: web.Request, conversation_id: str, key: Optional[str]) -> None:
    idle = _idle_days(request.app)
    state = await asyncio.to_thread(_authorised, gateway.db_url(request.app), conversation_id, key, idle)
    if state == "expired":
        raise json_error(web.HTTPForbidden, "session_expired", EXPIRED.format(days=idle))
    if state is not True:
        raise json_error(web.HTTPForbidden, "forbidden", FORBIDDEN)


# ---- pages and files ------------------------------------------------------------------------------


async def chat_page(request: web.Request) -> web.Response:
    return web.FileResponse(
        STATIC / "chat.html", headers={**_page_headers(request), "Content-Type": "text/html; charset=utf-8"}
    )


# The chat page's script and stylesheet: the files in static/chat/, served by aiohttp's static route
# (add_static in setup) with the headers below; embed.js is a file too (static/embed.js).
ASSETS = STATIC / "chat"
ASSET_TYPES = {".js": "application/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


async def asset_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the files under /chat/ are revalidated on every load and never sniffed."""
    if not request.path.startswith("/chat/"):
        return
    response.headers.update({**COMMON_HEADERS, "Cache-Control": "no-cache"})
    ctype = ASSET_TYPES.get(Path(request.path).suffix)
    if ctype and isinstance(response, web.FileResponse):
        response.headers["Content-Type"] = ctype


async def embed_js(request: web.Request) -> web.FileResponse:
    """The snippet a site adds to embed the chat (README): loaded cross-origin, cached for five minutes."""
    return web.FileResponse(
        STATIC / "embed.js",
        headers={
            **COMMON_HEADERS,
            "Cache-Control": "max-age=300",
            "Cross-Origin-Resource-Policy": "cross-origin",
            "Content-Type": "application/javascript; charset=utf-8",
        },
    )


# ---- API --------------------------------------------------------------------------------------------


def _new_conversation(db: str) -> tuple[str, str]:
    """A new conversation with the bot's welcome already in it (one transaction), so the page
    shows what the assistant can do, and questions to start with, before the visitor types."""
    cid = f"web-{secrets.token_urlsafe(12)}"
    key = secrets.token_urlsafe(32)
    with sessions(db).begin() as s:
        s.add(Conversation(id=cid, channel="web", mode="bot", access_key_hash=_hash(key)))
        s.flush()
        s.add(
            Message(
                conversation_id=cid,
                direction="out",
                author="bot",
                text=gateway.WELCOME_TEXT,
                payload=json.dumps(gateway.welcome_payload(), ensure_ascii=False),
                state="stored",
                created_at=utcnow(),
            )
        )
    return cid, key


async def new_session(request: web.Request) -> web.Response:
    decision = await ratelimit.limiter(request.app).hit("session_ip", ratelimit.client_address(request))
    if not decision.allowed:
        raise too_many(decision)
    cid, key = await asyncio.to_thread(_new_conversation, gateway.db_url(request.app))
    return web.json_response(
        {"conversation_id": cid, "key": key}, headers={**COMMON_HEADERS, "Cache-Control": "no-store"}
    )


def _mode_of(db: str, cid: str) -> str:
    with read_sessions(db)() as s:
        conv = s.get(Conversation, cid)
        return conv.mode if conv else "bot"


async def chat_history(request: web.Request) -> web.Response:
    cid = request.query.get("conversation_id", "")
    await _check(request, cid, request.headers.get("X-Chat-Key"))
    try:
        after = min(max(0, int(request.query.get("after", "0"))), 2**62)
    except ValueError:
        raise json_error(web.HTTPBadRequest, "bad_request", "参数 after 应为整数") from None
    db = gateway.db_url(request.app)
    limit = 200
    messages = await asyncio.to_thread(gateway.history, db, cid, after, limit + 1)
    mode = await asyncio.to_thread(_mode_of, db, cid)
    return web.json_response(
        {"conversation_id": cid, "mode": mode, "messages": messages[:limit], "more": len(messages) > limit},
        headers={**COMMON_HEADERS, "Cache-Control": "no-store"},
    )


async def allow_message(app: web.Application, conversation_id: str, address: str) -> ratelimit.Decision:
    """Per conversation and per client address; the first refusal wins."""
    lim = ratelimit.limiter(app)
    decision = await lim.hit("chat", conversation_id)
    if decision.allowed:
        decision = await lim.hit("chat_ip", address)
    if not decision.allowed:
        log.info("web chat message refused by the rate limit (conversation %s, address %s)", conversation_id, address)
    return decision


async def _json_body(request: web.Request) -> dict:
    try:
        raw = await request.read()
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise json_error(web.HTTPBadRequest, "bad_json", "请求内容不是有效的 JSON") from None
    if not isinstance(data, dict):
        raise json_error(web.HTTPBadRequest, "bad_json", "请求内容应为 JSON 对象")
    return data


async def post_message(request: web.Request) -> web.Response:
    """One message over plain HTTP: stored first, answered with the bot's replies (or the busy notice)."""
    app = request.app
    data = await _json_body(request)
    cid = data.get("conversation_id")
    cid = cid if isinstance(cid, str) else ""
    await _check(request, cid, request.headers.get("X-Chat-Key"))
    text, cmid, title = data.get("text"), data.get("client_msg_id"), data.get("title")
    try:
        gateway.validate(text, cmid)
    except gateway.InboundError as exc:
        raise json_error(web.HTTPBadRequest, exc.code, exc.message) from None
    decision = await allow_message(app, cid, ratelimit.client_address(request))
    if not decision.allowed:
        raise too_many(decision)
    try:
        msg, dup, mode = await gateway.store_inbound(app, cid, text, cmid, "web", title if _plain(title) else None)
    except gateway.InboundError as exc:
        raise json_error(web.HTTPBadRequest, exc.code, exc.message) from None
    if dup:
        replies = await gateway.stored_replies(app, msg["id"])
    else:  # shielded: a client hanging up must not cut the turn in half
        replies = await asyncio.shield(app[gateway.GATEWAY_KEY].spawn(gateway.process_inbound(app, msg, mode)))
    return web.json_response(
        {"message": msg, "replies": replies, "duplicate": dup}, headers={**COMMON_HEADERS, "Cache-Control": "no-store"}
    )


async def end_session(request: web.Request) -> web.Response:
    """结束会话: the key stops working everywhere (a shared computer keeps nothing usable); the
    conversation's open sockets close; a system line records it. JSON {"conversation_id"}, X-Chat-Key."""
    data = await _json_body(request)
    cid = data.get("conversation_id")
    cid = cid if isinstance(cid, str) else ""
    await _check(request, cid, request.headers.get("X-Chat-Key"))
    db = gateway.db_url(request.app)

    def forget() -> None:
        with sessions(db).begin() as s:
            s.execute(
                update(Conversation)
                .where(Conversation.id == cid)
                .values(access_key_hash=None)
                .execution_options(synchronize_session=False)
            )
            s.add(
                Message(
                    conversation_id=cid,
                    direction="out",
                    author="system",
                    text="用户已结束会话",
                    internal=True,
                    state="stored",
                    created_at=utcnow(),
                )
            )

    await asyncio.to_thread(forget)
    state = request.app[CHAT_KEY]
    await asyncio.gather(
        *(ws.close(code=4403, message=b"session ended") for ws, c in list(state.conversation_of.items()) if c == cid),
        return_exceptions=True,
    )
    log.info("web chat session ended by the user (conversation %s)", cid)
    return web.json_response(
        {"ended": True, "message": ENDED},
        headers={**COMMON_HEADERS, "Cache-Control": "no-store"},
        dumps=lambda d: json.dumps(d, ensure_ascii=False),
    )


def _key_from_protocols(header: Optional[str]) -> Optional[str]:
    for p in (header or "").split(","):
        p = p.strip()
        if p.startswith(KEY_PREFIX):
            return p[len(KEY_PREFIX) :]
    return None


async def chat_ws(request: web.Request) -> web.WebSocketResponse:
    app = request.app
    cid = request.query.get("conversation_id", "")
    await _check(request, cid, _key_from_protocols(request.headers.get("Sec-WebSocket-Protocol")))
    ws = web.WebSocketResponse(protocols=(WS_PROTOCOL,), heartbeat=25, max_msg_size=64 * 1024)
    await ws.prepare(request)
    state = app[CHAT_KEY]
    state.sockets.add(ws)
    state.conversation_of[ws] = cid
    address = ratelimit.client_address(request)
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
                await send(
                    {
                        "type": "error",
                        "message": "系统繁忙，消息暂未发出，将自动重试",
                        "code": "server_error",
                        "client_msg_id": cmid,
                    }
                )
                continue
            await send({"type": "ack", "client_msg_id": cmid, "id": msg["id"]})
            if dup:
                await send({"type": "message", "message": msg})
                for r in await gateway.stored_replies(app, msg["id"]):
                    await send({"type": "message", "message": r})
            else:
                app[gateway.GATEWAY_KEY].spawn(gateway.process_inbound(app, msg, mode))

    with app[HUB_KEY].subscribe(f"conversation:{cid}") as q:
        tasks = [asyncio.get_running_loop().create_task(pump(q)), asyncio.get_running_loop().create_task(worker())]
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
                title = title if _plain(title) else None
                try:
                    gateway.validate(text, cmid)
                except gateway.InboundError as exc:
                    await send({"type": "error", "message": exc.message, "code": exc.code, "client_msg_id": cmid})
                    continue
                decision = await allow_message(app, cid, address)
                if not decision.allowed:
                    await send(
                        {
                            "type": "error",
                            "message": ratelimit.TOO_MANY,
                            "code": "rate_limited",
                            "retry_after": decision.retry_after,
                            "client_msg_id": cmid,
                        }
                    )
                    continue
                inbox.put_nowait((text, cmid, title if isinstance(title, str) else None))
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            state.sockets.discard(ws)
    return ws


async def _close_sockets(app: web.Application) -> None:
    """All at once: each close waits for the peer's answer (up to 10 s for a dead one)."""
    await asyncio.gather(
        *(ws.close(code=1001, message=b"server shutdown") for ws in list(app[CHAT_KEY].sockets)), return_exceptions=True
    )


# ---- errors in Chinese -----------------------------------------------------------------------------

ERROR_TEXTS = {
    400: "请求格式不正确",
    401: "请先登录",
    403: "无权访问",
    404: "页面不存在",
    405: "不支持该请求方法",
    408: "请求超时",
    411: "请求缺少长度信息",
    413: "请求内容过大",
    414: "请求地址过长",
    415: "不支持该内容类型",
    429: ratelimit.TOO_MANY,
    500: "系统内部错误，请稍后再试",
}
_CJK = re.compile(r"[\u3400-\u9fff]")
_KEEP_HEADERS = ("Allow", "Retry-After", "Location", "WWW-Authenticate")


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith(("/api/", "/console/api/")) or "application/json" in request.headers.get(
        "Accept", ""
    )


def chinese_error(
    request: web.Request, status: int, message: Optional[str] = None, headers: Optional[dict] = None
) -> web.Response:
    """An error answer in Chinese: JSON for API clients, a small HTML page for browsers."""
    message = message or ERROR_TEXTS.get(status) or f"请求无法处理（错误 {status}）"
    headers = {**COMMON_HEADERS, **(headers or {})}
    if status == 413:
        limit = (body_limit(request) or 64 * 1024) // 1024
        message = f"{message}（最多 {limit} KB）"
    if _wants_json(request):
        return web.json_response(
            {"error": f"http_{status}", "message": message},
            status=status,
            headers=headers,
            dumps=lambda d: json.dumps(d, ensure_ascii=False),
        )
    if request.path.startswith("/wechat/"):
        return web.Response(text=message, status=status, headers=headers)
    return pages.response("error.html", status=status, headers=headers, message=message)


DRAIN_MAX = 1024 * 1024
DRAIN_SECONDS = 5.0


async def _drain(request: web.Request) -> bool:
    """Read and discard an over-long body (up to 1 MB, 5 s) before answering 413: a client still
    sending would otherwise get a connection reset instead of the answer. False: cut off."""

    async def read() -> bool:
        left = DRAIN_MAX
        while left > 0:
            chunk = await request.content.read(min(65536, left))
            if not chunk:
                return True
            left -= len(chunk)
        return request.content.at_eof()

    try:
        return await asyncio.wait_for(read(), DRAIN_SECONDS)
    except (asyncio.TimeoutError, ConnectionError, HttpProcessingError):
        return False


def body_limit(request: web.Request) -> int:
    """The largest body a route takes: its handler's `body_limit` attribute (file uploads,
    bot/desk/files.py), else the application's client_max_size (64 KB)."""
    handler = getattr(getattr(request.match_info, "route", None), "handler", None)
    return getattr(handler, "body_limit", 0) or getattr(request.app, "_client_max_size", 0)


@web.middleware
async def chinese_errors(request: web.Request, handler):
    """aiohttp's own error answers ("404: Not Found", body too large…) become Chinese; an
    unexpected exception is logged and answered with a Chinese 500 instead of a bare one."""
    limit = body_limit(request)
    if limit > getattr(request.app, "_client_max_size", 0):  # an upload route: its form may be that large
        request = request.clone(client_max_size=limit)
    if limit and (request.content_length or 0) > limit:  # refused by its length, read or not
        drained = await _drain(request)
        resp = chinese_error(request, 413)
        if not drained:
            resp.force_close()
        return resp
    if "\x00" in request.path_qs or "%00" in request.raw_path:  # no database can look that up
        return chinese_error(request, 400)
    try:
        if not await _console_form_readable(request):
            return chinese_error(request, 400, "表单格式不正确，请刷新页面后重试")
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or _CJK.search(exc.text or ""):
            raise
        kept = {k: v for k, v in exc.headers.items() if k in _KEEP_HEADERS}
        return chinese_error(request, exc.status, headers=kept)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except UnicodeDecodeError:  # a form or body that is not UTF-8 (aiohttp decodes multipart strictly)
        return chinese_error(request, 400, "请求内容编码不正确（应为 UTF-8）")
    except HttpProcessingError as exc:  # a malformed multipart body surfaces from request.post()
        return chinese_error(request, exc.code if 400 <= (exc.code or 0) < 500 else 400)
    except Exception:  # noqa: BLE001 - answered, and logged with the traceback
        log.exception("unhandled error on %s %s", request.method, request.path)
        return chinese_error(request, 500)


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def _console_form_readable(request: web.Request) -> bool:
    """Parse a console form once, up front (aiohttp caches it for the handler).

    aiohttp's request.post() fails on some malformed bodies with an AssertionError (a
    multipart part without a name: `form-data; name=";"`), not an HTTP error; parsed here, any
    such body is a 400 rather than a 500 in whichever handler first reads the form. Only the
    console's forms: other routes read JSON or stream their bodies.
    """
    if request.method != "POST" or not request.path.startswith("/console") or request.content_type not in _FORM_TYPES:
        return True
    try:
        await request.post()
    except (AssertionError, ValueError, UnicodeDecodeError, HttpProcessingError):
        return False
    return True


def setup(app: web.Application) -> None:
    """Routes of the web chat, the gateway's state and its retry task."""
    gateway.setup(app)
    ratelimit.setup(app)
    app.middlewares.append(chinese_errors)
    app[CHAT_KEY] = ChatState(frame_ancestors(app[SETTINGS_KEY]))
    app.on_shutdown.append(_close_sockets)
    app.router.add_get("/", chat_page)
    app.router.add_static("/chat", ASSETS)
    app.on_response_prepare.append(asset_headers)
    app.router.add_get("/embed.js", embed_js)
    app.router.add_post("/api/chat/session", new_session)
    app.router.add_get("/api/chat/history", chat_history)
    app.router.add_post("/api/chat/message", post_message)
    app.router.add_post("/api/chat/end", end_session)
    app.router.add_get("/ws/chat", chat_ws)
