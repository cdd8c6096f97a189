"""知识库 in the console: entries edited as drafts, approved by a second person, published to knowledge/.

Routes (all under the console's sessions and CSRF; docs/knowledge-editing.md has the workflow):
  GET  /console/knowledge                      entries, open drafts, counts of entries to review
  GET  /console/knowledge/entries/{id}         an entry: replies as the chat shows them, drafts, version history
  GET  /console/knowledge/review               entries past their review date or policy expiry (flagged)
  GET  /console/knowledge/gaps                 unanswered / 没帮助 questions, grouped, with 起草
  POST /console/knowledge/drafts               start a draft (an entry, a new id, or from a question group)
  GET  /console/knowledge/drafts/{n}           the editor: fields, checks, chat preview, questions it would answer
  POST /console/knowledge/drafts/{n}/save      save (revision check) / add a FAQ / save and submit for review
  POST /console/knowledge/drafts/{n}/approve   approve and publish (a second person, lead/admin of the whole network)
  POST /console/knowledge/drafts/{n}/reject    send back with a comment
  POST /console/knowledge/drafts/{n}/withdraw  drop the draft
  POST /console/knowledge/drafts/{n}/rebase    after a publishing conflict: based on the newest published text
  GET  /console/knowledge/versions/{v}         one published text and what changed
Who: every role may read and write drafts (bot.knowledge.drafts.EDIT_ROLES); approving needs a lead or an
admin whose scope is the whole network, never the draft's author or an editor of it. The logged user
questions (gaps, "would now answer") have no node, so — as on the 数据看板 — only whole-network staff see them.
Every write is in the console audit.
"""
from __future__ import annotations

import asyncio
import difflib
import logging
import threading
from datetime import date
from pathlib import Path
from typing import Optional

from aiohttp import web

from bot.desk.console import templates as t
from bot.desk.console import views
from bot.desk.console.auth import StaffView, current_staff, write_audit, client_ip
from bot.desk.keys import SETTINGS_KEY
from bot.knowledge import KnowledgeService
from bot.knowledge import drafts as dr
from bot.knowledge import editing as ed
from bot.knowledge import gaps as gp
from bot.knowledge.model import LEVELS
from bot.taxonomy import CATEGORIES

log = logging.getLogger(__name__)
e = t.e
BASE = "/console/knowledge"
SERVICE_KEY = web.AppKey("knowledge_editor_service", dict)
CANDIDATES_KEY = web.AppKey("knowledge_editor_candidates", object)
CONFIRM_LABELS = {"doc_number": "文号", "effective": "生效日期", "expires": "失效日期", "window": "申报时间",
                  "figures": "数额"}


# ---- context -----------------------------------------------------------------------------------------

def _dir(request: web.Request) -> Path:
    settings = request.app[SETTINGS_KEY]
    return Path(getattr(settings, "knowledge_dir", None) or Path(__file__).resolve().parents[3] / "knowledge")


def _actor(staff: StaffView) -> dr.Actor:
    return dr.Actor(staff.username, staff.role, staff.all_nodes)


def _today(request: web.Request) -> date:
    from zoneinfo import ZoneInfo

    return views.now_of(request).astimezone(ZoneInfo("Asia/Shanghai")).date()


_lock = threading.Lock()


class _Published:
    """The desk's own copy of the published base: the validated entries (cheap to load, re-read whenever a
    file under knowledge/ changes: a publication here or on another desk, a hand edit) and, built on first
    use, a KnowledgeService over it for the chat previews of entry pages (seconds: the retriever's
    calibration). Publishing reloads both, so the desk sees the new entry as the action server does."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.signature: tuple = ()
        self.kb = None
        self.error: Optional[str] = None
        self.service: Optional[KnowledgeService] = None

    def base(self):
        from bot.knowledge import KnowledgeError, load_base
        from bot.knowledge.service import directory_signature

        signature = directory_signature(self.directory)
        with _lock:
            if signature != self.signature:
                try:
                    self.kb, self.error = load_base(self.directory), None
                except KnowledgeError as exc:          # keep the last good copy, as the services do
                    self.error = str(exc)
                self.signature = signature
            return self.kb

    def answering(self) -> KnowledgeService:
        with _lock:
            if self.service is None:
                self.service = KnowledgeService(self.directory, background_reload=False)
                return self.service
        self.service.reload()
        return self.service


def _published(request: web.Request) -> _Published:
    holder = request.app[SERVICE_KEY]
    directory = _dir(request)
    with _lock:
        copy = holder.get(str(directory))
        if copy is None:
            copy = holder[str(directory)] = _Published(directory)
        return copy


def _base(request: web.Request):
    return _published(request).base()


def _service(request: web.Request) -> KnowledgeService:
    return _published(request).answering()


async def _audit(request: web.Request, staff: StaffView, action: str, detail: str) -> None:
    await views.run(write_audit, views.db_url(request), staff.actor, action, detail=detail[:2000],
                    ip=client_ip(request), at=views.now_of(request))


async def _refuse(request: web.Request, staff: StaffView, what: str) -> web.Response:
    return await views.denied(request, staff, what)


def _page(title: str, body: str, staff: StaffView, flash=None, error=None, status: int = 200) -> web.Response:
    return views.html(t.layout(title, body, staff, page="knowledge", flash=flash, error=error), status)


def _int(value, default: int = 0) -> int:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return default
    return n if 0 <= n < 2 ** 31 else default


def _label(username: str, names: dict) -> str:
    if username == dr.FILE_AUTHOR:
        return "（服务器上的文件）"
    return names.get(username, username)


def _names(db: str) -> dict:
    from bot.staff.accounts import list_staff

    return {r.username: r.display_name for r in list_staff(db)}


def _diff(old: str, new: str, old_label: str, new_label: str) -> str:
    lines = list(difflib.unified_diff((old or "").splitlines(), (new or "").splitlines(), old_label, new_label,
                                      lineterm="", n=2))
    if not lines:
        return '<p class="muted">内容相同。</p>'
    out = []
    for line in lines:
        cls = "add" if line.startswith("+") and not line.startswith("+++") else \
            "del" if line.startswith("-") and not line.startswith("---") else "hunk" if line.startswith("@@") else ""
        out.append(f'<span class="{cls}">{e(line)}</span>')
    return f'<pre class="kb-diff">{chr(10).join(out)}</pre>'


def _status_badge(status: str) -> str:
    return f'<span class="badge kb-{e(status)}">{e(dr.STATUS_LABELS.get(status, status))}</span>'


# ---- the index -------------------------------------------------------------------------------------------

def _drafts_table(rows, names: dict) -> str:
    if not rows:
        return '<p class="muted">暂无。</p>'
    body = "".join(
        f"""<tr data-draft="{d.id}"><td><a href="{BASE}/drafts/{d.id}">草稿 {d.id}</a></td><td>{e(d.entry_id)}{' <small>（新条目）</small>' if d.is_new else ''}</td>
<td>{_status_badge(d.status)}</td><td>{e(_label(d.author, names))}</td><td>{e(t.dt(d.updated_at, '%m-%d %H:%M'))}</td></tr>"""
        for d in rows)
    return f"""<div class="scroll"><table class="grid"><thead><tr><th>草稿</th><th>条目</th><th>状态</th><th>作者</th><th>更新</th></tr></thead>
<tbody>{body}</tbody></table></div>"""


async def index(request: web.Request) -> web.Response:
    staff = current_staff(request)
    db = views.db_url(request)
    q = (request.query.get("q") or "").strip()[:50]
    kb = await views.run(_base, request)
    open_rows = await views.run(dr.open_drafts, db)
    names = await views.run(_names, db)
    pending = [d for d in open_rows if d.status == dr.PENDING]
    mine = [d for d in open_rows if d.status == dr.DRAFT]
    flagged = ed.flags(kb, _today(request)) if kb is not None else []
    flagged_ids = {f.entry_id: f for f in flagged}
    entries = sorted(kb, key=lambda x: x.id) if kb is not None else []
    if q:
        entries = [x for x in entries if q in x.id or q in x.title or any(q in f.question for f in x.faqs)]
    rows = "".join(
        f"""<tr data-entry="{e(x.id)}"><td><a href="{BASE}/entries/{e(x.id)}">{e(x.title)}</a><small>{e(x.id)}</small></td>
<td>{e(x.level)}</td><td>{len(x.faqs)}</td><td>{e(x.reviewed_on or '—')}</td>
<td>{'<span class="badge kb-flag">需复核</span>' if x.id in flagged_ids else ''}</td></tr>""" for x in entries)
    error = None if kb is not None else f"知识库当前无法加载：{_published(request).error or ''}"
    gaps_link = f'<a href="{BASE}/gaps">未解答的问题</a>' if staff.all_nodes else ""
    body = f"""<section class="card"><div class="head"><h1>知识库 <span class="count">{len(kb) if kb else 0}</span></h1>
<span class="actions"><a href="{BASE}/review">需复核条目 <b id="flag-count">{len(flagged)}</b></a> {gaps_link}</span></div>
<p class="muted">知识条目以 knowledge/ 目录下的文件为准：在这里修改后保存为草稿，由另一位同事审核通过即写入文件并让助手重新加载，无需重启。</p>
<form method="post" action="{BASE}/drafts" class="inline kb-new">{t.csrf_input(staff)}<input type="hidden" name="new" value="1">
<label>新条目 id <input name="entry_id" required maxlength="80" pattern="[a-z0-9]+(-[a-z0-9]+)*" placeholder="例如 talent-housing-subsidy"></label>
<button type="submit">新建条目</button></form></section>
<section class="card"><h2>待审核 <span class="count">{len(pending)}</span></h2>{_drafts_table(pending, names)}</section>
<section class="card"><h2>草稿 <span class="count">{len(mine)}</span></h2>{_drafts_table(mine, names)}</section>
<section class="card"><div class="head"><h2>全部条目</h2>
<form method="get" action="{BASE}" class="inline"><input name="q" value="{e(q)}" placeholder="id / 标题 / 问题" maxlength="50"><button type="submit">查找</button></form></div>
<div class="scroll"><table class="grid kb-entries"><thead><tr><th>条目</th><th>层级</th><th>问答</th><th>复核日期</th><th></th></tr></thead>
<tbody>{rows or '<tr class="empty"><td colspan="5">没有符合条件的条目。</td></tr>'}</tbody></table></div></section>"""
    return _page("知识库", body, staff, error=error)


# ---- an entry ------------------------------------------------------------------------------------------

def _bubbles(preview: ed.FaqPreview) -> str:
    items = "".join(
        f"""<li class="msg bot"><div class="text">{e(b.text)}</div>{'<div class="chips">' + ''.join(f'<span class="chip">{e(x)}</span>' for x in b.buttons) + '</div>' if b.buttons else ''}</li>"""
        for b in preview.bubbles)
    note = "" if preview.picks_itself else \
        '<p class="err">注意：用这条问答自己的问题提问，助手没有首先给出它（见下面的回复），可能与其他问答太接近。</p>'
    return f"""<div class="kb-preview" data-faq="{e(preview.faq_id)}"><h3>{e(preview.question)} <small>{e(preview.faq_id)}</small></h3>{note}
<ol class="messages kb-chat"><li class="msg user"><div class="text">{e(preview.question)}</div></li>{items}</ol></div>"""


def _versions_table(rows, names: dict) -> str:
    if not rows:
        return '<p class="muted">尚无在工作台发布的版本（当前文件为最初版本）。</p>'
    body = "".join(
        f"""<tr><td><a href="{BASE}/versions/{v.id}">第 {v.version} 版</a></td><td>{e(t.dt(v.created_at))}</td>
<td>{e(_label(v.author, names))}</td><td>{e(_label(v.approved_by, names) if v.approved_by else '—')}</td>
<td>{f'<a href="{BASE}/drafts/{v.draft_id}">草稿 {v.draft_id}</a>' if v.draft_id else ''}</td><td class="pre">{e(v.note or '')}</td></tr>"""
        for v in rows)
    return f"""<div class="scroll"><table class="grid kb-versions"><thead><tr><th>版本</th><th>发布时间</th><th>撰写</th><th>审核</th><th>草稿</th><th>说明</th></tr></thead>
<tbody>{body}</tbody></table></div>"""


async def entry_page(request: web.Request) -> web.Response:
    staff = current_staff(request)
    db = views.db_url(request)
    entry_id = request.match_info["entry_id"]
    kb = await views.run(_base, request)
    if kb is None or kb.entry(entry_id) is None:
        return views.html(t.error_page("没有该条目", f"知识库中没有条目 “{entry_id[:80]}”。", staff), 404)
    today = _today(request)
    service = await views.run(_service, request)
    entry = service.base.entry(entry_id) if service.base is not None else None
    if entry is None:
        entry = kb.entry(entry_id)
        previews = []
    else:
        previews = await views.run(ed.preview, service, entry, today)
    vrows = await views.run(dr.versions, db, entry_id)
    open_rows = await views.run(dr.open_drafts, db, entry_id)
    names = await views.run(_names, db)
    flag = next((f for f in ed.flags(kb, today) if f.entry_id == entry_id), None)
    flag_html = (f'<div class="flash err kb-flagged">需复核：{e("；".join(flag.reasons))}</div>' if flag else "")
    info = f"""<dl class="kv"><dt>id</dt><dd>{e(entry.id)}</dd><dt>发文机关</dt><dd>{e(entry.issuer)}</dd>
<dt>文号</dt><dd>{e(entry.doc_number or '—')}</dd><dt>层级</dt><dd>{e(entry.level)}</dd>
<dt>生效 / 失效</dt><dd>{e(entry.effective or '—')} / {e(entry.expires or '长期')}</dd>
<dt>复核日期</dt><dd>{e(entry.reviewed_on or '—')}</dd><dt>依据</dt><dd>{e(entry.source)}</dd></dl>"""
    body = f"""<section class="card"><div class="head"><h1>{e(entry.title)}</h1>
<form method="post" action="{BASE}/drafts" class="inline">{t.csrf_input(staff)}<input type="hidden" name="entry_id" value="{e(entry.id)}">
<button type="submit" class="primary" id="edit-entry">编辑（新建草稿）</button></form></div>{flag_html}{info}
{f'<h2>未发布的草稿</h2>{_drafts_table(open_rows, names)}' if open_rows else ''}</section>
<section class="card"><h2>助手的回复（当前发布的版本）</h2>{''.join(_bubbles(p) for p in previews)}</section>
<section class="card"><h2>版本历史</h2>{_versions_table(vrows, names)}</section>"""
    return _page(entry.title, body, staff)


# ---- flagged entries and unanswered questions ---------------------------------------------------------

async def review_page(request: web.Request) -> web.Response:
    staff = current_staff(request)
    kb = await views.run(_base, request)
    today = _today(request)
    rows = ed.flags(kb, today) if kb is not None else []
    body_rows = "".join(
        f"""<tr class="{'over' if f.severity >= 2 else ''}" data-entry="{e(f.entry_id)}"><td><a href="{BASE}/entries/{e(f.entry_id)}">{e(f.title)}</a><small>{e(f.entry_id)}</small></td>
<td>{e(f.reviewed_on or '—')}</td><td>{e(f.expires or '—')}</td><td class="wrap">{e('；'.join(f.reasons))}</td></tr>""" for f in rows)
    body = f"""<section class="card"><h1>需复核的条目 <span class="count">{len(rows)}</span></h1>
<p class="muted">复核日期超过 {ed.REVIEW_AFTER_DAYS} 天、没有复核日期、政策已到期或 {ed.EXPIRING_DAYS} 天内到期的条目。红色为已到期且没有接替条目，或从未复核。</p>
<div class="scroll"><table class="grid kb-flags"><thead><tr><th>条目</th><th>复核日期</th><th>失效日期</th><th>原因</th></tr></thead>
<tbody>{body_rows or '<tr class="empty"><td colspan="4">没有需要复核的条目。</td></tr>'}</tbody></table></div></section>"""
    return _page("需复核的条目", body, staff)


def _gaps(db: str, now, kb) -> list[gp.Group]:
    """Grouped with the retriever's analyser (jieba, the base's synonyms: 高企 = 高新技术企业)."""
    from bot.knowledge.retriever import Analyzer

    return gp.group_questions(gp.open_questions(db, now), Analyzer(kb.synonyms if kb is not None else []))


async def gaps_page(request: web.Request) -> web.Response:
    staff = current_staff(request)
    if not staff.all_nodes:
        return await _refuse(request, staff, "未解答的问题（用户提问不属于任何节点，仅综合服务中心和管理员可见）")
    db = views.db_url(request)
    kb = await views.run(_base, request)
    groups = await views.run(_gaps, db, views.now_of(request), kb)
    faq_entry = {f.id: f.entry_id for f in kb.faqs.values()} if kb is not None else {}
    # a group whose answers did not help: the entry that gave them is the first candidate to extend
    suggest = {i: faq_entry.get(g.faq_ids[0], "") for i, g in enumerate(groups[:60]) if g.faq_ids}
    ids = "".join(f'<option value="{e(x)}">' for x in sorted(set(faq_entry.values())))
    cards = []
    for i, g in enumerate(groups[:60]):
        members = "".join(f'<li>{e(a.text)} <small>×{a.times}</small></li>' for a in g.questions[:12])
        more = f'<li class="muted">另有 {len(g.questions) - 12} 种问法</li>' if len(g.questions) > 12 else ""
        variants = "\n".join(a.text for a in g.questions[1:12])
        faqs = "、".join(g.faq_ids)
        cards.append(f"""<div class="kb-gap" data-group="{i}"><div class="head"><h3>{e(g.lead.text)}</h3>
<span><b>{g.times}</b> 次 <small>未解答 {g.unanswered} · 没帮助 {g.not_helpful} · 最近 {e(t.dt(g.last, '%m-%d %H:%M'))}</small></span></div>
<ul>{members}{more}</ul>{f'<p class="muted">没帮助的回答：{e(faqs)}</p>' if faqs else ''}
<form method="post" action="{BASE}/drafts" class="inline">{t.csrf_input(staff)}
<input type="hidden" name="question" value="{e(g.lead.text)}"><input type="hidden" name="variants" value="{e(variants)}">
<label>条目 id <input name="entry_id" required maxlength="80" pattern="[a-z0-9]+(-[a-z0-9]+)*" list="kb-entry-ids"
 value="{e(suggest.get(i, ''))}"></label>
<button type="submit" name="new" value="1">据此起草新条目</button>
<button type="submit" name="new" value="0">作为新问答加入该条目</button></form></div>""")
    body = f"""<section class="card"><h1>未解答与“没帮助”的问题 <small>近 {gp.DAYS} 天，相近的问法归为一组；号码已隐去</small></h1>
<p class="muted">按提问次数排列。填上新条目的 id 后点“据此起草新条目”，或填上已有条目的 id 后点“作为新问答加入该条目”：
这组问法会作为问题和问法变体填入草稿。回答“没帮助”的组已填上给出该回答的条目。</p>
<datalist id="kb-entry-ids">{ids}</datalist>
{''.join(cards) or '<p class="muted">近期没有未解答或“没帮助”的问题。</p>'}</section>"""
    return _page("未解答的问题", body, staff)


# ---- drafts ----------------------------------------------------------------------------------------------

async def create_draft(request: web.Request) -> web.Response:
    staff = current_staff(request)
    actor = _actor(staff)
    if not actor.may_edit:
        return await _refuse(request, staff, "知识库编辑")
    form = await request.post()
    entry_id = str(form.get("entry_id", "")).strip()
    new = form.get("new") == "1"
    question = str(form.get("question", "")).strip()[:500]
    variants = [v.strip()[:500] for v in str(form.get("variants", "")).splitlines() if v.strip()][:30]
    if (question or variants) and not staff.all_nodes:
        return await _refuse(request, staff, "未解答的问题（仅综合服务中心和管理员可见）")
    content = origin = None
    if new:
        content = ed.text_from_form(ed.new_entry_form(entry_id, question, variants, _today(request)))
        origin = ("据未解答的问题起草：" + question) if question else None
    elif question:
        published = ed.read_entry_text(_dir(request), entry_id)
        if published is not None:
            try:
                content = ed.text_with_faq(published, question, variants)
            except ValueError as exc:
                return views.html(t.error_page("不能新建草稿", f"条目文件无法读成表单：{exc}", staff), 400)
            origin = "据未解答的问题补充问答：" + question
    try:
        draft = await views.run(dr.start_draft, views.db_url(request), _dir(request), actor, entry_id, content,
                                new=new, origin=origin, now=views.now_of(request))
    except dr.EditError as exc:
        return views.html(t.error_page("不能新建草稿", str(exc), staff), 400)
    await _audit(request, staff, "kb_draft_create", f"draft {draft.id} {draft.entry_id}{' (new)' if new else ''}")
    raise web.HTTPSeeOther(f"{BASE}/drafts/{draft.id}")


def _field_errors(errors: dict, name: str) -> str:
    items = errors.get(name) or []
    return "".join(f'<span class="err field-err">{e(x)}</span>' for x in items)


def _input(form: ed.EntryForm, errors: dict, name: str, label: str, *, kind: str = "text", hint: str = "",
           area: int = 0, readonly: bool = False, attrs: str = "") -> str:
    value = form.get(name)
    cls = ' class="invalid"' if errors.get(name) else ""
    ro = " readonly" if readonly else ""
    control = (f'<textarea name="{name}" rows="{area}"{cls}{ro} {attrs}>{e(value)}</textarea>' if area else
               f'<input type="{kind}" name="{name}" value="{e(value)}"{cls}{ro} {attrs}>')
    return f'<label>{e(label)}{control}{f"<small>{e(hint)}</small>" if hint else ""}{_field_errors(errors, name)}</label>'


def _faq_input(i: int, faq: dict, errors: dict, name: str, label: str, area: int = 0, hint: str = "") -> str:
    full = f"faq-{i}-{name}"
    cls = ' class="invalid"' if errors.get(full) else ""
    value = faq.get(name, "")
    control = (f'<textarea name="{full}" rows="{area}"{cls}>{e(value)}</textarea>' if area else
               f'<input name="{full}" value="{e(value)}"{cls}>')
    return f'<label>{e(label)}{control}{f"<small>{e(hint)}</small>" if hint else ""}{_field_errors(errors, full)}</label>'


def _editor(staff: StaffView, draft, form: ed.EntryForm, errors: dict, revision: int) -> str:
    levels = "".join(f'<option value="{e(x)}"{" selected" if form.get("level") == x else ""}>{e(x)}</option>'
                     for x in LEVELS)
    cats = "".join(f'<label class="check"><input type="checkbox" name="categories" value="{e(c.intent)}"'
                   f'{" checked" if c.intent in form.categories else ""}> {e(c.name)}</label>' for c in CATEGORIES)
    faqs = []
    for i, faq in enumerate(form.faqs):
        faqs.append(f"""<fieldset class="kb-faq" data-index="{i}"><legend>问答 {i + 1}</legend>
{_faq_input(i, faq, errors, 'id', '问答 id（全库唯一）')}
{_faq_input(i, faq, errors, 'question', '标准问题')}
{_faq_input(i, faq, errors, 'variants', '其他问法（每行一个，至少 1 个，建议 8 个以上）', area=4)}
{_faq_input(i, faq, errors, 'answer', '答案（给企业看的正文，下一步另写）', area=5)}
{_faq_input(i, faq, errors, 'next_step', '下一步（可空，空则用条目的下一步）')}
{_faq_input(i, faq, errors, 'keywords', '本问答的检索词（可空，用顿号或逗号分隔）')}
<details><summary>本问答的申报时间（可空）</summary>
{_faq_input(i, faq, errors, 'window_note', '在哪里公布')}{_faq_input(i, faq, errors, 'window_months', '往年月份，如 5, 6')}
{_faq_input(i, faq, errors, 'window_opens', '本批开始 YYYY-MM-DD')}{_faq_input(i, faq, errors, 'window_closes', '本批截止 YYYY-MM-DD')}</details>
<label class="check"><input type="checkbox" name="faq-{i}-remove" value="1"> 删除这个问答</label></fieldset>""")
    cat_err = _field_errors(errors, "categories")
    return f"""<form method="post" action="{BASE}/drafts/{draft.id}/save" class="kb-editor" id="kb-editor">{t.csrf_input(staff)}
<input type="hidden" name="revision" value="{revision}"><input type="hidden" name="faq_count" value="{len(form.faqs)}">
<div class="kb-grid">
{_input(form, errors, 'id', '条目 id（= 文件名）', readonly=True)}
{_input(form, errors, 'title', '标题', attrs='maxlength="120"')}
{_input(form, errors, 'issuer', '发文机关（窗口事项写 秦创原总窗口）')}
{_input(form, errors, 'doc_number', '文号（没有或未核实则留空）')}
<label>层级<select name="level">{levels}</select>{_field_errors(errors, 'level')}</label>
{_input(form, errors, 'effective', '生效日期 YYYY-MM-DD（未核实留空）')}
{_input(form, errors, 'expires', '失效日期（有效期至，长期有效留空）')}
{_input(form, errors, 'reviewed_on', '复核日期（按来源核对的那天）')}
{_input(form, errors, 'superseded_by', '被哪个条目取代（条目 id，可空）')}
</div>
<fieldset class="kb-cats"><legend>需求类别（至少一个）</legend>{cats}{cat_err}</fieldset>
{_input(form, errors, 'source', '依据（《文件名》（文号），或写明以哪个部门的现行规定为准）', area=2)}
{_input(form, errors, 'keywords', '检索词（用顿号或逗号分隔）', area=2)}
{_input(form, errors, 'next_step', '条目的下一步（各问答默认）')}
{_input(form, errors, 'checked', '核实来源（每行一个：网址 核实日期 证实的内容）', area=3,
        hint='例：https://www.gov.cn/… 2026-12-03 doc_number,effective；可证实：' + '、'.join(f'{k}（{v}）' for k, v in CONFIRM_LABELS.items()))}
<details><summary>申报时间（可空）</summary><div class="kb-grid">
{_input(form, errors, 'window_note', '在哪里公布，如 陕西省科技厅当年通知')}{_input(form, errors, 'window_months', '往年月份，如 5, 6')}
{_input(form, errors, 'window_opens', '本批开始 YYYY-MM-DD')}{_input(form, errors, 'window_closes', '本批截止 YYYY-MM-DD')}</div></details>
{_input(form, errors, 'comment', '文件头注释（读了哪些来源、哪些未能核实；写在文件顶部）', area=3)}
{''.join(faqs)}
<div class="actions kb-buttons"><button type="submit" name="action" value="save" class="primary" id="kb-save">保存草稿</button>
<button type="submit" name="action" value="add_faq" id="kb-add-faq">添加问答</button>
<button type="submit" name="action" value="submit" id="kb-submit">保存并提交审核</button></div></form>"""


def _check_html(check: ed.Check) -> str:
    if check.ok and not check.warnings and not check.elsewhere:
        return '<div class="flash ok kb-check" role="status">校验通过（与 make kb-validate 相同的检查）。</div>'
    parts = []
    if check.problems:
        parts.append('<div class="flash err kb-check" role="alert"><b>校验未通过</b><ul>' +
                     "".join(f"<li>{e(p)}</li>" for p in check.problems) + "</ul></div>")
    if check.others:
        parts.append('<div class="flash err">知识库其他文件有问题（发布前需先修复）：<ul>' +
                     "".join(f"<li>{e(p)}</li>" for p in check.others[:10]) + "</ul></div>")
    if check.elsewhere:
        parts.append('<div class="flash kb-warn">知识库其他文件未通过内容检查（不影响本条目发布，请另行修复）：<ul>' +
                     "".join(f"<li>{e(p)}</li>" for p in check.elsewhere[:10]) + "</ul></div>")
    if check.warnings:
        parts.append('<div class="flash kb-warn">提示：<ul>' + "".join(f"<li>{e(p)}</li>" for p in check.warnings) + "</ul></div>")
    if check.ok and not parts:
        parts.append('<div class="flash ok kb-check">校验通过。</div>')
    elif check.ok:
        parts.insert(0, '<div class="flash ok kb-check" role="status">校验通过（另有提示）。</div>')
    return "".join(parts)


def _matches_html(matches: Optional[list[ed.Match]], allowed: bool) -> str:
    if not allowed:
        return '<p class="muted">用户提问不属于任何节点，仅综合服务中心和管理员可见。</p>'
    if matches is None:
        return '<p class="muted">草稿通过校验后显示。</p>'
    if not matches:
        return f'<p class="muted">近 {gp.DAYS} 天用户问过的问题中，没有会由这个条目回答的。</p>'
    # what the draft newly answers first: questions that got no answer, or an answer marked 没帮助
    matches = sorted(matches, key=lambda m: (m.before.startswith(("已解答", "猜测解答")) and not m.not_helpful,
                                             -m.times))
    rows = "".join(
        f"""<tr><td class="l wrap">{e(m.text)}</td><td>{m.times}</td><td>{e(m.faq_id)}</td>
<td>{e(gp.DECISION_LABELS.get(m.decision, m.decision))}</td><td>{e(m.before)}{f'（没帮助 {m.not_helpful}）' if m.not_helpful else ''}</td></tr>"""
        for m in matches)
    return f"""<div class="scroll"><table class="grid kb-matches"><thead><tr><th>用户的提问</th><th>次数</th><th>将由</th><th>方式</th><th>当时的结果</th></tr></thead>
<tbody>{rows}</tbody></table></div>"""


def _review_html(staff: StaffView, draft, names: dict, revs) -> str:
    actor = _actor(staff)
    history = "".join(
        f"<li>{e(t.dt(r.at))} {e(_label(r.reviewer, names))}：{'通过并发布' if r.decision == 'approve' else '退回修改'}"
        f"{('——' + e(r.comment)) if r.comment else ''}</li>" for r in revs)
    history = f"<ul class=\"kb-reviews\">{history}</ul>" if history else ""
    if draft.status != dr.PENDING:
        return history
    refusal = dr.approval_refusal(draft, actor)
    if refusal:
        return history + f'<p class="muted" id="kb-no-approve">{e(refusal)}</p>'
    return history + f"""<form method="post" action="{BASE}/drafts/{draft.id}/approve" class="stack" id="kb-approve-form">{t.csrf_input(staff)}
<input type="hidden" name="revision" value="{draft.revision}">
<label>审核意见（可空）<input name="comment" maxlength="500"></label>
<button type="submit" class="primary" id="kb-approve">审核通过并发布</button></form>
<form method="post" action="{BASE}/drafts/{draft.id}/reject" class="stack">{t.csrf_input(staff)}
<input type="hidden" name="revision" value="{draft.revision}">
<label>退回原因（必填）<input name="comment" required maxlength="500"></label>
<button type="submit" id="kb-reject">退回修改</button></form>"""


def _conflict_html(conflict: dr.Conflict) -> str:
    return f"""<section class="card kb-conflict" id="kb-conflict"><h2>内容冲突</h2>
<p class="err">{e(str(conflict))}</p>
<div class="two"><div><h3>已保存 / 已发布的内容{f'（{e(conflict.who)}）' if conflict.who else ''}</h3><pre class="kb-text" id="kb-theirs">{e(conflict.theirs)}</pre></div>
<div><h3>您的内容</h3><pre class="kb-text" id="kb-mine">{e(conflict.mine)}</pre></div></div>
<h3>差异</h3>{_diff(conflict.theirs, conflict.mine, '已保存', '您的')}</section>"""


def _prepare(directory: Path, draft, db: str, today: date, candidates: ed.CandidateServices,
             with_questions: bool, text: Optional[str] = None):
    """Checks, chat preview and matching questions of a text (the draft's unless given)."""
    text = draft.content if text is None else text
    check = ed.check_text(directory, draft.entry_id, text, today)
    previews = matches = None
    if check.kb is not None and check.entry is not None and not check.others:
        try:
            service = candidates.get(directory, draft.entry_id, text, today)
            entry = service.base.entry(draft.entry_id)
            previews = ed.preview(service, entry, today)
            if with_questions:
                matches = ed.matching_questions(service, draft.entry_id, gp.recent_questions(db))
        except Exception:  # noqa: BLE001 - a preview failure must not hide the editor
            log.exception("knowledge preview failed for draft %s", draft.id)
    stale = dr.stale_base(directory, draft) if draft.status in dr.OPEN_STATES else None
    return check, previews, matches, stale


async def _draft_view(request: web.Request, staff: StaffView, draft, *, form: Optional[ed.EntryForm] = None,
                      revision: Optional[int] = None, flash=None, error=None, conflict: Optional[dr.Conflict] = None,
                      status: int = 200) -> web.Response:
    db = views.db_url(request)
    directory = _dir(request)
    today = _today(request)
    text = ed.text_from_form(form) if form is not None else draft.content
    check, previews, matches, stale = await views.run(
        _prepare, directory, draft, db, today, request.app[CANDIDATES_KEY], staff.all_nodes, text)
    names = await views.run(_names, db)
    revs = await views.run(dr.reviews, db, draft.id)
    others = [d for d in await views.run(dr.open_drafts, db, draft.entry_id) if d.id != draft.id]
    editable = draft.status in dr.OPEN_STATES and _actor(staff).may_edit
    if form is None:
        try:
            form = ed.form_from_text(draft.content)
        except ValueError as exc:
            form = ed.EntryForm({"id": draft.entry_id}, [], [])
            error = error or f"草稿内容无法读成表单：{exc}"
    errors = check.fields()
    published = ed.read_entry_text(directory, draft.entry_id)
    stale_html = ""
    if stale is not None:
        stale_html = f"""<section class="card kb-stale"><h2>该条目已有更新的版本</h2>
<p class="err">这份草稿起草之后，条目已被发布了新的内容。发布前请对照下面的差异把新内容合并进草稿，然后点“已合并，基于最新版本”。</p>
<h3>起草时的版本 → 现在发布的版本</h3>{_diff(draft.base_content or '', stale, '起草时', '现在')}
<form method="post" action="{BASE}/drafts/{draft.id}/rebase" class="inline">{t.csrf_input(staff)}
<input type="hidden" name="revision" value="{draft.revision}"><button type="submit" id="kb-rebase">已合并，基于最新版本</button></form></section>"""
    editor = _editor(staff, draft, form, errors, draft.revision if revision is None else revision) if editable else \
        f'<pre class="kb-text">{e(draft.content)}</pre>'
    preview_html = ("".join(_bubbles(p) for p in previews) if previews else
                    '<p class="muted">草稿通过校验后显示助手的回复。</p>')
    withdraw = (f"""<form method="post" action="{BASE}/drafts/{draft.id}/withdraw" class="inline">{t.csrf_input(staff)}
<button type="submit" class="link" id="kb-withdraw">撤回草稿</button></form>""" if draft.status in dr.OPEN_STATES else "")
    origin = f'<p class="muted">{e(draft.origin)}</p>' if draft.origin else ""
    if others and draft.status in dr.OPEN_STATES:
        links = "、".join(f'<a href="{BASE}/drafts/{d.id}">草稿 {d.id}</a>（{e(_label(d.author, names))}，'
                         f'{e(dr.STATUS_LABELS.get(d.status, d.status))}）' for d in others)
        origin += (f'<p class="flash kb-warn" id="kb-other-drafts">该条目还有其他未发布的草稿：{links}。'
                   "先发布的一份生效，另一份发布前需合并其修改。</p>")
    meta = (f"""<p class="muted">作者 {e(_label(draft.author, names))} · 第 {draft.revision} 版 · 最后由 {e(_label(draft.updated_by, names))}
于 {e(t.dt(draft.updated_at))} 保存{' · 提交审核于 ' + e(t.dt(draft.submitted_at)) if draft.submitted_at else ''}
{f' · 已发布为第 {draft.published_version} 版' if draft.published_version else ''}</p>""")
    body = f"""{_conflict_html(conflict) if conflict else ''}{stale_html}
<div class="convo kb-draft" data-draft="{draft.id}" data-status="{e(draft.status)}">
<section class="card"><div class="head"><h1>{'新条目' if draft.is_new else '修改'} {e(draft.entry_id)} {_status_badge(draft.status)}</h1>
<span><a href="{BASE}/entries/{e(draft.entry_id)}">查看条目</a> {withdraw}</span></div>{meta}{origin}
{_check_html(check)}{editor}
<details><summary>将写入的文件 entries/{e(draft.entry_id)}.yml</summary><pre class="kb-text" id="kb-yaml">{e(text)}</pre></details>
<details{' open' if draft.status == dr.PENDING else ''}><summary>与当前发布版本的差异</summary>{_diff(published or '', text, '当前发布', '草稿')}</details>
</section>
<aside><section class="card"><h2>审核</h2>{_review_html(staff, draft, names, revs)}</section>
<section class="card"><h2>聊天中的显示</h2>{preview_html}</section>
<section class="card"><h2>将由它回答的用户提问</h2>{_matches_html(matches, staff.all_nodes)}</section></aside></div>"""
    return _page(f"草稿 {draft.id}", body, staff, flash=flash, error=error, status=status)


async def _load_draft(request: web.Request, staff: StaffView):
    draft_id = _int(request.match_info["draft_id"], -1)
    draft = await views.run(dr.get_draft, views.db_url(request), draft_id) if draft_id >= 0 else None
    if draft is None:
        return None, views.html(t.error_page("没有该草稿", "草稿不存在或已被删除。", staff), 404)
    return draft, None


DONE = {"saved": "草稿已保存。", "submitted": "已提交审核，等待另一位同事审核。", "rejected": "已退回作者修改。",
        "withdrawn": "草稿已撤回。", "rebased": "草稿已基于最新发布的版本，请检查后重新提交审核。", "created": ""}


async def draft_page(request: web.Request) -> web.Response:
    staff = current_staff(request)
    draft, missing = await _load_draft(request, staff)
    if missing is not None:
        return missing
    flash = DONE.get(request.query.get("done", "")) or None
    if request.query.get("done") == "published":
        flash = (f"已审核通过并发布为第 {draft.published_version} 版：已写入 entries/{draft.entry_id}.yml，"
                 "并已通知助手重新加载（无需重启，几秒内生效）。")
    return await _draft_view(request, staff, draft, flash=flash)


async def save(request: web.Request) -> web.Response:
    staff = current_staff(request)
    actor = _actor(staff)
    if not actor.may_edit:
        return await _refuse(request, staff, "知识库编辑")
    draft, missing = await _load_draft(request, staff)
    if missing is not None:
        return missing
    post = await request.post()
    form = ed.form_from_post(post, post.getall)
    form.fields["id"] = draft.entry_id           # the file name: not editable in a draft
    revision = _int(post.get("revision"), -1)
    action = str(post.get("action", "save"))
    if action == "add_faq":
        form.faqs.append(ed.blank_faq())
        return await _draft_view(request, staff, draft, form=form, revision=revision)
    db = views.db_url(request)
    text = ed.text_from_form(form)
    try:
        saved = draft
        if text != draft.content or revision != draft.revision:
            saved = await views.run(dr.save_draft, db, actor, draft.id, text, revision, now=views.now_of(request))
            await _audit(request, staff, "kb_draft_save", f"draft {draft.id} {draft.entry_id} r{saved.revision}")
        if action == "submit":
            await views.run(dr.submit, db, _dir(request), actor, draft.id, saved.revision, today=_today(request),
                            now=views.now_of(request))
            await _audit(request, staff, "kb_draft_submit", f"draft {draft.id} {draft.entry_id} r{saved.revision}")
            raise web.HTTPSeeOther(f"{BASE}/drafts/{draft.id}?done=submitted")
    except dr.Conflict as exc:
        current = await views.run(dr.get_draft, db, draft.id)
        exc.mine = exc.mine or text
        return await _draft_view(request, staff, current, form=form, revision=current.revision, conflict=exc,
                                 status=409)
    except dr.Invalid:
        current = await views.run(dr.get_draft, db, draft.id)
        return await _draft_view(request, staff, current, error="草稿已保存，但未通过校验，不能提交审核：请按标出的字段修改。",
                                 status=400)
    except dr.EditError as exc:
        current = await views.run(dr.get_draft, db, draft.id)
        return await _draft_view(request, staff, current, error=str(exc), status=400)
    raise web.HTTPSeeOther(f"{BASE}/drafts/{draft.id}?done=saved")


def _reload_editor_copy(request: web.Request, entry_id: str) -> tuple[bool, str]:
    """After publishing: the desk's copy reloads now (the action server at its next question, as after
    `make kb-reload`); its answering service, if one was built, reloads in the background."""
    copy = _published(request)
    kb = copy.base()
    service = copy.service
    if service is not None:
        threading.Thread(target=service.reload, kwargs={"force": True}, name="knowledge-editor-reload",
                         daemon=True).start()
    return kb is not None and kb.entry(entry_id) is not None, kb.summary() if kb is not None else (copy.error or "")


async def approve(request: web.Request) -> web.Response:
    staff = current_staff(request)
    actor = _actor(staff)
    draft, missing = await _load_draft(request, staff)
    if missing is not None:
        return missing
    if not actor.may_approve:
        return await _refuse(request, staff, "知识条目的审核发布（仅限综合服务中心的节点负责人和管理员）")
    refusal = dr.approval_refusal(draft, actor)
    if refusal:
        await _audit(request, staff, "denied", f"{request.method} {request.path}: {refusal}")
        return await _draft_view(request, staff, draft, error=refusal, status=403)
    post = await request.post()
    db = views.db_url(request)
    try:
        result = await views.run(dr.approve, db, _dir(request), actor, draft.id, _int(post.get("revision"), -1),
                                 str(post.get("comment", ""))[:500], today=_today(request), now=views.now_of(request))
    except dr.Conflict as exc:
        await _audit(request, staff, "kb_publish_conflict", f"draft {draft.id} {draft.entry_id}")
        current = await views.run(dr.get_draft, db, draft.id)
        return await _draft_view(request, staff, current, conflict=exc, status=409)
    except dr.EditError as exc:
        current = await views.run(dr.get_draft, db, draft.id)
        return await _draft_view(request, staff, current, error=str(exc), status=400)
    await _audit(request, staff, "kb_publish",
                 f"draft {draft.id} {draft.entry_id} v{result.version} by {draft.author}")
    ok, summary = await views.run(_reload_editor_copy, request, draft.entry_id)
    if not ok:
        log.error("knowledge base did not reload after publishing %s: %s", draft.entry_id, summary)
    raise web.HTTPSeeOther(f"{BASE}/drafts/{draft.id}?done=published")


async def reject(request: web.Request) -> web.Response:
    staff = current_staff(request)
    actor = _actor(staff)
    draft, missing = await _load_draft(request, staff)
    if missing is not None:
        return missing
    if not actor.may_approve:
        return await _refuse(request, staff, "知识条目的审核（仅限综合服务中心的节点负责人和管理员）")
    post = await request.post()
    db = views.db_url(request)
    try:
        await views.run(dr.reject, db, actor, draft.id, _int(post.get("revision"), -1), str(post.get("comment", "")),
                        now=views.now_of(request))
    except dr.EditError as exc:
        current = await views.run(dr.get_draft, db, draft.id)
        return await _draft_view(request, staff, current, error=str(exc), status=400)
    await _audit(request, staff, "kb_draft_reject", f"draft {draft.id} {draft.entry_id}")
    raise web.HTTPSeeOther(f"{BASE}/drafts/{draft.id}?done=rejected")


async def withdraw(request: web.Request) -> web.Response:
    staff = current_staff(request)
    draft, missing = await _load_draft(request, staff)
    if missing is not None:
        return missing
    db = views.db_url(request)
    try:
        await views.run(dr.withdraw, db, _actor(staff), draft.id, now=views.now_of(request))
    except dr.EditError as exc:
        return await _refuse(request, staff, str(exc).rstrip("。"))
    await _audit(request, staff, "kb_draft_withdraw", f"draft {draft.id} {draft.entry_id}")
    raise web.HTTPSeeOther(f"{BASE}/drafts/{draft.id}?done=withdrawn")


async def rebase(request: web.Request) -> web.Response:
    staff = current_staff(request)
    actor = _actor(staff)
    if not actor.may_edit:
        return await _refuse(request, staff, "知识库编辑")
    draft, missing = await _load_draft(request, staff)
    if missing is not None:
        return missing
    post = await request.post()
    db = views.db_url(request)
    try:
        await views.run(dr.rebase, db, _dir(request), actor, draft.id, _int(post.get("revision"), -1),
                        now=views.now_of(request))
    except dr.EditError as exc:
        current = await views.run(dr.get_draft, db, draft.id)
        return await _draft_view(request, staff, current, error=str(exc), status=409)
    await _audit(request, staff, "kb_draft_rebase", f"draft {draft.id} {draft.entry_id}")
    raise web.HTTPSeeOther(f"{BASE}/drafts/{draft.id}?done=rebased")


async def version_page(request: web.Request) -> web.Response:
    staff = current_staff(request)
    db = views.db_url(request)
    vid = _int(request.match_info["version_id"], -1)
    v = await views.run(dr.get_version, db, vid) if vid >= 0 else None
    if v is None:
        return views.html(t.error_page("没有该版本", "版本不存在。", staff), 404)
    rows = await views.run(dr.versions, db, v.entry_id)
    previous = next((r for r in rows if r.version < v.version), None)
    names = await views.run(_names, db)
    body = f"""<section class="card"><div class="head"><h1>{e(v.entry_id)} 第 {v.version} 版</h1>
<a href="{BASE}/entries/{e(v.entry_id)}">返回条目</a></div>
<p class="muted">{e(t.dt(v.created_at))} · 撰写 {e(_label(v.author, names))} · 审核 {e(_label(v.approved_by, names) if v.approved_by else '—')}{(' · ' + e(v.note)) if v.note else ''}</p>
<h2>与上一版的差异</h2>{_diff(previous.content if previous else '', v.content, f'第 {previous.version} 版' if previous else '（无）', f'第 {v.version} 版')}
<details><summary>全文</summary><pre class="kb-text">{e(v.content)}</pre></details></section>"""
    return _page(f"{v.entry_id} 第 {v.version} 版", body, staff)


def setup(app: web.Application) -> None:
    app[SERVICE_KEY] = {}
    app[CANDIDATES_KEY] = ed.CandidateServices()
    r = app.router
    r.add_get(BASE, index)
    r.add_get(f"{BASE}/entries/{{entry_id}}", entry_page)
    r.add_get(f"{BASE}/review", review_page)
    r.add_get(f"{BASE}/gaps", gaps_page)
    r.add_post(f"{BASE}/drafts", create_draft)
    r.add_get(f"{BASE}/drafts/{{draft_id}}", draft_page)
    r.add_post(f"{BASE}/drafts/{{draft_id}}/save", save)
    r.add_post(f"{BASE}/drafts/{{draft_id}}/approve", approve)
    r.add_post(f"{BASE}/drafts/{{draft_id}}/reject", reject)
    r.add_post(f"{BASE}/drafts/{{draft_id}}/withdraw", withdraw)
    r.add_post(f"{BASE}/drafts/{{draft_id}}/rebase", rebase)
    r.add_get(f"{BASE}/versions/{{version_id}}", version_page)
    t.register_nav("knowledge", BASE, "知识库")
