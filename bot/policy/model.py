"""Rules as data: one policy, its documents, dates and criteria (loaded from knowledge/policies/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Iterator, Optional, Union

from bot.problems import ProblemsError

VERDICTS = ("eligible", "not_eligible", "need_more_info")

# How a criterion is decided:
#   check   the figures decide it (pass / fail; missing figure → need_more_info)
#   expert  needs an expert's judgement (创新能力评价…): listed as 需专家评估, never guessed
#   review  a fact the API's figures do not carry (重大安全事故, 禁止类行业…): listed as 需核实
#   info    shown for information (the 120 % rate of a listed enterprise); never changes the verdict
KINDS = ("check", "expert", "review", "info")
OPS = (">=", ">", "<=", "<", "contains_any", "not_contains_any")
UNITS = ("percent", "yuan", "count", "days", "people", "score", "text")


class PolicyError(ProblemsError):
    """Broken rule files: every problem as "<file>: <field>: <problem>"."""

    TITLE = "政策规则校验失败"


@dataclass(frozen=True)
class Document:
    title: str  # without 《》
    doc_number: str  # 文号, "" when the document has none
    url: str = ""

    def cite(self) -> str:
        return f"《{self.title}》（{self.doc_number}）" if self.doc_number else f"《{self.title}》"


@dataclass(frozen=True)
class Window:
    """When applications are taken (申报时间), for the proactive matching job: the dates of a known
    call, or the usual months, and always where the dates are announced (`note`)."""

    note: str
    months: tuple[int, ...] = ()
    opens: Optional[date] = None
    closes: Optional[date] = None
    source: str = ""


@dataclass(frozen=True)
class Tier:
    """One band of a tiered threshold: applies while the basis is ≤ up_to (None: no upper bound)."""

    up_to: Optional[Fraction]
    value: Fraction
    text: str


@dataclass(frozen=True)
class Threshold:
    """A fixed value, or a value chosen by bands of another figure (`by`, a metric name)."""

    value: Optional[Union[Fraction, tuple[str, ...]]] = None
    by: str = ""
    tiers: tuple[Tier, ...] = ()


@dataclass(frozen=True)
class Criterion:
    id: str
    text: str  # the condition in the document's words
    label: str  # short name for one chat line ("研发费用占比")
    kind: str = "check"
    metric: str = ""  # a named figure (bot.policy.metrics) or an input field
    op: str = ""
    threshold: Optional[Threshold] = None
    unit: str = "text"
    required: str = ""  # how the requirement is shown; generated when empty
    note: str = ""  # shown with an expert / review / info item
    when_true: str = ""  # info items: the value shown when the test holds
    when_false: str = ""
    all_of: tuple["Criterion", ...] = ()
    any_of: tuple["Criterion", ...] = ()
    expires: Optional[date] = None  # a criterion with its own end date (the 120 % rate)
    verified: bool = True
    verification: str = ""

    @property
    def is_group(self) -> bool:
        return bool(self.all_of or self.any_of)


@dataclass(frozen=True)
class NextSteps:
    eligible: str
    not_eligible: str
    need_more_info: str

    def for_verdict(self, verdict: str) -> str:
        return getattr(self, verdict)


@dataclass(eq=False)
class Rule:
    """One policy's eligibility rule (one YAML file)."""

    id: str
    name: str
    version: int
    issuer: str
    documents: tuple[Document, ...]
    effective: date
    expires: Optional[date]
    reviewed_on: date
    sources: tuple[str, ...]
    verified: bool
    verification: str
    window: Window
    next_step: NextSteps
    criteria: tuple[Criterion, ...]
    path: str = ""

    @property
    def citation(self) -> str:
        return "；".join(d.cite() for d in self.documents)

    def is_expired(self, today: date) -> bool:
        """`expires` is the last day the policy applies (有效期至 that day, inclusive)."""
        return self.expires is not None and today > self.expires

    def is_effective(self, today: date) -> bool:
        return self.effective <= today and not self.is_expired(today)


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, rule_id: str) -> Optional[Rule]:
        return next((r for r in self.rules if r.id == rule_id), None)

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.rules]
