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

from bot.desk.console import templates as t
from bot.desk.console import views
from bot.desk.console.auth import StaffView, current_staff
from bot.desk.keys import SETTINGS_KEY
from bot.policy import PolicyError, load_rules, push

PATH = "/console/pushes"
e = t.e


def _rules(request: web.Request):
    return load_rules(request.app[SETTINGS_KEY].knowledge_dir)


def _sender(value: str) -> str:
    return "定时任务" if value == "system" else value.removeprefix("staff:")


def _channel(value: Optional[str]) -> str:
    return t.CHANNEL_LABELS.get(value or "", value or "—")


def _deadline(value) -> str:
    return f"{value.month}月{value.day}日" if value else "—"


def list_html(records: list[push.PushRecord]) -> str:
    rows = "".join(
        f'<tr data-push="{r.id}" data-enterprise="{r.enterprise_id}"><td>{e(t.dt(r.created_at, "%m-%d %H:%M"))}</td>'
        f'<td class="l">{e(r.enterprise)}</td><td class="l">{e(r.policy_name)}<small>{e(r.trigger_text)}</small></td>'
        f'<td class="l">{e(r.reason_text)}</td><td>{e(_channel(r.channel))}</td><td>{e(_deadline(r.deadline))}</td>'
        f'<td>{e(_sender(r.sent_by))}</td><td>{e(r.status_text)}</td>'
        f'<td class="l wrap"><details><summary>内容</summary>{e(r.body)}</details></td></tr>'
        for r in records)
    empty = '<tr><td class="l" colspan="9">暂无推送记录。</td></tr>'
    return (f'<div class="scroll"><table class="grid pushes"><thead><tr><th>时间</th><th>企业</th><th>政策</th>'
            f'<th>推送原因</th><th>渠道</th><th>截止</th><th>发送</th><th>状态</th><th>消息</th></tr></thead>'
            f'<tbody>{rows or empty}</tbody></table></div>')


def list_page(staff: StaffView, records: list[push.PushRecord], flash: str | None = None,
              error: str | None = None) -> str:
    scope = "全区" if staff.all_nodes else "本节点及下属节点"
    preview = f'<a href="{PATH}/preview">推送预览</a>' if staff.is_lead else ""
    body = f"""<section class="card"><div class="head"><h1>政策推送 <small>{e(scope)} · 最近 {len(records)} 条</small></h1>
{preview}</div>
<p class="muted">有政策开始申报或新政策施行时，按企业已保存的数字或曾登记的同类需求，向企业的聊天渠道发一条提醒；
每家企业每周最多一条，回复“退订”即停止。</p>
{list_html(records)}</section>"""
    return t.layout("政策推送", body, staff, page="pushes", flash=flash, error=error)


def _candidate_rows(items: list[push.Candidate], skipped: bool) -> str:
    out = []
    for c in items:
        last = t.dt(c.last_push_at, "%m-%d %H:%M") if c.last_push_at else ""
        tail = (f'<td class="l">{e(c.skipped_text)}{f"<small>上次 {e(last)}</small>" if last else ""}</td>' if skipped
                else f'<td>{e(_channel(c.channel))}</td><td class="l">{e(c.contact or c.conversation_id or "")}</td>')
        out.append(f'<tr data-enterprise="{c.enterprise_id}"><td class="l">{e(c.enterprise)}</td>'
                   f'<td class="l">{e(c.trigger.name)}<small>{e(c.trigger.label)}'
                   f'{"，截止" + e(_deadline(c.trigger.deadline)) if c.trigger.deadline else ""}</small></td>'
                   f'<td class="l">{e(c.reason_text)}</td>{tail}</tr>')
    return "".join(out)


def preview_page(staff: StaffView, plan: push.Plan, *, can_send: bool, send_note: str,
                 error: str | None = None) -> str:
    triggers = "、".join(f"{x.name}（{x.label}{'，截止' + _deadline(x.deadline) if x.deadline else ''}）"
                        for x in plan.triggers) or "无（没有正在申报的政策或新施行的政策）"
    send_rows = _candidate_rows(plan.send, False) or '<tr><td class="l" colspan="5">没有要通知的企业。</td></tr>'
    skip_rows = _candidate_rows(plan.skipped, True) or '<tr><td class="l" colspan="4">无。</td></tr>'
    button = (f'<form method="post" action="{PATH}/send" class="inline">{t.csrf_input(staff)}'
              f'<button type="submit">立即推送</button></form>') if can_send else ""
    body = f"""<section class="card"><div class="head"><h1>推送预览 <small>{e(t.dt(plan.now, '%Y-%m-%d %H:%M'))}</small></h1>
<a href="{PATH}">推送记录</a></div>
<p>当前可推送的政策：{e(triggers)}</p>
<h2>将通知的企业 <small>{len(plan.send)} 家</small></h2>
<div class="scroll"><table class="grid preview-send"><thead><tr><th>企业</th><th>政策</th><th>推送原因</th><th>渠道</th>
<th>联系人</th></tr></thead><tbody>{send_rows}</tbody></table></div>
<h2>符合条件但不推送 <small>{len(plan.skipped)} 家</small></h2>
<div class="scroll"><table class="grid preview-skip"><thead><tr><th>企业</th><th>政策</th><th>推送原因</th><th>不推送的原因</th>
</tr></thead><tbody>{skip_rows}</tbody></table></div>
<p class="muted">{e(send_note)}</p>{button}</section>"""
    return t.layout("推送预览", body, staff, page="pushes", error=error)


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
    from sqlalchemy import select

    from bot import scheduler as sch
    from bot.db import read_sessions
    from bot.db.schema import JobRun

    sched = sch.Scheduler(db, "console", reports_dir=".", knowledge_dir=knowledge_dir)
    period = sched.local_date(now).isoformat()
    with read_sessions(db)() as s:
        taken = s.scalar(select(JobRun.status).where(JobRun.job == sch.POLICY_PUSH, JobRun.period == period))
    return period, taken, sch._next_due(sched, sch.JOBS[sch.POLICY_PUSH], now)


async def preview_handler(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    from bot import scheduler as sch

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
        note = (f"以上为本节点及下属节点的名单；定时推送在 {nxt}。立即推送会同时发给全区企业，"
                "请联系综合服务中心负责人或管理员操作。")
    page = preview_page(staff, plan, can_send=staff.all_nodes and not taken, send_note=note, error=error)
    return views.html(page, status)


async def send_handler(request: web.Request) -> web.Response:
    from bot import scheduler as sch

    staff = current_staff(request)
    if not staff.is_lead or not staff.all_nodes:
        return await views.denied(request, staff, "立即推送（全区推送，仅限综合服务中心负责人和管理员）")
    db, now = views.db_url(request), views.now_of(request)
    settings = request.app[SETTINGS_KEY]
    sched = sch.Scheduler(db, f"console:{staff.username}", reports_dir=settings.var_dir / "reports",
                          knowledge_dir=settings.knowledge_dir, actor=staff.actor)
    period = sched.local_date(now).isoformat()
    result = await views.run(sched.run_job, sch.POLICY_PUSH, period, now)
    await views.audit(request, staff, "policy_push", detail=f"{period} {result.status}：{result.output}"[:500])
    if result.status == sch.DONE:
        raise web.HTTPSeeOther(f"{PATH}?done=sent&n={len(result.data or [])}")
    if result.status == sch.FAILED:
        return await preview_handler(request, error=f"推送失败：{result.output[:200]}（稍后会自动重试）", status=500)
    _, state, _ = await views.run(_today_state, db, settings.knowledge_dir, now)
    if state == sch.FAILED:
        return await preview_handler(request, error="今天的推送刚刚失败，系统会在几分钟后自动重试，请稍后再看。", status=409)
    return await preview_handler(request, error="今天的推送已经执行过（或正在执行），没有重复发送。", status=409)


def setup(app: web.Application) -> None:
    app.router.add_get(PATH, list_handler)
    app.router.add_get(f"{PATH}/preview", preview_handler)
    app.router.add_post(f"{PATH}/send", send_handler)
    t.register_nav("pushes", PATH, "政策推送")
