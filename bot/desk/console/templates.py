"""HTML of the console pages: Jinja2 templates in bot/desk/templates/console/ and the helpers they use.

The templates are autoescaped (bot.templating): a value is escaped unless a template marks it safe. The
helpers registered below (dates, labels, the top bar's links) are the templates' globals. No external
assets: one stylesheet and one script served by the desk itself, so the Content-Security-Policy can forbid
inline scripts entirely. Pages not yet moved to a template build their markup here with `e()`
(html.escape) and pass it to `layout()`.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from html import escape
from typing import Any, Iterable, Optional
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from markupsafe import Markup

from bot.desk import pages
from bot.taxonomy import BY_INTENT, CATEGORIES
from bot.tickets import history, lifecycle as lc

BEIJING = ZoneInfo("Asia/Shanghai")
ROLE_LABELS = {"staff": "工作人员", "lead": "节点负责人", "admin": "管理员"}
REASON_LABELS = {
    "request_human": "用户要求人工",
    "fallback": "机器人无法理解",
    "complaint": "投诉",
    "staff_only": "需人工办理",
    "staff_takeover": "工作人员主动接管",
}
MODE_LABELS = {"bot": "机器人接待中", "waiting": "等待人工", "staff": "人工服务中"}
CHANNEL_LABELS = {"web": "网页聊天", "wechat_mp": "微信公众号", "wecom": "企业微信", "rest": "接口", "visit": "入企服务"}
EVENT_LABELS = history.ACTION_LABELS
PRIORITY_LABELS = {"low": "低", "normal": "普通", "high": "高", "urgent": "紧急"}


def e(value: Any) -> str:
    """Escape for HTML text and attribute values (quotes included)."""
    return "" if value is None else escape(str(value), quote=True)


def dt(value: Optional[datetime], fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(BEIJING).strftime(fmt)


def iso(value: Optional[datetime]) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


def waited(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}小时{m}分"
    if m:
        return f"{m}分{s:02d}秒"
    return f"{s}秒"


def category_label(intent: Optional[str]) -> str:
    if not intent:
        return "—"
    c = BY_INTENT.get(intent)
    return f"{c.content} · {c.name}" if c else intent


def status_label(status: Optional[str]) -> str:
    return lc.LABELS.get(status or "", status or "")


def csrf_input(staff) -> Markup:
    return Markup(f'<input type="hidden" name="csrf_token" value="{e(staff.csrf_token)}">')


def qs(**params: Any) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


# ---- layout --------------------------------------------------------------------------------------

NAV = (("queue", "/console/", "人工队列"), ("mine", "/console/mine", "我的"), ("tickets", "/console/tickets", "工单"),
       ("reports", "/console/reports", "调度与报表"), ("dashboard", "/console/dashboard", "数据看板"))
# Pages added by a feature module of the console register their link here from their setup(app), so the
# layout need not know every feature: (key, href, label, roles or None for every role).
EXTRA_NAV: list[tuple[str, str, str, Optional[frozenset]]] = []


def register_nav(key: str, href: str, label: str, roles: Optional[Iterable[str]] = None) -> None:
    """Add a link to the console's top bar (idempotent: several apps in one process register once)."""
    if any(k == key for k, *_ in EXTRA_NAV):
        return
    EXTRA_NAV.append((key, href, label, frozenset(roles) if roles else None))


def nav_links(staff) -> tuple:
    """(key, href, label) of the top bar's links that `staff` may open."""
    links = NAV + tuple((k, h, lbl) for k, h, lbl, roles in EXTRA_NAV if roles is None or staff.role in roles)
    return links + ((("admin", "/console/admin/staff", "账号管理"),
                     ("privacy", "/console/admin/privacy", "个人信息")) if staff.role == "admin" else ())


def _node_name(node_id: Optional[str]) -> str:
    from bot.desk.console.store import node_name

    return node_name(node_id)


pages.ENV.globals.update(
    nav_links=nav_links, node_name=_node_name, csrf_input=csrf_input, role_label=lambda r: ROLE_LABELS.get(r, r),
    dt=dt, iso=iso, waited=waited, category_label=category_label, status_label=status_label, qs=qs,
    CHANNEL_LABELS=CHANNEL_LABELS, MODE_LABELS=MODE_LABELS, REASON_LABELS=REASON_LABELS,
    PRIORITY_LABELS=PRIORITY_LABELS, EVENT_LABELS=EVENT_LABELS, ROLE_LABELS=ROLE_LABELS)


def render(template: str, title: str, staff=None, page: str = "", data: dict | None = None,
           flash: str | None = None, error: str | None = None, **context: Any) -> str:
    """A console page: `template` (under bot/desk/templates/, extending console/layout.html) with the layout's
    values (`title`, the signed-in `staff` or None, the nav key `page`, body data-* attributes, messages)."""
    return pages.render(template, title=title, staff=staff, page=page, data=data or {}, flash=flash, error=error,
                        **context)


def layout(title: str, body: str, staff=None, page: str = "", data: dict | None = None,
           flash: str | None = None, error: str | None = None) -> str:
    """The layout around `body`, markup built (and escaped) by the caller."""
    return render("console/layout.html", title, staff, page, data, flash, error, body=Markup(body))


def error_page(title: str, message: str, staff=None, status_hint: str = "") -> str:
    return render("console/error.html", title, staff, message=message)


# ---- sign-in -------------------------------------------------------------------------------------

def login_page(csrf: str, next_url: str, message: str | None, username: str) -> str:
    return render("console/login.html", "登录", csrf=csrf, next_url=next_url, message=message, username=username)


def logout_page(staff) -> str:
    return render("console/logout.html", "退出登录", staff)


# ---- the queue -----------------------------------------------------------------------------------

def unread_badge(n: int) -> str:
    return f' <span class="unread" title="企业的未读消息">{n}</span>' if n else ""


def queue_rows(items, staff, now: datetime, unread: Optional[dict] = None) -> str:
    if not items:
        return '<tr class="empty"><td colspan="7">当前没有等待处理的转人工会话。</td></tr>'
    rows = []
    for it in items:
        if it.claimed_by is None:
            state = '<span class="badge wait">待接单</span>'
        elif it.claimed_by == staff.id:
            state = '<span class="badge mine">我在处理</span>'
        else:
            state = f'<span class="badge busy">{e(it.claimed_by_name or "他人")} 处理中</span>'
        from bot.desk.console.store import node_name

        rows.append(f"""<tr data-id="{e(it.id)}">
<td class="wait" data-since="{e(iso(it.created_at))}">{e(waited((now - it.created_at).total_seconds()))}</td>
<td><a href="/console/conversations/{e(it.conversation_id)}">{e(it.enterprise_name or "未登记企业")}</a>{unread_badge((unread or {}).get(it.conversation_id, 0))}</td>
<td>{e(REASON_LABELS.get(it.reason, it.reason))}</td>
<td>{e(category_label(it.category))}</td>
<td>{e(node_name(it.node_id))}</td>
<td class="preview">{e(it.last_user_text or "")}</td>
<td>{state}</td></tr>""")
    return "".join(rows)


def queue_page(staff, items, due, recent, now: datetime, unread: Optional[dict] = None) -> str:
    due_rows = "".join(
        f"""<tr class="{'over' if kind == 'overdue' else ''}"><td><a href="/console/tickets/{e(i.number)}">{e(i.number)}</a></td>
<td>{e(i.enterprise)}</td><td>{e(i.category_name)}</td><td>{e(i.status_label)}</td>
<td>{e(i.deadline)} {e(dt(i.due, '%m-%d %H:%M'))}</td><td>{'已超期' if kind == 'overdue' else '今日到期'}</td></tr>"""
        for kind, i in due[:30])
    due_table = (f"""<table class="grid"><thead><tr><th>工单号</th><th>企业</th><th>类别</th><th>状态</th><th>时限</th><th></th></tr></thead>
<tbody>{due_rows}</tbody></table>""" if due else '<p class="muted">今日没有到期或超期的工单。</p>')
    recent_rows = "".join(
        f"""<tr><td><a href="/console/conversations/{e(c['id'])}">{e(c['enterprise'])}</a></td>
<td>{e(CHANNEL_LABELS.get(c['channel'], c['channel']))}</td><td>{e(MODE_LABELS.get(c['mode'], c['mode']))}</td>
<td>{e(dt(c['updated_at'], '%m-%d %H:%M'))}</td></tr>""" for c in recent)
    recent_table = (f"""<table class="grid"><thead><tr><th>企业</th><th>渠道</th><th>状态</th><th>最近消息</th></tr></thead>
<tbody>{recent_rows}</tbody></table>""" if recent else '<p class="muted">暂无会话。</p>')
    body = f"""<section class="card">
<div class="head"><h1>待处理的转人工 <span class="count" id="queue-count">{len(items)}</span></h1>
<span class="muted">实时更新，无需刷新页面</span></div>
<div class="table-scroll"><table class="grid queue"><thead><tr><th>等待时长</th><th>企业</th><th>原因</th><th>需求类别</th><th>服务节点</th><th>最新消息</th><th>状态</th></tr></thead>
<tbody id="queue-body">{queue_rows(items, staff, now, unread)}</tbody></table></div>
</section>
<section class="card"><div class="head"><h2>今日到期与超期工单</h2><a href="/console/reports">查看今日调度清单</a></div>{due_table}</section>
<section class="card"><h2>最近会话</h2><p class="muted">可打开会话查看记录，必要时主动接管。</p>{recent_table}</section>"""
    return layout("人工队列", body, staff, page="queue")


def mine_page(staff, items, unread: dict, rows, now: datetime) -> str:
    """我的: the conversations this member of staff is serving and the open tickets they are 承办人 of."""
    convs = "".join(f"""<tr><td><a href="/console/conversations/{e(it.conversation_id)}">{e(it.enterprise_name or "未登记企业")}</a>{unread_badge(unread.get(it.conversation_id, 0))}</td>
<td>{e(category_label(it.category))}</td><td class="preview">{e(it.last_user_text or "")}</td>
<td class="wait" data-since="{e(iso(it.created_at))}">{e(waited((now - it.created_at).total_seconds()))}</td></tr>""" for it in items)
    tickets = "".join(f"""<tr class="{'over' if r.ticket.resolution_due and r.ticket.resolution_due < now else ''}"><td><a href="/console/tickets/{e(r.ticket.number)}">{e(r.ticket.number)}</a></td>
<td>{e(r.enterprise)}</td><td>{e(category_label(r.ticket.category))}</td>
<td><span class="badge st-{e(r.ticket.status)}">{e(status_label(r.ticket.status))}</span></td>
<td>{e(dt(r.ticket.resolution_due, '%m-%d %H:%M'))}</td></tr>""" for r in rows)
    body = f"""<section class="card" id="my-conversations"><div class="head"><h1>我接手的会话 <span class="count">{len(items)}</span></h1></div>
<div class="table-scroll">{f'<table class="grid mine"><thead><tr><th>企业</th><th>需求类别</th><th>最新消息</th><th>已进行</th></tr></thead><tbody>{convs}</tbody></table>' if items else '<p class="muted">您当前没有正在接待的会话，可在「人工队列」接单。</p>'}</div></section>
<section class="card" id="my-tickets"><div class="head"><h1>我的工单 <span class="count">{len(rows)}</span></h1><a href="/console/tickets?mine=1">全部我承办的工单</a></div>
<div class="table-scroll">{f'<table class="grid mine"><thead><tr><th>工单号</th><th>企业</th><th>类别</th><th>状态</th><th>办结时限</th></tr></thead><tbody>{tickets}</tbody></table>' if rows else '<p class="muted">您当前没有在办的工单；工单页的「由我承办」可以认领。</p>'}</div></section>"""
    return layout("我的", body, staff, page="mine")


# ---- a conversation ------------------------------------------------------------------------------

def _who(m, names: dict, enterprise: Optional[str]) -> tuple[str, str]:
    """(css class, label) of a message's author."""
    a = m.author or ""
    if m.internal:
        user = a.split(":", 1)[1] if a.startswith("staff:") else a
        return "note", f"内部备注 · {names.get(user, user)}"
    if a == "user":
        return "user", enterprise or "企业用户"
    if a == "bot":
        return "bot", "原上管家（机器人）"
    if a.startswith("staff:"):
        user = a.split(":", 1)[1]
        return "staff", f"{names.get(user, user)}（工作人员）"
    return "system", "系统"


def message_buttons(m) -> list[str]:
    try:
        payload = json.loads(m.payload) if m.payload else None
    except (TypeError, ValueError):
        return []
    buttons = payload.get("buttons") if isinstance(payload, dict) else None
    if not isinstance(buttons, list):
        return []
    return [str(b.get("title", "")) for b in buttons if isinstance(b, dict) and b.get("title")]


def message_file(m) -> Optional[dict]:
    """The file a message carries (bot.files): {"id", "name", "kind", "mime", "size"}."""
    try:
        payload = json.loads(m.payload) if m.payload else None
    except (TypeError, ValueError):
        return None
    f = payload.get("file") if isinstance(payload, dict) else None
    return f if isinstance(f, dict) and isinstance(f.get("id"), int) else None


def message_json(m, names: dict, enterprise: Optional[str]) -> dict:
    kind, who = _who(m, names, enterprise)
    return {"id": m.id, "kind": kind, "who": who, "text": m.text or "", "time": dt(m.created_at, "%m-%d %H:%M:%S"),
            "buttons": message_buttons(m), "file": message_file(m)}


def file_size(n: Any) -> str:
    n = n if isinstance(n, int) else 0
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{max(1, round(n / 1024))} KB"


def file_html(f: dict) -> str:
    """A file in the transcript: images as a thumbnail, documents as a download link (both via the checked
    /console/files route; a download is audited)."""
    href = f"/console/files/{int(f['id'])}"
    link = f'<a class="file-link" href="{href}?dl=1" download="{e(f.get("name"))}">下载 {e(f.get("name"))}（{e(file_size(f.get("size")))}）</a>'
    thumb = (f'<a href="{href}?dl=1"><img class="file-thumb" src="{href}" alt="{e(f.get("name"))}" loading="lazy"></a>'
             if f.get("kind") == "image" else "")
    return f'<div class="file">{thumb}{link}</div>'


def message_item(msg: dict) -> str:
    buttons = "".join(f'<span class="chip">{e(b)}</span>' for b in msg["buttons"])
    body = file_html(msg["file"]) if msg.get("file") else f'<div class="text">{e(msg["text"])}</div>'
    return f"""<li class="msg {e(msg['kind'])}" data-id="{e(msg['id'])}"><div class="who">{e(msg['who'])} · {e(msg['time'])}</div>
{body}{f'<div class="chips">{buttons}</div>' if buttons else ''}</li>"""


def _snapshot(entries: list) -> str:
    items = []
    for entry in entries[-200:]:
        if not isinstance(entry, dict):
            continue
        author = entry.get("author") or entry.get("event") or entry.get("sender") or ""
        text = entry.get("text") or ""
        if not text:
            continue
        cls = "user" if author in ("user", "用户") else "bot"
        label = "企业用户" if cls == "user" else "原上管家（机器人）"
        items.append(f'<li class="msg {cls}"><div class="who">{e(label)}</div><div class="text">{e(text)}</div></li>')
    return "".join(items)


def ticket_actions(staff, t, return_to: str) -> str:
    """The allowed transitions: 办理中 / 已分派 / 重新办理 in one click; 待补充, 办结 and 无法办理 with the text the
    enterprise is told (lifecycle.TEXT_REQUIRED), 办结 confirmed on the next page; and a note box."""
    targets = [s for s in lc.LABELS if s in lc.TRANSITIONS.get(t.status, ()) and s not in (lc.RATED, t.status)]
    action, number = f"/console/tickets/{e(t.number)}/status", e(t.number)
    keep = f'{csrf_input(staff)}<input type="hidden" name="return_to" value="{e(return_to)}">'
    buttons = []
    for target in targets:
        if target in lc.TEXT_REQUIRED:
            continue
        label = {lc.IN_PROGRESS: "重新办理" if t.status in lc.FINAL_STATES
                 else "继续办理" if t.status == lc.AWAITING_INFO else "开始办理",
                 lc.ASSIGNED: "已分派"}.get(target, lc.LABELS[target])
        buttons.append(f"""<form method="post" action="{action}" class="inline">{keep}
<input type="hidden" name="target" value="{e(target)}"><button type="submit">{e(label)}</button></form>""")
    boxes = []
    if lc.RESOLVED in targets:
        amount = ('<label>兑现金额（元，可选）<input name="redeemed_amount" inputmode="decimal" maxlength="16" '
                  'placeholder="如 120000.00"></label>' if t.service_content == "政策兑现" else "")
        boxes.append(f"""<details class="act" id="close-box"><summary>办结…</summary>
<form method="post" action="/console/tickets/{number}/close" class="stack" id="close-form">{keep}
<textarea name="result" required maxlength="2000" rows="3" placeholder="办理结果（必填，将随评价邀请发给企业）"></textarea>{amount}
<button type="submit" class="primary" id="close-next">下一步：确认办结</button></form></details>""")
    if lc.AWAITING_INFO in targets:
        boxes.append(f"""<details class="act" id="await-box"><summary>待补充…</summary>
<form method="post" action="{action}" class="stack">{keep}<input type="hidden" name="target" value="{lc.AWAITING_INFO}">
<textarea name="reason" required maxlength="500" rows="2" placeholder="需要企业补充的内容（必填，将发给企业）"></textarea>
<button type="submit">标记为待补充并告知企业</button></form></details>""")
    if lc.CANNOT_HANDLE in targets:
        boxes.append(f"""<details class="act" id="cannot-box"><summary>无法办理…</summary>
<form method="post" action="{action}" class="stack">{keep}<input type="hidden" name="target" value="{lc.CANNOT_HANDLE}">
<input name="reason" required maxlength="500" placeholder="无法办理的原因（必填，将告知企业）">
<button type="submit" class="danger">标记为无法办理</button></form></details>""")
    note = f"""<form method="post" action="/console/tickets/{number}/note" class="stack">{keep}
<textarea name="text" rows="2" required maxlength="2000" placeholder="工单内部备注（企业看不到）"></textarea>
<button type="submit">添加备注</button></form>"""
    status_row = f'<div class="actions">{"".join(buttons)}</div>' if buttons else ""
    return status_row + "".join(boxes) + note


def close_confirm_page(staff, t, result: str, amount: str, preview: Optional[str], return_to: str) -> str:
    """The confirmation step of 办结: what the enterprise will receive, then 确认 or back."""
    told = (f'<p>企业将在对话中收到：</p><blockquote class="pre" id="close-preview">{e(preview)}</blockquote>'
            if preview else '<p class="muted">该工单没有关联的对话，企业不会收到在线通知，请通过电话等方式告知。</p>')
    amount_row = f"<dt>兑现金额</dt><dd>¥{e(amount)}</dd>" if amount else ""
    body = f"""<section class="card narrow wide"><h1>确认办结 {e(t.number)}</h1>
<dl class="kv"><dt>企业需求</dt><dd class="pre">{e(t.description)}</dd><dt>办理结果</dt><dd class="pre">{e(result)}</dd>{amount_row}</dl>
{told}<p class="muted">办结后企业会收到评价邀请；如需更改，可在工单页「重新办理」。</p>
<form method="post" action="/console/tickets/{e(t.number)}/close" class="actions">{csrf_input(staff)}
<input type="hidden" name="result" value="{e(result)}"><input type="hidden" name="redeemed_amount" value="{e(amount)}">
<input type="hidden" name="return_to" value="{e(return_to)}"><input type="hidden" name="confirm" value="1">
<button type="submit" class="primary" id="close-confirm">确认办结并告知企业</button>
<a href="{e(return_to)}">返回修改</a></form></section>"""
    return layout(f"确认办结 {t.number}", body, staff, page="tickets")


def ticket_summary(t) -> str:
    from bot.desk.console.store import node_name

    return f"""<dl class="kv">
<dt>工单号</dt><dd><a href="/console/tickets/{e(t.number)}">{e(t.number)}</a></dd>
<dt>状态</dt><dd><span class="badge st-{e(t.status)}">{e(status_label(t.status))}</span></dd>
<dt>类别</dt><dd>{e(category_label(t.category))}</dd>
<dt>受理节点</dt><dd>{e(node_name(t.node_id))}</dd>
<dt>首次响应时限</dt><dd>{e(dt(t.first_response_due))}{' ✓' if t.first_response_at else ''}</dd>
<dt>办结时限</dt><dd>{e(dt(t.resolution_due))}</dd>
<dt>需求描述</dt><dd class="pre">{e(t.description)}</dd>
{f'<dt>办理结果</dt><dd class="pre">{e(t.result)}</dd>' if t.result else ''}
</dl>"""


def transfer_form(staff, action: str, nodes, people, hidden: str = "", node_label: str = "转给节点",
                  person_label: str = "或转给同事", submit: str = "转交", include_self: bool = False) -> str:
    from bot.desk.console.store import node_name

    node_opts = "".join(f'<option value="{e(n.id)}">{e(n.name)}</option>' for n in nodes)
    people_opts = "".join(f'<option value="{e(p.id)}">{e(p.display_name)}（{e(node_name(p.node_id))}）</option>'
                          for p in people if include_self or p.id != staff.id)
    return f"""<form method="post" action="{e(action)}" class="stack transfer">{csrf_input(staff)}{hidden}
<label>{e(node_label)}<select name="node_id"><option value="">（不变）</option>{node_opts}</select></label>
<label>{e(person_label)}<select name="staff_id"><option value="">（不指定）</option>{people_opts}</select></label>
<button type="submit">{e(submit)}</button></form>"""


def file_form(staff, base: str, hid: str, mine: bool) -> str:
    """Staff send a file to the enterprise (bot/desk/files.py): the same rule as a reply (claimed first)."""
    from bot.files.sniff import ACCEPT_ATTR

    return f"""<form method="post" action="{base}/files" enctype="multipart/form-data" id="file-form" class="row file-form">
{csrf_input(staff)}{hid}<input type="file" name="file" id="file-input" required accept="{ACCEPT_ATTR}" aria-label="选择文件">
<button type="submit" id="file-send"{'' if mine else ' disabled title="接单后才能向企业发送文件"'}>发送文件给企业</button></form>"""


def composer_form(staff, base: str, hid: str, mine: bool, canned: list[dict]) -> str:
    """Reply and internal note are two modes of one composer (as in Chatwoot): a tab each, the note mode on a
    yellow ground with its own button; each mode shows only its own button (CSS, so also without JavaScript),
    Ctrl+Enter sends in the current mode, and the server refuses a text whose mode does not match the route.
    Starts in 回复企业 when the conversation is yours, else in 内部备注 (you cannot reply before claiming)."""
    canned_opts = "".join(f'<option value="{e(c["text"])}">{e(c["title"])}</option>' for c in canned)
    note_first = not mine
    return f"""<form method="post" action="{base}/{'note' if note_first else 'reply'}" id="composer" class="composer{' note-mode' if note_first else ''}">{csrf_input(staff)}{hid}
<div class="modes" role="radiogroup" aria-label="发送方式">
<label class="mode reply"><input type="radio" name="mode" value="reply" id="mode-reply"{'' if note_first else ' checked'}> 回复企业</label>
<label class="mode note"><input type="radio" name="mode" value="note" id="mode-note"{' checked' if note_first else ''}> 内部备注</label></div>
<div class="row"><select id="canned" aria-label="常用回复"><option value="">常用回复…</option>{canned_opts}</select>
<span class="muted for-reply">{'企业会看到这条回复。' if mine else '接单后才能回复企业。'}</span><span class="for-note">内部备注只有工作人员可见，不会发给企业。</span></div>
<textarea name="text" id="reply-text" rows="3" maxlength="2000" required placeholder="输入内容，Ctrl+Enter 按当前方式发送"></textarea>
<div class="row"><button type="submit" class="primary for-reply" id="send" formaction="{base}/reply"{'' if mine else ' disabled title="接单后才能回复企业"'}>发送给企业</button>
<button type="submit" class="note-btn for-note" id="note" formaction="{base}/note">添加内部备注</button>
<span class="err" id="composer-error" role="alert"></span></div></form>"""


def conversation_page(staff, cv, messages: list[dict], canned: list[dict], nodes, people,
                      now: datetime, flash: str | None = None, error: str | None = None) -> str:
    from bot.desk.console.store import node_name

    h = cv.handover
    conv = cv.conversation
    mode = conv.mode if conv is not None else ("staff" if cv.handover_open else "bot")
    mine = cv.handover_open and h.claimed_by == staff.id
    hid = f'<input type="hidden" name="handover_id" value="{e(h.id)}">' if h is not None else ""
    base = f"/console/conversations/{e(cv.id)}"

    transcript = "".join(message_item(m) for m in messages)
    if not transcript and cv.transcript:
        transcript = _snapshot(cv.transcript)
    if not transcript:
        transcript = '<li class="msg system empty"><div class="text">暂无消息。</div></li>'

    # -- handover panel
    if cv.handover_open:
        since = h.created_at
        head = f"""<p><span class="badge wait">{e(REASON_LABELS.get(h.reason, h.reason))}</span>
已等待 <span class="wait" data-since="{e(iso(since))}">{e(waited((now - since).total_seconds()))}</span></p>"""
        if h.claimed_by is None:
            state = f"""<p>尚未接单。</p><form method="post" action="{base}/claim">{csrf_input(staff)}{hid}
<button type="submit" class="primary" id="claim">接单</button></form>"""
        elif mine:
            state = f"""<p>由 <b>您</b> 处理中。</p><form method="post" action="{base}/end" class="inline" id="end-form">{csrf_input(staff)}{hid}
<button type="submit" class="danger" id="end">结束人工服务，交回机器人</button></form>"""
        else:
            state = f"<p>由 <b>{e(cv.claimed_by_name or '其他同事')}</b> 处理中。同一时间只能由一位工作人员接待。</p>"
            if staff.is_lead:
                state += f"""<form method="post" action="{base}/end" class="inline" id="end-form">{csrf_input(staff)}{hid}
<button type="submit" class="danger" id="end">以负责人身份结束人工服务</button></form>"""
        transfer = transfer_form(staff, f"{base}/transfer", nodes, people, hid) if (mine or h.claimed_by is None or staff.is_lead) else ""
        handover_panel = head + state + (f"<details><summary>转交给其他节点或同事</summary>{transfer}</details>" if transfer else "")
    else:
        ended = f"上一次人工服务已于 {e(dt(h.ended_at))} 结束。" if h is not None and h.ended_at else ""
        handover_panel = f"""<p>{e(MODE_LABELS.get(mode, mode))}。{ended}</p>
<form method="post" action="{base}/takeover">{csrf_input(staff)}
<button type="submit" id="takeover">主动接管会话</button></form>"""

    composer = composer_form(staff, base, hid, mine, canned)

    # -- ticket panel
    if cv.ticket is not None:
        ticket_panel = ticket_summary(cv.ticket) + ticket_actions(staff, cv.ticket, f"/console/conversations/{cv.id}")
    else:
        ticket_panel = '<p class="muted">该会话没有关联工单。</p>'
    profile = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in cv.profile) or "<dt>企业</dt><dd>未登记</dd>"

    body = f"""<div class="convo">
<section class="card transcript-card">
<div class="head"><h1>{e(cv.enterprise_name or '企业会话')}</h1>
<span class="muted">{e(CHANNEL_LABELS.get(conv.channel, conv.channel) if conv is not None else '')} · {e(node_name(cv.node_id))} · <span id="mode">{e(MODE_LABELS.get(mode, mode))}</span></span></div>
<div class="notice" id="state-notice" hidden></div>
<ol class="messages" id="messages">{transcript}</ol>
{composer}
{file_form(staff, base, hid, mine)}
</section>
<aside>
<section class="card"><h2>人工服务</h2>{handover_panel}</section>
<section class="card"><h2>企业信息</h2><dl class="kv">{profile}</dl><p><a href="{base}/contact" id="contact-identity">联系人身份与验证</a></p></section>
<section class="card"><h2>关联工单</h2>{ticket_panel}</section>
</aside></div>"""
    last_id = messages[-1]["id"] if messages else 0
    data = {"conversation": cv.id, "last-id": last_id, "handover": h.id if h is not None else "",
            "claimed": (h.claimed_by or "") if h is not None else "", "open": "1" if cv.handover_open else "0"}
    return layout(cv.enterprise_name or "会话", body, staff, page="conversation", data=data, flash=flash, error=error)


# ---- tickets -------------------------------------------------------------------------------------

def _select(name: str, options: Iterable[tuple[str, str]], current: str, blank: str) -> str:
    opts = "".join(f'<option value="{e(v)}"{" selected" if v == current else ""}>{e(label)}</option>' for v, label in options)
    return f'<select name="{e(name)}"><option value="">{e(blank)}</option>{opts}</select>'


def tickets_page(staff, rows, total: int, page: int, per_page: int, filters: dict, nodes) -> str:
    status_opts = [("open", "在办（全部未结）")] + list(lc.LABELS.items())
    cat_opts = [(c.intent, f"{c.content} · {c.name}") for c in CATEGORIES]
    node_opts = [(n.id, n.name) for n in nodes]
    form = f"""<form method="get" action="/console/tickets" class="filters">
{_select('status', status_opts, filters.get('status', ''), '全部状态')}
{_select('category', cat_opts, filters.get('category', ''), '全部类别')}
{_select('node', node_opts, filters.get('node', ''), '全部节点（我的范围）')}
<input name="q" value="{e(filters.get('q', ''))}" placeholder="工单号 / 企业 / 描述" maxlength="100">
<label class="check"><input type="checkbox" name="mine" value="1"{' checked' if filters.get('mine') else ''}> 我承办的</label>
<button type="submit">筛选</button><a href="/console/tickets">清除</a></form>"""
    from bot.desk.console.store import node_name

    body_rows = "".join(f"""<tr><td><a href="/console/tickets/{e(r.ticket.number)}">{e(r.ticket.number)}</a></td>
<td>{e(r.enterprise)}</td><td>{e(category_label(r.ticket.category))}</td>
<td><span class="badge st-{e(r.ticket.status)}">{e(status_label(r.ticket.status))}</span></td>
<td>{e(node_name(r.ticket.node_id))}</td><td>{e(r.assignee or '')}</td>
<td>{e(dt(r.ticket.created_at, '%m-%d %H:%M'))}</td><td>{e(dt(r.ticket.resolution_due, '%m-%d %H:%M'))}</td></tr>"""
                        for r in rows) or '<tr class="empty"><td colspan="8">没有符合条件的工单。</td></tr>'
    pages = max(1, -(-total // per_page))
    nav = ""
    if pages > 1:
        prev = f'<a href="/console/tickets?{e(qs(**filters, page=page - 1))}">上一页</a>' if page > 1 else ""
        nxt = f'<a href="/console/tickets?{e(qs(**filters, page=page + 1))}">下一页</a>' if page < pages else ""
        nav = f'<div class="pager">{prev}<span>第 {page} / {pages} 页</span>{nxt}</div>'
    body = f"""<section class="card"><div class="head"><h1>工单 <span class="count">{total}</span></h1></div>{form}
<table class="grid"><thead><tr><th>工单号</th><th>企业</th><th>类别</th><th>状态</th><th>受理节点</th><th>承办人</th><th>受理时间</th><th>办结时限</th></tr></thead>
<tbody>{body_rows}</tbody></table>{nav}</section>"""
    return layout("工单", body, staff, page="tickets")


def actor_label(actor: str, names: dict) -> str:
    if actor.startswith("staff:"):
        u = actor.split(":", 1)[1]
        return f"{names.get(u, u)}（工作人员）"
    if actor.startswith("user:"):
        return "企业用户"
    return "系统" if actor == "system" else actor


def audit_table(events, names: dict) -> str:
    """`names`: display names by username (actors) and by staff id (values such as 接待专员 / 承办人)."""
    staff = {k: v for k, v in names.items() if isinstance(k, int)}

    def value(raw, field):
        return history.value_text(raw, field, staff=staff)

    rows = "".join(f"""<tr><td>{e(dt(ev.at, '%Y-%m-%d %H:%M:%S'))}</td><td>{e(actor_label(ev.actor, names))}</td>
<td>{e(EVENT_LABELS.get(ev.action, ev.action))}</td>
<td>{e(value(ev.before, ev.field) if ev.before is not None else ('无' if ev.field and ev.after is not None else ''))}{' → ' if ev.before is not None or ev.after is not None else ''}{e(value(ev.after, ev.field) if ev.after is not None else ('无' if ev.field else ''))}</td>
<td class="pre">{e(ev.note or '')}</td></tr>""" for ev in events)
    return f"""<div class="table-scroll"><table class="grid audit"><thead><tr><th>时间</th><th>操作人</th><th>操作</th><th>变更</th><th>说明</th></tr></thead>
<tbody>{rows or '<tr class="empty"><td colspan="5">暂无记录。</td></tr>'}</tbody></table></div>"""


def take_form(staff, t) -> str:
    """由我承办: the signed-in member of staff becomes the ticket's 承办人 (an open ticket not already theirs)."""
    if t.status not in lc.OPEN_STATES or t.assignee_id == staff.id:
        return ""
    return f"""<form method="post" action="/console/tickets/{e(t.number)}/assign" class="inline">{csrf_input(staff)}
<input type="hidden" name="staff_id" value="{e(staff.id)}"><button type="submit" id="take">由我承办</button></form>"""


def reclassify_form(staff, t, nodes) -> str:
    """Change an open ticket's category and/or node; the 办结时限 is recomputed (bot/tickets/service.py)."""
    if t.status not in lc.OPEN_STATES:
        return ""
    cats = "".join(f'<option value="{e(c.intent)}"{" selected" if c.intent == t.category else ""}>{e(c.content)} · {e(c.name)}</option>'
                   for c in CATEGORIES)
    node_opts = "".join(f'<option value="{e(n.id)}">{e(n.name)}</option>' for n in nodes)
    return f"""<section class="card"><h2>重新分类</h2><form method="post" action="/console/tickets/{e(t.number)}/reclassify" class="stack" id="reclassify-form">{csrf_input(staff)}
<label>需求类别<select name="category" required>{cats}</select></label>
<label>受理节点<select name="node_id"><option value="">按新类别的路由规则（类别不变则不变）</option>{node_opts}</select></label>
<input name="reason" maxlength="200" placeholder="调整原因（可选，记入办理记录）">
<button type="submit">保存分类</button><p class="hint">办结时限按新类别从受理时起重新计算；转到其他节点时承办人需重新指派。</p></form></section>"""


def ticket_files(files) -> str:
    """The files attached to a ticket (bot/files), each a download through the checked console route."""
    if not files:
        return ""
    items = "".join(f'<li>{file_html({"id": f.id, "name": f.name, "kind": f.kind, "size": f.size})}'
                    f'<span class="muted">{e("企业" if f.sender == "user" else "工作人员")} · {e(dt(f.created_at))}</span></li>'
                    for f in files)
    return f'<h2>附件（{len(files)}）</h2><ul class="files" id="ticket-files">{items}</ul>'


def ticket_page(staff, tv, names: dict, nodes, people, flash: str | None = None, error: str | None = None) -> str:
    from bot.desk.console.store import node_name

    t = tv.ticket
    ent = tv.enterprise
    contact = tv.contact
    info = f"""<dl class="kv">
<dt>企业</dt><dd>{e(ent.name if ent else '')}</dd>
<dt>统一社会信用代码</dt><dd>{e(ent.credit_code if ent and ent.credit_code else '—')}</dd>
<dt>联系人</dt><dd>{e(contact.name if contact else '—')} {e(contact.mobile if contact and contact.mobile else '')}</dd>
<dt>所在新城 / 园区</dt><dd>{e((ent.new_city or '') if ent else '')} {e((ent.park or '') if ent else '')}</dd>
<dt>来源渠道</dt><dd>{e(CHANNEL_LABELS.get(t.source_channel, t.source_channel))}</dd>
<dt>优先级</dt><dd>{e(PRIORITY_LABELS.get(t.priority, t.priority))}</dd>
<dt>承办人</dt><dd>{e(tv.assignee or '未指定')}</dd>
<dt>受理时间</dt><dd>{e(dt(t.created_at))}</dd>
<dt>首次响应</dt><dd>{e(dt(t.first_response_at)) or '尚未响应'}（时限 {e(dt(t.first_response_due))}）</dd>
<dt>办结</dt><dd>{e(dt(t.resolved_at)) or '未办结'}（时限 {e(dt(t.resolution_due))}）</dd>
{f'<dt>无法办理原因</dt><dd class="pre">{e(t.reason)}</dd>' if t.reason else ''}
{f'<dt>办理结果</dt><dd class="pre" id="ticket-result">{e(t.result)}</dd>' if t.result else ''}
{f'<dt>兑现金额</dt><dd>¥{e(t.redeemed_amount)}</dd>' if t.redeemed_amount is not None else ''}
{'<dt>回访</dt><dd>需回访</dd>' if t.followup_required else ''}
</dl>"""
    ratings = "".join(f"<li>{e(dt(r.created_at))}：{e(r.score)} 分 {e(r.comment or '')}</li>" for r in tv.ratings)
    conv = (f'<p><a href="/console/conversations/{e(tv.handover_conversation)}">打开关联会话</a></p>'
            if tv.handover_conversation else "")
    assign = transfer_form(staff, f"/console/tickets/{t.number}/assign", nodes, people,
                           node_label="转派节点", person_label="指定承办人", submit="保存", include_self=True)
    body = f"""<div class="convo">
<section class="card"><div class="head"><h1>{e(t.number)}</h1>
<span class="badge st-{e(t.status)}">{e(status_label(t.status))}</span></div>
<p class="muted">{e(category_label(t.category))} · {e(node_name(t.node_id))}</p>
<h2>需求描述</h2><div class="pre desc">{e(t.description)}</div>
{info}{conv}
{ticket_files(getattr(tv, "files", None))}
{f'<h2>评价</h2><ul>{ratings}</ul>' if ratings else ''}
<h2>办理记录（审计）</h2>{audit_table(tv.events, names)}
</section>
<aside><section class="card"><h2>办理操作</h2>{ticket_actions(staff, t, f'/console/tickets/{t.number}')}</section>
<section class="card"><h2>转派 / 指定承办人</h2>{take_form(staff, t)}{assign}</section>
{reclassify_form(staff, t, nodes)}</aside></div>"""
    return layout(t.number, body, staff, page="tickets", flash=flash, error=error)


# ---- reports -------------------------------------------------------------------------------------

def scoped_summary_html(summary, scope: set) -> str:
    """A lead's view of the monthly summary: the nodes in their scope only."""
    from bot.reports.render import fmt_hours, fmt_pct, fmt_score

    needs = [n for n in summary.nodes if n.node_id in scope]
    perf = [p for p in summary.performance if p.node_id in scope]
    need_rows = "".join(f"""<tr><td>{e(n.name)}</td><td>{n.accepted}</td><td>{n.closed}</td><td>{e(fmt_pct(n.completion_rate))}</td>
<td>{n.cannot_handle}</td><td>{n.open}</td></tr>""" for n in needs)
    tot = (sum(n.accepted for n in needs), sum(n.closed for n in needs), sum(n.cannot_handle for n in needs),
           sum(n.open for n in needs))
    rate = fmt_pct(tot[1] / tot[0]) if tot[0] else "—"
    perf_rows = "".join(f"""<tr><td>{e(p.name)}</td><td>{p.resolved}</td><td>{e(fmt_pct(p.on_time_rate))}</td>
<td>{e(fmt_hours(p.avg_first_response_hours))}</td><td>{e(fmt_hours(p.avg_resolution_hours))}</td><td>{p.ratings}</td>
<td>{e(fmt_score(p.satisfaction))}</td><td>{p.overdue_open}</td><td>{p.visits}</td></tr>""" for p in perf)
    return f"""<h3>需求受理与办结（本月受理）</h3>
<table class="grid"><thead><tr><th>服务节点</th><th>受理</th><th>办结</th><th>办结率</th><th>无法办理</th><th>在办</th></tr></thead>
<tbody>{need_rows}</tbody><tfoot><tr><td>合计</td><td>{tot[0]}</td><td>{tot[1]}</td><td>{e(rate)}</td><td>{tot[2]}</td><td>{tot[3]}</td></tr></tfoot></table>
<h3>绩效</h3>
<table class="grid"><thead><tr><th>服务节点</th><th>当月办结</th><th>按时办结率</th><th>平均首次响应</th><th>平均办结用时</th><th>评价</th><th>满意度</th><th>{e(summary.overdue_label)}</th><th>入企服务</th></tr></thead>
<tbody>{perf_rows or '<tr class="empty"><td colspan="9">本月暂无数据。</td></tr>'}</tbody></table>"""


def reports_page(staff, month: str, monthly: str, dispatch: str, now: datetime, error: str | None = None) -> str:
    body = f"""<section class="card"><div class="head"><h1>今日调度清单 <small>{e(dt(now, '%Y年%m月%d日'))}</small></h1></div>
{dispatch}</section>
<section class="card"><div class="head"><h1>月总结</h1>
<form method="get" action="/console/reports" class="inline"><label>月份 <input type="month" name="month" value="{e(month)}" required></label>
<button type="submit">查看</button></form></div>{monthly}</section>"""
    return layout("调度与报表", body, staff, page="reports", error=error)
