"""The administrators' page of the console: staff accounts (disable, enable, lift sign-in pauses).

GET /console/admin/staff lists every account; POST /console/admin/staff/{username}/disable,
/enable and /unlock act on one (CSRF by the console middleware). Only the admin role may
see or use it: anyone else gets the refusal page, and the refusal is audited. Every action
is written to the console audit with the administrator and their address; disabling ends
the account's open sessions at once. Administrators cannot disable themselves (so the last
one cannot lock everybody out by a slip); `python -m bot.staff` does the same from a shell.
"""
from __future__ import annotations

import asyncio
from urllib.parse import quote

from aiohttp import web

from bot.staff import accounts
from bot.desk.console import templates as t
from bot.desk.console.auth import StaffView, client_ip, clock_of, current_staff
from bot.desk.keys import SETTINGS_KEY

DONE = {"disable": "账号已停用，该账号已登录的会话均已退出。", "enable": "账号已重新启用。",
        "unlock": "已解除该账号在所有地址的登录暂停。"}


def _db(request: web.Request) -> str:
    return request.app[SETTINGS_KEY].effective_database_url


async def _refuse(request: web.Request, staff: StaffView) -> web.Response:
    from bot.desk.console.views import denied

    return await denied(request, staff, "账号管理（仅限管理员）")


def _page(staff: StaffView, rows, pauses: dict, flash: str | None = None, error: str | None = None) -> str:
    from bot.desk.console.store import node_name

    def actions(r) -> str:
        name = quote(r.username, safe="")
        buttons = []
        if r.username != staff.username:
            if r.active:
                buttons.append(("disable", "停用", "danger"))
            else:
                buttons.append(("enable", "启用", ""))
        if pauses.get(r.username):
            buttons.append(("unlock", "解除登录暂停", ""))
        return "".join(
            f'<form method="post" action="/console/admin/staff/{t.e(name)}/{a}" class="inline">'
            f'{t.csrf_input(staff)}<button type="submit" class="{c}">{label}</button></form>'
            for a, label, c in buttons)

    def state(r) -> str:
        parts = [] if r.active else ['<strong class="err">已停用</strong>']
        parts += [f"{t.e(addr)} 暂停登录至 {t.e(t.dt(until, '%m-%d %H:%M'))}" for addr, until in pauses.get(r.username, [])]
        return "<br>".join(parts) or "正常"

    body_rows = "".join(
        f"""<tr><td>{t.e(r.username)}</td><td>{t.e(r.display_name)}</td><td>{t.e(t.ROLE_LABELS.get(r.role, r.role))}</td>
<td>{t.e(node_name(r.node_id))}</td><td>{state(r)}</td><td>{actions(r)}</td></tr>""" for r in rows)
    body = f"""<section class="card"><h1>账号管理</h1>
<p class="muted">停用的账号不能登录，已登录的会话立即退出；重新启用后用原密码登录。新建账号和重设密码请在服务器上使用
<code>python -m bot.staff</code>。</p>
<table class="grid"><thead><tr><th>用户名</th><th>姓名</th><th>角色</th><th>服务节点</th><th>状态</th><th></th></tr></thead>
<tbody>{body_rows}</tbody></table></section>"""
    return t.layout("账号管理", body, staff, page="admin", flash=flash, error=error)


async def _render(request: web.Request, staff: StaffView, flash: str | None = None, error: str | None = None,
                  status: int = 200) -> web.Response:
    db, now = _db(request), clock_of(request.app)()

    def load():
        rows = accounts.list_staff(db)
        return rows, {r.username: accounts.paused(db, r.username, now) for r in rows}

    rows, pauses = await asyncio.to_thread(load)
    return web.Response(text=_page(staff, rows, pauses, flash, error), status=status, content_type="text/html",
                        charset="utf-8")


async def staff_page(request: web.Request) -> web.Response:
    staff = current_staff(request)
    if not staff.is_admin:
        return await _refuse(request, staff)
    return await _render(request, staff, flash=DONE.get(request.query.get("done", "")))


async def staff_action(request: web.Request) -> web.Response:
    staff = current_staff(request)
    if not staff.is_admin:
        return await _refuse(request, staff)
    username = accounts.normalise_username(request.match_info["username"])
    action = request.match_info["action"]
    if action not in DONE:
        raise web.HTTPNotFound()
    if action == "disable" and username == staff.username:
        return await _render(request, staff, error="不能停用自己的账号。", status=400)
    db, ip = _db(request), client_ip(request)
    try:
        if action == "unlock":
            await asyncio.to_thread(accounts.unlock, db, username, staff.actor, ip)
        else:
            await asyncio.to_thread(accounts.set_active, db, username, action == "enable", staff.actor, ip)
    except accounts.StaffError as exc:
        return await _render(request, staff, error=str(exc), status=404)
    raise web.HTTPSeeOther(f"/console/admin/staff?done={action}")


def setup(app: web.Application) -> None:
    app.router.add_get("/console/admin/staff", staff_page)
    app.router.add_post("/console/admin/staff/{username}/{action}", staff_action)
