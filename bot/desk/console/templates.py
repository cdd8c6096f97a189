"""HTML of the console pages: Jinja2 templates in bot/desk/templates/console/ and the helpers they use.

Every page extends console/layout.html (top bar, messages, the console's script) and is rendered by
`render()`. The templates are autoescaped (bot.templating): a value is escaped unless a template marks it
safe, so no call site has to remember to escape. What needs Python — labels, dates, the ticket transitions
a member of staff may make, audit value texts — is computed here; the helpers registered below are the
templates' globals. No external assets: one stylesheet and one script served by the desk itself (static
files), so the Content-Security-Policy can forbid inline scripts and styles entirely.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from html import escape
from types import SimpleNamespace
from typing import Any, Iterable, Optional
from urllib.parse import urlencode

from markupsafe import Markup

from bot.clock import BEIJING
from bot.desk import pages
from bot.desk.console.store import node_name
from bot.files.sniff import ACCEPT_ATTR
from bot.reports.render import fmt_hours, fmt_pct, fmt_score
from bot.taxonomy import BY_INTENT, CATEGORIES
from bot.tickets import history
from bot.tickets import lifecycle as lc

ROLE_LABELS = {"staff": "工作人员", "lead": "节点负责人", "admin": "管理员"}
REASON_LABELS = {
    "request_human": "用户要求人工",
    "fallback": "机器人无法理解",
    "complaint": "投诉",
    "staff_only": "需人工办理",
    "staff_takeover": "工作人员主动接管",
}
MODE_LABELS = {"bot": "机器人接待中", "waiting": "等待人工", "staff": "人工服务中"}
CHANNEL_LABELS = {
    "web": "网页聊天",
    "wechat_mp": "微信公众号",
    "wecom": "企业微信",
    "rest": "接口",
    "visit": "入企服务",
}
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

NAV = (
    ("queue", "/console/", "人工队列"),
    ("mine", "/console/mine", "我的"),
    ("tickets", "/console/tickets", "工单"),
    ("reports", "/console/reports", "调度与报表"),
    ("dashboard", "/console/dashboard", "数据看板"),
)
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
    return links + (
        (("admin", "/console/admin/staff", "账号管理"), ("privacy", "/console/admin/privacy", "个人信息"))
        if staff.role == "admin"
        else ()
    )


pages.ENV.globals.update(
    nav_links=nav_links,
    node_name=node_name,
    csrf_input=csrf_input,
    role_label=lambda r: ROLE_LABELS.get(r, r),
    dt=dt,
    iso=iso,
    waited=waited,
    category_label=category_label,
    status_label=status_label,
    qs=qs,
    CHANNEL_LABELS=CHANNEL_LABELS,
    MODE_LABELS=MODE_LABELS,
    REASON_LABELS=REASON_LABELS,
    PRIORITY_LABELS=PRIORITY_LABELS,
    EVENT_LABELS=EVENT_LABELS,
    ROLE_LABELS=ROLE_LABELS,
)


def render(
    template: str,
    title: str,
    staff=None,
    page: str = "",
    data: dict | None = None,
    flash: str | None = None,
    error: str | None = None,
    **context: Any,
) -> str:
    """A console page: `template` (under bot/desk/templates/, extending console/layout.html) with the layout's
    values (`title`, the signed-in `staff` or None, the nav key `page`, body data-* attributes, messages)."""
    return pages.render(
        template, title=title, staff=staff, page=page, data=data or {}, flash=flash, error=error, **context
    )


def error_page(title: str, message: str, staff=None, status_hint: str = "") -> str:
    return render("console/error.html", title, staff, message=message)


# ---- sign-in -------------------------------------------------------------------------------------


def login_page(csrf: str, next_url: str, message: str | None, username: str) -> str:
    return render("console/login.html", "登录", csrf=csrf, next_url=next_url, message=message, username=username)


def logout_page(staff) -> str:
    return render("console/logout.html", "退出登录", staff)


# ---- the queue -----------------------------------------------------------------------------------


def queue_page(staff, items, due, recent, now: datetime, unread: Optional[dict] = None) -> str:
    return render(
        "console/queue.html",
        "人工队列",
        staff,
        page="queue",
        items=items,
        due=due,
        recent=recent,
        now=now,
        unread=unread or {},
    )


def mine_page(staff, items, unread: dict, rows, now: datetime) -> str:
    """我的: the conversations this member of staff is serving and the open tickets they are 承办人 of."""
    return render("console/mine.html", "我的", staff, page="mine", items=items, unread=unread, rows=rows, now=now)


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
    return {
        "id": m.id,
        "kind": kind,
        "who": who,
        "text": m.text or "",
        "time": dt(m.created_at, "%m-%d %H:%M:%S"),
        "buttons": message_buttons(m),
        "file": message_file(m),
    }


def file_size(n: Any) -> str:
    n = n if isinstance(n, int) else 0
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{max(1, round(n / 1024))} KB"


def snapshot(entries: list) -> list[tuple[str, str, str]]:
    """(css class, label, text) of the messages of a stored transcript (a conversation without messages rows)."""
    items = []
    for entry in entries[-200:]:
        if not isinstance(entry, dict):
            continue
        author = entry.get("author") or entry.get("event") or entry.get("sender") or ""
        text = entry.get("text") or ""
        if not text:
            continue
        cls = "user" if author in ("user", "用户") else "bot"
        items.append((cls, "企业用户" if cls == "user" else "原上管家（机器人）", text))
    return items


def ticket_targets(t) -> SimpleNamespace:
    """What the ticket_actions macro offers: one-click targets (target, label), whether 办结 (with 兑现金额 for
    政策兑现), 待补充 and 无法办理 are allowed (their status values, or None)."""
    targets = [s for s in lc.LABELS if s in lc.TRANSITIONS.get(t.status, ()) and s not in (lc.RATED, t.status)]
    buttons = []
    for target in targets:
        if target in lc.TEXT_REQUIRED:
            continue
        label = {
            lc.IN_PROGRESS: "重新办理"
            if t.status in lc.FINAL_STATES
            else "继续办理"
            if t.status == lc.AWAITING_INFO
            else "开始办理",
            lc.ASSIGNED: "已分派",
        }.get(target, lc.LABELS[target])
        buttons.append((target, label))
    return SimpleNamespace(
        buttons=buttons,
        resolve=lc.RESOLVED in targets,
        amount=t.service_content == "政策兑现",
        **{"await": lc.AWAITING_INFO if lc.AWAITING_INFO in targets else None},
        cannot=lc.CANNOT_HANDLE if lc.CANNOT_HANDLE in targets else None,
    )


def conversation_page(
    staff,
    cv,
    messages: list[dict],
    canned: list[dict],
    nodes,
    people,
    now: datetime,
    flash: str | None = None,
    error: str | None = None,
) -> str:
    h = cv.handover
    conv = cv.conversation
    mode = conv.mode if conv is not None else ("staff" if cv.handover_open else "bot")
    mine = cv.handover_open and h.claimed_by == staff.id
    last_id = messages[-1]["id"] if messages else 0
    data = {
        "conversation": cv.id,
        "last-id": last_id,
        "handover": h.id if h is not None else "",
        "claimed": (h.claimed_by or "") if h is not None else "",
        "open": "1" if cv.handover_open else "0",
    }
    return render(
        "console/conversation.html",
        cv.enterprise_name or "会话",
        staff,
        page="conversation",
        data=data,
        flash=flash,
        error=error,
        cv=cv,
        messages=messages,
        canned=canned,
        nodes=nodes,
        people=people,
        now=now,
        mode=mode,
        mine=mine,
        accept=ACCEPT_ATTR,
        snapshot=snapshot(cv.transcript) if not messages and cv.transcript else [],
    )


# ---- tickets -------------------------------------------------------------------------------------


def tickets_page(staff, rows, total: int, page: int, per_page: int, filters: dict, nodes) -> str:
    pages_ = max(1, -(-total // per_page))
    return render(
        "console/tickets.html",
        "工单",
        staff,
        page="tickets",
        rows=rows,
        total=total,
        pages=pages_,
        filters=filters,
        current=page,
        prev_qs=qs(**filters, page=page - 1),
        next_qs=qs(**filters, page=page + 1),
        status_opts=[("open", "在办（全部未结）")] + list(lc.LABELS.items()),
        cat_opts=[(c.intent, f"{c.content} · {c.name}") for c in CATEGORIES],
        node_opts=[(n.id, n.name) for n in nodes],
    )


def actor_label(actor: str, names: dict) -> str:
    if actor.startswith("staff:"):
        u = actor.split(":", 1)[1]
        return f"{names.get(u, u)}（工作人员）"
    if actor.startswith("user:"):
        return "企业用户"
    return "系统" if actor == "system" else actor


def audit_rows(events, names: dict) -> list[SimpleNamespace]:
    """The ticket's audit trail as the audit_table macro shows it. `names`: display names by username (actors)
    and by staff id (values such as 接待专员 / 承办人)."""
    staff = {k: v for k, v in names.items() if isinstance(k, int)}

    def value(raw, field):
        return history.value_text(raw, field, staff=staff)

    return [
        SimpleNamespace(
            at=dt(ev.at, "%Y-%m-%d %H:%M:%S"),
            actor=actor_label(ev.actor, names),
            action=EVENT_LABELS.get(ev.action, ev.action),
            before=value(ev.before, ev.field)
            if ev.before is not None
            else ("无" if ev.field and ev.after is not None else ""),
            arrow=ev.before is not None or ev.after is not None,
            after=value(ev.after, ev.field) if ev.after is not None else ("无" if ev.field else ""),
            note=ev.note or "",
        )
        for ev in events
    ]


def ticket_page(staff, tv, names: dict, nodes, people, flash: str | None = None, error: str | None = None) -> str:
    return render(
        "console/ticket.html",
        tv.ticket.number,
        staff,
        page="tickets",
        flash=flash,
        error=error,
        tv=tv,
        nodes=nodes,
        people=people,
        audit=audit_rows(tv.events, names),
        files=getattr(tv, "files", None) or [],
        OPEN_STATES=lc.OPEN_STATES,
        CATEGORIES=CATEGORIES,
    )


def close_confirm_page(staff, t, result: str, amount: str, preview: Optional[str], return_to: str) -> str:
    """The confirmation step of 办结: what the enterprise will receive, then 确认 or back."""
    return render(
        "console/close_confirm.html",
        f"确认办结 {t.number}",
        staff,
        page="tickets",
        t=t,
        result=result,
        amount=amount,
        preview=preview,
        return_to=return_to,
    )


# ---- reports -------------------------------------------------------------------------------------


def reports_page(
    staff, month: str, dispatch: str, now: datetime, may_see: bool, summary=None, error: str | None = None
) -> str:
    """调度与报表: today's dispatch lists, then the monthly summary — the whole report in a frame for whole-network
    leads, the nodes in scope (`summary` given) for the others, a note for staff who are not leads."""
    scope = set(staff.scope) if summary is not None else set()
    return render(
        "console/reports.html",
        "调度与报表",
        staff,
        page="reports",
        error=error,
        month=month,
        dispatch=Markup(dispatch),
        now=now,
        may_see=may_see,
        summary=summary,
        q=qs(month=month),
        needs=[n for n in summary.nodes if n.node_id in scope] if summary is not None else [],
        perf=[p for p in summary.performance if p.node_id in scope] if summary is not None else [],
        fmt_pct=fmt_pct,
        fmt_hours=fmt_hours,
        fmt_score=fmt_score,
    )


# the macros of console/macros.html call these
pages.ENV.globals.update(ticket_targets=ticket_targets, file_size=file_size)
