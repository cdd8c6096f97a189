"""The front door: every message into and out of a conversation passes through here.

An inbound message is stored before anything else happens (so nothing is lost, and a
resend with the same client message id is answered from the database instead of
reaching Rasa twice). Then the conversation's mode decides where it goes:

- "bot": forwarded to Rasa's desk channel (REST behind a shared secret, bot/rasa_ext/desk_channel.py);
  each reply is stored and delivered. A reply carrying ``custom.handover`` (the action paused the bot)
  switches the mode to "waiting".
- "waiting" / "staff": not sent to Rasa; published to the "console" hub topic for staff.

When Rasa or the action server is down the message is marked "pending", the user is told
the reply will come later, and a background task re-forwards pending messages in order
once Rasa answers again — or hands them to staff if a handover happened meanwhile.

Delivery: everything stored is published on the in-process hub ("conversation:<id>" for
the user's screens, "console" for staff when not in bot mode). Channels that push
through an external API (WeChat) register a sender with ``register_channel_sender``; it
is awaited as ``sender(app, conversation_id, text, buttons)`` for messages that are not
the direct answer to a ``handle_inbound`` call (staff replies, replies after an outage,
the bot's return after a handover).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, Awaitable, Callable, Optional
from urllib.parse import quote

import aiohttp
from aiohttp import web
from sqlalchemy import select

from bot import handover as ho
from bot.db import read_sessions
from bot.db.schema import Handover, Message, ServiceNode, utcnow
from bot.desk.hub import HUB_KEY
from bot.desk.keys import CLIENT_KEY, SETTINGS_KEY, db_url
from bot.desk.messages import (
    MAX_TEXT,
    _claim_for_forward,
    _get_message,
    _mode,
    _other_pending,
    _pending,
    _replies_of,
    _set_mode,
    _set_state,
    _store_inbound,
    _store_out,
    _store_replies_answered,
    _turn_state,
    history,  # noqa: F401 - part of the gateway's API (web chat, console)
)
from bot.policy import subscription
from bot.redis_client import SOCKET_TIMEOUT, isolated, redis_for
from bot.text import normalise

log = logging.getLogger(__name__)

RASA_TIMEOUT = 15.0
RETRY_INTERVAL = 3.0  # while this desk knows of pending messages
FULL_SCAN_INTERVAL = 60.0  # otherwise (orphans, other instances' messages)
BUSY_NOTICE = "系统繁忙，您的消息已收到，我们会尽快回复（稍后回复）"
HANDOVER_ENDED_INTENT = "EXTERNAL_handover_ended"
CLIENT_ID = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII: UUIDs, WeChat MsgIds, "user:time:kind"
TURN_LOCK_TTL_MS = 30_000  # a desk's hold on a conversation's turn, renewed while held
TURN_LOCK_POLL = 0.05  # seconds between tries while another desk has the turn
_RELEASE_TURN = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_EXTEND_TURN = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)

# ---- what the desk itself says (the one place for this wording) -----------------------------------

WELCOME_TEXT = (
    "您好！我是秦创原总窗口的智能助手「原上管家」，可以为您：\n"
    "· 解答科技政策问题（高企认定、研发费用加计扣除、人才和融资政策等）\n"
    "· 登记企业需求，转给服务专员跟进办理\n"
    "· 查询工单进度，办结后请您评价\n"
    "· 需要时转接人工服务\n"
    "请直接输入您的问题，或从下面的常见问题开始："
)
WELCOME_QUESTIONS = ("高企认定需要什么条件", "研发费用加计扣除怎么享受", "我想登记一个需求", "查询我的工单")
WELCOME_PAYLOAD = "/greet"  # what a channel sends when a user arrives (WeChat 关注): answered here
CANCEL_HANDOVER = "/cancel_handover"  # the waiting user takes the request for a person back (the desk's, not Rasa's)
CANCEL_BUTTON = {"title": "取消转人工", "payload": CANCEL_HANDOVER}
CANCEL_WORDS = frozenset(
    {
        "取消",
        "不用了",
        "取消转人工",
        "取消人工",
        "不转人工了",
        "不用转人工",
        "不用转人工了",
        "不用人工了",
        "不需要人工了",
        "不需要人工",
        "不找人工了",
        "算了不用了",
        "取消吧",
    }
)
CANCELLED_TEXT = "已取消转人工，原上管家继续为您服务。请直接输入您的问题；需要时说「转人工」即可再次联系服务专员。"
NOTHING_TO_CANCEL = "当前没有等待中的转人工请求，原上管家正在为您服务。"
ALREADY_WITH_STAFF = "服务专员已接入，正在为您服务；如不再需要人工服务，直接告诉专员即可。"
ACK_SHORT = "已收到，已转给服务专员。"
ACK_FULL = "已收到您的消息，已转给服务专员。{notice}\n如不再需要人工服务，可点「取消转人工」或回复「取消」。"
ACK_FULL_EVERY = timedelta(minutes=10)  # the full acknowledgement (wait, office hours, cancel) at most this often


def welcome_payload() -> dict:
    """The welcome as a stored message's payload: suggested questions as buttons (payload = the
    question, so a click goes through the NLU exactly like typing it)."""
    return {"buttons": [{"title": q, "payload": q} for q in WELCOME_QUESTIONS]}


ChannelSender = Callable[[web.Application, str, str, Optional[list]], Awaitable[Any]]
_CHANNEL_SENDERS: dict[str, ChannelSender] = {}


class InboundError(ValueError):
    """A message the gateway refuses before storing it; `message` is for the user (Chinese)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


def register_channel_sender(channel: str, sender: ChannelSender) -> None:
    """`await sender(app, conversation_id, text, buttons)` pushes a message out on `channel` (WeChat)."""
    _CHANNEL_SENDERS[channel] = sender


# ---- per-app state --------------------------------------------------------------------------------


class Gateway:
    def __init__(self, redis_url: str = "", redis_prefix: str = "yuanshang") -> None:
        self._locks: dict[str, list] = {}
        self.wake = asyncio.Event()
        self.tasks: set[asyncio.Task] = set()
        self.retry_interval = RETRY_INTERVAL
        self.full_scan_interval = FULL_SCAN_INTERVAL
        self.rasa_timeout = RASA_TIMEOUT
        self.has_pending = True  # unknown at start: look once
        self.redis_url = redis_url  # "" = one desk: the in-process lock is enough
        self.redis_prefix = redis_prefix

    @asynccontextmanager
    async def lock(self, conversation_id: str):
        """One turn at a time per conversation: in arrival order on this desk (asyncio.Lock is
        FIFO), and one desk at a time when several share Redis (see _cluster_lock)."""
        entry = self._locks.setdefault(conversation_id, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                async with self._cluster_lock(conversation_id):
                    yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._locks.pop(conversation_id, None)

    @asynccontextmanager
    async def _cluster_lock(self, conversation_id: str):
        """The conversation's turn across desks, held in Redis while this desk talks to Rasa.

        Rasa's own RedisLockStore does not serialise a conversation across Rasa servers: it
        issues a ticket with a GET then a SET, so two servers taking the same conversation
        within a few milliseconds both get ticket 0 and both process at once; the SQL tracker
        store then appends only the events beyond the count already saved, so the second
        message vanishes from the tracker although its reply was sent. The desks are Rasa's
        only clients, so taking the turn here keeps Rasa single-file. If Redis does not answer,
        go on without it: Rasa's lock store is down too and the message will wait as pending.
        """
        if not self.redis_url:
            yield
            return
        r = redis_for(self.redis_url)
        key = f"{self.redis_prefix}:turn:{conversation_id}"
        token = uuid.uuid4().hex
        held = False
        try:
            while not (held := await self._try_turn(r, key, token)):
                await asyncio.sleep(TURN_LOCK_POLL)
        except Exception:  # noqa: BLE001 - Redis down: Rasa cannot take the message either
            log.warning("no cross-desk turn lock for %s (Redis unavailable)", conversation_id, exc_info=True)
        keeper = asyncio.get_running_loop().create_task(self._keep_turn(r, key, token)) if held else None
        try:
            yield
        finally:
            if keeper is not None:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)
                try:
                    await isolated(r.eval(_RELEASE_TURN, 1, key, token))
                except Exception:  # noqa: BLE001 - the TTL frees it
                    log.warning("could not release the turn lock of %s", conversation_id, exc_info=True)

    @staticmethod
    async def _try_turn(r, key: str, token: str) -> bool:
        """One SET NX try. Cancelled mid-call (a desk shutting down), the SET may still land in
        Redis with no one left to release it, and every other desk would wait out the TTL for
        that conversation; so a cancelled try waits for its SET and releases its own token
        before it gives up (compare-and-delete: never someone else's turn)."""
        op = asyncio.ensure_future(r.set(key, token, nx=True, px=TURN_LOCK_TTL_MS))
        try:
            return bool(await asyncio.shield(op))
        except asyncio.CancelledError:
            try:
                if await asyncio.wait_for(asyncio.shield(op), SOCKET_TIMEOUT + 1):
                    await isolated(r.eval(_RELEASE_TURN, 1, key, token))
            except BaseException:  # noqa: BLE001 - the TTL frees it
                log.warning("could not release a cancelled turn try on %s", key, exc_info=True)
            raise

    @staticmethod
    async def _keep_turn(r, key: str, token: str) -> None:
        """A long turn (several pending messages, slow Rasa) keeps the lock; a crashed desk's expires."""
        while True:
            await asyncio.sleep(TURN_LOCK_TTL_MS / 3000)
            try:
                await isolated(r.eval(_EXTEND_TURN, 1, key, token, TURN_LOCK_TTL_MS))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - try again next period
                log.warning("could not extend the turn lock %s", key, exc_info=True)

    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


GATEWAY_KEY = web.AppKey("gateway", Gateway)


def _settings(app: web.Application):
    return app[SETTINGS_KEY]


def _client(app: web.Application) -> aiohttp.ClientSession:
    return app[CLIENT_KEY]


def _gw(app: web.Application) -> Gateway:
    return app[GATEWAY_KEY]


async def _run(fn, *args, **kwargs):
    """Database work off the event loop (SQLite may wait for its write lock)."""
    return await asyncio.to_thread(fn, *args, **kwargs)


# ---- publishing -----------------------------------------------------------------------------------


def _publish(app: web.Application, message: dict, mode: str) -> None:
    hub = app[HUB_KEY]
    cid = message["conversation_id"]
    if not message.get("internal"):
        hub.publish(f"conversation:{cid}", {"type": "message", "message": message})
    if mode != "bot" or message.get("internal"):
        hub.publish("console", {"type": "message", "conversation_id": cid, "message": message})


def publish_mode(app: web.Application, conversation_id: str, mode: str, **extra: Any) -> None:
    """Tell the user's screens and the console that the conversation's mode changed."""
    hub = app[HUB_KEY]
    hub.publish(f"conversation:{conversation_id}", {"type": "mode", "mode": mode})
    hub.publish("console", {"type": "mode", "conversation_id": conversation_id, "mode": mode, **extra})


async def _push(app: web.Application, channel: str, message: dict) -> None:
    sender = _CHANNEL_SENDERS.get(channel)
    if sender is None or message.get("internal"):
        return
    try:
        await sender(app, message["conversation_id"], message.get("text") or "", message.get("buttons") or None)
    except Exception:  # noqa: BLE001 - the message is stored; the channel's own retry is its business
        log.exception("channel %s could not deliver message %s", channel, message.get("id"))


# ---- Rasa -----------------------------------------------------------------------------------------


class RasaUnavailable(Exception):
    pass


async def _rasa_post(app: web.Application, conversation_id: str, text: str) -> list[dict]:
    st = _settings(app)
    try:
        async with _client(app).post(
            st.desk_channel_url,
            headers=st.desk_channel_headers,
            json={"sender": conversation_id, "message": text},
            timeout=aiohttp.ClientTimeout(total=_gw(app).rasa_timeout),
        ) as resp:
            if resp.status != 200:
                raise RasaUnavailable(f"HTTP {resp.status}")
            data = await resp.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        raise RasaUnavailable(type(exc).__name__) from exc
    if not isinstance(data, list):
        raise RasaUnavailable("unexpected reply")
    return [r for r in data if isinstance(r, dict)]


async def _ok(app: web.Application, url: str) -> bool:
    try:
        async with _client(app).get(url, timeout=aiohttp.ClientTimeout(total=3)) as resp:
            return resp.status == 200
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return False


async def rasa_ready(app: web.Application) -> bool:
    st = _settings(app)
    return await _ok(app, f"{st.rasa_url}/status?token={quote(st.rasa_token)}")


async def _actions_ready(app: web.Application) -> bool:
    return await _ok(app, f"{_settings(app).actions_url}/health")


async def _rasa_api(app: web.Application, method: str, path: str, body: Optional[dict] = None) -> Any:
    st = _settings(app)
    url = f"{st.rasa_url}{path}"
    try:
        async with _client(app).request(
            method,
            url,
            params={"token": st.rasa_token},
            json=body,
            timeout=aiohttp.ClientTimeout(total=_gw(app).rasa_timeout),
        ) as resp:
            if resp.status != 200:
                raise RasaUnavailable(f"{path}: HTTP {resp.status}")
            return await resp.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        raise RasaUnavailable(f"{path}: {type(exc).__name__}") from exc


async def pause_bot(app: web.Application, conversation_id: str) -> bool:
    """Pause Rasa for the conversation (staff take over); False if Rasa could not be told."""
    try:
        await _rasa_api(
            app, "POST", f"/conversations/{quote(conversation_id, safe='')}/tracker/events", {"event": "pause"}
        )
        return True
    except RasaUnavailable:
        log.warning("could not pause Rasa for %s", conversation_id, exc_info=True)
        return False


async def resume_bot(app: web.Application, conversation_id: str) -> list[dict]:
    """Resume Rasa and let the bot greet the user back (EXTERNAL_handover_ended); returns its messages."""
    cid = quote(conversation_id, safe="")
    try:
        await _rasa_api(app, "POST", f"/conversations/{cid}/tracker/events", {"event": "resume"})
        result = await _rasa_api(
            app, "POST", f"/conversations/{cid}/trigger_intent", {"name": HANDOVER_ENDED_INTENT, "entities": {}}
        )
    except RasaUnavailable:
        log.warning("could not resume Rasa for %s", conversation_id, exc_info=True)
        return []
    replies = (result or {}).get("messages") or []
    return await _store_replies(app, conversation_id, None, replies, push=True)


def _bubbles(replies: list[dict]) -> list[tuple[Optional[dict], Optional[str], Optional[dict]]]:
    """Rasa's replies as (handover marker or None, text, payload), control-only messages kept for their
    marker; the marker takes effect before the bubble that carries it."""
    out = []
    for r in replies:
        custom = r.get("custom") if isinstance(r.get("custom"), dict) else None
        handover_info = None
        if custom and isinstance(custom.get("handover"), dict):
            handover_info = custom["handover"]
            custom = {k: v for k, v in custom.items() if k != "handover"} or None
        payload = {k: v for k, v in (("buttons", r.get("buttons")), ("custom", custom), ("image", r.get("image"))) if v}
        out.append((handover_info, r.get("text"), payload or None))
    return out


async def _store_replies(
    app: web.Application,
    conversation_id: str,
    reply_to: Optional[int],
    replies: list[dict],
    push: bool,
    answered: bool = False,
) -> list[dict]:
    """Store, publish and (push=True) deliver a turn's replies; `answered`: also mark `reply_to` answered.
    A turn without a handover (nearly all) is stored in one transaction."""
    db = db_url(app)
    bubbles = _bubbles(replies)
    if not any(h for h, _, _ in bubbles):
        shown = [(text, payload) for _, text, payload in bubbles if text or payload]
        stored, mode, channel = await _run(
            _store_replies_answered, db, conversation_id, "bot", shown, reply_to if answered else None
        )
        for msg in stored:
            _publish(app, msg, mode)
            if push:
                await _push(app, channel, msg)
        return stored
    stored = []
    handover_info = None
    for info, text, payload in bubbles:
        if info is not None:
            handover_info = info
        if not text and not payload:
            continue  # a pure control message (handover marker)
        if handover_info is not None:
            await _switch_to_waiting(app, conversation_id, handover_info)
            handover_info = None
        msg, mode, channel = await _run(_store_out, db, conversation_id, "bot", text, payload, reply_to)
        _publish(app, msg, mode)
        if push:
            await _push(app, channel, msg)
        stored.append(msg)
    if handover_info is not None:
        await _switch_to_waiting(app, conversation_id, handover_info)
    if answered and reply_to is not None:
        await _run(_set_state, db, reply_to, "answered")
    return stored


async def _switch_to_waiting(app: web.Application, conversation_id: str, info: dict) -> None:
    """The bot handed over (the action already recorded it): make sure the desk agrees, tell staff."""
    await _run(_set_mode, db_url(app), conversation_id, "waiting", "bot")
    app[HUB_KEY].publish(
        "console", {"type": "handover", "action": "created", "conversation_id": conversation_id, "handover": info}
    )
    app[HUB_KEY].publish(f"conversation:{conversation_id}", {"type": "mode", "mode": "waiting"})


# ---- the turn ------------------------------------------------------------------------------------


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in JSON)
        return False


def validate(text: Any, client_msg_id: Any = None) -> Optional[str]:
    """The checks every channel shares; returns the client id as stored (long ids hashed to fit).

    Raises InboundError with the user's message."""
    if not isinstance(text, str) or not text.strip():
        raise InboundError("消息不能为空", "empty")
    if len(text) > MAX_TEXT:
        raise InboundError(f"消息过长（最多{MAX_TEXT}字）", "too_long")
    if "\x00" in text or not _encodable(text):  # neither PostgreSQL nor UTF-8 can store these
        raise InboundError("消息包含无法识别的字符，请删除后重新发送", "bad_text")
    if client_msg_id is None:
        return None
    if (
        not isinstance(client_msg_id, str)
        or not client_msg_id
        or len(client_msg_id) > 512
        or not CLIENT_ID.match(client_msg_id)
    ):
        raise InboundError("消息编号无效", "bad_request")
    if len(client_msg_id) > 64:
        client_msg_id = "h-" + hashlib.sha256(client_msg_id.encode()).hexdigest()[:62]
    return client_msg_id


async def store_inbound(
    app: web.Application,
    conversation_id: str,
    text: str,
    client_msg_id: Optional[str] = None,
    channel: str = "web",
    title: Optional[str] = None,
    choice: Optional[dict] = None,
) -> tuple[dict, bool, str]:
    """Store (or find the earlier copy of) an inbound message: (message, duplicate?, mode).

    `title`: the label of a clicked button (`text` is then its payload). `choice`: the button a
    channel already knows a typed message picks ({"title", "payload"}; WeChat's numbered options);
    without either, a typed message is matched here against the buttons just shown."""
    client_msg_id = validate(text, client_msg_id)
    if not (isinstance(choice, dict) and isinstance(choice.get("payload"), str) and choice["payload"]):
        choice = None
    else:
        choice = {"title": str(choice.get("title") or "")[:100], "payload": choice["payload"][:MAX_TEXT]}
    msg, dup, mode, _ = await _run(
        _store_inbound,
        db_url(app),
        conversation_id,
        text,
        client_msg_id,
        channel,
        title if isinstance(title, str) else None,
        choice,
    )
    if not dup:
        hub = app[HUB_KEY]
        hub.publish(f"conversation:{conversation_id}", {"type": "message", "message": msg})
    return msg, dup, mode


async def stored_replies(app: web.Application, message_id: int) -> list[dict]:
    return await _run(_replies_of, db_url(app), message_id)


async def _to_staff(app: web.Application, msg: dict) -> None:
    await _run(_set_state, db_url(app), msg["id"], "forwarded")
    msg = {**msg, "state": "forwarded"}
    app[HUB_KEY].publish("console", {"type": "user_message", "conversation_id": msg["conversation_id"], "message": msg})


def forwarded_text(msg: dict) -> str:
    """What Rasa gets for a stored inbound message: the chosen button's payload when the user typed
    an answer to buttons ("2", "非常满意"), else the text as stored."""
    choice = msg.get("choice")
    if isinstance(choice, dict) and isinstance(choice.get("payload"), str) and choice["payload"]:
        return choice["payload"]
    return msg["text"]


async def _forward(app: web.Application, msg: dict, push: bool) -> tuple[bool, list[dict]]:
    """Send one stored inbound message to Rasa; store and deliver the replies. (ok, replies)."""
    db, cid = db_url(app), msg["conversation_id"]
    if not await _run(_claim_for_forward, db, msg["id"]):
        return True, await _run(_replies_of, db, msg["id"])
    app[HUB_KEY].publish(f"conversation:{cid}", {"type": "typing"})
    text = forwarded_text(msg)
    try:
        replies = await _rasa_post(app, cid, text)
        if not replies:
            # Rasa answers nothing when the action server is down (the action's events are lost).
            if not await _actions_ready(app):
                raise RasaUnavailable("action server down")
            tracker = await _rasa_api(app, "GET", f"/conversations/{quote(cid, safe='')}/tracker", None)
            if (tracker or {}).get("paused") and await _run(ho.open_for, db, cid) is None:
                # Rasa still paused after a handover ended (resume was lost): resume and ask again.
                await _rasa_api(
                    app, "POST", f"/conversations/{quote(cid, safe='')}/tracker/events", {"event": "resume"}
                )
                replies = await _rasa_post(app, cid, text)
            elif not _took(tracker, text):
                # Rasa's REST channel answers 200 [] when it could not process the message at all
                # (lock store or tracker store down): the message never reached the tracker.
                raise RasaUnavailable("Rasa did not take the message (lock or tracker store failed)")
    except RasaUnavailable as exc:
        log.warning("Rasa unavailable for message %s: %s", msg["id"], exc)
        await _run(_set_state, db, msg["id"], "pending")
        return False, []
    return True, await _store_replies(app, cid, msg["id"], replies, push, answered=True)


def _took(tracker: Any, text: str) -> bool:
    """Whether Rasa's tracker ends with this user message (i.e. Rasa processed it)."""
    events = (tracker or {}).get("events") or []
    for e in reversed(events):
        if isinstance(e, dict) and e.get("event") == "user":
            return (e.get("text") or "").strip() == text.strip()
    return False


async def _answer_here(app: web.Application, msg: dict, text: str, author: str, payload: Optional[dict] = None) -> dict:
    """The desk answers an inbound message itself (welcome, cancel): store, publish, mark answered."""
    db = db_url(app)
    (reply,), mode, _ = await _run(
        _store_replies_answered, db, msg["conversation_id"], author, [(text, payload)], msg["id"]
    )
    _publish(app, reply, mode)
    return reply


async def process_inbound(app: web.Application, msg: dict, mode: str) -> list[dict]:
    """Route a stored inbound message by the conversation's mode; returns the replies to it."""
    command = subscription.command(forwarded_text(msg))
    if command is not None:  # 退订 / 订阅 of the policy reminders: answered here in every mode, never by Rasa
        confirm = await _run(subscription.apply, db_url(app), msg["conversation_id"], command)
        return [await _answer_here(app, msg, confirm, "system")]
    if mode == "bot":
        replies = await _bot_turn(app, msg)
        if replies is not None:
            return replies
    return await _with_staff(app, msg)


async def _bot_turn(app: web.Application, msg: dict) -> Optional[list[dict]]:
    """Rasa answers (after earlier pending messages); None if the conversation is not in bot mode."""
    cid = msg["conversation_id"]
    db = db_url(app)
    async with _gw(app).lock(cid):
        mode, earlier = await _run(_turn_state, db, cid, msg["id"])  # a handover may have happened while we waited
        if mode != "bot":
            return None
        wanted = forwarded_text(msg)
        if wanted == CANCEL_HANDOVER:  # an old 取消转人工 button, clicked after the handover ended
            return [await _answer_here(app, msg, NOTHING_TO_CANCEL, "system")]
        if wanted == WELCOME_PAYLOAD:  # a user arrives (WeChat 关注): the same welcome as the web chat
            return [await _answer_here(app, msg, WELCOME_TEXT, "bot", welcome_payload())]
        # Earlier messages that failed go first, so Rasa sees the conversation in order.
        for first in earlier:
            ok, _ = await _forward(app, first, push=True)
            if not ok or (await _run(_mode, db, cid))[0] != "bot":
                break
        else:
            ok, replies = await _forward(app, msg, push=False)
            if ok:
                return replies
        if (await _run(_mode, db, cid))[0] != "bot":
            return None
        await _run(_set_state, db, msg["id"], "pending")
        _gw(app).has_pending = True
        _gw(app).wake.set()
        if await _run(_other_pending, db, cid, msg["id"]):
            return []  # the user was already told during this outage
        notice, mode, _ = await _run(_store_out, db, cid, "system", BUSY_NOTICE, None, msg["id"])
        _publish(app, notice, mode)
        return [notice]


# ---- while staff have the conversation: acknowledge, or take the request back ---------------------

_BARE = re.compile(r"[\s\W_]+", re.UNICODE)


def wants_cancel(msg: dict) -> tuple[bool, bool]:
    """(takes the handover back?, explicitly — the button clicked or picked by number / words)."""
    if forwarded_text(msg) == CANCEL_HANDOVER:
        return True, True
    return _BARE.sub("", normalise(msg.get("text") or "")) in CANCEL_WORDS, False


async def _with_staff(app: web.Application, msg: dict) -> list[dict]:
    """Waiting or staff mode: a cancel ends a waiting handover; anything else reaches staff, and
    while nobody has claimed the conversation yet the user gets an acknowledgement at once."""
    cid = msg["conversation_id"]
    db = db_url(app)
    cancel, explicit = wants_cancel(msg)
    if cancel:
        async with _gw(app).lock(cid):
            done = await _cancel_waiting(app, msg)
        if done is not None:
            return done
    await _to_staff(app, msg)
    mode, _ = await _run(_mode, db, cid)
    if mode == "waiting":
        return [await _waiting_ack(app, msg)]
    if mode == "staff" and explicit:
        reply, mode, _ = await _run(_store_out, db, cid, "system", ALREADY_WITH_STAFF, None, msg["id"])
        _publish(app, reply, mode)
        return [reply]
    return []


async def _cancel_waiting(app: web.Application, msg: dict) -> Optional[list[dict]]:
    """End an unclaimed handover at the user's request (recorded as the user's), resume Rasa, say so.
    None when there is nothing to cancel (already claimed by staff, or no open handover)."""
    db, cid = db_url(app), msg["conversation_id"]
    h = await _run(ho.open_for, db, cid)
    if h is None or h.claimed_by is not None or (await _run(_mode, db, cid))[0] != "waiting":
        return None
    h = await _run(ho.end, db, h.id, f"user:{cid}")  # the audit trail names the user
    note, mode, _ = await _run(_store_out, db, cid, "system", "用户已取消转人工，对话回到机器人。", None, None, True)
    _publish(app, note, "waiting")  # staff see it in the conversation (internal)
    app[HUB_KEY].publish("console", {**_handover_event("ended", h), "cancelled_by": "user"})
    publish_mode(app, cid, "bot")
    try:
        await _rasa_api(app, "POST", f"/conversations/{quote(cid, safe='')}/tracker/events", {"event": "resume"})
    except RasaUnavailable:  # the next turn finds Rasa still paused with no open handover and resumes it
        log.warning("could not resume Rasa for %s after the user cancelled the handover", cid)
    return [await _answer_here(app, msg, CANCELLED_TEXT, "system")]


def _full_ack_due(db: str, conversation_id: str, now) -> Optional[tuple[str, int]]:
    """(node name, conversations ahead in its queue) when the full acknowledgement is due; None if
    one was sent within ACK_FULL_EVERY (then the short one) or nothing is waiting any more."""
    with read_sessions(db)() as s:
        recent = s.scalar(
            select(Message.id)
            .where(
                Message.conversation_id == conversation_id,
                Message.direction == "out",
                Message.author == "system",
                Message.created_at >= now - ACK_FULL_EVERY,
                Message.payload.like('%"waiting_ack": "full"%'),
            )
            .limit(1)
        )
        if recent is not None:
            return None
        h = s.scalars(
            select(Handover)
            .where(Handover.conversation_id == conversation_id, Handover.ended_at.is_(None))
            .order_by(Handover.id.desc())
        ).first()
        if h is None:
            return None
        node = s.get(ServiceNode, h.node_id) if h.node_id else None
        ahead = ho._waiting_ahead(s, h.node_id, h.id) if h.node_id else 0
        return (node.name if node else "综合服务中心"), ahead


async def _waiting_ack(app: web.Application, msg: dict) -> dict:
    """ "Received" at once while the user waits for staff: the expected wait (office-hours aware, from
    bot.handover.notice_for) and the way back to the bot, at most every ACK_FULL_EVERY; short otherwise."""
    db, cid = db_url(app), msg["conversation_id"]
    now = utcnow()
    due = await _run(_full_ack_due, db, cid, now)
    if due is None:
        text, payload = ACK_SHORT, {"custom": {"waiting_ack": "short"}}
    else:
        notice, _office = ho.notice_for(due[0], now, due[1])
        text = ACK_FULL.format(notice=notice)
        payload = {"buttons": [dict(CANCEL_BUTTON)], "custom": {"waiting_ack": "full"}}
    reply, mode, _ = await _run(_store_out, db, cid, "system", text, payload, msg["id"])
    _publish(app, reply, mode)
    return reply


async def handle_inbound(
    app: web.Application,
    conversation_id: str,
    text: str,
    client_msg_id: Optional[str] = None,
    channel: str = "web",
    title: Optional[str] = None,
    on_stored: Optional[Callable[[dict, bool], Awaitable[None]]] = None,
    choice: Optional[dict] = None,
) -> list[dict]:
    """One inbound message, end to end: store first, then bot or staff; returns the replies.

    A repeat of a client message id returns the replies stored for the first copy
    and never reaches Rasa again. Raises InboundError for empty/over-long input.
    """
    msg, dup, mode = await store_inbound(app, conversation_id, text, client_msg_id, channel, title, choice)
    if on_stored is not None:
        await on_stored(msg, dup)
    if dup:
        return await stored_replies(app, msg["id"])
    return await process_inbound(app, msg, mode)


async def send_to_user(
    app: web.Application,
    conversation_id: str,
    text: str,
    author: str,
    buttons: Optional[list[dict]] = None,
    internal: bool = False,
) -> Message:
    """A staff reply (or internal note, or system notice): store, publish, push to the channel."""
    if not (isinstance(text, str) and text.strip()) and not buttons:
        raise InboundError("消息不能为空", "empty")
    payload = {"buttons": buttons} if buttons else None
    msg, mode, channel = await _run(_store_out, db_url(app), conversation_id, author, text, payload, None, internal)
    _publish(app, msg, mode)
    if not internal:
        await _push(app, channel, msg)
    return await _run(_get_message, db_url(app), msg["id"])


# ---- retrying after an outage --------------------------------------------------------------------


async def retry_pending(app: web.Application) -> int:
    """Re-forward pending messages in order (or hand them to staff); returns how many were handled."""
    db = db_url(app)
    pending = await _run(_pending, db)
    _gw(app).has_pending = bool(pending)
    if not pending:
        return 0
    by_conv: dict[str, list[dict]] = {}
    for m in pending:
        by_conv.setdefault(m["conversation_id"], []).append(m)
    ready: Optional[bool] = None
    handled = 0
    for cid, msgs in by_conv.items():
        async with _gw(app).lock(cid):
            for m in msgs:
                mode, channel = await _run(_mode, db, cid)
                if mode != "bot":
                    await _to_staff(app, m)  # staff answer it now; no Rasa needed
                    handled += 1
                    continue
                if ready is None:
                    # Both must answer: a retry while the action server is down would only
                    # add another copy of the message to Rasa's tracker.
                    ready = await rasa_ready(app) and await _actions_ready(app)
                if not ready:
                    break
                ok, _ = await _forward(app, m, push=True)
                if not ok:
                    ready = False
                    break
                handled += 1
    _gw(app).has_pending = handled < len(pending)
    return handled


async def _retry_loop(app: web.Application) -> None:
    """Every few seconds while pending messages exist; a full look every minute otherwise."""
    gw = _gw(app)
    loop = asyncio.get_running_loop()
    last_scan = float("-inf")
    while True:
        try:
            await asyncio.wait_for(gw.wake.wait(), timeout=gw.retry_interval)
        except asyncio.TimeoutError:
            pass
        gw.wake.clear()
        if not gw.has_pending and loop.time() - last_scan < gw.full_scan_interval:
            continue
        last_scan = loop.time()
        try:
            await retry_pending(app)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep retrying; the next round may succeed
            log.exception("retrying pending messages failed")
        await asyncio.sleep(0.2)


async def _retry_ctx(app: web.Application):
    task = asyncio.get_running_loop().create_task(_retry_loop(app))
    yield
    task.cancel()
    gw = _gw(app)
    for t in list(gw.tasks):
        t.cancel()
    await asyncio.gather(task, *gw.tasks, return_exceptions=True)


# ---- handover operations for the console (core in bot/handover.py, plus Rasa and live updates) ----


def _handover_event(action: str, h) -> dict:
    return {
        "type": "handover",
        "action": action,
        "conversation_id": h.conversation_id,
        "handover": {"id": h.id, "node": h.node_id, "reason": h.reason, "claimed_by": h.claimed_by},
    }


async def claim_handover(app: web.Application, handover_id: int, staff) -> Any:
    """Staff claims a waiting conversation (raises HandoverError if someone else was first)."""
    h = await _run(ho.claim, db_url(app), handover_id, staff)
    app[HUB_KEY].publish("console", _handover_event("claimed", h))
    publish_mode(app, h.conversation_id, "staff")
    await send_to_user(app, h.conversation_id, f"服务专员{staff.display_name}已接入，正在为您服务。", "system")
    return h


async def transfer_handover(
    app: web.Application,
    handover_id: int,
    node_id: Optional[str] = None,
    staff_id: Optional[int] = None,
    actor: Any = "system",
) -> Any:
    h = await _run(ho.transfer, db_url(app), handover_id, node_id, staff_id, actor)
    app[HUB_KEY].publish("console", _handover_event("transferred", h))
    publish_mode(app, h.conversation_id, "staff" if h.claimed_by else "waiting")
    await send_to_user(app, h.conversation_id, "您的对话已转交给其他服务专员，请稍候。", "system")
    return h


async def end_handover(app: web.Application, handover_id: int, actor: Any = "system") -> Any:
    """Staff are done: record it, resume the bot (it greets the user back and asks for a rating)."""
    h = await _run(ho.end, db_url(app), handover_id, actor)
    app[HUB_KEY].publish("console", _handover_event("ended", h))
    publish_mode(app, h.conversation_id, "bot")
    async with _gw(app).lock(h.conversation_id):
        await resume_bot(app, h.conversation_id)
    return h


async def take_over(app: web.Application, conversation_id: str, staff) -> Any:
    """Staff take over a conversation the bot is handling: pause Rasa, claim at once."""
    async with _gw(app).lock(conversation_id):
        h = await _run(ho.takeover, db_url(app), conversation_id, staff)
        await pause_bot(app, conversation_id)
    app[HUB_KEY].publish("console", _handover_event("claimed", h))
    publish_mode(app, conversation_id, "staff")
    await send_to_user(app, conversation_id, f"服务专员{staff.display_name}已接入，正在为您服务。", "system")
    _gw(app).has_pending = True
    _gw(app).wake.set()  # messages pending from an outage now go to staff
    return h


def setup(app: web.Application) -> None:
    """Gateway state and the background retry task (called by bot.desk.chat.setup)."""
    if GATEWAY_KEY in app:
        return
    st = _settings(app)
    app[GATEWAY_KEY] = Gateway(st.redis_url, st.redis_prefix)
    app.cleanup_ctx.append(_retry_ctx)
