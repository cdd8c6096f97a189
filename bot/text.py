"""Text normalisation shared by the NLU pipeline and the knowledge base.

Enterprises type traditional characters, full-width punctuation, emoji and
mixed English. Everything that compares text (tokeniser, retrieval, dedup)
goes through the same normaliser so that "高新技術企業？" and "高新技术企业?"
look identical to the machine.

`normalise_aligned` keeps the string length unchanged, character for
character, so token offsets computed on the normalised text still point
into the user's original message (Rasa entity spans rely on that).
`normalise` additionally collapses whitespace for free-text comparison.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from opencc import OpenCC

_T2S = OpenCC("t2s")

# Characters that carry no meaning for understanding and are mapped to a space.
_ZERO_WIDTH = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\ufe0f", "\ufe0e"}

_WS_RUN = re.compile(r"\s+")


def _is_emoji_or_symbol(ch: str) -> bool:
    cp = ord(ch)
    if 0x1F000 <= cp <= 0x1FAFF or 0x2600 <= cp <= 0x27BF or 0x1F3FB <= cp <= 0x1F3FF:
        return True
    if 0xE0020 <= cp <= 0xE007F:  # emoji tag sequences
        return True
    return unicodedata.category(ch) == "So"


@lru_cache(maxsize=65536)
def _map_char(ch: str, to_simplified: bool = True) -> str:
    """Map one character to exactly one normalised character."""
    cp = ord(ch)
    if ch in _ZERO_WIDTH or ch.isspace():
        return " "
    if cp == 0x3000:
        return " "
    if 0xFF01 <= cp <= 0xFF5E:  # full-width ASCII block
        ch = chr(cp - 0xFEE0)
        cp = ord(ch)
    if "A" <= ch <= "Z":
        return ch.lower()
    if cp < 0x80:
        return ch
    if _is_emoji_or_symbol(ch):
        return " "
    if unicodedata.category(ch).startswith("C"):  # control, unassigned, private use
        return " "
    if not to_simplified:
        return ch
    converted = _T2S.convert(ch)
    return converted if len(converted) == 1 else ch


def normalise_aligned(text: str) -> str:
    """Normalise without changing length: result[i] corresponds to text[i].

    Traditional → simplified uses phrase-level conversion when it keeps the
    length (it is more accurate for words like 乾燥/乾隆) and falls back to
    per-character mapping otherwise.
    """
    if not text:
        return ""
    phrase = _T2S.convert(text)
    if len(phrase) == len(text):
        return "".join(_map_char(c, False) for c in phrase)
    return "".join(_map_char(c) for c in text)


def normalise(text: str) -> str:
    """Normalise for comparison: aligned mapping plus collapsed, stripped whitespace."""
    return _WS_RUN.sub(" ", normalise_aligned(text)).strip()
