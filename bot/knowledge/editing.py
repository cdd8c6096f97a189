"""Knowledge entries edited as forms: the entry as the console's fields, the YAML file written from them,
the same validation as `make kb-validate`, the reply as the chat shows it, and what it would now answer.

Why here and not in the console: the files in knowledge/ stay the source of truth (docs/knowledge-editing.md),
so the conversion between a form and a file, and the checks a file must pass before it replaces the
published one, are knowledge-base rules that the CLI and tests use too. The checks are the loader's
(bot/knowledge/loader.py, every broken field named "<file>: <field>: <problem>") and the content checks
of audit.py, run on a temporary copy of the base with the edited file in place, so cross-file rules
(FAQ ids unique across the base, superseded_by naming an existing entry) hold as well.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import yaml

from bot import clock
from bot.logmask import mask

from .audit import REVIEW_AFTER_DAYS, audit
from .english import ENGLISH_FILE
from .loader import DATE_PATTERN, ENTRIES_DIR, ID_PATTERN, SYNONYMS_FILE, _safe_load, load_base
from .model import CONFIRMABLE, LEVELS, Entry, KnowledgeBase, KnowledgeError
from .replies import render
from .service import ANSWER, BEST_GUESS, OPTIONS, KnowledgeService, directory_signature

HEADER_FIELDS = (
    "id",
    "title",
    "issuer",
    "doc_number",
    "level",
    "categories",
    "effective",
    "expires",
    "reviewed_on",
    "checked",
    "superseded_by",
    "window",
    "source",
    "keywords",
    "next_step",
)
FAQ_KEYS = ("id", "question", "variants", "keywords", "answer", "next_step", "window")
EXPIRING_DAYS = 30  # an entry whose policy ends within this many days is listed as expiring
MAX_FAQS = 40
_LIST_SPLIT = re.compile(r"[,，、;；\n]+")


def sha(text: Optional[str]) -> str:
    """The version tag of a file's text ("" for no file): what a draft was based on."""
    return "" if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def entry_path(directory: Path, entry_id: str) -> Path:
    return Path(directory) / ENTRIES_DIR / f"{entry_id}.yml"


def read_entry_text(directory: Path, entry_id: str) -> Optional[str]:
    """The published file's text, or None when there is no such entry."""
    if not ID_PATTERN.match(entry_id or ""):
        return None
    path = entry_path(directory, entry_id)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


# ---- file text <-> fields --------------------------------------------------------------------------


def split_header(text: str) -> tuple[str, str]:
    """(the leading comment block without '# ', the rest): the sources note staff keep at the top."""
    lines = text.splitlines()
    i = 0
    comment: list[str] = []
    while i < len(lines) and (lines[i].startswith("#") or (not lines[i].strip() and comment)):
        if lines[i].startswith("#"):
            comment.append(lines[i][1:].removeprefix(" "))
        i += 1
    return "\n".join(comment).strip("\n"), "\n".join(lines[i:])


def parse_text(text: str) -> tuple[dict, str]:
    """(the entry as a mapping with dates as text, the header comment); ValueError for unreadable YAML."""
    comment, _ = split_header(text)
    try:
        data = _safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"YAML 语法错误：{getattr(exc, 'problem', None) or exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("内容应为一个映射（id: …, title: … 等字段）")
    return data, comment


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _join(values: Any, sep: str = "、") -> str:
    if not isinstance(values, list):
        return _text(values)
    return sep.join(_text(v) for v in values)


def _window_fields(window: Any, prefix: str) -> dict[str, str]:
    w = window if isinstance(window, dict) else {}
    return {
        f"{prefix}window_note": _text(w.get("note")),
        f"{prefix}window_months": _join(w.get("months"), ", "),
        f"{prefix}window_opens": _text(w.get("opens")),
        f"{prefix}window_closes": _text(w.get("closes")),
    }


def _checked_lines(checked: Any) -> str:
    lines = []
    for item in checked if isinstance(checked, list) else []:
        if isinstance(item, dict):
            confirms = item.get("confirms") or []
            parts = [_text(item.get("url")), _text(item.get("date"))]
            if isinstance(confirms, list) and confirms:
                parts.append(",".join(_text(c) for c in confirms))
            lines.append(" ".join(p for p in parts if p))
    return "\n".join(lines)


@dataclass
class EntryForm:
    """The entry as the console's form fields (all text; lists as text, FAQs as a list of field dicts)."""

    fields: dict[str, str] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    faqs: list[dict[str, str]] = field(default_factory=list)

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


def blank_faq() -> dict[str, str]:
    return {
        "id": "",
        "question": "",
        "variants": "",
        "keywords": "",
        "answer": "",
        "next_step": "",
        **_window_fields(None, ""),
    }


def form_from_data(data: Mapping[str, Any], comment: str = "") -> EntryForm:
    fields = {
        "id": _text(data.get("id")),
        "title": _text(data.get("title")),
        "issuer": _text(data.get("issuer")),
        "doc_number": _text(data.get("doc_number")),
        "level": _text(data.get("level")),
        "effective": _text(data.get("effective")),
        "expires": _text(data.get("expires")),
        "reviewed_on": _text(data.get("reviewed_on")),
        "source": _text(data.get("source")),
        "keywords": _join(data.get("keywords")),
        "next_step": _text(data.get("next_step")),
        "superseded_by": _text(data.get("superseded_by")),
        "checked": _checked_lines(data.get("checked")),
        "comment": comment,
        **_window_fields(data.get("window"), ""),
    }
    cats = data.get("categories")
    categories = [_text(c) for c in cats] if isinstance(cats, list) else []
    faqs = []
    for item in data.get("faq") or []:
        if not isinstance(item, dict):
            continue
        variants = item.get("variants")
        faqs.append(
            {
                "id": _text(item.get("id")),
                "question": _text(item.get("question")),
                "variants": "\n".join(_text(v) for v in variants) if isinstance(variants, list) else _text(variants),
                "keywords": _join(item.get("keywords")),
                "answer": _text(item.get("answer")).strip(),
                "next_step": _text(item.get("next_step")),
                **_window_fields(item.get("window"), ""),
            }
        )
    return EntryForm(fields, categories, faqs)


def form_from_text(text: str) -> EntryForm:
    data, comment = parse_text(text)
    return form_from_data(data, comment)


def form_from_post(post: Mapping[str, Any], getall=None) -> EntryForm:
    """The form as posted: header fields by name, categories (repeated), FAQs as faq-<i>-<field>;
    a FAQ whose "remove" box is ticked is left out."""

    def one(name: str) -> str:
        value = post.get(name, "")
        return str(value).replace("\r\n", "\n").replace("\x00", "").strip() if value is not None else ""

    names = (
        "id",
        "title",
        "issuer",
        "doc_number",
        "level",
        "effective",
        "expires",
        "reviewed_on",
        "source",
        "keywords",
        "next_step",
        "superseded_by",
        "checked",
        "comment",
        "window_note",
        "window_months",
        "window_opens",
        "window_closes",
    )
    fields = {n: one(n) for n in names}
    categories = [str(c) for c in (getall("categories") if getall else post.get("categories", []) or [])]
    try:
        count = min(max(int(one("faq_count") or 0), 0), MAX_FAQS)
    except ValueError:
        count = 0
    faqs = []
    for i in range(count):
        p = f"faq-{i}-"
        if one(p + "remove"):
            continue
        faq = {k: one(p + k) for k in blank_faq()}
        if any(faq.values()):
            faqs.append(faq)
    return EntryForm(fields, categories, faqs)


def _items(text: str) -> list[str]:
    return [s.strip() for s in _LIST_SPLIT.split(text or "") if s.strip()]


def _lines(text: str) -> list[str]:
    return [s.strip() for s in (text or "").splitlines() if s.strip()]


def _date_or_text(value: str) -> Any:
    """A date typed as YYYY-MM-DD stays a date; anything else is passed on for the loader to name."""
    value = (value or "").strip()
    if not value or value.lower() in ("null", "none", "~"):
        return None
    return _Date(value) if DATE_PATTERN.match(value) else value


class _Date(str):
    """A date typed in the form: written unquoted so YAML reads it as a date, as in hand-written files."""


def _months(value: str) -> Any:
    items = _items(value.replace(" ", ","))
    out: list[Any] = []
    for item in items:
        out.append(int(item) if item.isdigit() else item)
    return out or None


def _window(f: Mapping[str, str], prefix: str = "") -> Optional[dict]:
    raw = {k: f.get(f"{prefix}window_{k}", "").strip() for k in ("note", "months", "opens", "closes")}
    if not any(raw.values()):
        return None
    window: dict[str, Any] = {"note": raw["note"] or None}
    if raw["months"]:
        window["months"] = _months(raw["months"])
    if raw["opens"]:
        window["opens"] = _date_or_text(raw["opens"])
    if raw["closes"]:
        window["closes"] = _date_or_text(raw["closes"])
    return window


def _checked(text: str) -> list[dict]:
    """One source a line: URL, the day read, what it confirms (comma-separated), e.g.
    "https://www.gov.cn/… 2026-12-03 doc_number,effective"."""
    out = []
    for line in _lines(text):
        parts = line.split()
        item: dict[str, Any] = {"url": parts[0]}
        item["date"] = _date_or_text(parts[1]) if len(parts) > 1 else None
        confirms = [c for p in parts[2:] for c in _items(p)]
        if confirms:
            item["confirms"] = confirms
        out.append(item)
    return out


def data_from_form(form: EntryForm) -> tuple[dict, str]:
    """(the entry mapping in the file's field order, the header comment) from the form."""
    f = form.fields
    data: dict[str, Any] = {
        "id": f.get("id", "").strip(),
        "title": f.get("title", ""),
        "issuer": f.get("issuer", ""),
        "doc_number": f.get("doc_number", ""),
        "level": f.get("level", ""),
        "categories": list(dict.fromkeys(c for c in form.categories if c)),
        "effective": _date_or_text(f.get("effective", "")),
        "expires": _date_or_text(f.get("expires", "")),
    }
    if f.get("reviewed_on"):
        data["reviewed_on"] = _date_or_text(f["reviewed_on"])
    checked = _checked(f.get("checked", ""))
    if checked:
        data["checked"] = checked
    if f.get("superseded_by"):
        data["superseded_by"] = f["superseded_by"].strip()
    window = _window(f)
    if window:
        data["window"] = window
    data["source"] = f.get("source", "")
    keywords = _items(f.get("keywords", ""))
    if keywords:
        data["keywords"] = keywords
    if f.get("next_step"):
        data["next_step"] = f["next_step"]
    faqs = []
    for q in form.faqs:
        item: dict[str, Any] = {
            "id": q.get("id", "").strip(),
            "question": q.get("question", ""),
            "variants": _lines(q.get("variants", "")),
        }
        kw = _items(q.get("keywords", ""))
        if kw:
            item["keywords"] = kw
        item["answer"] = q.get("answer", "")
        if q.get("next_step"):
            item["next_step"] = q["next_step"]
        w = _window(q)
        if w:
            item["window"] = w
        faqs.append(item)
    data["faq"] = faqs
    return data, (f.get("comment") or "").strip("\n")


# ---- the YAML writer: the layout of the hand-written files (knowledge/README.md) ----------------------


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, _Date):
        return str(value)
    if isinstance(value, bool) or isinstance(value, (int, float)):
        return yaml.safe_dump(value).splitlines()[0]
    text = str(value)
    dumped = yaml.safe_dump(text, allow_unicode=True, default_flow_style=True, width=1 << 30)
    return dumped.removesuffix("\n...\n").removesuffix("\n").strip()


def _flow(values: Iterable[Any]) -> str:
    return "[" + ", ".join(_scalar(v) for v in values) + "]"


def _block(key: str, text: str, indent: str) -> list[str]:
    """answer: | … — the answer as written, one paragraph or several lines."""
    text = (text or "").strip()
    if not text or text != text.strip() or any(line != line.rstrip() for line in text.splitlines()):
        return [f"{indent}{key}: {_scalar(text)}"]
    return [f"{indent}{key}: |"] + [f"{indent}  {line}" if line else "" for line in text.splitlines()]


def _window_lines(window: Mapping[str, Any], indent: str) -> list[str]:
    out = [f"{indent}window:"]
    for k in ("note", "months", "opens", "closes"):
        if k in window:
            v = window[k]
            out.append(f"{indent}  {k}: {_flow(v) if isinstance(v, list) else _scalar(v)}")
    return out


def dump_entry(data: Mapping[str, Any], comment: str = "") -> str:
    """The YAML text of an entry, laid out as the hand-written files are (flow lists for short
    lists, one line per variant, answers as literal blocks), with the header comment on top."""
    out = [f"# {line}".rstrip() for line in comment.splitlines()] if comment.strip() else []
    for key in HEADER_FIELDS:
        if key not in data:
            continue
        v = data[key]
        if key == "checked":
            out.append("checked:")
            for item in v:
                out.append(f"  - url: {_scalar(item.get('url'))}")
                out.append(f"    date: {_scalar(item.get('date'))}")
                if item.get("confirms"):
                    out.append(f"    confirms: {_flow(item['confirms'])}")
        elif key == "window":
            out.extend(_window_lines(v, ""))
        elif isinstance(v, list):
            out.append(f"{key}: {_flow(v)}")
        else:
            out.append(f"{key}: {_scalar(v)}")
    out.append("faq:")
    for q in data.get("faq") or []:
        out.append(f"  - id: {_scalar(q.get('id'))}")
        out.append(f"    question: {_scalar(q.get('question'))}")
        variants = q.get("variants") or []
        if variants:
            out.append("    variants:")
            out.extend(f"      - {_scalar(v)}" for v in variants)
        else:
            out.append("    variants: []")
        if q.get("keywords"):
            out.append(f"    keywords: {_flow(q['keywords'])}")
        out.extend(_block("answer", q.get("answer", ""), "    "))
        if q.get("next_step"):
            out.append(f"    next_step: {_scalar(q['next_step'])}")
        if q.get("window"):
            out.extend(_window_lines(q["window"], "    "))
    return "\n".join(out) + "\n"


def text_from_form(form: EntryForm) -> str:
    data, comment = data_from_form(form)
    return dump_entry(data, comment)


# ---- validation on a copy of the base ---------------------------------------------------------------


@dataclass
class Check:
    """What `make kb-validate` says about the base with this entry's text in place.

    problems / warnings: the lines about this entry's file ("<field>: <problem>", the file name dropped);
    others: loader problems elsewhere in the base (the base would not load, so nothing can be published);
    elsewhere: content-check problems of other files (shown; they do not hold up this entry, as the running
    services load a base that fails only the content checks); kb: the base with the entry loaded (None when
    it does not load)."""

    entry_id: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    kb: Optional[KnowledgeBase] = None
    elsewhere: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.others and self.kb is not None

    @property
    def entry(self) -> Optional[Entry]:
        return self.kb.entry(self.entry_id) if self.kb is not None else None

    def fields(self) -> dict[str, list[str]]:
        """Problems by the form field they belong to ("title", "faq-2-answer", "checked", …)."""
        out: dict[str, list[str]] = {}
        for line in self.problems:
            where, _, problem = line.partition(": ")
            out.setdefault(form_field(where), []).append(problem or line)
        return out


_FAQ_WHERE = re.compile(r"^faq\[(\d+)\](?:\([^)]*\))?(?:\.([a-z_]+))?")


def form_field(where: str) -> str:
    """The form field a loader/audit location names: "faq[1](x).answer" → "faq-1-answer"."""
    m = _FAQ_WHERE.match(where)
    if m:
        sub = m.group(2) or "id"
        if sub == "window":
            sub = "window_" + (where.split(".window.", 1)[1].split("[")[0] if ".window." in where else "note")
        return f"faq-{m.group(1)}-{sub}"
    head = re.split(r"[.\[]", where, maxsplit=1)[0]
    if head == "window":
        rest = where.split(".", 1)[1].split("[")[0] if "." in where else "note"
        return f"window_{rest}"
    return head


def _own(lines: list[str], file: str) -> tuple[list[str], list[str]]:
    mine: list[str] = []
    rest: list[str] = []
    prefix = f"{file}: "
    for line in lines:
        (mine if line.startswith(prefix) else rest).append(
            line.removeprefix(prefix) if line.startswith(prefix) else line
        )
    return mine, rest


def _copy_base(directory: Path, target: Path, skip: Optional[str]) -> None:
    (target / ENTRIES_DIR).mkdir(parents=True)
    for name in (SYNONYMS_FILE, ENGLISH_FILE):
        src = directory / name
        if src.exists():
            shutil.copy2(src, target / name)
    for path in sorted((directory / ENTRIES_DIR).iterdir()):
        if path.is_file() and path.suffix == ".yml" and not path.name.startswith(".") and path.stem != skip:
            shutil.copy2(path, target / ENTRIES_DIR / path.name)


def check_text(directory: Path, entry_id: str, text: str, today: Optional[date] = None) -> Check:
    """Load the base with `text` as entries/<entry_id>.yml and run the content checks."""
    today = today or clock.today()
    if not ID_PATTERN.match(entry_id or ""):
        return Check(entry_id, problems=[f"id: {entry_id!r} 不合法：只能用小写字母、数字和连字符 -"])
    file = f"{ENTRIES_DIR}/{entry_id}.yml"
    with tempfile.TemporaryDirectory(prefix="kb-edit-") as tmp:
        copy = Path(tmp)
        _copy_base(Path(directory), copy, entry_id)
        (copy / ENTRIES_DIR / f"{entry_id}.yml").write_text(text, encoding="utf-8")
        try:
            kb = load_base(copy, today)
        except KnowledgeError as exc:
            mine, others = _own(exc.problems, file)
            return Check(entry_id, mine, [], others, None)
    result = audit(kb, today)
    mine, elsewhere = _own(result.problems, file)
    warnings, _ = _own(result.warnings + kb.warnings, file)
    if entry_id not in kb.entries:
        mine.append("(文件): 条目未能加载")
    return Check(entry_id, mine, warnings, [], kb, elsewhere)


# ---- preview and matching ------------------------------------------------------------------------------


@dataclass
class Bubble:
    text: str
    buttons: list[str] = field(default_factory=list)


@dataclass
class FaqPreview:
    faq_id: str
    question: str
    bubbles: list[Bubble]
    decision: str  # what the chat decides for the FAQ's own question on the edited base
    picks_itself: bool  # the question finds this FAQ first


def preview(service, entry: Entry, today: Optional[date] = None) -> list[FaqPreview]:
    """Each FAQ's reply as the chat renders it (bot/knowledge/replies.py) for its own question, asked of
    a KnowledgeService over the edited base: the decision is the real one (a sibling FAQ that is too close
    shows up here as a menu)."""
    out = []
    for faq in entry.faqs:
        answer = service.ask(faq.question)
        bubbles = [Bubble(r.text, [b.get("title", "") for b in r.buttons]) for r in render(answer, today)]
        top = answer.faq
        out.append(FaqPreview(faq.id, faq.question, bubbles, answer.decision, top is not None and top.id == faq.id))
    return out


@dataclass
class Match:
    text: str  # the question as asked, numbers masked
    times: int
    faq_id: str  # the FAQ of this entry it would now get
    decision: str  # answer / best_guess / options (this entry among the choices)
    before: str  # what it got when asked: "unknown", "answer:<faq id>", …
    not_helpful: int = 0


def matching_questions(
    service, entry_id: str, questions: Iterable[tuple[str, int, str, int]], limit: int = 50
) -> list[Match]:
    """The logged questions that the edited base would answer from this entry.

    questions: (text, times asked, what it got then, times marked 没帮助), most recent first. A question
    counts when this entry's FAQ is the answer or the best guess, or one of the choices of a menu."""
    out: list[Match] = []
    for text, times, before, bad in questions:
        answer = service.ask(text)
        hit = None
        if answer.decision in (ANSWER, BEST_GUESS) and answer.entry is not None and answer.entry.id == entry_id:
            hit = answer.faq.id
        elif answer.decision == OPTIONS:
            hit = next((h.faq.id for h in answer.options if h.entry is not None and h.entry.id == entry_id), None)
        if hit:
            out.append(Match(mask(text), times, hit, answer.decision, before, bad))
            if len(out) >= limit:
                break
    return out


class CandidateServices:
    """KnowledgeServices over edited copies of the base, cached by content (building one fits the
    retriever's calibration, seconds of work): the preview and the matching list of a draft reuse it
    until its text or the published base changes."""

    def __init__(self, size: int = 2):
        self.size = size
        self._items: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, directory: Path, entry_id: str, text: str, today: Optional[date] = None):
        key = sha(f"{entry_id}\n{text}\n{hash(directory_signature(Path(directory) / ENTRIES_DIR))}")
        with self._lock:
            service = self._items.get(key)
        if service is None:
            with tempfile.TemporaryDirectory(prefix="kb-preview-") as tmp:
                copy = Path(tmp)
                _copy_base(Path(directory), copy, entry_id)
                (copy / ENTRIES_DIR / f"{entry_id}.yml").write_text(text, encoding="utf-8")
                service = KnowledgeService(
                    copy,
                    strict=True,
                    background_reload=False,
                    check_interval=1e12,
                    today=(lambda: today) if today else clock.today,
                )
            with self._lock:
                self._items[key] = service
                while len(self._items) > self.size:
                    self._items.pop(next(iter(self._items)))
        return service


# ---- entries to review ---------------------------------------------------------------------------------


@dataclass
class Flag:
    entry_id: str
    title: str
    reasons: list[str]
    severity: int  # 2: expired / never reviewed, 1: review overdue / expiring soon
    reviewed_on: Optional[date]
    expires: Optional[date]


def flags(
    kb: KnowledgeBase,
    today: Optional[date] = None,
    review_after: int = REVIEW_AFTER_DAYS,
    expiring_days: int = EXPIRING_DAYS,
) -> list[Flag]:
    """Entries past their review date or policy expiry, or expiring soon, worst first."""
    today = today or clock.today()
    out = []
    for entry in kb:
        reasons, severity = [], 0
        if entry.reviewed_on is None:
            reasons.append("没有复核日期")
            severity = 2
        elif (today - entry.reviewed_on).days > review_after:
            reasons.append(
                f"复核已超过 {review_after} 天（上次 {entry.reviewed_on}，应于 "
                f"{entry.reviewed_on + timedelta(days=review_after)} 前复核）"
            )
            severity = max(severity, 1)
        if entry.expires is not None:
            if entry.is_expired(today):
                reasons.append(
                    f"政策已于 {entry.expires} 到期"
                    + ("，已写明接替条目" if entry.superseded_by else "，未写明接替条目")
                )
                severity = max(severity, 1 if entry.superseded_by else 2)
            elif (entry.expires - today).days <= expiring_days:
                reasons.append(f"政策将于 {entry.expires} 到期（{(entry.expires - today).days} 天后）")
                severity = max(severity, 1)
        if reasons:
            out.append(Flag(entry.id, entry.title, reasons, severity, entry.reviewed_on, entry.expires))
    out.sort(key=lambda f: (-f.severity, f.expires or date.max, f.reviewed_on or date.min, f.entry_id))
    return out


def new_entry_form(
    entry_id: str = "", question: str = "", variants: Iterable[str] = (), today: Optional[date] = None
) -> EntryForm:
    """A blank entry for the form (optionally started from a group of unanswered questions)."""
    faq = blank_faq()
    faq["question"] = question
    faq["variants"] = "\n".join(v for v in variants if v and v != question)
    if entry_id:
        faq["id"] = f"{entry_id}-"
    fields = {"id": entry_id, "level": "窗口", "doc_number": "", "reviewed_on": (today or clock.today()).isoformat()}
    return EntryForm(fields, [], [faq])


def text_with_faq(text: str, question: str, variants: Iterable[str] = ()) -> str:
    """An entry's text with one more FAQ (question and variants filled in, the rest for the editor)."""
    form = form_from_text(text)
    faq = blank_faq()
    faq["id"] = f"{form.get('id')}-"
    faq["question"] = question
    faq["variants"] = "\n".join(v for v in variants if v and v != question)
    form.faqs.append(faq)
    return text_from_form(form)


__all__ = [
    "EntryForm",
    "Check",
    "Flag",
    "FaqPreview",
    "Match",
    "CandidateServices",
    "LEVELS",
    "CONFIRMABLE",
    "sha",
    "read_entry_text",
    "entry_path",
    "parse_text",
    "form_from_text",
    "form_from_data",
    "form_from_post",
    "data_from_form",
    "dump_entry",
    "text_from_form",
    "check_text",
    "form_field",
    "preview",
    "matching_questions",
    "flags",
    "new_entry_form",
    "text_with_faq",
    "blank_faq",
]
