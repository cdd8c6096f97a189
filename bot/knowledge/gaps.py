"""What to write next: the questions users asked that got no answer or an answer marked 没帮助, grouped.

The same question comes in many wordings ("高企补贴什么时候发" / "高新企业奖励啥时候到账"), so counting
identical texts (the dashboard's top ten) hides how often a topic is missing. Here questions are grouped
by their content words (jieba through the retriever's analyser, synonyms applied, so 高企 = 高新技术企业)
and by character similarity (rapidfuzz) — a greedy clustering, most asked first, which is enough for a
list an editor reads. Texts are masked (mobile and ID numbers, bot.logmask) before they are shown.
The recent questions for a draft's "what it would now answer" come from here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Optional

import jieba
from rapidfuzz import fuzz
from sqlalchemy import and_, case, false, func, or_, select

from bot.db import read_sessions
from bot.db.schema import KbQuery, utcnow
from bot.logmask import mask

ANSWERED = ("answer", "best_guess")
DAYS = 90  # how far back the lists look
MAX_ROWS = 5000  # distinct texts read at most (the most recent)
SIMILAR = 0.5  # shared content terms (Jaccard) that put two questions in one group
FUZZY = 72  # or character similarity (rapidfuzz ratio, 0-100)
DECISION_LABELS = {"answer": "已解答", "best_guess": "猜测解答", "options": "给出选项", "unknown": "未解答"}


@dataclass
class Asked:
    text: str
    unanswered: int
    not_helpful: int
    last: datetime
    faq_id: Optional[str] = None  # for 没帮助: the answer that did not help

    @property
    def times(self) -> int:
        return self.unanswered + self.not_helpful


@dataclass
class Group:
    questions: list[Asked] = field(default_factory=list)
    terms: frozenset = frozenset()

    @property
    def lead(self) -> Asked:
        return self.questions[0]

    @property
    def unanswered(self) -> int:
        return sum(q.unanswered for q in self.questions)

    @property
    def not_helpful(self) -> int:
        return sum(q.not_helpful for q in self.questions)

    @property
    def times(self) -> int:
        return self.unanswered + self.not_helpful

    @property
    def last(self) -> datetime:
        return max(q.last for q in self.questions)

    @property
    def faq_ids(self) -> list[str]:
        return sorted({q.faq_id for q in self.questions if q.faq_id})


def _count_if(cond):
    return func.sum(case((cond, 1), else_=0))


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def open_questions(db: str, now: Optional[datetime] = None, days: int = DAYS) -> list[Asked]:
    """Distinct question texts of the last `days` without an answer or marked 没帮助, masked."""
    now = now or utcnow()
    K = KbQuery
    unanswered = K.decision.notin_(ANSWERED)
    unhelpful = and_(K.decision.in_(ANSWERED), K.helpful == false())
    with read_sessions(db)() as s:
        rows = s.execute(
            select(
                K.text,
                _count_if(unanswered).label("u"),
                _count_if(unhelpful).label("b"),
                func.max(K.asked_at).label("last"),
                func.max(K.faq_id).label("faq"),
            )
            .where(K.asked_at >= now - timedelta(days=days), or_(unanswered, unhelpful))
            .group_by(K.text)
            .order_by(func.max(K.asked_at).desc())
            .limit(MAX_ROWS)
        ).all()
    merged: dict[str, Asked] = {}
    for r in rows:
        text = mask((r.text or "").strip())
        if not text:
            continue
        a = merged.get(text)
        bad = int(r.b or 0)
        if a is None:
            merged[text] = Asked(text, int(r.u or 0), bad, _aware(r.last), r.faq if bad else None)
        else:
            a.unanswered += int(r.u or 0)
            a.not_helpful += bad
            a.last = max(a.last, _aware(r.last))
    return sorted(merged.values(), key=lambda a: (-a.times, -a.last.timestamp()))


def recent_questions(
    db: str, now: Optional[datetime] = None, days: int = DAYS, limit: int = 400
) -> list[tuple[str, int, str, int]]:
    """Distinct questions of the last `days` (most recent first): (text, times, what they got, 没帮助 count),
    to find which of them a draft would now answer."""
    now = now or utcnow()
    K = KbQuery
    with read_sessions(db)() as s:
        rows = s.execute(
            select(
                K.text,
                func.count().label("n"),
                func.max(K.asked_at).label("last"),
                func.max(K.decision).label("decision"),
                func.max(K.faq_id).label("faq"),
                _count_if(K.helpful == false()).label("bad"),
            )
            .where(K.asked_at >= now - timedelta(days=days))
            .group_by(K.text)
            .order_by(func.max(K.asked_at).desc())
            .limit(limit)
        ).all()
    out = []
    for r in rows:
        if not (r.text or "").strip():
            continue
        before = DECISION_LABELS.get(r.decision, r.decision or "")
        if r.decision in ANSWERED and r.faq:
            before += f"：{r.faq}"
        out.append((r.text.strip(), int(r.n), before, int(r.bad or 0)))
    return out


def _terms(analyzer, text: str) -> frozenset:
    if analyzer is None:
        return frozenset(t for t in jieba.lcut(text) if len(t.strip()) > 1)
    return frozenset(analyzer.analyse(text).terms)


def group_questions(asked: list[Asked], analyzer=None, similar: float = SIMILAR, fuzzy: int = FUZZY) -> list[Group]:
    """Greedy clustering, most asked first: a question joins the first group whose lead shares enough
    content terms with it or reads nearly the same, else starts a group. Groups sorted by times asked."""
    groups: list[Group] = []
    leads: list[tuple[frozenset, str]] = []
    for a in asked:
        terms = _terms(analyzer, a.text)
        compact = "".join(a.text.split())
        for g, (lead_terms, lead_text) in zip(groups, leads):
            union = terms | lead_terms
            jaccard = len(terms & lead_terms) / len(union) if union else 0.0
            if jaccard >= similar or fuzz.ratio(compact, lead_text) >= fuzzy:
                g.questions.append(a)
                break
        else:
            groups.append(Group([a], terms))
            leads.append((terms, compact))
    groups.sort(key=lambda g: (-g.times, -g.last.timestamp()))
    return groups


__all__ = ["Asked", "Group", "open_questions", "recent_questions", "group_questions", "DECISION_LABELS"]
