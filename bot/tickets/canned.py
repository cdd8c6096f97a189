"""Canned replies of the staff console (工作台常用回复), with variables filled in when offered.

bot/service_data/canned_replies.yml holds the texts; a text may use these variables:

- ``{答复时限}``: when the window's first answer is due — the conversation's ticket's 即日办 first
  response deadline while it is outstanding and ahead, otherwise the deadline a need arriving now
  would get (end of the working day, or of the next working day after hours, on a weekend or a
  holiday; bot/tickets/sla.py). Written as 「今天（12月3日）17:30前」, 「明天（12月4日）17:30前」 or
  「12月7日（星期一）17:30前」, so a reply sent at 1 a.m. or on Saturday never promises 「今天下班前」
  for a day the window does not work.
- ``{下次上班}``: the start of the next office hours (「明天（12月4日）9:00」).
- ``{企业名称}``: the enterprise's name, or nothing when it is not known (write 「{企业名称}您好」).
- ``{工单号}``: the conversation's ticket's number (QCY-20261203-0001).
- ``{办结期限}``: that ticket's resolution deadline (办结时限, per category, moved by time spent waiting for the
  enterprise), as 「12月10日（星期四）」 or 「明天（12月4日）」.

A reply that uses {工单号} or {办结期限} is offered only in a conversation with a ticket (its text would
otherwise be wrong), the others everywhere.

An unknown variable or a malformed entry is refused when the file is read, naming the entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Optional

from bot.problems import read_yaml
from bot.settings import SERVICE_DATA_DIR
from bot.tickets.sla import SlaPolicy, default_policy

CANNED_FILE = SERVICE_DATA_DIR / "canned_replies.yml"
VARIABLES = ("答复时限", "下次上班", "企业名称", "工单号", "办结期限")
TICKET_VARIABLES = frozenset({"工单号", "办结期限"})
_VAR = re.compile(r"\{([^{}]*)\}")
_WEEKDAYS = "一二三四五六日"


class CannedError(ValueError):
    """canned_replies.yml is malformed; the message names the entry."""


@dataclass(frozen=True)
class CannedReply:
    id: str
    title: str
    text: str

    @property
    def needs_ticket(self) -> bool:
        return any(v in TICKET_VARIABLES for v in _VAR.findall(self.text))


def parse(data) -> list[CannedReply]:
    if not isinstance(data, dict) or not isinstance(data.get("replies"), list):
        raise CannedError("常用回复文件应包含 replies 列表")
    out, seen = [], set()
    for i, item in enumerate(data["replies"], 1):
        if not isinstance(item, dict):
            raise CannedError(f"第 {i} 条常用回复格式不正确")
        rid, title, text = (str(item.get(k) or "").strip() for k in ("id", "title", "text"))
        name = rid or f"第 {i} 条"
        if not rid or not title or not text:
            raise CannedError(f"常用回复「{name}」缺少 id、title 或 text")
        if rid in seen:
            raise CannedError(f"常用回复 id 重复：{rid}")
        seen.add(rid)
        unknown = [v for v in _VAR.findall(text) if v not in VARIABLES]
        if unknown or text.count("{") != text.count("}"):
            raise CannedError(
                f"常用回复「{rid}」使用了未知的变量：{'、'.join(unknown) or '括号不成对'}；"
                f"可用的变量：{'、'.join('{' + v + '}' for v in VARIABLES)}"
            )
        out.append(CannedReply(rid, title, text))
    return out


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> tuple[CannedReply, ...]:
    return tuple(parse(read_yaml(path, CannedError) or {}))


def load(path: Path = CANNED_FILE) -> list[CannedReply]:
    """The replies of `path`, reread when the file changes."""
    return list(_load(str(path), path.stat().st_mtime))


def day_phrase(moment: datetime, now: datetime, sla: SlaPolicy) -> str:
    """「今天（12月3日）」, 「明天（12月4日）」 or 「12月7日（星期一）」, from `now`'s local date."""
    day, today = moment.astimezone(sla.tz).date(), now.astimezone(sla.tz).date()
    if day == today:
        return f"今天（{day.month}月{day.day}日）"
    if day == today + timedelta(days=1):
        return f"明天（{day.month}月{day.day}日）"
    return f"{day.month}月{day.day}日（星期{_WEEKDAYS[day.weekday()]}）"


def _clock(moment: datetime, sla: SlaPolicy) -> str:
    loc = moment.astimezone(sla.tz)
    return f"{loc.hour}:{loc.minute:02d}"


def answer_due(now: datetime, sla: SlaPolicy, first_response_due: Optional[datetime] = None) -> datetime:
    if first_response_due is not None and first_response_due > now:
        return first_response_due
    return sla.first_response_due(now)


def next_office_start(now: datetime, sla: SlaPolicy) -> datetime:
    """The start of the next office interval (after the lunch break too); `now` itself in office hours."""
    return sla.add_working_seconds(now, 1) - timedelta(seconds=1)


def render(
    text: str,
    *,
    now: datetime,
    sla: Optional[SlaPolicy] = None,
    enterprise: Optional[str] = None,
    first_response_due: Optional[datetime] = None,
    ticket_number: Optional[str] = None,
    resolution_due: Optional[datetime] = None,
) -> str:
    """`text` with its variables filled in for a reply sent at `now`."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"需要带时区的当前时间，收到的是：{now!r}")
    sla = sla or default_policy()

    def value(m: re.Match) -> str:
        name = m.group(1)
        if name == "答复时限":
            due = answer_due(now, sla, first_response_due)
            return f"{day_phrase(due, now, sla)}{_clock(due, sla)}前"
        if name == "下次上班":
            start = next_office_start(now, sla)
            return f"{day_phrase(start, now, sla)}{_clock(start, sla)}"
        if name == "企业名称":
            return (enterprise or "").strip()
        if name == "工单号":
            return ticket_number or ""
        if name == "办结期限":
            return day_phrase(resolution_due, now, sla) if resolution_due is not None else ""
        return m.group(0)

    return _VAR.sub(value, text)


def offered(
    now: datetime,
    *,
    enterprise: Optional[str] = None,
    first_response_due: Optional[datetime] = None,
    ticket_number: Optional[str] = None,
    resolution_due: Optional[datetime] = None,
    sla: Optional[SlaPolicy] = None,
    path: Path = CANNED_FILE,
) -> list[dict]:
    """The replies as the console offers them: {"id", "title", "text"} with the variables filled in (those that
    need a ticket only with one)."""
    if resolution_due is not None and (resolution_due.tzinfo is None or resolution_due.utcoffset() is None):
        resolution_due = resolution_due.replace(tzinfo=timezone.utc)  # SQLite hands back naive UTC
    have_ticket = bool(ticket_number)
    return [
        {
            "id": r.id,
            "title": r.title,
            "text": render(
                r.text,
                now=now,
                sla=sla,
                enterprise=enterprise,
                first_response_due=first_response_due,
                ticket_number=ticket_number,
                resolution_due=resolution_due,
            ),
        }
        for r in load(path)
        if have_ticket or not r.needs_ticket
    ]


__all__ = [
    "CANNED_FILE",
    "VARIABLES",
    "CannedError",
    "CannedReply",
    "parse",
    "load",
    "render",
    "offered",
    "day_phrase",
    "answer_due",
    "next_office_start",
]
