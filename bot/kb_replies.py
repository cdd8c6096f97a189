"""Turn a knowledge-base Answer into chat replies (text + buttons), in Chinese.

The rules users see: an answer always carries its citation; an expired
policy is flagged; close candidates are offered as buttons instead of a
guess; low confidence says so and offers a person — never a confident
wrong answer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from bot.knowledge import Answer, Entry
from bot.taxonomy import BY_INTENT

FEEDBACK_QUESTION = "这个回答对您有帮助吗？"
FEEDBACK_BUTTONS = [
    {"title": "有帮助", "payload": "/affirm"},
    {"title": "没帮助", "payload": "/deny"},
]
HUMAN_BUTTON = {"title": "转人工服务", "payload": "/request_human"}
MAX_BUTTON_TITLE = 28


@dataclass
class Reply:
    text: str
    buttons: list[dict] = field(default_factory=list)

    def as_message(self) -> dict:
        return {"text": self.text, "buttons": self.buttons} if self.buttons else {"text": self.text}


def _date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def citation(entry: Entry) -> str:
    """依据: issuer, title, 文号, effective date — what staff and users check against."""
    if entry.level == "窗口":
        return f"来源：{entry.issuer}（{entry.title}）"
    doc = f"（{entry.doc_number}）" if entry.doc_number else ""
    return f"依据：{entry.issuer}《{entry.title}》{doc}，{_date(entry.effective)}起施行。原文：{entry.source}"


def category_line(intent: str | None) -> str:
    c = BY_INTENT.get(intent or "")
    return f"您咨询的是「{c.content}」服务中的「{c.name}」类事项。" if c else ""


def _title(text: str) -> str:
    return text if len(text) <= MAX_BUTTON_TITLE else text[: MAX_BUTTON_TITLE - 1] + "…"


def render_answer(answer: Answer, intent: str | None, today: date | None = None) -> list[Reply]:
    """Replies for a confident answer: category, answer, citation, expiry warning, feedback."""
    entry, faq = answer.entry, answer.faq
    head = category_line(intent)
    parts = [f"{head}\n{faq.answer.strip()}" if head else faq.answer.strip(), citation(entry)]
    if answer.expired and entry.expires:
        parts.append(f"⚠️ 注意：这项政策已于{_date(entry.expires)}到期，可能不再适用，请以最新文件为准，或转人工核实。")
    replies = [Reply("\n\n".join(parts))]
    related = [h for h in answer.hits[1:3] if h.score >= 0.2 and h.faq.id != faq.id]
    buttons = list(FEEDBACK_BUTTONS)
    buttons += [{"title": f"相关：{_title(h.faq.question)}", "payload": h.faq.question} for h in related]
    replies.append(Reply(FEEDBACK_QUESTION, buttons))
    return replies


def render_options(answer: Answer, intent: str | None) -> list[Reply]:
    """Several entries fit about equally: let the user pick (payload = the canonical question)."""
    head = category_line(intent)
    buttons = [{"title": _title(h.faq.question), "payload": h.faq.question} for h in answer.options]
    buttons.append(HUMAN_BUTTON)
    return [Reply(f"{head}我找到几条可能相关的政策解答，您想了解的是哪一项？".strip(), buttons)]


def render_unknown(intent: str | None) -> list[Reply]:
    """Low confidence: say so and offer the next steps."""
    head = category_line(intent)
    text = (f"{head}这个问题我在知识库里没有找到有把握的答案，为避免误导您，"
            "建议由服务专员为您解答；您也可以补充更多情况，我再帮您查一查。")
    return [Reply(text.strip(), [HUMAN_BUTTON, {"title": "看看能办哪些事", "payload": "/ask_capabilities"}])]
