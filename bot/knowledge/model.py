"""Plain data objects of the knowledge base.

They carry no behaviour beyond small conveniences so that actions, reports and
tests can use them without importing the retriever (jieba, rapidfuzz).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Iterator, Optional

from bot import clock
from bot.problems import ProblemsError

LEVELS = ("国家", "省", "市", "区", "窗口")
# Header facts a checked source can confirm (see knowledge/README.md, "checked").
CONFIRMABLE = ("doc_number", "effective", "expires", "window", "figures")


class KnowledgeError(ProblemsError):
    """The knowledge base failed validation.

    `problems` holds every problem as "<file>: <field>: <problem>" so that
    staff can fix all of them in one pass instead of one per run.
    """

    TITLE = "知识库校验未通过"


@dataclass(eq=False)
class Faq:
    """One question with its answer; `entry` points back to the policy it belongs to."""

    id: str
    question: str
    variants: list[str]
    answer: str
    entry_id: str
    keywords: list[str] = field(default_factory=list)  # optional, FAQ-specific search terms
    entry: Optional["Entry"] = field(default=None, repr=False)
    next_step: str = ""  # what the enterprise does next; empty = the entry's next_step
    window: Optional["Window"] = None  # when applications are taken, for this FAQ only

    @property
    def next(self) -> str:
        """The next step shown after this answer: the FAQ's own, else the entry's."""
        return self.next_step or (self.entry.next_step if self.entry is not None else "")

    @property
    def application_window(self) -> Optional["Window"]:
        """The FAQ's own window, else the entry's (None: the answer names no application time)."""
        return self.window or (self.entry.window if self.entry is not None else None)

    @property
    def sentences(self) -> list[str]:
        """The canonical question followed by its variants (what users might type)."""
        return [self.question, *self.variants]


@dataclass(frozen=True)
class Check:
    """One source read to verify an entry: where, when, and which header facts it confirms."""

    url: str
    on: date
    confirms: tuple[str, ...] = ()


def _cn_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


@dataclass(frozen=True)
class Window:
    """When applications are taken: usual months of a yearly call, or the dates of the current
    call, and always where the dates are announced (`note`, e.g. "省科技厅当年通知")."""

    note: str
    months: tuple[int, ...] = ()
    opens: Optional[date] = None
    closes: Optional[date] = None

    def describe(self, today: Optional[date] = None) -> str:
        """One line for the chat bubble, relative to today for an explicit call."""
        today = today or clock.today()
        where = f"以{self.note}为准"
        if self.opens or self.closes:
            span = "至".join(_cn_date(d) for d in (self.opens, self.closes) if d)
            if self.opens and not self.closes:
                span += "起"
            if self.closes and today > self.closes:
                return f"申报时间：已知最近一批已于{_cn_date(self.closes)}截止，下一批{where}。"
            if self.opens and today < self.opens:
                return f"申报时间：{span}（尚未开始，{where}）。"
            return f"申报时间：{span}，目前正在受理（{where}）。"
        if self.months:
            return f"申报时间：往年一般在每年{_month_span(self.months)}（{where}）。"
        return f"申报时间：{where}。"


def _month_span(months: tuple[int, ...]) -> str:
    ms = sorted(set(months))
    if len(ms) > 1 and ms == list(range(ms[0], ms[-1] + 1)):
        return f"{ms[0]}–{ms[-1]}月"
    return "、".join(str(m) for m in ms) + "月"


@dataclass(eq=False)
class Entry:
    """One policy document or window topic (one YAML file)."""

    id: str
    title: str
    issuer: str
    doc_number: str
    level: str
    categories: list[str]
    effective: Optional[date]  # None: no single dated document, or the date is not verified
    expires: Optional[date]
    source: str
    keywords: list[str] = field(default_factory=list)
    faqs: list[Faq] = field(default_factory=list)
    path: str = ""
    reviewed_on: Optional[date] = None  # last content review against the sources
    checked: list[Check] = field(default_factory=list)
    window: Optional[Window] = None
    superseded_by: str = ""  # id of the entry that replaces this one
    next_step: str = ""  # default next step for the entry's FAQs
    successor: Optional["Entry"] = field(default=None, repr=False)  # resolved superseded_by

    def verified(self, fact: str) -> bool:
        """True when a checked source confirms this header fact (see CONFIRMABLE)."""
        return any(fact in c.confirms for c in self.checked)

    def replaced(self, today: Optional[date] = None) -> bool:
        """Expired, or replaced by another entry: its figures are no longer current."""
        return self.is_expired(today) or bool(self.superseded_by)

    def is_expired(self, today: Optional[date] = None) -> bool:
        """True once the policy no longer applies.

        `expires` is read as the last day the policy applies: Chinese documents
        say "有效期至 2025年12月31日" and mean that day is still covered.
        """
        if self.expires is None:
            return False
        return (today or clock.today()) > self.expires

    def is_effective(self, today: Optional[date] = None) -> bool:
        """True when the policy has started and not yet expired."""
        today = today or clock.today()
        started = self.effective is None or self.effective <= today
        return started and not self.is_expired(today)


@dataclass(eq=False)
class KnowledgeBase:
    """A validated, immutable snapshot of knowledge/ (entries + synonym groups)."""

    directory: Path
    entries: dict[str, Entry]
    synonyms: list[list[str]] = field(default_factory=list)
    # english.yml: (English phrases, Chinese term) pairs applied to queries
    english: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    faqs: dict[str, Faq] = field(init=False)

    def __post_init__(self) -> None:
        self.faqs = {faq.id: faq for entry in self.entries.values() for faq in entry.faqs}

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries.values())

    def entry(self, entry_id: str) -> Optional[Entry]:
        return self.entries.get(entry_id)

    def faq(self, faq_id: str) -> Optional[Faq]:
        return self.faqs.get(faq_id)

    def by_category(self, intent: str) -> list[Entry]:
        """Entries tagged with a need intent, e.g. to list policies for a category."""
        return [e for e in self.entries.values() if intent in e.categories]

    def summary(self) -> str:
        return (
            f"{len(self.entries)} 个条目，{len(self.faqs)} 个问答，"
            f"{sum(len(f.variants) for f in self.faqs.values())} 个问法变体，"
            f"{len(self.synonyms)} 组同义词，{len(self.english)} 组英文短语"
        )
