"""Plain-text lines of a policy check, for the chat and messages (no markup: every channel shows text).

✓ 高新技术企业认定：按您的数字，可以量化的条件都满足
  研发费用占比 10.37%（要求 ≥ 5%）✓
  创新能力评价：需专家评估
"""

from __future__ import annotations

from .evaluate import EXPERT, FAIL, INFO, MISSING, PASS, REVIEW, CheckResult, PolicyResult
from .profile import LABELS

HEADLINES = {
    "eligible": "✓ {name}：按您的数字，可以量化的条件都满足",
    "not_eligible": "✗ {name}：暂不符合",
    "need_more_info": "需补充 {name}：还缺{missing}",
}


def check_line(c: CheckResult) -> str:
    """One criterion: the deciding number, the requirement and ✓ / ✗ / 需补充 (or who decides)."""
    if c.status in (EXPERT, REVIEW, INFO):
        return f"{c.label}：{c.value}"
    if c.status == MISSING:
        return f"{c.label}：{c.value}" + (f"（要求 {c.target}）" if c.target else "")
    mark = "✓" if c.status == PASS else "✗"
    if c.figure and c.target:
        return f"{c.label} {c.figure}（要求 {c.target}）{mark}"
    return f"{c.label}：{c.value} {mark}"


def headline(r: PolicyResult) -> str:
    missing = "、".join(LABELS[f] for f in r.missing) or "一些情况需要核实"
    return HEADLINES[r.verdict].format(name=r.name, missing=missing)


def lines(r: PolicyResult, *, only_deciding: bool = False) -> list[str]:
    """The headline and one indented line per check; `only_deciding` keeps the failed and missing ones
    (or, for an eligible policy, the passed figures and the items left to people)."""
    checks = r.checks
    if only_deciding:
        wanted = {"not_eligible": (FAIL,), "need_more_info": (MISSING, FAIL)}.get(r.verdict, (PASS, EXPERT))
        checks = [c for c in checks if c.status in wanted]
    return [headline(r)] + ["  " + check_line(c) for c in checks]
