"""入企服务 in the console: record an on-site visit (phone-sized screens too) and list a month's visits.

GET  /console/visits?month=YYYY-MM&node=   the visits of the nodes in the member of staff's scope
GET  /console/visits/new?enterprise=<id>   the form: enterprise (search, or a new one by name / credit code),
                                           date and time, node, everyone who went, the enterprise's people met,
                                           what was found, the needs raised
POST /console/visits                       records it (bot/visits.py); each need becomes a ticket through
                                           the ordinary ticket service (routed by the rules, channel 入企服务,
                                           linked to the visit), shown in the enterprise's file

Scope: the visit's node must be in the staff member's scope, the people who went are colleagues they may
assign work to (bot/desk/console/store.transfer_people), a chosen enterprise must be one they can see. An
enterprise typed by name or credit code that already exists is used as it is (not changed); a new one is
created with the place given. The visit and any new enterprise are audited in console_audit under the
enterprise's file (bot/enterprises/file.audit_tag).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Optional

from aiohttp import web

from bot import visits as vs
from bot.db import read_sessions
from bot.db.schema import Enterprise
from bot.desk.console import store, views
from bot.desk.console import templates as t
from bot.desk.console.auth import current_staff
from bot.desk.console.staff_view import StaffView
from bot.enterprises import file as ef
from bot.enterprises import profile as pf
from bot.network import default_network
from bot.reports import parse_month
from bot.taxonomy import BY_INTENT, CATEGORIES
from bot.tickets.service import TicketError, normalise_mobile
from bot.visits import list_visits

BASE = "/console/visits"
MAX_NEEDS = 5
MAX_TEXT = 2000


@dataclass
class Need:
    category: str = ""
    description: str = ""


@dataclass
class VisitForm:
    enterprise_id: Optional[int] = None
    enterprise_label: str = ""
    name: str = ""
    credit_code: str = ""
    new_city: str = ""
    park: str = ""
    node_id: str = ""
    day: str = ""
    at: str = ""
    participants: list[int] = field(default_factory=list)
    hosts: str = ""
    mobile: str = ""
    findings: str = ""
    needs: list[Need] = field(default_factory=list)


def _nodes(staff: StaffView) -> list:
    """Nodes a visit may be recorded for: the staff member's own node; leads and admins, their scope."""
    net = default_network()
    if staff.is_lead:
        return [n for n in net.topological() if n.active and staff.sees(n.id)]
    return [n for n in net.topological() if n.id == staff.node_id]


def _clean(value, limit: int) -> str:
    return (value if isinstance(value, str) else "").replace("\x00", "").strip()[:limit]


# ---- the form ------------------------------------------------------------------------------------


def form_page(staff: StaffView, v: VisitForm, nodes, people, error: Optional[str] = None) -> str:
    """The form (template console/visit_form.html): always MAX_NEEDS need rows, those not given empty."""
    needs = (v.needs + [Need() for _ in range(MAX_NEEDS - len(v.needs))])[:MAX_NEEDS]
    return t.render(
        "console/visit_form.html",
        "登记入企服务",
        staff,
        page="visits",
        error=error,
        base=BASE,
        v=v,
        nodes=nodes,
        people=people,
        needs=needs,
        new_cities=pf.NEW_CITIES,
        max_text=MAX_TEXT,
        categories=[(c.intent, f"{c.content} · {c.name}") for c in CATEGORIES],
    )


async def new_route(request: web.Request) -> web.Response:
    staff = current_staff(request)
    db, now = views.db_url(request), views.now_of(request)
    v = VisitForm(node_id=staff.node_id, day=t.dt(now, "%Y-%m-%d"), at=t.dt(now, "%H:%M"), participants=[staff.id])
    if request.query.get("enterprise"):
        eid = views._int(request.query.get("enterprise"), 1)
        nodes = await views.run(ef.nodes_of, db, eid) if eid else None
        if nodes is None:
            return views.not_found(request, staff, "该企业档案")
        if not any(staff.sees(n) for n in nodes):
            return await views.denied(request, staff, "该企业档案")
        v.enterprise_id, v.enterprise_label = eid, await views.run(_enterprise_name, db, eid)
    people = await views.run(store.transfer_people, db, staff)
    return views.html(form_page(staff, v, _nodes(staff), _with_self(people, staff, db)))


def _enterprise_name(db: str, eid: int) -> str:
    with read_sessions(db)() as s:
        ent = s.get(Enterprise, eid)
        return ent.name if ent is not None else ""


def _with_self(people, staff: StaffView, db: str):
    if any(p.id == staff.id for p in people):
        return people
    me = store.staff_row(db, staff.id)
    return ([me] if me is not None else []) + list(people)


def _read_form(form) -> VisitForm:
    v = VisitForm(
        enterprise_id=views._int(form.get("enterprise_id"), 1) if views._given(form, "enterprise_id") else None,
        name=_clean(form.get("enterprise_name"), 128),
        credit_code=_clean(form.get("credit_code"), 24),
        new_city=_clean(form.get("new_city"), 16),
        park=_clean(form.get("park"), 128),
        node_id=_clean(form.get("node_id"), 64),
        day=_clean(form.get("day"), 10),
        at=_clean(form.get("at"), 5),
        hosts=_clean(form.get("hosts"), 128),
        mobile=_clean(form.get("mobile"), 20),
        findings=_clean(form.get("findings"), MAX_TEXT),
    )
    v.participants = [i for i in (views._int(p, 1) for p in form.getall("participants", [])) if i is not None]
    for i in range(1, MAX_NEEDS + 1):
        cat, text = _clean(form.get(f"need_category_{i}"), 64), _clean(form.get(f"need_text_{i}"), MAX_TEXT)
        if cat or text:
            v.needs.append(Need(cat, text))
    return v


def _check(v: VisitForm, nodes, people_ids: set, now: datetime) -> tuple[Optional[str], Optional[datetime]]:
    """(error, visit time)."""
    if v.enterprise_id is None and len(v.name) < 2:
        return "请选择已有企业，或填写企业名称新建。", None
    if v.new_city and v.new_city not in pf.NEW_CITIES:
        return "所在新城不在可选范围内。", None
    if v.node_id not in {n.id for n in nodes}:
        return "走访节点不在您可登记的范围内。", None
    try:
        when = datetime.combine(
            datetime.strptime(v.day, "%Y-%m-%d").date(), time.fromisoformat(v.at or "00:00")
        ).replace(tzinfo=t.BEIJING)
    except ValueError:
        return "请填写正确的走访日期和时间。", None
    if not v.participants:
        return "请至少选择一位走访人员。", None
    if not set(v.participants) <= people_ids:
        return "走访人员只能从本节点（及您负责的节点）的同事中选择。", None
    for i, n in enumerate(v.needs, 1):
        if n.category not in BY_INTENT:
            return f"需求 {i}：请选择需求类别。", None
        if len(n.description) < 2:
            return f"需求 {i}：请填写需求描述。", None
    return None, when


async def record_route(request: web.Request) -> web.Response:
    staff = current_staff(request)
    db, now = views.db_url(request), views.now_of(request)
    form = await request.post()
    v = _read_form(form)
    nodes = _nodes(staff)
    people = _with_self(await views.run(store.transfer_people, db, staff), staff, db)

    async def again(message: str, status: int = 400) -> web.Response:
        if v.enterprise_id:
            v.enterprise_label = await views.run(_enterprise_name, db, v.enterprise_id)
        return views.html(form_page(staff, v, nodes, people, error=message), status)

    if views._given(form, "enterprise_id") and v.enterprise_id is None:
        return await again("所选企业无效，请重新选择。")
    if v.enterprise_id is not None:
        ent_nodes = await views.run(ef.nodes_of, db, v.enterprise_id)
        if ent_nodes is None:
            return views.not_found(request, staff, "该企业档案")
        if not any(staff.sees(n) for n in ent_nodes):
            return await views.denied(request, staff, "该企业档案")
    error, when = _check(v, nodes, {p.id for p in people}, now)
    if error is None and v.mobile:
        try:
            v.mobile = normalise_mobile(v.mobile)
        except TicketError as exc:
            error = str(exc)
    if error is not None:
        return await again(error)
    created = False
    try:
        if v.enterprise_id is None:
            v.enterprise_id, created = await views.run(
                vs.visit_enterprise,
                db,
                name=v.name,
                credit_code=v.credit_code or None,
                new_city=v.new_city or None,
                park=v.park or None,
            )
        visit = await views.run(
            vs.record_visit,
            db,
            v.enterprise_id,
            None,
            v.node_id,
            when,
            v.findings,
            participants=v.participants,
            recorded_by=staff.id,
            hosts=v.hosts or None,
            clock=lambda: now,
        )
    except vs.VisitError as exc:
        return await again(str(exc))
    tag = ef.audit_tag(v.enterprise_id)
    if created:
        await views.audit(
            request,
            staff,
            "enterprise_create",
            detail=tag + f"入企服务时新建企业档案：{v.name}" + (f"（{v.credit_code}）" if v.credit_code else ""),
        )
    numbers, problems = [], []
    svc = views.ticket_service(db)
    for n in v.needs:
        try:
            result = await views.run(
                vs.raise_ticket_from_visit,
                db,
                visit.id,
                n.category,
                n.description,
                contact_name=v.hosts or None,
                mobile=v.mobile or None,
                actor=staff.actor,
                service=svc,
            )
            numbers.append(result.ticket.number + ("（并入已有工单）" if result.linked else ""))
        except (TicketError, vs.VisitError) as exc:
            problems.append(f"{t.category_label(n.category)}：{exc}")
    by_id = {p.id: p.display_name for p in people}
    detail = (
        f"登记入企服务（走访记录 {visit.id}）：{t.dt(when)}，{store.node_name(v.node_id)}，"
        f"走访人员 {'、'.join(by_id.get(i, str(i)) for i in v.participants)}；"
        f"提出需求 {len(v.needs)} 条"
        + (f"：{'、'.join(numbers)}" if numbers else "")
        + (f"；未能生成工单：{'；'.join(problems)}" if problems else "")
    )
    await views.audit(request, staff, "visit_record", detail=tag + detail)
    if problems:
        flash = "visit_partial"
    else:
        flash = "visit"
    raise web.HTTPSeeOther(f"/console/enterprises/{v.enterprise_id}?done={flash}")


# ---- the list ------------------------------------------------------------------------------------


def list_page(staff: StaffView, rows, month: str, node: str, nodes, error: Optional[str] = None) -> str:
    return t.render(
        "console/visits.html",
        "入企服务",
        staff,
        page="visits",
        error=error,
        base=BASE,
        rows=rows,
        month=month,
        node=node,
        nodes=nodes,
        enterprises=len({r.enterprise_id for r in rows}),
        tickets=sum(len(r.tickets) for r in rows),
    )


async def list_route(request: web.Request) -> web.Response:
    staff = current_staff(request)
    db = views.db_url(request)
    month = views._month(request)
    try:
        parse_month(month)
    except ValueError as exc:
        return views._bad_parameter(request, staff, str(exc))
    node = request.query.get("node", "").strip()[:64]
    if node and not staff.sees(node):
        return await views.denied(request, staff, "该服务节点")
    if node and node not in default_network():
        return views._bad_parameter(request, staff, f"服务节点“{node}”不存在。")
    rows = await views.run(list_visits, db, month=month, node_id=node or None, node_ids=staff.node_filter())
    nodes = [n for n in default_network().topological() if staff.sees(n.id)]
    return views.html(list_page(staff, rows, month, node, nodes))


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(BASE, list_route)
    r.add_get(f"{BASE}/new", new_route)
    r.add_post(BASE, record_route)
    t.register_nav("visits", BASE, "入企服务")
