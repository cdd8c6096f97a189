"""Scheduled work exactly once: 日调度、周推进、月总结, catch-up, concurrency, retries, the SLA sweep.

Every test runs on a fixed clock (Beijing time). Calendar facts used below (chinese-calendar):
2026-10-01…10-07 National Day holiday, 2026-10-10 (Saturday) a make-up working day,
2026-11-25 a Wednesday, 2026-11-30 and 2026-12-07 Mondays.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot import scheduler as sch
from bot.db import read_sessions, sessions
from bot.db.schema import Enterprise, JobRun, Notification, ServiceNode, Ticket, TicketEvent, Visit
from bot.settings import PROJECT_ROOT
from bot.taxonomy import BY_INTENT
from bot.tickets import lifecycle as lc
from bot.tickets.service import EnterpriseInput, TicketService
from bot.tickets.sla import default_policy
from tests.clock import Clock
from tests.race import race

CST = ZoneInfo("Asia/Shanghai")


def bj(y, mo, d, h=9, mi=0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CST)


# ---- helpers ---------------------------------------------------------------------------------------


def add_enterprise(url, name="西安光启芯科技有限公司") -> int:
    with sessions(url).begin() as s:
        e = Enterprise(name=name)
        s.add(e)
        s.flush()
        return e.id


def add_ticket(
    url,
    number,
    node,
    created,
    due,
    *,
    enterprise_id,
    status=lc.IN_PROGRESS,
    category="need_debt_financing",
    conversation="wx-1",
    last_push=None,
    responded=None,
    paused=None,
) -> int:
    """A ticket; its 即日办 first response is due by the policy, given at `responded` (None: not yet)."""
    with sessions(url).begin() as s:
        t = Ticket(
            number=number,
            enterprise_id=enterprise_id,
            category=category,
            service_content=BY_INTENT[category].content,
            node_id=node,
            status=status,
            description="测试工单",
            source_channel="web",
            conversation_id=conversation,
            created_at=created,
            updated_at=created,
            first_response_due=default_policy().first_response_due(created),
            first_response_at=responded,
            resolution_due=due,
            last_progress_push=last_push,
            paused_at=paused,
            resolved_at=created + timedelta(days=1) if status in lc.FINAL_STATES else None,
        )
        s.add(t)
        s.flush()
        return t.id


def notifications(url, kind=None) -> list[Notification]:
    with read_sessions(url)() as s:
        q = select(Notification).order_by(Notification.id)
        if kind:
            q = q.where(Notification.kind == kind)
        return list(s.scalars(q))


def job_runs(url) -> list[JobRun]:
    with read_sessions(url)() as s:
        return list(s.scalars(select(JobRun).order_by(JobRun.job, JobRun.period)))


def events(url, number, action=None) -> list[TicketEvent]:
    with read_sessions(url)() as s:
        tid = s.scalar(select(Ticket.id).where(Ticket.number == number))
        q = select(TicketEvent).where(TicketEvent.ticket_id == tid).order_by(TicketEvent.id)
        if action:
            q = q.where(TicketEvent.action == action)
        return list(s.scalars(q))


def ticket(url, number) -> Ticket:
    with read_sessions(url)() as s:
        return s.scalars(select(Ticket).where(Ticket.number == number)).one()


def active_nodes(url) -> int:
    with read_sessions(url)() as s:
        return s.scalar(select(func.count()).select_from(ServiceNode).where(ServiceNode.active.is_(True)))


def done(results, job):
    return [r.period for r in results if r.job == job and r.status == "done"]


@pytest.fixture
def sched(db_url, tmp_path):
    return sch.Scheduler(db_url, "inst-a", reports_dir=tmp_path / "reports")


# ---- periods -----------------------------------------------------------------------------------------


def test_periods_and_due_times(sched):
    assert sch.iso_week(bj(2026, 11, 25).date()) == "2026-W48"
    assert sch.months_back(bj(2026, 1, 15).date(), 1) == "2025-12"
    # daily: working days of the last 7 days from 08:30; the holiday week has none
    assert sch._daily_candidates(sched, bj(2026, 11, 25, 8, 29)) == [
        "2026-11-19",
        "2026-11-20",
        "2026-11-23",
        "2026-11-24",
    ]
    assert sch._daily_candidates(sched, bj(2026, 11, 25, 8, 30))[-1] == "2026-11-25"
    assert sch._daily_candidates(sched, bj(2026, 10, 7, 12)) == []
    assert sch._daily_candidates(sched, bj(2026, 10, 10, 9)) == ["2026-10-08", "2026-10-09", "2026-10-10"]
    # weekly: 09:00 on the week's first working day (W41 starts with the holiday: Thursday 10-08)
    assert sch._weekly_due(sched, "2026-W48") == bj(2026, 11, 23, 9)
    assert sch._weekly_due(sched, "2026-W41") == bj(2026, 10, 8, 9)
    assert sch._weekly_candidates(sched, bj(2026, 11, 23, 8, 59)) == ["2026-W45", "2026-W46", "2026-W47"]
    assert sch._weekly_candidates(sched, bj(2026, 11, 23, 9))[-1] == "2026-W48"
    # monthly: the previous month, from the 1st at 08:00
    assert sch._monthly_candidates(sched, bj(2026, 12, 1, 7, 59)) == ["2026-10"]
    assert sch._monthly_candidates(sched, bj(2026, 12, 1, 8)) == ["2026-10", "2026-11"]
    assert sch._monthly_candidates(sched, bj(2027, 1, 1, 8)) == ["2026-11", "2026-12"]


# ---- 日调度 -------------------------------------------------------------------------------------------


def test_dispatch_lists_contain_the_right_tickets(db_url, sched):
    """Each ticket under exactly one heading: 已超期 → 今日到期 → 待补充 → 新增 → 本周推进 (docs/dispatch.md)."""
    e1 = add_enterprise(db_url, "西安光启芯科技有限公司")
    e2 = add_enterprise(db_url, "陕西云谷数智有限公司")
    far = bj(2026, 12, 20)

    def answered(created):
        return created + timedelta(hours=1)

    add_ticket(
        db_url,
        "QCY-A-new",
        "fengxi",
        bj(2026, 11, 24, 10),
        far,
        enterprise_id=e1,
        status=lc.ACCEPTED,
        responded=answered(bj(2026, 11, 24, 10)),
    )
    add_ticket(
        db_url,
        "QCY-B-today",
        "fengxi",
        bj(2026, 11, 10),
        bj(2026, 11, 25, 17, 30),
        enterprise_id=e2,
        category="need_policy_consult",
        responded=answered(bj(2026, 11, 10)),
    )
    add_ticket(
        db_url,
        "QCY-C-over",
        "fengxi",
        bj(2026, 11, 5),
        bj(2026, 11, 20, 17, 30),
        enterprise_id=e1,
        category="need_business_registration",
        status=lc.ASSIGNED,
        responded=answered(bj(2026, 11, 5)),
    )
    add_ticket(
        db_url, "QCY-D-closed", "fengxi", bj(2026, 11, 5), bj(2026, 11, 20), enterprise_id=e1, status=lc.RESOLVED
    )
    add_ticket(
        db_url,
        "QCY-E-paused",
        "fengxi",
        bj(2026, 11, 24, 11),
        bj(2026, 11, 20),
        enterprise_id=e2,
        status=lc.AWAITING_INFO,
        paused=bj(2026, 11, 24, 14),
        responded=bj(2026, 11, 24, 14),
    )
    add_ticket(db_url, "QCY-F-after", "fengxi", bj(2026, 11, 25, 8, 40), far, enterprise_id=e1)
    add_ticket(
        db_url,
        "QCY-G-ws",
        "fengxi-ws-xinxi",
        bj(2026, 11, 24, 9),
        far,
        enterprise_id=e1,
        responded=answered(bj(2026, 11, 24, 9)),
    )
    add_ticket(
        db_url,
        "QCY-H-before",
        "fengxi",
        bj(2026, 11, 24, 8),
        far,
        enterprise_id=e1,
        responded=answered(bj(2026, 11, 24, 8)),
    )
    # new since yesterday's list AND its 即日办 first response is due today: listed once, under 今日到期
    add_ticket(db_url, "QCY-I-evening", "fengxi", bj(2026, 11, 24, 18), far, enterprise_id=e2)
    # new, never answered, first response due yesterday 17:30: 已超期 (首次响应), not 新增
    add_ticket(db_url, "QCY-J-silent", "fengxi", bj(2026, 11, 24, 9, 30), far, enterprise_id=e2)
    # open for more than a week, on schedule: 本周推进
    add_ticket(
        db_url,
        "QCY-K-long",
        "fengxi",
        bj(2026, 11, 16, 10),
        far,
        enterprise_id=e1,
        responded=answered(bj(2026, 11, 16, 10)),
    )
    with sessions(db_url).begin() as s:  # a visit planned for today
        s.add(Visit(enterprise_id=e1, node_id="fengxi", visited_at=bj(2026, 11, 25, 14), findings="走访了解融资需求"))

    results = sched.run_due(bj(2026, 11, 25, 9))
    [daily] = [r for r in results if r.job == sch.DAILY]
    assert daily.status == "done" and daily.period == "2026-11-25"
    lists = daily.data
    fx = lists["fengxi"]
    assert [t.number for t in fx.overdue] == ["QCY-C-over", "QCY-J-silent"]  # by deadline
    assert [t.deadline for t in fx.overdue] == ["办结", "首次响应"]
    assert [t.number for t in fx.due_today] == ["QCY-B-today", "QCY-I-evening"]
    assert [t.deadline for t in fx.due_today] == ["办结", "首次响应"] and fx.due_today[1].new
    assert [t.number for t in fx.awaiting_info] == ["QCY-E-paused"]  # paused: never overdue
    assert [t.number for t in fx.new] == ["QCY-A-new"]
    assert [t.number for t in fx.weekly] == ["QCY-K-long"]
    assert fx.new_count == 4  # A, E, I, J
    numbers = [t.number for t in fx.tickets]
    assert len(numbers) == len(set(numbers))  # one heading each
    assert [(v.enterprise, v.planned) for v in fx.visits] == [("西安光启芯科技有限公司", True)]
    assert [t.number for t in lists["fengxi-ws-xinxi"].new] == ["QCY-G-ws"]
    assert lists["centre"].empty
    assert lists.since == bj(2026, 11, 24, 8, 30) and lists.moment == bj(2026, 11, 25, 8, 30)

    sent = notifications(db_url, "dispatch_list")
    assert len(sent) == active_nodes(db_url) == len(lists.nodes)
    assert len({n.recipient for n in sent}) == len(sent)
    body = next(n.body for n in sent if n.recipient == "node:fengxi")
    assert "沣西新城服务中心" in body and "2026年11月25日（星期三）" in body
    for number in (
        "QCY-A-new",
        "QCY-B-today",
        "QCY-C-over",
        "QCY-E-paused",
        "QCY-I-evening",
        "QCY-J-silent",
        "QCY-K-long",
    ):
        assert body.count(number) == 1, number
    for number in ("QCY-D-closed", "QCY-F-after", "QCY-G-ws", "QCY-H-before"):
        assert number not in body
    assert "贷款融资" in body and "政策咨询" in body and "企业登记" in body
    assert "陕西云谷数智有限公司" in body and "西安光启芯科技有限公司" in body
    assert "办结 今日 17:30 到期" in body and "办结 11月20日 17:30 到期，已超期" in body
    assert "〔新〕QCY-I-evening" in body and "首次响应 11月24日 17:30 到期，已超期" in body
    assert "14:00 计划｜西安光启芯科技有限公司" in body
    assert "新增工单共 4 件，分列于：已超期 1 件、今日到期 1 件、待补充 1 件、新增工单 1 件。" in body
    empty = next(n.body for n in sent if n.recipient == "node:centre")
    assert "今日没有需要调度的工单" in empty

    # the same day again (same or another instance): nothing more
    assert done(sch.run_due(db_url, bj(2026, 11, 25, 10), "inst-b", reports_dir=sched.reports_dir), sch.DAILY) == []
    assert len(notifications(db_url, "dispatch_list")) == len(lists.nodes)


def test_no_dispatch_on_weekends_or_holidays_and_catch_up_once(db_url, sched):
    ent = add_enterprise(db_url)
    n_nodes = active_nodes(db_url)
    assert done(sched.run_due(bj(2026, 9, 30, 9)), sch.DAILY) == ["2026-09-30"]
    for day in range(1, 8):  # National Day week: no dispatch
        assert done(sched.run_due(bj(2026, 10, day, 9)), sch.DAILY) == []
    # a need that arrived during the holiday is "new" on the first working day after it
    add_ticket(db_url, "QCY-HOLIDAY", "fengxi", bj(2026, 10, 3, 15), bj(2026, 10, 20), enterprise_id=ent)
    results = sched.run_due(bj(2026, 10, 8, 9))
    assert done(results, sch.DAILY) == ["2026-10-08"]
    data = next(r for r in results if r.job == sch.DAILY).data
    fx = data["fengxi"]  # its first response (即日办) is due at the end of this first working day
    assert [t.number for t in fx.due_today] == ["QCY-HOLIDAY"] and fx.due_today[0].new and fx.new_count == 1
    assert data.since == bj(2026, 9, 30, 8, 30)
    # downtime on Friday 10-09; Saturday 10-10 is a make-up working day: both run, each once
    results = sched.run_due(bj(2026, 10, 10, 9))
    assert done(results, sch.DAILY) == ["2026-10-09", "2026-10-10"]
    lists = {r.period: r.data for r in results if r.job == sch.DAILY}
    assert lists["2026-10-09"].catch_up and not lists["2026-10-10"].catch_up
    assert done(sched.run_due(bj(2026, 10, 10, 11)), sch.DAILY) == []
    assert done(sched.run_due(bj(2026, 10, 11, 9)), sch.DAILY) == []  # Sunday

    sent = notifications(db_url, "dispatch_list")
    assert len(sent) == 4 * n_nodes
    per_node_day = Counter((n.recipient, n.body.splitlines()[0].split(" ")[1]) for n in sent)
    assert set(per_node_day.values()) == {1}
    fx_titles = [n.body.splitlines()[0] for n in sent if n.recipient == "node:fengxi"]
    assert fx_titles == [
        "【日调度】沣西新城服务中心 2026年9月30日（星期三）工单清单",
        "【日调度】沣西新城服务中心 2026年10月8日（星期四）工单清单",
        "【日调度】沣西新城服务中心 2026年10月9日（星期五）工单清单（补发）",
        "【日调度】沣西新城服务中心 2026年10月10日（星期六）工单清单",
    ]
    # weekly: W41 was due on Thursday 10-08 (its Monday was a holiday), not before
    assert [r.period for r in job_runs(db_url) if r.job == sch.WEEKLY] == ["2026-W40", "2026-W41"]


def test_a_fresh_installation_does_not_catch_up_the_past(db_url, sched):
    results = sched.run_due(bj(2026, 11, 25, 9))
    assert done(results, sch.DAILY) == ["2026-11-25"]
    assert done(results, sch.WEEKLY) == ["2026-W48"]
    assert done(results, sch.MONTHLY) == ["2026-10"]
    # … nor later: catch-up never reaches back before the first run
    assert done(sched.run_due(bj(2026, 11, 26, 9)), sch.DAILY) == ["2026-11-26"]
    assert done(sched.run_due(bj(2026, 11, 26, 9)), sch.DAILY) == []


# ---- exactly once ---------------------------------------------------------------------------------------


def test_concurrent_instances_run_each_job_period_once(db_url, tmp_path):
    url = db_url
    ent = add_enterprise(url)
    add_ticket(url, "QCY-OLD", "fengxi-ws-xinxi", bj(2026, 11, 10), bj(2026, 11, 30, 17, 30), enterprise_id=ent)
    add_ticket(url, "QCY-NEW", "fengxi", bj(2026, 11, 30, 10), bj(2026, 12, 14), enterprise_id=ent)
    now = bj(2026, 12, 1, 9)  # Tuesday: daily, weekly W49 and monthly 2026-11 all due
    results = race(
        4, lambda i: sch.Scheduler(url, f"inst-{i}", reports_dir=tmp_path / "reports"), lambda sched: sched.run_due(now)
    )
    runs = job_runs(url)
    assert [(r.job, r.period, r.status) for r in runs] == [
        ("daily_dispatch", "2026-12-01", "done"),
        ("monthly_summary", "2026-11", "done"),
        ("weekly_push", "2026-W49", "done"),
    ]
    for job in (sch.DAILY, sch.WEEKLY, sch.MONTHLY):
        assert len(done(results, job)) == 1
    assert len(notifications(url, "dispatch_list")) == active_nodes(url)
    assert len(notifications(url, "progress")) == 1
    assert len(notifications(url, "monthly_summary")) == 1
    assert len(notifications(url, "sla_warning")) == 1  # four sweeps, one warning
    assert len(notifications(url, "escalation")) == 1  # … and one escalation
    assert len(events(url, "QCY-OLD", "progress_push")) == 1
    assert len(events(url, "QCY-OLD", "escalate")) == 1
    assert ticket(url, "QCY-OLD").node_id == "fengxi" and ticket(url, "QCY-OLD").escalation_level == 1
    assert (tmp_path / "reports" / "2026-11.html").exists()


def test_claim_is_exclusive_and_a_failed_run_is_taken_over(db_url, tmp_path):
    url = db_url
    now = bj(2026, 11, 25, 9)
    a = sch.Scheduler(url, "inst-a", reports_dir=tmp_path)
    b = sch.Scheduler(url, "inst-b", reports_dir=tmp_path)
    c = a.claim(sch.DAILY, "2026-11-25", now)
    assert c is not None and c.instance == "inst-a"
    assert b.claim(sch.DAILY, "2026-11-25", now) is None  # unique (job, period)
    with sessions(url).begin() as s:
        s.execute(update(JobRun).values(status="failed", finished_at=now))
    assert b.claim(sch.DAILY, "2026-11-25", now + timedelta(minutes=1)) is None  # not before RETRY_AFTER
    c2 = b.claim(sch.DAILY, "2026-11-25", now + timedelta(minutes=6))
    assert c2 is not None and c2.instance == "inst-b"
    assert a.claim(sch.DAILY, "2026-11-25", now + timedelta(minutes=6)) is None  # only one takes it over
    [run] = job_runs(url)
    assert (run.status, run.instance, run.finished_at) == ("running", "inst-b", None)


def test_a_failed_run_is_retried_and_its_writes_rolled_back(db_url, sched, monkeypatch):
    calls = []

    def flaky(sc, s, period, now, prepared):
        out = sch._work_daily(sc, s, period, now, prepared)  # writes the notifications …
        calls.append(period)
        if len(calls) == 1:
            raise RuntimeError("通知通道暂时不可用")  # … then fails: all rolled back
        return out

    monkeypatch.setitem(sch.JOBS, sch.DAILY, dataclasses.replace(sch.JOBS[sch.DAILY], work=flaky))
    now = bj(2026, 11, 25, 9)
    [daily] = [r for r in sched.run_due(now) if r.job == sch.DAILY]
    assert daily.status == "failed" and "通知通道暂时不可用" in daily.output
    [run] = [r for r in job_runs(db_url) if r.job == sch.DAILY]
    assert run.status == "failed" and "RuntimeError" in run.output
    assert notifications(db_url, "dispatch_list") == []
    assert [r for r in sched.run_due(now + timedelta(minutes=1)) if r.job == sch.DAILY] == []
    other = sch.Scheduler(db_url, "inst-b", reports_dir=sched.reports_dir)
    assert done(other.run_due(now + timedelta(minutes=6)), sch.DAILY) == ["2026-11-25"]
    [run] = [r for r in job_runs(db_url) if r.job == sch.DAILY]
    assert (run.status, run.instance) == ("done", "inst-b")
    assert len(notifications(db_url, "dispatch_list")) == active_nodes(db_url)
    assert calls == ["2026-11-25", "2026-11-25"]
    assert done(sched.run_due(now + timedelta(hours=1)), sch.DAILY) == []


def test_a_stale_run_is_taken_over_and_the_presumed_dead_instance_commits_nothing(db_url, sched):
    now = bj(2026, 11, 25, 9)
    a_claim = sched.claim(sch.DAILY, "2026-11-25", now)
    b = sch.Scheduler(db_url, "inst-b", reports_dir=sched.reports_dir)
    assert done(b.run_due(now + timedelta(minutes=30)), sch.DAILY) == []  # still presumed alive
    assert done(b.run_due(now + timedelta(hours=2)), sch.DAILY) == ["2026-11-25"]
    # inst-a wakes up and finishes its (lost) run: rolled back, nothing sent twice
    late = sched.execute(sch.JOBS[sch.DAILY], a_claim, now + timedelta(hours=2, minutes=1))
    assert late.status == "skipped"
    assert len(notifications(db_url, "dispatch_list")) == active_nodes(db_url)
    [run] = [r for r in job_runs(db_url) if r.job == sch.DAILY]
    assert (run.status, run.instance) == ("done", "inst-b")


# ---- 周推进 -------------------------------------------------------------------------------------------


def test_weekly_push_only_for_tickets_open_over_a_week_and_once_a_week(db_url, sched):
    ent = add_enterprise(db_url)
    far = bj(2026, 12, 31)
    add_ticket(db_url, "QCY-T1", "fengxi", bj(2026, 11, 20, 10), far, enterprise_id=ent)
    add_ticket(db_url, "QCY-T2", "fengxi", bj(2026, 11, 27, 10), far, enterprise_id=ent)  # 3 days
    add_ticket(db_url, "QCY-T3", "fengxi", bj(2026, 11, 20, 10), far, enterprise_id=ent, status=lc.RESOLVED)
    add_ticket(
        db_url, "QCY-T4", "fengxi", bj(2026, 11, 10, 10), far, enterprise_id=ent, last_push=bj(2026, 11, 27, 9)
    )  # pushed lately
    add_ticket(
        db_url,
        "QCY-T5",
        "fengxi-ws-xinxi",
        bj(2026, 11, 15, 10),
        far,
        enterprise_id=ent,
        status=lc.AWAITING_INFO,
        conversation=None,
        category="need_qualification",
    )
    monday = bj(2026, 11, 30, 9) + timedelta(seconds=40)  # the tick ran a little late
    [weekly] = [r for r in sched.run_due(monday) if r.job == sch.WEEKLY]
    assert weekly.period == "2026-W49" and weekly.status == "done"
    assert [p.number for p in weekly.data] == ["QCY-T1", "QCY-T5"]
    sent = notifications(db_url, "progress")
    assert [n.recipient for n in sent] == ["sender:wx-1", "node:fengxi-ws-xinxi"]
    assert sent[0].body.startswith(
        "您的工单 QCY-T1（贷款融资）目前状态：办理中，由沣西新城服务中心办理，下一步：服务专员正在办理。"
    )
    assert "目前状态：待补充" in sent[1].body and "需要您补充材料或信息" in sent[1].body
    assert "请电话或上门告知企业" in sent[1].body and "资质认定" in sent[1].body
    [ev] = events(db_url, "QCY-T1", "progress_push")
    assert ev.actor == "system" and ev.note == sent[0].body
    assert ticket(db_url, "QCY-T1").last_progress_push == monday

    # later the same week: the job does not run again, and a direct push finds nothing to do
    assert done(sched.run_due(bj(2026, 12, 2, 9)), sch.WEEKLY) == []
    with sessions(db_url).begin() as s:
        assert sch.weekly_push(s, bj(2026, 12, 3, 9)) == []
    assert len(notifications(db_url, "progress")) == 2
    # next Monday (a little less than a week later): T1 and T5 again, T4 (last push 10 days ago), and
    # T2, now open for 10 days; never the closed T3
    [weekly] = [r for r in sched.run_due(bj(2026, 12, 7, 9) + timedelta(seconds=10)) if r.job == sch.WEEKLY]
    assert [p.number for p in weekly.data] == ["QCY-T1", "QCY-T2", "QCY-T4", "QCY-T5"]


def test_weekly_catch_up_does_not_push_twice(db_url, sched):
    ent = add_enterprise(db_url)
    add_ticket(db_url, "QCY-W", "fengxi", bj(2026, 10, 20, 10), bj(2026, 12, 31), enterprise_id=ent)
    assert done(sched.run_due(bj(2026, 11, 9, 9)), sch.WEEKLY) == ["2026-W46"]
    results = sched.run_due(bj(2026, 11, 25, 9))  # down for W47 and most of W48
    assert done(results, sch.WEEKLY) == ["2026-W47", "2026-W48"]
    assert len(notifications(db_url, "progress")) == 2  # W46 and one catch-up push


# ---- 月总结 -------------------------------------------------------------------------------------------


def test_monthly_summary_files_and_notification(db_url, sched):
    from openpyxl import load_workbook

    ent = add_enterprise(db_url)
    add_ticket(db_url, "QCY-M1", "fengxi", bj(2026, 11, 10), bj(2026, 11, 20), enterprise_id=ent, status=lc.RESOLVED)
    assert done(sched.run_due(bj(2026, 12, 1, 7, 59)), sch.MONTHLY) == []
    [monthly] = [r for r in sched.run_due(bj(2026, 12, 1, 8)) if r.job == sch.MONTHLY]
    assert monthly.period == "2026-11" and monthly.status == "done"
    html = sched.reports_dir / "2026-11.html"
    xlsx = sched.reports_dir / "2026-11.xlsx"
    assert "2026年11月" in html.read_text(encoding="utf-8")
    assert load_workbook(xlsx).sheetnames
    assert sorted(p.name for p in sched.reports_dir.iterdir()) == ["2026-11.html", "2026-11.xlsx"]
    [note] = notifications(db_url, "monthly_summary")
    assert note.recipient == "node:centre"
    assert "月总结" in note.body and "受理需求 1 件" in note.body and str(html) in note.body
    # down through December: 2027-01-02 catches up December only (November is done)
    assert done(sched.run_due(bj(2027, 1, 2, 9)), sch.MONTHLY) == ["2026-12"]
    assert (sched.reports_dir / "2026-12.xlsx").exists()


# ---- the SLA sweep -----------------------------------------------------------------------------------


def open_at_workstation(url, clock, sender="wx-sla", category="need_policy_consult"):
    svc = TicketService(url, clock=clock)
    res = svc.open_ticket(
        category=category,
        description="想了解一下高企认定相关的政策条款",
        enterprise=EnterpriseInput(name="西安沣信科技有限公司", new_city="沣西", park="沣西新城信息产业园"),
        contact_name="李工",
        mobile="13912345678",
        sender_id=sender,
    )
    assert res.node.id == "fengxi-ws-xinxi"
    return svc, res.ticket


def test_sla_warning_once_then_escalation_up_the_tree_and_never_beyond(db_url):
    sla = default_policy()
    svc, t = open_at_workstation(db_url, Clock(bj(2026, 11, 25, 10)))
    due = t.resolution_due
    assert due.astimezone(CST) == bj(2026, 11, 30, 10)  # 3 working days
    warn_at = sla.warning_due(due)
    assert warn_at.astimezone(CST) == bj(2026, 11, 27, 14, 30)  # 4 working hours before

    assert sch.sla_sweep(db_url, warn_at - timedelta(minutes=1)).warned == []
    r = sch.sla_sweep(db_url, warn_at)
    assert r.warned == [t.number] and r.escalated == []
    [w] = notifications(db_url, "sla_warning")
    assert w.recipient == "node:fengxi-ws-xinxi" and t.number in w.body and "11月30日 10:00 到期" in w.body
    assert "政策咨询" in w.body and "西安沣信科技有限公司" in w.body
    assert ticket(db_url, t.number).warned_at == warn_at
    assert sch.sla_sweep(db_url, warn_at + timedelta(hours=1)).warned == []  # once
    assert len(events(db_url, t.number, "sla_warning")) == 1

    assert sch.sla_sweep(db_url, due - timedelta(seconds=1)).escalated == []
    r = sch.sla_sweep(db_url, due)
    assert r.escalated == [(t.number, "fengxi-ws-xinxi", "fengxi")]
    row = ticket(db_url, t.number)
    assert (row.node_id, row.escalation_level) == ("fengxi", 1)
    [ev] = events(db_url, t.number, "escalate")
    assert (ev.actor, ev.field, ev.before, ev.after) == ("system", "node_id", '"fengxi-ws-xinxi"', '"fengxi"')
    [e1] = notifications(db_url, "escalation")
    assert e1.recipient == "node:fengxi" and "沣西新城信息产业园工作站" in e1.body and t.number in e1.body

    # the new-city centre gets a working day before it escalates further
    assert sch.sla_sweep(db_url, due + timedelta(hours=2)).escalated == []
    next_step = sch.escalation_moment(sla, due, 1)
    assert next_step.astimezone(CST) == bj(2026, 12, 1, 10)
    assert sch.sla_sweep(db_url, next_step).escalated == [(t.number, "fengxi", "centre")]
    assert (ticket(db_url, t.number).node_id, ticket(db_url, t.number).escalation_level) == ("centre", 2)
    # the comprehensive centre is the top: never beyond
    assert sch.sla_sweep(db_url, due + timedelta(days=60)).escalated == []
    assert [n.recipient for n in notifications(db_url, "escalation")] == ["node:fengxi", "node:centre"]
    assert len(notifications(db_url, "sla_warning")) == 1
    # a closed ticket is left alone
    svc.transition(t.number, lc.RESOLVED, "staff:wang")
    assert sch.sla_sweep(db_url, due + timedelta(days=90)).warned == []


def test_no_warning_or_escalation_while_awaiting_info(db_url):
    sla = default_policy()
    clock = Clock(bj(2026, 11, 25, 10))
    svc, t = open_at_workstation(db_url, clock)
    clock.now = bj(2026, 11, 26, 10)
    svc.transition(t.number, lc.AWAITING_INFO, "staff:wang")  # paused before the warning
    for later in (bj(2026, 11, 27, 15), bj(2026, 11, 30, 10), bj(2026, 12, 20, 10)):
        r = sch.sla_sweep(db_url, later)
        assert r.warned == [] and r.escalated == []
    row = ticket(db_url, t.number)
    assert (row.warned_at, row.node_id, row.escalation_level) == (None, "fengxi-ws-xinxi", 0)
    # the enterprise supplies the information: the clock runs again with the deadline extended
    clock.now = bj(2026, 12, 21, 10)
    svc.add_info(t.number, "wx-sla", "补充了营业执照和近三年财务报表")
    new_due = ticket(db_url, t.number).resolution_due
    assert new_due > bj(2026, 12, 21, 10)
    assert sch.sla_sweep(db_url, bj(2026, 12, 21, 10, 1)).warned == []
    assert sch.sla_sweep(db_url, sla.warning_due(new_due)).warned == [t.number]
    assert sch.sla_sweep(db_url, new_due).escalated == [(t.number, "fengxi-ws-xinxi", "fengxi")]


def test_overdue_at_the_centre_is_warned_but_not_escalated_and_inactive_parents_are_skipped(db_url):
    ent = add_enterprise(db_url)
    add_ticket(db_url, "QCY-TOP", "centre", bj(2026, 11, 1), bj(2026, 11, 10), enterprise_id=ent)
    add_ticket(db_url, "QCY-WS", "qinhan-ws-zhizao", bj(2026, 11, 1), bj(2026, 11, 10), enterprise_id=ent)
    with sessions(db_url).begin() as s:
        s.execute(update(ServiceNode).where(ServiceNode.id == "qinhan").values(active=False))
    r = sch.sla_sweep(db_url, bj(2026, 11, 25, 9))
    assert sorted(r.warned) == ["QCY-TOP", "QCY-WS"]
    assert r.escalated == [("QCY-WS", "qinhan-ws-zhizao", "centre")]
    body = next(n.body for n in notifications(db_url, "sla_warning") if "QCY-TOP" in n.body)
    assert "已于 11月10日 09:00 超过办结时限" in body
    # long overdue (e.g. after downtime): still one level per working day, not all at once
    add_ticket(db_url, "QCY-LONG", "fengxi-ws-xinxi", bj(2026, 10, 1), bj(2026, 10, 20), enterprise_id=ent)
    assert sch.sla_sweep(db_url, bj(2026, 11, 25, 9)).escalated == [("QCY-LONG", "fengxi-ws-xinxi", "fengxi")]
    assert sch.sla_sweep(db_url, bj(2026, 11, 25, 17)).escalated == []
    assert sch.sla_sweep(db_url, bj(2026, 11, 26, 9)).escalated == [("QCY-LONG", "fengxi", "centre")]


# ---- the loop and the command line -----------------------------------------------------------------------


def test_run_forever_ticks_until_stopped(db_url, tmp_path):
    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(
            sch.run_forever(
                db_url, "loop", interval=0.05, stop=stop, clock=lambda: bj(2026, 11, 25, 9), reports_dir=tmp_path
            )
        )
        for _ in range(200):
            await asyncio.sleep(0.05)
            if len(job_runs(db_url)) == 3:
                break
        stop.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(main())
    assert {(r.job, r.status) for r in job_runs(db_url)} == {
        ("daily_dispatch", "done"),
        ("weekly_push", "done"),
        ("monthly_summary", "done"),
    }
    assert len(notifications(db_url, "dispatch_list")) == active_nodes(db_url)


@pytest.mark.slow
def test_command_line_run_once_and_status(db_url, tmp_path):
    env = dict(os.environ, VAR_DIR=str(tmp_path / "var"), DATABASE_URL=db_url)

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "bot.scheduler", *args],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    p = cli("run-once", "--now", "2026-12-01T09:00")
    assert p.returncode == 0, p.stderr
    assert "日调度 2026-12-01：已完成" in p.stdout and "月总结 2026-11：已完成" in p.stdout
    assert "时限巡检" in p.stdout
    assert (tmp_path / "var" / "reports" / "2026-11.xlsx").exists()
    p = cli("run-once", "--now", "2026-12-01T09:05")
    assert p.returncode == 0 and "没有到期未执行的任务" in p.stdout
    p = cli("status", "--now", "2026-12-02T09:00")
    assert p.returncode == 0, p.stderr
    assert "日调度（daily_dispatch）：最近完成 2026-12-01" in p.stdout
    assert "待执行：2026-12-02" in p.stdout and "月总结（monthly_summary）" in p.stdout
    p = cli("run-once", "--now", "明天早上")
    assert p.returncode != 0 and "--now 的格式不正确" in p.stderr
