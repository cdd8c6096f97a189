"""A ticket's history (TicketEvent rows) in words staff read: names, not ids or codes.

Events store their before/after values as JSON: staff as their numeric id (``claimed_by``,
``assignee_id``), nodes as their code, statuses as their code, times as ISO strings. Every value
shown in the console's history goes through :func:`value_text`, which turns each of them into a
name, a label or a Beijing time; an id that no longer resolves is said to be one
("已删除的工作人员（编号 7）"), never shown bare.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping, Optional

from bot import clock
from bot.network import default_network
from bot.taxonomy import BY_INTENT
from bot.tickets import lifecycle as lc

ACTION_LABELS = {
    "created": "受理",
    "status": "状态变更",
    "assign": "指派",
    "transfer": "转派",
    "note": "内部备注",
    "reply": "回复企业",
    "add_info": "企业补充信息",
    "rating": "评价",
    "rating_comment": "评价留言",
    "followup": "需回访",
    "escalate": "超期升级",
    "redeemed_amount": "兑现金额",
    "warning": "超期预警",
    "sla_warning": "超期预警",
    "progress_push": "周推进",
    "visit": "入企服务",
    "handover_claim": "人工接单",
    "handover_transfer": "人工转交",
    "handover_end": "结束人工服务",
    "handover_rating": "人工服务评价",
    "takeover": "主动接管",
    "handover_note": "会话内部备注",
    "handover": "转人工",
    "reclassify": "重新分类",
    "sla": "时限重算",
    "attachment": "附件",
}
FIELD_LABELS = {
    "node_id": "节点",
    "claimed_by": "接待专员",
    "assignee_id": "承办人",
    "status": "状态",
    "category": "类别",
    "resolution_due": "办结时限",
    "file": "文件",
}
STAFF_FIELDS = frozenset({"claimed_by", "assignee_id", "staff_id"})
NODE_FIELDS = frozenset({"node_id"})
TIME_FIELDS = frozenset({"warned_at", "last_progress_push", "resolved_at", "first_response_at", "resolution_due"})
CATEGORY_FIELDS = frozenset({"category"})
SCORE_FIELDS = frozenset({"handover_rating", "rating"})
RATING_LABELS = {5: "非常满意", 4: "满意", 3: "一般", 2: "不满意", 1: "非常不满意"}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def _load(raw: Optional[str]) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw


def staff_ids(events: Iterable) -> set[int]:
    """Staff ids mentioned in the events' values (to look their names up in one query)."""
    out: set[int] = set()

    def walk(field: Optional[str], value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(k, v)
        elif field in STAFF_FIELDS and isinstance(value, int) and not isinstance(value, bool):
            out.add(value)

    for ev in events:
        for raw in (ev.before, ev.after):
            walk(ev.field, _load(raw))
    return out


def _node_name(node_id: str) -> Optional[str]:
    node = default_network().get(node_id)
    return node.name if node is not None else None


def value_text(
    raw: Optional[str],
    field: Optional[str] = None,
    *,
    staff: Mapping[int, str] = {},
    node_name: Callable[[str], Optional[str]] = _node_name,
) -> str:
    """A stored event value (JSON text) for people, read by its field."""
    return _plain(_load(raw), field, staff, node_name)


def _plain(value: Any, field: Optional[str], staff: Mapping[int, str], node_name) -> str:
    if value is None:
        return "无"
    if isinstance(value, dict):
        return "，".join(f"{FIELD_LABELS.get(k, k)}：{_plain(v, k, staff, node_name)}" for k, v in value.items())
    if isinstance(value, bool):
        return "是" if value else "否"
    if field in STAFF_FIELDS and isinstance(value, int):
        name = staff.get(value)
        return name if name else f"已删除的工作人员（编号 {value}）"
    if field in SCORE_FIELDS and isinstance(value, int) and value in RATING_LABELS:
        return f"{RATING_LABELS[value]}（{value} 分）"
    if field in CATEGORY_FIELDS and isinstance(value, str):
        c = BY_INTENT.get(value)
        return f"{c.content} · {c.name}" if c else value
    if isinstance(value, str):
        if field in TIME_FIELDS or (field is None and len(value) >= 19 and value[4:5] == "-" and "T" in value):
            try:
                return clock.local(datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M")
            except ValueError:
                pass
        if value in lc.LABELS:
            return lc.LABELS[value]
        name = node_name(value)
        if name is not None:
            return name
    return str(value)


__all__ = ["ACTION_LABELS", "FIELD_LABELS", "action_label", "staff_ids", "value_text"]
