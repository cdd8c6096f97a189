"""Check an enterprise's figures against the rules: one verdict per policy, with the checks behind it.

Verdict (issue 12):
- not_eligible    when any criterion the figures can decide fails;
- need_more_info  otherwise, when a figure a criterion needs is missing;
- eligible        otherwise: every decidable criterion passes; criteria left to experts or to
                  staff are listed with pass = null ("需专家评估" / "需核实"), never guessed.
An expired rule (or one not yet in force) is not applied: it is reported in `not_applied` with
the reason, so the caller can say so.

A group of criteria is one check: all_of fails when a member fails; any_of passes when a member
passes, fails only when every member fails, and otherwise (a member left to people or missing a
figure) needs more information.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Optional, TypedDict, Union

from bot import clock

from .metrics import METRICS, Interval, Missing, Number, Undecidable, Value, show
from .model import Criterion, Rule, RuleSet, Threshold
from .profile import FIELDS, LABELS, Profile

PASS, FAIL, MISSING, EXPERT, REVIEW, INFO = "pass", "fail", "missing", "expert", "review", "info"
EXPERT_TEXT = "需专家评估"
REVIEW_TEXT = "需核实"
UNVERIFIED_TEXT = "（此项口径尚未核实原文，以服务专员核实为准）"
OP_TEXT = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}

# What a criterion's figure is tested against: a number, or the words of contains_any / not_contains_any.
Target = Union[Fraction, tuple[str, ...]]


@dataclass
class CheckResult:
    criterion: str  # the condition in the document's words
    label: str  # short name for one chat line
    required: str
    value: Optional[str]
    passed: Optional[bool]
    status: str  # pass / fail / missing / expert / review / info
    missing: tuple[str, ...] = ()  # input fields that would decide it
    verified: bool = True
    id: str = ""  # the criterion's id in the rule file
    figure: str = ""  # the deciding number alone ("13.33%"), for one chat line
    target: str = ""  # the threshold alone ("≥ 5%")

    def to_json(self) -> dict:
        return {"criterion": self.criterion, "required": self.required, "value": self.value, "pass": self.passed}


@dataclass
class PolicyResult:
    policy: str
    name: str
    verdict: str
    checks: list[CheckResult]
    citation: str
    next_step: str
    missing: list[str] = field(default_factory=list)  # input fields to ask for, in FIELDS order
    verified: bool = True  # False: route the conclusion to staff

    def check(self, criterion_id: str) -> Optional[CheckResult]:
        return next((c for c in self.checks if c.id == criterion_id), None)

    def to_json(self) -> dict:
        return {
            "policy": self.policy,
            "name": self.name,
            "verdict": self.verdict,
            "checks": [c.to_json() for c in self.checks],
            "citation": self.citation,
            "next_step": self.next_step,
        }


@dataclass
class NotApplied:
    policy: str
    name: str
    reason: str
    citation: str

    def check(self, criterion_id: str) -> Optional[CheckResult]:
        return None  # a policy out of force is not evaluated: no criterion was checked

    def to_json(self) -> dict:
        return {"policy": self.policy, "name": self.name, "reason": self.reason, "citation": self.citation}


@dataclass
class Report:
    results: list[PolicyResult]
    not_applied: list[NotApplied] = field(default_factory=list)

    def to_json(self) -> dict:
        body: dict = {"results": [r.to_json() for r in self.results]}
        if self.not_applied:
            body["not_applied"] = [n.to_json() for n in self.not_applied]
        return body

    def result(self, policy: str) -> Optional["PolicyResult"]:
        return next((r for r in self.results if r.policy == policy), None)


def _cn(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _compare(value: Union[Number, str, Interval], op: str, target: Target) -> Optional[bool]:
    """True / False, or None when an Interval straddles the target."""
    if op in ("contains_any", "not_contains_any"):
        assert isinstance(target, tuple), "the loader gives contains_any / not_contains_any a list of words"
        hit = any(word in str(value) for word in target)
        return hit if op == "contains_any" else not hit
    # the loader pairs a comparison with a number threshold and a metric that is not text (TEXT_METRICS)
    assert isinstance(target, Fraction) and not isinstance(value, str)
    if isinstance(value, Interval):
        lo, hi = _compare(value.lo, op, target), _compare(value.hi, op, target)
        return lo if lo == hi else None
    if op == ">=":
        return value >= target
    if op == "<=":
        return value <= target
    return value > target if op == ">" else value < target


def _metric(name: str, p: Profile, today: date) -> Value:
    return METRICS[name](p, today)


def _threshold_of(c: Criterion) -> Threshold:
    """A check or info criterion's threshold (the loader refuses one without)."""
    assert c.threshold is not None, f"criterion {c.id} has no threshold"
    return c.threshold


def _threshold(c: Criterion, p: Profile, today: date) -> tuple[Target, str, str]:
    """The target value, how the requirement reads, and the threshold alone; Missing (or Undecidable)
    when a tier's basis is missing (or cannot be computed)."""
    th = _threshold_of(c)
    if th.by:
        basis = _metric(th.by, p, today).value
        assert isinstance(basis, (Fraction, int)), "the loader takes a tier's basis from a number metric"
        tier = next((t for t in th.tiers if t.up_to is None or basis <= t.up_to), th.tiers[-1])
        return (
            tier.value,
            f"{OP_TEXT[c.op]} {show(tier.value, c.unit)}（{tier.text}）",
            f"{OP_TEXT[c.op]} {show(tier.value, c.unit)}",
        )
    if c.op in ("contains_any", "not_contains_any"):
        words = th.value
        assert isinstance(words, tuple), "the loader gives contains_any / not_contains_any a list of words"
        text = c.required or ("不属于：" if c.op == "not_contains_any" else "属于：") + "、".join(words)
        return words, text, text
    value = th.value
    assert isinstance(value, Fraction), "the loader gives a comparison a number (or tiers)"
    text = f"{OP_TEXT[c.op]} {show(value, c.unit)}"
    return value, text, text


def _tiers_text(c: Criterion) -> str:
    """The requirement of a tiered threshold, every tier, when its basis is not known."""
    return "、".join(f"{OP_TEXT[c.op]} {show(t.value, c.unit)}（{t.text}）" for t in _threshold_of(c).tiers)


def _figure(got: Value, unit: str) -> str:
    v = got.value
    if isinstance(v, Interval):
        lo, hi = show(v.lo, unit), show(v.hi, unit)
        return lo if lo == hi else f"{show(v.lo, '')}–{hi}"
    return show(v, unit)


class _Shared(TypedDict):
    """The fields of a CheckResult that come from its criterion alone."""

    criterion: str
    label: str
    verified: bool
    id: str


def _check(c: Criterion, p: Profile, today: date) -> CheckResult:
    base = _Shared(criterion=c.text, label=c.label, verified=c.verified, id=c.id)
    if c.kind in (EXPERT, REVIEW):
        text, who = (EXPERT_TEXT, "由评审专家评估") if c.kind == EXPERT else (REVIEW_TEXT, "由服务专员核实")
        return CheckResult(**base, required=c.required or c.note or who, value=text, passed=None, status=c.kind)
    required = c.required
    got: Optional[Value] = None
    target: Optional[Target] = None
    short = ""
    fields: list[str] = []
    notes: list[str] = []
    first: tuple[str, ...] = ()
    undecidable = ""
    try:
        got = _metric(c.metric, p, today)
    except Missing as exc:
        fields += exc.fields
        first = exc.fields
        notes.append(exc.note)
    except Undecidable as exc:
        undecidable = exc.shown
    try:
        target, auto_required, short = _threshold(c, p, today)
        required = required or auto_required
    except Missing as exc:
        if not fields:
            first = exc.fields
            notes.append(exc.note)
        fields += [f for f in exc.fields if f not in fields]
        required = required or _tiers_text(c)
    except Undecidable as exc:  # a tier's basis that cannot be computed (a ratio over zero revenue)
        undecidable = undecidable or exc.shown
        required = required or _tiers_text(c)
    if fields:
        ordered = tuple(f for f in FIELDS if f in fields)
        # the metric's own note ("需近3个会计年度…") unless the threshold's basis adds other fields
        note = (
            notes[0]
            if len(notes) == 1 and set(ordered) == set(first)
            else "需补充" + "、".join(LABELS[f] for f in ordered)
        )
        if c.kind == INFO:
            return CheckResult(**base, required=c.required or c.note, value=note, passed=None, status=INFO)
        return CheckResult(
            **base, required=required, value=note, passed=None, status=MISSING, missing=ordered, target=short
        )
    if undecidable:
        return CheckResult(**base, required=required, value=f"{undecidable}，{EXPERT_TEXT}", passed=None, status=EXPERT)
    # neither the metric nor the threshold raised, so both are known
    assert got is not None and target is not None
    outcome = _compare(got.value, c.op, target)
    figure = _figure(got, c.unit)
    shown = got.shown or figure
    if c.kind == INFO:
        return CheckResult(
            **base,
            required=required if c.required else c.note,
            value=(c.when_true if outcome else c.when_false).replace("{value}", shown),
            passed=None,
            status=INFO,
            figure=figure,
            target=short,
        )
    if outcome is None:  # an interval across the threshold: the missing part decides
        return CheckResult(
            **base, required=required, value=shown, passed=None, status=MISSING, figure=figure, target=short
        )
    return CheckResult(
        **base,
        required=required,
        value=shown,
        passed=outcome,
        status=PASS if outcome else FAIL,
        figure=figure,
        target=short,
    )


def _combine(kind: str, statuses: list[str]) -> str:
    if kind == "all_of":
        for s in (FAIL, MISSING, EXPERT, REVIEW):
            if s in statuses:
                return s
        return PASS
    if PASS in statuses:
        return PASS
    if all(s == FAIL for s in statuses):
        return FAIL
    return MISSING  # any_of: undecided members leave the whole group undecided


def _mark(status: str) -> str:
    return {PASS: " ✓", FAIL: " ✗"}.get(status, "")


@dataclass
class _Node:
    """A group member as rendered inside its group's one line."""

    result: CheckResult
    value: str
    required: str


def _render(kind: str, members: list[_Node]) -> tuple[str, str]:
    joiner = ("，且", "，") if kind == "all_of" else ("；或", "；或 ")
    return (joiner[0].join(m.required for m in members), joiner[1].join(m.value for m in members))


def _evaluate(c: Criterion, p: Profile, today: date) -> Optional[_Node]:
    if c.expires is not None and today > c.expires:
        return None
    if not c.is_group:
        r = _check(c, p, today)
        node = _Node(r, f"{r.label} {r.value}{_mark(r.status)}", f"{r.label} {r.required}")
    else:
        kind = "all_of" if c.all_of else "any_of"
        members = [m for m in (_evaluate(x, p, today) for x in (c.all_of or c.any_of)) if m is not None]
        status = _combine(kind, [m.result.status for m in members])
        required, value = _render(kind, members)
        missing = tuple(dict.fromkeys(f for m in members for f in m.result.missing))
        r = CheckResult(
            criterion=c.text,
            label=c.label,
            required=c.required or required,
            value=value,
            passed={PASS: True, FAIL: False}.get(status),
            status=status,
            missing=missing if status == MISSING else (),
            verified=c.verified and all(m.result.verified for m in members),
            id=c.id,
        )
        node = _Node(r, value, c.required or required)
    if not c.verified and r.value is not None and not r.value.endswith(UNVERIFIED_TEXT):
        r.value += UNVERIFIED_TEXT
    return node


def evaluate_criterion(c: Criterion, p: Profile, today: date) -> Optional[CheckResult]:
    """One criterion (or group) against the figures; None when the criterion itself has expired."""
    node = _evaluate(c, p, today)
    return node.result if node else None


def verdict_of(checks: list[CheckResult]) -> str:
    statuses = [c.status for c in checks if c.status != INFO]
    if FAIL in statuses:
        return "not_eligible"
    if MISSING in statuses:
        return "need_more_info"
    return "eligible"


def evaluate_rule(rule: Rule, p: Profile, today: date) -> PolicyResult:
    checks = [r for r in (evaluate_criterion(c, p, today) for c in rule.criteria) if r is not None]
    verdict = verdict_of(checks)
    asked = {f for c in checks if c.status == MISSING for f in c.missing}
    missing = [f for f in FIELDS if f in asked]
    step = rule.next_step.for_verdict(verdict)
    if verdict == "need_more_info" and missing:
        step = f"请补充：{'、'.join(LABELS[f] for f in missing)}。{step}"
    verified = rule.verified and all(c.verified for c in checks)
    if not verified:
        step += " 注意：这条规则有内容尚未核对原文，结论仅供参考，请在这里登记需求，由服务专员为您核实。"
    return PolicyResult(
        policy=rule.id,
        name=rule.name,
        verdict=verdict,
        checks=checks,
        citation=rule.citation,
        next_step=step,
        missing=missing,
        verified=verified,
    )


def check(rules: RuleSet, p: Profile, today: Optional[date] = None, policies: Optional[list[str]] = None) -> Report:
    """Every rule in force on `today` (default: today) against the profile; others reported as not applied."""
    today = today or clock.today()
    report = Report(results=[])
    for rule in rules:
        if policies is not None and rule.id not in policies:
            continue
        if rule.is_expired(today):
            assert rule.expires is not None  # is_expired: the rule has a last day, and today is after it
            report.not_applied.append(
                NotApplied(rule.id, rule.name, f"该政策已于{_cn(rule.expires)}到期，不再适用", rule.citation)
            )
        elif rule.effective > today:
            report.not_applied.append(
                NotApplied(rule.id, rule.name, f"该政策自{_cn(rule.effective)}起施行，目前尚未生效", rule.citation)
            )
        else:
            report.results.append(evaluate_rule(rule, p, today))
    return report
