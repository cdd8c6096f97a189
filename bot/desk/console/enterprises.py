"""一企一档 in the console: the list of enterprises, its xlsx export, and one page per enterprise.

GET  /console/enterprises                 list (filters: node, category, open, cert, q; 50 a page)
GET  /console/enterprises/export.xlsx     the same rows, every page, as a workbook
GET  /console/enterprises/{id}            the file: profile, contacts, tickets, visits, conversations,
                                          policy-check figures, pushes, ratings, amount redeemed, history
POST /console/enterprises/{id}/profile    edit the profile (CSRF by the console middleware)
POST /console/enterprises/{id}/contacts   add a contact person (no chat identity)
GET|POST /console/enterprises/new         a new file (its park / new city must be in the staff member's scope)
GET  /console/api/enterprises?q=          enterprises in scope by name / credit code (the visit form's search)

Scope: an enterprise belongs to its home node and to every node holding its tickets or visits
(bot/enterprises/__init__.py); staff see and edit the enterprises with a node in their scope, refused
others get the Chinese 403 page (audited as "denied"). The list and the export never leave the scope.
Every profile change and every export is in console_audit; a file's changes are shown on its page.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any, Optional
from urllib.parse import quote

from aiohttp import web

from bot import clock
from bot.desk.console import store, views
from bot.desk.console import templates as t
from bot.desk.console.auth import current_staff
from bot.desk.console.staff_view import StaffView
from bot.enterprises import file as ef
from bot.enterprises import listing
from bot.enterprises import profile as pf
from bot.enterprises.membership import home_node
from bot.logmask import mask
from bot.network import default_network
from bot.policy.profile import LABELS
from bot.taxonomy import BY_INTENT, CATEGORIES

BASE = "/console/enterprises"
MAX_Q = 100
DONE = {
    "saved": "企业档案已保存，修改已记入档案修改记录。",
    "unchanged": "没有需要保存的修改。",
    "contact": "已添加联系人。",
    "created": "企业档案已建立。",
    "visit": "入企服务已登记；提出的需求已生成工单，按分派规则交给受理节点。",
    "visit_partial": "入企服务已登记，但有需求未能生成工单，请在档案修改记录中核对后到工单页补录。",
}
PUSH_VALUES = {
    "trigger": {"window": "申报窗口开启", "new": "新政策发布"},
    "reason": {"profile": "企业数据符合条件", "need": "曾提出同类需求"},
}
CONTACT_CHANNELS = {**t.CHANNEL_LABELS, "console": "工作台录入"}
PUSH_COLUMNS = {
    "created_at": "推送时间",
    "policy_name": "政策",
    "trigger": "触发",
    "reason": "原因",
    "channel": "渠道",
    "sent_by": "发送方",
}
ACTION_LABELS = {
    "enterprise_edit": "修改档案",
    "enterprise_contact": "添加联系人",
    "visit_record": "登记入企服务",
    "enterprise_create": "新建企业档案",
}


# ---- scope ---------------------------------------------------------------------------------------


def _eid(request: web.Request) -> Optional[int]:
    return views._int(request.match_info.get("eid"), 1)


async def _scoped(request: web.Request, staff: StaffView) -> tuple[Optional[int], Optional[web.Response]]:
    """(enterprise id, None) when it exists and is in scope, else (None, the refusal)."""
    eid = _eid(request)
    nodes = await views.run(ef.nodes_of, views.db_url(request), eid) if eid is not None else None
    if nodes is None:
        return None, views.not_found(request, staff, "该企业档案")
    if not any(staff.sees(n) for n in nodes):
        return None, await views.denied(request, staff, "该企业档案")
    return eid, None


def _filters(request: web.Request, staff: StaffView) -> listing.Filters:
    q = request.query
    node = q.get("node", "").strip()[:64]
    if node and not staff.sees(node):
        raise views.BadParameter(f"服务节点“{node}”不在您的服务范围内。")
    category = q.get("category", "").strip()
    if category and category not in BY_INTENT:
        raise views.BadParameter("参数 category（需求类别）不是已知的需求类别。")
    cert = q.get("cert", "").strip()
    if cert and cert not in pf.CERTIFICATIONS:
        raise views.BadParameter("参数 cert（资质认定）不是已知的资质。")
    text = re.sub(r"[%_\\]", "", q.get("q", "").replace("\x00", "").strip())[:MAX_Q]
    return listing.Filters(node=node, category=category, open_only=q.get("open") == "1", cert=cert, q=text)


def _nodes_in_scope(staff: StaffView) -> list:
    return [n for n in default_network().topological() if staff.sees(n.id)]


# ---- the list ------------------------------------------------------------------------------------


def list_page(staff: StaffView, rows, total: int, page: int, f: listing.Filters, error: str | None = None) -> str:
    return t.render(
        "console/enterprises.html",
        "企业档案",
        staff,
        page="enterprises",
        error=error,
        base=BASE,
        rows=rows,
        total=total,
        f=f,
        current=page,
        pages=max(1, -(-total // listing.PAGE)),
        max_q=MAX_Q,
        prev_qs=t.qs(**f.query(), page=page - 1),
        next_qs=t.qs(**f.query(), page=page + 1),
        export_qs=t.qs(**f.query()),
        node_opts=[(n.id, n.name) for n in _nodes_in_scope(staff)],
        cat_opts=[(c.intent, f"{c.content} · {c.name}") for c in CATEGORIES],
        cert_opts=list(pf.CERTIFICATIONS.items()),
        certs_label=pf.certs_label,
    )


async def list_route(request: web.Request) -> web.Response:
    staff = current_staff(request)
    try:
        f = _filters(request, staff)
        page = views._query_int(request, "page", "页码", 1, 1, views.MAX_PAGE)
    except views.BadParameter as exc:
        return views._bad_parameter(request, staff, str(exc))
    rows, total = await views.run(listing.page, views.db_url(request), staff.node_filter(), f, page)
    return views.html(list_page(staff, rows, total, page, f))


async def export_route(request: web.Request) -> web.Response:
    staff = current_staff(request)
    try:
        f = _filters(request, staff)
    except views.BadParameter as exc:
        return views._bad_parameter(request, staff, str(exc))
    db, now = views.db_url(request), views.now_of(request)
    rows = await views.run(listing.export_rows, db, staff.node_filter(), f)
    names = (
        {n.id: n.name for n in _nodes_in_scope(staff)} if not staff.all_nodes else {n.id: n.name for n in _all_nodes()}
    )
    title = "企业档案" + ("" if staff.all_nodes else f"（{store.node_name(staff.node_id)}及下属节点）")
    data = await views.run(listing.to_xlsx, rows, names, title, now)
    await views.audit(
        request,
        staff,
        "enterprise_export",
        detail=f"导出企业档案 {len(rows)} 家；筛选：{json.dumps(f.query(), ensure_ascii=False)}",
    )
    filename = f"enterprises-{t.dt(now, '%Y%m%d-%H%M')}.xlsx"
    return web.Response(
        body=data,
        headers={
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Content-Disposition": f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote('企业档案')}.xlsx",
            "Cache-Control": "no-store",
        },
    )


def _all_nodes():
    return list(default_network())


async def api_search(request: web.Request) -> web.Response:
    """Up to 10 enterprises in scope whose name or credit code contains `q` (two characters at least)."""
    staff = current_staff(request)
    raw = re.sub(r"[%_\\]", "", request.query.get("q", "").replace("\x00", "").strip())[:MAX_Q]
    if len(raw) < 2:
        return web.json_response({"items": []})
    rows, _ = await views.run(listing.page, views.db_url(request), staff.node_filter(), listing.Filters(q=raw), 1, 10)
    return web.json_response(
        {
            "items": [
                {
                    "id": r.id,
                    "name": r.name,
                    "credit_code": r.credit_code or "",
                    "new_city": r.new_city or "",
                    "park": r.park or "",
                    "node": store.node_name(r.home_node),
                }
                for r in rows
            ]
        }
    )


# ---- the file ------------------------------------------------------------------------------------


def _profile_form(ent, values: Optional[dict] = None, problems: Optional[dict] = None) -> SimpleNamespace:
    """What the profile_form macro (console/enterprise_form.html) shows: the submitted values, else the stored."""
    values = values or {}

    def val(field):
        if field in values:
            return values[field]
        v = getattr(ent, field)
        if v is None:
            return ""
        return v.isoformat() if hasattr(v, "isoformat") else str(v)

    return SimpleNamespace(
        val=val,
        problems=problems or {},
        version=values.get("version", pf.version(ent)),
        have=set(values.get("certifications_list", pf.certs_of(ent.certifications))),
    )


def _render(template: str, title: str, staff: StaffView, **context) -> str:
    return t.render(
        template,
        title,
        staff,
        page="enterprises",
        base=BASE,
        FIELDS=pf.FIELDS,
        NEW_CITIES=pf.NEW_CITIES,
        CERTIFICATIONS=pf.CERTIFICATIONS,
        **context,
    )


def _figures(f: ef.EnterpriseFile) -> list[tuple[str, Any, str]]:
    """(label, value, "time via") of the figures the enterprise gave in a 政策体检."""
    rows = []
    for key, value in (f.figures or {}).items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value
        src = f.figure_sources.get(key) if isinstance(f.figure_sources, dict) else None
        via = ""
        if isinstance(src, dict):
            via = f"{(src.get('at') or '')[:16].replace('T', ' ')} {src.get('via') or ''}"
        rows.append((LABELS.get(key, key), shown, via))
    return rows


def _push_columns(f: ef.EnterpriseFile) -> list[str]:
    if not f.pushes:
        return []
    known = [c for c in PUSH_COLUMNS if c in f.pushes[0]]
    return known or [c for c in f.pushes[0] if c not in ("id", "enterprise_id")][:6]


def _push_cell(c: str, v):
    if hasattr(v, "astimezone"):
        return t.dt(v)
    if c == "sent_by" and isinstance(v, str):
        return "系统定时推送" if v == "system" else f"{v.split(':', 1)[-1]}（立即推送）"
    if c == "channel":
        return t.CHANNEL_LABELS.get(v, v)
    return PUSH_VALUES.get(c, {}).get(v, v)


def file_page(
    staff: StaffView,
    f: ef.EnterpriseFile,
    names: dict,
    flash: str | None = None,
    error: str | None = None,
    values: Optional[dict] = None,
    problems: Optional[dict] = None,
) -> str:
    """The file (template console/enterprise.html); contacts listed once per name and mobile."""
    ent = f.enterprise
    info = [
        ("统一社会信用代码", ent.credit_code),
        ("所在新城", f"{ent.new_city}新城" if ent.new_city else None),
        ("所在园区", ent.park),
        ("属地节点", store.node_name(f.home_node)),
        ("服务节点", "、".join(store.node_name(n) for n in sorted(f.nodes))),
        ("所属行业", ent.industry),
        ("地址", ent.address),
        ("成立日期", ent.registered_on.isoformat() if ent.registered_on else None),
        ("职工人数", ent.employees),
        ("科技人员数", ent.tech_staff),
        ("上年营业收入", pf.display("revenue", ent.revenue) if ent.revenue is not None else None),
        ("上年研发投入", pf.display("rd_expense", ent.rd_expense) if ent.rd_expense is not None else None),
        ("资质认定", pf.certs_label(ent.certifications)),
        ("备注", ent.notes),
        ("建档时间", t.dt(ent.created_at)),
        ("最近修改", t.dt(ent.updated_at)),
    ]
    seen, contacts = set(), []
    for c in f.contacts:
        if (c.name, c.mobile) not in seen:
            seen.add((c.name, c.mobile))
            contacts.append(c)
    return _render(
        "console/enterprise.html",
        ent.name,
        staff,
        flash=flash,
        error=error,
        f=f,
        info=info,
        contacts=contacts,
        certs=pf.certs_of(ent.certifications),
        form=_profile_form(ent, values, problems),
        figures=_figures(f) if f.figures else [],
        push_cols=_push_columns(f),
        push_cell=_push_cell,
        ticket_ratings=[(tk, score, comment, at) for tk in f.tickets for score, comment, at in tk.ratings],
        quote=lambda s: quote(s, safe=""),
        actor_label=lambda actor: t.actor_label(actor, names),
        CONTACT_CHANNELS=CONTACT_CHANNELS,
        PUSH_COLUMNS=PUSH_COLUMNS,
        ACTION_LABELS=ACTION_LABELS,
    )


async def _render_file(request: web.Request, staff: StaffView, eid: int, status: int = 200, **kw) -> web.Response:
    db = views.db_url(request)
    f = await views.run(ef.load, db, eid)
    if f is None:
        return views.not_found(request, staff, "该企业档案")
    names = await views.run(
        ef.staff_names, db, [h.actor.split(":", 1)[1] for h in f.history if h.actor.startswith("staff:")]
    )
    return views.html(file_page(staff, f, names, **kw), status)


async def file_route(request: web.Request) -> web.Response:
    staff = current_staff(request)
    eid, refused = await _scoped(request, staff)
    if refused is not None:
        return refused
    return await _render_file(request, staff, eid, flash=DONE.get(request.query.get("done", "")))


async def profile_route(request: web.Request) -> web.Response:
    staff = current_staff(request)
    eid, refused = await _scoped(request, staff)
    if refused is not None:
        return refused
    form = await request.post()
    certs = [c for c in form.getall("certifications", []) if isinstance(c, str)]
    raw = {k: (form.get(k) if isinstance(form.get(k), str) else "") for k in pf.FIELDS if k != "certifications"}
    try:
        values = pf.parse_form(raw, certs, today=clock.today(views.now_of(request)))
        seen = form.get("version")
        changes = await views.run(
            pf.apply_edit,
            views.db_url(request),
            eid,
            values,
            expected_version=seen if isinstance(seen, str) else None,
            clock=lambda: views.now_of(request),
        )
    except pf.StaleEdit as exc:
        return await _render_file(request, staff, eid, 409, error=str(exc))
    except pf.ProfileError as exc:
        shown = {**{k: v[:300] for k, v in raw.items()}, "certifications_list": certs}
        return await _render_file(
            request, staff, eid, 400, error="档案未保存：" + str(exc), values=shown, problems=exc.problems
        )
    except LookupError:
        return views.not_found(request, staff, "该企业档案")
    if not changes:
        raise web.HTTPSeeOther(f"{BASE}/{eid}?done=unchanged")
    await views.audit(
        request, staff, "enterprise_edit", detail=ef.audit_tag(eid) + "；".join(c.line() for c in changes)
    )
    raise web.HTTPSeeOther(f"{BASE}/{eid}?done=saved")


async def contact_route(request: web.Request) -> web.Response:
    staff = current_staff(request)
    eid, refused = await _scoped(request, staff)
    if refused is not None:
        return refused
    form = await request.post()
    name, mobile = form.get("contact_name"), form.get("contact_mobile")
    try:
        _, name, mobile = await views.run(
            pf.add_contact,
            views.db_url(request),
            eid,
            name if isinstance(name, str) else "",
            mobile if isinstance(mobile, str) else None,
            clock=lambda: views.now_of(request),
        )
    except pf.ProfileError as exc:
        return await _render_file(request, staff, eid, 400, error="联系人未添加：" + str(exc))
    except LookupError:
        return views.not_found(request, staff, "该企业档案")
    await views.audit(
        request,
        staff,
        "enterprise_contact",
        detail=ef.audit_tag(eid) + f"添加联系人：{name}" + (f" {mask(mobile)}" if mobile else ""),
    )
    raise web.HTTPSeeOther(f"{BASE}/{eid}?done=contact")


# ---- a new file -----------------------------------------------------------------------------------


def _blank(staff: StaffView):
    """An empty profile, placed at the staff member's own park or new city by default."""
    node = default_network().get(staff.node_id)
    blank = SimpleNamespace(id=0, created_at=None, updated_at=None, **{f: None for f in pf.FIELDS})
    if node is not None:
        blank.new_city, blank.park = node.new_city, node.park
    return blank


def new_page(
    staff: StaffView, values: Optional[dict] = None, problems: Optional[dict] = None, error: Optional[str] = None
) -> str:
    return _render(
        "console/enterprise_new.html",
        "新建企业档案",
        staff,
        error=error,
        form=_profile_form(_blank(staff), values, problems),
    )


async def new_route(request: web.Request) -> web.Response:
    return views.html(new_page(current_staff(request)))


async def create_route(request: web.Request) -> web.Response:
    staff = current_staff(request)
    form = await request.post()
    certs = [c for c in form.getall("certifications", []) if isinstance(c, str)]
    raw = {k: (form.get(k) if isinstance(form.get(k), str) else "") for k in pf.FIELDS if k != "certifications"}
    shown = {**{k: v[:300] for k, v in raw.items()}, "certifications_list": certs}
    try:
        values = pf.parse_form(raw, certs, today=clock.today(views.now_of(request)))
        home = home_node(values.get("new_city"), values.get("park"))
        if not staff.sees(home):
            raise pf.ProfileError({"park": f"所填园区/新城属于“{store.node_name(home)}”，不在您的服务范围内"})
        eid = await views.run(pf.create_enterprise, views.db_url(request), values, clock=lambda: views.now_of(request))
    except pf.ProfileError as exc:
        return views.html(new_page(staff, shown, exc.problems, error="档案未建立：" + str(exc)), 400)
    await views.audit(
        request,
        staff,
        "enterprise_create",
        detail=ef.audit_tag(eid) + f"新建企业档案：{values['name']}（属地 {store.node_name(home)}）",
    )
    raise web.HTTPSeeOther(f"{BASE}/{eid}?done=created")


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(BASE, list_route)
    r.add_get(f"{BASE}/export.xlsx", export_route)
    r.add_get(f"{BASE}/new", new_route)
    r.add_post(f"{BASE}/new", create_route)
    r.add_get(BASE + r"/{eid:\d+}", file_route)
    r.add_post(BASE + r"/{eid:\d+}/profile", profile_route)
    r.add_post(BASE + r"/{eid:\d+}/contacts", contact_route)
    r.add_get("/console/api/enterprises", api_search)
    t.register_nav("enterprises", BASE, "企业档案")
