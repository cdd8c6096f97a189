"""Find, export, erase and age out the personal data of the service database (see the package docstring).

All functions take an open SQLAlchemy Session (2.0 style, runs on 1.4) and never commit: the caller's
transaction decides (the scheduler commits the purge with its exactly-once mark; the CLI and the console
commit the erasure with its audit row).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Optional

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, delete, func, inspect, or_, select, update
from sqlalchemy.orm import Session

from bot.db.schema import (
    ConsoleAudit,
    Contact,
    Conversation,
    Enterprise,
    Handover,
    KbQuery,
    Message,
    Notification,
    PolicyPush,
    PolicyPushOptOut,
    Rating,
    Ticket,
    TicketEvent,
    VerificationCode,
)
from bot.files import store as file_store
from bot.logmask import mask

ANON_NAME = "（已匿名）"
ANON_TEXT = "（个人信息已删除）"
ANON_ACTOR = "user:（已匿名）"
CHUNK = 500  # ids per IN (...) clause

_MOBILE = re.compile(r"^1[3-9]\d{9}$")


class SelectorError(ValueError):
    """A selector that names nobody or is malformed; the message is Chinese and names the field."""


def normalise_mobile(raw: str) -> str:
    """'139 1234-5678', '+86 13912345678', full-width digits → '13912345678'; anything else: SelectorError."""
    if not isinstance(raw, str):
        raise SelectorError("手机号应为文本")
    text = raw.translate(str.maketrans("０１２３４５６７８９＋", "0123456789+"))
    text = re.sub(r"[\s\-()]", "", text)
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    if not _MOBILE.match(text):
        raise SelectorError("手机号格式不正确（应为 11 位大陆手机号，如 13912345678）")
    return text


def check_conversation_id(raw: Optional[str]) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise SelectorError("会话编号不能为空")
    raw = raw.strip()
    if len(raw) > 128 or "\x00" in raw or any(ord(c) < 32 for c in raw):
        raise SelectorError("会话编号格式不正确")
    return raw


def _chunks(values: Iterable, size: int = CHUNK):
    items = sorted(values, key=str)
    for i in range(0, len(items), size):
        yield items[i : i + size]


@dataclass
class Subject:
    """Everything that belongs to one person: their contact rows, conversations and tickets."""

    selector: str  # "mobile:139****5678" / "conversation:<id>" (masked)
    contact_ids: set = field(default_factory=set)
    conversation_ids: set = field(default_factory=set)
    ticket_ids: set = field(default_factory=set)
    mobiles: set = field(default_factory=set)  # the selector's and the contacts' (verification codes)

    @property
    def empty(self) -> bool:
        return not (self.contact_ids or self.conversation_ids or self.ticket_ids)


def find_subject(s: Session, *, mobile: Optional[str] = None, conversation: Optional[str] = None) -> Subject:
    """The person selected by exactly one of a mobile number or a conversation id."""
    if (mobile is None) == (conversation is None):
        raise SelectorError("请只指定手机号或会话编号中的一个")
    if mobile is not None:
        number = normalise_mobile(mobile)
        subject = Subject(f"mobile:{mask(number)}")
        contacts = s.execute(select(Contact.id, Contact.sender_id).where(Contact.mobile == number)).all()
        subject.mobiles.add(number)
    else:
        cid = check_conversation_id(conversation)
        subject = Subject(f"conversation:{cid}")
        contacts = s.execute(select(Contact.id, Contact.sender_id).where(Contact.sender_id == cid)).all()
        exists = any(
            s.scalar(select(func.count()).select_from(t).where(col == cid))
            for t, col in (
                (Conversation, Conversation.id),
                (Message, Message.conversation_id),
                (KbQuery, KbQuery.conversation_id),
                (Handover, Handover.conversation_id),
                (Ticket, Ticket.conversation_id),
            )
        )
        if exists:
            subject.conversation_ids.add(cid)
    subject.contact_ids = {c.id for c in contacts}
    for chunk in _chunks(subject.contact_ids):
        subject.mobiles |= set(
            s.scalars(select(Contact.mobile).where(Contact.id.in_(chunk), Contact.mobile.is_not(None)))
        )
    subject.conversation_ids |= {c.sender_id for c in contacts if c.sender_id}
    for chunk in _chunks(subject.contact_ids):
        subject.ticket_ids |= set(s.scalars(select(Ticket.id).where(Ticket.contact_id.in_(chunk))))
    for chunk in _chunks(subject.conversation_ids):
        subject.ticket_ids |= set(s.scalars(select(Ticket.id).where(Ticket.conversation_id.in_(chunk))))
    return subject


def subject_nodes(s: Session, subject: Subject) -> set:
    """Service nodes the subject's tickets, conversations and handovers belong to (None: unrouted)."""
    nodes: set = set()
    for chunk in _chunks(subject.ticket_ids):
        nodes |= set(s.scalars(select(Ticket.node_id).where(Ticket.id.in_(chunk))))
    for chunk in _chunks(subject.conversation_ids):
        nodes |= set(s.scalars(select(Conversation.node_id).where(Conversation.id.in_(chunk))))
        nodes |= set(s.scalars(select(Handover.node_id).where(Handover.conversation_id.in_(chunk))))
    return nodes


# ---- export ----------------------------------------------------------------------------------------------


def _iso(dt: Optional[datetime]) -> Optional[str]:
    return dt.isoformat() if dt else None


def _json_or_text(raw: Optional[str]):
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def export(s: Session, subject: Subject, now: datetime) -> dict:
    """Everything held about the subject, as JSON-ready data (Chinese keys would hinder tools: English)."""
    out: dict = {
        "selector": subject.selector,
        "exported_at": _iso(now),
        "contacts": [],
        "tickets": [],
        "conversations": [],
        "handovers": [],
        "question_logs": [],
        "notifications": [],
        "files": [],
        "verification_codes": [],
        "policy_pushes": [],
        "policy_push_optouts": [],
    }
    for chunk in _chunks(subject.contact_ids):
        for c, ent in s.execute(
            select(Contact, Enterprise)
            .join(Enterprise, Enterprise.id == Contact.enterprise_id)
            .where(Contact.id.in_(chunk))
            .order_by(Contact.id)
        ):
            out["contacts"].append(
                {
                    "id": c.id,
                    "name": c.name,
                    "mobile": c.mobile,
                    "enterprise": ent.name,
                    "credit_code": ent.credit_code,
                    "chat_identity": c.sender_id,
                    "channel": c.channel,
                    "created_at": _iso(c.created_at),
                }
            )
    for chunk in _chunks(subject.ticket_ids):
        for t in s.scalars(select(Ticket).where(Ticket.id.in_(chunk)).order_by(Ticket.id)):
            events = [
                {
                    "at": _iso(e.at),
                    "actor": e.actor,
                    "action": e.action,
                    "field": e.field,
                    "before": e.before,
                    "after": e.after,
                    "note": e.note,
                }
                for e in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.id))
            ]
            ratings = [
                {"score": r.score, "comment": r.comment, "created_at": _iso(r.created_at)}
                for r in s.scalars(select(Rating).where(Rating.ticket_id == t.id).order_by(Rating.id))
            ]
            out["tickets"].append(
                {
                    "number": t.number,
                    "category": t.category,
                    "status": t.status,
                    "node": t.node_id,
                    "description": t.description,
                    "channel": t.source_channel,
                    "conversation_id": t.conversation_id,
                    "created_at": _iso(t.created_at),
                    "resolved_at": _iso(t.resolved_at),
                    "events": events,
                    "ratings": ratings,
                }
            )
    for chunk in _chunks(subject.conversation_ids):
        convs = {c.id: c for c in s.scalars(select(Conversation).where(Conversation.id.in_(chunk)))}
        for cid in chunk:
            c = convs.get(cid)
            msgs = [
                {
                    "id": m.id,
                    "direction": m.direction,
                    "author": m.author,
                    "text": m.text,
                    "payload": _json_or_text(m.payload),
                    "created_at": _iso(m.created_at),
                }
                for m in s.scalars(
                    select(Message)
                    .where(Message.conversation_id == cid, Message.internal.is_(False))
                    .order_by(Message.id)
                )
            ]
            out["conversations"].append(
                {
                    "id": cid,
                    "channel": c.channel if c else None,
                    "created_at": _iso(c.created_at) if c else None,
                    "last_activity": _iso(c.updated_at) if c else None,
                    "messages": msgs,
                }
            )
        for h in s.scalars(select(Handover).where(Handover.conversation_id.in_(chunk)).order_by(Handover.id)):
            out["handovers"].append(
                {
                    "conversation_id": h.conversation_id,
                    "reason": h.reason,
                    "created_at": _iso(h.created_at),
                    "transcript": _json_or_text(h.transcript),
                    "profile": _json_or_text(h.profile),
                    "rating": h.rating,
                    "rated_at": _iso(h.rated_at),
                }
            )
        for q in s.scalars(select(KbQuery).where(KbQuery.conversation_id.in_(chunk)).order_by(KbQuery.id)):
            out["question_logs"].append(
                {
                    "conversation_id": q.conversation_id,
                    "asked_at": _iso(q.asked_at),
                    "text": q.text,
                    "answer": q.decision,
                    "helpful": q.helpful,
                }
            )
        recipients = [f"sender:{cid}" for cid in chunk]
        for n in s.scalars(
            select(Notification).where(Notification.recipient.in_(recipients)).order_by(Notification.id)
        ):
            out["notifications"].append(
                {"kind": n.kind, "body": n.body, "created_at": _iso(n.created_at), "delivered_at": _iso(n.delivered_at)}
            )
    out["files"] = file_store.export(s, subject.conversation_ids, subject.ticket_ids)  # with their content
    seen_codes: set = set()
    for column, values in (
        (VerificationCode.sender_id, subject.conversation_ids),
        (VerificationCode.mobile, subject.mobiles),
    ):
        for chunk in _chunks(values):
            for v in s.scalars(select(VerificationCode).where(column.in_(chunk)).order_by(VerificationCode.id)):
                if v.id not in seen_codes:  # the code itself is only ever stored hashed: not exported
                    seen_codes.add(v.id)
                    out["verification_codes"].append(
                        {
                            "conversation_id": v.sender_id,
                            "mobile": v.mobile,
                            "sent_at": _iso(v.created_at),
                            "expires_at": _iso(v.expires_at),
                            "attempts": v.attempts,
                            "used_at": _iso(v.used_at),
                        }
                    )
    seen_pushes: set = set()
    for column, values in (
        (PolicyPush.conversation_id, subject.conversation_ids),
        (PolicyPush.contact_id, subject.contact_ids),
    ):
        for chunk in _chunks(values):
            for p in s.scalars(select(PolicyPush).where(column.in_(chunk)).order_by(PolicyPush.id)):
                if p.id not in seen_pushes:
                    seen_pushes.add(p.id)
                    out["policy_pushes"].append(
                        {
                            "policy": p.policy_name,
                            "reason": p.reason,
                            "channel": p.channel,
                            "conversation_id": p.conversation_id,
                            "body": p.body,
                            "deadline": p.deadline.isoformat() if p.deadline else None,
                            "sent_at": _iso(p.created_at),
                        }
                    )
    for chunk in _chunks(subject.conversation_ids):
        for o in s.scalars(select(PolicyPushOptOut).where(PolicyPushOptOut.sender_id.in_(chunk))):
            out["policy_push_optouts"].append({"conversation_id": o.sender_id, "opted_out_at": _iso(o.opted_out_at)})
    return out


# ---- erasure (also the retention's building blocks) -------------------------------------------------------


@dataclass
class Erased:
    messages: int = 0
    conversations: int = 0
    transcripts: int = 0
    question_logs: int = 0
    notifications: int = 0
    contacts: int = 0
    tickets: int = 0
    tracker_events: int = 0
    files: int = 0
    verification_codes: int = 0
    policy_pushes: int = 0  # detached from the person (the record of the push stays, for the figures)

    def add(self, other: "Erased") -> "Erased":
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))
        return self

    def summary(self) -> str:
        return (
            f"删除消息 {self.messages} 条、会话 {self.conversations} 个、转人工记录 {self.transcripts} 份、"
            f"问答记录 {self.question_logs} 条、通知 {self.notifications} 条、文件 {self.files} 个；"
            f"匿名化联系人 {self.contacts} 位、工单 {self.tickets} 件"
            + (f"；验证码记录 {self.verification_codes} 条" if self.verification_codes else "")
            + (f"；政策推送记录 {self.policy_pushes} 条脱离个人" if self.policy_pushes else "")
        )

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def erase_conversations(s: Session, ids: Iterable[str]) -> Erased:
    """Delete what was said in these conversations: messages, the conversation, question logs,
    notifications to it, files sent in it (bot.files); handover rows stay (figures) without transcript and profile."""
    done = Erased()
    done.files = file_store.erase(s, ids)
    for chunk in _chunks(set(ids)):
        s.execute(
            update(Message)
            .where(Message.conversation_id.in_(chunk))
            .values(reply_to=None)
            .execution_options(synchronize_session=False)
        )
        done.messages += s.execute(
            delete(Message).where(Message.conversation_id.in_(chunk)).execution_options(synchronize_session=False)
        ).rowcount
        done.conversations += s.execute(
            delete(Conversation).where(Conversation.id.in_(chunk)).execution_options(synchronize_session=False)
        ).rowcount
        done.question_logs += s.execute(
            delete(KbQuery).where(KbQuery.conversation_id.in_(chunk)).execution_options(synchronize_session=False)
        ).rowcount
        done.notifications += s.execute(
            delete(Notification)
            .where(Notification.recipient.in_([f"sender:{c}" for c in chunk]))
            .execution_options(synchronize_session=False)
        ).rowcount
        done.transcripts += s.execute(
            update(Handover)
            .where(
                Handover.conversation_id.in_(chunk),
                or_(Handover.transcript.is_not(None), Handover.profile.is_not(None)),
            )
            .values(transcript=None, profile=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        done.verification_codes += s.execute(
            delete(VerificationCode)
            .where(VerificationCode.sender_id.in_(chunk))
            .execution_options(synchronize_session=False)
        ).rowcount
        done.policy_pushes += detach_pushes(s, PolicyPush.conversation_id.in_(chunk))
        s.execute(
            delete(PolicyPushOptOut)
            .where(PolicyPushOptOut.sender_id.in_(chunk))
            .execution_options(synchronize_session=False)
        )
    return done


def detach_pushes(s: Session, where) -> int:
    """A policy push stays counted (which enterprise was told about which policy, by node) but no longer points
    to a person: the conversation id is replaced and the contact link dropped (the body names no person)."""
    return s.execute(
        update(PolicyPush)
        .where(where, PolicyPush.conversation_id != ANON_NAME)
        .values(conversation_id=ANON_NAME, contact_id=None)
        .execution_options(synchronize_session=False)
    ).rowcount


def anonymise_contacts(s: Session, ids: Iterable[int]) -> int:
    n = 0
    for chunk in _chunks(set(ids)):
        n += s.execute(
            update(Contact)
            .where(
                Contact.id.in_(chunk),
                or_(Contact.name != ANON_NAME, Contact.mobile.is_not(None), Contact.sender_id.is_not(None)),
            )
            .values(name=ANON_NAME, mobile=None, sender_id=None)
            .execution_options(synchronize_session=False)
        ).rowcount
    return n


def anonymise_tickets(s: Session, ids: Iterable[int]) -> int:
    """Keep the record (number, category, node, dates, status, staff work); drop what the person wrote:
    the description, their own ticket events, rating comments; staff notes keep their text with
    phone and ID numbers masked; the link to the conversation goes."""
    n = 0
    for chunk in _chunks(set(ids)):
        n += s.execute(
            update(Ticket)
            .where(Ticket.id.in_(chunk), or_(Ticket.description != ANON_TEXT, Ticket.conversation_id.is_not(None)))
            .values(description=ANON_TEXT, conversation_id=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        for e in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id.in_(chunk))):
            if e.actor.startswith("user:"):
                e.actor = ANON_ACTOR
                e.before = ANON_TEXT if e.before else e.before
                e.after = ANON_TEXT if e.after else e.after
                e.note = ANON_TEXT if e.note else e.note
            else:
                e.before, e.after, e.note = (mask(v) if v else v for v in (e.before, e.after, e.note))
        s.execute(
            update(Rating)
            .where(Rating.ticket_id.in_(chunk), Rating.comment.is_not(None))
            .values(comment=None)
            .execution_options(synchronize_session=False)
        )
    s.flush()
    return n


_metadata = MetaData()
tracker_events = Table(
    "events",
    _metadata,  # Rasa's SQLTrackerStore table (never created here)
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("timestamp", Float),
)


def erase_tracker(tracker_s: Session, conversation_ids: Iterable[str]) -> int:
    """Rasa's tracker events of these conversations (a session on the tracker store)."""
    if not inspect(tracker_s.get_bind()).has_table("events"):
        return 0
    n = 0
    for chunk in _chunks(set(conversation_ids)):
        n += tracker_s.execute(delete(tracker_events).where(tracker_events.c.sender_id.in_(chunk))).rowcount
    return n


def erase(s: Session, subject: Subject) -> Erased:
    """Everything held about the subject goes, except the anonymised ticket records."""
    files = file_store.erase(s, subject.conversation_ids, subject.ticket_ids)
    done = erase_conversations(s, subject.conversation_ids)
    done.files += files
    for chunk in _chunks(subject.mobiles):
        done.verification_codes += s.execute(
            delete(VerificationCode)
            .where(VerificationCode.mobile.in_(chunk))
            .execution_options(synchronize_session=False)
        ).rowcount
    for chunk in _chunks(subject.contact_ids):
        done.policy_pushes += detach_pushes(s, PolicyPush.contact_id.in_(chunk))
    done.tickets = anonymise_tickets(s, subject.ticket_ids)
    done.contacts = anonymise_contacts(s, subject.contact_ids)
    return done


def audit(
    s: Session, actor: str, action: str, subject: Subject, detail: str, now: datetime, ip: Optional[str] = None
) -> None:
    """The console audit row of an export or erasure (the selector masked, never the data)."""
    s.add(
        ConsoleAudit(
            at=now, actor=actor[:128], action=action[:32], detail=f"{subject.selector}；{detail}"[:2000], ip=ip
        )
    )


# ---- retention -----------------------------------------------------------------------------------------------


@dataclass
class RetentionResult:
    days: int
    cutoff: Optional[datetime]
    erased: Erased = field(default_factory=Erased)
    old_notifications: int = 0

    def summary(self) -> str:
        if self.cutoff is None:
            return "个人信息保存期限未设置（PERSONAL_DATA_RETENTION_DAYS=0），未清理"
        e = self.erased
        return f"超过 {self.days} 天未活动：{e.summary()}；另删除 {self.old_notifications} 条过期通知"


def _ids(s: Session, column, stamp, cutoff: datetime, old: bool) -> set:
    cond = stamp < cutoff if old else stamp >= cutoff
    return set(s.scalars(select(column).where(cond, column.is_not(None)).distinct()))


def idle_conversations(s: Session, cutoff: datetime) -> set:
    """Conversation ids with something before the cutoff and nothing from the cutoff on."""
    sources = [
        (Conversation.id, Conversation.updated_at),
        (Conversation.id, Conversation.last_user_at),
        (Message.conversation_id, Message.created_at),
        (KbQuery.conversation_id, KbQuery.asked_at),
        (Handover.conversation_id, Handover.created_at),
        (Handover.conversation_id, Handover.ended_at),
        (Handover.conversation_id, Handover.rated_at),
        (Ticket.conversation_id, Ticket.updated_at),
    ]
    old: set = set()
    active: set = set()
    for col, stamp in sources:
        old |= _ids(s, col, stamp, cutoff, True)
        active |= _ids(s, col, stamp, cutoff, False)
    return old - active


def idle_contacts(s: Session, cutoff: datetime, active_conversations: set) -> set:
    """Contacts created before the cutoff, with no ticket and no conversation active since."""
    busy = _ids(s, Ticket.contact_id, Ticket.updated_at, cutoff, False)
    rows = s.execute(
        select(Contact.id, Contact.sender_id).where(Contact.created_at < cutoff, Contact.name != ANON_NAME)
    ).all()
    return {r.id for r in rows if r.id not in busy and (r.sender_id is None or r.sender_id not in active_conversations)}


def purge(s: Session, now: datetime, days: int) -> RetentionResult:
    """Age out personal data `days` after the last activity (0: keep everything)."""
    if days <= 0:
        return RetentionResult(days, None)
    cutoff = now - timedelta(days=days)
    result = RetentionResult(days, cutoff)
    idle = idle_conversations(s, cutoff)
    active = set()
    for col, stamp in (
        (Conversation.id, Conversation.updated_at),
        (Message.conversation_id, Message.created_at),
        (KbQuery.conversation_id, KbQuery.asked_at),
        (Ticket.conversation_id, Ticket.updated_at),
    ):
        active |= _ids(s, col, stamp, cutoff, False)
    contacts = idle_contacts(s, cutoff, active)
    tickets: set = set()
    for chunk in _chunks(idle):
        tickets |= set(
            s.scalars(select(Ticket.id).where(Ticket.conversation_id.in_(chunk), Ticket.updated_at < cutoff))
        )
    for chunk in _chunks(contacts):
        tickets |= set(s.scalars(select(Ticket.id).where(Ticket.contact_id.in_(chunk), Ticket.updated_at < cutoff)))
    result.erased = erase_conversations(s, idle)
    result.erased.tickets = anonymise_tickets(s, tickets)
    result.erased.contacts = anonymise_contacts(s, contacts)
    result.old_notifications = s.execute(
        delete(Notification).where(Notification.created_at < cutoff).execution_options(synchronize_session=False)
    ).rowcount
    result.erased.verification_codes += s.execute(
        delete(VerificationCode)
        .where(VerificationCode.created_at < cutoff)
        .execution_options(synchronize_session=False)
    ).rowcount
    return result
