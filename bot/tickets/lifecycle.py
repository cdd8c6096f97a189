"""Ticket states and the transitions the window's process allows.

已受理 → 已分派 → 办理中 ⇄ 待补充 (clock paused) → 已办结 → 已评价,
plus 无法办理 (with a reason) and reopening. Anything else is refused with a
message that says what is allowed instead.

Closing (办结) by staff goes through ``TicketService.close`` (the console has no one-click 办结): it needs a
result text, which is kept on the ticket and sent to the enterprise with the rating request, and the console
shows what will be sent and asks to confirm it first. The table below still allows 已受理 → 已办结 — a 即日办
answer may settle a need at once — but never without someone answerable: a ticket nobody has taken is first
assigned to the member of staff closing it, so its trail reads 已受理 → 已分派 → 已办结 with a 承办人.
Every change the enterprise should know about (办理中, 待补充 with what is needed, 办结 with the result,
无法办理 with the reason) is told on its channel (``service.status_notice``); 待补充 and 无法办理 from the
console need their text (``TEXT_REQUIRED``).
"""

from __future__ import annotations

ACCEPTED = "accepted"
ASSIGNED = "assigned"
IN_PROGRESS = "in_progress"
AWAITING_INFO = "awaiting_info"
RESOLVED = "resolved"
RATED = "rated"
CANNOT_HANDLE = "cannot_handle"

LABELS = {
    ACCEPTED: "已受理",
    ASSIGNED: "已分派",
    IN_PROGRESS: "办理中",
    AWAITING_INFO: "待补充",
    RESOLVED: "已办结",
    RATED: "已评价",
    CANNOT_HANDLE: "无法办理",
}

OPEN_STATES = frozenset({ACCEPTED, ASSIGNED, IN_PROGRESS, AWAITING_INFO})
CLOSED_STATES = frozenset({RESOLVED, RATED})  # counted as 办结
FINAL_STATES = frozenset({RESOLVED, RATED, CANNOT_HANDLE})

TRANSITIONS: dict[str, frozenset[str]] = {
    ACCEPTED: frozenset({ASSIGNED, IN_PROGRESS, AWAITING_INFO, RESOLVED, CANNOT_HANDLE}),
    ASSIGNED: frozenset({ASSIGNED, IN_PROGRESS, AWAITING_INFO, RESOLVED, CANNOT_HANDLE}),
    IN_PROGRESS: frozenset({AWAITING_INFO, RESOLVED, CANNOT_HANDLE, ASSIGNED}),
    AWAITING_INFO: frozenset({IN_PROGRESS, RESOLVED, CANNOT_HANDLE}),
    RESOLVED: frozenset({RATED, IN_PROGRESS}),  # reopen → 办理中
    RATED: frozenset({IN_PROGRESS}),  # unsatisfied rating reopens
    CANNOT_HANDLE: frozenset({IN_PROGRESS}),  # reopen
}

NEXT_STEP = {
    ACCEPTED: "等待分派给服务专员",
    ASSIGNED: "服务专员将尽快与您联系",
    IN_PROGRESS: "服务专员正在办理",
    AWAITING_INFO: "需要您补充材料或信息，补充后继续办理",
    RESOLVED: "已办结，欢迎评价本次服务",
    RATED: "已办结并评价，感谢您的反馈",
    CANNOT_HANDLE: "暂无法办理，如有疑问可申请重新办理",
}


# What staff must write for a status change made in the console, and what it is called there.
TEXT_REQUIRED = {RESOLVED: "办理结果", AWAITING_INFO: "需要企业补充的内容", CANNOT_HANDLE: "无法办理的原因"}


class IllegalTransition(ValueError):
    """A status change the process does not allow."""


def check_transition(current: str, target: str, reason: str | None = None) -> None:
    if current not in TRANSITIONS:
        raise IllegalTransition(f"未知的工单状态：{current}")
    if target not in LABELS:
        raise IllegalTransition(f"未知的目标状态：{target}")
    if target not in TRANSITIONS[current]:
        allowed = "、".join(LABELS[s] for s in sorted(TRANSITIONS[current], key=list(LABELS).index))
        raise IllegalTransition(f"工单当前为「{LABELS[current]}」，不能改为「{LABELS[target]}」；可改为：{allowed}")
    if target == CANNOT_HANDLE and not (reason and reason.strip()):
        raise IllegalTransition("标记为「无法办理」时必须填写原因")
