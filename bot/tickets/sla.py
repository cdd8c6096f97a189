"""SLA deadlines in China's official working days and office hours (pure logic, no DB).

The window's rule 即日办 and the per-category resolution deadlines count only working
time: office hours (e.g. 09:00–12:00 and 13:30–17:30, the lunch break excluded) on
China's official working days (weekends and public holidays off, make-up working days
调休 on; the chinese-calendar package knows the State Council's arrangement).

All public functions take and return timezone-aware datetimes. Inputs in any zone
(typically UTC from the database) are converted to the policy's zone (Asia/Shanghai);
results are in that zone. Naive datetimes are refused: silently guessing their zone
is how deadlines end up eight hours off.

Semantics at boundaries (chosen so that chained calls agree with each other):
- Moving forward (``add_working_seconds`` with seconds > 0, ``resolution_due``) lands on
  the *earliest* moment with the requested working time, so a deadline that uses up a
  morning is 12:00, not 13:30, and one that uses up a day is 17:30, not 09:00 next day.
- Moving backward (seconds < 0, ``warning_due``) lands on the *latest* such moment, i.e.
  at the start of an office interval rather than at the end of the previous one.
- Adding 0 seconds returns the input moment unchanged (converted to the policy zone).
- ``working_seconds_between`` counts whole seconds (microseconds truncated).

Performance: working days are kept as a prefix-count table over the years
chinese-calendar knows (plus configured overrides); outside it Mon–Fri are counted
arithmetically. Counting the working days between two dates and finding the n-th
working day after a date are therefore O(1) and O(log n), whatever the span.
"""

from __future__ import annotations

import logging
import re
import threading
from array import array
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

from bot.problems import read_yaml
from bot.settings import SERVICE_DATA_DIR
from bot.taxonomy import NEED_INTENTS

log = logging.getLogger(__name__)

DEFAULT_PATH = SERVICE_DATA_DIR / "sla.yml"
END_OF_WORKING_DAY = "end_of_working_day"
FIRST_RESPONSE_MODES = (END_OF_WORKING_DAY,)
DEFAULT_KEY = "default"

_US = 1_000_000  # microseconds per second
_DAY_US = 86_400 * _US
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


class SlaConfigError(ValueError):
    """sla.yml is missing a field or has an invalid value; the message names the field."""


# ---------------------------------------------------------------------------
# Working-day calendar
# ---------------------------------------------------------------------------


def _weekdays_before(ordinal: int) -> int:
    """Mon–Fri days in [date.fromordinal(1), date.fromordinal(ordinal)).

    Ordinal 1 (0001-01-01) is a Monday, so each run of 7 days starts with 5 weekdays.
    """
    n = ordinal - 1
    weeks, rest = divmod(n, 7)
    return weeks * 5 + (rest if rest < 5 else 5)


@lru_cache(maxsize=None)
def _chinese_calendar_years() -> tuple[int, int]:
    """First and last year for which chinese_calendar has the official arrangement."""
    years = sorted({d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays})
    lo, hi = years[0], years[-1]
    # Trust only years the package actually answers for (it raises outside its range).
    while lo <= hi and not _cc_supports(lo):
        lo += 1
    while hi >= lo and not _cc_supports(hi):
        hi -= 1
    if lo > hi:  # pragma: no cover - a broken chinese_calendar install
        raise RuntimeError("chinese_calendar 没有可用的节假日数据")
    return lo, hi


def _cc_supports(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
        return True
    except NotImplementedError:
        return False


@lru_cache(maxsize=16)
def _build_table(
    first_year: int, last_year: int, cc_first: int, cc_last: int, extra_holidays: frozenset, extra_workdays: frozenset
) -> tuple[int, array, bytearray]:
    """Prefix counts of working days for [first_year-01-01, (last_year+1)-01-01).

    Returns (start ordinal, cum, flags) with cum[i] = working days in [start, start + i)
    and flags[i] = 1 if day start + i is a working day.
    """
    start = date(first_year, 1, 1).toordinal()
    end = date(last_year + 1, 1, 1).toordinal()
    cum = array("l", [0]) * (end - start + 1)
    flags = bytearray(end - start)
    # Same rule as chinese_calendar.is_workday() (make-up days on, holidays and weekends
    # off) on its public tables; is_workday() itself rescans its table on every call.
    cc_holidays, cc_workdays = chinese_calendar.holidays, chinese_calendar.workdays
    total = 0
    for i in range(end - start):
        d = date.fromordinal(start + i)
        if d in extra_holidays:
            working = False
        elif d in extra_workdays:
            working = True
        elif cc_first <= d.year <= cc_last:
            working = d in cc_workdays or (d.weekday() < 5 and d not in cc_holidays)
        else:
            working = d.weekday() < 5
        if working:
            flags[i] = 1
            total += 1
        cum[i + 1] = total
    return start, cum, flags


class WorkCalendar:
    """China's official working days, with optional local corrections.

    Days outside the table (years chinese_calendar does not know and no override
    mentions) fall back to Mon–Fri; a warning is logged once per such year.
    """

    def __init__(self, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = ()):
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        self.cc_first, self.cc_last = _chinese_calendar_years()
        override_years = {d.year for d in self.extra_holidays | self.extra_workdays}
        self.known_years = frozenset(range(self.cc_first, self.cc_last + 1)) | override_years
        first = min([self.cc_first, *override_years])
        last = max([self.cc_last, *override_years])
        self._start, self._cum, self._flags = _build_table(
            first, last, self.cc_first, self.cc_last, self.extra_holidays, self.extra_workdays
        )
        self._end = self._start + len(self._flags)  # first ordinal past the table
        self._base = _weekdays_before(self._start)  # rank of the table's first day
        self._table_total = self._cum[-1]
        self._warned: set[int] = set()
        self._lock = threading.Lock()
        # Years inside the table that neither chinese_calendar nor an override covers
        # (only when overrides name a year beyond the package's range) use Mon–Fri too.
        for year in range(first, last + 1):
            if year not in self.known_years:
                self._warn_gap(year)

    def _warn_gap(self, year: int) -> None:
        self._warned.add(year)
        log.warning(
            "chinese_calendar 没有 %s 年的法定节假日安排，sla.yml 的 calendar 也未补充，该年按周一至周五为工作日计算",
            year,
        )

    # -- fallback warning -------------------------------------------------
    def _warn_unknown(self, year: int) -> None:
        if year in self._warned or year in self.known_years:
            return
        with self._lock:
            if year in self._warned:
                return
            self._warned.add(year)
        log.warning(
            "chinese_calendar 没有 %s 年的法定节假日安排（已知 %s–%s 年），该年按周一至周五为工作日计算；"
            "请升级 chinese-calendar 或在 sla.yml 的 calendar 中补充当年安排",
            year,
            self.cc_first,
            self.cc_last,
        )

    # -- rank: number of working days before an ordinal -------------------
    def rank(self, ordinal: int) -> int:
        """Working days in [0001-01-01, date.fromordinal(ordinal)); a monotone counter."""
        if ordinal <= self._start:
            if ordinal < self._start:
                self._warn_unknown(date.fromordinal(max(ordinal, 1)).year)
            return _weekdays_before(ordinal)
        if ordinal <= self._end:
            return self._base + self._cum[ordinal - self._start]
        self._warn_unknown(date.fromordinal(ordinal - 1).year)
        return self._base + self._table_total + _weekdays_before(ordinal) - _weekdays_before(self._end)

    def is_working_ordinal(self, ordinal: int) -> bool:
        if self._start <= ordinal < self._end:
            return bool(self._flags[ordinal - self._start])
        self._warn_unknown(date.fromordinal(ordinal).year)
        return (ordinal - 1) % 7 < 5

    def count(self, first: int, end: int) -> int:
        """Working days with ordinal in [first, end)."""
        return self.rank(end) - self.rank(first) if end > first else 0

    def ordinal_of_rank(self, r: int, hint: int) -> int:
        """The working day whose rank is r (rank(x) == r and x is a working day)."""
        # Smallest y with rank(y) >= r + 1; the working day is y - 1.
        target = r + 1
        if self._base < target <= self._base + self._table_total:
            # Inside the table: plain bisection over the prefix counts.
            return self._start + bisect_right(self._cum, target - self._base - 1) - 1
        lo, hi = hint, hint
        step = 8
        while self.rank(lo) >= target:
            lo -= step
            step *= 2
        step = 8
        while self.rank(hi) < target:
            hi += step
            step *= 2
        # invariant: rank(lo) < target <= rank(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.rank(mid) >= target:
                hi = mid
            else:
                lo = mid
        return hi - 1

    def nth_on_or_after(self, ordinal: int, n: int) -> int:
        """The n-th (0-based) working day on or after ``ordinal``."""
        return self.ordinal_of_rank(self.rank(ordinal) + n, ordinal + n)

    def nth_on_or_before(self, ordinal: int, n: int) -> int:
        """The n-th (0-based) working day on or before ``ordinal``."""
        return self.ordinal_of_rank(self.rank(ordinal + 1) - 1 - n, ordinal - n)


# ---------------------------------------------------------------------------
# Config parsing helpers
# ---------------------------------------------------------------------------


def _parse_time(value: Any, field: str) -> int:
    """'HH:MM' or 'HH:MM:SS' → microseconds since midnight."""
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads unquoted 09:00 as a sexagesimal integer (540): refuse, quoting is needed.
        raise SlaConfigError(f'sla.yml 字段 {field}：时间请加引号写成 "HH:MM"，实际为 {value!r}')
    if not isinstance(value, str):
        raise SlaConfigError(f'sla.yml 字段 {field}：时间应为 "HH:MM" 格式的字符串，实际为 {value!r}')
    m = _TIME_RE.match(value.strip())
    if not m:
        raise SlaConfigError(f"sla.yml 字段 {field}：时间格式应为 HH:MM，实际为 {value!r}")
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if h > 23 or mi > 59 or s > 59:
        raise SlaConfigError(f"sla.yml 字段 {field}：时间 {value!r} 超出 00:00–23:59 的范围")
    return ((h * 60 + mi) * 60 + s) * _US


def _parse_date(value: Any, field: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise SlaConfigError(f"sla.yml 字段 {field}：日期格式应为 YYYY-MM-DD，实际为 {value!r}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------
# Policy
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OfficeInterval:
    start_us: int  # microseconds since local midnight
    end_us: int


class SlaPolicy:
    """Deadlines of the window, loaded from bot/service_data/sla.yml."""

    def __init__(
        self,
        *,
        timezone: str = "Asia/Shanghai",
        office_hours: Iterable[tuple[Any, Any]] = (("09:00", "12:00"), ("13:30", "17:30")),
        first_response: str = END_OF_WORKING_DAY,
        resolution_working_days: Mapping[str, int],
        warning_before_hours: float = 4,
        extra_holidays: Iterable[Any] = (),
        extra_workdays: Iterable[Any] = (),
    ):
        # -- timezone
        if not isinstance(timezone, str) or not timezone.strip():
            raise SlaConfigError(f"sla.yml 字段 timezone：应为时区名称（如 Asia/Shanghai），实际为 {timezone!r}")
        try:
            self.tz = ZoneInfo(timezone.strip())
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SlaConfigError(f"sla.yml 字段 timezone：未知时区 {timezone!r}") from exc
        self.timezone = timezone.strip()

        # -- office hours
        if isinstance(office_hours, (str, bytes)) or not isinstance(office_hours, Iterable):
            raise SlaConfigError(
                'sla.yml 字段 office_hours：应为时间段列表，如 [["09:00", "12:00"], ["13:30", "17:30"]]'
            )
        intervals: list[OfficeInterval] = []
        for i, pair in enumerate(office_hours):
            field = f"office_hours[{i}]"
            if isinstance(pair, (str, bytes)) or not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise SlaConfigError(f"sla.yml 字段 {field}：应为 [开始, 结束] 两个时间，实际为 {pair!r}")
            start = _parse_time(pair[0], f"{field}[0]")
            end = _parse_time(pair[1], f"{field}[1]")
            if end <= start:
                raise SlaConfigError(f"sla.yml 字段 {field}：结束时间 {pair[1]} 应晚于开始时间 {pair[0]}")
            if intervals and start < intervals[-1].end_us:
                raise SlaConfigError(
                    f"sla.yml 字段 {field}：时间段应按时间先后排列且互不重叠，{pair[0]} 早于上一段的结束时间"
                )
            intervals.append(OfficeInterval(start, end))
        if not intervals:
            raise SlaConfigError("sla.yml 字段 office_hours：至少需要一个办公时间段")
        self.office_hours: tuple[OfficeInterval, ...] = tuple(intervals)
        self._starts = tuple(iv.start_us for iv in intervals)
        self._ends = tuple(iv.end_us for iv in intervals)
        before, acc = [], 0
        for iv in intervals:
            before.append(acc)
            acc += iv.end_us - iv.start_us
        self._worked_before = tuple(before)  # working µs before each interval starts
        self._day_us = acc  # working µs in one working day
        self._day_start_us = intervals[0].start_us
        self._day_end_us = intervals[-1].end_us

        # -- first response
        if first_response not in FIRST_RESPONSE_MODES:
            raise SlaConfigError(
                f"sla.yml 字段 first_response：目前只支持 {END_OF_WORKING_DAY}（即日办），实际为 {first_response!r}"
            )
        self.first_response = first_response

        # -- resolution days per category
        if not isinstance(resolution_working_days, Mapping):
            raise SlaConfigError("sla.yml 字段 resolution_working_days：应为“需求类别: 工作日数”的映射")
        days: dict[str, int] = {}
        for key, value in resolution_working_days.items():
            field = f"resolution_working_days.{key}"
            if key != DEFAULT_KEY and key not in NEED_INTENTS:
                raise SlaConfigError(
                    f"sla.yml 字段 {field}：未知的需求类别 {key!r}（应为 19 类需求的 intent id 或 default）"
                )
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SlaConfigError(f"sla.yml 字段 {field}：工作日数应为正整数，实际为 {value!r}")
            days[key] = value
        missing = [c for c in NEED_INTENTS if c not in days]
        if missing and DEFAULT_KEY not in days:
            raise SlaConfigError(
                "sla.yml 字段 resolution_working_days：缺少 " + "、".join(missing) + "，且没有 default"
            )
        self.resolution_working_days: dict[str, int] = days

        # -- warning
        if not _number(warning_before_hours) or warning_before_hours < 0:
            raise SlaConfigError(
                f"sla.yml 字段 warning_before_hours：应为不小于 0 的数（工作小时），实际为 {warning_before_hours!r}"
            )
        self.warning_before_hours = warning_before_hours

        # -- calendar overrides
        holidays = self._dates(extra_holidays, "calendar.extra_holidays")
        workdays = self._dates(extra_workdays, "calendar.extra_workdays")
        both = sorted(set(holidays) & set(workdays))
        if both:
            raise SlaConfigError(
                "sla.yml 字段 calendar：日期 "
                + "、".join(d.isoformat() for d in both)
                + " 同时出现在 extra_holidays 和 extra_workdays 中"
            )
        self.calendar = WorkCalendar(holidays, workdays)

    @staticmethod
    def _dates(values: Any, field: str) -> list[date]:
        if values is None:
            return []
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise SlaConfigError(f"sla.yml 字段 {field}：应为日期列表")
        return [_parse_date(v, f"{field}[{i}]") for i, v in enumerate(values)]

    # -- loading ----------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any) -> "SlaPolicy":
        if not isinstance(data, Mapping):
            raise SlaConfigError("sla.yml 的内容应为一个映射（键: 值）")
        known = {
            "timezone",
            "office_hours",
            "first_response",
            "resolution_working_days",
            "warning_before_hours",
            "calendar",
        }
        unknown = sorted(set(data) - known, key=str)
        if unknown:
            raise SlaConfigError("sla.yml 中有未知字段：" + "、".join(map(str, unknown)))
        for required in ("office_hours", "first_response", "resolution_working_days", "warning_before_hours"):
            if required not in data:
                raise SlaConfigError(f"sla.yml 缺少字段 {required}")
        calendar = data.get("calendar") or {}
        if not isinstance(calendar, Mapping):
            raise SlaConfigError("sla.yml 字段 calendar：应为映射（extra_holidays / extra_workdays）")
        unknown = sorted(set(calendar) - {"extra_holidays", "extra_workdays"}, key=str)
        if unknown:
            raise SlaConfigError("sla.yml 字段 calendar 中有未知字段：" + "、".join(map(str, unknown)))
        return cls(
            timezone=data.get("timezone", "Asia/Shanghai"),
            office_hours=data["office_hours"],
            first_response=data["first_response"],
            resolution_working_days=data["resolution_working_days"],
            warning_before_hours=data["warning_before_hours"],
            extra_holidays=calendar.get("extra_holidays") or (),
            extra_workdays=calendar.get("extra_workdays") or (),
        )

    @classmethod
    def load(cls, path: str | Path | None = None) -> "SlaPolicy":
        p = Path(path) if path is not None else DEFAULT_PATH
        data = read_yaml(p, SlaConfigError)
        return cls.from_dict(data)

    # -- properties -------------------------------------------------------
    @property
    def working_day_seconds(self) -> int:
        """Working seconds in one working day (e.g. 7 h = 25,200 s)."""
        return self._day_us // _US

    def resolution_days(self, category: str) -> int:
        try:
            return self.resolution_working_days[category]
        except KeyError:
            if DEFAULT_KEY in self.resolution_working_days:
                return self.resolution_working_days[DEFAULT_KEY]
            raise KeyError(f"SLA 配置中没有需求类别 {category!r} 的办结时限，也没有 default") from None

    # -- internal helpers -------------------------------------------------
    def _local(self, dt: datetime) -> tuple[int, int]:
        """Aware datetime → (local date ordinal, local microseconds since midnight)."""
        if not isinstance(dt, datetime):
            raise TypeError(f"需要 datetime，收到的是 {type(dt).__name__}：{dt!r}")
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ValueError(f"需要带时区的时间（aware datetime），收到的是不带时区的时间：{dt.isoformat()}")
        loc = dt.astimezone(self.tz)
        us = ((loc.hour * 60 + loc.minute) * 60 + loc.second) * _US + loc.microsecond
        return loc.toordinal(), us

    def _local_date(self, d: date | datetime) -> int:
        if isinstance(d, datetime):
            return self._local(d)[0]
        if isinstance(d, date):
            return d.toordinal()
        raise TypeError(f"需要 date 或 datetime，收到的是 {type(d).__name__}：{d!r}")

    def _at(self, ordinal: int, us: int) -> datetime:
        s, micro = divmod(us, _US)
        m, s = divmod(s, 60)
        h, m = divmod(m, 60)
        return datetime.combine(date.fromordinal(ordinal), time(h, m, s, micro), tzinfo=self.tz)

    def _worked(self, us: int) -> int:
        """Working µs of a working day before local time ``us``."""
        total = 0
        for start, end in zip(self._starts, self._ends):
            if us <= start:
                break
            total += (us if us < end else end) - start
        return total

    def _earliest_at(self, worked: int) -> int:
        """Earliest local time at which ``worked`` (0 < worked <= day) µs have been worked."""
        for start, end, before in zip(self._starts, self._ends, self._worked_before):
            if before + (end - start) >= worked:
                return start + (worked - before)
        return self._day_end_us

    def _latest_at(self, worked: int) -> int:
        """Latest office-hours time at which ``worked`` (0 <= worked < day) µs have been worked."""
        for start, end, before in zip(self._starts, self._ends, self._worked_before):
            if before + (end - start) > worked:
                return start + (worked - before)
        return self._day_end_us

    # -- calendar ---------------------------------------------------------
    def is_working_day(self, d: date | datetime) -> bool:
        """Official working day? (datetimes are taken at their local date)."""
        return self.calendar.is_working_ordinal(self._local_date(d))

    def next_working_day(self, d: date | datetime) -> date:
        """The first working day strictly after ``d``."""
        return date.fromordinal(self.calendar.nth_on_or_after(self._local_date(d) + 1, 0))

    def previous_working_day(self, d: date | datetime) -> date:
        """The last working day strictly before ``d``."""
        return date.fromordinal(self.calendar.nth_on_or_before(self._local_date(d) - 1, 0))

    def working_day_start(self, d: date | datetime) -> datetime:
        """Start of office hours on ``d`` if it is a working day, else on the next working day."""
        return self._at(self.calendar.nth_on_or_after(self._local_date(d), 0), self._day_start_us)

    def working_day_end(self, d: date | datetime) -> datetime:
        """End of office hours on ``d`` if it is a working day, else on the next working day."""
        return self._at(self.calendar.nth_on_or_after(self._local_date(d), 0), self._day_end_us)

    def is_working_time(self, dt: datetime) -> bool:
        """Within office hours on a working day (start inclusive, end exclusive)?"""
        o, us = self._local(dt)
        if not self.calendar.is_working_ordinal(o):
            return False
        return any(s <= us < e for s, e in zip(self._starts, self._ends))

    # -- working time arithmetic ------------------------------------------
    def working_seconds_between(self, a: datetime, b: datetime) -> int:
        """Working seconds (office hours on working days) from ``a`` to ``b``; 0 if b <= a."""
        oa, ua = self._local(a)
        ob, ub = self._local(b)
        if (ob, ub) <= (oa, ua):
            return 0
        cal = self.calendar
        if oa == ob:
            if not cal.is_working_ordinal(oa):
                return 0
            return (self._worked(ub) - self._worked(ua)) // _US
        total = 0
        if cal.is_working_ordinal(oa):
            total += self._day_us - self._worked(ua)
        total += cal.count(oa + 1, ob) * self._day_us
        if cal.is_working_ordinal(ob):
            total += self._worked(ub)
        return total // _US

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` working seconds after ``start`` (before it if negative)."""
        if not _number(seconds):
            raise TypeError(f"工作秒数应为数字，收到的是 {seconds!r}")
        o, us = self._local(start)
        remaining = round(seconds * _US)
        if remaining == 0:
            return self._at(o, us)
        cal, day = self.calendar, self._day_us
        if remaining > 0:
            if cal.is_working_ordinal(o):
                done = self._worked(us)
                if remaining <= day - done:
                    return self._at(o, self._earliest_at(done + remaining))
                remaining -= day - done
            # remaining > 0: whole days first, the rest (0 < rest <= day) on the last day
            full = (remaining - 1) // day
            target = cal.nth_on_or_after(o + 1, full)
            return self._at(target, self._earliest_at(remaining - full * day))
        remaining = -remaining
        if cal.is_working_ordinal(o):
            done = self._worked(us)
            if remaining <= done:
                return self._at(o, self._latest_at(done - remaining))
            remaining -= done
        full = (remaining - 1) // day
        target = cal.nth_on_or_before(o - 1, full)
        return self._at(target, self._latest_at(day - (remaining - full * day)))

    # -- deadlines --------------------------------------------------------
    def first_response_due(self, arrived: datetime) -> datetime:
        """即日办: end of the working day of arrival; after hours or on a day off, end of the next one."""
        o, us = self._local(arrived)
        if not (self.calendar.is_working_ordinal(o) and us < self._day_end_us):
            o = self.calendar.nth_on_or_after(o + 1, 0)
        return self._at(o, self._day_end_us)

    def resolution_due(self, start: datetime, category: str, paused_working_seconds: int = 0) -> datetime:
        """``start`` + N working days of ``category`` (N × a day's office hours), extended by pauses."""
        if not _number(paused_working_seconds) or paused_working_seconds < 0:
            raise ValueError(f"暂停的工作秒数应为不小于 0 的数，实际为 {paused_working_seconds!r}")
        seconds = self.resolution_days(category) * self._day_us / _US + paused_working_seconds
        return self.add_working_seconds(start, seconds)

    def warning_due(self, due: datetime) -> datetime:
        """The moment ``warning_before_hours`` working hours before ``due``."""
        return self.add_working_seconds(due, -self.warning_before_hours * 3600)


@lru_cache(maxsize=1)
def default_policy() -> SlaPolicy:
    """The policy in bot/service_data/sla.yml, loaded once per process."""
    return SlaPolicy.load()


__all__ = [
    "SlaPolicy",
    "SlaConfigError",
    "WorkCalendar",
    "OfficeInterval",
    "default_policy",
    "DEFAULT_PATH",
    "END_OF_WORKING_DAY",
]
