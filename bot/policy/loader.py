"""Load and validate knowledge/policies/*.yml (format: knowledge/README.md, "Policy check rules").

Staff edit these files by hand, so every problem is collected before failing, each as
"<file>: <field>: <problem>" (field paths like criteria[3].value.tiers[1].up_to), and a
set with any problem is refused as a whole: a half-loaded rule would give wrong verdicts.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional, TypedDict

import yaml

from .metrics import INTERVAL_METRICS, METRICS, TEXT_METRICS
from .model import (
    KINDS,
    OPS,
    UNITS,
    Criterion,
    Document,
    NextSteps,
    PolicyError,
    Rule,
    RuleSet,
    Threshold,
    Tier,
    Window,
)

POLICIES_DIR = "policies"
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")
DATE_PATTERN = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
URL_PATTERN = re.compile(r"^https?://\S+$")

RULE_FIELDS = (
    "id",
    "name",
    "version",
    "issuer",
    "documents",
    "effective",
    "expires",
    "reviewed_on",
    "sources",
    "verified",
    "verification",
    "application_window",
    "next_step",
    "criteria",
)
DOCUMENT_FIELDS = ("title", "doc_number", "url")
WINDOW_FIELDS = ("note", "months", "opens", "closes", "source")
NEXT_STEP_FIELDS = ("eligible", "not_eligible", "need_more_info")
CRITERION_FIELDS = (
    "id",
    "text",
    "label",
    "kind",
    "metric",
    "op",
    "value",
    "unit",
    "required",
    "note",
    "when_true",
    "when_false",
    "all_of",
    "any_of",
    "expires",
    "verified",
    "verification",
)
TEXT_OPS = ("contains_any", "not_contains_any")


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loading; dates stay text so a bad one (2020-13-45) is reported with its field."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def _date(value: Any) -> Optional[date]:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        m = DATE_PATTERN.match(value.strip())
        if m:
            try:
                return date(*(int(g) for g in m.groups()))
            except ValueError:
                return None
    return None


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _fraction(value: Any) -> Optional[Fraction]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float) and math.isfinite(value):
        return Fraction(Decimal(repr(value)))
    return None


class _File:
    """Problems of one file, with the file name attached."""

    def __init__(self, name: str, out: list[str]) -> None:
        self.name, self.out = name, out

    def error(self, fld: str, problem: str) -> None:
        self.out.append(f"{self.name}: {fld}: {problem}")

    def unknown(self, data: dict, allowed: tuple[str, ...], where: str) -> None:
        for key in data:
            if key not in allowed:
                self.error(f"{where}{key}", f"未知字段（可用：{'、'.join(allowed)}）")

    def text(self, data: dict, key: str, where: str = "", required: bool = True) -> str:
        if key not in data:
            if required:
                self.error(f"{where}{key}", "缺少必填字段")
            return ""
        if not _text(data[key]):
            self.error(f"{where}{key}", "应为非空文本")
            return ""
        return data[key].strip()

    def day(self, data: dict, key: str, where: str = "", nullable: bool = False) -> Optional[date]:
        if key not in data:
            if not nullable:
                self.error(f"{where}{key}", "缺少必填字段")
            return None
        raw = data[key]
        if raw is None and nullable:
            return None
        d = _date(raw)
        if d is None:
            self.error(f"{where}{key}", f"{raw!r} 不是有效日期（应为 YYYY-MM-DD{'，或 null' if nullable else ''}）")
        return d


def _threshold(f: _File, raw: Any, op: str, where: str) -> Optional[Threshold]:
    if op in TEXT_OPS:
        if not isinstance(raw, list) or not raw or not all(_text(x) for x in raw):
            f.error(where, "应为非空的文字列表，例如 [餐饮, 住宿]")
            return None
        return Threshold(value=tuple(x.strip() for x in raw))
    if isinstance(raw, dict):
        f.unknown(raw, ("by", "tiers"), f"{where}.")
        by = raw.get("by")
        if not isinstance(by, str) or by not in METRICS:
            f.error(f"{where}.by", f"{by!r} 不是已知的指标（可用：{'、'.join(METRICS)}）")
            by = ""
        elif by in TEXT_METRICS or by in INTERVAL_METRICS:
            f.error(
                f"{where}.by",
                f"“{by}” 不能作为分档依据（分档依据应为数值指标，不能是{'、'.join(sorted(TEXT_METRICS | INTERVAL_METRICS))}）",
            )
        tiers_raw = raw.get("tiers")
        if not isinstance(tiers_raw, list) or len(tiers_raw) < 2:
            f.error(f"{where}.tiers", "应为至少两档的列表")
            return None
        tiers, last_up = [], None
        for i, t in enumerate(tiers_raw):
            tw = f"{where}.tiers[{i}]"
            if not isinstance(t, dict):
                f.error(tw, "每一档应为包含 up_to / value / text 的映射")
                continue
            f.unknown(t, ("up_to", "value", "text"), f"{tw}.")
            value = _fraction(t.get("value"))
            if value is None:
                f.error(f"{tw}.value", "应为数字")
            text = f.text(t, "text", f"{tw}.")
            is_last = i == len(tiers_raw) - 1
            up = t.get("up_to")
            up_to = None
            if is_last:
                if up is not None:
                    f.error(f"{tw}.up_to", "最后一档不设上限（去掉 up_to）")
            else:
                up_to = _fraction(up)
                if up_to is None:
                    f.error(f"{tw}.up_to", "应为数字（本档上限，含）")
                elif last_up is not None and up_to <= last_up:
                    f.error(f"{tw}.up_to", "各档上限应从小到大")
                last_up = up_to if up_to is not None else last_up
            if value is not None and text:
                tiers.append(Tier(up_to=up_to, value=value, text=text))
        return Threshold(by=by, tiers=tuple(tiers))
    value = _fraction(raw)
    if value is None:
        f.error(where, "应为数字，或分档设置 {by: …, tiers: […]}")
        return None
    return Threshold(value=value)


class _Common(TypedDict):
    """The fields every criterion has, a group or not."""

    id: str
    text: str
    label: str
    expires: Optional[date]
    verified: bool
    verification: str
    note: str
    required: str


def _criterion(f: _File, raw: Any, where: str, seen: set[str]) -> Optional[Criterion]:
    if not isinstance(raw, dict):
        f.error(where, "每个条件应为映射（id、text、label …）")
        return None
    before = len(f.out)
    cid = raw.get("id")
    if not isinstance(cid, str) or not ID_PATTERN.match(cid):
        f.error(f"{where}.id", f"{cid!r} 不合法：只能用小写字母、数字和下划线")
    elif cid in seen:
        f.error(f"{where}.id", f"条件 id “{cid}” 在本文件中重复")
    else:
        seen.add(cid)
    where_named = f"{where}({cid})" if isinstance(cid, str) else where
    f.unknown(raw, CRITERION_FIELDS, f"{where_named}.")
    text = f.text(raw, "text", f"{where_named}.")
    lab = f.text(raw, "label", f"{where_named}.")
    expires = f.day(raw, "expires", f"{where_named}.", nullable=True) if "expires" in raw else None
    verified = raw.get("verified", True)
    if not isinstance(verified, bool):
        f.error(f"{where_named}.verified", "应为 true 或 false")
        verified = False
    verification = f.text(raw, "verification", f"{where_named}.", required=not verified)
    groups = {k: raw[k] for k in ("all_of", "any_of") if k in raw}
    common = _Common(
        id=cid if isinstance(cid, str) else "",
        text=text,
        label=lab,
        expires=expires,
        verified=verified,
        verification=verification,
        note=f.text(raw, "note", f"{where_named}.", required=False),
        required=f.text(raw, "required", f"{where_named}.", required=False),
    )
    if groups:
        if len(groups) > 1:
            f.error(where_named, "all_of 和 any_of 只能选一个")
        for bad in ("kind", "metric", "op", "value"):
            if bad in raw:
                f.error(f"{where_named}.{bad}", "条件组（all_of / any_of）不能再设此字段")
        key, members_raw = next(iter(groups.items()))
        if not isinstance(members_raw, list) or len(members_raw) < 2:
            f.error(f"{where_named}.{key}", "应为至少两个条件的列表")
            return None
        members = tuple(
            m
            for m in (_criterion(f, m, f"{where_named}.{key}[{i}]", seen) for i, m in enumerate(members_raw))
            if m is not None
        )
        if len(f.out) != before:
            return None
        return Criterion(**common, all_of=members) if key == "all_of" else Criterion(**common, any_of=members)
    kind = raw.get("kind", "check")
    if kind not in KINDS:
        f.error(f"{where_named}.kind", f"“{kind}” 无效，应为 {' / '.join(KINDS)} 之一")
        return None
    if kind in ("expert", "review"):
        for bad in ("metric", "op", "value", "when_true", "when_false"):
            if bad in raw:
                f.error(f"{where_named}.{bad}", f"{kind} 类条件由人判断，不设此字段")
        if len(f.out) != before:
            return None
        return Criterion(**common, kind=kind)
    metric = raw.get("metric")
    if not isinstance(metric, str) or metric not in METRICS:
        f.error(f"{where_named}.metric", f"{metric!r} 不是已知的指标（可用：{'、'.join(METRICS)}）")
        metric = ""
    op = raw.get("op")
    if not isinstance(op, str) or op not in OPS:
        f.error(f"{where_named}.op", f"{op!r} 无效，应为 {' / '.join(OPS)} 之一")
        op = ""
    if metric and op and (op in TEXT_OPS) != (metric in TEXT_METRICS):
        f.error(
            f"{where_named}.op",
            f"“{op}” 不适用于指标 “{metric}”：文字指标（{'、'.join(sorted(TEXT_METRICS))}）"
            "只用 contains_any / not_contains_any，其他指标只用 >= > <= <",
        )
    unit = raw.get("unit", "text")
    if unit not in UNITS:
        f.error(f"{where_named}.unit", f"“{unit}” 无效，应为 {' / '.join(UNITS)} 之一")
    threshold = None
    if "value" not in raw:
        f.error(f"{where_named}.value", "缺少必填字段")
    elif op:
        threshold = _threshold(f, raw["value"], op, f"{where_named}.value")
    when_true = when_false = ""
    if kind == "info":
        when_true = f.text(raw, "when_true", f"{where_named}.")
        when_false = f.text(raw, "when_false", f"{where_named}.")
    else:
        for bad in ("when_true", "when_false"):
            if bad in raw:
                f.error(f"{where_named}.{bad}", "只用于 info 类条件")
    if len(f.out) != before:
        return None
    return Criterion(
        **common,
        kind=kind,
        metric=metric,
        op=op,
        threshold=threshold,
        unit=unit,
        when_true=when_true,
        when_false=when_false,
    )


def _window(f: _File, raw: Any) -> Optional[Window]:
    if not isinstance(raw, dict):
        f.error("application_window", "应为映射：note（在哪里公布），可选 months / opens / closes / source")
        return None
    f.unknown(raw, WINDOW_FIELDS, "application_window.")
    note = f.text(raw, "note", "application_window.")
    months: tuple[int, ...] = ()
    if raw.get("months") is not None:
        m = raw["months"]
        if not isinstance(m, list) or not all(
            isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= 12 for x in m
        ):
            f.error("application_window.months", "应为 1–12 的月份列表")
        else:
            months = tuple(m)
    opens = f.day(raw, "opens", "application_window.", nullable=True) if "opens" in raw else None
    closes = f.day(raw, "closes", "application_window.", nullable=True) if "closes" in raw else None
    if opens and closes and closes < opens:
        f.error("application_window.closes", "截止日期早于开始日期")
    source = f.text(raw, "source", "application_window.", required=False)
    if (opens or closes) and not source:
        f.error("application_window.source", "写了具体日期时须注明出处（通知名称与文号）")
    return Window(note=note, months=months, opens=opens, closes=closes, source=source)


def _load_rule(path: Path, out: list[str], seen_ids: dict[str, str]) -> Optional[Rule]:
    f = _File(path.name, out)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - a safe loader
    except UnicodeDecodeError:
        f.error("(文件)", "不是 UTF-8 编码")
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        f.error(
            f"第 {mark.line + 1} 行" if mark is not None else "(文件)",
            f"YAML 语法错误：{getattr(exc, 'problem', None) or exc}",
        )
        return None
    if not isinstance(data, dict):
        f.error("(文件)", "内容应为一个映射（id: …, name: … 等字段）")
        return None
    before = len(out)
    for key in RULE_FIELDS:
        if key not in data:
            f.error(key, "缺少必填字段")
    f.unknown(data, RULE_FIELDS, "")
    rid = data.get("id")
    if "id" in data:
        if not isinstance(rid, str) or not ID_PATTERN.match(rid):
            f.error("id", f"{rid!r} 不合法：只能用小写字母、数字和下划线")
        elif rid != path.stem:
            f.error("id", f"“{rid}” 与文件名 “{path.stem}” 不一致")
        elif rid in seen_ids:
            f.error("id", f"“{rid}” 已在 {seen_ids[rid]} 中使用")
        else:
            seen_ids[rid] = path.name
    name = f.text(data, "name") if "name" in data else ""
    issuer = f.text(data, "issuer") if "issuer" in data else ""
    version = data.get("version")
    if "version" in data and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
        f.error("version", "应为正整数（条件改动时加 1）")
    documents = []
    if "documents" in data:
        docs = data["documents"]
        if not isinstance(docs, list) or not docs:
            f.error("documents", "应为非空列表（发文的文件名称与文号）")
        else:
            for i, d in enumerate(docs):
                if not isinstance(d, dict):
                    f.error(f"documents[{i}]", "应为包含 title / doc_number / url 的映射")
                    continue
                f.unknown(d, DOCUMENT_FIELDS, f"documents[{i}].")
                title = f.text(d, "title", f"documents[{i}].")
                if title.startswith("《"):
                    f.error(f"documents[{i}].title", "不要带书名号《》，引用时会自动加上")
                number = d.get("doc_number")
                if "doc_number" not in d:
                    f.error(f"documents[{i}].doc_number", '缺少必填字段（没有文号时写 ""）')
                elif not isinstance(number, str):
                    f.error(f"documents[{i}].doc_number", '应为文本（没有文号时写 ""）')
                url = d.get("url", "")
                if url and (not isinstance(url, str) or not URL_PATTERN.match(url)):
                    f.error(f"documents[{i}].url", "应为 http(s):// 开头的网址")
                if title and isinstance(number, str):
                    documents.append(Document(title=title, doc_number=number.strip(), url=url or ""))
    effective = f.day(data, "effective") if "effective" in data else None
    expires = f.day(data, "expires", nullable=True) if "expires" in data else None
    if effective and expires and expires < effective:
        f.error("expires", "失效日期早于生效日期")
    reviewed_on = f.day(data, "reviewed_on") if "reviewed_on" in data else None
    sources = data.get("sources")
    if "sources" in data:
        if not isinstance(sources, list) or not sources:
            f.error("sources", "应为非空的网址列表（核对时读过的原文或转载）")
            sources = []
        else:
            for i, s in enumerate(sources):
                if not isinstance(s, str) or not URL_PATTERN.match(s):
                    f.error(f"sources[{i}]", "应为 http(s):// 开头的网址")
    verified = data.get("verified")
    if "verified" in data and not isinstance(verified, bool):
        f.error("verified", "应为 true 或 false")
    verification = f.text(data, "verification") if "verification" in data else ""
    window = _window(f, data["application_window"]) if "application_window" in data else None
    next_step = None
    if "next_step" in data:
        ns = data["next_step"]
        if not isinstance(ns, dict):
            f.error("next_step", "应为映射：eligible / not_eligible / need_more_info 三种结论各自的下一步")
        else:
            f.unknown(ns, NEXT_STEP_FIELDS, "next_step.")
            texts = [f.text(ns, k, "next_step.") for k in NEXT_STEP_FIELDS]
            if all(texts):
                next_step = NextSteps(*texts)
    criteria = []
    if "criteria" in data:
        raw = data["criteria"]
        if not isinstance(raw, list) or not raw:
            f.error("criteria", "应为非空列表")
        else:
            seen: set[str] = set()
            for i, c in enumerate(raw):
                crit = _criterion(f, c, f"criteria[{i}]", seen)
                if crit is not None:
                    criteria.append(crit)
    if len(out) != before:
        return None
    # No problem was reported, so every required field was present and valid:
    assert isinstance(rid, str) and isinstance(version, int) and isinstance(verified, bool)
    assert isinstance(sources, list) and effective is not None and reviewed_on is not None
    assert window is not None and next_step is not None
    return Rule(
        id=rid,
        name=name,
        version=version,
        issuer=issuer,
        documents=tuple(documents),
        effective=effective,
        expires=expires,
        reviewed_on=reviewed_on,
        sources=tuple(sources),
        verified=verified,
        verification=verification,
        window=window,
        next_step=next_step,
        criteria=tuple(criteria),
        path=str(path),
    )


def load_rules(directory: Path) -> RuleSet:
    """All rule files of `directory` (the policies folder itself, or the knowledge folder that
    holds it). Raises PolicyError listing every problem of every file."""
    directory = Path(directory)
    if (directory / POLICIES_DIR).is_dir():
        directory = directory / POLICIES_DIR
    if not directory.is_dir():
        raise PolicyError(f"{directory}: (目录): 找不到政策规则目录")
    out: list[str] = []
    seen_ids: dict[str, str] = {}
    rules = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.suffix not in (".yml", ".yaml"):
            continue
        rule = _load_rule(path, out, seen_ids)
        if rule is not None:
            rules.append(rule)
    if out:
        raise PolicyError(out)
    if not rules:
        raise PolicyError(f"{directory}: (目录): 没有任何规则文件（*.yml）")
    return RuleSet(rules)
