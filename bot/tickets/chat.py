"""Chat-side wording and parsing for tickets (no Rasa): what users type, what they read."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Optional

from bot import clock
from bot.taxonomy import BY_INTENT
from bot.text import normalise
from bot.tickets import lifecycle as lc

TICKET_NUMBER = re.compile(r"QCY-?(\d{8})-?(\d{4})", re.IGNORECASE)

NONE_PHRASES = {"无", "没有", "不在", "不在园区", "不知道", "不清楚", "不确定", "跳过", "没", "没有园区", "都不是", "-"}

FIELD_LABELS = {
    "enterprise_name": "企业名称",
    "contact_name": "联系人",
    "contact_mobile": "手机号",
    "ticket_location": "所在园区/新城",
    "need_description": "需求描述",
}

RATING_WORDS = [  # longest first: "非常不满意" must not read as "满意"
    ("非常不满意", 1),
    ("很不满意", 1),
    ("太差", 1),
    ("一星", 1),
    ("1星", 1),
    ("1分", 1),
    ("差评", 1),
    ("不太满意", 2),
    ("不满意", 2),
    ("两星", 2),
    ("二星", 2),
    ("2星", 2),
    ("2分", 2),
    ("不咋地", 2),
    ("一般", 3),
    ("还行", 3),
    ("三星", 3),
    ("3星", 3),
    ("3分", 3),
    ("非常满意", 5),
    ("很满意", 5),
    ("五星", 5),
    ("5星", 5),
    ("5分", 5),
    ("满分", 5),
    ("10分", 5),
    ("⭐⭐⭐⭐⭐", 5),
    ("基本满意", 4),
    ("比较满意", 4),
    ("四星", 4),
    ("4星", 4),
    ("4分", 4),
    ("满意", 4),
    ("好评", 4),
    ("不错", 4),
]
RATING_BUTTONS = [("非常满意", 5), ("满意", 4), ("一般", 3), ("不满意", 2), ("非常不满意", 1)]


def ticket_numbers(text: str) -> list[str]:
    """Ticket numbers mentioned in a message, in canonical form QCY-YYYYMMDD-NNNN."""
    return [f"QCY-{d}-{n}" for d, n in TICKET_NUMBER.findall(normalise(text or "").upper())]


def ticket_meant(candidates: list, text: str, only_if_single: bool = False):
    """The ticket a message is about: one of `candidates` (newest first) that it names; if it names
    none, the newest one — or, with `only_if_single`, the only one. None when that is unclear."""
    wanted = ticket_numbers(text)
    named = next((t for t in candidates if t.number in wanted), None)
    if named is not None or wanted or not candidates:
        return named
    return candidates[0] if not only_if_single or len(candidates) == 1 else None


def rating_score(text: str) -> Optional[int]:
    t = normalise(text or "").replace(" ", "")
    for word, score in RATING_WORDS:
        if word in t:
            return score
    stars = (text or "").count("⭐")
    return stars if 1 <= stars <= 5 else None


def when(dt: datetime) -> str:
    d = clock.local(dt)
    return f"{d.month}月{d.day}日 {d:%H:%M}"


def summary(slots: dict) -> str:
    cat = BY_INTENT.get(slots.get("ticket_category") or "")
    lines = ["请确认需求登记信息："]
    if cat:
        lines.append(f"· 需求类别：{cat.name}（{cat.content}）")
    for key, label in FIELD_LABELS.items():
        value = slots.get(key)
        if key == "ticket_location" and (not value or value in NONE_PHRASES):
            value = "未指定（由综合服务中心受理）"
        lines.append(f"· {label}：{value or '—'}")
        if key == "enterprise_name" and slots.get("credit_code"):
            lines.append(f"· 统一社会信用代码：{slots['credit_code']}")
    lines.append("信息无误请回复「确认」；要修改直接说，例如「手机号改成139…」「公司名改成…」；不办了请说「取消」。")
    return "\n".join(lines)


def confirm_buttons() -> list[dict]:
    return (
        [{"title": "确认提交", "payload": "确认提交"}]
        + [{"title": f"修改{label}", "payload": f"修改{label}"} for label in FIELD_LABELS.values()]
        + [{"title": "取消", "payload": "取消"}]
    )


def opened_message(number: str, node_name: str, first_due: datetime, linked: bool) -> str:
    if linked:
        return (
            f"您7天内已就同类事项提交过工单 {number}（由{node_name}办理中），"
            f"这次的内容已补充到该工单，不再重复登记。可随时说「我的工单」查看进度。"
        )
    return (
        f"已为您登记需求，工单号 {number}。\n由「{node_name}」受理，服务专员将于 {when(first_due)} 前首次回复您。"
        "可随时说「我的工单」查看进度。"
    )


RESULT_CHARS = 120  # the result in the ticket list (one chat bubble for several tickets)


def ticket_line(index: int, ticket, node_name: str) -> str:
    cat = BY_INTENT.get(ticket.category)
    name = cat.name if cat else ticket.category
    line = (
        f"{index}. {ticket.number}｜{name}｜{lc.LABELS.get(ticket.status, ticket.status)}\n"
        f"   受理节点：{node_name}；下一步：{lc.NEXT_STEP.get(ticket.status, '')}"
    )
    result = getattr(ticket, "result", None)
    if result and ticket.status in (lc.RESOLVED, lc.RATED):
        # 办结 with a result (staff must write one): the enterprise sees what was done, not only "已办结"
        line += f"\n   办理结果：{result[:RESULT_CHARS]}{'…' if len(result) > RESULT_CHARS else ''}"
    return line
