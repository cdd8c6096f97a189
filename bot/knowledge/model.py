"""Plain data objects of the knowledge base.

They carry no behaviour beyond small conveniences so that actions, reports and
tests can use them without importing the retriever (jieba, rapidfuzz).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Iterator, Optional

LEVELS = ("国家", "省", "市", "区", "窗口")


class KnowledgeError(Exception):
    """The knowledge base failed validation.

    `problems` holds every problem as "<file>: <field>: <problem>" so that
    staff can fix all of them in one pass instead of one per run.
    """

    def __init__(self, problems: list[str] | str):
        if isinstance(problems, str):
            problems = [problems]
        self.problems: list[str] = list(problems)
        header = f"知识库校验未通过，共 {len(self.problems)} 个问题："
        super().__init__("\n".join([header, *("  " + p for p in self.problems)]))


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

    @property
    def sentences(self) -> list[str]:
        """The canonical question followed by its variants (what users might type)."""
        return [self.question, *self.variants]


@dataclass(eq=False)
class Entry:
    """One policy document or window topic (one YAML file)."""

    id: str
    title: str
    issuer: str
    doc_number: str
    level: str
    categories: list[str]
    effective: date
    expires: Optional[date]
    source: str
    keywords: list[str] = field(default_factory=list)
    faqs: list[Faq] = field(default_factory=list)
    path: str = ""

    def is_expired(self, today: Optional[date] = None) -> bool:
        """True once the policy no longer applies.

        `expires` is read as the last day the policy applies: Chinese documents
        say "有效期至 2025年12月31日" and mean that day is still covered.
        """
        if self.expires is None:
            return False
        return (today or date.today()) > self.expires

    def is_effective(self, today: Optional[date] = None) -> bool:
        """True when the policy has started and not yet expired."""
        today = today or date.today()
        return self.effective <= today and not self.is_expired(today)


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
