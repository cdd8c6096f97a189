"""Console pages and staff actions: queue, conversation, tickets, reports.

Every handler first resolves the node of what it touches and refuses (403) anything
outside the member of staff's scope; every action is written to the console audit
(and, through the ticket and handover services, to the linked ticket's trail).
Forms work without JavaScript (post → redirect → page); the conversation pane posts
replies with fetch() and gets JSON back instead.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Optional
from urllib.parse import quote

from aiohttp import web

from bot import handover as ho
from bot.desk import gateway
from bot.desk.console import dispatch as dp
from bot.desk.console import store
from bot.desk.console import templates as t
from bot.desk.console import unread as ur
from bot.desk.console.auth import client_ip, clock_of, current_staff
from bot.desk.console.staff_view import StaffView
from bot.desk.hub import HUB_KEY
from bot.desk.keys import db_url
from bot.files import store as file_store
from bot.network import default_network
from bot.reports import monthly_summary, parse_month, to_html, to_xlsx
from bot.reports.render import node_sheets, scorecard_sheet
from bot.settings import SERVICE_DATA_DIR
from bot.taxonomy import BY_INTENT
from bot.tickets import canned, history
from bot.tickets import lifecycle as lc
from bot.tickets.service import TicketError, TicketService, status_notice

log = logging.getLogger(__name__)

CANNED_FILE = SERVICE_DATA_DIR / "canned_replies.yml"
MAX_TEXT = 2000

DONE = {
    "claimed": "已接单，现在可以回复企业。",
    "replied": "已发送给企业。",
    "noted": "已添加内部备注。",
    "transferred": "已转交。",
    "ended": "人工服务已结束，机器人已恢复接待并请企业评价本次服务。",
    "takeover": "已接管会话，机器人暂停自动回复。",
    "status": "工单状态已更新。",
    "ticket_note": "已添加工单备注。",
    "assigned": "已保存转派 / 承办人。",
    "closed": "工单已办结，办理结果和评价邀请已发给企业。",
    "reclassified": "已重新分类，办结时限已按新类别重新计算。",
}


# ---- helpers -------------------------------------------------------------------------------------


async def run(fn, *args, **kwargs):
    return await asyncio.to_thread(fn, *args, **kwargs)


def html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def now_of(request: web.Request) -> datetime:
    return clock_of(request.app)()


def forbidden(request: web.Request, staff: StaffView, what: str = "该内容") -> web.Response:
    message = f"{what}不在您所在节点的服务范围内，无权访问。"
    if wants_json(request) or request.path.startswith("/console/api/"):
        return web.json_response({"ok": False, "error": "forbidden", "message": message}, status=403)
    return html(t.error_page("无权访问", message, staff), status=403)


def not_found(request: web.Request, staff: StaffView, what: str) -> web.Response:
    if wants_json(request) or request.path.startswith("/console/api/"):
        return web.json_response({"ok": False, "error": "not_found", "message": f"没有找到{what}。"}, status=404)
    return html(t.error_page("没有找到", f"没有找到{what}。", staff), status=404)


async def audit(request: web.Request, staff: StaffView, action: str, **kw) -> None:
    await run(store.record, db_url(request), staff, action, ip=client_ip(request), at=now_of(request), **kw)


async def denied(request: web.Request, staff: StaffView, what: str, **kw) -> web.Response:
    await audit(request, staff, "denied", detail=f"{request.method} {request.path}", **kw)
    return forbidden(request, staff, what)


MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL
MAX_PAGE = 100_000


def _int(value: Any, low: int = -MAX_ID - 1, high: int = MAX_ID) -> Optional[int]:
    """An integer in [low, high], else None (absent, not a number, out of range)."""
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return n if low <= n <= high else None


class BadParameter(Exception):
    """A numeric query parameter out of its range: 400 naming it."""


def _query_int(request: web.Request, name: str, label: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name, "").strip()
    if not raw:
        return default
    value = _int(raw, low, high)
    if value is None:
        raise BadParameter(f"参数 {name}（{label}）应为 {low}–{high} 的整数。")
    return value


def _bad_parameter(request: web.Request, staff: StaffView, message: str) -> web.Response:
    if wants_json(request) or request.path.startswith("/console/api/"):
        return web.json_response({"ok": False, "error": "bad_parameter", "message": message}, status=400)
    return html(t.error_page("参数有误", message, staff), status=400)


def _given(form, name: str) -> bool:
    value = form.get(name)
    return isinstance(value, str) and value.strip() != ""


def _text(form, name: str = "text") -> str:
    value = form.get(name, "")
    # NUL cannot be stored in PostgreSQL text; it is never meant
    return (value if isinstance(value, str) else "").replace("\x00", "").strip()[:MAX_TEXT]


def canned_replies(now: datetime, cv=None) -> list[dict]:
    """bot/service_data/canned_replies.yml (reread when it changes) with its variables filled in for this
    conversation at `now`: the real 即日办 deadline, the enterprise's name (bot/tickets/canned.py)."""
    ticket = getattr(cv, "ticket", None)
    due = ticket.first_response_due if ticket is not None and ticket.first_response_at is None else None
    open_ticket = ticket if ticket is not None and ticket.status in lc.OPEN_STATES else None
    try:
        return canned.offered(
            now,
            enterprise=getattr(cv, "enterprise_name", None),
            first_response_due=due,
            ticket_number=open_ticket.number if open_ticket else None,
            resolution_due=open_ticket.resolution_due if open_ticket else None,
            path=CANNED_FILE,
        )
    except (OSError, canned.CannedError):  # a missing or broken file (read_yaml turns a YAML error into CannedError)
        log.exception("canned replies unreadable")
        return []


@lru_cache(maxsize=4)
def ticket_service(url: str):
    return TicketService(url)


def publish(request: web.Request, event: dict) -> None:
    request.app[HUB_KEY].publish("console", event)


# ---- the queue -----------------------------------------------------------------------------------


async def queue_page(request: web.Request) -> web.Response:
    staff = current_staff(request)
    db, now = db_url(request), now_of(request)
    items = await run(store.queue, db, staff)
    lists = await run(dp.dispatch_lists, db, staff.node_filter(), now)
    due = dp.due_items(lists)
    recent = await run(store.recent_conversations, db, staff)
    unread = await run(ur.unread_counts, db, staff.id, [it.conversation_id for it in items])
    return html(t.queue_page(staff, items, due, recent, now, unread))


async def mine_page(request: web.Request) -> web.Response:
    """我的: the conversations this member of staff serves and the open tickets they are 承办人 of."""
    staff = current_staff(request)
    db = db_url(request)
    items = [it for it in await run(store.queue, db, staff) if it.claimed_by == staff.id]
    unread = await run(ur.unread_counts, db, staff.id, [it.conversation_id for it in items])
    rows = await run(ur.my_open_tickets, db, staff)
    return html(t.mine_page(staff, items, unread, rows, now_of(request)))


def queue_json(items, staff: StaffView, unread: dict | None = None) -> list[dict]:
    return [
        {
            "id": it.id,
            "conversation_id": it.conversation_id,
            "enterprise": it.enterprise_name or "未登记企业",
            "reason": t.REASON_LABELS.get(it.reason, it.reason),
            "category": t.category_label(it.category),
            "node": store.node_name(it.node_id),
            "created_at": t.iso(it.created_at),
            "claimed_by": it.claimed_by,
            "claimed_by_name": it.claimed_by_name,
            "mine": it.claimed_by == staff.id,
            "last_user_text": (it.last_user_text or "")[:80],
            "unread": (unread or {}).get(it.conversation_id, 0),
        }
        for it in items
    ]


async def api_queue(request: web.Request) -> web.Response:
    """The queue, each item's unread count, and `waiting` — the number the tab title shows (unread.py)."""
    staff = current_staff(request)
    items = await run(store.queue, db_url(request), staff)
    unread = await run(ur.unread_counts, db_url(request), staff.id, [it.conversation_id for it in items])
    return web.json_response(
        {
            "items": queue_json(items, staff, unread),
            "now": t.iso(now_of(request)),
            "waiting": ur.waiting_for(staff, items, unread),
        }
    )


# ---- a conversation ------------------------------------------------------------------------------


async def _conversation_scope(request: web.Request, staff: StaffView, cid: str) -> Optional[web.Response]:
    exists, node = await run(store.conversation_node, db_url(request), cid)
    if not exists:
        return not_found(request, staff, "该会话")
    if not staff.sees(node):
        return await denied(request, staff, "该会话", conversation_id=cid)
    return None


def _conversation_action(handler):
    """The console's conversation routes: the signed-in member of staff, the conversation id, and
    a scope check (out of scope: the refusal page) before `handler(request, staff, cid)`."""

    @functools.wraps(handler)
    async def route(request: web.Request) -> web.Response:
        staff = current_staff(request)
        cid = request.match_info["cid"]
        if (refused := await _conversation_scope(request, staff, cid)) is not None:
            return refused
        return await handler(request, staff, cid)

    return route


def _ticket_action(handler):
    """The same for ticket routes: `handler(request, staff, number)` after the ticket's scope check."""

    @functools.wraps(handler)
    async def route(request: web.Request) -> web.Response:
        staff = current_staff(request)
        number = request.match_info["number"]
        if (refused := await _ticket_scope(request, staff, number)) is not None:
            return refused
        return await handler(request, staff, number)

    return route


async def _render_conversation(
    request: web.Request,
    staff: StaffView,
    cid: str,
    flash: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    db = db_url(request)
    cv = await run(store.conversation_view, db, cid)
    if cv is None:
        return not_found(request, staff, "该会话")
    messages = [t.message_json(m, cv.author_names, cv.enterprise_name) for m in cv.messages]
    if messages:  # what the page shows is read
        await run(ur.mark_read, db, staff.id, cid, messages[-1]["id"], now_of(request))
    nodes = store.transfer_nodes(staff)
    people = await run(store.transfer_people, db, staff)
    page = t.conversation_page(
        staff, cv, messages, canned_replies(now_of(request), cv), nodes, people, now_of(request), flash, error
    )
    return html(page, status)


@_conversation_action
async def conversation_page(request: web.Request, staff: StaffView, cid: str) -> web.Response:
    return await _render_conversation(request, staff, cid, flash=DONE.get(request.query.get("done", "")))


@_conversation_action
async def api_conversation(request: web.Request, staff: StaffView, cid: str) -> web.Response:
    try:
        after = _query_int(request, "after", "消息序号", 0, 0, MAX_ID)
    except BadParameter as exc:
        return _bad_parameter(request, staff, str(exc))
    cv = await run(store.conversation_view, db_url(request), cid, after)
    h = cv.handover
    return web.json_response(
        {
            "messages": [t.message_json(m, cv.author_names, cv.enterprise_name) for m in cv.messages],
            "mode": cv.conversation.mode if cv.conversation is not None else None,
            "handover": None
            if h is None
            else {
                "id": h.id,
                "open": cv.handover_open,
                "claimed_by": h.claimed_by,
                "claimed_by_name": cv.claimed_by_name,
            },
        }
    )


@_conversation_action
async def api_read(request: web.Request, staff: StaffView, cid: str) -> web.Response:
    """The open pane showed messages up to `last_id` (JSON body or form): mark them read."""
    try:
        data = await request.json() if request.content_type == "application/json" else dict(await request.post())
    except ValueError:
        data = {}
    last = _int(data.get("last_id") if isinstance(data, dict) else None, 0)
    if last is None:
        return _bad_parameter(request, staff, "参数 last_id（消息序号）应为非负整数。")
    await run(ur.mark_read, db_url(request), staff.id, cid, last, now_of(request))
    return web.json_response({"ok": True})


def _done(request: web.Request, cid: str, code: str, extra: dict | None = None) -> web.Response:
    if wants_json(request):
        return web.json_response({"ok": True, "message": DONE.get(code, ""), **(extra or {})})
    raise web.HTTPSeeOther(f"/console/conversations/{quote(cid, safe='')}?done={code}")


async def _failed(request: web.Request, staff: StaffView, cid: str, message: str, status: int = 409) -> web.Response:
    if wants_json(request):
        return web.json_response({"ok": False, "message": message}, status=status)
    return await _render_conversation(request, staff, cid, error=message, status=status)


async def _open_handover(request: web.Request, cid: str, form) -> Optional[Any]:
    """The conversation's open handover; the form's handover_id must name it (no stale pages acting)."""
    h = await run(store.open_handover, db_url(request), cid)
    wanted = _int(form.get("handover_id"), 1)
    if _given(form, "handover_id") and wanted is None:
        return None  # not an id at all: never "any handover"
    if h is None or (wanted is not None and wanted != h.id):
        return None
    return h


@_conversation_action
async def claim(request: web.Request, staff: StaffView, cid: str) -> web.Response:
    form = await request.post()
    h = await _open_handover(request, cid, form)
    if h is None:
        return await _failed(
            request, staff, cid, "该会话当前没有等待接单的人工服务（可能已结束或页面已过期），请刷新。"
        )
    try:
        h = await gateway.claim_handover(request.app, h.id, staff)
    except ho.HandoverError as exc:
        return await _failed(request, staff, cid, f"接单失败：{exc}")
    await audit(request, staff, "claim", conversation_id=cid, handover_id=h.id, ticket_id=h.ticket_id)
    return _done(request, cid, "claimed")


@_conversation_action
async def reply(request: web.Request, staff: StaffView, cid: str) -> web.Response:
    form = await request.post()
    if form.get("mode") == "note":  # the composer is in 内部备注 mode: never to the enterprise
        return await _failed(
            request, staff, cid, "当前是「内部备注」模式，内容没有发给企业；要回复企业请切换到「回复企业」。", 400
        )
    text = _text(form)
    if not text:
        return await _failed(request, staff, cid, "回复内容不能为空。", 400)
    h = await _open_handover(request, cid, form)
    if h is None or h.claimed_by != staff.id:
        return await _failed(request, staff, cid, "请先接单再回复企业（同一时间只能由一位工作人员接待）。")
    msg = await gateway.send_to_user(request.app, cid, text, staff.actor)
    ticket = await run(store.handover_ticket, db_url(request), cid, h.id)
    if ticket is not None:
        await run(ticket_service(db_url(request)).note, ticket.number, staff.actor, text, False)
    await audit(
        request,
        staff,
        "reply",
        conversation_id=cid,
        handover_id=h.id,
        ticket_id=ticket.id if ticket else None,
        detail=text,
    )
    return _done(request, cid, "replied", {"message_id": getattr(msg, "id", None)})


@_conversation_action
async def note(request: web.Request, staff: StaffView, cid: str) -> web.Response:
    form = await request.post()
    if form.get("mode") == "reply":  # the composer is in 回复企业 mode: not silently kept as a note
        return await _failed(
            request, staff, cid, "当前是「回复企业」模式，内容没有保存为内部备注；请切换到「内部备注」。", 400
        )
    text = _text(form)
    if not text:
        return await _failed(request, staff, cid, "备注内容不能为空。", 400)
    h = await run(store.open_handover, db_url(request), cid)
    msg = await gateway.send_to_user(request.app, cid, text, staff.actor, internal=True)
    ticket = await run(store.handover_ticket, db_url(request), cid, h.id if h else None)
    if ticket is not None:
        await run(ticket_service(db_url(request)).note, ticket.number, staff.actor, text, True)
    await audit(
        request,
        staff,
        "note",
        conversation_id=cid,
        handover_id=h.id if h else None,
        ticket_id=ticket.id if ticket else None,
        detail=text,
    )
    return _done(request, cid, "noted", {"message_id": getattr(msg, "id", None)})


async def _transfer_target(
    request: web.Request, staff: StaffView, form
) -> tuple[Optional[str], Optional[int], Optional[str]]:
    """(node id, staff id, error) from the form, checked against what this member of staff may choose."""
    node_id = (form.get("node_id") or "").strip() or None
    staff_id = _int(form.get("staff_id"), 1)
    if _given(form, "staff_id") and staff_id is None:
        return None, None, "无权转交给该同事。"
    if not node_id and not staff_id:
        return None, None, "请选择要转交的服务节点或同事。"
    if node_id and node_id not in {n.id for n in store.transfer_nodes(staff)}:
        return None, None, "无权转交到该服务节点。"
    if staff_id:
        people = {p.id: p for p in await run(store.transfer_people, db_url(request), staff)}
        if staff_id not in people:
            return None, None, "无权转交给该同事。"
        if node_id and people[staff_id].node_id != node_id:
            return None, None, "所选同事不在所选服务节点。"
    return node_id, staff_id, None


@_conversation_action
async def transfer(request: web.Request, staff: StaffView, cid: str) -> web.Response:
    form = await request.post()
    h = await _open_handover(request, cid, form)
    if h is None:
        return await _failed(request, staff, cid, "该会话当前没有进行中的人工服务，无法转交。")
    if h.claimed_by not in (None, staff.id) and not staff.is_lead:
        return await _failed(request, staff, cid, "该会话由其他同事接待，只有接待人或节点负责人可以转交。", 403)
    node_id, staff_id, error = await _transfer_target(request, staff, form)
    if error:
        return await _failed(request, staff, cid, error, 400 if "请选择" in error else 403)
    before = h.node_id
    try:
        h = await gateway.transfer_handover(request.app, h.id, node_id, staff_id, staff.actor)
    except ho.HandoverError as exc:
        return await _failed(request, staff, cid, f"转交失败：{exc}")
    await audit(
        request,
        staff,
        "transfer",
        conversation_id=cid,
        handover_id=h.id,
        ticket_id=h.ticket_id,
        detail=f"{before} → {h.node_id}" + (f"，专员 {staff_id}" if staff_id else ""),
    )
    # the gateway announces the new node; staff of the old node must see the item leave their queue
    publish(request, {"type": "transferred", "conversation_id": cid, "handover_id": h.id, "node_id": before})
    if not staff.sees(h.node_id):
        if wants_json(request):
            return web.json_response({"ok": True, "message": DONE["transferred"], "left_scope": True})
        raise web.HTTPSeeOther("/console/?done=transferred")
    return _done(request, cid, "transferred")


@_conversation_action
async def end(request: web.Request, staff: StaffView, cid: str) -> web.Response:
    """End the handover: the gateway resumes Rasa, triggers the after-handover intent and
    delivers the bot's greeting and rating question to the user."""
    form = await request.post()
    h = await _open_handover(request, cid, form)
    if h is None:
        return await _failed(request, staff, cid, "该会话当前没有进行中的人工服务。")
    if h.claimed_by != staff.id and not staff.is_lead:
        return await _failed(request, staff, cid, "只有接待该会话的工作人员或节点负责人可以结束人工服务。", 403)
    try:
        h = await gateway.end_handover(request.app, h.id, staff.actor)
    except ho.HandoverError as exc:
        return await _failed(request, staff, cid, f"结束失败：{exc}")
    await audit(request, staff, "end", conversation_id=cid, handover_id=h.id, ticket_id=h.ticket_id)
    return _done(request, cid, "ended")


@_conversation_action
async def takeover(request: web.Request, staff: StaffView, cid: str) -> web.Response:
    """Take over from the bot (pauses Rasa), or claim the conversation's open handover."""
    try:
        h = await gateway.take_over(request.app, cid, staff)
    except ho.HandoverError as exc:
        return await _failed(request, staff, cid, f"接管失败：{exc}")
    await audit(request, staff, "takeover", conversation_id=cid, handover_id=h.id, ticket_id=h.ticket_id)
    return _done(request, cid, "takeover")


# ---- tickets -------------------------------------------------------------------------------------


def _scope_nodes(staff: StaffView):
    return [n for n in default_network().topological() if staff.all_nodes or n.id in staff.scope]


async def tickets_page(request: web.Request) -> web.Response:
    staff = current_staff(request)
    q = request.query
    filters = {
        "status": q.get("status", ""),
        "category": q.get("category", ""),
        "node": q.get("node", ""),
        "q": q.get("q", "").strip()[:100],
        "mine": "1" if q.get("mine") == "1" else "",
    }
    if filters["status"] and filters["status"] != "open" and filters["status"] not in lc.LABELS:
        filters["status"] = ""
    if filters["node"] and not staff.sees(filters["node"]):
        return await denied(request, staff, "该服务节点")
    try:
        page = _query_int(request, "page", "页码", 1, 1, MAX_PAGE)
    except BadParameter as exc:
        return _bad_parameter(request, staff, str(exc))
    rows, total = await run(
        store.tickets_page,
        db_url(request),
        staff,
        page=page,
        assignee_id=staff.id if filters["mine"] else None,
        **{k: v for k, v in filters.items() if k != "mine"},
    )
    return html(t.tickets_page(staff, rows, total, page, store.TICKET_PAGE, filters, _scope_nodes(staff)))


async def _ticket_scope(request: web.Request, staff: StaffView, number: str) -> Optional[web.Response]:
    exists, node = await run(store.ticket_node, db_url(request), number)
    if not exists:
        return not_found(request, staff, f"工单 {number}")
    if not staff.sees(node):
        return await denied(request, staff, "该工单")
    return None


async def _render_ticket(
    request: web.Request,
    staff: StaffView,
    number: str,
    flash: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    db = db_url(request)
    tv = await run(store.ticket_view, db, number)
    if tv is None:
        return not_found(request, staff, f"工单 {number}")

    tv.files = await run(file_store.for_ticket, db, tv.ticket.id)  # its attachments (bot/files)
    usernames = [ev.actor.split(":", 1)[1] for ev in tv.events if ev.actor.startswith("staff:")]
    by_id, names = await run(store.staff_names, db, history.staff_ids(tv.events), usernames)
    names = {**names, **by_id}  # actors by username, 接待专员 / 承办人 values by staff id
    people = await run(store.transfer_people, db, staff)
    return html(t.ticket_page(staff, tv, names, store.transfer_nodes(staff), people, flash, error), status)


@_ticket_action
async def ticket_page(request: web.Request, staff: StaffView, number: str) -> web.Response:
    return await _render_ticket(request, staff, number, flash=DONE.get(request.query.get("done", "")))


def _return_to(form, number: str) -> str:
    target = form.get("return_to") or ""
    if isinstance(target, str) and target.startswith("/console/") and "//" not in target and "\n" not in target:
        return target
    return f"/console/tickets/{quote(number, safe='')}"


async def _ticket_failed(request, staff, number: str, form, message: str, status: int = 409) -> web.Response:
    back = _return_to(form, number)
    if wants_json(request):
        return web.json_response({"ok": False, "message": message}, status=status)
    if back.startswith("/console/conversations/"):
        cid = back.rsplit("/", 1)[-1]
        exists, node = await run(store.conversation_node, db_url(request), cid)
        if exists and staff.sees(node):  # return_to is user input: never render out of scope
            return await _render_conversation(request, staff, cid, error=message, status=status)
    return await _render_ticket(request, staff, number, error=message, status=status)


def _ticket_done(request: web.Request, number: str, form, code: str) -> web.Response:
    if wants_json(request):
        return web.json_response({"ok": True, "message": DONE[code]})
    back = _return_to(form, number)
    raise web.HTTPSeeOther(f"{back}?done={code}")


@_ticket_action
async def ticket_status(request: web.Request, staff: StaffView, number: str) -> web.Response:
    form = await request.post()
    target = (form.get("target") or "").strip()
    reason = _text(form, "reason") or None
    if target == lc.RATED:
        return await _ticket_failed(request, staff, number, form, "「已评价」由企业评价后自动设置。", 400)
    if target == lc.RESOLVED:
        return await _ticket_failed(request, staff, number, form, "办结请在「办结…」中填写办理结果并确认。", 400)
    if target in lc.TEXT_REQUIRED and not reason:
        return await _ticket_failed(
            request, staff, number, form, f"请填写{lc.TEXT_REQUIRED[target]}（会告知企业）。", 400
        )
    try:
        ticket = await run(ticket_service(db_url(request)).transition, number, target, staff.actor, reason)
    except (lc.IllegalTransition, TicketError) as exc:
        return await _ticket_failed(request, staff, number, form, str(exc), 400)
    await audit(
        request,
        staff,
        "ticket_status",
        ticket_id=ticket.id,
        conversation_id=ticket.conversation_id,
        detail=f"{target}" + (f"：{reason}" if reason else ""),
    )
    return _ticket_done(request, number, form, "status")


def _amount(raw: Any) -> tuple[Optional[Decimal], Optional[str]]:
    raw = (raw if isinstance(raw, str) else "").strip().replace(",", "").replace("，", "").lstrip("¥￥")
    if not raw:
        return None, None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None, "兑现金额应为数字（元），如 120000.00。"
    if not value.is_finite() or value < 0 or value >= Decimal("1e12") or value != value.quantize(Decimal("0.01")):
        return None, "兑现金额应为 0 到 1 万亿元之间、最多两位小数的数。"
    return value, None


@_ticket_action
async def ticket_close(request: web.Request, staff: StaffView, number: str) -> web.Response:
    """办结 in two steps: the result (and 兑现金额) → a page showing what the enterprise will receive → 确认."""
    form = await request.post()
    result = _text(form, "result")
    amount, bad = _amount(form.get("redeemed_amount"))
    if len(result) < 2:
        return await _ticket_failed(request, staff, number, form, "办结时请填写办理结果（会告知企业）。", 400)
    if bad:
        return await _ticket_failed(request, staff, number, form, bad, 400)
    tv = await run(store.ticket_view, db_url(request), number)
    tk = tv.ticket
    try:
        lc.check_transition(tk.status, lc.RESOLVED)
        if amount is not None and tk.service_content != "政策兑现":
            raise lc.IllegalTransition("只有政策兑现类工单可以登记兑现金额")
    except lc.IllegalTransition as exc:
        return await _ticket_failed(request, staff, number, form, str(exc), 409)
    if form.get("confirm") != "1":
        svc = ticket_service(db_url(request))
        preview = None
        if tk.conversation_id:
            shown = SimpleNamespace(
                number=tk.number, category=tk.category, result=result, resolution_due=tk.resolution_due
            )
            preview = status_notice(shown, tk.status, lc.RESOLVED, staff.actor, result, svc.sla)[1]
        return html(
            t.close_confirm_page(
                staff, tk, result, "" if amount is None else str(amount), preview, _return_to(form, number)
            )
        )
    try:
        ticket = await run(
            ticket_service(db_url(request)).close,
            number,
            staff.actor,
            result,
            closer_id=staff.id,
            redeemed_amount=amount,
        )
    except (lc.IllegalTransition, TicketError) as exc:
        return await _ticket_failed(request, staff, number, form, str(exc), 409)
    await audit(
        request,
        staff,
        "ticket_close",
        ticket_id=ticket.id,
        conversation_id=ticket.conversation_id,
        detail=f"办结：{result}" + (f"；兑现金额 {amount}" if amount is not None else ""),
    )
    return _ticket_done(request, number, form, "closed")


@_ticket_action
async def ticket_reclassify(request: web.Request, staff: StaffView, number: str) -> web.Response:
    """New category and/or node; an explicit node must be one this member of staff may hand tickets to."""
    form = await request.post()
    category = (form.get("category") or "").strip()
    node_id = (form.get("node_id") or "").strip() or None
    reason = _text(form, "reason")[:200] or None
    if category not in BY_INTENT:
        return await _ticket_failed(request, staff, number, form, "请选择需求类别。", 400)
    if node_id and node_id not in {n.id for n in store.transfer_nodes(staff)}:
        return await _ticket_failed(request, staff, number, form, "无权转到该服务节点。", 403)
    try:
        ticket, left = await run(
            ticket_service(db_url(request)).reclassify, number, staff.actor, category, node_id, reason
        )
    except (TicketError, lc.IllegalTransition) as exc:
        return await _ticket_failed(request, staff, number, form, str(exc), 400)
    await audit(
        request,
        staff,
        "ticket_reclassify",
        ticket_id=ticket.id,
        detail=f"类别 {t.category_label(ticket.category)}，节点 {store.node_name(left or ticket.node_id)}"
        f" → {store.node_name(ticket.node_id)}" + (f"：{reason}" if reason else ""),
    )
    if not staff.sees(ticket.node_id):
        raise web.HTTPSeeOther("/console/tickets?done=reclassified")
    return _ticket_done(request, number, form, "reclassified")


@_ticket_action
async def ticket_note(request: web.Request, staff: StaffView, number: str) -> web.Response:
    form = await request.post()
    text = _text(form)
    if not text:
        return await _ticket_failed(request, staff, number, form, "备注内容不能为空。", 400)
    try:
        await run(ticket_service(db_url(request)).note, number, staff.actor, text, True)
    except TicketError as exc:
        return await _ticket_failed(request, staff, number, form, str(exc), 400)
    tv = await run(store.ticket_view, db_url(request), number)
    await audit(request, staff, "ticket_note", ticket_id=tv.ticket.id if tv else None, detail=text)
    return _ticket_done(request, number, form, "ticket_note")


@_ticket_action
async def ticket_assign(request: web.Request, staff: StaffView, number: str) -> web.Response:
    form = await request.post()
    node_id, staff_id, error = await _transfer_target(request, staff, form)
    if error:
        return await _ticket_failed(request, staff, number, form, error, 400 if "请选择" in error else 403)
    tv = await run(store.ticket_view, db_url(request), number)
    current = tv.ticket
    if staff_id and not node_id:
        person = await run(store.staff_row, db_url(request), staff_id)
        node_id = person.node_id if person else None
    moving = bool(node_id) and node_id != current.node_id
    assignee = staff_id if staff_id else (None if moving else current.assignee_id)
    try:
        ticket = await run(ticket_service(db_url(request)).assign, number, node_id, assignee, staff.actor)
    except (TicketError, lc.IllegalTransition) as exc:
        return await _ticket_failed(request, staff, number, form, str(exc), 400)
    await audit(
        request,
        staff,
        "ticket_assign",
        ticket_id=ticket.id,
        detail=f"{current.node_id} → {ticket.node_id}，承办人 {assignee or '无'}",
    )
    if not staff.sees(ticket.node_id):
        raise web.HTTPSeeOther("/console/tickets?done=assigned")
    return _ticket_done(request, number, form, "assigned")


# ---- reports -------------------------------------------------------------------------------------


def _month(request: web.Request) -> str:
    raw = request.query.get("month", "").strip()
    if raw:
        return raw[:7]
    return t.dt(now_of(request), "%Y-%m")


def _may_see_reports(staff: StaffView) -> bool:
    return staff.is_lead


async def reports_page(request: web.Request) -> web.Response:
    staff = current_staff(request)
    db, now = db_url(request), now_of(request)
    month = _month(request)
    lists = await run(dp.dispatch_lists, db, staff.node_filter(), now)
    error, summary = None, None
    if _may_see_reports(staff):
        try:
            parse_month(month)
        except ValueError as exc:
            error, month = str(exc), t.dt(now, "%Y-%m")
        if not staff.all_nodes:
            summary = await run(monthly_summary, db, month, now)
    return html(t.reports_page(staff, month, dp.dispatch_html(lists), now, _may_see_reports(staff), summary, error))


async def monthly_html(request: web.Request) -> web.Response:
    staff = current_staff(request)
    if not (_may_see_reports(staff) and staff.all_nodes):
        return await denied(request, staff, "全区月总结")
    month = _month(request)
    try:
        parse_month(month)
    except ValueError as exc:
        return html(t.error_page("月份有误", str(exc), staff), 400)
    summary = await run(monthly_summary, db_url(request), month, now_of(request))
    await audit(request, staff, "report_view", detail=f"monthly {month}")
    resp = html(to_html(summary))
    # the report page is self-contained: inline styles and SVG, no scripts at all
    resp.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
    )
    resp.headers["X-Frame-Options"] = "SAMEORIGIN"
    return resp


def _scoped_xlsx(summary, scope: set) -> bytes:
    """The month's node sheets (服务节点, 绩效) and 绩效评分 for the nodes of a lead's scope, in the report's layout."""
    from openpyxl import Workbook  # lazy: openpyxl adds 0.1 s to the desk; only the lead's Excel export needs it

    wb = Workbook()
    wb.remove(wb.active)
    node_sheets(wb, summary, scope)
    if summary.scorecard is not None:
        scorecard_sheet(wb, summary.scorecard, scope)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def monthly_xlsx(request: web.Request) -> web.Response:
    staff = current_staff(request)
    if not _may_see_reports(staff):
        return await denied(request, staff, "月总结")
    month = _month(request)
    try:
        parse_month(month)
    except ValueError as exc:
        return html(t.error_page("月份有误", str(exc), staff), 400)
    summary = await run(monthly_summary, db_url(request), month, now_of(request))
    if staff.all_nodes:
        buf = io.BytesIO()
        await run(to_xlsx, summary, buf)
        body, name = buf.getvalue(), f"月总结-{month}.xlsx"
    else:
        body, name = await run(_scoped_xlsx, summary, set(staff.scope)), f"月总结-{month}-{staff.node_id}.xlsx"
    await audit(request, staff, "report_export", detail=f"monthly {month} xlsx")
    return web.Response(
        body=body,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )
