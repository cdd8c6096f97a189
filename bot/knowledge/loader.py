"""Load and validate knowledge/ (see knowledge/README.md for the format).

Staff edit these YAML files by hand, so the loader collects every problem
before failing: one run of `make kb-validate` shows all of them, each as
"<file>: <field>: <problem>".
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any, Optional, TypeGuard

import yaml

from bot import clock
from bot.taxonomy import BY_INTENT
from bot.text import normalise

from .english import ENGLISH_FILE, parse_table
from .model import CONFIRMABLE, LEVELS, Check, Entry, Faq, KnowledgeBase, KnowledgeError, Window

ENTRIES_DIR = "entries"
SYNONYMS_FILE = "synonyms.yml"

ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
REQUIRED_FIELDS = ("id", "title", "issuer", "doc_number", "level", "categories", "effective", "source", "faq")
# reviewed_on is required by the content checks (bot/knowledge/audit.py, `validate`), not here:
# the running service keeps answering from an entry whose review date is missing.
OPTIONAL_FIELDS = ("keywords", "expires", "reviewed_on", "checked", "window", "superseded_by", "next_step")
FAQ_FIELDS = ("id", "question", "variants", "answer")
FAQ_OPTIONAL_FIELDS = ("keywords", "next_step", "window")  # FAQ-specific terms, next step, window
WINDOW_FIELDS = ("note", "months", "opens", "closes")
CHECK_FIELDS = ("url", "date", "confirms")  # not "on": YAML 1.1 reads a bare on as true

DATE_PATTERN = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """yaml.safe_load semantics (C implementation when available, ~10x faster),
    except that dates stay text: PyYAML raises a bare ValueError for 2020-13-45
    that cannot be tied to a field, so dates are parsed per field below."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def _safe_load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader


def _parse_date(value: Any) -> Optional[date]:
    """YAML gives a date for 2016-01-29; accept a quoted ISO string as well."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        match = DATE_PATTERN.match(value.strip())
        if match:
            try:
                return date(*(int(g) for g in match.groups()))
            except ValueError:
                return None
    return None


def _is_text(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and value.strip() != ""


class _Collector:
    """Accumulates problems and warnings with the file name attached."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def error(self, file: str, fld: str, problem: str) -> None:
        self.problems.append(f"{file}: {fld}: {problem}")

    def warn(self, file: str, fld: str, problem: str) -> None:
        self.warnings.append(f"{file}: {fld}: {problem}")


def _text_list(value: Any, file: str, fld: str, out: _Collector, *, minimum: int) -> list[str]:
    """Validate a list of non-empty strings; report each bad item by index."""
    if value is None and minimum == 0:
        return []
    if not isinstance(value, list):
        out.error(file, fld, "应为列表")
        return []
    items: list[str] = []
    for i, item in enumerate(value):
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)
        if not _is_text(item):
            out.error(file, f"{fld}[{i}]", "应为非空文本")
            continue
        items.append(item.strip())
    if len(value) < minimum:  # bad items were already reported one by one
        out.error(file, fld, f"至少需要 {minimum} 项")
    return items


def _load_faqs(raw: Any, entry_id: str, file: str, out: _Collector, seen_faq_ids: dict[str, str]) -> list[Faq]:
    if not isinstance(raw, list) or not raw:
        out.error(file, "faq", "应为非空列表（至少一个问答）")
        return []
    faqs: list[Faq] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            out.error(file, f"faq[{i}]", "每个问答应为包含 id/question/variants/answer 的映射")
            continue
        before = len(out.problems)
        faq_id = item.get("id")
        if "id" not in item:
            out.error(file, f"faq[{i}].id", "缺少必填字段")
        elif not isinstance(faq_id, str) or not ID_PATTERN.match(faq_id):
            out.error(file, f"faq[{i}].id", f"{faq_id!r} 不合法：只能用小写字母、数字和连字符 -")
        elif faq_id in seen_faq_ids:
            out.error(file, f"faq[{i}].id", f"问答 id “{faq_id}” 重复（已在 {seen_faq_ids[faq_id]} 中使用）")
        else:
            seen_faq_ids[faq_id] = file
        # Name the FAQ by its id too, so staff find it in a long file.
        where = f"faq[{i}]({faq_id})" if isinstance(faq_id, str) and faq_id else f"faq[{i}]"
        for name in FAQ_FIELDS[1:]:
            if name not in item:
                out.error(file, f"{where}.{name}", "缺少必填字段")
        for name in item:
            if name not in FAQ_FIELDS and name not in FAQ_OPTIONAL_FIELDS:
                out.warn(file, f"{where}.{name}", "未知字段，已忽略")
        question = item.get("question")
        if "question" in item and not _is_text(question):
            out.error(file, f"{where}.question", "应为非空文本")
        answer = item.get("answer")
        if "answer" in item and not _is_text(answer):
            out.error(file, f"{where}.answer", "应为非空文本")
        variants = (
            _text_list(item.get("variants"), file, f"{where}.variants", out, minimum=1) if "variants" in item else []
        )
        keywords = _text_list(item.get("keywords"), file, f"{where}.keywords", out, minimum=0)
        next_step = item.get("next_step")
        if "next_step" in item and not _is_text(next_step):
            out.error(file, f"{where}.next_step", "应为非空文本（下一步：去哪里办、准备什么）")
        window = _load_window(item["window"], file, out, f"{where}.window") if item.get("window") is not None else None
        if len(out.problems) == before:
            assert isinstance(faq_id, str) and _is_text(question) and _is_text(answer)  # else a problem was reported
            faqs.append(
                Faq(
                    id=faq_id,
                    question=question.strip(),
                    variants=variants,
                    answer=answer.strip(),
                    entry_id=entry_id,
                    keywords=keywords,
                    next_step=(next_step or "").strip(),
                    window=window,
                )
            )
    return faqs


def _load_entry(path: Path, file: str, out: _Collector, seen_faq_ids: dict[str, str], today: date) -> Optional[Entry]:
    try:
        data = _safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        out.error(file, "(文件)", "不是 UTF-8 编码")
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行" if mark is not None else "(文件)"
        out.error(file, where, f"YAML 语法错误：{getattr(exc, 'problem', None) or exc}")
        return None
    except Exception as exc:  # noqa: BLE001 - any loader failure is a file problem
        out.error(file, "(文件)", f"无法解析：{exc}")
        return None
    if not isinstance(data, dict):
        out.error(file, "(文件)", "内容应为一个映射（id: …, title: … 等字段）")
        return None

    before = len(out.problems)
    for name in REQUIRED_FIELDS:
        if name not in data:
            out.error(file, name, "缺少必填字段")
    for name in data:
        if name not in REQUIRED_FIELDS and name not in OPTIONAL_FIELDS:
            out.warn(file, str(name), "未知字段，已忽略")

    entry_id = data.get("id")
    if "id" in data:
        if not isinstance(entry_id, str) or not ID_PATTERN.match(entry_id):
            out.error(file, "id", f"{entry_id!r} 不合法：只能用小写字母、数字和连字符 -")
        elif entry_id != path.stem:
            out.error(file, "id", f"“{entry_id}” 与文件名 “{path.stem}” 不一致")

    for name in ("title", "issuer", "source"):
        if name in data and not _is_text(data[name]):
            out.error(file, name, "应为非空文本")

    doc_number = data.get("doc_number")
    if doc_number is None:
        doc_number = ""  # an empty `doc_number:` line means "no 文号"
    elif isinstance(doc_number, (int, float)) and not isinstance(doc_number, bool):
        doc_number = str(doc_number)
    elif not isinstance(doc_number, str):
        out.error(file, "doc_number", '应为文本（没有文号时写 ""）')

    level = data.get("level")
    if "level" in data and level not in LEVELS:
        out.error(file, "level", f"“{level}” 不是有效层级，应为 {' / '.join(LEVELS)} 之一")

    categories: list[str] = []
    if "categories" in data:
        raw = data["categories"]
        if not isinstance(raw, list) or not raw:
            out.error(file, "categories", "应为非空列表，例如 [need_qualification]")
        else:
            for i, cat in enumerate(raw):
                if cat not in BY_INTENT:
                    out.error(file, f"categories[{i}]", f"“{cat}” 不是已知的需求类别 id（见 bot/taxonomy.py）")
                elif cat not in categories:
                    categories.append(cat)

    effective = expires = None
    if "effective" in data and data["effective"] is not None:
        effective = _parse_date(data["effective"])
        if effective is None:
            out.error(file, "effective", f"“{data['effective']}” 不是有效日期（格式 YYYY-MM-DD；没有或未核实写 null）")
    if "expires" in data and data["expires"] is not None:
        expires = _parse_date(data["expires"])
        if expires is None:
            out.error(file, "expires", f"“{data['expires']}” 不是有效日期（格式 YYYY-MM-DD，长期有效写 null）")
        elif effective is not None and expires < effective:
            out.error(file, "expires", f"失效日期 {expires} 早于生效日期 {effective}")

    keywords = _text_list(data.get("keywords"), file, "keywords", out, minimum=0)

    reviewed_on = None
    if data.get("reviewed_on") is not None:
        reviewed_on = _parse_date(data["reviewed_on"])
        if reviewed_on is None:
            out.error(file, "reviewed_on", f"“{data['reviewed_on']}” 不是有效日期（格式 YYYY-MM-DD）")
        elif reviewed_on > today:
            out.error(file, "reviewed_on", f"复核日期 {reviewed_on} 晚于今天")
    checked = _load_checks(data.get("checked"), file, out, today) if "checked" in data else []
    window = _load_window(data.get("window"), file, out) if data.get("window") is not None else None
    superseded_by = data.get("superseded_by") or ""
    if superseded_by and (not isinstance(superseded_by, str) or not ID_PATTERN.match(superseded_by)):
        out.error(file, "superseded_by", f"{superseded_by!r} 不是条目 id（接替本条的条目文件名，不含 .yml）")
    elif superseded_by and superseded_by == entry_id:
        out.error(file, "superseded_by", "不能指向本条目自己")
    next_step = data.get("next_step")
    if "next_step" in data and not _is_text(next_step):
        out.error(file, "next_step", "应为非空文本（下一步：去哪里办、准备什么）")

    faqs = (
        _load_faqs(data.get("faq"), entry_id if isinstance(entry_id, str) else path.stem, file, out, seen_faq_ids)
        if "faq" in data
        else []
    )

    if len(out.problems) != before:
        return None
    assert isinstance(entry_id, str) and isinstance(level, str)  # else a problem was reported
    entry = Entry(
        id=entry_id,
        title=data["title"].strip(),
        issuer=data["issuer"].strip(),
        doc_number=doc_number.strip(),
        level=level,
        categories=categories,
        effective=effective,
        expires=expires,
        source=data["source"].strip(),
        keywords=keywords,
        faqs=faqs,
        path=str(path),
        reviewed_on=reviewed_on,
        checked=checked,
        window=window,
        superseded_by=superseded_by,
        next_step=(next_step or "").strip(),
    )
    for faq in faqs:
        faq.entry = entry
    return entry


def _load_checks(raw: Any, file: str, out: _Collector, today: date) -> list[Check]:
    """checked: [{url, date, confirms?}] — the sources read, when, and what they confirm."""
    if not isinstance(raw, list) or not raw:
        out.error(file, "checked", "应为非空列表：- url: https://… / date: YYYY-MM-DD / confirms: [effective]")
        return []
    checks: list[Check] = []
    for i, item in enumerate(raw):
        where = f"checked[{i}]"
        if not isinstance(item, dict):
            out.error(file, where, "应为包含 url / date / confirms 的映射")
            continue
        before = len(out.problems)
        for name in item:
            if name not in CHECK_FIELDS:
                hint = "（写 date，不要写 on）" if name is True else ""
                out.error(file, f"{where}.{name}", f"未知字段（可用：{' / '.join(CHECK_FIELDS)}）{hint}")
        url = item.get("url")
        if not _is_text(url) or not re.match(r"^https?://\S+$", url.strip()):
            out.error(file, f"{where}.url", f"{url!r} 不是网址（以 http:// 或 https:// 开头）")
        on = _parse_date(item.get("date"))
        if on is None:
            out.error(file, f"{where}.date", f"“{item.get('date')}” 不是有效日期（核实日期，格式 YYYY-MM-DD）")
        elif on > today:
            out.error(file, f"{where}.date", f"核实日期 {on} 晚于今天")
        confirms = item.get("confirms") or []
        if not isinstance(confirms, list):
            out.error(file, f"{where}.confirms", f"应为列表，可选：{' / '.join(CONFIRMABLE)}")
            confirms = []
        for j, fact in enumerate(confirms):
            if fact not in CONFIRMABLE:
                out.error(file, f"{where}.confirms[{j}]", f"“{fact}” 不可选，可选：{' / '.join(CONFIRMABLE)}")
        if len(out.problems) == before:
            assert _is_text(url) and on is not None  # else a problem was reported
            checks.append(Check(url=url.strip(), on=on, confirms=tuple(confirms)))
    return checks


def _load_window(raw: Any, file: str, out: _Collector, fld: str = "window") -> Optional[Window]:
    """window: {note, months?, opens?, closes?} — when applications are taken."""
    if not isinstance(raw, dict):
        out.error(file, fld, "应为映射：note（在哪里公布）+ months（往年月份）或 opens/closes（本批日期）")
        return None
    before = len(out.problems)
    for name in raw:
        if name not in WINDOW_FIELDS:
            out.error(file, f"{fld}.{name}", f"未知字段（可用：{' / '.join(WINDOW_FIELDS)}）")
    note = raw.get("note")
    if not _is_text(note):
        out.error(file, f"{fld}.note", "应为非空文本：申报时间在哪里公布，例如 “陕西省科技厅当年通知”")
    months: list[int] = []
    if raw.get("months") is not None:
        value = raw["months"]
        if not isinstance(value, list) or not value:
            out.error(file, f"{fld}.months", "应为月份列表，例如 [5, 6]")
        else:
            for i, m in enumerate(value):
                if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 12:
                    out.error(file, f"{fld}.months[{i}]", f"“{m}” 不是 1–12 的月份")
                else:
                    months.append(m)
    dates = {}
    for name in ("opens", "closes"):
        if raw.get(name) is not None:
            dates[name] = _parse_date(raw[name])
            if dates[name] is None:
                out.error(file, f"{fld}.{name}", f"“{raw[name]}” 不是有效日期（格式 YYYY-MM-DD）")
    opens, closes = dates.get("opens"), dates.get("closes")
    if opens and closes and closes < opens:
        out.error(file, f"{fld}.closes", f"截止日期 {closes} 早于开始日期 {opens}")
    if months and (opens or closes):
        out.error(file, fld, "months（往年月份）与 opens/closes（本批日期）只填一种")
    if len(out.problems) != before:
        return None
    assert _is_text(note)  # else a problem was reported
    return Window(note=note.strip(), months=tuple(months), opens=opens, closes=closes)


def load_synonyms(path: Path, out: _Collector) -> list[list[str]]:
    """Read synonyms.yml: a list of groups, each a list of ≥ 2 equivalent terms.

    A term may belong to one group only: retrieval rewrites every term to the
    first term of its group, which must be unambiguous.
    """
    if not path.exists():
        return []
    file = path.name
    try:
        data = _safe_load(path.read_text(encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 - YAML or encoding errors
        out.error(file, "(文件)", f"无法解析：{exc}")
        return []
    if data is None:
        return []
    if not isinstance(data, list):
        out.error(file, "(文件)", "内容应为同义词组的列表，例如 - [高新技术企业, 高企]")
        return []

    groups: list[list[str]] = []
    owner: dict[str, int] = {}
    for i, group in enumerate(data):
        where = f"[{i}]"
        if not isinstance(group, list) or len(group) < 2:
            out.error(file, where, "每组应为至少两个词的列表")
            continue
        terms: list[str] = []
        for j, term in enumerate(group):
            if isinstance(term, (int, float)) and not isinstance(term, bool):
                term = str(term)
            if not _is_text(term):
                out.error(file, f"{where}[{j}]", "应为非空文本")
                continue
            key = normalise(term)
            if key in owner and owner[key] != i:
                out.error(file, f"{where}[{j}]", f"“{term}” 已出现在第 {owner[key]} 组，一个词只能属于一组")
                continue
            if key in owner:
                continue  # duplicate inside the same group: harmless
            owner[key] = i
            terms.append(term.strip())
        if len(terms) >= 2:
            groups.append(terms)
    return groups


def load_english(path: Path, out: _Collector) -> list[tuple[tuple[str, ...], str]]:
    """Read english.yml (see bot/knowledge/english.py); absent file = no English phrases."""
    if not path.exists():
        return []
    try:
        data = _safe_load(path.read_text(encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 - YAML or encoding errors
        out.error(path.name, "(文件)", f"无法解析：{exc}")
        return []
    return parse_table(data, path.name, out)


def load_base(directory: str | Path, today: Optional[date] = None) -> KnowledgeBase:
    """Load knowledge/ into a KnowledgeBase, or raise KnowledgeError listing every problem.

    `today` (default: the window's today, Beijing time) is the latest review or check date an entry may carry."""
    directory = Path(directory)
    today = today or clock.today()
    out = _Collector()
    entries_dir = directory / ENTRIES_DIR
    if not entries_dir.is_dir():
        raise KnowledgeError([f"{directory}: {ENTRIES_DIR}: 目录不存在"])

    entries: dict[str, Entry] = {}
    seen_faq_ids: dict[str, str] = {}
    for path in sorted(entries_dir.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        file = f"{ENTRIES_DIR}/{path.name}"
        if path.suffix == ".yaml":
            out.warn(file, "(文件)", "扩展名应为 .yml，此文件未加载")
            continue
        if path.suffix != ".yml":
            continue
        entry = _load_entry(path, file, out, seen_faq_ids, today)
        if entry is not None:
            entries[entry.id] = entry

    for entry in entries.values():
        if entry.superseded_by:
            successor = entries.get(entry.superseded_by)
            file = f"{ENTRIES_DIR}/{Path(entry.path).name}"
            if successor is None:
                out.error(file, "superseded_by", f"找不到条目 “{entry.superseded_by}”")
            else:
                entry.successor = successor

    synonyms = load_synonyms(directory / SYNONYMS_FILE, out)
    english = load_english(directory / ENGLISH_FILE, out)
    if out.problems:
        raise KnowledgeError(out.problems)
    if not entries:
        out.warn(ENTRIES_DIR, "(目录)", "没有任何条目")
    return KnowledgeBase(
        directory=directory, entries=entries, synonyms=synonyms, english=english, warnings=out.warnings
    )
