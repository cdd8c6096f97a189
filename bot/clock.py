"""The window's calendar: Beijing time, whatever zone the machine's clock runs in.

The window works in Xixian (Asia/Shanghai, UTC+8 all year). Servers and CI often run in UTC, where
`date.today()` is still yesterday from 16:00 to 24:00 UTC — eight hours a day in which a knowledge entry
reviewed "today" was refused as reviewed in the future, a policy deadline was a day off, and a year typed
as "今年" could be last year on New Year's morning. Everything that asks "what day is it" for the window
asks this module; code that is handed a day (`today=` parameters) keeps taking it, so tests pin the day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone, tzinfo

BEIJING: tzinfo
try:
    from zoneinfo import ZoneInfo

    BEIJING = ZoneInfo("Asia/Shanghai")
except Exception:  # pragma: no cover - no tz database: China has kept UTC+8 without DST since 1991
    BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def now() -> datetime:
    """The current instant, aware, in Beijing time."""
    return datetime.now(BEIJING)


def today(at: datetime | None = None) -> date:
    """The window's date now, or at the aware instant `at` (a naive `at` is taken as UTC, as the database keeps it)."""
    if at is None:
        return now().date()
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(BEIJING).date()


def local(at: datetime) -> datetime:
    """An instant shown on the window's wall clock (a naive instant is taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(BEIJING)
