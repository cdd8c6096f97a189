"""Files in conversations on the desk: web chat upload and download, the console's download and send.

Routes (docs/files.md):
- POST /api/chat/files?conversation_id=<id>  (header X-Chat-Key; multipart: file, client_msg_id?) —
  the enterprise sends an image or document. The key is checked before the body is read; then the
  chat's message rate limits, then bot.files.sniff (type by content, size by kind). Answers like
  POST /api/chat/message: {"message", "replies", "duplicate"}; a refused file gets a Chinese JSON error
  (400 empty / no file, 413 too large, 415 type, 429 rate limit).
- GET /api/chat/files/<id>?conversation_id=<id>  (header X-Chat-Key) — the chat fetches a file of its own
  conversation (the page turns it into a blob: URL); any other file is "not found".
- GET /console/files/<id> — staff, by session, only when their node scope covers the file's conversation
  (or the ticket it is attached to); a download (?dl=1) is written to the console audit.
- POST /console/conversations/<cid>/files  (multipart: csrf_token, handover_id, file) — staff who hold the
  conversation send a file back; it reaches the web chat live and WeChat/WeCom through the media API.

Files never go to Rasa. What the enterprise is told (ticket attached, or 转人工 offered) is in `reply_for`.
Every file is served as a download (Content-Disposition: attachment) with the type found from its
content, nosniff and a sandboxing CSP, never cached, and only from these checked routes: there is no
public URL for a file.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Awaitable, Callable, Optional
from urllib.parse import quote, unquote

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot.db import read_sessions
from bot.db.schema import Conversation, Ticket
from bot.desk import chat, gateway, ratelimit
from bot.desk.console import store, views
from bot.desk.console.auth import current_staff
from bot.desk.hub import HUB_KEY
from bot.desk.keys import SETTINGS_KEY, db_url
from bot.desk.messages import _get_message, _store_out, message_dict
from bot.desk.wechat.channel import FILE_SENDERS_KEY, MEDIA_KEY
from bot.files import FileRefused, Limits, Sniffed, check
from bot.files import store as file_store
from bot.files.names import sanitise, with_extension
from bot.files.sniff import IMAGE
from bot.tickets import lifecycle as lc
from bot.tickets.service import TicketError, TicketService

log = logging.getLogger(__name__)

FORM_OVERHEAD = 64 * 1024  # multipart headers and the small fields around the file
HANDOVER_PAYLOAD = "/request_human"
NOT_FOUND = "文件不存在或无权查看"

# A channel that pushes files through an external API (WeChat) registers
# `await sender(app, conversation_id, data, name, kind) -> bool` under FILE_SENDERS_KEY.
FileSender = Callable[[web.Application, str, bytes, str, str], Awaitable[bool]]


def limits(app: web.Application) -> Limits:
    return Limits.of(app[SETTINGS_KEY])


async def _run(fn, *args, **kwargs):
    return await asyncio.to_thread(fn, *args, **kwargs)


# ---- receiving a file (web chat and WeChat) ----------------------------------------------------------


def what(kind: str) -> str:
    return "图片" if kind == IMAGE else "文件"


def reply_for(
    stored: file_store.Stored, kind: str, name: str, resumed: bool = False
) -> tuple[Optional[str], Optional[dict], str]:
    """(text, payload, author) of the answer to a received file; no text: nothing to say (staff have the
    conversation and see the file themselves).

    Files do not go to Rasa: the assistant cannot read them, and a file name is no question. With an open
    ticket the file is attached to it and the enterprise is told so; while waiting for staff it is passed
    on; otherwise it is kept in the conversation and a person is offered (转人工), who then sees it."""
    w = what(kind)
    if stored.mode == "staff":
        return None, None, "system"
    if stored.mode == "waiting":
        return f"已收到您发送的{w}「{name}」，已转给服务专员。", None, "system"
    if stored.ticket_number and resumed:
        return (
            f"已收到您发送的{w}「{name}」，已附到您的工单 {stored.ticket_number}，工单已恢复办理，服务专员会尽快查看。",
            None,
            "bot",
        )
    if stored.ticket_number:
        return (
            f"已收到您发送的{w}「{name}」，已附到您的工单 {stored.ticket_number}，服务专员办理时会查看。",
            None,
            "bot",
        )
    return (
        f"已收到您发送的{w}「{name}」。原上管家暂时无法查看文件内容；如需服务专员查看，请点「转人工」，"
        "专员接入后即可看到您发送的文件。",
        {"buttons": [{"title": "转人工", "payload": HANDOVER_PAYLOAD}]},
        "bot",
    )


def _resume_if_waiting(db: str, number: str, conversation_id: str, kind: str, name: str) -> bool:
    """A file sent to a ticket waiting for materials (待补充) is the material: the ticket resumes as when the
    enterprise adds information in words (TicketService.add_info: its own tickets only, SLA pause ends)."""
    svc = TicketService(db)
    t = svc.get(number)
    if t is None or t.status != lc.AWAITING_INFO:
        return False
    try:
        svc.add_info(number, conversation_id, f"补充材料：{what(kind)}「{name}」")
    except TicketError:
        log.info("file for %s not counted as its information (not the sender's own ticket)", number)
        return False
    return True


def _message(db: str, message_id: int) -> dict:
    return message_dict(_get_message(db, message_id))


async def receive_file(
    app: web.Application,
    conversation_id: str,
    data: bytes,
    name: str,
    found: Sniffed,
    channel: str,
    client_msg_id: Optional[str] = None,
) -> tuple[dict, list[dict], bool]:
    """Store a checked file from the enterprise, tell screens and staff, answer: (message, replies, duplicate)."""
    db = db_url(app)
    stored = await _run(
        file_store.receive,
        db,
        conversation_id,
        data,
        name,
        found,
        channel,
        client_msg_id,
        daily_bytes=limits(app).daily_bytes,
    )
    msg = await _run(_message, db, stored.message_id)
    if stored.duplicate:
        return msg, await gateway.stored_replies(app, msg["id"]), True
    hub = app[HUB_KEY]
    hub.publish(f"conversation:{conversation_id}", {"type": "message", "message": msg})
    if stored.mode != "bot":
        hub.publish("console", {"type": "user_message", "conversation_id": conversation_id, "message": msg})
    log.info(
        "file received in %s: %s, %s, %d bytes%s",
        conversation_id,
        found.mime,
        channel,
        len(data),
        f", attached to {stored.ticket_number}" if stored.ticket_number else "",
    )
    resumed = (
        await _run(_resume_if_waiting, db, stored.ticket_number, conversation_id, found.kind, name)
        if stored.ticket_number
        else False
    )
    text, payload, author = reply_for(stored, found.kind, name, resumed)
    if text is None:
        return msg, [], False
    reply, mode, _ = await _run(_store_out, db, conversation_id, author, text, payload, msg["id"])
    gateway._publish(app, reply, mode)
    return msg, [reply], False


def _unquoted(raw: object) -> object:
    """Some HTTP clients (aiohttp, requests) percent-encode a non-ASCII file name in the multipart header
    instead of sending UTF-8 as browsers do: "%E8%90%A5….pdf" is read back as "营业执照.pdf"."""
    if isinstance(raw, str) and "%" in raw and raw.isascii():
        decoded = unquote(raw, errors="strict") if _valid_utf8_quoted(raw) else raw
        if not decoded.isascii():
            return decoded
    return raw


def _valid_utf8_quoted(raw: str) -> bool:
    try:
        unquote(raw, errors="strict")
        return True
    except UnicodeDecodeError:
        return False


class ChannelFiles:
    """What the WeChat channels call for an image or file message (MEDIA_KEY): the fetched bytes are
    checked and stored like a web chat upload; FileRefused (a ValueError with a Chinese `message`)
    is answered to the user by the channel."""

    async def __call__(
        self,
        app: web.Application,
        conversation_id: str,
        data: bytes,
        name: str,
        kind: str,
        channel: str,
        client_msg_id: Optional[str] = None,
    ) -> list[dict]:
        if kind == "image":  # WeChat names a photo itself ("xxx.jpg" for any format): the content decides
            name = name.rsplit(".", 1)[0] if "." in name else name
        safe, found = checked(data, name, limits(app), "图片" if kind == "image" else "文件")
        _msg, replies, _dup = await receive_file(app, conversation_id, data, safe, found, channel, client_msg_id)
        return replies

    @staticmethod
    def max_bytes(app: web.Application) -> int:
        return limits(app).largest

    @staticmethod
    async def note_failure(app: web.Application, conversation_id: str, text: str) -> None:
        """An internal note for staff in an existing conversation (a file that could not be fetched)."""
        if await _run(_exists, db_url(app), conversation_id):
            await gateway.send_to_user(app, conversation_id, text, "system", internal=True)


def _exists(db: str, conversation_id: str) -> bool:
    with read_sessions(db)() as s:
        return s.get(Conversation, conversation_id) is not None


def checked(data: bytes, raw_name: object, lim: Limits, default_stem: str = "文件") -> tuple[str, Sniffed]:
    """(safe name with the right extension, type) of a received file; FileRefused otherwise."""
    name = sanitise(_unquoted(raw_name), default_stem)
    found = check(data, name, lim)
    return with_extension(name, found.ext), found


async def _form_file(request: web.Request, lim: Limits):
    """(form, bytes, client file name) of a multipart upload; FileRefused when there is no usable file."""
    if request.content_type != "multipart/form-data":
        raise FileRefused("请以 multipart/form-data 表单上传文件", "bad_form", 415)
    try:
        form = await request.post()
    except web.HTTPRequestEntityTooLarge:
        raise FileRefused(f"文件过大（最大 {lim.largest // (1024 * 1024)} MB）", "too_large", 413) from None
    except (AssertionError, ValueError, UnicodeDecodeError, HttpProcessingError):
        raise FileRefused("上传的表单格式不正确，请重新选择文件", "bad_form", 400) from None
    field = form.get("file")
    if not isinstance(field, web.FileField):
        raise FileRefused("请选择要发送的文件", "no_file", 400)
    data = field.file.read(lim.largest + 1)
    return form, data, field.filename


def _client_id(value) -> Optional[str]:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64 or not gateway.CLIENT_ID.match(value):
        raise FileRefused("消息编号无效", "bad_request", 400)
    return value


async def chat_upload(request: web.Request) -> web.Response:
    app = request.app
    cid = request.query.get("conversation_id", "")
    await chat._check(request, cid, request.headers.get("X-Chat-Key"))  # before reading the body
    address = ratelimit.client_address(request)
    decision = await chat.allow_message(app, cid, address)
    if decision.allowed:  # files also per address and hour: each one is stored in the database
        decision = await ratelimit.limiter(app).hit("file_ip", address)
    if not decision.allowed:
        raise chat.too_many(decision)
    lim = limits(app)
    try:
        form, data, raw_name = await _form_file(request, lim)
        cmid = _client_id(form.get("client_msg_id"))
        name, found = checked(data, raw_name, lim)
        msg, replies, dup = await receive_file(app, cid, data, name, found, "web", cmid)
    except FileRefused as exc:
        log.info("web chat file refused (%s, conversation %s): %s", exc.code, cid, exc.message)
        return refusal(exc)
    return web.json_response(
        {"message": msg, "replies": replies, "duplicate": dup},
        headers={**chat.COMMON_HEADERS, "Cache-Control": "no-store"},
    )


def refusal(exc: FileRefused) -> web.Response:
    """The chat API's JSON error for a refused file (400 / 413 / 415, a Chinese message)."""
    return web.json_response(
        {"error": exc.code, "message": exc.message},
        status=exc.status,
        headers={**chat.COMMON_HEADERS, "Cache-Control": "no-store"},
        dumps=lambda d: json.dumps(d, ensure_ascii=False),
    )


def _file_id(request: web.Request) -> Optional[int]:
    raw = request.match_info.get("file_id", "")
    return int(raw) if raw.isdigit() and len(raw) <= 9 else None


def file_response(row: file_store.FileRow, data: bytes) -> web.Response:
    """Always a download of the type found from the content: never rendered as a page, never cached."""
    ascii_name = "".join(c if c.isascii() and c.isalnum() or c in "._-" else "_" for c in row.name) or "file"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(row.name, safe='')}"
    return web.Response(
        body=data,
        headers={
            "Content-Type": row.mime,
            "Content-Disposition": disposition,
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
            "Cross-Origin-Resource-Policy": "same-origin",
            "Referrer-Policy": "no-referrer",
        },
    )


async def chat_download(request: web.Request) -> web.Response:
    cid = request.query.get("conversation_id", "")
    await chat._check(request, cid, request.headers.get("X-Chat-Key"))
    fid = _file_id(request)
    row, data = await _run(file_store.get, db_url(request.app), fid) if fid is not None else (None, None)
    if row is None or data is None or row.conversation_id != cid:
        raise chat.json_error(web.HTTPNotFound, "not_found", NOT_FOUND)
    return file_response(row, data)


# ---- the console ---------------------------------------------------------------------------------


async def _staff_may_see(request: web.Request, staff, row: file_store.FileRow) -> bool:
    db = db_url(request.app)
    exists, node = await _run(store.conversation_node, db, row.conversation_id)
    if exists and staff.sees(node):
        return True
    if row.ticket_id is not None:
        ticket_node = await _run(_ticket_node, db, row.ticket_id)
        return ticket_node is not None and staff.sees(ticket_node)
    return False


def _ticket_node(db: str, ticket_id: int) -> Optional[str]:
    with read_sessions(db)() as s:
        t = s.get(Ticket, ticket_id)
        return t.node_id if t is not None else None


async def console_download(request: web.Request) -> web.Response:
    staff = current_staff(request)
    fid = _file_id(request)
    row, _ = await _run(file_store.get, db_url(request.app), fid, False) if fid is not None else (None, None)
    if row is None:
        return views.not_found(request, staff, "该文件")
    if not await _staff_may_see(request, staff, row):
        return await views.denied(request, staff, "该文件", conversation_id=row.conversation_id)
    _, data = await _run(file_store.get, db_url(request.app), row.id)
    if data is None:
        return views.not_found(request, staff, "该文件")
    if request.query.get("dl") == "1":
        await views.audit(
            request,
            staff,
            "file_download",
            conversation_id=row.conversation_id,
            ticket_id=row.ticket_id,
            detail=f"#{row.id} {row.name}",
        )
    return file_response(row, data)


async def console_send(request: web.Request) -> web.Response:
    staff = current_staff(request)
    cid = request.match_info["cid"]
    if (refused := await views._conversation_scope(request, staff, cid)) is not None:
        return refused
    app = request.app
    lim = limits(app)
    try:
        form, data, raw_name = await _form_file(request, lim)
        h = await views._open_handover(request, cid, form)
        if h is None or h.claimed_by != staff.id:
            return await views._failed(
                request, staff, cid, "请先接单再向企业发送文件（同一时间只能由一位工作人员接待）。"
            )
        name, found = checked(data, raw_name, lim)
    except FileRefused as exc:
        return await views._failed(request, staff, cid, exc.message, exc.status)
    db = db_url(app)
    stored = await _run(file_store.send, db, cid, data, name, found, staff.actor)
    msg = await _run(_message, db, stored.message_id)
    gateway._publish(app, msg, stored.mode)
    delivered = await push_file(app, stored.channel, cid, data, name, found.kind)
    await views.audit(
        request,
        staff,
        "file_send",
        conversation_id=cid,
        handover_id=h.id,
        detail=f"#{stored.file.get('id')} {name}（{found.mime}，{len(data)} 字节）"
        + ("" if delivered else "；未能送达渠道"),
    )
    if not delivered:  # stored and shown in the conversation; the channel's note says why it did not go out
        return await views._failed(
            request, staff, cid, "文件已保存在会话中，但未能送达企业（原因见会话中的内部备注）。", 502
        )
    return views._done(request, cid, "replied", {"message_id": stored.message_id, "file": stored.file})


async def push_file(
    app: web.Application, channel: str, conversation_id: str, data: bytes, name: str, kind: str
) -> bool:
    """Deliver a staff file on a channel that needs an API call (WeChat); the web chat has it already."""
    sender = app.get(FILE_SENDERS_KEY, {}).get(channel)
    if sender is None:
        return True
    try:
        return bool(await sender(app, conversation_id, data, name, kind))
    except Exception:  # noqa: BLE001 - stored and shown to staff; the channel reports its own failures
        log.exception("channel %s could not deliver a file to %s", channel, conversation_id)
        return False


def setup(app: web.Application) -> None:
    """Routes of files in conversations (after chat.setup and console.setup: their middlewares apply)."""
    body = limits(app).largest + FORM_OVERHEAD

    def sized(handler):
        async def route(request: web.Request) -> web.StreamResponse:
            return await handler(request)

        route.body_limit = body  # read by bot.desk.chat.body_limit: larger than the app's 64 KB
        route.__name__ = handler.__name__
        return route

    if FILE_SENDERS_KEY not in app:
        app[FILE_SENDERS_KEY] = {}
    app[MEDIA_KEY] = ChannelFiles()
    app.router.add_post("/api/chat/files", sized(chat_upload))
    app.router.add_get("/api/chat/files/{file_id}", chat_download)
    app.router.add_get("/console/files/{file_id}", console_download)
    app.router.add_post("/console/conversations/{cid}/files", sized(console_send))
