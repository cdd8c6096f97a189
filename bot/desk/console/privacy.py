"""The administrators' personal-information page: export or erase what is held about one person.

GET /console/admin/privacy shows the form (a mobile number or a conversation id); POST
/console/admin/privacy/export answers a JSON file; POST /console/admin/privacy/erase (with the
confirmation box ticked) deletes messages, transcripts, question logs, notifications and Rasa's
tracker events and anonymises contacts and tickets (bot.privacy). CSRF by the console middleware;
admin role only (anyone else gets the refusal page, audited); the person's tickets and conversations
must all be within the administrator's nodes. Every export and erasure is in the console audit.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from bot.db import read_sessions
from bot.desk.console import templates as t
from bot.desk.console.auth import client_ip, current_staff
from bot.desk.console.staff_view import StaffView
from bot.desk.console.views import denied
from bot.desk.keys import SETTINGS_KEY
from bot.privacy import data
from bot.privacy.service import run_erase, run_export

PATH = "/console/admin/privacy"


def _page(
    staff: StaffView, flash: str | None = None, error: str | None = None, mobile: str = "", conversation: str = ""
) -> str:
    return t.render(
        "console/privacy.html",
        "个人信息",
        staff,
        page="privacy",
        flash=flash,
        error=error,
        path=PATH,
        mobile=mobile,
        conversation=conversation,
    )


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


async def _refuse(request: web.Request, staff: StaffView) -> web.Response:
    return await denied(request, staff, "个人信息导出与删除（仅限管理员）")


async def _selector(request: web.Request) -> tuple[dict, dict]:
    form = await request.post()
    mobile = str(form.get("mobile", "")).strip()
    conversation = str(form.get("conversation", "")).strip()
    shown = {"mobile": mobile[:20], "conversation": conversation[:128]}
    if bool(mobile) == bool(conversation):
        raise data.SelectorError("请填写手机号或会话编号中的一项")
    return ({"mobile": mobile} if mobile else {"conversation": conversation}), shown


def _out_of_scope(db: str, staff: StaffView, selector: dict) -> bool:
    with read_sessions(db)() as s:
        subject = data.find_subject(s, **selector)
        return not all(staff.sees(n) for n in data.subject_nodes(s, subject))


async def page(request: web.Request) -> web.Response:
    staff = current_staff(request)
    if not staff.is_admin:
        return await _refuse(request, staff)
    flash = "已删除该人员的个人信息，工单保留匿名化的办理记录。" if request.query.get("done") == "erase" else None
    return _html(_page(staff, flash=flash))


async def _act(request: web.Request, action: str) -> web.Response:
    staff = current_staff(request)
    if not staff.is_admin:
        return await _refuse(request, staff)
    settings = request.app[SETTINGS_KEY]
    db = settings.effective_database_url
    shown: dict = {}
    try:
        selector, shown = await _selector(request)
        if await asyncio.to_thread(_out_of_scope, db, staff, selector):
            return await denied(request, staff, "该人员的工单或会话不属于您的服务节点")
        if action == "export":
            result = await asyncio.to_thread(run_export, db, actor=staff.actor, ip=client_ip(request), **selector)
            body = json.dumps(result, ensure_ascii=False, indent=2)
            return web.Response(
                text=body,
                content_type="application/json",
                charset="utf-8",
                headers={
                    "Content-Disposition": 'attachment; filename="personal-data.json"',
                    "Cache-Control": "no-store",
                },
            )
        form = await request.post()
        if form.get("confirm") != "yes":
            return _html(_page(staff, error="请勾选确认框后再删除（删除不可恢复）。", **shown), 400)
        await asyncio.to_thread(
            run_erase,
            db,
            actor=staff.actor,
            ip=client_ip(request),
            tracker_url=settings.effective_tracker_store_url,
            **selector,
        )
    except data.SelectorError as exc:
        return _html(_page(staff, error=str(exc), **shown), 400)
    raise web.HTTPSeeOther(f"{PATH}?done=erase")


async def export(request: web.Request) -> web.Response:
    return await _act(request, "export")


async def erase(request: web.Request) -> web.Response:
    return await _act(request, "erase")


def setup(app: web.Application) -> None:
    app.router.add_get(PATH, page)
    app.router.add_post(f"{PATH}/export", export)
    app.router.add_post(f"{PATH}/erase", erase)
