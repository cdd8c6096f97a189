"""What the assistant says when it recognises a need category.

Kept out of the Rasa actions so the wording can be tested and reused by the
desk (e.g. the console shows the same category label).
"""

from __future__ import annotations

from bot.taxonomy import BY_INTENT, Category, is_need


def label(intent: str) -> str:
    """Short display label, e.g. "贷款融资（科技金融）"."""
    c = BY_INTENT[intent]
    return f"{c.name}（{c.content}）"


def acknowledge(intent: str) -> str:
    """Natural-language acknowledgement naming the category and its service content."""
    c: Category = BY_INTENT[intent]
    return (
        f"明白，您的需求属于「{c.content}」服务中的「{c.name}」类（{c.scope}）。"
        f"我来帮您登记这项需求，由负责这类事项的服务专员跟进办理（随时说「取消」可退出登记）。"
    )


def fallback_choices(intent_ranking: list[dict], n: int = 2) -> list[str]:
    """The top-n need categories from an NLU intent ranking, best first."""
    picked: list[str] = []
    for item in intent_ranking or []:
        name = item.get("name")
        if is_need(name) and name not in picked:
            picked.append(name)
        if len(picked) == n:
            break
    return picked
