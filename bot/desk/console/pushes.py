"""政策推送 in the console: every push sent, and the managers' preview with 立即推送.

GET /console/pushes lists the pushes (bot/policy/push.py records every one) of the member of staff's nodes,
newest first: when, which enterprise, which policy and occasion, why the enterprise was chosen, the channel,
the deadline, who sent it (定时任务 or a manager), delivered or not.

GET /console/pushes/preview (节点负责人、管理员) shows who the next run would notify and why (qualifies by its
saved figures / registered a need of that category), and who qualifies but will not get one (pushed within the
week, 退订, no chat channel) — scoped to the manager's nodes. POST /console/pushes/send runs today's 政策推送
now through the scheduler's claim (bot/scheduler.py: exactly once — the 10:00 run then finds it done); since a
run covers every node, only whole-network managers may start it. CSRF by the console middleware; every send
and every refusal is in the console audit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from aiohttp import web
from sqlalchemy import select

from bot import scheduler as sch
from bot.db import read_sessions
from bot.db.schema import JobRun
from bot.desk.console import templates as t
from bot.desk.console import views
from bot.desk.console.auth import current_staff
from bot.desk.console.staff_view import StaffView
from bot.desk.keys import SETTINGS_KEY
from bot.policy import PolicyError, load_rules, push

PATH = "/console/pushes"


def _rules(request: web.Request):
    return load_rules(request.app[SETTINGS_KEY].knowledge_dir)


def _sender(value: str) -> str:
    return "定时任务" if value == "system" else value.removeprefix("staff:")


def _channel(value: Optional[str]) -> str:
    return t.CHANNEL_LABELS.get(value or "", value or "—")


def _deadline(value) -> str:
    return f"{value.month}月{value.day}日" if value else "—"


def _render(template: str, title: str, staff: StaffView, error: str | None, **context) -> str:
    return t.render(
        template,
        title,
        staff,
        page="pushes",
        error=error,
        path=PATH,
        channel=_channel,
        deadline=_deadline,
        sender=_sender,
        **context,
    )


def list_page(
    staff: StaffView, records: list[push.PushRecord], flash: str | None = None, error: str | None = None
) -> str:
    return _render(
        "console/pushes.html",
        "政策推送",
        staff,
        error,
        flash=flash,
        records=records,
        scope="全区" if staff.all_nodes else "本节点及下属节点",
    )


def preview_page(staff: StaffView, plan: push.Plan, *, can_send: bool, send_note: str, error: str | None = None) -> str:
    triggers = (
        "、".join(
            f"{x.name}（{x.label}{'，截止' + _deadline(x.deadline) if x.deadline else ''}）" for x in plan.triggers
        )
        or "无（没有正在申报的政策或新施行的政策）"
    )
    return _render(
        "console/push_preview.html",
        "推送预览",
        staff,
        error,
        plan=plan,
        triggers=triggers,
        can_send=can_send,
        send_note=send_note,
    )


# ---- handlers ---------------------------------------------------------------------------------------------


async def list_handler(request: web.Request) -> web.Response:
    staff = current_staff(request)
    policy = request.query.get("policy", "")[:64]
    records = await views.run(push.pushes, views.db_url(request), staff.node_filter(), policy=policy)
    flash = error = None
    if request.query.get("done") == "sent":
        n = views._int(request.query.get("n"), 0) or 0
        flash = f"已推送 {n} 家企业。" if n else "已执行，本次没有需要通知的企业。"
    return views.html(list_page(staff, records, flash, error))


def _today_state(db: str, knowledge_dir, now: datetime) -> tuple[str, Optional[str], Optional[datetime]]:
    """(today's period, the status of today's run — None when it has not run, the next scheduled run)."""
    sched = sch.Scheduler(db, "console", reports_dir=".", knowledge_dir=knowledge_dir)
    period = sched.local_date(now).isoformat()
    with read_sessions(db)() as s:
        taken = s.scalar(select(JobRun.status).where(JobRun.job == sch.POLICY_PUSH, JobRun.period == period))
    return period, taken, sch._next_due(sched, sch.JOBS[sch.POLICY_PUSH], now)


async def preview_handler(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    staff = current_staff(request)
    if not staff.is_lead:
        return await views.denied(request, staff, "推送预览（仅限节点负责人和管理员）")
    db, now = views.db_url(request), views.now_of(request)
    try:
        rules = await views.run(_rules, request)
    except PolicyError as exc:
        return views.html(t.error_page("政策规则有误", str(exc).splitlines()[0] + " 请先修正规则文件。", staff), 500)
    knowledge_dir = request.app[SETTINGS_KEY].knowledge_dir
    period, state, next_due = await views.run(_today_state, db, knowledge_dir, now)
    taken = state in (sch.DONE, sch.RUNNING)
    at = now if not taken else (next_due or now)
    plan = await views.run(push.preview, db, rules, sch.policy_matching(), at)
    plan = plan.scoped(staff.node_filter())
    nxt = t.dt(next_due, "%m月%d日 %H:%M") if next_due else "—"
    if taken:
        note = f"今天的推送已执行；以上为下次定时推送（{nxt}）的预计名单。"
    elif staff.all_nodes:
        note = f"以上为此刻推送的名单；不点“立即推送”时将在 {nxt} 定时推送。一天只推送一次，每家企业每周最多一条。"
    else:
        note = (
            f"以上为本节点及下属节点的名单；定时推送在 {nxt}。立即推送会同时发给全区企业，"
            "请联系综合服务中心负责人或管理员操作。"
        )
    page = preview_page(staff, plan, can_send=staff.all_nodes and not taken, send_note=note, error=error)
    return views.html(page, status)


async def send_handler(request: web.Request) -> web.Response:
    staff = current_staff(request)
    if not staff.is_lead or not staff.all_nodes:
        return await views.denied(request, staff, "立即推送（全区推送，仅限综合服务中心负责人和管理员）")
    db, now = views.db_url(request), views.now_of(request)
    settings = request.app[SETTINGS_KEY]
    sched = sch.Scheduler(
        db,
        f"console:{staff.username}",
        reports_dir=settings.var_dir / "reports",
        knowledge_dir=settings.knowledge_dir,
        actor=staff.actor,
    )
    period = sched.local_date(now).isoformat()
    result = await views.run(sched.run_job, sch.POLICY_PUSH, period, now)
    await views.audit(request, staff, "policy_push", detail=f"{period} {result.status}：{result.output}"[:500])
    if result.status == sch.DONE:
        raise web.HTTPSeeOther(f"{PATH}?done=sent&n={len(result.data or [])}")
    if result.status == sch.FAILED:
        return await preview_handler(request, error=f"推送失败：{result.output[:200]}（稍后会自动重试）", status=500)
    _, state, _ = await views.run(_today_state, db, settings.knowledge_dir, now)
    if state == sch.FAILED:
        return await preview_handler(
            request, error="今天的推送刚刚失败，系统会在几分钟后自动重试，请稍后再看。", status=409
        )
    return await preview_handler(request, error="今天的推送已经执行过（或正在执行），没有重复发送。", status=409)


def setup(app: web.Application) -> None:
    app.router.add_get(PATH, list_handler)
    app.router.add_get(f"{PATH}/preview", preview_handler)
    app.router.add_post(f"{PATH}/send", send_handler)
    t.register_nav("pushes", PATH, "政策推送")
