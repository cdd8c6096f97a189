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

from bot.desk.console import templates as t
from bot.desk.console.auth import client_ip, clock_of, current_staff
from bot.desk.console.staff_view import StaffView
from bot.desk.console.views import denied
from bot.desk.keys import db_url
from bot.staff import accounts

DONE = {
    "disable": "账号已停用，该账号已登录的会话均已退出。",
    "enable": "账号已重新启用。",
    "unlock": "已解除该账号在所有地址的登录暂停。",
}


async def _refuse(request: web.Request, staff: StaffView) -> web.Response:
    return await denied(request, staff, "账号管理（仅限管理员）")


def _page(staff: StaffView, rows, pauses: dict, flash: str | None = None, error: str | None = None) -> str:
    def buttons(r) -> list[tuple[str, str, str]]:
        """(action, label, css class): 停用 / 启用 (never one's own account), 解除登录暂停 when paused."""
        out = []
        if r.username != staff.username:
            out.append(("disable", "停用", "danger") if r.active else ("enable", "启用", ""))
        if pauses.get(r.username):
            out.append(("unlock", "解除登录暂停", ""))
        return out

    accounts_ = [(r, quote(r.username, safe=""), buttons(r), pauses.get(r.username, [])) for r in rows]
    return t.render(
        "console/admin_staff.html", "账号管理", staff, page="admin", flash=flash, error=error, accounts=accounts_
    )


async def _render(
    request: web.Request, staff: StaffView, flash: str | None = None, error: str | None = None, status: int = 200
) -> web.Response:
    db, now = db_url(request), clock_of(request.app)()

    def load():
        rows = accounts.list_staff(db)
        return rows, {r.username: accounts.paused(db, r.username, now) for r in rows}

    rows, pauses = await asyncio.to_thread(load)
    return web.Response(
        text=_page(staff, rows, pauses, flash, error), status=status, content_type="text/html", charset="utf-8"
    )


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
    db, ip = db_url(request), client_ip(request)
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
