"""English in questions: a bilingual phrase table applied before analysis.

Why: the base is written in Chinese and the retriever matches Chinese words,
so "We want to apply for a software copyright, how long does it take?" used
to match nothing and got the category menu, and an English acronym inside a
Chinese question ("我们想报HNTE要什么条件") was an unknown word that lowered
the score. knowledge/english.yml maps English phrases to the base's Chinese
terms; staff extend it like synonyms.yml and the loader validates it the same
way (every problem named with its file and item).

Only the query is rewritten: entries stay as written. An English phrase that
the index itself knows (keywords such as IPO, PCT, CMA, "work permit") is kept
next to its translation so that exact keyword matches still count. English
function words ("we", "does", "the") are dropped: they are not evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

ENGLISH_FILE = "english.yml"

_LATIN = re.compile(r"[a-z]")
_WORD = re.compile(r"[a-z][a-z0-9'&]*|[0-9]+")
_PHRASE_OK = re.compile(r"^[a-z0-9][a-z0-9 '&.\-]*$")
_SEP = re.compile(r"[\s\-]+")

# Words that say nothing about the topic. Question words are NOT here: they are
# in the table (how long → 多久, where → 哪里) because they tell sibling FAQs apart.
FUNCTION_WORDS = frozenset(
    """
a an the this that these those there here it its it's is are was were be been being am
i me my mine we us our ours you your yours he she him her his they them their
do does did doing done can could would should will shall may might must
to for of in on at by with about from into onto as than then so if or and but not no nor
any some all each every one ones much many more most very too also just only still yet already
want wanted wants would like need needs needed get gets got getting take takes took taking
have has had having make makes made know tell let please hi hello hey thanks thank dear sir madam
company companies firm business enterprise enterprises our startup startups corporation
kind sort type sorts types thing things stuff way ways question questions ask asking
ok okay yes yeah sure well now currently today
""".split()
)


@dataclass
class PhraseTable:
    """English phrase → Chinese term, matched longest first on word boundaries."""

    items: list[tuple[tuple[str, ...], str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        pairs = [(phrase, zh) for phrases, zh in self.items for phrase in phrases]
        # longest first: "invention patent" before "patent", "how long" before "how"
        pairs.sort(key=lambda p: (-len(p[0]), p[0]))
        self._zh = {p: zh for p, zh in pairs}
        self._pattern: Optional[re.Pattern] = None
        if pairs:
            alts = [r"[\s\-]*".join(re.escape(w) for w in _SEP.split(p)) for p, _ in pairs]
            self._pattern = re.compile(r"(?<![a-z0-9])(" + "|".join(alts) + r")(?![a-z0-9])")
        self._norm = {_squash(p): zh for p, zh in pairs}

    def __len__(self) -> int:
        return len(self.items)

    def translate(self, text: str, known: Callable[[str], bool] = lambda w: False) -> str:
        """The text with English phrases replaced by Chinese and function words dropped.

        `known(word)` says whether the index uses a word as it is (IPO, PCT): a
        phrase all of whose words are known is kept next to its translation.
        Text without Latin letters comes back unchanged (the common case).
        """
        if not text:
            return text
        low = text.lower()
        if not _LATIN.search(low):
            return text
        out: list[str] = []
        pos = 0
        if self._pattern is not None:
            for m in self._pattern.finditer(low):
                out.append(_strip_function_words(low[pos : m.start()], known))
                zh = self._norm.get(_squash(m.group(1)), "")
                words = _WORD.findall(m.group(1))
                keep = m.group(1) if words and all(known(w) for w in words) else ""
                out.append(f" {keep} {zh} " if keep else f" {zh} ")
                pos = m.end()
        out.append(_strip_function_words(low[pos:], known))
        return re.sub(r"\s+", " ", "".join(out)).strip()


def _squash(phrase: str) -> str:
    """A phrase without separators: "high-tech", "high tech" and "hightech" are one key."""
    return _SEP.sub("", phrase)


def _strip_function_words(segment: str, known: Callable[[str], bool]) -> str:
    # `known` is unused: a function word is never evidence, even where a
    # variant happens to contain it ("a" from "A类")
    def repl(m: re.Match) -> str:
        word = m.group(0)
        if word in FUNCTION_WORDS:
            return " "
        return word

    return _WORD.sub(repl, segment)


def is_mostly_english(text: str) -> bool:
    """True when most letters of a message are Latin (the user writes English)."""
    latin = sum(1 for c in text if "a" <= c.lower() <= "z")
    cjk = sum(1 for c in text if "\u4e00" <= c <= "\u9fff")
    return latin >= 6 and latin > 3 * cjk


def parse_table(data: Any, file: str, out: Any) -> list[tuple[tuple[str, ...], str]]:
    """Validate english.yml's content; report each problem via out.error(file, where, problem).

    Each item: {zh: 中文说法, en: [english phrase, …]}. A phrase may belong to
    one item only (like a synonym term), and phrases are Latin letters, digits,
    spaces, hyphens, apostrophes, '&' and '.' only.
    """
    if data is None:
        return []
    if not isinstance(data, list):
        out.error(file, "(文件)", "内容应为列表，每项形如 {zh: 软件著作权, en: [software copyright]}")
        return []
    items: list[tuple[tuple[str, ...], str]] = []
    owner: dict[str, int] = {}
    for i, item in enumerate(data):
        where = f"[{i}]"
        if not isinstance(item, dict):
            out.error(file, where, "每项应为包含 zh 和 en 的映射")
            continue
        for name in item:
            if name not in ("zh", "en"):
                out.error(file, f"{where}.{name}", "未知字段（只能有 zh 和 en）")
        zh = item.get("zh")
        if not isinstance(zh, str) or not zh.strip():
            out.error(file, f"{where}.zh", "应为非空的中文说法")
            zh = None
        elif _LATIN.search(zh.lower()) and not re.search(r"[\u4e00-\u9fff]", zh):
            out.error(file, f"{where}.zh", f"“{zh}” 应为中文说法")
            zh = None
        raw = item.get("en")
        if not isinstance(raw, list) or not raw:
            out.error(file, f"{where}.en", "应为非空的英文说法列表")
            continue
        phrases: list[str] = []
        for j, phrase in enumerate(raw):
            if not isinstance(phrase, str) or not phrase.strip():
                out.error(file, f"{where}.en[{j}]", "应为非空文本")
                continue
            key = _SEP.sub(" ", phrase.strip().lower().replace("-", " "))
            if not _PHRASE_OK.match(key):
                out.error(file, f"{where}.en[{j}]", f"“{phrase}” 只能包含英文字母、数字、空格、连字符、撇号和 &")
                continue
            if key in owner and owner[key] != i:
                out.error(file, f"{where}.en[{j}]", f"“{phrase}” 已出现在第 {owner[key]} 项，一个英文说法只能属于一项")
                continue
            if key in owner:
                continue
            owner[key] = i
            phrases.append(key)
        if zh and phrases:
            items.append((tuple(phrases), zh.strip()))
    return items


def table_from(items: Iterable[tuple[Iterable[str], str]]) -> PhraseTable:
    return PhraseTable([(tuple(p), zh) for p, zh in items])
