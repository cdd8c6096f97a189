"""Scheduled work of the window — 日调度、周推进、月总结 and the SLA sweep — exactly once.

Jobs and their periods (Beijing time, Asia/Shanghai, from bot/service_data/sla.yml):

- ``daily_dispatch`` (日调度), period ``2026-11-25``: on official working days from 08:30, every
  node gets one dispatch list (Notification kind ``dispatch_list``, recipient ``node:<id>``) as
  bot/reports/dispatch.py builds it for the day's 08:30 (the console and ``make dispatch`` show
  the same list for the same moment; the rules are in docs/dispatch.md).
- ``weekly_push`` (周推进), period ``2026-W48`` (ISO week): from 09:00 on the week's first working
  day (Monday unless it is a holiday), every open ticket created more than 7 days ago and not
  pushed in the last week gets a progress message to the enterprise (kind ``progress``).
- ``monthly_summary`` (月总结), period ``2026-10`` (the previous month): on the 1st from 08:00,
  var/reports/<month>.html and .xlsx are written and the centre is notified.
- ``sla_sweep``: idempotent by ticket state (no period): pre-breach warnings (``sla_warning``)
  and escalation of overdue tickets to the parent node (``escalation``); tickets in 待补充
  (awaiting_info) are paused and never warned or escalated.
- ``personal_data_retention`` (个人信息到期清理), period ``2026-11-25``: every day from 03:30, chat
  messages, transcripts, question logs and notifications of conversations idle for PERSONAL_DATA_RETENTION_DAYS
  are deleted and contacts/tickets anonymised (bot.privacy.data.purge), in the claim's transaction; like
  the tracker retention, only in a scheduler given the tracker store (the desk, the command line).
- ``policy_push`` (政策推送), period ``2026-11-25``: on working days from 10:00, enterprises that qualify for a
  policy whose application window is open or that is new get one reminder each (bot/policy/push.py: at most one
  a week per enterprise, never after 退订); no catch-up (a window stays open, the next run finds it). Only a
  scheduler given the knowledge folder (``knowledge_dir``, or the real stores: the desk, the command line).
- ``tracker_retention`` (对话记录清理), period ``2026-11-25``: every day from 03:30, Rasa's tracker
  events older than TRACKER_RETENTION_DAYS are deleted (bot.rasa_ext.retention). Only a scheduler that is
  given the tracker store (``tracker_url``: the desk, the command line) has this job; no catch-up
  (each run covers everything old); the cutoff never follows a simulated ``--now`` into the future.

Exactly once across instances: a run is claimed by inserting a JobRun row; the unique
(job, period) constraint makes every other instance's insert fail (IntegrityError → skip).
The job's writes and the row's ``done`` mark commit in one transaction, guarded by the
claim token (instance, started_at): an instance that lost its claim rolls everything back.
A failed run is marked ``failed`` and taken over by a later tick (conditional UPDATE failed →
running, after ``RETRY_AFTER``); a run left ``running`` by a crashed instance is taken over
after ``STALE_AFTER``.

Catch-up after downtime: every tick considers the periods of the last 7 days (daily, working
days only, one list per node per missed day), 4 weeks and 2 months that are due and not done.
Catch-up never reaches back before a job's first run: a job that has never run starts with its
current period only (a fresh installation does not send last week's dispatch lists).

    python -m bot.scheduler run-once [--now 2026-11-25T09:00] [--db URL] [--tracker URL]
    python -m bot.scheduler status [--now …] [--db URL]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import read_sessions, sessions
from bot.db.schema import Contact, Enterprise, JobRun, Notification, ServiceNode, Ticket, TicketEvent, utcnow
from bot.dialogue import policy_check as pc
from bot.policy import load_rules, push
from bot.policy.push import Matching
from bot.privacy.data import purge as purge_personal_data
from bot.rasa_ext.retention import purge as purge_tracker
from bot.reports import dispatch, monthly_summary, to_html, to_text, to_xlsx
from bot.settings import Settings
from bot.taxonomy import BY_INTENT
from bot.tickets import lifecycle as lc
from bot.tickets.service import TicketService
from bot.tickets.sla import SlaPolicy, default_policy

log = logging.getLogger(__name__)

DAILY, WEEKLY, MONTHLY, SLA_SWEEP = "daily_dispatch", "weekly_push", "monthly_summary", "sla_sweep"
RETENTION = "tracker_retention"
PRIVACY = "personal_data_retention"
POLICY_PUSH = "policy_push"
JOB_LABELS = {
    DAILY: "日调度",
    WEEKLY: "周推进",
    MONTHLY: "月总结",
    SLA_SWEEP: "时限巡检",
    RETENTION: "对话记录清理",
    PRIVACY: "个人信息到期清理",
    POLICY_PUSH: "政策推送",
}

DAILY_AT = dispatch.DISPATCH_AT
WEEKLY_AT = time(9, 0)
MONTHLY_AT = time(8, 0)
RETENTION_AT = time(3, 30)  # quiet hours: deletes on the tracker store
POLICY_PUSH_AT = time(10, 0)  # 政策推送: office hours, after the morning's dispatch
DAILY_CATCH_UP_DAYS = 7
WEEKLY_CATCH_UP_WEEKS = 4
MONTHLY_CATCH_UP_MONTHS = 2

PUSH_AGE = dispatch.WEEKLY_AGE  # 周推进: tickets open longer than this (本周推进 in the list)
PUSH_INTERVAL = timedelta(days=7)  # … and not pushed within this
PUSH_SLACK = timedelta(days=1)  # a push at Mon 09:00:40 must not block next Mon 09:00:10

RETRY_AFTER = timedelta(minutes=5)  # a failed run is retried by the first tick after this
STALE_AFTER = timedelta(hours=1)  # a run still "running" after this is presumed dead
SLA_INTERVAL = 300  # seconds between SLA sweeps in run_forever

ACTOR = "system"
RUNNING, DONE, FAILED = "running", "done", "failed"
STATUS_LABELS = {RUNNING: "执行中", DONE: "已完成", FAILED: "失败"}
ACTIVE_OPEN = frozenset(lc.OPEN_STATES - {lc.AWAITING_INFO})  # the SLA clock runs


def default_instance() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _aware(dt: Optional[datetime]) -> Optional[datetime]:
    if dt is None or dt.tzinfo is not None:
        return dt
    return dt.replace(tzinfo=timezone.utc)


def _check_now(now: datetime) -> datetime:
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"需要带时区的当前时间，收到的是：{now!r}")
    return now.astimezone(timezone.utc)


def _md_hm(dt: datetime, tz) -> str:
    loc = dt.astimezone(tz)
    return f"{loc.month}月{loc.day}日 {loc:%H:%M}"


def _category_name(category: str) -> str:
    c = BY_INTENT.get(category)
    return c.name if c else category


# ---- periods ----------------------------------------------------------------------------------------


def iso_week(d: date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


def week_monday(period: str) -> date:
    y, w = period.split("-W")
    return date.fromisocalendar(int(y), int(w), 1)


def month_period(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def months_back(d: date, n: int) -> str:
    """The calendar month n months before d's month."""
    index = d.year * 12 + (d.month - 1) - n
    return month_period(index // 12, index % 12 + 1)


def _month_after(period: str) -> date:
    y, m = (int(x) for x in period.split("-"))
    return date(y + (m == 12), m % 12 + 1, 1)


@dataclass(frozen=True)
class Job:
    """A scheduled job: when its periods fall due and what it does."""

    name: str
    label: str
    due_at: Callable[["Scheduler", str], datetime]  # when a period becomes due
    candidates: Callable[["Scheduler", datetime], list[str]]  # periods in the catch-up window
    current: Callable[["Scheduler", datetime], str]  # the period of `now`
    work: Callable[["Scheduler", Session, str, datetime, Any], tuple[str, Any]]
    prepare: Optional[Callable[["Scheduler", str, datetime], Any]] = None  # outside the transaction


def _daily_due(sched: "Scheduler", period: str) -> datetime:
    return sched.at(date.fromisoformat(period), DAILY_AT)


def _daily_candidates(sched: "Scheduler", now: datetime) -> list[str]:
    today = sched.local_date(now)
    out = []
    for back in range(DAILY_CATCH_UP_DAYS - 1, -1, -1):
        d = today - timedelta(days=back)
        if sched.sla.is_working_day(d) and sched.at(d, DAILY_AT) <= now:
            out.append(d.isoformat())
    return out


def _weekly_due(sched: "Scheduler", period: str) -> datetime:
    monday = week_monday(period)
    for i in range(7):
        d = monday + timedelta(days=i)
        if sched.sla.is_working_day(d):
            return sched.at(d, WEEKLY_AT)
    return sched.at(monday, WEEKLY_AT)  # a week without a working day: Monday anyway


def _weekly_candidates(sched: "Scheduler", now: datetime) -> list[str]:
    today = sched.local_date(now)
    monday = today - timedelta(days=today.weekday())
    periods = [iso_week(monday - timedelta(weeks=k)) for k in range(WEEKLY_CATCH_UP_WEEKS - 1, -1, -1)]
    return [p for p in periods if _weekly_due(sched, p) <= now]


def _monthly_due(sched: "Scheduler", period: str) -> datetime:
    return sched.at(_month_after(period), MONTHLY_AT)


def _monthly_candidates(sched: "Scheduler", now: datetime) -> list[str]:
    today = sched.local_date(now)
    periods = [months_back(today, k) for k in range(MONTHLY_CATCH_UP_MONTHS, 0, -1)]
    return [p for p in periods if _monthly_due(sched, p) <= now]


# ---- 日调度: the dispatch lists (bot/reports/dispatch.py: the rules, shared with console and CLI) ----


def _work_daily(sched: "Scheduler", s: Session, period: str, now: datetime, _prepared) -> tuple[str, Any]:
    day = date.fromisoformat(period)
    catch_up = day != sched.local_date(now)
    lists = dispatch_lists(s, day, sched.sla, catch_up=catch_up)
    for dl in lists.nodes:
        s.add(
            Notification(
                kind="dispatch_list",
                recipient=f"node:{dl.node_id}",
                body=dispatch.node_text(dl, lists, sched.tz),
                created_at=now,
            )
        )
    n = lists.totals()
    out = (
        f"已向 {len(lists.nodes)} 个服务节点发送{'补发的' if catch_up else ''}日调度清单："
        f"已超期 {n.get(dispatch.OVERDUE, 0)} 件，今日到期 {n.get(dispatch.DUE_TODAY, 0)} 件，"
        f"待补充 {n.get(dispatch.AWAITING, 0)} 件，新增 {n.get('new_total', 0)} 件，"
        f"本周推进 {n.get(dispatch.WEEKLY, 0)} 件，入企服务 {n.get('visits', 0)} 次"
    )
    return out, lists


def dispatch_lists(s: Session, day: date, sla: SlaPolicy, catch_up: bool = False) -> dispatch.Dispatch:
    """Every node's dispatch list of `day`, at the day's dispatch moment (08:30)."""
    return dispatch.build(s, dispatch.dispatch_moment(day, sla), sla=sla, catch_up=catch_up)


# ---- 周推进: progress messages to the enterprise ----------------------------------------------------


@dataclass(frozen=True)
class ProgressPush:
    number: str
    recipient: str
    body: str


def progress_message(number: str, category: str, status: str, node_name: str) -> str:
    label = lc.LABELS.get(status, status)
    step = lc.NEXT_STEP.get(status, "服务专员正在办理")
    return (
        f"您的工单 {number}（{_category_name(category)}）目前状态：{label}，由{node_name}办理，"
        f"下一步：{step}。如有新的情况或材料，可直接回复本消息，我们会及时跟进。"
    )


def weekly_push(s: Session, now: datetime) -> list[ProgressPush]:
    """Push progress for open tickets older than a week and not pushed within the last week."""
    age_cutoff = now - PUSH_AGE
    push_cutoff = now - PUSH_INTERVAL + PUSH_SLACK
    T = Ticket
    not_recent = or_(T.last_progress_push.is_(None), T.last_progress_push < push_cutoff)
    rows = s.execute(
        select(
            T.id,
            T.number,
            T.category,
            T.status,
            T.node_id,
            T.conversation_id,
            T.last_progress_push,
            ServiceNode.name,
            Contact.name,
            Contact.mobile,
            Enterprise.name,
        )
        .join(ServiceNode, ServiceNode.id == T.node_id)
        .join(Enterprise, Enterprise.id == T.enterprise_id)
        .outerjoin(Contact, Contact.id == T.contact_id)
        .where(T.status.in_(sorted(lc.OPEN_STATES)), T.created_at <= age_cutoff, not_recent)
        .order_by(T.id)
    ).all()
    pushes: list[ProgressPush] = []
    for t in rows:
        node_name, contact_name, mobile, ent_name = tuple(t)[7:]
        claimed = s.execute(
            update(T)
            .where(T.id == t.id, not_recent)
            .values(last_progress_push=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            continue
        body = progress_message(t.number, t.category, t.status, node_name)
        if t.conversation_id:
            recipient = f"sender:{t.conversation_id}"
        else:  # raised on a visit or by staff: no chat to write to, the node tells the enterprise
            recipient = f"node:{t.node_id}"
            who = "、".join(x for x in (ent_name, contact_name, mobile) if x)
            body = f"【周推进】工单 {t.number} 没有在线会话，请电话或上门告知企业（{who}）：\n" + body
        s.add(Notification(kind="progress", recipient=recipient, ticket_id=t.id, body=body, created_at=now))
        TicketService._event(
            s,
            t,
            ACTOR,
            "progress_push",
            field="last_progress_push",
            before=_aware(t.last_progress_push),
            after=now,
            note=body,
            at=now,
        )
        pushes.append(ProgressPush(t.number, recipient, body))
    return pushes


def _work_weekly(sched: "Scheduler", s: Session, period: str, now: datetime, _prepared) -> tuple[str, Any]:
    pushes = weekly_push(s, now)
    return f"已向企业推送 {len(pushes)} 件在办工单的进展", pushes


# ---- 月总结 -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthlyFiles:
    month: str
    html: Path
    xlsx: Path
    headline: str


def _prepare_monthly(sched: "Scheduler", period: str, now: datetime) -> MonthlyFiles:
    summary = monthly_summary(sched.db_url, period, now)
    out = sched.reports_dir
    out.mkdir(parents=True, exist_ok=True)
    html, xlsx = out / f"{period}.html", out / f"{period}.xlsx"
    tag = f".tmp-{os.getpid()}-{id(summary)}"
    tmp_html, tmp_xlsx = out / f"{period}.html{tag}", out / f"{period}.xlsx{tag}"
    try:
        tmp_html.write_text(to_html(summary), encoding="utf-8")
        to_xlsx(summary, str(tmp_xlsx))
        os.replace(tmp_html, html)  # readers never see half a file
        os.replace(tmp_xlsx, xlsx)
    finally:
        for p in (tmp_html, tmp_xlsx):
            p.unlink(missing_ok=True)
    headline = "\n\n".join(to_text(summary).split("\n\n")[:2])
    return MonthlyFiles(period, html, xlsx, headline)


def _work_monthly(sched: "Scheduler", s: Session, period: str, now: datetime, files: MonthlyFiles) -> tuple[str, Any]:
    body = f"【月总结】{files.headline}\n\n完整报表：{files.html}（网页，可打印）、{files.xlsx}（Excel）"
    s.add(Notification(kind="monthly_summary", recipient="node:centre", body=body, created_at=now))
    return f"已生成 {period} 月总结：{files.html.name}、{files.xlsx.name}", files


# ---- 对话记录清理: Rasa tracker events past the retention period --------------------------------------


def _retention_due(sched: "Scheduler", period: str) -> datetime:
    return sched.at(date.fromisoformat(period), RETENTION_AT)


def _retention_candidates(sched: "Scheduler", now: datetime) -> list[str]:
    today = sched.local_date(now)
    return [today.isoformat()] if _retention_due(sched, today.isoformat()) <= now else []


def _prepare_retention(sched: "Scheduler", period: str, now: datetime):
    """The deletes, in their own batched transactions on the tracker store (idempotent)."""
    # A rehearsal with a future --now must not delete conversations that are not old yet.
    return purge_tracker(sched.tracker_url, sched.retention_days, now=min(now, utcnow()))


def _work_retention(sched: "Scheduler", s: Session, period: str, now: datetime, result) -> tuple[str, Any]:
    return result.summary(), result


def _work_privacy(sched: "Scheduler", s: Session, period: str, now: datetime, _prepared) -> tuple[str, Any]:
    """个人信息到期清理 (bot.privacy): in the claim's transaction, so it commits with the done mark."""
    result = purge_personal_data(s, min(now, utcnow()), sched._conf().personal_data_retention_days)
    return result.summary(), result


# ---- 政策推送: reminders to enterprises that qualify for a policy now open (bot/policy/push.py) ----------


def policy_matching():
    """The chat's facts → verdicts and the policies' need categories (bot.dialogue), for bot.policy.push."""
    return Matching(
        evaluate=lambda rules, facts, today: pc.evaluate(rules, facts, today)[0],
        categories=dict(pc.POLICY_CATEGORY),
        short_names=dict(pc.SHORT_NAMES),
    )


def _policy_push_due(sched: "Scheduler", period: str) -> datetime:
    return sched.at(date.fromisoformat(period), POLICY_PUSH_AT)


def _policy_push_candidates(sched: "Scheduler", now: datetime) -> list[str]:
    today = sched.local_date(now)
    if sched.sla.is_working_day(today) and sched.at(today, POLICY_PUSH_AT) <= now:
        return [today.isoformat()]
    return []


def _prepare_policy_push(sched: "Scheduler", period: str, now: datetime):
    return load_rules(sched.knowledge_dir), policy_matching()


def _work_policy_push(sched: "Scheduler", s: Session, period: str, now: datetime, prepared) -> tuple[str, Any]:
    """In the claim's transaction: the pushes commit with the done mark, or not at all."""
    rules, matching = prepared
    sent = push.run(s, rules, matching, now, sent_by=sched.actor, period=period, tz=sched.tz)
    return f"已向 {len(sent)} 家企业推送政策提醒", sent


JOBS: dict[str, Job] = {
    DAILY: Job(
        DAILY,
        JOB_LABELS[DAILY],
        _daily_due,
        _daily_candidates,
        lambda sc, now: sc.local_date(now).isoformat(),
        _work_daily,
    ),
    WEEKLY: Job(
        WEEKLY,
        JOB_LABELS[WEEKLY],
        _weekly_due,
        _weekly_candidates,
        lambda sc, now: iso_week(sc.local_date(now)),
        _work_weekly,
    ),
    MONTHLY: Job(
        MONTHLY,
        JOB_LABELS[MONTHLY],
        _monthly_due,
        _monthly_candidates,
        lambda sc, now: months_back(sc.local_date(now), 1),
        _work_monthly,
        _prepare_monthly,
    ),
    RETENTION: Job(
        RETENTION,
        JOB_LABELS[RETENTION],
        _retention_due,
        _retention_candidates,
        lambda sc, now: sc.local_date(now).isoformat(),
        _work_retention,
        _prepare_retention,
    ),
    PRIVACY: Job(
        PRIVACY,
        JOB_LABELS[PRIVACY],
        _retention_due,
        _retention_candidates,
        lambda sc, now: sc.local_date(now).isoformat(),
        _work_privacy,
    ),
    POLICY_PUSH: Job(
        POLICY_PUSH,
        JOB_LABELS[POLICY_PUSH],
        _policy_push_due,
        _policy_push_candidates,
        lambda sc, now: sc.local_date(now).isoformat(),
        _work_policy_push,
        _prepare_policy_push,
    ),
}


# ---- the SLA sweep ------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    warned: list[str] = field(default_factory=list)
    escalated: list[tuple[str, str, str]] = field(default_factory=list)  # (number, from node, to node)

    def summary(self) -> str:
        return f"超期预警 {len(self.warned)} 件，升级督办 {len(self.escalated)} 件"


def _escalation_target(nodes: dict[str, ServiceNode], node_id: str) -> Optional[ServiceNode]:
    """The nearest active ancestor (None at the top)."""
    seen = {node_id}
    current = nodes.get(node_id)
    while current is not None and current.parent_id and current.parent_id not in seen:
        seen.add(current.parent_id)
        current = nodes.get(current.parent_id)
        if current is not None and current.active:
            return current
    return None


def escalation_moment(sla: SlaPolicy, due: datetime, level: int, step_seconds: Optional[int] = None) -> datetime:
    """When a ticket at `level` escalates once more: at the deadline, then one more step each level."""
    step = sla.working_day_seconds if step_seconds is None else step_seconds
    return sla.add_working_seconds(due, level * step) if level else due.astimezone(sla.tz)


def sla_sweep(
    db_url: str, now: datetime, *, sla: Optional[SlaPolicy] = None, step_seconds: Optional[int] = None
) -> SweepResult:
    """Warn before a breach, escalate after it. Idempotent: safe on every instance at once.

    - warning: open, not paused, warned_at unset and now ≥ warning_due(resolution_due) → a
      ``sla_warning`` to the ticket's node, warned_at set, audit event ``sla_warning``;
    - escalation: open, not paused, now ≥ resolution_due, the node has a parent, and the last
      escalation (if any) at least one working day ago (each level gets time to act, also when
      the sweep catches up after downtime) → node_id moves up to the nearest active ancestor,
      escalation_level + 1, audit event ``escalate`` (node before/after), ``escalation`` to the parent.
    Every change is a conditional UPDATE on the state it was decided on, so two sweeps at the
    same moment (several instances) never warn or escalate a ticket twice.
    """
    now = _check_now(now)
    sla = sla or default_policy()
    tz = sla.tz
    result = SweepResult()
    active = sorted(ACTIVE_OPEN)
    horizon = sla.add_working_seconds(now, sla.warning_before_hours * 3600) + timedelta(days=1)
    T = Ticket
    with sessions(db_url).begin() as s:
        nodes = {n.id: n for n in s.scalars(select(ServiceNode))}
        rows = s.execute(
            select(
                T.id,
                T.number,
                T.category,
                T.status,
                T.node_id,
                T.resolution_due,
                T.warned_at,
                T.escalation_level,
                Enterprise.name.label("enterprise"),
            )
            .join(Enterprise, Enterprise.id == T.enterprise_id)
            .where(
                T.status.in_(active),
                or_(and_(T.warned_at.is_(None), T.resolution_due <= horizon), T.resolution_due <= now),
            )
            .order_by(T.id)
        ).all()
        # each level gets a full step to act, also when the sweep catches up after downtime
        escalated_ids = [t.id for t in rows if t.escalation_level]
        last_escalated = (
            dict(
                s.execute(
                    select(TicketEvent.ticket_id, func.max(TicketEvent.at))
                    .where(TicketEvent.ticket_id.in_(escalated_ids), TicketEvent.action == "escalate")
                    .group_by(TicketEvent.ticket_id)
                ).all()
            )
            if escalated_ids
            else {}
        )
        for t in rows:
            ent_name = t.enterprise
            due = _aware(t.resolution_due)
            node = nodes.get(t.node_id)
            node_name = node.name if node else t.node_id
            what = f"工单 {t.number}（{_category_name(t.category)}，{ent_name}）"
            if t.warned_at is None and now >= sla.warning_due(due):
                done = s.execute(
                    update(T)
                    .where(T.id == t.id, T.warned_at.is_(None), T.status.in_(active))
                    .values(warned_at=now)
                    .execution_options(synchronize_session=False)
                )
                if done.rowcount == 1:
                    if now >= due:
                        body = (
                            f"【超期预警】{what}已于 {_md_hm(due, tz)} 超过办结时限，"
                            f"当前状态：{lc.LABELS.get(t.status, t.status)}，请立即办理。"
                        )
                    else:
                        body = (
                            f"【超期预警】{what}将于 {_md_hm(due, tz)} 到期"
                            f"（剩余不足 {sla.warning_before_hours:g} 个工作小时），"
                            f"当前状态：{lc.LABELS.get(t.status, t.status)}，请抓紧办理。"
                        )
                    s.add(
                        Notification(
                            kind="sla_warning", recipient=f"node:{t.node_id}", ticket_id=t.id, body=body, created_at=now
                        )
                    )
                    TicketService._event(s, t, ACTOR, "sla_warning", field="warned_at", after=now, note=body, at=now)
                    result.warned.append(t.number)
            if now < due:
                continue
            target = _escalation_target(nodes, t.node_id)
            if target is None:
                continue
            moment = escalation_moment(sla, due, t.escalation_level, step_seconds)
            if t.id in last_escalated:
                step = sla.working_day_seconds if step_seconds is None else step_seconds
                moment = max(moment, sla.add_working_seconds(_aware(last_escalated[t.id]), step))
            if now < moment:
                continue
            moved = s.execute(
                update(T)
                .where(
                    T.id == t.id, T.node_id == t.node_id, T.escalation_level == t.escalation_level, T.status.in_(active)
                )
                .values(node_id=target.id, escalation_level=t.escalation_level + 1, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:
                continue
            level = t.escalation_level + 1
            note = f"超过办结时限（{_md_hm(due, tz)}），由{node_name}升级至{target.name}督办（第{level}次升级）"
            TicketService._event(
                s, t, ACTOR, "escalate", field="node_id", before=t.node_id, after=target.id, note=note, at=now
            )
            body = (
                f"【超期升级】{what}已超过办结时限（{_md_hm(due, tz)}），"
                f"由{node_name}升级至本节点督办，当前状态：{lc.LABELS.get(t.status, t.status)}。"
                f"请尽快协调办理，并在工作台更新进展。"
            )
            s.add(
                Notification(
                    kind="escalation", recipient=f"node:{target.id}", ticket_id=t.id, body=body, created_at=now
                )
            )
            result.escalated.append((t.number, t.node_id, target.id))
    return result


# ---- claiming and running -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A JobRun this instance holds; (instance, started_at) is the token that proves it."""

    id: int
    job: str
    period: str
    instance: str
    started_at: datetime


@dataclass
class RunResult:
    job: str
    period: str
    status: str  # done / failed / skipped
    output: str = ""
    data: Any = None

    def describe(self) -> str:
        label = JOB_LABELS.get(self.job, self.job)
        head = f"{label} {self.period}".strip()
        if self.status == DONE:
            return f"{head}：已完成 —— {self.output}"
        if self.status == FAILED:
            return f"{head}：失败 —— {self.output}（稍后自动重试）"
        return f"{head}：跳过 —— {self.output}"


class LostClaim(RuntimeError):
    """Another instance took the run over (this one was presumed dead); nothing was committed."""


class Scheduler:
    def __init__(
        self,
        db_url: str,
        instance: Optional[str] = None,
        *,
        sla: Optional[SlaPolicy] = None,
        reports_dir: Optional[Path] = None,
        retry_after: timedelta = RETRY_AFTER,
        stale_after: timedelta = STALE_AFTER,
        jobs: Optional[dict[str, Job]] = None,
        tracker_url: Optional[str] = None,
        retention_days: Optional[int] = None,
        knowledge_dir: Optional[Path] = None,
        actor: str = ACTOR,
        settings=None,
    ):
        """`settings`: the process's Settings (the desk passes its own); read from the environment only when
        a caller (a CLI, a test) gives neither it nor the value."""
        cfg = settings

        def conf():
            nonlocal cfg
            cfg = cfg or Settings.from_env()
            return cfg

        self.db_url = db_url
        self.actor = actor  # who the pushes are recorded as ("staff:<name>" for 立即推送)
        self.tracker_url = tracker_url  # Rasa's tracker store; None: no 对话记录清理 here
        self.instance = (instance or default_instance())[:64]
        self.sla = sla or default_policy()
        self.tz = self.sla.tz
        if reports_dir is None:
            reports_dir = conf().var_dir / "reports"
        self.reports_dir = Path(reports_dir)
        if retention_days is None and tracker_url is not None:
            retention_days = conf().tracker_retention_days
        self.retention_days = retention_days or 0
        if knowledge_dir is None and tracker_url is not None:
            knowledge_dir = conf().knowledge_dir
        self._conf = conf  # the personal-data retention is read when the privacy job runs
        self.knowledge_dir = Path(knowledge_dir) if knowledge_dir is not None else None  # None: no 政策推送
        self.retry_after = retry_after
        self.stale_after = stale_after
        self._jobs = jobs

    @property
    def jobs(self) -> dict[str, Job]:
        jobs = self._jobs if self._jobs is not None else JOBS
        if self.knowledge_dir is None:  # 政策推送 needs the policy rules
            jobs = {name: job for name, job in jobs.items() if name != POLICY_PUSH}
        if self.tracker_url is None:  # the data-lifecycle jobs run where the real stores are given
            return {name: job for name, job in jobs.items() if name not in (RETENTION, PRIVACY)}
        return jobs

    # -- time
    def local_date(self, now: datetime) -> date:
        return now.astimezone(self.tz).date()

    def at(self, d: date, t: time) -> datetime:
        return datetime.combine(d, t, tzinfo=self.tz)

    # -- exactly once
    def claim(self, job: str, period: str, now: datetime) -> Optional[Claim]:
        """Take the run of (job, period): a new JobRun row, or a failed/stale one taken over."""
        now = _check_now(now)
        try:
            with sessions(self.db_url).begin() as s:
                run = JobRun(job=job, period=period, instance=self.instance, started_at=now, status=RUNNING)
                s.add(run)
                s.flush()
                run_id = run.id
            return Claim(run_id, job, period, self.instance, now)
        except IntegrityError:
            pass  # another instance has (or had) it
        with sessions(self.db_url).begin() as s:
            taken = s.execute(
                update(JobRun)
                .where(
                    JobRun.job == job,
                    JobRun.period == period,
                    or_(
                        and_(JobRun.status == FAILED, JobRun.finished_at <= now - self.retry_after),
                        and_(JobRun.status == RUNNING, JobRun.started_at <= now - self.stale_after),
                    ),
                )
                .values(status=RUNNING, instance=self.instance, started_at=now, finished_at=None)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:
                return None
            run_id = s.scalar(select(JobRun.id).where(JobRun.job == job, JobRun.period == period))
        log.info("定时任务 %s %s 由实例 %s 接手重试", job, period, self.instance)
        return Claim(run_id, job, period, self.instance, now)

    def _held(self, c: Claim):
        return and_(
            JobRun.id == c.id,
            JobRun.status == RUNNING,
            JobRun.instance == c.instance,
            JobRun.started_at == c.started_at,
        )

    def execute(self, job: Job, c: Claim, now: datetime) -> RunResult:
        """Run a claimed job; its writes and the done mark commit together or not at all."""
        try:
            prepared = job.prepare(self, c.period, now) if job.prepare else None
            with sessions(self.db_url).begin() as s:
                output, data = job.work(self, s, c.period, now, prepared)
                marked = s.execute(
                    update(JobRun)
                    .where(self._held(c))
                    .values(status=DONE, finished_at=now, output=output)
                    .execution_options(synchronize_session=False)
                )
                if marked.rowcount != 1:
                    raise LostClaim(f"{job.name} {c.period} 已被其他实例接手")
            log.info("定时任务 %s %s 完成：%s", job.name, c.period, output)
            return RunResult(job.name, c.period, DONE, output, data)
        except LostClaim as exc:
            log.warning("%s", exc)
            return RunResult(job.name, c.period, "skipped", str(exc))
        except Exception as exc:  # noqa: BLE001 - a failing job must not stop the others
            log.exception("定时任务 %s %s 失败", job.name, c.period)
            error = f"{exc.__class__.__name__}: {exc}"[:2000]
            try:
                with sessions(self.db_url).begin() as s:
                    s.execute(
                        update(JobRun)
                        .where(self._held(c))
                        .values(status=FAILED, finished_at=now, output=error)
                        .execution_options(synchronize_session=False)
                    )
            except Exception:  # noqa: BLE001 - left "running": taken over once stale
                log.exception("无法记录定时任务 %s %s 的失败状态", job.name, c.period)
            return RunResult(job.name, c.period, FAILED, error)

    def pending(self, job: Job, now: datetime) -> list[str]:
        """Periods of `job` that are due and not done (oldest first), catch-up included."""
        candidates = job.candidates(self, now)
        with read_sessions(self.db_url)() as s:
            # No catch-up before the job's first run ever (a fresh installation starts with the
            # current period). Periods sort chronologically as text: 2026-11-25, 2026-W48, 2026-11.
            first = s.scalar(select(func.min(JobRun.period)).where(JobRun.job == job.name))
            if first is None:
                current = job.current(self, now)
                candidates = [p for p in candidates if p == current]
            else:
                candidates = [p for p in candidates if p >= first]
            if not candidates:
                return []
            runs = {
                r.period: r
                for r in s.scalars(select(JobRun).where(JobRun.job == job.name, JobRun.period.in_(candidates)))
            }
        out = []
        for p in candidates:
            r = runs.get(p)
            if (
                r is None
                or (r.status == FAILED and _aware(r.finished_at) <= now - self.retry_after)
                or (r.status == RUNNING and _aware(r.started_at) <= now - self.stale_after)
            ):
                out.append(p)
        return out

    def run_job(self, name: str, period: str, now: datetime) -> RunResult:
        """Claim and run one (job, period); skipped when another instance has it."""
        now = _check_now(now)
        job = self.jobs[name]
        c = self.claim(name, period, now)
        if c is None:
            return RunResult(name, period, "skipped", "已由其他实例执行或正在执行")
        return self.execute(job, c, now)

    def run_due(self, now: datetime, *, sweep: bool = True) -> list[RunResult]:
        """Run every due period not yet done (catch-up included), then the SLA sweep."""
        now = _check_now(now)
        results: list[RunResult] = []
        for job in self.jobs.values():
            for period in self.pending(job, now):
                results.append(self.run_job(job.name, period, now))
        if sweep:
            try:
                swept = sla_sweep(self.db_url, now, sla=self.sla)
                results.append(RunResult(SLA_SWEEP, "", DONE, swept.summary(), swept))
            except Exception as exc:  # noqa: BLE001
                log.exception("时限巡检失败")
                results.append(RunResult(SLA_SWEEP, "", FAILED, f"{exc.__class__.__name__}: {exc}"[:2000]))
        return results


# ---- module-level API ------------------------------------------------------------------------------------


def claim(
    db_url: str, job: str, period: str, instance: Optional[str] = None, now: Optional[datetime] = None, **kw
) -> Optional[Claim]:
    """Claim (job, period) for `instance`; None if another instance has it (or it is done)."""
    return Scheduler(db_url, instance, **kw).claim(job, period, now or utcnow())


def run_due(
    db_url: str, now: Optional[datetime] = None, instance: Optional[str] = None, *, sweep: bool = True, **kw
) -> list[RunResult]:
    """One scheduler tick: every due job period not yet done, then the SLA sweep."""
    return Scheduler(db_url, instance, **kw).run_due(now or utcnow(), sweep=sweep)


async def run_forever(
    db_url: str,
    instance: Optional[str] = None,
    interval: float = 60,
    *,
    sla_interval: float = SLA_INTERVAL,
    stop: Optional[asyncio.Event] = None,
    clock: Callable[[], datetime] = utcnow,
    **kw,
) -> None:
    """The desk's scheduler loop: a tick every `interval` seconds (SLA sweep every `sla_interval`).

    Safe to run on every instance; the database decides who runs what. Returns when `stop` is set
    (or the task is cancelled).
    """
    sched = Scheduler(db_url, instance, **kw)
    log.info("定时任务已启动（实例 %s，每 %s 秒检查一次）", sched.instance, interval)
    last_sweep: Optional[datetime] = None
    while stop is None or not stop.is_set():
        now = clock()
        sweep = last_sweep is None or (now - last_sweep).total_seconds() >= sla_interval
        try:
            results = await asyncio.to_thread(sched.run_due, now, sweep=sweep)
            if sweep:
                last_sweep = now
            for r in results:
                if r.job != SLA_SWEEP or r.status != DONE or r.data.warned or r.data.escalated:
                    log.info("%s", r.describe())
        except Exception:  # noqa: BLE001 - database down: try again next tick
            log.exception("定时任务检查失败，%s 秒后重试", interval)
        if stop is None:
            await asyncio.sleep(interval)
        else:
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except asyncio.TimeoutError:
                pass


# ---- status ---------------------------------------------------------------------------------------------


def status_text(
    db_url: str, now: Optional[datetime] = None, *, recent: int = 10, sla: Optional[SlaPolicy] = None
) -> str:
    """A Chinese status report: per job the last run and what is pending, recent runs, SLA figures."""
    now = _check_now(now or utcnow())
    sched = Scheduler(db_url, "status", sla=sla, reports_dir=Path("."))
    tz = sched.tz
    loc = now.astimezone(tz)
    lines = [f"定时任务状态（北京时间 {loc:%Y-%m-%d %H:%M}）"]
    with read_sessions(db_url)() as s:
        for job in JOBS.values():
            last_done = s.scalars(
                select(JobRun)
                .where(JobRun.job == job.name, JobRun.status == DONE)
                .order_by(JobRun.period.desc())
                .limit(1)
            ).first()
            failed = s.scalars(
                select(JobRun).where(JobRun.job == job.name, JobRun.status == FAILED).order_by(JobRun.period)
            ).all()
            running = s.scalars(select(JobRun).where(JobRun.job == job.name, JobRun.status == RUNNING)).all()
            if last_done:
                done_at = _aware(last_done.finished_at).astimezone(tz)
                head = f"最近完成 {last_done.period}（{done_at:%Y-%m-%d %H:%M}，实例 {last_done.instance}）"
            else:
                head = "尚未执行过"
            lines.append(f"{job.label}（{job.name}）：{head}")
            pending = sched.pending(job, now)
            lines.append("  待执行：" + ("、".join(pending) if pending else "无"))
            for r in running:
                lines.append(
                    f"  执行中：{r.period}（实例 {r.instance}，{_aware(r.started_at).astimezone(tz):%m-%d %H:%M} 开始）"
                )
            for r in failed:
                lines.append(
                    f"  失败待重试：{r.period}（{(r.output or '').splitlines()[0][:120] if r.output else '无详情'}）"
                )
            nxt = _next_due(sched, job, now)
            if nxt is not None:
                lines.append(f"  下次：{nxt.astimezone(tz):%Y-%m-%d %H:%M}")
        runs = s.scalars(select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(recent)).all()
        lines.append(f"最近 {recent} 条运行记录：" if runs else "最近运行记录：无")
        for r in runs:
            started = _aware(r.started_at).astimezone(tz)
            lines.append(
                f"  {started:%Y-%m-%d %H:%M}  {JOB_LABELS.get(r.job, r.job)} {r.period}  "
                f"{STATUS_LABELS.get(r.status, r.status)}  {r.instance}  {(r.output or '')[:80]}"
            )
        T = Ticket
        open_active = s.scalar(select(func.count()).select_from(T).where(T.status.in_(sorted(ACTIVE_OPEN))))
        paused = s.scalar(select(func.count()).select_from(T).where(T.status == lc.AWAITING_INFO))
        overdue = s.scalar(
            select(func.count()).select_from(T).where(T.status.in_(sorted(ACTIVE_OPEN)), T.resolution_due < now)
        )
        warned = s.scalar(
            select(func.count())
            .select_from(T)
            .where(T.status.in_(sorted(ACTIVE_OPEN)), T.warned_at.isnot(None), T.resolution_due >= now)
        )
        escalated = s.scalar(
            select(func.count()).select_from(T).where(T.status.in_(sorted(lc.OPEN_STATES)), T.escalation_level > 0)
        )
    lines.append(
        f"时限巡检：在办 {open_active} 件（另有待补充 {paused} 件暂停计时），已预警未超期 {warned} 件，"
        f"已超期 {overdue} 件，已升级督办 {escalated} 件"
    )
    return "\n".join(lines)


def _next_working_day_at(sched: Scheduler, start: date, at: time, now: datetime) -> Optional[datetime]:
    """The first working day from `start` whose `at` is still ahead of `now` (None past 60 days of holidays)."""
    d = start
    for _ in range(60):
        if sched.sla.is_working_day(d) and sched.at(d, at) > now:
            return sched.at(d, at)
        d += timedelta(days=1)
    return None


def _next_due(sched: Scheduler, job: Job, now: datetime) -> Optional[datetime]:
    """The next moment a new period of `job` falls due."""
    today = sched.local_date(now)
    if job.name == DAILY:
        return _next_working_day_at(sched, today, DAILY_AT, now)
    if job.name == WEEKLY:
        monday = today - timedelta(days=today.weekday())
        for k in range(3):
            due = _weekly_due(sched, iso_week(monday + timedelta(weeks=k)))
            if due > now:
                return due
        return None
    if job.name in (RETENTION, PRIVACY):
        due = _retention_due(sched, today.isoformat())
        return due if due > now else due + timedelta(days=1)
    if job.name == POLICY_PUSH:
        return _next_working_day_at(sched, today, POLICY_PUSH_AT, now)
    if job.name == MONTHLY:
        for k in (0, -1):
            due = _monthly_due(sched, months_back(today, 1 + k))
            if due > now:
                return due
    return None


# ---- command line ----------------------------------------------------------------------------------------


def _parse_now(text: Optional[str], tz) -> datetime:
    if not text:
        return utcnow()
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SystemExit(f"错误：--now 的格式不正确：{text!r}，应为 ISO 时间，例如 2026-11-25T09:00（北京时间）")
    return dt.replace(tzinfo=tz) if dt.tzinfo is None else dt


def _default_tracker() -> tuple[str, int]:
    settings = Settings.from_env()
    return settings.effective_tracker_store_url, settings.tracker_retention_days


def _default_db() -> str:
    return Settings.from_env().effective_database_url


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.scheduler", description="原上管家定时任务（日调度、周推进、月总结、时限巡检、对话记录清理）"
    )
    sub = parser.add_subparsers(dest="command", metavar="命令")
    once = sub.add_parser("run-once", help="执行一次：补齐所有到期未执行的任务，并做一次时限巡检")
    status = sub.add_parser("status", help="查看定时任务的执行情况")
    for p in (once, status):
        p.add_argument("--db", default=None, help="数据库 URL（默认取环境变量 DATABASE_URL，否则 var/yuanshang.db）")
        p.add_argument("--now", default=None, help="按此时间执行（ISO 格式，不带时区按北京时间），用于补跑或演练")
    once.add_argument("--instance", default=None, help="实例名（默认 主机名:进程号）")
    once.add_argument("--reports-dir", type=Path, default=None, help="月总结文件目录（默认 var/reports）")
    once.add_argument("--no-sla", action="store_true", help="不做时限巡检")
    once.add_argument(
        "--tracker",
        default=None,
        help="Rasa 对话记录库 URL，供对话记录清理使用（默认取 TRACKER_STORE_URL，否则 var/rasa_tracker.db）",
    )
    args = parser.parse_args(argv)
    if args.command not in ("run-once", "status"):
        parser.print_help(sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    tz = default_policy().tz
    now = _parse_now(args.now, tz)
    db_url = args.db or _default_db()
    if db_url.startswith("sqlite"):
        path = db_url.split("///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:" and not Path(path).exists():
            print(f"错误：数据库文件不存在：{path}。请用 --db 或环境变量 DATABASE_URL 指定数据库。", file=sys.stderr)
            return 1
    try:
        if args.command == "status":
            print(status_text(db_url, now))
            return 0
        tracker_url, retention_days = _default_tracker()
        results = run_due(
            db_url,
            now,
            args.instance,
            sweep=not args.no_sla,
            reports_dir=args.reports_dir,
            tracker_url=args.tracker or tracker_url,
            retention_days=retention_days,
        )
    except Exception as exc:  # noqa: BLE001
        print(f"错误：{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", file=sys.stderr)
        return 1
    loc = now.astimezone(tz)
    print(f"定时任务执行（北京时间 {loc:%Y-%m-%d %H:%M}）")
    jobs_run = [r for r in results if r.job != SLA_SWEEP]
    if not jobs_run:
        print("没有到期未执行的任务。")
    for r in results:
        print(r.describe())
    return 1 if any(r.status == FAILED for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
