"""Drafts, review and publishing of knowledge entries (tables kb_drafts, kb_reviews, kb_versions).

The workflow (docs/knowledge-editing.md):
  draft ──submit──▶ pending ──approve (another person)──▶ published (file written, base reloaded)
    ▲                  │
    └──reject / edit───┘            any open draft ──withdraw──▶ withdrawn
Why the rules are what they are:
- four eyes: nobody approves a draft they wrote or saved (author or editor), and only roles that may
  approve (APPROVE_ROLES) with the whole network in scope: the base answers every node's enterprises;
- nothing is lost: every save names the revision it was made on, and a save on an older revision is
  refused with both texts kept (Conflict); publishing checks the published file is still the one the
  draft started from (a second draft published meanwhile, or a hand edit on the server), else Conflict;
- the files stay the source of truth: publishing writes knowledge/entries/<id>.yml (atomically) after the
  same checks as `make kb-reload`, then touches knowledge/.reload, which the running services watch
  (bot/knowledge/service.py) — no restart; the text before and after goes into kb_versions.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Optional

from sqlalchemy import func, select, update

from bot import clock
from bot.db import read_sessions, sessions
from bot.db.schema import KbDraft, KbReview, KbVersion, utcnow

from .editing import Check, check_text, entry_path, read_entry_text, sha
from .loader import ID_PATTERN
from .service import touch_reload

DRAFT, PENDING, PUBLISHED, WITHDRAWN = "draft", "pending", "published", "withdrawn"
OPEN_STATES = (DRAFT, PENDING)
STATUS_LABELS = {DRAFT: "草稿", PENDING: "待审核", PUBLISHED: "已发布", WITHDRAWN: "已撤回"}
EDIT_ROLES = frozenset({"staff", "lead", "admin"})  # may write and submit drafts
APPROVE_ROLES = frozenset({"lead", "admin"})  # may approve and publish (with the whole network in scope)
FILE_AUTHOR = "file"  # kb_versions.author of a text found on disk
MAX_CONTENT = 200_000

_publish_lock = threading.Lock()
LOCK_FILE = ".publish.lock"  # in the knowledge directory: desks sharing it publish one at a time


@contextlib.contextmanager
def _publishing(directory: Path):
    """One publication at a time: in this process (a thread lock) and across the desks that share the
    knowledge directory (an flock on a dot file there, which the loader skips)."""
    with _publish_lock:
        with open(Path(directory) / LOCK_FILE, "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


class EditError(Exception):
    """A refused action; the message is shown to staff as it is (Chinese)."""


class Conflict(EditError):
    """The text changed under the editor: `theirs` is the text saved or published meanwhile, `mine` the
    text that was to be saved; `who`/`at` say who changed it and when."""

    def __init__(
        self, message: str, mine: str, theirs: str, who: str = "", at: Optional[datetime] = None, revision: int = 0
    ):
        super().__init__(message)
        self.mine, self.theirs, self.who, self.at, self.revision = mine, theirs, who, at, revision


class Invalid(EditError):
    """The text does not pass the checks of `make kb-validate`."""

    def __init__(self, check: Check):
        super().__init__("条目未通过校验，不能发布：" + "；".join((check.problems + check.others)[:5]))
        self.check = check


@dataclass(frozen=True)
class Actor:
    """Who acts: a username, a role and whether their scope is the whole network."""

    username: str
    role: str
    all_nodes: bool

    @property
    def may_edit(self) -> bool:
        return self.role in EDIT_ROLES

    @property
    def may_approve(self) -> bool:
        return self.role in APPROVE_ROLES and self.all_nodes


def editors_of(draft: KbDraft) -> set[str]:
    return {u for u in (draft.editors or "").split() if u} | {draft.author}


def approval_refusal(draft: KbDraft, actor: Actor) -> Optional[str]:
    """Why `actor` may not approve this draft, or None."""
    if not actor.may_approve:
        return "只有综合服务中心的节点负责人或管理员可以审核发布知识条目。"
    if actor.username in editors_of(draft):
        return "不能审核自己撰写或修改过的草稿，请由另一位同事审核。"
    if draft.status != PENDING:
        return f"该草稿当前为“{STATUS_LABELS.get(draft.status, draft.status)}”，不能审核。"
    return None


# ---- reads -------------------------------------------------------------------------------------------


def get_draft(db: str, draft_id: int) -> Optional[KbDraft]:
    with read_sessions(db)() as s:
        return s.get(KbDraft, draft_id)


def _reread(db: str, draft_id: int) -> KbDraft:
    """The draft as just written (drafts are never deleted; a missing one is the usual error)."""
    draft = get_draft(db, draft_id)
    if draft is None:
        raise EditError("草稿不存在。")
    return draft


def open_drafts(db: str, entry_id: Optional[str] = None) -> list[KbDraft]:
    with read_sessions(db)() as s:
        q = select(KbDraft).where(KbDraft.status.in_(OPEN_STATES))
        if entry_id is not None:
            q = q.where(KbDraft.entry_id == entry_id)
        return list(s.scalars(q.order_by(KbDraft.updated_at.desc(), KbDraft.id.desc())))


def recent_drafts(db: str, limit: int = 30) -> list[KbDraft]:
    with read_sessions(db)() as s:
        return list(
            s.scalars(
                select(KbDraft)
                .where(KbDraft.status.in_((PUBLISHED, WITHDRAWN)))
                .order_by(KbDraft.updated_at.desc(), KbDraft.id.desc())
                .limit(limit)
            )
        )


def reviews(db: str, draft_id: int) -> list[KbReview]:
    with read_sessions(db)() as s:
        return list(s.scalars(select(KbReview).where(KbReview.draft_id == draft_id).order_by(KbReview.id)))


def versions(db: str, entry_id: str) -> list[KbVersion]:
    with read_sessions(db)() as s:
        return list(
            s.scalars(select(KbVersion).where(KbVersion.entry_id == entry_id).order_by(KbVersion.version.desc()))
        )


def get_version(db: str, version_id: int) -> Optional[KbVersion]:
    with read_sessions(db)() as s:
        return s.get(KbVersion, version_id)


# ---- writes ------------------------------------------------------------------------------------------


def _require_editor(actor: Actor) -> None:
    if not actor.may_edit:
        raise EditError("您的角色不能编辑知识条目。")


def _content(text: str) -> str:
    text = (text or "").replace("\r\n", "\n").replace("\x00", "")
    if len(text) > MAX_CONTENT:
        raise EditError(f"条目内容过长（超过 {MAX_CONTENT} 字符）。")
    return text if text.endswith("\n") else text + "\n"


def start_draft(
    db: str,
    directory: Path,
    actor: Actor,
    entry_id: str,
    content: Optional[str] = None,
    *,
    new: bool = False,
    origin: Optional[str] = None,
    now: Optional[datetime] = None,
) -> KbDraft:
    """A draft of an existing entry (its published text, unless `content` is given) or of a new one."""
    _require_editor(actor)
    entry_id = (entry_id or "").strip()
    if not ID_PATTERN.match(entry_id):
        raise EditError("条目 id 只能用小写字母、数字和连字符 -，例如 hnte-recognition。")
    published = read_entry_text(directory, entry_id)
    if new and published is not None:
        raise EditError(f"已有条目 “{entry_id}”，请打开该条目后编辑，或换一个 id。")
    if not new and published is None:
        raise EditError(f"没有条目 “{entry_id}”。")
    now = now or utcnow()
    with sessions(db).begin() as s:
        draft = KbDraft(
            entry_id=entry_id,
            is_new=new,
            status=DRAFT,
            content=_content(content or published or ""),
            revision=1,
            base_sha=sha(published),
            base_content=published,
            author=actor.username,
            editors=actor.username,
            updated_by=actor.username,
            created_at=now,
            updated_at=now,
            origin=origin,
        )
        s.add(draft)
        s.flush()
        return draft


def save_draft(
    db: str, actor: Actor, draft_id: int, content: str, revision: int, *, now: Optional[datetime] = None
) -> KbDraft:
    """Save a new text on the revision the editor started from; Conflict when someone saved meanwhile.

    A pending draft that is edited goes back to 草稿: the reviewer approves what they saw."""
    _require_editor(actor)
    content = _content(content)
    now = now or utcnow()
    with sessions(db).begin() as s:
        draft = s.get(KbDraft, draft_id)
        if draft is None:
            raise EditError("草稿不存在。")
        if draft.status not in OPEN_STATES:
            raise EditError(f"该草稿已{STATUS_LABELS.get(draft.status, draft.status)}，不能再修改。")
        editors = " ".join(sorted(editors_of(draft) | {actor.username}))
        res = s.execute(
            update(KbDraft)
            .where(KbDraft.id == draft_id, KbDraft.revision == revision, KbDraft.status.in_(OPEN_STATES))
            .values(
                content=content,
                revision=KbDraft.revision + 1,
                updated_by=actor.username,
                updated_at=now,
                editors=editors,
                status=DRAFT,
                submitted_at=None,
            )
        )
        if res.rowcount != 1:
            s.refresh(draft)
            raise Conflict(
                f"保存失败：在您编辑期间，{draft.updated_by} 已于 {_bj(draft.updated_at)} 保存了这份草稿"
                f"（第 {draft.revision} 版，您是在第 {revision} 版上修改的）。为避免覆盖对方的修改，"
                "您的内容没有保存：请对照下面两份内容合并后再保存。",
                mine=content,
                theirs=draft.content,
                who=draft.updated_by,
                at=draft.updated_at,
                revision=draft.revision,
            )
    return _reread(db, draft_id)


def _bj(at: Optional[datetime]) -> str:
    if at is None:
        return ""

    return clock.local(at).strftime("%m-%d %H:%M")


def submit(
    db: str,
    directory: Path,
    actor: Actor,
    draft_id: int,
    revision: int,
    *,
    today: Optional[date] = None,
    now: Optional[datetime] = None,
) -> KbDraft:
    """草稿 → 待审核, only when the text passes the checks (a reviewer never sees a broken file)."""
    _require_editor(actor)
    draft = get_draft(db, draft_id)
    if draft is None:
        raise EditError("草稿不存在。")
    if draft.status != DRAFT:
        raise EditError(f"该草稿当前为“{STATUS_LABELS.get(draft.status, draft.status)}”，不能提交审核。")
    check = check_text(directory, draft.entry_id, draft.content, today)
    if not check.ok:
        raise Invalid(check)
    with sessions(db).begin() as s:
        res = s.execute(
            update(KbDraft)
            .where(KbDraft.id == draft_id, KbDraft.revision == revision, KbDraft.status == DRAFT)
            .values(status=PENDING, submitted_at=now or utcnow())
        )
        if res.rowcount != 1:
            raise Conflict("提交失败：草稿在您提交前已被修改，请查看最新内容后再提交。", mine="", theirs=draft.content)
    return _reread(db, draft_id)


def reject(
    db: str, actor: Actor, draft_id: int, revision: int, comment: str, *, now: Optional[datetime] = None
) -> KbDraft:
    """Send a pending draft back to 草稿 with the reviewer's comment (required)."""
    comment = (comment or "").strip()
    if not comment:
        raise EditError("退回修改时请写明原因，作者据此修改。")
    now = now or utcnow()
    with sessions(db).begin() as s:
        draft = s.get(KbDraft, draft_id)
        if draft is None:
            raise EditError("草稿不存在。")
        refusal = approval_refusal(draft, actor)
        if refusal:
            raise EditError(refusal)
        if draft.revision != revision:
            raise Conflict("草稿在您审核期间已被修改，请查看最新内容后再审核。", mine="", theirs=draft.content)
        draft.status, draft.submitted_at, draft.updated_at = DRAFT, None, now
        s.add(
            KbReview(
                draft_id=draft_id,
                reviewer=actor.username,
                decision="reject",
                comment=comment[:2000],
                revision=revision,
                at=now,
            )
        )
    return _reread(db, draft_id)


def withdraw(db: str, actor: Actor, draft_id: int, *, now: Optional[datetime] = None) -> KbDraft:
    """An open draft is dropped (kept in the table as 已撤回) by its author or an approver."""
    with sessions(db).begin() as s:
        draft = s.get(KbDraft, draft_id)
        if draft is None:
            raise EditError("草稿不存在。")
        if draft.status not in OPEN_STATES:
            raise EditError("该草稿已结束，不能撤回。")
        if actor.username != draft.author and not actor.may_approve:
            raise EditError("只有作者或审核人可以撤回草稿。")
        draft.status, draft.updated_at, draft.updated_by = WITHDRAWN, now or utcnow(), actor.username
    return _reread(db, draft_id)


def rebase(
    db: str, directory: Path, actor: Actor, draft_id: int, revision: int, *, now: Optional[datetime] = None
) -> KbDraft:
    """After a conflict on publishing: the editor has merged the newer published text into the draft;
    the draft is now based on it (and goes back to 草稿 for review)."""
    _require_editor(actor)
    draft = get_draft(db, draft_id)
    if draft is None or draft.status not in OPEN_STATES:
        raise EditError("草稿不存在或已结束。")
    published = read_entry_text(directory, draft.entry_id)
    with sessions(db).begin() as s:
        res = s.execute(
            update(KbDraft)
            .where(KbDraft.id == draft_id, KbDraft.revision == revision)
            .values(
                base_sha=sha(published),
                base_content=published,
                is_new=published is None,
                revision=KbDraft.revision + 1,
                status=DRAFT,
                submitted_at=None,
                updated_at=now or utcnow(),
                updated_by=actor.username,
            )
        )
        if res.rowcount != 1:
            raise Conflict("草稿在此期间已被修改，请刷新后再试。", mine="", theirs=draft.content)
    return _reread(db, draft_id)


@dataclass
class Published:
    draft: KbDraft
    version: int
    path: Path
    check: Check


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # a dot file: the loader skips it
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def stale_base(directory: Path, draft: KbDraft) -> Optional[str]:
    """The published text when it is no longer the one the draft started from (else None)."""
    current = read_entry_text(directory, draft.entry_id)
    return None if sha(current) == (draft.base_sha or "") else (current if current is not None else "")


def approve(
    db: str,
    directory: Path,
    actor: Actor,
    draft_id: int,
    revision: int,
    comment: str = "",
    *,
    today: Optional[date] = None,
    now: Optional[datetime] = None,
    after_write: Optional[Callable[[Path], None]] = None,
) -> Published:
    """Approve a pending draft and publish it: write the file, record the version, notify the services."""
    directory = Path(directory)
    now = now or utcnow()
    with _publishing(directory):
        draft = get_draft(db, draft_id)
        if draft is None:
            raise EditError("草稿不存在。")
        refusal = approval_refusal(draft, actor)
        if refusal:
            raise EditError(refusal)
        if draft.revision != revision:
            raise Conflict(
                f"草稿在您审核期间已被 {draft.updated_by} 修改（现为第 {draft.revision} 版），请查看最新内容后再审核。",
                mine="",
                theirs=draft.content,
                who=draft.updated_by,
                at=draft.updated_at,
                revision=draft.revision,
            )
        current = read_entry_text(directory, draft.entry_id)
        if sha(current) != (draft.base_sha or ""):
            history = versions(db, draft.entry_id)
            who = history[0].author if history and history[0].sha == sha(current) else "服务器上的文件修改"
            when = history[0].created_at if history and history[0].sha == sha(current) else None
            raise Conflict(
                "发布失败：该条目在这份草稿起草之后已有新的版本"
                + (f"（由 {who} 于 {_bj(when)} 发布）" if when else "（文件已在服务器上被修改）")
                + "。为避免覆盖新版本，本草稿没有发布：请作者对照下面两份内容合并，"
                "点“已合并，基于最新版本”后重新提交审核。",
                mine=draft.content,
                theirs=current or "",
                who=who,
                at=when,
            )
        check = check_text(directory, draft.entry_id, draft.content, today)
        if not check.ok:
            raise Invalid(check)
        path = entry_path(directory, draft.entry_id)
        _write_atomic(path, draft.content)
        try:
            with sessions(db).begin() as s:
                last = s.scalar(select(func.max(KbVersion.version)).where(KbVersion.entry_id == draft.entry_id)) or 0
                if current is not None and (
                    last == 0
                    or s.scalar(
                        select(KbVersion.sha).where(KbVersion.entry_id == draft.entry_id, KbVersion.version == last)
                    )
                    != sha(current)
                ):
                    last += 1  # the text published before the console kept versions (or edited by hand)
                    s.add(
                        KbVersion(
                            entry_id=draft.entry_id,
                            version=last,
                            content=current,
                            sha=sha(current),
                            author=FILE_AUTHOR,
                            created_at=now,
                            note="发布前的文件内容",
                        )
                    )
                version = last + 1
                s.add(
                    KbVersion(
                        entry_id=draft.entry_id,
                        version=version,
                        content=draft.content,
                        sha=sha(draft.content),
                        author=draft.author,
                        approved_by=actor.username,
                        draft_id=draft.id,
                        created_at=now,
                        note=(comment or "").strip()[:2000] or None,
                    )
                )
                s.add(
                    KbReview(
                        draft_id=draft.id,
                        reviewer=actor.username,
                        decision="approve",
                        comment=(comment or "").strip()[:2000] or None,
                        revision=revision,
                        at=now,
                    )
                )
                res = s.execute(
                    update(KbDraft)
                    .where(KbDraft.id == draft.id, KbDraft.revision == revision, KbDraft.status == PENDING)
                    .values(status=PUBLISHED, published_version=version, updated_at=now)
                )
                if res.rowcount != 1:
                    raise Conflict("草稿在发布时被修改，已取消发布，请刷新后再审核。", mine="", theirs="")
        except BaseException:
            if current is None:  # put the published text back: the file and the history agree
                path.unlink(missing_ok=True)
            else:
                _write_atomic(path, current)
            raise
        touch_reload(directory)
        if after_write is not None:
            after_write(path)
    return Published(_reread(db, draft_id), version, path, check)


__all__ = [
    "Actor",
    "Conflict",
    "EditError",
    "Invalid",
    "Published",
    "DRAFT",
    "PENDING",
    "PUBLISHED",
    "WITHDRAWN",
    "STATUS_LABELS",
    "EDIT_ROLES",
    "APPROVE_ROLES",
    "approval_refusal",
    "editors_of",
    "get_draft",
    "open_drafts",
    "recent_drafts",
    "reviews",
    "versions",
    "get_version",
    "start_draft",
    "save_draft",
    "submit",
    "reject",
    "withdraw",
    "rebase",
    "approve",
    "stale_base",
    "touch_reload",
]
