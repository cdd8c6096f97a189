"""Turn a knowledge-base Answer into chat replies (text + buttons), in Chinese, for a chat bubble.

What users see (design.md §6 "A question gets an answer"):
- ANSWER: the answer first — no category preamble, no hedging — lists laid
  out as lists, then when applications are taken (the FAQ's or entry's `window`), one
  short citation line (document and 文号 once; the window itself for window
  topics; a date only when a checked source confirms it) and last the next
  step ("下一步：…": where to apply, what to prepare);
- an expired or replaced policy: no figures stated as current — it says the
  policy has expired (or been replaced), points to the successor entry (a
  button asks its first question) or, without one, to staff;
- BEST_GUESS: the same, opened by "我理解您问的是「…」：" so the user knows it
  is our reading of the question, with the close alternatives as buttons;
- OPTIONS: only when two or more FAQs are genuinely close: "您想了解的是下面
  哪一项？" with one button per FAQ (never a one-item menu);
- UNKNOWN: say so plainly and offer to register the need or a person.
ANSWER and BEST_GUESS end with "您可能还想问" (≤ 2 buttons whose payload is the
FAQ's canonical question, so a click asks it) and the feedback question with
有帮助 / 没帮助 and the registration button.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Optional

from bot.knowledge import Answer, Entry, Faq
from bot.knowledge.english import is_mostly_english
from bot.knowledge.service import ANSWER, BEST_GUESS, OPTIONS, UNKNOWN
from bot.taxonomy import BY_INTENT

FEEDBACK_QUESTION = "这个回答对您有帮助吗？"
FEEDBACK_BUTTONS = [
    {"title": "有帮助", "payload": "/affirm"},
    {"title": "没帮助", "payload": "/deny"},
]
HUMAN_BUTTON = {"title": "转人工服务", "payload": "/request_human"}
REGISTER_BUTTON = {"title": "登记需求，专员跟进", "payload": "/open_ticket"}
MAX_BUTTON_TITLE = 28
MAX_ALTERNATIVES = 2
ALTERNATIVES_TEXT = "您可能还想问："
OPTIONS_TEXT = "您想了解的是下面哪一项？（回复序号即可）"
UNKNOWN_TEXT = (
    "这个问题知识库里暂时没有确切答案，为避免误导您，我先不随意回答。"
    "您可以登记需求，由专员跟进解答；也可以直接转人工服务。"
)
BEST_GUESS_PREFIX = "我理解您问的是「{question}」："
ENGLISH_LEAD = "Here is what our policy knowledge base says (in Chinese):"
ENGLISH_UNKNOWN = (
    "Sorry, there is no reliable answer to this in our knowledge base yet. "
    "You can register your request for a specialist, or talk to our staff."
)
WINDOW_SOURCE = "来源：秦创原总窗口"
NEXT_STEP_PREFIX = "下一步："
MAX_CITATION_NAME = 48


@dataclass
class Reply:
    text: str
    buttons: list[dict] = field(default_factory=list)

    def as_message(self) -> dict:
        return {"text": self.text, "buttons": self.buttons} if self.buttons else {"text": self.text}


def _date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _title(text: str) -> str:
    return text if len(text) <= MAX_BUTTON_TITLE else text[: MAX_BUTTON_TITLE - 1] + "…"


# --------------------------------------------------------------------------- citation


def placeholder_date(entry: Entry) -> bool:
    """The effective date is not to be shown: there is none, or no checked source confirms it
    (a date is printed as fact only when verified; see bot/knowledge/audit.py)."""
    return entry.effective is None or not entry.verified("effective")


_BOOK = re.compile(r"《[^《》]+》")
_AS_CURRENT = re.compile(r"（以[^（）]*为准[^（）]*）|\(以[^()]*为准[^()]*\)")


def _document_name(entry: Entry) -> str:
    """The cited document, short: its first 《title》, else the first clause of `source`."""
    source = (entry.source or "").strip()
    book = _BOOK.search(source)
    if book:
        return book.group(0)
    first = re.split(r"[；;]", source)[0] if source else entry.title
    first = _AS_CURRENT.sub("", first).strip() or entry.title
    return first if len(first) <= MAX_CITATION_NAME else first[: MAX_CITATION_NAME - 1] + "…"


def citation(entry: Entry) -> str:
    """One short line: 依据：《document》（文号），date起施行 — or the window for window topics.

    No URL, no issuer list, the 文号 once; the date only when a checked source confirms it.
    """
    if entry.level == "窗口":
        return WINDOW_SOURCE
    name = _document_name(entry)
    doc = entry.doc_number.strip()
    line = f"依据：{name}"
    if doc and doc not in name:
        line += f"（{doc}）"
    if entry.effective is not None and not placeholder_date(entry):
        line += f"，{_date(entry.effective)}起施行"
    return line


def category_line(intent: Optional[str]) -> str:
    c = BY_INTENT.get(intent or "")
    return f"您咨询的是「{c.content}」服务中的「{c.name}」类事项。" if c else ""


# --------------------------------------------------------------------------- answer layout

_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_CIRCLED_RE = re.compile(f"[{_CIRCLED}]")
_PAREN_RE = re.compile(r"[（(]([1-9]|1[0-9])[）)]")
_NUM_RE = re.compile(r"(?:(?<=^)|(?<=[。；：:！？\s]))([1-9])[、.．](?!\d)")
_TAIL_PUNCT = "；;，,。"
_CLOSING = re.compile(r"^(窗口|有疑问|有问题|想了解|想先|需要的话|拿不准|准备好后|如需|具体以|在这里)")


def _items_by_markers(text: str, starts: list[tuple[int, int, str]]) -> Optional[str]:
    """Lay out text whose list items begin at the given (start, end, label) markers."""
    if len(starts) < 2:
        return None
    intro = text[: starts[0][0]].strip()
    items = []
    for k, (s, e, label) in enumerate(starts):
        stop = starts[k + 1][0] if k + 1 < len(starts) else len(text)
        items.append((label, text[e:stop]))
    # the last item ends at its sentence's full stop; what follows is ordinary text again
    label, last = items[-1]
    cut = last.find("。")
    trailer = ""
    if cut >= 0:
        trailer = last[cut + 1 :].strip()
        items[-1] = (label, last[:cut])
    block = "\n".join(f"{label} {body.strip().rstrip(_TAIL_PUNCT).strip()}" for label, body in items)
    head = f"{intro}\n{block}" if intro else block
    return f"{head}\n\n{layout(trailer)}" if trailer else head


def _circled(text: str) -> Optional[str]:
    marks = [(m.start(), m.end(), m.group(0)) for m in _CIRCLED_RE.finditer(text)]
    return _items_by_markers(text, _list_run(marks, [_CIRCLED.index(m[2]) + 1 for m in marks]))


def _parenthesised(text: str) -> Optional[str]:
    marks = [(m.start(), m.end(), f"（{m.group(1)}）") for m in _PAREN_RE.finditer(text)]
    return _items_by_markers(text, _list_run(marks, [int(m[2][1:-1]) for m in marks]))


def _numbered(text: str) -> Optional[str]:
    marks = [(m.start(1), m.end(), f"{m.group(1)}.") for m in _NUM_RE.finditer(text)]
    return _items_by_markers(text, _list_run(marks, [int(m[2][:-1]) for m in marks]))


def _list_run(marks: list, numbers: list[int]) -> list:
    """The markers of the enumeration: the last run numbered 1, 2, 3 … up to the last marker
    (earlier mentions such as "满足前面①至④项" are text, not items)."""
    for start in range(len(numbers)):
        if numbers[start:] == list(range(1, len(numbers) - start + 1)):
            return marks[start:] if len(numbers) - start >= 2 else []
    return []


def _sentence_list(sentence: str) -> Optional[str]:
    """A sentence enumerating with "；" (or "→" steps) as an intro line plus one line per item."""
    steps = [s.strip() for s in sentence.split("→")]
    if len(steps) >= 3 and all(steps):
        head, first = _split_intro(steps[0])
        lines = [f"{i}. {s.rstrip(_TAIL_PUNCT)}" for i, s in enumerate([first, *steps[1:]], 1)]
        return "\n".join(([head] if head else []) + lines)
    items = [s.strip() for s in sentence.split("；")]
    head, first = _split_intro(items[0])
    if len(items) >= 3:
        items[0] = first
        if all(items):
            lines = [f"· {s.rstrip(_TAIL_PUNCT)}" for s in items]
            return "\n".join(([head] if head else []) + lines)
    return None


def _split_intro(text: str) -> tuple[str, str]:
    """("主要条件包括：", "在中国境内…") from the first item of an enumeration."""
    k = max(text.rfind("："), text.rfind(":"))
    if 0 < k < len(text) - 1:
        return text[: k + 1].strip(), text[k + 1 :].strip()
    return "", text


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[。！？])", text) if s.strip()]


def layout(text: str) -> str:
    """An answer written as one paragraph, laid out for a chat bubble.

    Numbered enumerations (①②③, （1）（2）, 1、2、) and "；"-separated or "→"
    sequences become one line per item; the closing offer of help ("窗口可以
    帮您…") becomes its own paragraph. Answers already broken into lines are
    left alone.
    """
    text = (text or "").strip()
    if not text or "\n" in text:
        return text
    for rule in (_circled, _parenthesised, _numbered):
        out = rule(text)
        if out:
            return out
    paragraphs: list[str] = []
    prose: list[str] = []
    sentences = _sentences(text)
    closing_from = len(sentences)
    while closing_from > 1 and _CLOSING.match(sentences[closing_from - 1].strip()):
        closing_from -= 1
    for i, sentence in enumerate(sentences):
        if i == closing_from and prose:
            paragraphs.append("".join(prose))
            prose = []
        listed = _sentence_list(sentence.strip())
        if listed:
            if prose:
                paragraphs.append("".join(prose))
                prose = []
            paragraphs.append(listed)
        else:
            prose.append(sentence.strip())
    if prose:
        paragraphs.append("".join(prose))
    return "\n\n".join(paragraphs)


# --------------------------------------------------------------------------- replies


def _alternatives(answer: Answer) -> list[dict]:
    top = answer.faq
    seen = {top.question} if top else set()
    buttons = []
    for h in answer.options[1:]:
        if h.faq.question in seen:
            continue
        seen.add(h.faq.question)
        buttons.append({"title": _title(h.faq.question), "payload": h.faq.question})
    return buttons[:MAX_ALTERNATIVES]


def _next_step(text: str) -> str:
    return f"{NEXT_STEP_PREFIX}{text}" if text else ""


def _replaced_text(entry: Entry, today: Optional[date], expired: bool) -> str:
    """An expired or replaced policy: say so, name the successor or send to staff — no old figures."""
    name = _document_name(entry) if entry.level != "窗口" else f"「{entry.title}」"
    if expired and entry.expires:
        head = f"您问的「{entry.title}」（{name}）已于{_date(entry.expires)}到期，原来的标准不再作为现行政策适用。"
    else:
        head = f"您问的「{entry.title}」（{name}）已被新的规定取代，原来的标准不再作为现行政策适用。"
    successor = entry.successor
    if successor is not None and not successor.is_expired(today):
        return f"{head}\n\n现行规定见「{successor.title}」（{citation(successor).removeprefix('依据：')}）。"
    return (
        f"{head}\n\n目前知识库里没有核实过的接续政策。为避免误导您，请登记需求，"
        "由服务专员向主管部门核实现行规定后答复您；也可以直接转人工服务。"
    )


def _answer_replies(answer: Answer, faq: Faq, today: Optional[date], best_guess: bool) -> list[Reply]:
    entry = answer.entry
    if entry is not None:
        expired = answer.expired or (today is not None and entry.is_expired(today))
        if expired or entry.superseded_by:
            return _replaced_replies(entry, faq, today, best_guess, expired)
    body = layout(faq.answer)
    if best_guess:
        body = BEST_GUESS_PREFIX.format(question=faq.question.rstrip("？?")) + "\n" + body
    if is_mostly_english(answer.query or ""):
        body = f"{ENGLISH_LEAD}\n{body}"
    parts = [body]
    window = faq.application_window
    if window is not None:
        parts.append(window.describe(today))
    if entry is not None:
        parts.append(citation(entry))
    step = _next_step(faq.next)
    if step:
        parts.append(step)
    replies = [Reply("\n\n".join(parts))]
    alternatives = _alternatives(answer)
    if alternatives:
        replies.append(Reply(ALTERNATIVES_TEXT, alternatives))
    replies.append(Reply(FEEDBACK_QUESTION, [*FEEDBACK_BUTTONS, REGISTER_BUTTON]))
    return replies


def _replaced_replies(entry: Entry, faq: Faq, today: Optional[date], best_guess: bool, expired: bool) -> list[Reply]:
    text = _replaced_text(entry, today, expired)
    if best_guess:
        text = BEST_GUESS_PREFIX.format(question=faq.question.rstrip("？?")) + "\n" + text
    successor = entry.successor
    if successor is not None and not successor.is_expired(today) and successor.faqs:
        first = successor.faqs[0]
        text += "\n\n" + _next_step(
            f"点下面的问题查看现行规定；{first.next}" if first.next else "点下面的问题查看现行规定。"
        )
        return [
            Reply(text, [{"title": _title(first.question), "payload": first.question}]),
            Reply(FEEDBACK_QUESTION, [*FEEDBACK_BUTTONS, REGISTER_BUTTON]),
        ]
    text += "\n\n" + _next_step("点“登记需求，专员跟进”，或转人工服务。")
    return [Reply(text, [REGISTER_BUTTON, HUMAN_BUTTON])]


def _options_replies(answer: Answer) -> list[Reply]:
    seen, buttons = set(), []
    for h in answer.options:
        if h.faq.question in seen:
            continue
        seen.add(h.faq.question)
        buttons.append({"title": _title(h.faq.question), "payload": h.faq.question})
    return [Reply(OPTIONS_TEXT, [*buttons, HUMAN_BUTTON])]


def _unknown_replies(answer: Optional[Answer], intent: Optional[str] = None) -> list[Reply]:
    text = UNKNOWN_TEXT
    head = category_line(intent)
    if head:  # helps here: the user learns who will follow up
        text = f"{head}{text}"
    if answer is not None and is_mostly_english(answer.query or ""):
        text = f"{ENGLISH_UNKNOWN}\n{text}"
    return [Reply(text, [REGISTER_BUTTON, HUMAN_BUTTON])]


def render(answer: Answer, today: Optional[date] = None, *, intent: Optional[str] = None) -> list[Reply]:
    """The replies for any decision (see the module docstring).

    today: check expiry against this date as well as answer.expired; intent:
    the need category, named only in the UNKNOWN reply where it tells the
    user who follows up.
    """
    decision, faq = answer.decision, answer.faq
    if decision in (ANSWER, BEST_GUESS) and faq is not None:
        return _answer_replies(answer, faq, today, best_guess=decision == BEST_GUESS)
    if decision == OPTIONS:
        distinct = {h.faq.question for h in answer.options}
        if len(distinct) >= 2:
            return _options_replies(answer)
        if faq is not None:  # never a one-item menu: show it as a best guess
            return _answer_replies(answer, faq, today, best_guess=True)
    return _unknown_replies(answer, intent)


# Thin wrappers kept for callers of the former API.


def render_answer(answer: Answer, intent: Optional[str] = None, today: Optional[date] = None) -> list[Reply]:
    return render(answer, today, intent=intent)


def render_options(answer: Answer, intent: Optional[str] = None) -> list[Reply]:
    return render(answer, intent=intent)


def render_unknown(intent: Optional[str] = None) -> list[Reply]:
    return _unknown_replies(None, intent)


__all__ = [
    "Reply",
    "render",
    "render_answer",
    "render_options",
    "render_unknown",
    "citation",
    "layout",
    "FEEDBACK_QUESTION",
    "FEEDBACK_BUTTONS",
    "HUMAN_BUTTON",
    "REGISTER_BUTTON",
    "UNKNOWN",
]
