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
from typing import Optional
from urllib.parse import quote

from aiohttp import web

from bot.desk.console import store, templates as t, views
from bot.desk.console.auth import StaffView, current_staff
from bot.enterprises import file as ef
from bot.enterprises import listing
from bot.enterprises import profile as pf
from bot.taxonomy import BY_INTENT, CATEGORIES

e = t.e
BASE = "/console/enterprises"
MAX_Q = 100
DONE = {"saved": "企业档案已保存，修改已记入档案修改记录。", "unchanged": "没有需要保存的修改。",
        "contact": "已添加联系人。", "created": "企业档案已建立。",
        "visit": "入企服务已登记；提出的需求已生成工单，按分派规则交给受理节点。",
        "visit_partial": "入企服务已登记，但有需求未能生成工单，请在档案修改记录中核对后到工单页补录。"}
PUSH_VALUES = {"trigger": {"window": "申报窗口开启", "new": "新政策发布"},
               "reason": {"profile": "企业数据符合条件", "need": "曾提出同类需求"}}
CONTACT_CHANNELS = {**t.CHANNEL_LABELS, "console": "工作台录入"}
PUSH_COLUMNS = {"created_at": "推送时间", "policy_name": "政策", "trigger": "触发", "reason": "原因",
                "channel": "渠道", "sent_by": "发送方"}
ACTION_LABELS = {"enterprise_edit": "修改档案", "enterprise_contact": "添加联系人", "visit_record": "登记入企服务", "enterprise_create": "新建企业档案"}


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
    from bot.network import default_network

    return [n for n in default_network().topological() if staff.sees(n.id)]


# ---- the list ------------------------------------------------------------------------------------

def _select(name: str, options, current: str, blank: str) -> str:
    opts = "".join(f'<option value="{e(v)}"{" selected" if v == current else ""}>{e(label)}</option>'
                   for v, label in options)
    return f'<select name="{e(name)}" aria-label="{e(blank)}"><option value="">{e(blank)}</option>{opts}</select>'


def list_page(staff: StaffView, rows, total: int, page: int, f: listing.Filters, error: str | None = None) -> str:
    node_opts = [(n.id, n.name) for n in _nodes_in_scope(staff)]
    cat_opts = [(c.intent, f"{c.content} · {c.name}") for c in CATEGORIES]
    form = f"""<form method="get" action="{BASE}" class="filters" id="enterprise-filters">
<input name="q" value="{e(f.q)}" placeholder="企业名称 / 信用代码" maxlength="{MAX_Q}" aria-label="企业名称或信用代码">
{_select('node', node_opts, f.node, '全部节点（我的范围）')}
{_select('category', cat_opts, f.category, '全部需求类别')}
{_select('cert', list(pf.CERTIFICATIONS.items()), f.cert, '全部资质')}
<label class="check"><input type="checkbox" name="open" value="1"{' checked' if f.open_only else ''}> 有在办工单</label>
<button type="submit">筛选</button><a href="{BASE}">清除</a></form>"""
    body_rows = "".join(f"""<tr data-enterprise="{r.id}"><td class="l"><a href="{BASE}/{r.id}">{e(r.name)}</a>
<small>{e(r.credit_code or '')}</small></td>
<td>{e(store.node_name(r.home_node))}</td><td>{e(r.industry or '')}</td>
<td>{e(pf.certs_label(r.certifications))}</td><td>{r.tickets}</td><td>{r.open_tickets}</td><td>{r.visits}</td>
<td>{e(t.dt(r.last_visit, '%Y-%m-%d'))}</td><td>¥{r.redeemed:,.2f}</td></tr>""" for r in rows) \
        or '<tr class="empty"><td colspan="9">没有符合条件的企业。</td></tr>'
    pages = max(1, -(-total // listing.PAGE))
    nav = ""
    if pages > 1:
        prev = f'<a href="{BASE}?{e(t.qs(**f.query(), page=page - 1))}">上一页</a>' if page > 1 else ""
        nxt = f'<a href="{BASE}?{e(t.qs(**f.query(), page=page + 1))}" id="next-page">下一页</a>' if page < pages else ""
        nav = f'<div class="pager">{prev}<span>第 {page} / {pages} 页</span>{nxt}</div>'
    export = f'{BASE}/export.xlsx?{e(t.qs(**f.query()))}'
    body = f"""<section class="card"><div class="head"><h1>企业档案 <span class="count">{total}</span></h1>
<span><a href="/console/visits/new" class="button">登记入企服务</a> <a href="{BASE}/new" id="new-enterprise">新建档案</a>
<a href="{export}" id="export">导出 Excel</a></span></div>
{form}
<div class="scroll"><table class="grid enterprises"><thead><tr><th>企业</th><th>属地节点</th><th>行业</th><th>资质</th>
<th>工单</th><th>在办</th><th>入企服务</th><th>最近走访</th><th>兑现金额</th></tr></thead>
<tbody>{body_rows}</tbody></table></div>{nav}
<p class="muted">列出属地（园区或新城）在您服务范围内，或在您范围内的节点有工单、走访记录的企业。</p></section>"""
    return t.layout("企业档案", body, staff, page="enterprises", error=error)


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
    names = {n.id: n.name for n in _nodes_in_scope(staff)} if not staff.all_nodes else \
        {n.id: n.name for n in _all_nodes()}
    title = "企业档案" + ("" if staff.all_nodes else f"（{store.node_name(staff.node_id)}及下属节点）")
    data = await views.run(listing.to_xlsx, rows, names, title, now)
    await views.audit(request, staff, "enterprise_export",
                      detail=f"导出企业档案 {len(rows)} 家；筛选：{json.dumps(f.query(), ensure_ascii=False)}")
    filename = f"enterprises-{t.dt(now, '%Y%m%d-%H%M')}.xlsx"
    return web.Response(body=data, headers={
        "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Content-Disposition": f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote('企业档案')}.xlsx",
        "Cache-Control": "no-store"})


def _all_nodes():
    from bot.network import default_network

    return list(default_network())


async def api_search(request: web.Request) -> web.Response:
    """Up to 10 enterprises in scope whose name or credit code contains `q` (two characters at least)."""
    staff = current_staff(request)
    raw = re.sub(r"[%_\\]", "", request.query.get("q", "").replace("\x00", "").strip())[:MAX_Q]
    if len(raw) < 2:
        return web.json_response({"items": []})
    rows, _ = await views.run(listing.page, views.db_url(request), staff.node_filter(), listing.Filters(q=raw), 1, 10)
    return web.json_response({"items": [
        {"id": r.id, "name": r.name, "credit_code": r.credit_code or "", "new_city": r.new_city or "",
         "park": r.park or "", "node": store.node_name(r.home_node)} for r in rows]})


# ---- the file ------------------------------------------------------------------------------------

def _kv(pairs) -> str:
    return "".join(f"<dt>{e(k)}</dt><dd>{v if isinstance(v, Markup) else e(v if v not in (None, '') else '—')}</dd>"
                   for k, v in pairs)


class Markup(str):
    """Already-escaped HTML for _kv."""


def _profile_form(staff: StaffView, ent, values: Optional[dict] = None, problems: Optional[dict] = None,
                  action: Optional[str] = None, submit: str = "保存档案") -> str:
    values = values or {}
    problems = problems or {}

    def val(field):
        if field in values:
            return values[field]
        v = getattr(ent, field)
        if v is None:
            return ""
        return v.isoformat() if hasattr(v, "isoformat") else str(v)

    def row(field, attrs=""):
        label = pf.FIELDS[field][0]
        err = f'<span class="err">{e(problems[field])}</span>' if field in problems else ""
        return f'<label>{e(label)}<input name="{field}" value="{e(val(field))}" {attrs}>{err}</label>'

    city = val("new_city")
    city_opts = "".join(f'<option value="{c}"{" selected" if c == city else ""}>{c}新城</option>' for c in pf.NEW_CITIES)
    have = set(values.get("certifications_list", pf.certs_of(ent.certifications)))
    certs = "".join(f'<label class="check"><input type="checkbox" name="certifications" value="{c}"'
                    f'{" checked" if c in have else ""}> {e(label)}</label>' for c, label in pf.CERTIFICATIONS.items())
    cert_err = f'<span class="err">{e(problems["certifications"])}</span>' if "certifications" in problems else ""
    city_err = f'<span class="err">{e(problems["new_city"])}</span>' if "new_city" in problems else ""
    notes_err = f'<span class="err">{e(problems["notes"])}</span>' if "notes" in problems else ""
    return f"""<form method="post" action="{action or f'{BASE}/{ent.id}/profile'}" class="stack profile-form" id="profile-form">{t.csrf_input(staff)}
<input type="hidden" name="version" value="{e(values.get('version', pf.version(ent)))}">
{row('name', 'required maxlength="128"')}{row('credit_code', 'maxlength="18" autocapitalize="characters"')}
<label>所在新城<select name="new_city"><option value="">（未填）</option>{city_opts}</select>{city_err}</label>
{row('park', 'maxlength="128"')}{row('industry', 'maxlength="64"')}{row('address', 'maxlength="256"')}
{row('registered_on', 'type="date"')}{row('employees', 'inputmode="numeric" maxlength="9"')}
{row('tech_staff', 'inputmode="numeric" maxlength="9"')}{row('revenue', 'inputmode="decimal" maxlength="20"')}
{row('rd_expense', 'inputmode="decimal" maxlength="20"')}
<fieldset><legend>资质认定</legend>{certs}{cert_err}</fieldset>
<label class="wide">备注<textarea name="notes" rows="3" maxlength="2000">{e(val('notes'))}</textarea>{notes_err}</label>
<button type="submit" class="primary" id="save-profile">{e(submit)}</button></form>"""


def _figures_html(f: ef.EnterpriseFile) -> str:
    from bot.policy.profile import LABELS

    if not f.figures:
        return '<p class="muted">该企业还没有在对话中做过政策体检（或做体检的不是已验证的联系人）。</p>'
    rows = []
    for key, value in f.figures.items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value
        src = f.figure_sources.get(key) if isinstance(f.figure_sources, dict) else None
        via = ""
        if isinstance(src, dict):
            via = f"{(src.get('at') or '')[:16].replace('T', ' ')} {src.get('via') or ''}"
        rows.append(f"<tr><td class=\"l\">{e(LABELS.get(key, key))}</td><td class=\"l wrap\">{e(shown)}</td>"
                    f"<td>{e(via)}</td></tr>")
    return f"""<div class="scroll"><table class="grid"><thead><tr><th>项目</th><th>数值</th><th>来源（时间 · 渠道）</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table></div><p class="muted">最近更新：{e(t.dt(f.figures_updated_at))}</p>"""


def _pushes_html(f: ef.EnterpriseFile) -> str:
    if f.pushes is None:
        return '<p class="muted" id="pushes-pending">政策推送记录将在政策推送功能上线后显示在这里。</p>'
    if not f.pushes:
        return '<p class="muted">暂无推送记录。</p>'
    known = [c for c in PUSH_COLUMNS if c in f.pushes[0]]
    cols = known or [c for c in f.pushes[0] if c not in ("id", "enterprise_id")][:6]
    head = "".join(f"<th>{e(PUSH_COLUMNS.get(c, c))}</th>" for c in cols)
    def cell(c, v):
        if hasattr(v, "astimezone"):
            return t.dt(v)
        if c == "sent_by" and isinstance(v, str):
            return "系统定时推送" if v == "system" else f"{v.split(':', 1)[-1]}（立即推送）"
        if c == "channel":
            return t.CHANNEL_LABELS.get(v, v)
        return PUSH_VALUES.get(c, {}).get(v, v)

    body = "".join("<tr>" + "".join(f'<td class="l wrap">{e(cell(c, r[c]))}</td>' for c in cols) + "</tr>"
                   for r in f.pushes)
    return f'<div class="scroll"><table class="grid pushes"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def file_page(staff: StaffView, f: ef.EnterpriseFile, names: dict, flash: str | None = None,
              error: str | None = None, values: Optional[dict] = None, problems: Optional[dict] = None) -> str:
    ent = f.enterprise
    certs = "".join(f'<span class="badge cert">{e(pf.CERTIFICATIONS[c])}</span>' for c in pf.certs_of(ent.certifications))
    sat = f"{f.satisfaction:.2f}" if f.satisfaction is not None else "—"
    figures = f"""<div class="ent-figs">
<div class="ent-fig"><div class="k">工单</div><div class="v">{len(f.tickets)} 件</div><div class="s">在办 {f.open_tickets} 件</div></div>
<div class="ent-fig"><div class="k">入企服务</div><div class="v">{len(f.visits)} 次</div><div class="s">最近 {e(t.dt(f.visits[0].visited_at, '%Y-%m-%d') if f.visits else '—')}</div></div>
<div class="ent-fig"><div class="k">兑现金额</div><div class="v" id="redeemed">¥{f.redeemed:,.2f}</div><div class="s">已办结工单合计</div></div>
<div class="ent-fig"><div class="k">满意度</div><div class="v">{sat}</div><div class="s">评价 {len(f.ratings)} 条</div></div></div>"""
    nodes = "、".join(store.node_name(n) for n in sorted(f.nodes))
    info = _kv([
        ("统一社会信用代码", ent.credit_code), ("所在新城", f"{ent.new_city}新城" if ent.new_city else None),
        ("所在园区", ent.park), ("属地节点", store.node_name(f.home_node)), ("服务节点", nodes),
        ("所属行业", ent.industry), ("地址", ent.address),
        ("成立日期", ent.registered_on.isoformat() if ent.registered_on else None),
        ("职工人数", ent.employees), ("科技人员数", ent.tech_staff),
        ("上年营业收入", pf.display("revenue", ent.revenue) if ent.revenue is not None else None),
        ("上年研发投入", pf.display("rd_expense", ent.rd_expense) if ent.rd_expense is not None else None),
        ("资质认定", pf.certs_label(ent.certifications)), ("备注", ent.notes),
        ("建档时间", t.dt(ent.created_at)), ("最近修改", t.dt(ent.updated_at)),
    ])
    seen, contacts = set(), []
    for c in f.contacts:
        key = (c.name, c.mobile)
        if key in seen:
            continue
        seen.add(key)
        contacts.append(f"""<tr><td class="l">{e(c.name)}</td><td>{e(c.mobile or '')}</td>
<td>{e(CONTACT_CHANNELS.get(c.channel or '', c.channel or ''))}</td>
<td>{'<span class="badge">已验证</span>' if c.verified_at else '<span class="muted">未验证</span>'}</td></tr>""")
    contacts_html = (f'<div class="scroll"><table class="grid"><thead><tr><th>联系人</th><th>手机</th><th>渠道</th>'
                     f'<th>身份</th></tr></thead><tbody>{"".join(contacts)}</tbody></table></div>'
                     if contacts else '<p class="muted">暂无联系人。</p>')
    tickets = "".join(f"""<tr data-number="{e(tk.number)}"><td><a href="/console/tickets/{e(tk.number)}">{e(tk.number)}</a></td>
<td class="l">{e(t.category_label(tk.category))}</td>
<td><span class="badge st-{e(tk.status)}">{e(t.status_label(tk.status))}</span></td>
<td>{e(store.node_name(tk.node_id))}</td><td>{e(t.CHANNEL_LABELS.get(tk.source_channel, tk.source_channel))}</td>
<td>{e(t.dt(tk.created_at, '%Y-%m-%d'))}</td><td>{e(t.dt(tk.resolved_at, '%Y-%m-%d'))}</td>
<td>{'¥' + format(tk.redeemed_amount, ',.2f') if tk.redeemed_amount is not None else ''}</td>
<td>{e('、'.join(str(r[0]) + ' 分' for r in tk.ratings))}</td></tr>""" for tk in f.tickets)
    tickets_html = (f"""<div class="scroll"><table class="grid tickets"><thead><tr><th>工单号</th><th>类别</th><th>状态</th>
<th>受理节点</th><th>来源</th><th>受理</th><th>办结</th><th>兑现金额</th><th>评价</th></tr></thead><tbody>{tickets}</tbody></table></div>"""
                    if tickets else '<p class="muted">暂无工单。</p>')
    visits = "".join(f"""<tr data-visit="{v.id}"><td>{e(t.dt(v.visited_at, '%Y-%m-%d %H:%M'))}</td>
<td>{e(v.node_name)}</td><td>{e(v.who)}</td><td class="l wrap">{e(v.findings or '')}</td>
<td>{''.join(f'<a href="/console/tickets/{e(n)}">{e(n)}</a> ' for n in v.tickets)}</td></tr>""" for v in f.visits)
    visits_html = (f"""<div class="scroll"><table class="grid visits"><thead><tr><th>走访时间</th><th>节点</th><th>走访人</th>
<th>发现的情况</th><th>提出的需求</th></tr></thead><tbody>{visits}</tbody></table></div>"""
                   if visits else '<p class="muted">暂无入企服务记录。</p>')
    convs = "".join(f"""<tr><td><a href="/console/conversations/{e(quote(c.id, safe=''))}">{e(c.contact or '会话')}</a></td>
<td>{e(t.CHANNEL_LABELS.get(c.channel, c.channel))}</td><td>{e(t.MODE_LABELS.get(c.mode, c.mode))}</td>
<td>{e(t.dt(c.updated_at, '%Y-%m-%d %H:%M'))}</td></tr>""" for c in f.conversations)
    convs_html = (f"""<div class="scroll"><table class="grid"><thead><tr><th>联系人</th><th>渠道</th><th>状态</th><th>最近消息</th></tr></thead>
<tbody>{convs}</tbody></table></div>""" if convs else '<p class="muted">暂无会话。</p>')
    service = "".join(f"<li>{e(t.dt(at))}：人工服务 {score} 分（{e(store.node_name(node))}）</li>" for score, at, node in f.service_ratings)
    ticket_ratings = "".join(f"<li>{e(t.dt(at))}：工单 {e(tk.number)} {score} 分 {e(comment or '')}</li>"
                             for tk in f.tickets for score, comment, at in tk.ratings)
    ratings_html = f"<ul>{ticket_ratings}{service}</ul>" if (service or ticket_ratings) else '<p class="muted">暂无评价。</p>'
    history = "".join(f"""<tr><td>{e(t.dt(h.at, '%Y-%m-%d %H:%M'))}</td><td>{e(t.actor_label(h.actor, names))}</td>
<td>{e(ACTION_LABELS.get(h.action, h.action))}</td><td class="l wrap">{e(h.detail)}</td></tr>""" for h in f.history)
    history_html = (f"""<div class="scroll"><table class="grid audit history"><thead><tr><th>时间</th><th>操作人</th><th>操作</th>
<th>内容</th></tr></thead><tbody>{history}</tbody></table></div>""" if history else '<p class="muted">暂无修改记录。</p>')
    open_edit = " open" if problems else ""
    body = f"""<p><a href="{BASE}">← 企业档案</a></p>
<section class="card"><div class="head"><h1 id="enterprise-name">{e(ent.name)}</h1>
<a href="/console/visits/new?enterprise={ent.id}" class="button" id="record-visit">登记入企服务</a></div>
<p>{certs}</p>{figures}</section>
<section class="card"><h2>基本信息</h2><dl class="kv" id="profile">{info}</dl>
<details id="edit-profile"{open_edit}><summary>编辑档案</summary>{_profile_form(staff, ent, values, problems)}</details></section>
<section class="card"><h2>联系人</h2>{contacts_html}
<details id="add-contact"><summary>添加联系人</summary>
<form method="post" action="{BASE}/{ent.id}/contacts" class="stack profile-form" id="contact-form">{t.csrf_input(staff)}
<label>姓名<input name="contact_name" required maxlength="64"></label>
<label>手机（选填）<input name="contact_mobile" maxlength="20" inputmode="tel"></label>
<button type="submit">添加</button></form></details></section>
<section class="card"><h2>工单 <small>{len(f.tickets)} 件</small></h2>{tickets_html}</section>
<section class="card"><h2>入企服务 <small>{len(f.visits)} 次</small></h2>{visits_html}</section>
<section class="card"><h2>会话</h2>{convs_html}</section>
<section class="card"><h2>政策体检</h2>{_figures_html(f)}</section>
<section class="card"><h2>政策推送</h2>{_pushes_html(f)}</section>
<section class="card"><h2>评价</h2>{ratings_html}</section>
<section class="card"><h2>档案修改记录</h2>{history_html}</section>"""
    return t.layout(ent.name, body, staff, page="enterprises", flash=flash, error=error)


async def _render_file(request: web.Request, staff: StaffView, eid: int, status: int = 200, **kw) -> web.Response:
    db = views.db_url(request)
    f = await views.run(ef.load, db, eid)
    if f is None:
        return views.not_found(request, staff, "该企业档案")
    names = await views.run(ef.staff_names, db, [h.actor.split(":", 1)[1] for h in f.history
                                                 if h.actor.startswith("staff:")])
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
        values = pf.parse_form(raw, certs, today=views.now_of(request).astimezone(t.BEIJING).date())
        seen = form.get("version")
        changes = await views.run(pf.apply_edit, views.db_url(request), eid, values,
                                  expected_version=seen if isinstance(seen, str) else None,
                                  clock=lambda: views.now_of(request))
    except pf.StaleEdit as exc:
        return await _render_file(request, staff, eid, 409, error=str(exc))
    except pf.ProfileError as exc:
        shown = {**{k: v[:300] for k, v in raw.items()}, "certifications_list": certs}
        return await _render_file(request, staff, eid, 400, error="档案未保存：" + str(exc), values=shown,
                                  problems=exc.problems)
    except LookupError:
        return views.not_found(request, staff, "该企业档案")
    if not changes:
        raise web.HTTPSeeOther(f"{BASE}/{eid}?done=unchanged")
    await views.audit(request, staff, "enterprise_edit",
                      detail=ef.audit_tag(eid) + "；".join(c.line() for c in changes))
    raise web.HTTPSeeOther(f"{BASE}/{eid}?done=saved")


async def contact_route(request: web.Request) -> web.Response:
    from bot.logmask import mask

    staff = current_staff(request)
    eid, refused = await _scoped(request, staff)
    if refused is not None:
        return refused
    form = await request.post()
    name, mobile = form.get("contact_name"), form.get("contact_mobile")
    try:
        _, name, mobile = await views.run(pf.add_contact, views.db_url(request), eid,
                                          name if isinstance(name, str) else "",
                                          mobile if isinstance(mobile, str) else None,
                                          clock=lambda: views.now_of(request))
    except pf.ProfileError as exc:
        return await _render_file(request, staff, eid, 400, error="联系人未添加：" + str(exc))
    except LookupError:
        return views.not_found(request, staff, "该企业档案")
    await views.audit(request, staff, "enterprise_contact",
                      detail=ef.audit_tag(eid) + f"添加联系人：{name}" + (f" {mask(mobile)}" if mobile else ""))
    raise web.HTTPSeeOther(f"{BASE}/{eid}?done=contact")


# ---- a new file -----------------------------------------------------------------------------------

def _blank(staff: StaffView):
    """An empty profile, placed at the staff member's own park or new city by default."""
    from types import SimpleNamespace

    from bot.network import default_network

    node = default_network().get(staff.node_id)
    blank = SimpleNamespace(id=0, created_at=None, updated_at=None, **{f: None for f in pf.FIELDS})
    if node is not None:
        blank.new_city, blank.park = node.new_city, node.park
    return blank


def new_page(staff: StaffView, values: Optional[dict] = None, problems: Optional[dict] = None,
             error: Optional[str] = None) -> str:
    form = _profile_form(staff, _blank(staff), values, problems, action=f"{BASE}/new", submit="建立档案")
    body = f"""<p><a href="{BASE}">← 企业档案</a></p><section class="card"><h1>新建企业档案</h1>
<p class="muted">名称或统一社会信用代码已在档案中的企业请直接搜索使用。所在园区或新城须在您的服务范围内，否则建档后您将看不到该档案。</p>
{form}</section>"""
    return t.layout("新建企业档案", body, staff, page="enterprises", error=error)


async def new_route(request: web.Request) -> web.Response:
    return views.html(new_page(current_staff(request)))


async def create_route(request: web.Request) -> web.Response:
    from bot.enterprises.membership import home_node

    staff = current_staff(request)
    form = await request.post()
    certs = [c for c in form.getall("certifications", []) if isinstance(c, str)]
    raw = {k: (form.get(k) if isinstance(form.get(k), str) else "") for k in pf.FIELDS if k != "certifications"}
    shown = {**{k: v[:300] for k, v in raw.items()}, "certifications_list": certs}
    try:
        values = pf.parse_form(raw, certs, today=views.now_of(request).astimezone(t.BEIJING).date())
        home = home_node(values.get("new_city"), values.get("park"))
        if not staff.sees(home):
            raise pf.ProfileError({"park": f"所填园区/新城属于“{store.node_name(home)}”，不在您的服务范围内"})
        eid = await views.run(pf.create_enterprise, views.db_url(request), values,
                              clock=lambda: views.now_of(request))
    except pf.ProfileError as exc:
        return views.html(new_page(staff, shown, exc.problems, error="档案未建立：" + str(exc)), 400)
    await views.audit(request, staff, "enterprise_create",
                      detail=ef.audit_tag(eid) + f"新建企业档案：{values['name']}（属地 {store.node_name(home)}）")
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
