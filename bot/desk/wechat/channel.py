"""One WeChat channel (Official Account or WeCom application): its configuration, the callback handling
common to both (verify, deduplicate retries, answer passively within the budget or through the
customer-service API, numbered options) and the sends. The protocol details are in `mp` and `work`;
`bot.desk.wechat` wires both into the desk (see its docstring for the behaviour)."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import re
import time
import weakref
from collections import Counter
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping

import aiohttp
from aiohttp import web
from sqlalchemy import update

from bot.db import sessions
from bot.db.schema import Conversation
from bot.desk import gateway, ratelimit
from bot.desk.hub import HUB_KEY
from bot.desk.keys import CLIENT_KEY, SETTINGS_KEY
from bot.desk.wechat import xml as wxml
from bot.desk.wechat.api import MEDIA_TOO_LARGE, MpApi, WeChatApiError, WorkApi, split_text
from bot.desk.wechat.crypto import MsgCrypto, aes_key
from bot.desk.wechat.state import InProcessState, RedisState
from bot.dialogue.options import match_option
from bot.settings import WeChatSettings
from bot.taxonomy import BY_INTENT, META_INTENTS

log = logging.getLogger(__name__)

Inbound = Callable[..., Awaitable[list]]

PASSIVE_LIMIT_BYTES = 2000  # a passive text reply above ~2048 bytes is refused by WeChat
RETENTION_SECONDS = 120.0  # keep answered entries this long for late retries
OPTIONS_MAX = 50_000
OPTION_HINT = "（回复序号即可选择）"
BUSY_TEXT = "抱歉，系统暂时繁忙，您的消息已记录，我们会尽快回复您。"
NON_TEXT_TEXT = "目前我只能看懂文字消息，请用文字描述您的需求；需要提交材料时，服务专员会另行与您联系。"
MENU_UNKNOWN_TEXT = "该菜单暂未开放，请直接发送文字告诉我您的需求。"
RATE_LIMITED_TEXT = "您发送消息太频繁了，这条消息没有收到。请 {seconds} 秒后再发送。"
MEDIA_FAILED_TEXT = "抱歉，您发送的{what}暂时没能接收（微信服务器未响应），请稍后重新发送。"
MEDIA_TOO_LARGE_TEXT = "您发送的{what}过大，没有接收；请压缩后重新发送。"
FILE_KINDS = {"image": "图片", "file": "文件"}  # message types carrying a MediaId that become files


# ---- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelConfig:
    token: str
    aes_key: str = ""
    receive_id: str = ""  # Official Account appid / WeCom corpid
    secret: str = ""  # for the customer-service API
    agent_id: str = ""  # WeCom application id
    api_base: str = ""


@dataclass(frozen=True)
class WeChatConfig:
    mp: ChannelConfig | None = None
    work: ChannelConfig | None = None
    reply_budget: float = 4.0  # seconds we may spend before answering "success" instead
    timestamp_window: int = 300  # seconds a callback's timestamp may differ from our clock
    max_body: int = 48 * 1024

    @classmethod
    def from_settings(cls, ws: WeChatSettings) -> "WeChatConfig":
        """Channels whose variables are set (Settings.wechat); ValueError names what is missing or malformed."""
        mp = None
        if ws.mp_token:
            mp = ChannelConfig(
                ws.mp_token, ws.mp_aes_key, ws.mp_appid, ws.mp_secret, "", ws.api_base or "https://api.weixin.qq.com"
            )
            if mp.aes_key:
                aes_key(mp.aes_key)
                if not mp.receive_id:
                    raise ValueError("设置了 WECHAT_MP_AES_KEY（兼容/安全模式）时必须同时设置 WECHAT_MP_APPID")
        work = None
        wecom = [ws.wecom_token, ws.wecom_aes_key, ws.wecom_corpid]
        if any(wecom):
            if not all(wecom):
                raise ValueError("企业微信需要同时设置 WECOM_TOKEN、WECOM_AES_KEY 和 WECOM_CORPID")
            aes_key(wecom[1])
            agent = ws.wecom_agent_id
            if agent and not agent.isdigit():
                raise ValueError(f"WECOM_AGENT_ID 应为数字，实际为 {agent!r}")
            work = ChannelConfig(*wecom, ws.wecom_secret, agent, ws.wecom_api_base or "https://qyapi.weixin.qq.com")
        return cls(mp, work, ws.reply_budget, ws.timestamp_window)


# ---- app keys and the gateway -------------------------------------------------------------

CHANNELS_KEY = web.AppKey("wechat_channels", dict)
INBOUND_KEY = web.AppKey("wechat_inbound", object)  # async handle_inbound(app, conv, text, client_msg_id, channel)
# Files (bot/desk/files.py sets MEDIA_KEY): async receive(app, conv, data, name, kind, channel, client_msg_id,
# max_bytes=...) → replies; FILE_SENDERS_KEY: channel name → async send(app, conv, data, name, kind) → bool.
MEDIA_KEY = web.AppKey("wechat_media", object)
FILE_SENDERS_KEY = web.AppKey("file_senders", dict)


class Reject(Exception):
    """A callback refused before it reaches Rasa."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class Outcome:
    """What one inbound message produced: a passive text if it fits, else messages to push."""

    passive: str | None
    messages: list[str]


@dataclass
class Turn:
    """What one WeChat message asks of the bot: text to forward, or a fixed answer, or nothing."""

    text: str | None
    client_msg_id: str
    fixed: str | None = None  # answered here without the bot (unsupported message types)
    title: str | None = None  # what staff see instead of a payload ("/greet" → "（关注）")
    media: dict | None = None  # an image or file message: {"id": MediaId, "kind": "image"|"file", "name"}


@dataclass
class _Pending:
    task: asyncio.Task
    delivery: str | None = None  # None until answered: "passive" or "push"
    done_at: float | None = None


def _conversation_fields(conversation: Any) -> tuple[str, str | None]:
    """(id, external_user) of a Conversation row, a dict or a bare id."""
    if isinstance(conversation, str):
        return conversation, None
    if isinstance(conversation, Mapping):
        return str(conversation["id"]), conversation.get("external_user")
    return str(conversation.id), getattr(conversation, "external_user", None)


def _takes(fn: Callable, name: str) -> bool:
    """Whether handle_inbound accepts a keyword: "title" (a button's label stored next to its payload),
    "choice" (the button a typed answer picked, stored next to the typed text)."""
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


MENU_LABELS = {
    "greet": "问候",
    "ask_capabilities": "我能办哪些事",
    "ask_ticket_status": "查询我的工单",
    "request_human": "转人工服务",
    "complain": "投诉建议",
    "rate_service": "服务评价",
}


def _menu_intents() -> dict[str, str]:
    """Menu keys a CLICK event may carry (intent ids), with the label staff see."""
    return {**{i: MENU_LABELS.get(i, i) for i in META_INTENTS}, **{i: c.name for i, c in BY_INTENT.items()}}


# ---- the channel core shared by both endpoints --------------------------------------------


class Channel:
    """Verification helpers, the in-flight map, reply rendering and out-of-band delivery."""

    name = ""  # Conversation.channel
    prefix = ""  # conversation id prefix
    idle_body = ""  # what "answered, nothing to say" looks like
    user_re = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
    subscribe_events = {"subscribe"}

    def __init__(self, app: web.Application, cfg: ChannelConfig, common: WeChatConfig) -> None:
        self.app, self.cfg, self.common = app, cfg, common
        self.crypto = MsgCrypto(cfg.token, cfg.aes_key, cfg.receive_id) if cfg.aes_key else None
        self.api: MpApi | WorkApi | None = None
        self.clock: Callable[[], float] = time.time
        self.stats: Counter = Counter()
        self._pending: dict[str, _Pending] = {}
        self._next_purge = 0.0
        self.state = _state_for(app, self.name)  # numbered options and seen nonces (shared with REDIS_URL)
        self._send_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._known_users: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._menu = _menu_intents()

    # -- request checks ----------------------------------------------------------------------
    def check_timestamp(self, timestamp: str, nonce: str) -> None:
        if not timestamp.isdigit() or len(timestamp) > 12:
            raise Reject(400, "timestamp 缺失或无效")
        if not nonce or len(nonce) > 64:
            raise Reject(400, "nonce 缺失或无效")
        if self.common.timestamp_window and abs(self.clock() - int(timestamp)) > self.common.timestamp_window:
            raise Reject(403, "timestamp 超出允许的时间窗口（疑似重放）")

    async def check_replay(self, timestamp: str, nonce: str, body: bytes) -> None:
        """A (timestamp, nonce) pair seen before must come with the same body.

        WeChat's retries repeat the request unchanged (they are deduplicated
        downstream); the same signature parameters with a different body are a
        replay with a forged body (possible in plain mode, where the signature
        does not cover the body) and are refused — on any desk instance, when
        the state is in Redis.
        """
        digest = hashlib.sha256(body).hexdigest()
        ttl = 2 * max(self.common.timestamp_window, 60)
        if await self.state.first_body(timestamp, nonce, digest, ttl, self.clock()) != digest:
            raise Reject(403, "nonce 已使用（重放）")

    async def read_body(self, request: web.Request) -> bytes:
        limit = self.common.max_body
        if request.content_length is not None and request.content_length > limit:
            raise Reject(413, "请求体过大")
        data = bytearray()
        async for chunk in request.content.iter_chunked(8192):
            data += chunk
            if len(data) > limit:
                raise Reject(413, "请求体过大")
        return bytes(data)

    def reject(self, exc: Exception) -> web.Response:
        if isinstance(exc, Reject):
            status, reason = exc.status, exc.reason
        else:  # CryptoError / XmlError carry their own status
            status, reason = getattr(exc, "status", 400), str(exc)
        self.stats[f"rejected_{status}"] += 1
        log.warning("%s 回调被拒绝（%s）：%s", self.name, status, reason)
        return web.Response(status=status, text=reason)

    # -- from a verified message to the HTTP answer -----------------------------------------
    def interpret(self, msg: dict[str, str]) -> Turn:
        """What one decrypted message asks of the bot."""
        user, created = msg.get("FromUserName", ""), msg.get("CreateTime", "")
        kind = (msg.get("MsgType") or "").lower()
        msg_id = (msg.get("MsgId") or "").strip() or None
        if kind == "text":
            text = (msg.get("Content") or "").strip()
            return Turn(text or None, msg_id or f"{user}:{created}:text")
        if kind == "voice" and (msg.get("Recognition") or "").strip():
            return Turn(msg["Recognition"].strip(), msg_id or f"{user}:{created}:voice")
        if kind == "event":
            event = (msg.get("Event") or "").strip()
            key = self._event_key(user, created, event)
            if event.lower() in self.subscribe_events:
                return Turn("/greet", key, title="（关注）")
            if event.lower() == "click":
                menu = (msg.get("EventKey") or "").strip().removeprefix("intent:")
                if menu in self._menu:
                    return Turn(f"/{menu}", key, title=f"（菜单）{self._menu[menu]}")
                return Turn(None, key, fixed=MENU_UNKNOWN_TEXT)
            return Turn(None, key)  # unsubscribe, view, location, enter_agent …: nothing to say
        media_id = (msg.get("MediaId") or "").strip()
        if kind in FILE_KINDS and media_id and len(media_id) <= 256 and MEDIA_KEY in self.app:
            name = (msg.get("FileName") or msg.get("Title") or "").strip()
            return Turn(None, msg_id or f"{user}:{created}:{kind}", media={"id": media_id, "kind": kind, "name": name})
        return Turn(None, msg_id or f"{user}:{created}:{kind}", fixed=NON_TEXT_TEXT)

    @staticmethod
    def _event_key(user: str, created: str, event: str) -> str:
        key = f"{user}:{created}:{event}"
        return key if len(key) <= 64 else hashlib.sha1(key.encode()).hexdigest()

    async def respond(self, msg: dict[str, str], seal: Callable[[str], str] | None, started: float) -> web.Response:
        """Forward once, then answer passively within the budget or hand over to the push path."""
        user = msg.get("FromUserName", "")
        if not self.user_re.match(user):
            raise Reject(400, "FromUserName 无效")
        turn = self.interpret(msg)
        if turn.text is None and turn.media is None:
            return self.passive(msg, turn.fixed, seal) if turn.fixed else self.idle()
        conv = self.prefix + user
        key = f"{conv}|{turn.client_msg_id}"
        self._purge()
        entry = self._pending.get(key)
        if entry is None:
            decision = await ratelimit.limiter(self.app).hit("wechat", conv)
            if not decision.allowed:  # not stored: the user is told to send it again later
                self.stats["rate_limited"] += 1
                log.info("%s: %s 发送过快，消息未受理", self.name, conv)
                return self.passive(msg, RATE_LIMITED_TEXT.format(seconds=decision.retry_after_header), seal)
            work = self._receive_media(conv, user, turn) if turn.media else self._forward(conv, user, turn)
            entry = _Pending(asyncio.create_task(work))
            entry.task.add_done_callback(lambda _t, e=entry: setattr(e, "done_at", time.monotonic()))
            self._pending[key] = entry
            self.stats["forwarded"] += 1
        else:
            self.stats["retries"] += 1
        if entry.delivery == "push":
            return self.idle()
        remaining = self.common.reply_budget - (asyncio.get_running_loop().time() - started)
        try:
            outcome = await asyncio.wait_for(asyncio.shield(entry.task), max(0.0, remaining))
        except asyncio.TimeoutError:
            self._switch_to_push(conv, user, entry)
            self.stats["deferred"] += 1
            return self.idle()
        except asyncio.CancelledError:  # WeChat hung up early: the answer must still arrive
            self._switch_to_push(conv, user, entry)
            raise
        if entry.delivery == "push":
            return self.idle()
        if outcome.passive is None:
            if outcome.messages:
                self._switch_to_push(conv, user, entry)
            return self.idle()
        entry.delivery = "passive"
        self.stats["passive"] += 1
        return self.passive(msg, outcome.passive, seal)

    def idle(self) -> web.Response:
        return web.Response(text=self.idle_body, content_type="text/plain")

    def passive(self, msg: dict[str, str], content: str, seal: Callable[[str], str] | None) -> web.Response:
        reply = wxml.text_reply(msg.get("FromUserName", ""), msg.get("ToUserName", ""), content, int(self.clock()))
        return web.Response(text=seal(reply) if seal else reply, content_type="application/xml")

    def sealer(self, nonce: str) -> Callable[[str], str]:
        """Encrypt a passive reply (the request's nonce is echoed, as WeChat's examples do)."""

        def seal(reply: str) -> str:
            timestamp = str(int(self.clock()))
            encrypt, msg_signature = self.crypto.seal(reply, timestamp, nonce)
            return wxml.encrypted_reply(encrypt, msg_signature, timestamp, nonce)

        return seal

    def _switch_to_push(self, conv: str, user: str, entry: _Pending) -> None:
        if entry.delivery is None:
            entry.delivery = "push"
            self._spawn(self._push_when_ready(conv, user, entry))

    async def _push_when_ready(self, conv: str, user: str, entry: _Pending) -> None:
        outcome = await asyncio.shield(entry.task)
        if outcome.messages:
            await self.deliver(conv, user, outcome.messages)

    async def _forward(self, conv: str, user: str, turn: Turn) -> Outcome:
        inbound: Inbound = self.app[INBOUND_KEY]
        text, title = turn.text, turn.title
        choice = await self._choose_option(conv, turn.text)
        extra: dict[str, Any] = {}
        if choice is not None and _takes(inbound, "choice"):
            extra["choice"] = choice  # stored as typed ("2"), Rasa gets the button's payload
        elif choice is not None:
            text, title = choice["payload"], choice["title"]
        if title and _takes(inbound, "title"):
            extra["title"] = title
        try:
            replies = await inbound(self.app, conv, text, client_msg_id=turn.client_msg_id, channel=self.name, **extra)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, ValueError) and isinstance(getattr(exc, "message", None), str):
                return Outcome(exc.message, [exc.message])  # the gateway's words for the user
            log.exception("%s: 转发消息失败（%s）", self.name, conv)
            self.stats["inbound_errors"] += 1
            return Outcome(BUSY_TEXT, [BUSY_TEXT])
        if conv not in self._known_users:
            if len(self._known_users) >= OPTIONS_MAX:
                self._known_users.clear()  # only saves a no-op UPDATE; forgetting is harmless
            self._known_users.add(conv)
            self._spawn(asyncio.to_thread(self._remember_user, conv, user))
        return await self.render(conv, list(replies or []))

    async def _receive_media(self, conv: str, user: str, turn: Turn) -> Outcome:
        """An image or file message: fetch it through the media API and hand it to bot.desk.files (stored like
        a web chat upload, never sent to Rasa). If WeChat's media API fails the user is asked to send it
        again and staff get an internal note: nothing is dropped silently."""
        receive = self.app[MEDIA_KEY]
        what = FILE_KINDS.get(turn.media["kind"], "文件")
        max_bytes = getattr(receive, "max_bytes", lambda app: 20 * 1024 * 1024)(self.app)
        try:
            if self.api is None:
                raise WeChatApiError(-2, "media API not configured")
            data, name, _ctype = await self.api.get_media(self.app_client(), turn.media["id"], max_bytes)
        except WeChatApiError as err:
            self.stats["media_failed"] += 1
            too_large = err.errcode == MEDIA_TOO_LARGE
            log.warning("%s: 未能取回用户发送的%s（%s，%s %s）", self.name, what, conv, err.errcode, err.errmsg)
            text = (MEDIA_TOO_LARGE_TEXT if too_large else MEDIA_FAILED_TEXT).format(what=what)
            reason = err.explanation if err.errcode != -2 else "未配置微信接口密钥，无法取回文件"
            try:
                await self.app[MEDIA_KEY].note_failure(
                    self.app, conv, f"用户发送的{what}未能接收：{reason}（错误码 {err.errcode}），已请用户重新发送。"
                )
            except Exception:  # noqa: BLE001 - the user is told anyway
                log.exception("could not note the failed media of %s", conv)
            return Outcome(text, [text])
        try:
            replies = await receive(
                self.app,
                conv,
                data,
                name or turn.media.get("name") or "",
                turn.media["kind"],
                self.name,
                turn.client_msg_id,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, ValueError) and isinstance(getattr(exc, "message", None), str):
                return Outcome(exc.message, [exc.message])  # refused: the reason, in Chinese
            log.exception("%s: 保存文件失败（%s）", self.name, conv)
            self.stats["inbound_errors"] += 1
            return Outcome(BUSY_TEXT, [BUSY_TEXT])
        self.stats["media_received"] += 1
        if conv not in self._known_users:
            self._known_users.add(conv)
            self._spawn(asyncio.to_thread(self._remember_user, conv, user))
        return await self.render(conv, list(replies or []))

    async def send_file(self, conversation: Any, data: bytes, name: str, kind: str) -> bool:
        """A staff file out through the media API (upload, then an image / file message); a failure is
        reported to staff like an undelivered text. The Official Account can only send images."""
        conv, external = _conversation_fields(conversation)
        user = external or conv.removeprefix(self.prefix)
        wx_kind = "image" if kind == "image" else "file"
        try:
            if self.api is None:
                raise WeChatApiError(-2, "customer-service API not configured")
            if wx_kind == "file" and not getattr(self.api, "sends_documents", False):
                raise WeChatApiError(-4, "documents not supported")
            media_id = await self.api.upload_media(self.app_client(), data, name, wx_kind)
            await self.api.send_media(self.app_client(), user, wx_kind, media_id)
            self.stats["files_pushed"] += 1
            return True
        except WeChatApiError as err:
            self.stats["push_failed"] += 1
            if err.errcode == -4:
                err.explanation = "微信公众号的客服消息只能发送图片，不能发送文档；请把要点写在回复里，或请企业通过网页在线咨询接收文件"
            await self.report_failure(conv, err, f"[文件] {name}")
            return False

    # -- rendering: buttons become numbered options ------------------------------------------
    async def render(self, conv: str, replies: list[dict]) -> Outcome:
        texts: list[str] = []
        options: list[tuple[str, str]] = []
        for r in replies:
            body, opts = self._render_one(r.get("text") or "", r.get("buttons") or [], r.get("image"))
            if body:
                texts.append(body)
            if opts:
                options = opts
        await self.state.set_options(conv, options)
        if not texts:
            return Outcome(None, [])
        joined = "\n\n".join(texts)
        if len(joined.encode("utf-8")) <= PASSIVE_LIMIT_BYTES:
            return Outcome(joined, [joined])  # one message: WeChat counts pushes against a quota
        return Outcome(None, texts)

    @staticmethod
    def _render_one(text: str, buttons: list[dict], image: str | None = None) -> tuple[str, list[tuple[str, str]]]:
        parts = [text.strip()] if text.strip() else []
        if image:
            parts.append(f"图片：{image}")
        lines: list[str] = []
        options: list[tuple[str, str]] = []
        for b in buttons:
            title = str(b.get("title") or "").strip()
            if not title:
                continue
            if b.get("payload"):
                options.append((title, str(b["payload"])))
                lines.append(f"{len(options)}. {title}")
            elif b.get("url"):
                lines.append(f"· {title}：{b['url']}")
        if lines:
            parts.append("\n".join(lines) + ("\n" + OPTION_HINT if options else ""))
        return "\n".join(parts), options

    async def _choose_option(self, conv: str, text: str) -> dict | None:
        """The button ({"title", "payload"}) a typed answer picks among the last numbered options:
        its number or its words (bot.dialogue.options, the matcher every channel uses). Options are
        used once; a message that picks none of them retires them too (it answered something else)."""
        if text.startswith("/"):
            return None  # an event (关注, menu click), not typed
        options = await self.state.take_options(conv)
        if not options:
            return None
        await self.state.drop_options(conv)
        chosen = match_option(text, [{"title": t, "payload": p} for t, p in options])
        return {"title": chosen["title"], "payload": chosen["payload"]} if chosen else None

    # -- out-of-band delivery (slow bot turns, staff replies, progress pushes) ----------------
    async def send(self, conversation: Any, text: str, buttons: list[dict] | None = None) -> bool:
        """The coroutine the gateway awaits for staff replies and pushes; False if not delivered."""
        conv, external = _conversation_fields(conversation)
        user = external or conv.removeprefix(self.prefix)
        body, options = self._render_one(text or "", buttons or [])
        await self.state.set_options(conv, options)
        if not body:
            return True
        return await self.deliver(conv, user, [body])

    async def deliver(self, conv: str, user: str, messages: list[str]) -> bool:
        """Push messages in order (one conversation at a time); failures are reported to staff."""
        lock = self._send_locks.get(conv)
        if lock is None:
            lock = self._send_locks[conv] = asyncio.Lock()
        async with lock:
            pieces = [p for m in messages for p in split_text(m)]
            for i, piece in enumerate(pieces):
                try:
                    if self.api is None:
                        raise WeChatApiError(-2, "customer-service API not configured")
                    await self.api.send_text(self.app_client(), user, piece)
                    self.stats["pushed"] += 1
                except WeChatApiError as err:
                    self.stats["push_failed"] += 1
                    await self.report_failure(conv, err, "\n\n".join(pieces[i:]))
                    return False
        return True

    def app_client(self) -> aiohttp.ClientSession:
        return self.app[CLIENT_KEY]

    async def report_failure(self, conv: str, err: WeChatApiError, text: str) -> None:
        """Tell staff: on the console topic now, and as an internal note in the conversation."""
        reason = err.explanation if err.errcode != -2 else "未配置客服消息接口密钥，无法主动发送"
        log.warning("%s: 消息未送达 %s（%s %s）", self.name, conv, err.errcode, err.errmsg)
        hub = self.app.get(HUB_KEY)
        if hub is not None:
            hub.publish(
                "console",
                {
                    "type": "delivery_failed",
                    "conversation_id": conv,
                    "channel": self.name,
                    "errcode": err.errcode,
                    "reason": reason,
                    "text": text,
                },
            )
        note = f"微信消息未送达：{reason}（错误码 {err.errcode}）。未送达的内容：{text[:500]}"
        try:  # an internal note: staff see it in the conversation, the user never does
            await gateway.send_to_user(self.app, conv, note, "system", internal=True)
        except Exception:
            log.exception("could not store the delivery failure note for %s", conv)

    # -- database touches (in a thread: the ORM is synchronous) ------------------------------
    def _db_url(self) -> str | None:
        settings = self.app.get(SETTINGS_KEY)
        return settings.effective_database_url if settings is not None else None

    def _remember_user(self, conv: str, user: str) -> None:
        """Fill Conversation.external_user (the openid/userid) once the gateway created the row."""
        url = self._db_url()
        if not url:
            return
        try:
            with sessions(url)() as s, s.begin():
                s.execute(
                    update(Conversation)
                    .where(Conversation.id == conv, Conversation.external_user.is_(None))
                    .values(external_user=user)
                )
        except Exception:  # a database hiccup is not worth failing a reply for
            log.debug("external_user not recorded for %s", conv, exc_info=True)

    # -- housekeeping ------------------------------------------------------------------------
    def _spawn(self, coro: Awaitable) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _purge(self) -> None:
        now = time.monotonic()
        if now < self._next_purge:
            return
        self._next_purge = now + 10
        for key, entry in list(self._pending.items()):
            if entry.done_at is not None and now - entry.done_at > RETENTION_SECONDS:
                del self._pending[key]

    async def drain(self, timeout: float = 5.0) -> None:
        """On shutdown: let pushes in progress finish briefly, then cancel them."""
        tasks = [t for t in self._tasks if not t.done()]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=timeout)
            for t in pending:
                t.cancel()


def _state_for(app: web.Application, channel: str):
    settings = app.get(SETTINGS_KEY)
    if settings is not None and settings.redis_url:
        return RedisState(settings.redis_url, settings.redis_prefix, channel)
    return InProcessState()
