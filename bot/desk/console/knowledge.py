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

import difflib
import logging
import threading
from datetime import date
from pathlib import Path
from typing import Optional

from aiohttp import web

from bot import clock
from bot.desk.console import templates as t
from bot.desk.console import views
from bot.desk.console.auth import current_staff
from bot.desk.console.staff_view import StaffView
from bot.desk.keys import SETTINGS_KEY
from bot.knowledge import KnowledgeError, KnowledgeService, load_base
from bot.knowledge import drafts as dr
from bot.knowledge import editing as ed
from bot.knowledge import gaps as gp
from bot.knowledge.model import LEVELS
from bot.knowledge.retriever import Analyzer
from bot.knowledge.service import directory_signature
from bot.staff.accounts import list_staff
from bot.taxonomy import CATEGORIES

log = logging.getLogger(__name__)
BASE = "/console/knowledge"
SERVICE_KEY = web.AppKey("knowledge_editor_service", dict)
CANDIDATES_KEY = web.AppKey("knowledge_editor_candidates", object)
CONFIRM_LABELS = {
    "doc_number": "文号",
    "effective": "生效日期",
    "expires": "失效日期",
    "window": "申报时间",
    "figures": "数额",
}


# ---- context -----------------------------------------------------------------------------------------


def _dir(request: web.Request) -> Path:
    settings = request.app[SETTINGS_KEY]
    return Path(getattr(settings, "knowledge_dir", None) or Path(__file__).resolve().parents[3] / "knowledge")


def _actor(staff: StaffView) -> dr.Actor:
    return dr.Actor(staff.username, staff.role, staff.all_nodes)


def _today(request: web.Request) -> date:
    return clock.today(views.now_of(request))


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
        signature = directory_signature(self.directory)
        with _lock:
            if signature != self.signature:
                try:
                    self.kb, self.error = load_base(self.directory), None
                except KnowledgeError as exc:  # keep the last good copy, as the services do
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
    await views.audit(request, staff, action, detail=detail[:2000])


async def _refuse(request: web.Request, staff: StaffView, what: str) -> web.Response:
    return await views.denied(request, staff, what)


def _page(
    template: str,
    title: str,
    staff: StaffView,
    names: Optional[dict] = None,
    flash=None,
    error=None,
    status: int = 200,
    **context,
) -> web.Response:
    """A page of the editor (template console/knowledge_*.html); `names` turns usernames into display names."""
    names = names or {}
    return views.html(
        t.render(
            template,
            title,
            staff,
            page="knowledge",
            flash=flash,
            error=error,
            base=BASE,
            label=lambda username: _label(username, names),
            STATUS_LABELS=dr.STATUS_LABELS,
            **context,
        ),
        status,
    )


def _int(value, default: int = 0) -> int:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return default
    return n if 0 <= n < 2**31 else default


def _label(username: str, names: dict) -> str:
    if username == dr.FILE_AUTHOR:
        return "（服务器上的文件）"
    return names.get(username, username)


def _names(db: str) -> dict:
    return {r.username: r.display_name for r in list_staff(db)}


def _diff(old: str, new: str, old_label: str, new_label: str) -> list[tuple[str, str]]:
    """The unified diff as (css class, line) for the diff macro; empty when the texts are the same."""
    lines = difflib.unified_diff(
        (old or "").splitlines(), (new or "").splitlines(), old_label, new_label, lineterm="", n=2
    )
    return [
        (
            "add"
            if line.startswith("+") and not line.startswith("+++")
            else "del"
            if line.startswith("-") and not line.startswith("---")
            else "hunk"
            if line.startswith("@@")
            else "",
            line,
        )
        for line in lines
    ]


# ---- the index -------------------------------------------------------------------------------------------


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
    error = None if kb is not None else f"知识库当前无法加载：{_published(request).error or ''}"
    return _page(
        "console/knowledge_index.html",
        "知识库",
        staff,
        names,
        error=error,
        count=len(kb) if kb else 0,
        flagged=flagged,
        flagged_ids=flagged_ids,
        pending=pending,
        mine=mine,
        q=q,
        entries=entries,
    )


# ---- an entry ------------------------------------------------------------------------------------------


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
    return _page(
        "console/knowledge_entry.html",
        entry.title,
        staff,
        names,
        entry=entry,
        flag=flag,
        open_rows=open_rows,
        previews=previews,
        versions=vrows,
    )


# ---- flagged entries and unanswered questions ---------------------------------------------------------


async def review_page(request: web.Request) -> web.Response:
    staff = current_staff(request)
    kb = await views.run(_base, request)
    today = _today(request)
    rows = ed.flags(kb, today) if kb is not None else []
    return _page(
        "console/knowledge_review.html",
        "需复核的条目",
        staff,
        rows=rows,
        review_after=ed.REVIEW_AFTER_DAYS,
        expiring=ed.EXPIRING_DAYS,
    )


def _gaps(db: str, now, kb) -> list[gp.Group]:
    """Grouped with the retriever's analyser (jieba, the base's synonyms: 高企 = 高新技术企业)."""
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
    return _page(
        "console/knowledge_gaps.html",
        "未解答的问题",
        staff,
        days=gp.DAYS,
        groups=groups[:60],
        suggest=suggest,
        entry_ids=sorted(set(faq_entry.values())),
        variants=lambda g: "\n".join(a.text for a in g.questions[1:12]),
    )


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
        draft = await views.run(
            dr.start_draft,
            views.db_url(request),
            _dir(request),
            actor,
            entry_id,
            content,
            new=new,
            origin=origin,
            now=views.now_of(request),
        )
    except dr.EditError as exc:
        return views.html(t.error_page("不能新建草稿", str(exc), staff), 400)
    await _audit(request, staff, "kb_draft_create", f"draft {draft.id} {draft.entry_id}{' (new)' if new else ''}")
    raise web.HTTPSeeOther(f"{BASE}/drafts/{draft.id}")


def _sorted_matches(matches: Optional[list[ed.Match]]) -> Optional[list[ed.Match]]:
    """What the draft newly answers first: questions that got no answer, or an answer marked 没帮助."""
    if not matches:
        return matches
    return sorted(matches, key=lambda m: (m.before.startswith(("已解答", "猜测解答")) and not m.not_helpful, -m.times))


def _prepare(
    directory: Path,
    draft,
    db: str,
    today: date,
    candidates: ed.CandidateServices,
    with_questions: bool,
    text: Optional[str] = None,
):
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


async def _draft_view(
    request: web.Request,
    staff: StaffView,
    draft,
    *,
    form: Optional[ed.EntryForm] = None,
    revision: Optional[int] = None,
    flash=None,
    error=None,
    conflict: Optional[dr.Conflict] = None,
    status: int = 200,
) -> web.Response:
    db = views.db_url(request)
    directory = _dir(request)
    today = _today(request)
    text = ed.text_from_form(form) if form is not None else draft.content
    check, previews, matches, stale = await views.run(
        _prepare, directory, draft, db, today, request.app[CANDIDATES_KEY], staff.all_nodes, text
    )
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
    is_open = draft.status in dr.OPEN_STATES
    return _page(
        "console/knowledge_draft.html",
        f"草稿 {draft.id}",
        staff,
        names,
        flash=flash,
        error=error,
        status=status,
        draft=draft,
        form=form,
        errors=errors,
        revision=draft.revision if revision is None else revision,
        editable=editable,
        is_open=is_open,
        check=check,
        text=text,
        previews=previews,
        matches=_sorted_matches(matches),
        all_nodes=staff.all_nodes,
        days=gp.DAYS,
        others=others,
        reviews=revs,
        refusal=dr.approval_refusal(draft, _actor(staff)) if draft.status == dr.PENDING else None,
        conflict=conflict,
        conflict_diff=_diff(conflict.theirs, conflict.mine, "已保存", "您的") if conflict else [],
        stale=stale,
        stale_diff=_diff(draft.base_content or "", stale, "起草时", "现在") if stale is not None else [],
        published_diff=_diff(published or "", text, "当前发布", "草稿"),
        PENDING=dr.PENDING,
        levels=LEVELS,
        categories=CATEGORIES,
        DECISION_LABELS=gp.DECISION_LABELS,
        checked_hint="例：https://www.gov.cn/… 2026-12-03 doc_number,effective；可证实："
        + "、".join(f"{k}（{v}）" for k, v in CONFIRM_LABELS.items()),
    )


async def _load_draft(request: web.Request, staff: StaffView):
    draft_id = _int(request.match_info["draft_id"], -1)
    draft = await views.run(dr.get_draft, views.db_url(request), draft_id) if draft_id >= 0 else None
    if draft is None:
        return None, views.html(t.error_page("没有该草稿", "草稿不存在或已被删除。", staff), 404)
    return draft, None


DONE = {
    "saved": "草稿已保存。",
    "submitted": "已提交审核，等待另一位同事审核。",
    "rejected": "已退回作者修改。",
    "withdrawn": "草稿已撤回。",
    "rebased": "草稿已基于最新发布的版本，请检查后重新提交审核。",
    "created": "",
}


async def draft_page(request: web.Request) -> web.Response:
    staff = current_staff(request)
    draft, missing = await _load_draft(request, staff)
    if missing is not None:
        return missing
    flash = DONE.get(request.query.get("done", "")) or None
    if request.query.get("done") == "published":
        flash = (
            f"已审核通过并发布为第 {draft.published_version} 版：已写入 entries/{draft.entry_id}.yml，"
            "并已通知助手重新加载（无需重启，几秒内生效）。"
        )
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
    form.fields["id"] = draft.entry_id  # the file name: not editable in a draft
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
            await views.run(
                dr.submit,
                db,
                _dir(request),
                actor,
                draft.id,
                saved.revision,
                today=_today(request),
                now=views.now_of(request),
            )
            await _audit(request, staff, "kb_draft_submit", f"draft {draft.id} {draft.entry_id} r{saved.revision}")
            raise web.HTTPSeeOther(f"{BASE}/drafts/{draft.id}?done=submitted")
    except dr.Conflict as exc:
        current = await views.run(dr.get_draft, db, draft.id)
        exc.mine = exc.mine or text
        return await _draft_view(
            request, staff, current, form=form, revision=current.revision, conflict=exc, status=409
        )
    except dr.Invalid:
        current = await views.run(dr.get_draft, db, draft.id)
        return await _draft_view(
            request, staff, current, error="草稿已保存，但未通过校验，不能提交审核：请按标出的字段修改。", status=400
        )
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
        threading.Thread(
            target=service.reload, kwargs={"force": True}, name="knowledge-editor-reload", daemon=True
        ).start()
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
        result = await views.run(
            dr.approve,
            db,
            _dir(request),
            actor,
            draft.id,
            _int(post.get("revision"), -1),
            str(post.get("comment", ""))[:500],
            today=_today(request),
            now=views.now_of(request),
        )
    except dr.Conflict as exc:
        await _audit(request, staff, "kb_publish_conflict", f"draft {draft.id} {draft.entry_id}")
        current = await views.run(dr.get_draft, db, draft.id)
        return await _draft_view(request, staff, current, conflict=exc, status=409)
    except dr.EditError as exc:
        current = await views.run(dr.get_draft, db, draft.id)
        return await _draft_view(request, staff, current, error=str(exc), status=400)
    await _audit(request, staff, "kb_publish", f"draft {draft.id} {draft.entry_id} v{result.version} by {draft.author}")
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
        await views.run(
            dr.reject,
            db,
            actor,
            draft.id,
            _int(post.get("revision"), -1),
            str(post.get("comment", "")),
            now=views.now_of(request),
        )
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
        await views.run(
            dr.rebase, db, _dir(request), actor, draft.id, _int(post.get("revision"), -1), now=views.now_of(request)
        )
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
    return _page(
        "console/knowledge_version.html",
        f"{v.entry_id} 第 {v.version} 版",
        staff,
        names,
        v=v,
        changes=_diff(
            previous.content if previous else "",
            v.content,
            f"第 {previous.version} 版" if previous else "（无）",
            f"第 {v.version} 版",
        ),
    )


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
