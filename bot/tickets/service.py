"""Opening, routing, progressing and rating tickets — with an audit event for every change.

All writes go through `TicketService`; it is the only place that knows how
a status change moves deadlines (即日办 first response, per-category
resolution, the clock paused while 待补充) and what gets recorded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Callable, Optional

from rapidfuzz import fuzz
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.db import dialect_insert, read_sessions, sessions
from bot.db.schema import (
    Contact,
    Conversation,
    Enterprise,
    Notification,
    Rating,
    ServiceNode,
    Ticket,
    TicketEvent,
    TicketSequence,
    utcnow,
)
from bot.db.schema import aware as _aware
from bot.network.routing import Router
from bot.taxonomy import BY_INTENT
from bot.text import normalise
from bot.tickets import credit_code
from bot.tickets import lifecycle as lc
from bot.tickets.sla import SlaPolicy

DUPLICATE_WINDOW = timedelta(days=7)
SIMILARITY_THRESHOLD = 50  # rapidfuzz token-set ratio on normalised descriptions
MAX_DESCRIPTION = 2000
RATING_LABELS = {5: "非常满意", 4: "满意", 3: "一般", 2: "不满意", 1: "非常不满意"}
UNSATISFIED = 2  # ratings at or below reopen the ticket and flag a follow-up (回访)

_MOBILE = re.compile(r"^1[3-9]\d{9}$")


class TicketError(ValueError):
    """A request the ticket process refuses; the message is for the user or staff."""


def normalise_mobile(raw: str) -> str:
    """Mainland mobile number from what people type: spaces, dashes, +86, full-width digits."""
    digits = re.sub(r"[\s\-()（）]", "", normalise(raw or ""))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not _MOBILE.match(digits):
        raise TicketError("手机号格式不正确，请输入11位大陆手机号，例如 13912345678。")
    return digits


@dataclass
class EnterpriseInput:
    name: str
    credit_code: Optional[str] = None
    new_city: Optional[str] = None
    park: Optional[str] = None


@dataclass
class OpenResult:
    ticket: Ticket
    node: ServiceNode
    linked: bool  # True: a similar open need existed; this request was added to it


@dataclass
class Profile:
    """What the window remembers about a chat identity (returning users are not asked again)."""

    enterprise_id: int
    enterprise_name: str
    contact_name: str
    mobile: Optional[str]
    new_city: Optional[str]
    park: Optional[str]


def _json(value) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.isoformat()
    if isinstance(value, Decimal):
        value = str(value)
    return json.dumps(value, ensure_ascii=False)


def _due_day(moment: Optional[datetime], sla: SlaPolicy) -> str:
    if moment is None:
        return ""
    d = _aware(moment).astimezone(sla.tz).date()
    return f"{d.month}月{d.day}日（星期{'一二三四五六日'[d.weekday()]}）"


def status_notice(
    t: Ticket, before: str, target: str, actor: str, reason: Optional[str], sla: SlaPolicy
) -> tuple[str, Optional[str]]:
    """(notification kind, text for the enterprise) of a status change, or (kind, None) when it is not told:
    办理中 (first start, resumed or reopened by staff), 待补充 (with what is needed), 办结 (with the result and the
    rating request), 无法办理 (with the reason). Concise, one message each."""
    name = BY_INTENT[t.category].name if t.category in BY_INTENT else t.category
    head = f"您的工单 {t.number}（{name}）"
    if target == lc.RESOLVED:  # told even when the enterprise's own action closed it: it asks for a rating
        result = (t.result or "").strip()
        return "rating_request", (
            f"{head}已办结。"
            + (f"办理结果：{result}\n" if result else "")
            + "请为本次服务打分，您的评价会帮助我们改进："
        )
    if actor.startswith("user:"):
        return "status", None
    what = (reason or "").strip()
    if target == lc.AWAITING_INFO:
        needed = f"需要您补充：{what}" if what else "需要您补充材料或信息"
        return "status_awaiting_info", (
            f"{head}{needed}。可直接在对话中回复文字、发送图片或文件，或说明材料内容；"
            "补充后继续办理，办结时限相应顺延。"
        )
    if target == lc.CANNOT_HANDLE:
        return "status", (
            f"很抱歉，{head}暂无法办理。原因：{what or '请咨询服务窗口'}。"
            "如有疑问，可在对话中说明情况，我们会重新核实。"
        )
    if target == lc.IN_PROGRESS:
        if before in lc.FINAL_STATES:
            return "status", f"{head}已重新办理，服务专员会尽快与您联系。"
        if before == lc.AWAITING_INFO:
            return "status", f"{head}已继续办理，预计{_due_day(t.resolution_due, sla)}前办结。"
        return "status", f"{head}已开始办理，预计{_due_day(t.resolution_due, sla)}前办结。"
    return "status", None


class TicketService:
    def __init__(
        self, db_url: str, sla: Optional[SlaPolicy] = None, router=None, clock: Callable[[], datetime] = utcnow
    ):
        self.db_url = db_url
        self.sla = sla or SlaPolicy.load()
        self.router = router or Router.load()
        self.clock = clock

    # ---- audit ---------------------------------------------------------------------------------

    @staticmethod
    def _event(
        s: Session,
        ticket: Ticket,
        actor: str,
        action: str,
        *,
        field: str | None = None,
        before=None,
        after=None,
        note: str | None = None,
        at: datetime | None = None,
    ) -> None:
        s.add(
            TicketEvent(
                ticket_id=ticket.id,
                actor=actor,
                action=action,
                field=field,
                before=_json(before),
                after=_json(after),
                note=note,
                at=at or utcnow(),
            )
        )

    # ---- enterprises and returning users -------------------------------------------------------

    def profile(self, sender_id: str) -> Optional[Profile]:
        """A verified contact gets the enterprise's record; an unverified one what it stated itself last time
        (never the enterprise's stored location)."""
        with read_sessions(self.db_url)() as s:
            row = s.execute(
                select(Contact, Enterprise)
                .join(Enterprise, Contact.enterprise_id == Enterprise.id)
                .where(Contact.sender_id == sender_id)
            ).first()
            if row is None:
                return None
            c, e = row
            if c.verified_at is not None:
                return Profile(e.id, e.name, c.name, c.mobile, e.new_city, e.park)
            stated = s.scalar(
                select(Ticket.stated)
                .where(Ticket.contact_id == c.id, Ticket.stated.is_not(None))
                .order_by(Ticket.id.desc())
                .limit(1)
            )
            said = json.loads(stated) if stated else {}
            return Profile(e.id, said.get("name") or e.name, c.name, c.mobile, said.get("new_city"), said.get("park"))

    @staticmethod
    def _verified_for(s: Session, sender_id: str | None, enterprise_id: int) -> bool:
        """The chat identity is a verified contact of this enterprise (bot/tickets/identity.py)."""
        if not sender_id:
            return False
        c = s.scalars(select(Contact).where(Contact.sender_id == sender_id)).first()
        return c is not None and c.verified_at is not None and c.enterprise_id == enterprise_id

    def _find_enterprise(self, s: Session, ent: EnterpriseInput) -> tuple[str, Optional[Enterprise]]:
        name = normalise(ent.name)[:128]
        if not name:
            raise TicketError("请提供企业名称。")
        if ent.credit_code:
            try:  # 统一社会信用代码: structure and both check digits (GB 32100)
                ent.credit_code = credit_code.validate(ent.credit_code)
            except credit_code.InvalidCreditCode as exc:
                raise TicketError(str(exc)) from exc
        found = None
        if ent.credit_code:
            found = s.scalars(select(Enterprise).where(Enterprise.credit_code == ent.credit_code)).first()
        if found is None:
            found = s.scalars(select(Enterprise).where(Enterprise.name == name)).first()
        return name, found

    def _upsert_enterprise(self, s: Session, ent: EnterpriseInput) -> Enterprise:
        """Staff and verified contacts: the enterprise's record takes what they give."""
        name, found = self._find_enterprise(s, ent)
        if found is None:
            found = Enterprise(name=name, credit_code=ent.credit_code, new_city=ent.new_city, park=ent.park)
            s.add(found)
            s.flush()
            return found
        if ent.credit_code and not found.credit_code:
            found.credit_code = ent.credit_code
        if ent.new_city:
            found.new_city = ent.new_city
        if ent.park:
            found.park = ent.park
        return found

    def _upsert_contact(
        self, s: Session, enterprise: Enterprise, sender_id: str | None, name: str, mobile: str | None, channel: str
    ) -> Contact:
        contact = None
        if sender_id:
            contact = s.scalars(select(Contact).where(Contact.sender_id == sender_id)).first()
        if contact is None:
            contact = Contact(
                enterprise_id=enterprise.id, name=name[:64], mobile=mobile, sender_id=sender_id, channel=channel
            )
            s.add(contact)
        else:
            if contact.enterprise_id != enterprise.id:  # claims another enterprise: not verified for it
                contact.verified_at = contact.verified_by = None
            contact.enterprise_id, contact.name = enterprise.id, name[:64]
            if mobile:
                contact.mobile = mobile
        s.flush()
        return contact

    # ---- numbers -------------------------------------------------------------------------------

    def _next_number(self, s: Session, now: datetime) -> str:
        """QCY-YYYYMMDD-NNNN, a per-day counter incremented under the transaction's write lock."""
        day = now.astimezone(self.sla.tz).strftime("%Y%m%d")
        ins = dialect_insert(s, TicketSequence)
        s.execute(ins.values(day=day, last=0).on_conflict_do_nothing(index_elements=["day"]))
        s.execute(update(TicketSequence).where(TicketSequence.day == day).values(last=TicketSequence.last + 1))
        last = s.scalar(select(TicketSequence.last).where(TicketSequence.day == day))
        return f"QCY-{day}-{last:04d}"

    # ---- opening -------------------------------------------------------------------------------

    def _similar_open(
        self,
        s: Session,
        enterprise_id: int,
        category: str,
        description: str,
        now: datetime,
        own_contact: Optional[Contact] = None,
    ) -> Optional[Ticket]:
        """A similar open need of the enterprise (`own_contact` given: of that unverified contact only)."""
        query = select(Ticket).where(
            Ticket.enterprise_id == enterprise_id,
            Ticket.category == category,
            Ticket.status.in_(lc.OPEN_STATES),
            Ticket.created_at >= now - DUPLICATE_WINDOW,
        )
        if own_contact is not None:
            query = query.where(self._own_clause(own_contact))
        candidates = s.scalars(query.order_by(Ticket.created_at.desc())).all()
        text = normalise(description)
        for t in candidates:
            if (
                fuzz.token_set_ratio(text, normalise(t.description)) >= SIMILARITY_THRESHOLD
                or fuzz.partial_ratio(text, normalise(t.description)) >= 80
            ):
                return t
        return None

    @staticmethod
    def _conversation_channel(s: Session, channel: str, conversation_id: str | None) -> str:
        """The desk talks to Rasa over REST, so actions see "rest" for web chat and WeChat alike;
        the conversation the desk stored knows the real channel (web / wechat_mp / wecom)."""
        if channel != "rest" or not conversation_id:
            return channel
        real = s.scalar(select(Conversation.channel).where(Conversation.id == conversation_id))
        return real or channel

    def open_ticket(
        self,
        *,
        category: str,
        description: str,
        enterprise: EnterpriseInput,
        contact_name: str,
        mobile: str | None,
        sender_id: str | None,
        channel: str = "web",
        conversation_id: str | None = None,
        priority: str = "normal",
        policy_level: str | None = None,
        visit_id: int | None = None,
        actor: str | None = None,
    ) -> OpenResult:
        if category not in BY_INTENT:
            raise TicketError(f"未知的需求类别：{category}")
        description = (description or "").strip()
        if len(normalise(description)) < 2:
            raise TicketError("请简单描述一下您的需求。")
        description = description[:MAX_DESCRIPTION]
        mobile = normalise_mobile(mobile) if mobile else None
        now = self.clock()
        actor = actor or (f"user:{sender_id}" if sender_id else "system")
        with sessions(self.db_url).begin() as s:
            channel = self._conversation_channel(s, channel, conversation_id or sender_id)
            stated = None
            if sender_id:
                # A chat identity: what it states changes the enterprise's record only once it is a verified
                # contact of that enterprise; otherwise it is kept on the ticket as stated.
                _, found = self._find_enterprise(s, enterprise)
                if found is not None and self._verified_for(s, sender_id, found.id):
                    ent = self._upsert_enterprise(s, enterprise)
                elif found is not None:
                    ent = found
                    stated = {
                        "name": normalise(enterprise.name)[:128],
                        "credit_code": enterprise.credit_code,
                        "new_city": enterprise.new_city,
                        "park": enterprise.park,
                    }
                else:
                    ent = self._upsert_enterprise(s, enterprise)
            else:
                ent = self._upsert_enterprise(s, enterprise)
            contact = self._upsert_contact(s, ent, sender_id, contact_name or "未留名", mobile, channel)
            verified = not sender_id or contact.verified_at is not None
            if not verified and stated is None:
                stated = {
                    "name": ent.name,
                    "credit_code": enterprise.credit_code,
                    "new_city": enterprise.new_city,
                    "park": enterprise.park,
                }
            existing = self._similar_open(
                s, ent.id, category, description, now, own_contact=None if verified else contact
            )
            if existing is not None:
                self._event(s, existing, actor, "add_info", note=description, at=now)
                existing.updated_at = now
                node = s.get(ServiceNode, existing.node_id)
                return OpenResult(existing, node, linked=True)
            # Routed by the place the user stated when unverified (the enterprise's record is not theirs to see).
            new_city, park = (ent.new_city, ent.park) if verified else (enterprise.new_city, enterprise.park)
            route = self.router.route(category, new_city=new_city, park=park, policy_level=policy_level)
            node = s.get(ServiceNode, route.node_id)
            if node is None:
                raise TicketError(f"服务节点 {route.node_id} 不存在，请先同步服务网络数据")
            ticket = Ticket(
                number=self._next_number(s, now),
                enterprise_id=ent.id,
                contact_id=contact.id,
                category=category,
                service_content=BY_INTENT[category].content,
                node_id=node.id,
                status=lc.ACCEPTED,
                priority=priority,
                description=description,
                source_channel=channel,
                conversation_id=conversation_id or sender_id,
                visit_id=visit_id,
                created_at=now,
                updated_at=now,
                first_response_due=self.sla.first_response_due(now),
                resolution_due=self.sla.resolution_due(now, category),
                stated=_json({k: v for k, v in stated.items() if v}) if stated else None,
            )
            s.add(ticket)
            s.flush()
            self._event(
                s,
                ticket,
                actor,
                "created",
                after=lc.ACCEPTED,
                note=f"路由规则：{route.rule}；受理节点：{node.name}",
                at=now,
            )
            return OpenResult(ticket, node, linked=False)

    # ---- reading -------------------------------------------------------------------------------

    def get(self, number: str) -> Optional[Ticket]:
        with read_sessions(self.db_url)() as s:
            return s.scalars(select(Ticket).where(Ticket.number == number)).first()

    @staticmethod
    def _own_clause(contact: Contact):
        """The tickets a chat identity opened itself (its contact row is its own, keyed by the sender id)."""
        clause = Ticket.contact_id == contact.id
        return clause | (Ticket.conversation_id == contact.sender_id) if contact.sender_id else clause

    def _visible(self, s: Session, sender_id: str):
        """What a chat identity may see and act on: its enterprise's tickets once it is a verified contact,
        only the tickets it opened itself until then. None: nothing."""
        contact = s.scalars(select(Contact).where(Contact.sender_id == sender_id)).first()
        if contact is None:
            return Ticket.conversation_id == sender_id if sender_id else None
        if contact.verified_at is not None:
            return Ticket.enterprise_id == contact.enterprise_id
        return self._own_clause(contact)

    def tickets_for_sender(self, sender_id: str, limit: int = 10) -> list[tuple[Ticket, ServiceNode]]:
        """The tickets the sender may see (see `_visible`), newest first."""
        with read_sessions(self.db_url)() as s:
            visible = self._visible(s, sender_id)
            if visible is None:
                return []
            rows = s.execute(
                select(Ticket, ServiceNode)
                .join(ServiceNode, Ticket.node_id == ServiceNode.id)
                .where(visible)
                .order_by(Ticket.created_at.desc())
                .limit(limit)
            ).all()
            return [(t, n) for t, n in rows]

    def events(self, number: str) -> list[TicketEvent]:
        with read_sessions(self.db_url)() as s:
            t = s.scalars(select(Ticket).where(Ticket.number == number)).first()
            if t is None:
                return []
            return list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.id)))

    def _own_ticket(self, s: Session, number: str, sender_id: str) -> Ticket:
        """The ticket, if the sender may act on it; one answer for "no such ticket" and "not yours"."""
        visible = self._visible(s, sender_id)
        t = None if visible is None else s.scalars(select(Ticket).where(Ticket.number == number, visible)).first()
        if t is None:
            raise TicketError(f"没有找到您名下的工单 {number}。")
        return t

    # ---- status changes ------------------------------------------------------------------------

    def _stamp_first_response(self, t: Ticket, now: datetime) -> None:
        if t.first_response_at is None:
            t.first_response_at = now
            t.first_response_wsecs = self.sla.working_seconds_between(_aware(t.created_at), now)

    def _apply(self, s: Session, t: Ticket, target: str, actor: str, now: datetime, reason: str | None = None) -> None:
        lc.check_transition(t.status, target, reason)
        before = t.status
        if before == lc.AWAITING_INFO and t.paused_at is not None:
            paused = self.sla.working_seconds_between(_aware(t.paused_at), now)
            t.paused_working_seconds += paused
            t.resolution_due = (
                self.sla.add_working_seconds(_aware(t.resolution_due), paused) if paused else t.resolution_due
            )
            t.paused_at = None
        if target == lc.AWAITING_INFO:
            t.paused_at = now
        if target == lc.RESOLVED:
            t.resolved_at = now
            t.resolution_wsecs = max(
                0, self.sla.working_seconds_between(_aware(t.created_at), now) - t.paused_working_seconds
            )
        if target == lc.CANNOT_HANDLE:
            assert reason is not None  # check_transition refused 无法办理 without a reason
            t.reason = reason.strip()
        if target == lc.IN_PROGRESS and before in lc.FINAL_STATES:  # reopened (the old result stays in the trail)
            t.resolved_at = None
            t.resolution_wsecs = None
            t.result = None
        if actor.startswith("staff:") and target != lc.ACCEPTED:
            self._stamp_first_response(t, now)
        t.status = target
        t.updated_at = now
        self._event(s, t, actor, "status", field="status", before=before, after=target, note=reason, at=now)
        self._tell_enterprise(s, t, before, target, actor, now, reason)

    def _tell_enterprise(
        self, s: Session, t: Ticket, before: str, target: str, actor: str, now: datetime, reason: str | None
    ) -> None:
        """The status changes an enterprise should know about, as a Notification to its conversation (the desk's
        notifier delivers it on the conversation's channel: web chat, WeChat, WeCom). Changes the enterprise made
        itself (a rating, added information) are answered in the chat already; internal steps (已分派) are not told."""
        if not t.conversation_id:
            return
        kind, body = status_notice(t, before, target, actor, reason, self.sla)
        if body:
            s.add(
                Notification(
                    kind=kind, recipient=f"sender:{t.conversation_id}", ticket_id=t.id, body=body, created_at=now
                )
            )

    def transition(
        self, number: str, target: str, actor: str, reason: str | None = None, redeemed_amount: Decimal | None = None
    ) -> Ticket:
        now = self.clock()
        with sessions(self.db_url).begin() as s:
            t = s.scalars(select(Ticket).where(Ticket.number == number)).first()
            if t is None:
                raise TicketError(f"工单 {number} 不存在")
            self._apply(s, t, target, actor, now, reason)
            self._redeemed(s, t, actor, now, redeemed_amount)
            return t

    def _redeemed(self, s: Session, t: Ticket, actor: str, now: datetime, amount: Decimal | None) -> None:
        if amount is None:
            return
        if t.service_content != "政策兑现":
            raise lc.IllegalTransition("只有政策兑现类工单可以登记兑现金额")
        amount = Decimal(amount)
        if amount < 0 or amount >= Decimal("1e12"):
            raise TicketError("兑现金额应为 0 到 1 万亿元之间的数。")
        self._event(
            s, t, actor, "redeemed_amount", field="redeemed_amount", before=t.redeemed_amount, after=amount, at=now
        )
        t.redeemed_amount = amount

    def close(
        self,
        number: str,
        actor: str,
        result: str,
        *,
        closer_id: int | None = None,
        redeemed_amount: Decimal | None = None,
    ) -> Ticket:
        """办结 by staff (lifecycle.py, "Closing"): the result is required and told to the enterprise with the rating
        request; a ticket nobody has taken yet gets the member of staff closing it as its 承办人 first
        (已受理 → 已分派 → 已办结, each step in the trail), so every closed ticket says who handled it."""
        result = (result or "").replace("\x00", "").strip()
        if len(normalise(result)) < 2:
            raise TicketError("办结时请填写办理结果（会告知企业）。")
        result = result[:MAX_DESCRIPTION]
        now = self.clock()
        with sessions(self.db_url).begin() as s:
            t = s.scalars(select(Ticket).where(Ticket.number == number)).first()
            if t is None:
                raise TicketError(f"工单 {number} 不存在")
            lc.check_transition(t.status, lc.RESOLVED)
            if t.assignee_id is None and closer_id is not None:
                self._event(s, t, actor, "assign", field="assignee_id", before=None, after=closer_id, at=now)
                t.assignee_id = closer_id
            if t.status == lc.ACCEPTED:
                self._apply(s, t, lc.ASSIGNED, actor, now)
            t.result = result
            self._apply(s, t, lc.RESOLVED, actor, now, reason=result)
            self._redeemed(s, t, actor, now, redeemed_amount)
            return t

    def reclassify(
        self, number: str, actor: str, category: str, node_id: str | None = None, reason: str | None = None
    ) -> tuple[Ticket, Optional[str]]:
        """Change an open ticket's category (and with it its service content and 办结时限, recomputed by the SLA
        rules from its acceptance, pauses kept) and/or its node — without `node_id` a new category is routed again
        by the routing rules. Every change is a TicketEvent; a ticket moved to another node is announced to that
        node (Notification "node:<id>") and loses its 承办人, who belonged to the old node.
        Returns (ticket, the node it left or None)."""
        if category not in BY_INTENT:
            raise TicketError(f"未知的需求类别：{category}")
        now = self.clock()
        with sessions(self.db_url).begin() as s:
            t = s.scalars(select(Ticket).where(Ticket.number == number)).first()
            if t is None:
                raise TicketError(f"工单 {number} 不存在")
            if t.status not in lc.OPEN_STATES:
                raise TicketError(
                    f"工单当前为「{lc.LABELS[t.status]}」，办理中的工单才能重新分类；如需调整请先重新办理。"
                )
            target_node = node_id
            recategorised = category != t.category
            if recategorised:
                if target_node is None:
                    ent = s.get(Enterprise, t.enterprise_id)
                    target_node = self.router.route(
                        category, new_city=ent.new_city if ent else None, park=ent.park if ent else None
                    ).node_id
                self._event(
                    s, t, actor, "reclassify", field="category", before=t.category, after=category, note=reason, at=now
                )
                t.category, t.service_content = category, BY_INTENT[category].content
                due = self.sla.resolution_due(_aware(t.created_at), category)
                if t.paused_working_seconds:
                    due = self.sla.add_working_seconds(due, t.paused_working_seconds)
                old_due = _aware(t.resolution_due)
                if due != old_due:
                    self._event(
                        s,
                        t,
                        "system",
                        "sla",
                        field="resolution_due",
                        before=old_due,
                        after=due,
                        note=f"按「{BY_INTENT[category].name}」的办结时限重新计算",
                        at=now,
                    )
                    t.resolution_due = due
                    if due > old_due:
                        t.warned_at = None  # the pre-breach warning belongs to the old deadline
            left = None
            if target_node and target_node != t.node_id:
                node = s.get(ServiceNode, target_node)
                if node is None:
                    raise TicketError(f"服务节点 {target_node} 不存在")
                self._event(
                    s, t, actor, "transfer", field="node_id", before=t.node_id, after=target_node, note=reason, at=now
                )
                left, t.node_id = t.node_id, target_node
                if t.assignee_id is not None:
                    self._event(s, t, actor, "assign", field="assignee_id", before=t.assignee_id, after=None, at=now)
                    t.assignee_id = None
                name = BY_INTENT[t.category].name
                s.add(
                    Notification(
                        kind="ticket_transfer",
                        recipient=f"node:{target_node}",
                        ticket_id=t.id,
                        created_at=now,
                        body=f"工单 {t.number}（{name}）已转由{node.name}办理，请及时指派承办人。"
                        + (f"说明：{reason}" if reason else ""),
                    )
                )
            if not recategorised and left is None:
                raise TicketError("类别和受理节点都没有变化。")
            t.updated_at = now
            return t, left

    def assign(self, number: str, node_id: str | None, assignee_id: int | None, actor: str) -> Ticket:
        now = self.clock()
        with sessions(self.db_url).begin() as s:
            t = s.scalars(select(Ticket).where(Ticket.number == number)).first()
            if t is None:
                raise TicketError(f"工单 {number} 不存在")
            if node_id and node_id != t.node_id:
                if s.get(ServiceNode, node_id) is None:
                    raise TicketError(f"服务节点 {node_id} 不存在")
                self._event(s, t, actor, "transfer", field="node_id", before=t.node_id, after=node_id, at=now)
                t.node_id = node_id
            if assignee_id != t.assignee_id:
                self._event(s, t, actor, "assign", field="assignee_id", before=t.assignee_id, after=assignee_id, at=now)
                t.assignee_id = assignee_id
            if t.status == lc.ACCEPTED:
                self._apply(s, t, lc.ASSIGNED, actor, now)
            t.updated_at = now
            return t

    def note(self, number: str, actor: str, text: str, internal: bool = True) -> None:
        now = self.clock()
        with sessions(self.db_url).begin() as s:
            t = s.scalars(select(Ticket).where(Ticket.number == number)).first()
            if t is None:
                raise TicketError(f"工单 {number} 不存在")
            self._event(s, t, actor, "note" if internal else "reply", note=text[:MAX_DESCRIPTION], at=now)
            if not internal and actor.startswith("staff:"):
                self._stamp_first_response(t, now)
            t.updated_at = now

    # ---- the enterprise's own actions ------------------------------------------------------------

    def add_info(self, number: str, sender_id: str, text: str) -> Ticket:
        """The user adds information; a ticket waiting for it (待补充) resumes."""
        text = (text or "").strip()
        if not text:
            raise TicketError("补充内容不能为空。")
        now = self.clock()
        with sessions(self.db_url).begin() as s:
            t = self._own_ticket(s, number, sender_id)
            if t.status not in lc.OPEN_STATES:
                raise TicketError(
                    f"工单 {number} 已{lc.LABELS[t.status]}，不能再补充信息。如需继续办理请说明情况，我们会为您重新受理。"
                )
            self._event(s, t, f"user:{sender_id}", "add_info", note=text[:MAX_DESCRIPTION], at=now)
            if t.status == lc.AWAITING_INFO:
                self._apply(s, t, lc.IN_PROGRESS, f"user:{sender_id}", now)
            t.updated_at = now
            return t

    def comment_on_rating(self, number: str, sender_id: str, comment: str) -> None:
        """Attach the optional comment to the sender's latest rating of this ticket."""
        now = self.clock()
        with sessions(self.db_url).begin() as s:
            t = self._own_ticket(s, number, sender_id)
            rating = s.scalars(select(Rating).where(Rating.ticket_id == t.id).order_by(Rating.id.desc())).first()
            if rating is None:
                raise TicketError(f"工单 {number} 还没有评价。")
            rating.comment = comment[:500]
            self._event(s, t, f"user:{sender_id}", "rating_comment", note=comment[:500], at=now)

    def rate(self, number: str, sender_id: str, score: int, comment: str | None = None) -> Ticket:
        """Rate a closed ticket; 不满意/非常不满意 reopens it and flags a follow-up (回访)."""
        if score not in RATING_LABELS:
            raise TicketError("评分应为1到5之间的整数。")
        now = self.clock()
        with sessions(self.db_url).begin() as s:
            t = self._own_ticket(s, number, sender_id)
            if t.status != lc.RESOLVED:
                raise TicketError(f"工单 {number} 当前为「{lc.LABELS[t.status]}」，办结后才能评价。")
            s.add(Rating(ticket_id=t.id, score=score, comment=(comment or "")[:500] or None, created_at=now))
            actor = f"user:{sender_id}"
            self._apply(s, t, lc.RATED, actor, now)
            self._event(s, t, actor, "rating", after=score, note=comment, at=now)
            if score <= UNSATISFIED:
                self._apply(s, t, lc.IN_PROGRESS, actor, now, reason=f"用户评价「{RATING_LABELS[score]}」，重新办理")
                t.followup_required = True
                self._event(s, t, "system", "followup", field="followup_required", before=False, after=True, at=now)
            return t
