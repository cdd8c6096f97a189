"""Console: the chat identity behind a conversation and staff confirming it as a contact of its enterprise.

A chat identity that typed a company name is an *unverified* contact (bot/tickets/identity.py): it sees
only the tickets it opened itself. This page shows who it says it is, what it stated on its tickets and
the enterprise's own record; "确认为该企业联系人" (after checking with the enterprise, e.g. by calling
the number on file) makes it a verified contact. Scoped like every conversation route (the conversation's
node), audited in console_audit ("verify_contact").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select

from bot.db import read_sessions
from bot.db.schema import Contact, Enterprise, Ticket
from bot.desk.console import templates as t
from bot.desk.console import views
from bot.desk.console.staff_view import StaffView
from bot.tickets.identity import IdentityService

DONE = {
    "verified": "已确认为该企业联系人：该会话现在可以查看和办理企业的全部工单。",
    "revoked": "已撤销验证：该会话又只能查看和办理自己登记的工单。",
}
STATED_LABELS = {"name": "企业名称", "credit_code": "统一社会信用代码", "new_city": "新城", "park": "园区"}


@dataclass
class ContactView:
    contact: Optional[Contact]
    enterprise: Optional[Enterprise]
    stated: list = field(default_factory=list)  # (ticket number, {field: value}) as the user stated them
    verified_colleagues: int = 0


def contact_view(db: str, cid: str) -> ContactView:
    with read_sessions(db)() as s:
        c = s.scalars(select(Contact).where(Contact.sender_id == cid)).first()
        if c is None:
            return ContactView(None, None)
        ent = s.get(Enterprise, c.enterprise_id)
        stated = [
            (n, json.loads(v))
            for n, v in s.execute(
                select(Ticket.number, Ticket.stated)
                .where(Ticket.contact_id == c.id, Ticket.stated.is_not(None))
                .order_by(Ticket.id.desc())
                .limit(10)
            ).all()
        ]
        colleagues = len(
            s.scalars(
                select(Contact.id).where(
                    Contact.enterprise_id == c.enterprise_id, Contact.verified_at.is_not(None), Contact.id != c.id
                )
            ).all()
        )
        return ContactView(c, ent, stated, colleagues)


def page(staff: StaffView, cid: str, cv: ContactView, flash: str | None = None, error: str | None = None) -> str:
    return t.render(
        "console/contact.html",
        "联系人身份",
        staff,
        flash=flash,
        error=error,
        cv=cv,
        path=quote(cid, safe=""),
        stated_labels=STATED_LABELS,
    )


@views._conversation_action
async def contact_page(request: web.Request, staff: StaffView, cid: str) -> web.Response:
    cv = await views.run(contact_view, views.db_url(request), cid)
    return views.html(page(staff, cid, cv, flash=DONE.get(request.query.get("done", ""))))


async def _change(request: web.Request, staff: StaffView, cid: str, revoke: bool) -> web.Response:
    db = views.db_url(request)
    ids = IdentityService(db, clock=lambda: views.now_of(request))
    try:
        standing = (
            await views.run(ids.revoke, cid) if revoke else await views.run(ids.verify_by_staff, cid, staff.username)
        )
    except ValueError as exc:
        if views.wants_json(request):
            return web.json_response({"ok": False, "message": str(exc)}, status=409)
        cv = await views.run(contact_view, db, cid)
        return views.html(page(staff, cid, cv, error=str(exc)), 409)
    what = "撤销企业联系人验证" if revoke else "确认为企业联系人"
    await views.audit(
        request,
        staff,
        "unverify_contact" if revoke else "verify_contact",
        conversation_id=cid,
        detail=f"{what}：{standing.enterprise_name}（企业ID {standing.enterprise_id}）",
    )
    done = "revoked" if revoke else "verified"
    if views.wants_json(request):
        return web.json_response({"ok": True, "message": DONE[done]})
    raise web.HTTPSeeOther(f"/console/conversations/{quote(cid, safe='')}/contact?done={done}")


@views._conversation_action
async def verify_contact(request: web.Request, staff: StaffView, cid: str) -> web.Response:
    return await _change(request, staff, cid, revoke=False)


@views._conversation_action
async def unverify_contact(request: web.Request, staff: StaffView, cid: str) -> web.Response:
    return await _change(request, staff, cid, revoke=True)
