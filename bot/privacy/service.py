"""Export, erase and retention as whole operations: one transaction each, with the audit row."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from bot.db import sessions
from bot.db.schema import utcnow
from bot.privacy import data


def run_export(
    db_url: str,
    *,
    mobile: Optional[str] = None,
    conversation: Optional[str] = None,
    actor: str = "cli",
    ip: Optional[str] = None,
    now: Optional[datetime] = None,
) -> dict:
    now = now or utcnow()
    with sessions(db_url).begin() as s:
        subject = data.find_subject(s, mobile=mobile, conversation=conversation)
        if subject.empty:
            raise data.SelectorError("没有找到与该手机号或会话编号有关的个人信息")
        result = data.export(s, subject, now)
        data.audit(
            s,
            actor,
            "privacy_export",
            subject,
            f"导出联系人 {len(result['contacts'])} 位、工单 {len(result['tickets'])} 件、"
            f"会话 {len(result['conversations'])} 个",
            now,
            ip,
        )
    return result


def run_erase(
    db_url: str,
    *,
    mobile: Optional[str] = None,
    conversation: Optional[str] = None,
    tracker_url: Optional[str] = None,
    actor: str = "cli",
    ip: Optional[str] = None,
    now: Optional[datetime] = None,
) -> data.Erased:
    now = now or utcnow()
    with sessions(db_url).begin() as s:
        subject = data.find_subject(s, mobile=mobile, conversation=conversation)
        if subject.empty:
            raise data.SelectorError("没有找到与该手机号或会话编号有关的个人信息")
        done = data.erase(s, subject)
        if tracker_url:
            with sessions(tracker_url).begin() as ts:
                done.tracker_events = data.erase_tracker(ts, subject.conversation_ids)
        data.audit(
            s, actor, "privacy_erase", subject, done.summary() + f"；对话记录事件 {done.tracker_events} 条", now, ip
        )
    return done


def run_retention(db_url: str, days: int, now: Optional[datetime] = None) -> data.RetentionResult:
    with sessions(db_url).begin() as s:
        return data.purge(s, now or utcnow(), days)
