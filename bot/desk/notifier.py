"""Deliver notifications addressed to enterprises (周推进 progress, status changes, rating requests) to their chat.

The scheduler and the ticket service only write `Notification` rows; this loop
in the desk pushes rows addressed to "sender:<conversation id>" through the
gateway, so web chat and WeChat users get them the same way. A row is claimed
with a conditional UPDATE (one desk instance sends it) and released again if
the send fails, so nothing is lost and nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web
from sqlalchemy import select, update

from bot.db import sessions
from bot.db.schema import Notification, Ticket, utcnow
from bot.desk.gateway import send_to_user
from bot.desk.keys import SETTINGS_KEY
from bot.dialogue.policy_check import SHORT_NAMES
from bot.policy.push import buttons_for_notification
from bot.tickets.chat import RATING_BUTTONS

log = logging.getLogger(__name__)
INTERVAL = 5.0
BATCH = 100


def _claim_batch(db_url: str) -> list[dict]:
    now = utcnow()
    out = []
    with sessions(db_url).begin() as s:
        rows = s.execute(
            select(Notification, Ticket.number)
            .outerjoin(Ticket, Notification.ticket_id == Ticket.id)
            .where(Notification.delivered_at.is_(None), Notification.recipient.like("sender:%"))
            .order_by(Notification.id)
            .limit(BATCH)
        ).all()
        for n, number in rows:
            res = s.execute(
                update(Notification)
                .where(Notification.id == n.id, Notification.delivered_at.is_(None))
                .values(delivered_at=now)
            )
            if res.rowcount == 1:
                out.append(
                    {
                        "id": n.id,
                        "kind": n.kind,
                        "conversation_id": n.recipient[len("sender:") :],
                        "body": n.body,
                        "number": number,
                    }
                )
    return out


def _release(db_url: str, notification_id: int) -> None:
    with sessions(db_url).begin() as s:
        s.execute(update(Notification).where(Notification.id == notification_id).values(delivered_at=None))


def buttons_for(item: dict) -> list[dict] | None:
    """Rating requests carry the rating buttons; 待补充 a button that starts adding information to the ticket
    (the chat's own 补充工单 flow, actions/tickets.py)."""
    if item["kind"] == "rating_request" and item["number"]:
        return [{"title": label, "payload": f"{label} {item['number']}"} for label, _ in RATING_BUTTONS]
    if item["kind"] == "status_awaiting_info" and item["number"]:
        return [{"title": "补充信息", "payload": f"补充工单 {item['number']} 的信息"}]
    return None


def _policy_buttons(db_url: str, notification_id: int) -> list[dict] | None:
    return buttons_for_notification(db_url, notification_id, SHORT_NAMES)


async def deliver_pending(app: web.Application) -> int:
    db_url = app[SETTINGS_KEY].effective_database_url
    items = await asyncio.to_thread(_claim_batch, db_url)
    sent = 0
    for item in items:
        try:
            buttons = buttons_for(item)
            if item["kind"] == "policy_push":  # 政策推送: 登记需求 and 退订 (bot/policy/push.py)
                buttons = await asyncio.to_thread(_policy_buttons, db_url, item["id"])
            await send_to_user(app, item["conversation_id"], item["body"], "system", buttons=buttons)
            sent += 1
        except Exception:  # noqa: BLE001 - keep it for the next round
            log.exception("notification %s could not be delivered; will retry", item["id"])
            await asyncio.to_thread(_release, db_url, item["id"])
    return sent


async def _loop(app: web.Application, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await deliver_pending(app)
        except Exception:  # noqa: BLE001
            log.exception("notification delivery failed")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), INTERVAL)


async def _notifier_ctx(app: web.Application):
    stop = asyncio.Event()
    task = asyncio.create_task(_loop(app, stop))
    yield
    stop.set()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_notifier_ctx)
