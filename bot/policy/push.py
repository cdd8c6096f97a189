"""政策推送 (issue 12 item 4): tell an enterprise when a policy that fits it opens for applications.

What triggers a reminder (`triggers`), only from the rule files (knowledge/policies/*.yml), never guessed:
- an application window: `application_window.opens` / `closes` (dates taken from a published notice, with its
  `source`) — from the opening day to the deadline (no deadline: for OPEN_WINDOW_DAYS); or, in a year without
  dates, the usual `months` — in those months, no deadline stated;
- a new policy: one whose `effective` date lies within the last NEW_POLICY_DAYS.

Who gets it (`plan`): an enterprise whose saved figures (一企一档, enterprise_figures) make the policy
"eligible", or — when its figures do not rule the policy out — that registered a need of the policy's category
(tickets) within NEED_LOOKBACK. One message per enterprise and run, to one chat identity of it that has a
conversation (web chat, WeChat, WeCom): a verified contact, or for a past need the person who registered it;
never to an identity that replied 退订 (bot/policy/subscription.py). At most one push per enterprise in
THROTTLE (a rolling week: a push exactly 7 days after the last is allowed), and never the same trigger twice.

How it goes out (`run`): in the caller's transaction (the scheduler's claimed run, so it commits with the
run's done mark) a PolicyPush row records the push and a Notification ("sender:<conversation id>", kind
KIND) carries it; the desk's notifier delivers it through the gateway to the channel, with a 登记需求 button
(the payload-only intent policy_register) and a 退订 button. The per-enterprise throttle is a conditional
UPDATE and (enterprise, trigger) is unique, so even two runs at once cannot push twice.

This module is domain core: no Rasa, no desk. The chat's facts → verdict conversion lives in bot.dialogue,
which imports bot.policy, so it comes in as `Matching` (bot/scheduler.py builds it).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable, Mapping, Optional

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from bot.clock import BEIJING
from bot.db import dialect_insert, read_sessions
from bot.db.schema import (
    Contact,
    Conversation,
    Enterprise,
    EnterpriseFigures,
    Notification,
    PolicyPush,
    PolicyPushThrottle,
    Ticket,
)
from bot.db.schema import aware as _aware
from bot.policy import subscription
from bot.policy.model import Rule, RuleSet
from bot.taxonomy import BY_INTENT

KIND = "policy_push"  # Notification.kind
THROTTLE = timedelta(days=7)  # at most one push per enterprise in this
NEW_POLICY_DAYS = 30  # a policy effective within this many days is "new"
OPEN_WINDOW_DAYS = 30  # a window with an opening day but no deadline is announced this long
NEED_LOOKBACK = timedelta(days=730)  # past needs (tickets) that still count
REGISTER_PAYLOAD = '/policy_register{{"policy":"{policy}"}}'
UNSUBSCRIBE_BUTTON = {"title": "退订提醒", "payload": "退订"}

TRIGGER_LABELS = {"window": "开始申报", "new": "新政策"}
REASON_LABELS = {"profile": "按已保存的企业数字符合条件", "need": "曾登记同类需求"}
SKIP_LABELS = {"throttled": "7天内已推送过", "opted_out": "已退订", "no_channel": "没有可推送的聊天渠道"}


@dataclass(frozen=True)
class Matching:
    """How saved figures become verdicts, and which need category a policy belongs to.

    `evaluate(rules, facts, today)` returns a bot.policy Report (results with .policy and .verdict);
    `categories` maps a policy id to a need category (tickets.category); `short_names` a policy id to the
    short name used on the button ("高企认定")."""

    evaluate: Callable[[RuleSet, dict, date], Any]
    categories: Mapping[str, str]
    short_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Trigger:
    key: str  # unique per occasion: window:hnte:2027-05-01 / window:tsme:2027-06 / new:x:2026-12-01
    policy: str
    name: str
    kind: str  # window / new
    deadline: Optional[date]
    note: str  # where the dates are announced (the rule's window note)
    effective: Optional[date] = None

    @property
    def label(self) -> str:
        return TRIGGER_LABELS.get(self.kind, self.kind)


@dataclass(frozen=True)
class Candidate:
    """One enterprise of a run or preview: who, which trigger, why, where to — or why not."""

    enterprise_id: int
    enterprise: str
    trigger: Trigger
    reason: str  # profile / need
    conversation_id: Optional[str] = None
    contact_id: Optional[int] = None
    contact: str = ""
    channel: Optional[str] = None
    node_id: Optional[str] = None
    skipped: str = ""  # "" (will be sent) / throttled / opted_out / no_channel
    last_push_at: Optional[datetime] = None

    @property
    def reason_text(self) -> str:
        return REASON_LABELS.get(self.reason, self.reason)

    @property
    def skipped_text(self) -> str:
        return SKIP_LABELS.get(self.skipped, self.skipped)


@dataclass
class Plan:
    now: datetime
    triggers: list[Trigger]
    send: list[Candidate]
    skipped: list[Candidate]

    def scoped(self, nodes: Optional[set]) -> "Plan":
        """Only the enterprises whose node is in `nodes` (None: all; unrouted ones belong to the centre)."""
        if nodes is None:
            return self
        return Plan(
            self.now,
            self.triggers,
            [c for c in self.send if c.node_id in nodes],
            [c for c in self.skipped if c.node_id in nodes],
        )


@dataclass(frozen=True)
class PushRecord:
    """A recorded push, as the console and the enterprise file show it."""

    id: int
    created_at: datetime
    enterprise_id: int
    enterprise: str
    policy_id: str
    policy_name: str
    trigger: str
    trigger_key: str
    reason: str
    conversation_id: str
    channel: Optional[str]
    node_id: Optional[str]
    deadline: Optional[date]
    body: str
    sent_by: str
    delivered_at: Optional[datetime]
    notification_kept: bool = True  # False once retention removed the notification that carried it

    @property
    def status_text(self) -> str:
        if self.delivered_at is not None:
            return "已送达"
        return "待发送" if self.notification_kept else "已清理"

    @property
    def reason_text(self) -> str:
        return REASON_LABELS.get(self.reason, self.reason)

    @property
    def trigger_text(self) -> str:
        return TRIGGER_LABELS.get(self.trigger, self.trigger)


# ---- what triggers a reminder ------------------------------------------------------------------------


def _window_trigger(rule: Rule, today: date) -> Optional[Trigger]:
    w = rule.window
    if w is None:
        return None
    first_day = w.opens or w.closes  # the first date this year's window names (None: it names none)
    if first_day is not None:
        start = w.opens
        end = w.closes or (first_day + timedelta(days=OPEN_WINDOW_DAYS - 1))
        if (start is None or start <= today) and today <= end:
            anchor = first_day.isoformat()
            return Trigger(f"window:{rule.id}:{anchor}", rule.id, rule.name, "window", w.closes, w.note)
        if first_day.year == today.year:
            return None  # this year's dates are known: the usual months do not apply
    if today.month in w.months:
        first = today.month
        while first - 1 in w.months:
            first -= 1
        return Trigger(f"window:{rule.id}:{today.year}-{first:02d}", rule.id, rule.name, "window", None, w.note)
    return None


def triggers(rules: RuleSet, today: date) -> list[Trigger]:
    """The occasions for a reminder on `today`, soonest deadline first (no deadline last)."""
    out = []
    for rule in rules:
        if not rule.is_effective(today):
            continue
        t = _window_trigger(rule, today)
        if t is not None:
            out.append(t)
        if rule.effective <= today < rule.effective + timedelta(days=NEW_POLICY_DAYS):
            out.append(
                Trigger(
                    f"new:{rule.id}:{rule.effective.isoformat()}",
                    rule.id,
                    rule.name,
                    "new",
                    None,
                    rule.window.note if rule.window else "",
                    rule.effective,
                )
            )
    return sorted(out, key=lambda t: (t.deadline is None, t.deadline or date.max, t.kind != "window", t.key))


# ---- the message -----------------------------------------------------------------------------------------


def _md(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def message(trigger: Trigger, reason: str, category: str = "") -> str:
    """The reminder: what opened, until when, why this enterprise, what to do; short (one chat bubble)."""
    if trigger.kind == "new":
        head = (
            f"【新政策】{trigger.name}自{_md(trigger.effective)}起施行。"
            if trigger.effective
            else f"【新政策】{trigger.name}。"
        )
    elif trigger.deadline:
        head = f"【政策提醒】{trigger.name}正在受理，截止{_md(trigger.deadline)}。"
    else:
        head = f"【政策提醒】{trigger.name}本月进入申报时间（{trigger.note}），具体时间以主管部门通知为准。"
    if reason == "profile":
        why = "按贵企业此前提供的数字初步判断，可量化的条件都满足。"
    else:
        why = f"贵企业曾登记{category or '相关'}需求，可能用得上。"
    return head + why + "需要协助可点“登记需求”，服务专员跟进。回复“退订”不再接收。"


def buttons(policy_id: str, short_names: Mapping[str, str] = {}) -> list[dict]:
    """登记需求 (the policy_register payload the chat's result buttons use) and 退订."""
    short = short_names.get(policy_id, "")
    return [
        {"title": f"登记{short}需求" if short else "登记需求", "payload": REGISTER_PAYLOAD.format(policy=policy_id)},
        dict(UNSUBSCRIBE_BUTTON),
    ]


def buttons_for_notification(db_url: str, notification_id: int, short_names: Mapping[str, str] = {}) -> Optional[list]:
    """The buttons of a push's notification (the desk's notifier asks when it delivers one)."""
    with read_sessions(db_url)() as s:
        policy = s.scalar(select(PolicyPush.policy_id).where(PolicyPush.notification_id == notification_id))
    return buttons(policy, short_names) if policy else None


# ---- who gets it -----------------------------------------------------------------------------------------


def _category_name(category: str) -> str:
    c = BY_INTENT.get(category)
    return c.name if c else ""


def plan(
    s: Session,
    rules: RuleSet,
    matching: Matching,
    now: datetime,
    tz=BEIJING,
    enterprises: Optional[Iterable[int]] = None,
) -> Plan:
    """Who a run at `now` would notify (and who qualifies but is skipped, with why), read in session `s`;
    `enterprises` limits it to those ids (None: every enterprise)."""
    today = now.astimezone(tz).date()
    active = triggers(rules, today)
    result = Plan(now, active, [], [])
    if not active:
        return result
    policies = {t.policy for t in active}
    categories = {matching.categories[p] for p in policies if p in matching.categories}

    verdicts: dict[int, dict[str, str]] = {}
    for row in s.execute(select(EnterpriseFigures.enterprise_id, EnterpriseFigures.figures)):
        try:
            facts = json.loads(row.figures or "{}")
            report = matching.evaluate(rules, facts, today)
        except Exception:  # noqa: BLE001 - one enterprise's odd figures must not stop the run
            continue
        verdicts[row.enterprise_id] = {r.policy: r.verdict for r in report.results}

    needs: dict[int, dict[str, list[tuple[Optional[int], Optional[str]]]]] = defaultdict(lambda: defaultdict(list))
    if categories:
        for t in s.execute(
            select(Ticket.enterprise_id, Ticket.category, Ticket.contact_id, Ticket.conversation_id).where(
                Ticket.category.in_(sorted(categories)), Ticket.created_at >= now - NEED_LOOKBACK
            )
        ):
            needs[t.enterprise_id][t.category].append((t.contact_id, t.conversation_id))

    pushed = set()
    enterprise_ids = sorted(set(verdicts) | set(needs))
    if enterprises is not None:
        only = set(enterprises)
        enterprise_ids = [i for i in enterprise_ids if i in only]
    if not enterprise_ids:
        return result
    for chunk in _chunks(enterprise_ids):
        pushed |= set(
            s.execute(
                select(PolicyPush.enterprise_id, PolicyPush.trigger_key).where(
                    PolicyPush.enterprise_id.in_(chunk), PolicyPush.trigger_key.in_([t.key for t in active])
                )
            ).all()
        )

    chosen: dict[int, tuple[Trigger, str]] = {}
    for eid in enterprise_ids:
        for t in active:
            if (eid, t.key) in pushed:
                continue
            verdict = verdicts.get(eid, {}).get(t.policy)
            if verdict == "eligible":
                chosen[eid] = (t, "profile")
                break
            if verdict == "not_eligible":
                continue
            cat = matching.categories.get(t.policy)
            if cat and needs.get(eid, {}).get(cat):
                chosen[eid] = (t, "need")
                break
    if not chosen:
        return result

    ids = sorted(chosen)
    names, throttled, contacts, ticket_nodes = {}, {}, defaultdict(list), {}
    for chunk in _chunks(ids):
        names.update(dict(s.execute(select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_(chunk))).all()))
        throttled.update(
            dict(
                s.execute(
                    select(PolicyPushThrottle.enterprise_id, PolicyPushThrottle.last_push_at).where(
                        PolicyPushThrottle.enterprise_id.in_(chunk)
                    )
                ).all()
            )
        )
        for c in s.execute(
            select(
                Contact.id,
                Contact.enterprise_id,
                Contact.name,
                Contact.sender_id,
                Contact.verified_at,
                Conversation.channel,
                Conversation.node_id,
                Conversation.last_user_at,
                Conversation.updated_at,
            )
            .join(Conversation, Conversation.id == Contact.sender_id)
            .where(Contact.enterprise_id.in_(chunk), Contact.sender_id.isnot(None))
        ):
            contacts[c.enterprise_id].append(c)
        for eid, node in s.execute(
            select(Ticket.enterprise_id, Ticket.node_id)
            .where(Ticket.enterprise_id.in_(chunk))
            .order_by(Ticket.created_at, Ticket.id)
        ):
            ticket_nodes[eid] = node  # the latest ticket's node wins
    # a past need raised without a contact row: its own conversation
    need_convs = {cid for eid in ids for lst in needs.get(eid, {}).values() for _, cid in lst if cid}
    conv_rows = {}
    for chunk in _chunks(sorted(need_convs)):
        for c in s.execute(
            select(
                Conversation.id,
                Conversation.channel,
                Conversation.node_id,
                Conversation.last_user_at,
                Conversation.updated_at,
            ).where(Conversation.id.in_(chunk))
        ):
            conv_rows[c.id] = c
    all_senders = {c.sender_id for lst in contacts.values() for c in lst} | set(conv_rows)
    out = subscription.opted_out(s, all_senders)

    for eid in ids:
        t, reason = chosen[eid]
        last = _aware(throttled.get(eid))
        base = Candidate(eid, names.get(eid, str(eid)), t, reason, last_push_at=last, node_id=ticket_nodes.get(eid))
        if last is not None and now - last < THROTTLE:
            result.skipped.append(replace(base, skipped="throttled"))
            continue
        own = needs.get(eid, {}).get(matching.categories.get(t.policy, ""), []) if reason == "need" else []
        own_contacts = {c for c, _ in own if c}
        own_convs = {cid for _, cid in own if cid}
        options = []  # (recency, conversation id, contact id, contact name, channel, node)
        for c in contacts.get(eid, []):
            if c.verified_at is not None or c.id in own_contacts or c.sender_id in own_convs:
                options.append(
                    (_aware(c.last_user_at or c.updated_at), c.sender_id, c.id, c.name, c.channel, c.node_id)
                )
        known = {o[1] for o in options}
        for cid in own_convs - known:
            c = conv_rows.get(cid)
            if c is not None:
                options.append((_aware(c.last_user_at or c.updated_at), c.id, None, "", c.channel, c.node_id))
        reachable = [o for o in options if o[1] not in out]
        if not reachable:
            result.skipped.append(replace(base, skipped="opted_out" if options else "no_channel"))
            continue
        best = max(reachable, key=lambda o: (o[0] is not None, o[0] or now, o[1]))
        result.send.append(
            replace(
                base,
                conversation_id=best[1],
                contact_id=best[2],
                contact=best[3] or "",
                channel=best[4],
                node_id=base.node_id or best[5],
            )
        )
    return result


def _chunks(items: list, size: int = 500) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def preview(
    db_url: str,
    rules: RuleSet,
    matching: Matching,
    now: datetime,
    tz=BEIJING,
    enterprises: Optional[Iterable[int]] = None,
) -> Plan:
    """What the next run would do, without sending (the console's 推送预览)."""
    with read_sessions(db_url)() as s:
        return plan(s, rules, matching, now, tz, enterprises)


# ---- sending ---------------------------------------------------------------------------------------------


def _claim_throttle(s: Session, enterprise_id: int, now: datetime) -> bool:
    """Take this week's push of the enterprise: a new row, or the old one moved on if a week has passed."""
    created = s.execute(
        dialect_insert(s, PolicyPushThrottle)
        .values(enterprise_id=enterprise_id, last_push_at=now)
        .on_conflict_do_nothing(index_elements=["enterprise_id"])
    )
    if created.rowcount == 1:
        return True
    moved = s.execute(
        update(PolicyPushThrottle)
        .where(PolicyPushThrottle.enterprise_id == enterprise_id, PolicyPushThrottle.last_push_at <= now - THROTTLE)
        .values(last_push_at=now)
        .execution_options(synchronize_session=False)
    )
    return moved.rowcount == 1


def run(
    s: Session,
    rules: RuleSet,
    matching: Matching,
    now: datetime,
    *,
    sent_by: str = "system",
    period: Optional[str] = None,
    tz=BEIJING,
    enterprises: Optional[Iterable[int]] = None,
) -> list[PushRecord]:
    """Plan and push, in the caller's transaction (commit or roll back with it). Returns what was pushed."""
    p = plan(s, rules, matching, now, tz, enterprises)
    done: list[PushRecord] = []
    for c in p.send:
        t = c.trigger
        assert c.conversation_id is not None  # plan() sends only to a conversation it found
        body = message(t, c.reason, _category_name(matching.categories.get(t.policy, "")))
        row = s.execute(
            dialect_insert(s, PolicyPush)
            .values(
                enterprise_id=c.enterprise_id,
                policy_id=t.policy,
                policy_name=t.name[:128],
                trigger_key=t.key,
                trigger=t.kind,
                reason=c.reason,
                contact_id=c.contact_id,
                conversation_id=c.conversation_id,
                channel=c.channel,
                node_id=c.node_id,
                deadline=t.deadline,
                body=body,
                sent_by=sent_by[:128],
                job_period=period,
                created_at=now,
            )
            .on_conflict_do_nothing()
        )
        if row.rowcount != 1:
            continue  # this trigger already reached the enterprise (another run)
        push_id = s.scalar(
            select(PolicyPush.id).where(PolicyPush.enterprise_id == c.enterprise_id, PolicyPush.trigger_key == t.key)
        )
        if not _claim_throttle(s, c.enterprise_id, now):
            s.execute(PolicyPush.__table__.delete().where(PolicyPush.id == push_id))
            continue  # pushed within the week meanwhile
        n = Notification(kind=KIND, recipient=f"sender:{c.conversation_id}", body=body, created_at=now)
        s.add(n)
        s.flush()
        s.execute(
            update(PolicyPush)
            .where(PolicyPush.id == push_id)
            .values(notification_id=n.id)
            .execution_options(synchronize_session=False)
        )
        done.append(
            PushRecord(
                push_id,
                now,
                c.enterprise_id,
                c.enterprise,
                t.policy,
                t.name,
                t.kind,
                t.key,
                c.reason,
                c.conversation_id,
                c.channel,
                c.node_id,
                t.deadline,
                body,
                sent_by,
                None,
            )
        )
    return done


# ---- what was pushed -------------------------------------------------------------------------------------


def _records(s: Session, where, limit: Optional[int]) -> list[PushRecord]:
    q = (
        select(PolicyPush, Enterprise.name, Notification.delivered_at, Notification.id)
        .join(Enterprise, Enterprise.id == PolicyPush.enterprise_id)
        .outerjoin(Notification, Notification.id == PolicyPush.notification_id)
        .where(*where)
        .order_by(PolicyPush.created_at.desc(), PolicyPush.id.desc())
    )
    if limit:
        q = q.limit(limit)
    out = []
    for p, name, delivered, notification in s.execute(q):
        out.append(
            PushRecord(
                p.id,
                _aware(p.created_at),
                p.enterprise_id,
                name,
                p.policy_id,
                p.policy_name,
                p.trigger,
                p.trigger_key,
                p.reason,
                p.conversation_id,
                p.channel,
                p.node_id,
                p.deadline,
                p.body,
                p.sent_by,
                _aware(delivered),
                notification is not None,
            )
        )
    return out


def pushes(db_url: str, nodes: Optional[set] = None, *, limit: int = 200, policy: str = "") -> list[PushRecord]:
    """Recent pushes, newest first; `nodes` limits them to those service nodes (None: all; a push of an
    enterprise with no node belongs to the comprehensive centre, seen by whole-network staff only)."""
    where = []
    if nodes is not None:
        where.append(and_(PolicyPush.node_id.isnot(None), PolicyPush.node_id.in_(sorted(nodes))))
    if policy:
        where.append(PolicyPush.policy_id == policy)
    with read_sessions(db_url)() as s:
        return _records(s, where, limit)


def pushes_for_enterprise(db_url: str, enterprise_id: int) -> list[PushRecord]:
    """Every policy reminder pushed to one enterprise, newest first (for the enterprise file, 一企一档)."""
    with read_sessions(db_url)() as s:
        return _records(s, [PolicyPush.enterprise_id == enterprise_id], None)
