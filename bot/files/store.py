"""Files in the service database: receive one from an enterprise, send one from staff, read one back, and
the personal-data side (export, erase) used by bot.privacy.

Each call is one transaction. A received file is stored the way a chat message is, before anything else
happens: its bytes (`file_blobs`, once per SHA-256), an `attachments` row and a chat message (direction
"in", text "[图片] name" / "[文件] name", payload {"file": {...}}) that the chat, the console and the
handover transcript show like any other. It never goes to Rasa (the state is "answered" in bot mode,
"forwarded" while staff have the conversation). When the conversation has an open ticket (the open
handover's, else its newest ticket not yet closed) the file is attached to it: attachments.ticket_id and
a ticket event "attachment" naming the file. A resend with the same client message id returns the first
copy (nothing stored twice).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Optional

from sqlalchemy import delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import dialect_insert, read_sessions, sessions
from bot.db.conversations import ensure_conversation
from bot.db.schema import Attachment, Conversation, FileBlob, Handover, Message, Ticket, TicketEvent, utcnow
from bot.files.sniff import IMAGE, FileRefused, Sniffed
from bot.tickets import lifecycle as lc

CHUNK = 500


@dataclass
class Stored:
    """What storing a file produced: the chat message, the file's metadata, where it went."""

    message_id: int
    file: dict  # {"id", "name", "kind", "mime", "size"}: the message payload's "file"
    duplicate: bool
    mode: str  # the conversation's mode (bot / waiting / staff)
    channel: str
    ticket_number: Optional[str]  # the ticket it was attached to, if any


def label(kind: str, name: str) -> str:
    """The message text of a file: what transcripts, exports and text-only channels show."""
    return f"[{'图片' if kind == IMAGE else '文件'}] {name}"


def file_meta(a: Attachment) -> dict:
    return {"id": a.id, "name": a.name, "kind": a.kind, "mime": a.mime, "size": a.size}


def _put_blob(s: Session, data: bytes, now: datetime) -> str:
    sha = hashlib.sha256(data).hexdigest()
    ins = dialect_insert(s, FileBlob)
    s.execute(
        ins.values(sha256=sha, size=len(data), data=data, created_at=now).on_conflict_do_nothing(
            index_elements=["sha256"]
        )
    )
    return sha


def open_ticket(s: Session, conversation_id: str) -> Optional[Ticket]:
    """The ticket a file of this conversation belongs to: the open handover's ticket, else the newest
    ticket of the conversation that is not closed; None when there is none."""
    h = s.scalars(
        select(Handover)
        .where(Handover.conversation_id == conversation_id, Handover.ended_at.is_(None))
        .order_by(Handover.id.desc())
        .limit(1)
    ).first()
    if h is not None and h.ticket_id is not None:
        t = s.get(Ticket, h.ticket_id)
        if t is not None and t.status not in lc.FINAL_STATES:
            return t
    return s.scalars(
        select(Ticket)
        .where(Ticket.conversation_id == conversation_id, Ticket.status.not_in(tuple(lc.FINAL_STATES)))
        .order_by(Ticket.id.desc())
        .limit(1)
    ).first()


def _attach(s: Session, a: Attachment, ticket: Optional[Ticket], actor: str, now: datetime) -> Optional[str]:
    if ticket is None:
        return None
    a.ticket_id = ticket.id
    s.add(
        TicketEvent(
            ticket_id=ticket.id,
            at=now,
            actor=actor[:128],
            action="attachment",
            field="file",
            after=a.name,
            note=f"附件 #{a.id}（{a.mime}，{a.size} 字节）",
        )
    )
    ticket.updated_at = now
    return ticket.number


def _add(
    s: Session, conversation_id: str, data: bytes, name: str, found: Sniffed, sender: str, channel: str, now: datetime
) -> Attachment:
    sha = _put_blob(s, data, now)
    a = Attachment(
        conversation_id=conversation_id,
        sender=sender[:96],
        channel=channel[:32],
        name=name,
        kind=found.kind,
        mime=found.mime,
        size=len(data),
        sha256=sha,
        created_at=now,
    )
    s.add(a)
    s.flush()
    return a


def _within_budget(s: Session, conversation_id: str, size: int, daily_bytes: int, now: datetime) -> None:
    """What one conversation sends in 24 hours is capped: the files live in the database, and the message
    rate limits alone would let a conversation store gigabytes an hour."""
    if daily_bytes <= 0:
        return
    used = (
        s.scalar(
            select(func.coalesce(func.sum(Attachment.size), 0)).where(
                Attachment.conversation_id == conversation_id,
                Attachment.sender == "user",
                Attachment.created_at >= now - timedelta(days=1),
            )
        )
        or 0
    )
    if used + size > daily_bytes:
        raise FileRefused(
            f"今天发送的文件已达上限（{daily_bytes // (1024 * 1024)} MB），请明天再发送；"
            "如急需提交材料，请联系服务专员",
            "daily_limit",
            429,
        )


def receive(
    db_url: str,
    conversation_id: str,
    data: bytes,
    name: str,
    found: Sniffed,
    channel: str,
    client_msg_id: Optional[str] = None,
    now: Optional[datetime] = None,
    daily_bytes: int = 0,
) -> Stored:
    """A file from the enterprise (already checked: bot.files.sniff.check), stored with its chat message;
    FileRefused (429) beyond `daily_bytes` sent by the conversation in 24 hours (0: no cap)."""
    for attempt in (1, 2):
        try:
            with sessions(db_url).begin() as s:
                now = now or utcnow()
                conv = ensure_conversation(s, conversation_id, channel, now)
                if client_msg_id:
                    first = s.scalars(
                        select(Message).where(
                            Message.conversation_id == conversation_id, Message.client_msg_id == client_msg_id
                        )
                    ).first()
                    if first is not None:
                        a = s.scalars(select(Attachment).where(Attachment.message_id == first.id)).first()
                        ticket = s.get(Ticket, a.ticket_id) if a is not None and a.ticket_id else None
                        return Stored(
                            first.id,
                            file_meta(a) if a is not None else {},
                            True,
                            conv.mode,
                            conv.channel,
                            ticket.number if ticket else None,
                        )
                _within_budget(s, conversation_id, len(data), daily_bytes, now)
                a = _add(s, conversation_id, data, name, found, "user", channel, now)
                number = _attach(s, a, open_ticket(s, conversation_id), f"user:{conversation_id}", now)
                meta = file_meta(a)
                m = Message(
                    conversation_id=conversation_id,
                    direction="in",
                    author="user",
                    text=label(found.kind, name),
                    payload=json.dumps({"file": meta}, ensure_ascii=False),
                    client_msg_id=client_msg_id,
                    created_at=now,
                    state="answered" if conv.mode == "bot" else "forwarded",
                )
                s.add(m)
                s.flush()
                a.message_id = m.id
                conv.last_user_at = conv.updated_at = now
                return Stored(m.id, meta, False, conv.mode, conv.channel, number)
        except IntegrityError:
            if attempt == 2:  # the same client id stored concurrently: the second pass finds it
                raise
    raise AssertionError("unreachable")


def send(
    db_url: str,
    conversation_id: str,
    data: bytes,
    name: str,
    found: Sniffed,
    author: str,
    now: Optional[datetime] = None,
) -> Stored:
    """A file from staff to the enterprise: stored as an outgoing message, attached to the open ticket."""
    with sessions(db_url).begin() as s:
        now = now or utcnow()
        conv = s.get(Conversation, conversation_id)
        if conv is None:
            raise LookupError(conversation_id)
        a = _add(s, conversation_id, data, name, found, author, "console", now)
        number = _attach(s, a, open_ticket(s, conversation_id), author, now)
        meta = file_meta(a)
        m = Message(
            conversation_id=conversation_id,
            direction="out",
            author=author,
            text=label(found.kind, name),
            payload=json.dumps({"file": meta}, ensure_ascii=False),
            state="stored",
            created_at=now,
        )
        s.add(m)
        s.flush()
        a.message_id = m.id
        conv.updated_at = now
        return Stored(m.id, meta, False, conv.mode, conv.channel, number)


@dataclass
class FileRow:
    id: int
    conversation_id: str
    message_id: Optional[int]
    ticket_id: Optional[int]
    sender: str
    name: str
    kind: str
    mime: str
    size: int
    sha256: str
    created_at: datetime


def _row(a: Attachment) -> FileRow:
    return FileRow(
        a.id,
        a.conversation_id,
        a.message_id,
        a.ticket_id,
        a.sender,
        a.name,
        a.kind,
        a.mime,
        a.size,
        a.sha256,
        a.created_at,
    )


def get(db_url: str, attachment_id: int, with_data: bool = True) -> tuple[Optional[FileRow], Optional[bytes]]:
    """(row, bytes) of one file; (None, None) when there is no such file."""
    with read_sessions(db_url)() as s:
        a = s.get(Attachment, attachment_id)
        if a is None:
            return None, None
        data = s.scalar(select(FileBlob.data).where(FileBlob.sha256 == a.sha256)) if with_data else None
        return _row(a), (bytes(data) if data is not None else None)


def for_ticket(db_url: str, ticket_id: int) -> list[FileRow]:
    with read_sessions(db_url)() as s:
        return [
            _row(a)
            for a in s.scalars(select(Attachment).where(Attachment.ticket_id == ticket_id).order_by(Attachment.id))
        ]


# ---- personal data (bot.privacy) -----------------------------------------------------------------


def _chunks(values: Iterable, size: int = CHUNK):
    items = sorted(values, key=str)
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _of(s: Session, conversation_ids: Iterable[str], ticket_ids: Iterable[int]) -> list[Attachment]:
    found: dict[int, Attachment] = {}
    for chunk in _chunks(set(conversation_ids)):
        found.update({a.id: a for a in s.scalars(select(Attachment).where(Attachment.conversation_id.in_(chunk)))})
    for chunk in _chunks(set(ticket_ids)):
        found.update({a.id: a for a in s.scalars(select(Attachment).where(Attachment.ticket_id.in_(chunk)))})
    return [found[k] for k in sorted(found)]


def export(s: Session, conversation_ids: Iterable[str], ticket_ids: Iterable[int]) -> list[dict]:
    """Every file of these conversations and tickets with its content (base64): an export is complete."""
    out = []
    for a in _of(s, conversation_ids, ticket_ids):
        data = s.scalar(select(FileBlob.data).where(FileBlob.sha256 == a.sha256))
        out.append(
            {
                "id": a.id,
                "conversation_id": a.conversation_id,
                "ticket_id": a.ticket_id,
                "sender": a.sender,
                "channel": a.channel,
                "name": a.name,
                "kind": a.kind,
                "mime": a.mime,
                "size": a.size,
                "sha256": a.sha256,
                "created_at": a.created_at.isoformat() if a.created_at else None,
                "content_base64": base64.b64encode(bytes(data)).decode("ascii") if data is not None else None,
            }
        )
    return out


def erase(s: Session, conversation_ids: Iterable[str], ticket_ids: Iterable[int] = ()) -> int:
    """Delete the files of these conversations and tickets, and the bytes no other file shares; the number
    of files deleted. Runs before the messages go (attachments refer to them)."""
    rows = _of(s, conversation_ids, ticket_ids)
    if not rows:
        return 0
    shas = {a.sha256 for a in rows}
    for chunk in _chunks([a.id for a in rows]):
        s.execute(delete(Attachment).where(Attachment.id.in_(chunk)).execution_options(synchronize_session=False))
    for chunk in _chunks(shas):
        s.execute(
            delete(FileBlob)
            .where(FileBlob.sha256.in_(chunk), ~exists().where(Attachment.sha256 == FileBlob.sha256))
            .execution_options(synchronize_session=False)
        )
    return len(rows)
