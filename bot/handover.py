"""Handover of a conversation from the bot to staff: start, claim, transfer, end (no aiohttp, no Rasa).

Called by the action server (the bot decides to hand over) and by the desk (staff
claim, transfer, end, take over). Each call is one database transaction, so the
state is right whichever process asks; the desk adds the Rasa pause/resume and the
live notifications around it (bot/desk/gateway.py).

States of a handover: open and unclaimed (conversation mode "waiting", in the queue of
its node) → claimed by one staff member (mode "staff") → ended (mode "bot" again).
Every change is an audit event on the linked ticket when there is one.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Optional

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.db import read_sessions, sessions
from bot.db.conversations import ensure_conversation
from bot.db.schema import (
    Conversation,
    Enterprise,
    Handover,
    Message,
    ServiceNode,
    Staff,
    Ticket,
    TicketEvent,
    utcnow,
)
from bot.network.routing import default_router
from bot.taxonomy import BY_INTENT
from bot.tickets import lifecycle as lc
from bot.tickets.service import TicketService
from bot.tickets.sla import default_policy

log = logging.getLogger(__name__)

REASONS = {
    "request_human": "用户要求人工",
    "fallback": "机器人无法理解",
    "complaint": "投诉",
    "staff_only": "需人工办理的分类",
    "staff_takeover": "工作人员主动接管",
}
RATING_LABELS = {5: "非常满意", 4: "满意", 3: "一般", 2: "不满意", 1: "非常不满意"}
CENTRE = "centre"
TRANSCRIPT_LIMIT = 200  # messages kept in the snapshot staff read first
ESTIMATE_BASE_MINUTES = 5  # promised reply time with nobody ahead in the queue
ESTIMATE_PER_WAITING = 3  # … plus this much per conversation already waiting at the node
ESTIMATE_MAX_MINUTES = 60
WEEKDAYS = "一二三四五六日"


class HandoverError(Exception):
    """A handover operation that cannot be done; the message is for staff (Chinese)."""


@dataclass
class HandoverInfo:
    id: int
    conversation_id: str
    reason: str
    node_id: str
    node_name: str
    notice: str  # what the user is told: who answers and how soon
    in_office_hours: bool
    ticket_number: Optional[str]
    created: bool  # False when an open handover of the conversation was reused


@dataclass
class QueueItem:
    """One row of the staff queue (open handovers)."""

    id: int
    conversation_id: str
    channel: Optional[str]
    mode: Optional[str]
    reason: str
    reason_label: str
    category: Optional[str]
    category_label: Optional[str]
    node_id: Optional[str]
    node_name: Optional[str]
    enterprise_name: Optional[str]
    ticket_number: Optional[str]
    created_at: datetime
    claimed_by: Optional[int]
    claimed_by_name: Optional[str]
    claimed_at: Optional[datetime]
    waiting_seconds: int  # created → claimed (or → now while nobody has claimed it)
    open_seconds: int  # created → now
    last_user_text: Optional[str]
    last_user_at: Optional[datetime]

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("created_at", "claimed_at", "last_user_at"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


# ---- helpers ------------------------------------------------------------------------------------


def _policy(policy=None):
    if policy is not None:
        return policy

    return default_policy()


def _router(router=None):
    if router is not None:
        return router

    return default_router()


def _actor(actor: Any) -> str:
    """ "staff:<username>" from a Staff row, or the string as given."""
    if isinstance(actor, str):
        return actor
    username = getattr(actor, "username", None)
    if username:
        return f"staff:{username}"
    raise HandoverError("操作人无效")


def _event(
    s: Session,
    ticket_id: Optional[int],
    actor: str,
    action: str,
    note: str,
    before: Any = None,
    after: Any = None,
    field: Optional[str] = None,
    at: Optional[datetime] = None,
) -> None:
    if ticket_id is None:
        return
    s.add(
        TicketEvent(
            ticket_id=ticket_id,
            actor=actor,
            action=action,
            field=field,
            before=None if before is None else json.dumps(before, ensure_ascii=False),
            after=None if after is None else json.dumps(after, ensure_ascii=False),
            note=note,
            at=at or utcnow(),
        )
    )


def _open_handover(s: Session, conversation_id: str) -> Optional[Handover]:
    return s.scalars(
        select(Handover)
        .where(Handover.conversation_id == conversation_id, Handover.ended_at.is_(None))
        .order_by(Handover.id.desc())
    ).first()


def _load(s: Session, handover_id: int, lock: bool = True) -> Handover:
    q = select(Handover).where(Handover.id == handover_id)
    h = s.scalars(q.with_for_update() if lock else q).first()
    if h is None:
        raise HandoverError(f"转人工记录 {handover_id} 不存在")
    return h


def _staff_name(s: Session, staff_id: Optional[int]) -> str:
    if staff_id is None:
        return "其他专员"
    st = s.get(Staff, staff_id)
    return st.display_name if st is not None else "其他专员"


def _transcript(s: Session, conversation_id: str, fallback: Optional[list]) -> list[dict]:
    rows = list(
        s.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.internal.is_(False))
            .order_by(Message.id.desc())
            .limit(TRANSCRIPT_LIMIT)
        )
    )
    if rows:
        return [
            {"at": m.created_at.isoformat(), "direction": m.direction, "author": m.author, "text": m.text}
            for m in reversed(rows)
        ]
    return list(fallback or [])[-TRANSCRIPT_LIMIT:]


def _fmt_day(now_local: datetime, when_local: datetime) -> str:
    """明天（11月26日）09:00 — relative day word within a week, the plain date beyond (long holidays)."""
    days = (when_local.date() - now_local.date()).days
    label = {0: "今天", 1: "明天", 2: "后天"}.get(days)
    if label is None and days < 7:
        label = f"周{WEEKDAYS[when_local.weekday()]}"
    if label is None:
        return f"{when_local.month}月{when_local.day}日 {when_local:%H:%M}"
    return f"{label}（{when_local.month}月{when_local.day}日）{when_local:%H:%M}"


def next_working_start(now: datetime, policy=None) -> datetime:
    """The next moment office hours begin after ``now`` (later today after lunch, or the next working day)."""
    pol = _policy(policy)
    loc = now.astimezone(pol.tz)
    if pol.is_working_day(loc):
        midnight = loc.replace(hour=0, minute=0, second=0, microsecond=0)
        for iv in pol.office_hours:
            start = midnight + timedelta(microseconds=iv.start_us)
            if start > loc:
                return start
    return pol.working_day_start(pol.next_working_day(loc))


def notice_for(node_name: str, now: datetime, waiting_ahead: int = 0, policy=None) -> tuple[str, bool]:
    """What the user is told after a handover, and whether it is office time now."""
    pol = _policy(policy)
    if pol.is_working_time(now):
        minutes = ESTIMATE_BASE_MINUTES + ESTIMATE_PER_WAITING * max(0, waiting_ahead)
        minutes = min(ESTIMATE_MAX_MINUTES, -(-minutes // 5) * 5)
        return (
            f"服务专员（{node_name}）将在约{minutes}分钟内回复您，请稍候。您可以继续在这里留言，专员会看到全部对话。"
        ), True
    start = next_working_start(now, pol)
    when = _fmt_day(now.astimezone(pol.tz), start)
    return f"现在是非工作时间，服务专员将于{when}上班后第一时间回复您，您的留言已记录。", False


def _waiting_ahead(s: Session, node_id: str, before_id: Optional[int] = None) -> int:
    q = (
        select(func.count())
        .select_from(Handover)
        .where(Handover.node_id == node_id, Handover.ended_at.is_(None), Handover.claimed_by.is_(None))
    )
    if before_id is not None:
        q = q.where(Handover.id < before_id)
    return int(s.scalar(q) or 0)


# ---- start ----------------------------------------------------------------------------------------


def start_handover(
    db_url: str,
    conversation_id: str,
    reason: str,
    category: Optional[str] = None,
    ticket_number: Optional[str] = None,
    transcript: Optional[list[dict]] = None,
    *,
    channel: str = "rest",
    now: Optional[datetime] = None,
    policy=None,
    router=None,
    node_id: Optional[str] = None,
    actor: Optional[str] = None,
) -> HandoverInfo:
    """Hand the conversation to staff: record it with everything staff need, set mode "waiting".

    Idempotent: while the conversation has an open handover, that one is returned
    (with a fresh notice) instead of a second one. `transcript` is used only when the
    desk has stored no messages for the conversation (e.g. Rasa's REST channel used directly).
    """
    if reason not in REASONS:
        raise HandoverError(f"未知的转人工原因：{reason}")
    now = now or utcnow()
    pol = _policy(policy)
    rtr = _router(router)

    profile = TicketService(db_url, sla=pol, router=rtr).profile(conversation_id)
    with sessions(db_url).begin() as s:
        conv = ensure_conversation(s, conversation_id, channel, now, lock=True)
        existing = _open_handover(s, conversation_id)
        if existing is not None:
            node = s.get(ServiceNode, existing.node_id) if existing.node_id else None
            linked = s.get(Ticket, existing.ticket_id) if existing.ticket_id else None
            name = node.name if node else "综合服务中心"
            text, office = notice_for(
                name, now, _waiting_ahead(s, existing.node_id, existing.id) if existing.node_id else 0, pol
            )
            return HandoverInfo(
                existing.id,
                conversation_id,
                existing.reason,
                existing.node_id or CENTRE,
                name,
                text,
                office,
                linked.number if linked else None,
                created=False,
            )

        # The linked ticket: the one named, else the enterprise's latest open ticket.
        ticket: Optional[Ticket] = None
        if ticket_number:
            ticket = s.scalars(select(Ticket).where(Ticket.number == ticket_number)).first()
        if ticket is None and profile is not None:
            ticket = s.scalars(
                select(Ticket)
                .where(Ticket.enterprise_id == profile.enterprise_id, Ticket.status.in_(lc.OPEN_STATES))
                .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            ).first()
        if category is None and ticket is not None:
            category = ticket.category

        # Who answers: the node the routing rules give for this enterprise, else the centre.
        if node_id is None:
            node_id = CENTRE
            if profile is not None:
                try:
                    node_id = rtr.route(category, new_city=profile.new_city, park=profile.park).node_id
                except Exception:  # noqa: BLE001 - a routing problem must not stop the handover
                    log.exception("routing failed for handover of %s", conversation_id)
        node = s.get(ServiceNode, node_id) or s.get(ServiceNode, CENTRE)
        node_id = node.id if node is not None else None
        name = node.name if node is not None else "综合服务中心"

        profile_json = None
        if profile is not None:
            profile_json = json.dumps(
                {
                    "enterprise_id": profile.enterprise_id,
                    "enterprise_name": profile.enterprise_name,
                    "contact_name": profile.contact_name,
                    "mobile": profile.mobile,
                    "new_city": profile.new_city,
                    "park": profile.park,
                },
                ensure_ascii=False,
            )
        h = Handover(
            conversation_id=conversation_id,
            reason=reason,
            category=category,
            node_id=node_id,
            ticket_id=ticket.id if ticket else None,
            enterprise_id=profile.enterprise_id if profile else None,
            created_at=now,
            transcript=json.dumps(_transcript(s, conversation_id, transcript), ensure_ascii=False),
            profile=profile_json,
        )
        s.add(h)
        s.flush()
        conv.mode = "waiting"
        conv.node_id = node_id
        conv.assigned_staff_id = None
        if profile is not None:
            conv.enterprise_id = profile.enterprise_id
        conv.updated_at = now
        who = actor or (f"user:{conversation_id}" if reason in ("request_human", "complaint") else "system")
        _event(s, h.ticket_id, who, "handover", f"转人工（{REASONS[reason]}）：由{name}接待", after=node_id, at=now)
        text, office = notice_for(name, now, _waiting_ahead(s, node_id, h.id) if node_id else 0, pol)
        return HandoverInfo(
            h.id,
            conversation_id,
            reason,
            node_id or CENTRE,
            name,
            text,
            office,
            ticket.number if ticket else None,
            created=True,
        )


# ---- staff actions --------------------------------------------------------------------------------


def claim(db_url: str, handover_id: int, staff: Staff, now: Optional[datetime] = None) -> Handover:
    """Staff member takes the conversation; exactly one wins (conditional UPDATE)."""
    now = now or utcnow()
    with sessions(db_url).begin() as s:
        res = s.execute(
            update(Handover)
            .where(Handover.id == handover_id, Handover.claimed_by.is_(None), Handover.ended_at.is_(None))
            .values(claimed_by=staff.id, claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        h = _load(s, handover_id, lock=False)
        s.refresh(h)
        if res.rowcount != 1:
            if h.ended_at is not None:
                raise HandoverError("该会话的人工服务已结束")
            if h.claimed_by == staff.id:
                return h
            raise HandoverError(f"已被{_staff_name(s, h.claimed_by)}接手")
        conv = s.get(Conversation, h.conversation_id)
        if conv is not None:
            conv.mode, conv.assigned_staff_id, conv.updated_at = "staff", staff.id, now
        _event(
            s,
            h.ticket_id,
            _actor(staff),
            "handover_claim",
            f"{staff.display_name} 接手对话",
            after=staff.id,
            field="claimed_by",
            at=now,
        )
        return h


def transfer(
    db_url: str,
    handover_id: int,
    node_id: Optional[str] = None,
    staff_id: Optional[int] = None,
    actor: Any = "system",
    now: Optional[datetime] = None,
) -> Handover:
    """Hand the conversation on: to a node's queue (unclaimed again) or straight to one staff member."""
    if not node_id and not staff_id:
        raise HandoverError("请选择转交的服务节点或专员")
    now = now or utcnow()
    who = _actor(actor)
    with sessions(db_url).begin() as s:
        h = _load(s, handover_id)
        if h.ended_at is not None:
            raise HandoverError("该会话的人工服务已结束，无法转交")
        target_staff = None
        if staff_id:
            target_staff = s.get(Staff, staff_id)
            if target_staff is None or not target_staff.active:
                raise HandoverError("转交的专员不存在或已停用")
            node_id = node_id or target_staff.node_id
        node = s.get(ServiceNode, node_id)
        if node is None:
            raise HandoverError(f"服务节点 {node_id} 不存在")
        before = {"node_id": h.node_id, "claimed_by": h.claimed_by}
        h.node_id = node.id
        conv = s.get(Conversation, h.conversation_id)
        if target_staff is not None:
            h.claimed_by, h.claimed_at = target_staff.id, now
            mode, assigned = "staff", target_staff.id
            note = f"转交给 {target_staff.display_name}（{node.name}）"
        else:
            h.claimed_by, h.claimed_at = None, None
            mode, assigned = "waiting", None
            note = f"转交给 {node.name}，等待接手"
        if conv is not None:
            conv.mode, conv.assigned_staff_id, conv.node_id, conv.updated_at = mode, assigned, node.id, now
        _event(
            s,
            h.ticket_id,
            who,
            "handover_transfer",
            note,
            before=before,
            after={"node_id": h.node_id, "claimed_by": h.claimed_by},
            at=now,
        )
        return h


def end(db_url: str, handover_id: int, actor: Any = "system", now: Optional[datetime] = None) -> Handover:
    """Staff are done: the bot answers again (the desk resumes Rasa). Ending twice is harmless."""
    now = now or utcnow()
    with sessions(db_url).begin() as s:
        h = _load(s, handover_id)
        if h.ended_at is not None:
            return h
        h.ended_at = now
        conv = s.get(Conversation, h.conversation_id)
        if conv is not None and _open_handover(s, h.conversation_id) is None:
            conv.mode, conv.assigned_staff_id, conv.updated_at = "bot", None, now
        _event(s, h.ticket_id, _actor(actor), "handover_end", "人工服务结束，机器人继续接待", at=now)
        return h


def takeover(db_url: str, conversation_id: str, staff: Staff, now: Optional[datetime] = None) -> Handover:
    """Staff take over a conversation the bot is handling (or claim its open handover)."""
    now = now or utcnow()
    with read_sessions(db_url)() as s:
        open_h = _open_handover(s, conversation_id)
        exists = s.get(Conversation, conversation_id) is not None
    if not exists:
        raise HandoverError(f"会话 {conversation_id} 不存在")
    if open_h is not None:
        return claim(db_url, open_h.id, staff, now)
    info = start_handover(
        db_url, conversation_id, "staff_takeover", node_id=staff.node_id, actor=_actor(staff), now=now
    )
    return claim(db_url, info.id, staff, now)


def rate(db_url: str, handover_id: int, score: int, actor: str, now: Optional[datetime] = None) -> bool:
    """The user's rating of the staff service, kept on the handover (the latest rating counts; the
    monthly 满意度 and 绩效 count it) and on the linked ticket's trail. True: a ticket has it too."""
    if score not in RATING_LABELS:
        raise HandoverError("评分应为1到5之间的整数")
    now = now or utcnow()
    with sessions(db_url).begin() as s:
        h = _load(s, handover_id, lock=False)
        h.rating, h.rated_at = score, now
        _event(
            s,
            h.ticket_id,
            actor,
            "handover_rating",
            f"对人工服务的评价：{RATING_LABELS[score]}",
            after=score,
            field="handover_rating",
            at=now,
        )
        return h.ticket_id is not None


# ---- reading ----------------------------------------------------------------------------------------


def get(db_url: str, handover_id: int) -> Optional[Handover]:
    with read_sessions(db_url)() as s:
        return s.get(Handover, handover_id)


def latest(db_url: str, conversation_id: str) -> Optional[Handover]:
    """The conversation's most recent handover, open or ended."""
    with read_sessions(db_url)() as s:
        return s.scalars(
            select(Handover).where(Handover.conversation_id == conversation_id).order_by(Handover.id.desc())
        ).first()


def open_for(db_url: str, conversation_id: str) -> Optional[Handover]:
    """The conversation's open handover, if any."""
    with read_sessions(db_url)() as s:
        return _open_handover(s, conversation_id)


def open_handovers(
    db_url: str, node_ids: Optional[Iterable[str]] = None, now: Optional[datetime] = None
) -> list[QueueItem]:
    """The queue: open handovers (of `node_ids`, or all), unclaimed first, oldest first."""
    now = now or utcnow()
    with read_sessions(db_url)() as s:
        q = (
            select(Handover, Conversation, ServiceNode, Enterprise, Ticket, Staff)
            .outerjoin(Conversation, Conversation.id == Handover.conversation_id)
            .outerjoin(ServiceNode, ServiceNode.id == Handover.node_id)
            .outerjoin(Enterprise, Enterprise.id == Handover.enterprise_id)
            .outerjoin(Ticket, Ticket.id == Handover.ticket_id)
            .outerjoin(Staff, Staff.id == Handover.claimed_by)
            .where(Handover.ended_at.is_(None))
            .order_by(Handover.claimed_by.is_not(None), Handover.created_at, Handover.id)
        )
        if node_ids is not None:
            q = q.where(Handover.node_id.in_(list(node_ids)))
        rows = s.execute(q).all()
        out = []
        for h, conv, node, ent, ticket, st in rows:
            last = s.execute(
                select(Message.text, Message.created_at)
                .where(Message.conversation_id == h.conversation_id, Message.direction == "in")
                .order_by(Message.id.desc())
                .limit(1)
            ).first()
            cat = BY_INTENT.get(h.category or "")
            out.append(
                QueueItem(
                    id=h.id,
                    conversation_id=h.conversation_id,
                    channel=conv.channel if conv else None,
                    mode=conv.mode if conv else None,
                    reason=h.reason,
                    reason_label=REASONS.get(h.reason, h.reason),
                    category=h.category,
                    category_label=cat.name if cat else None,
                    node_id=h.node_id,
                    node_name=node.name if node else None,
                    enterprise_name=ent.name if ent else None,
                    ticket_number=ticket.number if ticket else None,
                    created_at=h.created_at,
                    claimed_by=h.claimed_by,
                    claimed_by_name=st.display_name if st else None,
                    claimed_at=h.claimed_at,
                    waiting_seconds=max(0, int(((h.claimed_at or now) - h.created_at).total_seconds())),
                    open_seconds=max(0, int((now - h.created_at).total_seconds())),
                    last_user_text=last[0] if last else None,
                    last_user_at=last[1] if last else None,
                )
            )
        return out


__all__ = [
    "HandoverError",
    "HandoverInfo",
    "QueueItem",
    "REASONS",
    "start_handover",
    "claim",
    "transfer",
    "end",
    "takeover",
    "rate",
    "open_handovers",
    "open_for",
    "latest",
    "get",
    "notice_for",
    "next_working_start",
]
