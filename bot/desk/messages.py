"""The desk's message store: conversations and messages as rows (synchronous; the gateway runs these in a thread).

Every message is stored before anything else happens to it: inbound with its client id (a retry is the same
row), outbound with the inbound it answers; the forwarding state of an inbound (stored → forwarding → done /
pending) and the conversation's mode (bot / waiting / staff) live here too. Turn logic, Rasa and publishing are
in bot/desk/gateway.py.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Optional

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.db import read_sessions, sessions
from bot.db.conversations import ensure_conversation
from bot.db.schema import Conversation, Message, utcnow
from bot.dialogue.options import match_option

MAX_TEXT = 2000
STALE_STORED = timedelta(minutes=2)  # an inbound left "stored" this long was orphaned (desk restart)
RECENT_FOR_OPTIONS = 8  # messages read back to find the buttons a typed answer may pick


def message_dict(m: Message) -> dict[str, Any]:
    """The JSON form every client sees (chat page, console, channel senders)."""
    payload = json.loads(m.payload) if m.payload else {}
    d = {
        "id": m.id,
        "conversation_id": m.conversation_id,
        "direction": m.direction,
        "author": m.author,
        "text": m.text,
        "buttons": payload.get("buttons") or [],
        "created_at": m.created_at.isoformat() if m.created_at else None,
        "client_msg_id": m.client_msg_id,
    }
    if payload.get("title"):
        d["title"] = payload["title"]  # a quick-reply button's label (text holds its payload)
    if isinstance(payload.get("choice"), dict):
        d["choice"] = payload["choice"]  # typed answer to buttons: {"title", "payload"} (text: as typed)
    if payload.get("image"):
        d["image"] = payload["image"]
    if isinstance(payload.get("file"), dict):
        d["file"] = payload["file"]  # a file sent in the chat (bot.files): {"id", "name", "kind", "mime", "size"}
    if m.internal:
        d["internal"] = True
    return d


def _latest_buttons(s, conversation_id: str) -> list[dict]:
    """The buttons a typed answer may pick: those of the latest outgoing message that has any,
    among the messages since the user last wrote (once the user typed something else, older
    buttons no longer count). One indexed read of the conversation's last few messages."""
    rows = s.execute(
        select(Message.direction, Message.payload)
        .where(Message.conversation_id == conversation_id, Message.internal.is_(False))
        .order_by(Message.id.desc())
        .limit(RECENT_FOR_OPTIONS)
    ).all()
    for direction, payload in rows:
        if direction == "in":
            return []
        if payload:
            try:
                buttons = (json.loads(payload) or {}).get("buttons")
            except (ValueError, AttributeError):
                continue
            if buttons:
                return buttons
    return []


def typed_choice(text: str, buttons: list[dict]) -> Optional[dict]:
    """{"title", "payload"} of the button a typed (not clicked) message picks, if it changes anything."""
    if text.startswith("/"):
        return None
    b = match_option(text, buttons)
    if b is None or b["payload"] == text:
        return None
    return {"title": str(b["title"])[:100], "payload": str(b["payload"])[:MAX_TEXT]}


def _store_inbound(
    db: str,
    conversation_id: str,
    text: str,
    client_msg_id: Optional[str],
    channel: str,
    title: Optional[str],
    choice: Optional[dict] = None,
) -> tuple[dict, bool, str, str]:
    """(message, duplicate?, mode, channel). A known client id returns the first message instead.

    A typed message (no button label) that answers the buttons just shown is stored as typed,
    with the chosen button beside it (`choice`); the gateway forwards the button's payload."""
    for attempt in (1, 2):
        try:
            with sessions(db).begin() as s:
                conv = ensure_conversation(s, conversation_id, channel)
                if client_msg_id:
                    first = s.scalars(
                        select(Message).where(
                            Message.conversation_id == conversation_id, Message.client_msg_id == client_msg_id
                        )
                    ).first()
                    if first is not None:
                        return message_dict(first), True, conv.mode, conv.channel
                if choice is None and not title:
                    choice = typed_choice(text, _latest_buttons(s, conversation_id))
                now = utcnow()
                data = {k: v for k, v in (("title", title[:100] if title else None), ("choice", choice)) if v}
                payload = json.dumps(data, ensure_ascii=False) if data else None
                m = Message(
                    conversation_id=conversation_id,
                    direction="in",
                    author="user",
                    text=text,
                    payload=payload,
                    client_msg_id=client_msg_id,
                    state="stored",
                    created_at=now,
                )
                s.add(m)
                conv.last_user_at = conv.updated_at = now
                s.flush()
                return message_dict(m), False, conv.mode, conv.channel
        except IntegrityError:
            if attempt == 2:  # the same client id stored concurrently: the second pass finds it
                raise
    raise AssertionError("unreachable")


def _store_out(
    db: str,
    conversation_id: str,
    author: str,
    text: Optional[str],
    payload: Optional[dict],
    reply_to: Optional[int] = None,
    internal: bool = False,
) -> tuple[dict, str, str]:
    """Store an outgoing message; returns (message, mode, channel)."""
    with sessions(db).begin() as s:
        conv = ensure_conversation(s, conversation_id, "rest")
        m = Message(
            conversation_id=conversation_id,
            direction="out",
            author=author,
            text=text,
            payload=json.dumps(payload, ensure_ascii=False) if payload else None,
            reply_to=reply_to,
            state="stored",
            internal=internal,
            created_at=utcnow(),
        )
        s.add(m)
        conv.updated_at = utcnow()
        s.flush()
        return message_dict(m), conv.mode, conv.channel


def _store_replies_answered(
    db: str,
    conversation_id: str,
    author: str,
    replies: list[tuple[Optional[str], Optional[dict]]],
    answered: Optional[int],
) -> tuple[list[dict], str, str]:
    """Store a turn's replies and mark the message they answer as answered, in one transaction:
    one commit (one fsync on SQLite) per bot turn instead of one per bubble, and never a
    message marked answered without its replies (or replies whose message still looks unanswered)."""
    with sessions(db).begin() as s:
        conv = ensure_conversation(s, conversation_id, "rest")
        now = utcnow()
        rows = [
            Message(
                conversation_id=conversation_id,
                direction="out",
                author=author,
                text=text,
                payload=json.dumps(payload, ensure_ascii=False) if payload else None,
                reply_to=answered,
                state="stored",
                internal=False,
                created_at=now,
            )
            for text, payload in replies
        ]
        s.add_all(rows)
        conv.updated_at = now
        if answered is not None:
            s.execute(
                update(Message)
                .where(Message.id == answered)
                .values(state="answered")
                .execution_options(synchronize_session=False)
            )
        s.flush()
        return [message_dict(m) for m in rows], conv.mode, conv.channel


def _claim_for_forward(db: str, message_id: int) -> bool:
    """stored/pending → forwarded; False if another task or desk instance already took it."""
    with sessions(db).begin() as s:
        res = s.execute(
            update(Message)
            .where(Message.id == message_id, Message.state.in_(("stored", "pending")))
            .values(state="forwarded")
            .execution_options(synchronize_session=False)
        )
        return res.rowcount == 1


def _set_state(db: str, message_id: int, state: str) -> None:
    with sessions(db).begin() as s:
        s.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(state=state)
            .execution_options(synchronize_session=False)
        )


def _mode(db: str, conversation_id: str) -> tuple[str, str]:
    with read_sessions(db)() as s:
        conv = s.get(Conversation, conversation_id)
        return (conv.mode, conv.channel) if conv else ("bot", "rest")


def _set_mode(db: str, conversation_id: str, mode: str, only_from: Optional[str] = None) -> bool:
    with sessions(db).begin() as s:
        q = update(Conversation).where(Conversation.id == conversation_id)
        if only_from is not None:
            q = q.where(Conversation.mode == only_from)
        return (
            s.execute(q.values(mode=mode, updated_at=utcnow()).execution_options(synchronize_session=False)).rowcount
            == 1
        )


def _get_message(db: str, message_id: int) -> Optional[Message]:
    with read_sessions(db)() as s:
        return s.get(Message, message_id)


def _replies_of(db: str, message_id: int) -> list[dict]:
    with read_sessions(db)() as s:
        return [
            message_dict(m)
            for m in s.scalars(
                select(Message).where(Message.reply_to == message_id, Message.internal.is_(False)).order_by(Message.id)
            )
        ]


def _other_pending(db: str, conversation_id: str, message_id: int) -> bool:
    with read_sessions(db)() as s:
        return (
            s.scalar(
                select(Message.id)
                .where(
                    Message.conversation_id == conversation_id,
                    Message.direction == "in",
                    Message.state == "pending",
                    Message.id != message_id,
                )
                .limit(1)
            )
            is not None
        )


def _pending(db: str, conversation_id: Optional[str] = None, before: Optional[int] = None) -> list[dict]:
    """Inbound messages waiting for a retry (and orphaned "stored" ones), oldest first."""
    stale = utcnow() - STALE_STORED
    with read_sessions(db)() as s:
        q = select(Message).where(
            Message.direction == "in",
            (Message.state == "pending") | ((Message.state == "stored") & (Message.created_at < stale)),
        )
        if conversation_id is not None:
            q = q.where(Message.conversation_id == conversation_id)
        if before is not None:
            q = q.where(Message.id < before)
        return [message_dict(m) for m in s.scalars(q.order_by(Message.id).limit(500))]


def _turn_state(db: str, conversation_id: str, message_id: int) -> tuple[str, list[dict]]:
    """(mode, earlier inbound messages still to forward) in one read: what a bot turn checks first."""
    return _mode(db, conversation_id)[0], _pending(db, conversation_id, message_id)


def history(
    db: str, conversation_id: str, after: int = 0, limit: int = 200, include_internal: bool = False
) -> list[dict]:
    """Stored messages after id `after`, oldest first (the chat page hides internal notes)."""
    with read_sessions(db)() as s:
        q = select(Message).where(Message.conversation_id == conversation_id, Message.id > after)
        if not include_internal:
            q = q.where(Message.internal.is_(False))
        return [message_dict(m) for m in s.scalars(q.order_by(Message.id).limit(limit))]
