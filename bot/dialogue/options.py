"""Typed = clicked: which of the buttons just shown a typed message means (pure, no desk or Rasa).

Users answer a prompt with buttons by typing as often as by clicking: the option's number
(WeChat shows numbered options, and people type numbers on the web too), or the option's
words, in traditional characters, full width, with a "吧" or a typo. Every channel asks the
same question — does this text pick one of these buttons? — so the answer lives here, once.

The matcher is deliberately conservative: a wrong match sends the user somewhere they did
not ask to go, a missed match only lets the text go to the NLU as typed. So a long message
never matches, a negation ("不要确认提交") never matches, and a fuzzy match must be close and
clearly better than the runner-up.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Optional

from rapidfuzz import fuzz

from bot.text import normalise

MAX_LEN = 20  # longer messages are free text, never an option
FUZZY_MAX_LEN = 12  # fuzzy matching only for short texts
FUZZY_MIN_TITLE = 4  # … against titles of at least this many characters ("满意" vs "很满意" is not a typo)
FUZZY_SCORE = 75.0  # rapidfuzz ratio (0–100) a fuzzy match needs
FUZZY_MARGIN = 8.0  # … and by how much it must beat the next option
CONTAIN_SLACK = 6  # "我选确认提交吧": the title plus at most this many other characters

_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_NUMBER = re.compile(
    r"^(?:我?选(?:择)?|选第|第|no\.?|#)?"  # 选2 / 选择2 / 第2 / 选第2 / No.2 / #2
    r"(\d{1,2}|[一二两三四五六七八九十])"
    r"(?:个|项|条|号|种|个选项|项吧|个吧|吧)?$"
)
_DROP = re.compile(r"[\s\W_]+", re.UNICODE)  # spaces and punctuation (after normalise)
_NEGATION = re.compile(r"[不没别勿甭]|取消|无需|不用|不要")
# What may surround an option's words when it is typed inside a sentence ("好的，确认提交吧"):
# politeness and choosing words only. Anything else ("很满意", "比较满意") changes the meaning.
_FILLER = set("好的吧啊呀了嗯哦呢噢哈我选择就是那这个行可以请要帮点下一ok")


def _squash(text: str) -> str:
    """Normalised for comparison: simplified, half-width, lower case, no spaces or punctuation."""
    return _DROP.sub("", normalise(unicodedata.normalize("NFKC", text or "")))


def option_number(text: str) -> Optional[int]:
    """The number a message picks ("2", "2.", "第2个", "选2", "２", "二"), or None."""
    t = _squash(text)
    if not t:
        return None
    m = _NUMBER.match(t)
    if not m:
        return None
    raw = m.group(1)
    if raw.isdigit():
        return int(raw)
    if t != raw and not t.startswith(("第", "选", "我选")):
        return None  # "一个", "两项": a quantity, not a choice
    return _CN_DIGITS[raw]


def choosable(buttons: Optional[list]) -> list[dict]:
    """Buttons a message can pick, in the order they are numbered (link-only buttons are not)."""
    out = []
    for b in buttons or []:
        if (
            isinstance(b, dict)
            and isinstance(b.get("title"), str)
            and b["title"].strip()
            and isinstance(b.get("payload"), str)
            and b["payload"].strip()
        ):
            out.append(b)
    return out


def _negated(message: str, title: str) -> bool:
    """A negation outside the title's own words ("不要确认提交", but not "不满意" for "不满意")."""
    rest = message.replace(title, "") if title else message
    return bool(_NEGATION.search(rest))


def match_option(text: str, buttons: list[dict]) -> Optional[dict]:
    """The button a typed message picks, or None (the text then goes on as typed).

    - a bare number within range: "2", "2.", "２", "二", "第2个", "选2" (numbered as `choosable`)
    - the title (or a plain-text payload), normalised: traditional → simplified, full width,
      case, spaces and punctuation ignored ("確認提交！" = "确认提交")
    - the title inside a short message with only filler around it ("好的，确认提交吧" → 确认提交;
      "很满意" is not "满意"), the longest title first, so "非常不满意" is never read as "满意"
    - a close fuzzy match for short texts ("确认提叫" → 确认提交), clearly ahead of the runner-up
    Never for long free text, and never when the message negates the option.
    """
    options = choosable(buttons)
    if not options or not isinstance(text, str):
        return None
    msg = _squash(text)
    if not msg or len(msg) > MAX_LEN:
        return None

    n = option_number(text)
    if n is not None:
        return options[n - 1] if 1 <= n <= len(options) else None

    titles = [(_squash(b["title"]), b) for b in options]
    for t, b in titles:
        if t and msg == t:
            return b
    for b in options:
        p = b["payload"]
        if not p.startswith("/") and _squash(p) == msg:
            return b

    contained = [(t, b) for t, b in titles if t and t in msg and len(msg) <= len(t) + CONTAIN_SLACK]
    if contained:
        longest = max(len(t) for t, _ in contained)
        best = [(t, b) for t, b in contained if len(t) == longest]
        t, b = best[0]
        if len(best) == 1 and set(msg.replace(t, "", 1)) <= _FILLER:
            return b
        return None

    if len(msg) > FUZZY_MAX_LEN or _negated(msg, ""):
        return None
    scored = sorted(
        ((fuzz.ratio(msg, t), i) for i, (t, _) in enumerate(titles) if len(t) >= FUZZY_MIN_TITLE), reverse=True
    )
    if not scored or scored[0][0] < FUZZY_SCORE:
        return None
    if len(scored) > 1 and scored[0][0] - scored[1][0] < FUZZY_MARGIN:
        return None
    t, b = titles[scored[0][1]]
    return None if _negated(msg, t) else b


__all__ = ["match_option", "option_number", "choosable"]
