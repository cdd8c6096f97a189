"""SLA deadlines in China's official working days and office hours (bot/tickets/sla.py)."""

from __future__ import annotations

import logging
import random
import time as _time
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
import yaml

from bot.taxonomy import NEED_INTENTS
from bot.tickets.sla import DEFAULT_PATH, SlaConfigError, SlaPolicy

SH = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc
H = 3600
DAY = 7 * H  # 09:00–12:00 + 13:30–17:30


def cst(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def base_config(**overrides) -> dict:
    cfg = {
        "timezone": "Asia/Shanghai",
        "office_hours": [["09:00", "12:00"], ["13:30", "17:30"]],
        "first_response": "end_of_working_day",
        "resolution_working_days": {"default": 5, "need_policy_consult": 3, "need_listing": 20},
        "warning_before_hours": 4,
    }
    cfg.update(overrides)
    return cfg


@pytest.fixture(scope="module")
def policy() -> SlaPolicy:
    return SlaPolicy.from_dict(base_config())


def _cc_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
        return True
    except NotImplementedError:
        return False


def _cc_last_year() -> int:
    year = 2025
    while _cc_knows(year + 1):
        year += 1
    return year


# --------------------------------------------------------------------------- config


def test_shipped_config_loads_and_covers_all_19_categories():
    p = SlaPolicy.load()
    raw = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    assert set(NEED_INTENTS) <= set(raw["resolution_working_days"])
    assert "default" in raw["resolution_working_days"]
    for intent in NEED_INTENTS:
        assert 3 <= p.resolution_days(intent) <= 20
    assert p.resolution_days("need_policy_consult") < p.resolution_days("need_listing")
    assert p.timezone == "Asia/Shanghai" and p.first_response == "end_of_working_day"
    assert p.working_day_seconds == DAY
    assert p.warning_before_hours > 0


def test_unknown_category_uses_default(policy):
    assert policy.resolution_days("need_space") == 5
    assert policy.resolution_days("need_listing") == 20


@pytest.mark.parametrize(
    "change, field",
    [
        ({"office_hours": [["09:00", "12:00"], ["13:30", "25:00"]]}, "office_hours[1][1]"),
        ({"office_hours": [["9点", "12:00"]]}, "office_hours[0][0]"),
        ({"office_hours": [["13:30", "17:30"], ["09:00", "12:00"]]}, "office_hours[1]"),
        ({"office_hours": [["09:00", "12:00"], ["11:00", "17:30"]]}, "office_hours[1]"),
        ({"office_hours": [["12:00", "09:00"]]}, "office_hours[0]"),
        ({"office_hours": [["09:00"]]}, "office_hours[0]"),
        ({"office_hours": []}, "office_hours"),
        ({"office_hours": [[540, "12:00"]]}, "office_hours[0][0]"),  # unquoted YAML 09:00 → 540
        ({"timezone": "Asia/Nowhere"}, "timezone"),
        ({"first_response": "within_2_hours"}, "first_response"),
        ({"warning_before_hours": -1}, "warning_before_hours"),
        ({"warning_before_hours": "4"}, "warning_before_hours"),
        ({"resolution_working_days": {"default": 0}}, "resolution_working_days.default"),
        (
            {"resolution_working_days": {"default": 5, "need_polcy_consult": 3}},
            "resolution_working_days.need_polcy_consult",
        ),
        ({"resolution_working_days": {"need_listing": 20}}, "resolution_working_days"),
        ({"calendar": {"extra_holidays": ["2027-13-01"]}}, "calendar.extra_holidays[0]"),
        ({"calendar": {"extra_holidays": ["2027-10-01"], "extra_workdays": ["2027-10-01"]}}, "calendar"),
        ({"calendar": {"holidays": []}}, "calendar"),
    ],
)
def test_config_validation_names_the_field(change, field):
    with pytest.raises(SlaConfigError) as err:
        SlaPolicy.from_dict(base_config(**change))
    assert field in str(err.value)


def test_missing_categories_without_default_are_listed():
    days = {c: 5 for c in NEED_INTENTS if c != "need_space"}
    with pytest.raises(SlaConfigError, match="need_space.*没有 default"):
        SlaPolicy.from_dict(base_config(resolution_working_days=days))
    # all 19 present: no default needed
    days["need_space"] = 10
    assert SlaPolicy.from_dict(base_config(resolution_working_days=days)).resolution_days("need_space") == 10


def test_missing_field_unknown_field_and_bad_files(tmp_path):
    cfg = base_config()
    del cfg["warning_before_hours"]
    with pytest.raises(SlaConfigError, match="warning_before_hours"):
        SlaPolicy.from_dict(cfg)
    with pytest.raises(SlaConfigError, match="warn_hours"):
        SlaPolicy.from_dict(base_config(warn_hours=3))
    with pytest.raises(SlaConfigError, match="无法读取"):
        SlaPolicy.load(tmp_path / "none.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("office_hours: [\n", encoding="utf-8")
    with pytest.raises(SlaConfigError, match="YAML"):
        SlaPolicy.load(bad)
    good = tmp_path / "good.yml"
    good.write_text(yaml.safe_dump(base_config(), allow_unicode=True), encoding="utf-8")
    assert SlaPolicy.load(good).resolution_days("need_policy_consult") == 3


# --------------------------------------------------------------------------- calendar


def test_national_day_2025(policy):
    # 2025: Oct 1–8 off (National Day + Mid-Autumn); Sun Sep 28 and Sat Oct 11 are make-up working days.
    assert date(2025, 9, 28).weekday() == 6 and date(2025, 10, 11).weekday() == 5
    assert policy.is_working_day(date(2025, 9, 28))
    assert not policy.is_working_day(date(2025, 9, 27))  # ordinary Saturday
    for day in range(1, 9):
        assert not policy.is_working_day(date(2025, 10, day)), day
    assert policy.is_working_day(date(2025, 10, 9))
    assert policy.is_working_day(date(2025, 10, 11))
    assert not policy.is_working_day(date(2025, 10, 12))
    assert policy.next_working_day(date(2025, 9, 30)) == date(2025, 10, 9)
    assert policy.next_working_day(date(2025, 10, 10)) == date(2025, 10, 11)
    assert policy.next_working_day(date(2025, 9, 26)) == date(2025, 9, 28)
    assert policy.previous_working_day(date(2025, 10, 9)) == date(2025, 9, 30)
    assert policy.working_day_start(date(2025, 10, 1)) == cst(2025, 10, 9, 9)
    assert policy.working_day_start(date(2025, 10, 11)) == cst(2025, 10, 11, 9)
    assert policy.working_day_end(cst(2025, 10, 4, 12)) == cst(2025, 10, 9, 17, 30)


@pytest.mark.skipif(not _cc_knows(2026), reason="chinese_calendar has no 2026 arrangement")
def test_national_day_and_mid_autumn_2026(policy):
    # 2026 as chinese_calendar has it: Mid-Autumn Fri Sep 25–Sun Sep 27 off, National Day Oct 1–7 off;
    # Sun Sep 20 and Sat Oct 10 are make-up working days.
    assert chinese_calendar.get_holiday_detail(date(2026, 10, 1)) == (True, "National Day")
    assert policy.is_working_day(date(2026, 9, 20))
    assert not policy.is_working_day(date(2026, 9, 25))
    for day in range(1, 8):
        assert not policy.is_working_day(date(2026, 10, day)), day
    assert policy.is_working_day(date(2026, 10, 8))
    assert policy.is_working_day(date(2026, 10, 10))
    assert policy.next_working_day(date(2026, 9, 30)) == date(2026, 10, 8)
    assert policy.first_response_due(cst(2026, 9, 30, 18)) == cst(2026, 10, 8, 17, 30)
    # Sep 30 14:00 + 3 working days: Sep 30 3.5 h, Oct 8, Oct 9, then 3.5 h on make-up Sat Oct 10.
    assert policy.resolution_due(cst(2026, 9, 30, 14), "need_policy_consult") == cst(2026, 10, 10, 14)
    assert policy.working_seconds_between(cst(2026, 9, 24, 17), cst(2026, 9, 28, 10)) == H + H // 2


def test_calendar_agrees_with_chinese_calendar_over_the_known_range(policy):
    d, last = date(2004, 1, 1), date(_cc_last_year(), 12, 31)
    while d <= last:
        assert policy.is_working_day(d) == chinese_calendar.is_workday(d), d
        d += timedelta(days=1)


def test_outside_known_range_falls_back_to_weekdays_and_warns_once(caplog):
    p = SlaPolicy.from_dict(base_config())  # fresh calendar: its warnings are not yet spent
    year = _cc_last_year() + 4
    jan = date(year, 1, 1)
    with caplog.at_level(logging.WARNING, logger="bot.tickets.sla"):
        for i in range(14):
            d = jan + timedelta(days=i)
            assert p.is_working_day(d) == (d.weekday() < 5)
        assert p.first_response_due(datetime(year, 1, 1, 10, tzinfo=SH)).date() == p.next_working_day(
            jan - timedelta(days=1)
        )
        # Across the edge of the known range: no crash, Mon–Fri beyond it.
        start = cst(_cc_last_year(), 12, 20, 9)
        due = p.add_working_seconds(start, 30 * DAY)
        assert p.working_seconds_between(start, due) == 30 * DAY
    warnings = [r for r in caplog.records if str(year) in r.getMessage()]
    assert len(warnings) == 1
    assert "周一至周五" in warnings[0].getMessage()


def test_calendar_overrides_from_config():
    p = SlaPolicy.from_dict(
        base_config(
            calendar={
                "extra_holidays": ["2025-10-10"],
                "extra_workdays": [date(2025, 10, 12)],
            }
        )
    )
    assert not p.is_working_day(date(2025, 10, 10))
    assert p.is_working_day(date(2025, 10, 12))
    assert p.next_working_day(date(2025, 10, 9)) == date(2025, 10, 11)


# --------------------------------------------------------------------------- first response (即日办)


@pytest.mark.parametrize(
    "arrived, due",
    [
        (cst(2025, 9, 30, 17), cst(2025, 9, 30, 17, 30)),  # before closing: same day
        (cst(2025, 9, 30, 7, 45), cst(2025, 9, 30, 17, 30)),  # before opening: same day
        (cst(2025, 9, 30, 12, 40), cst(2025, 9, 30, 17, 30)),  # lunch break: same day
        (cst(2025, 9, 30, 17, 30), cst(2025, 10, 9, 17, 30)),  # at closing: next working day
        (cst(2025, 9, 30, 18), cst(2025, 10, 9, 17, 30)),  # after hours before the holiday
        (cst(2025, 10, 3, 10), cst(2025, 10, 9, 17, 30)),  # during the holiday
        (cst(2025, 10, 11, 10), cst(2025, 10, 11, 17, 30)),  # make-up Saturday is a working day
        (cst(2025, 9, 28, 8), cst(2025, 9, 28, 17, 30)),  # make-up Sunday too
        (cst(2025, 10, 11, 18), cst(2025, 10, 13, 17, 30)),  # after hours on the make-up Saturday
        (cst(2025, 9, 27, 10), cst(2025, 9, 28, 17, 30)),  # ordinary Saturday → make-up Sunday
    ],
)
def test_first_response_due(policy, arrived, due):
    got = policy.first_response_due(arrived)
    assert got == due
    assert got.tzinfo is not None and got.utcoffset() == timedelta(hours=8)


# --------------------------------------------------------------------------- resolution


def test_resolution_skips_the_holiday(policy):
    # 3 working days from Sep 30 09:00: Sep 30, Oct 9, Oct 10 (Oct 1–8 skipped).
    assert policy.resolution_due(cst(2025, 9, 30, 9), "need_policy_consult") == cst(2025, 10, 10, 17, 30)
    # From 14:00: 3.5 h on Sep 30, Oct 9, Oct 10, then 3.5 h on make-up Sat Oct 11 (3 h + 0.5 h after lunch).
    assert policy.resolution_due(cst(2025, 9, 30, 14), "need_policy_consult") == cst(2025, 10, 11, 14)
    # Arriving during the holiday: the clock starts on Oct 9 09:00.
    assert policy.resolution_due(cst(2025, 10, 2, 15), "need_policy_consult") == cst(2025, 10, 11, 17, 30)
    # Long deadline: 20 working days counted with chinese_calendar.
    start = cst(2025, 9, 26, 9)
    due = policy.resolution_due(start, "need_listing")
    assert chinese_calendar.get_workdays(start.date(), due.date()).__len__() == 20
    assert due.time() == datetime.min.time().replace(hour=17, minute=30)


def test_pauses_extend_the_deadline(policy):
    start = cst(2025, 9, 30, 9)
    assert policy.resolution_due(start, "need_policy_consult", paused_working_seconds=2 * H) == cst(2025, 10, 11, 11)
    # a pause of exactly one working day moves the deadline by one working day
    assert policy.resolution_due(start, "need_policy_consult", DAY) == cst(2025, 10, 11, 17, 30)
    assert policy.resolution_due(start, "need_policy_consult", DAY + 1) == cst(2025, 10, 13, 9, 0, 1)
    with pytest.raises(ValueError):
        policy.resolution_due(start, "need_policy_consult", -5)


def test_lunch_break_is_not_counted(policy):
    assert policy.working_seconds_between(cst(2025, 9, 30, 11), cst(2025, 9, 30, 14)) == 90 * 60
    assert policy.working_seconds_between(cst(2025, 9, 30, 12, 15), cst(2025, 9, 30, 13, 15)) == 0
    assert policy.add_working_seconds(cst(2025, 9, 30, 11, 30), H) == cst(2025, 9, 30, 14)
    # forward landing on the end of the morning stays at 12:00, not 13:30
    assert policy.add_working_seconds(cst(2025, 9, 30, 11), H) == cst(2025, 9, 30, 12)
    # a start in the lunch break counts from 13:30
    assert policy.add_working_seconds(cst(2025, 9, 30, 12, 30), 60) == cst(2025, 9, 30, 13, 31)
    assert policy.is_working_time(cst(2025, 9, 30, 11, 59))
    assert not policy.is_working_time(cst(2025, 9, 30, 12, 0))
    assert not policy.is_working_time(cst(2025, 10, 1, 10, 0))


def test_adding_a_full_day_ends_at_closing_time(policy):
    assert policy.add_working_seconds(cst(2025, 9, 29, 9), DAY) == cst(2025, 9, 29, 17, 30)
    assert policy.add_working_seconds(cst(2025, 9, 29, 18), DAY) == cst(2025, 9, 30, 17, 30)
    assert policy.add_working_seconds(cst(2025, 9, 29, 18), 0) == cst(2025, 9, 29, 18)


# --------------------------------------------------------------------------- working seconds between


def test_working_seconds_between_basic_and_symmetric_cases(policy):
    a, b, c = cst(2025, 9, 30, 10), cst(2025, 10, 9, 10), cst(2025, 10, 11, 16)
    assert policy.working_seconds_between(a, a) == 0
    assert policy.working_seconds_between(b, a) == 0  # b <= a → 0, never negative
    assert policy.working_seconds_between(a, b) == DAY  # Sep 30 10:00 → Oct 9 10:00
    assert policy.working_seconds_between(a, b) + policy.working_seconds_between(
        b, c
    ) == policy.working_seconds_between(a, c)
    # the whole holiday is worth nothing
    assert policy.working_seconds_between(cst(2025, 9, 30, 17, 30), cst(2025, 10, 9, 9)) == 0
    assert policy.working_seconds_between(cst(2025, 9, 30, 17), cst(2025, 10, 9, 10)) == 90 * 60
    # Sep 29 00:00 → Oct 13 00:00: Sep 29, Sep 30, Oct 9, Oct 10, Oct 11 (make-up) = 5 days
    assert policy.working_seconds_between(cst(2025, 9, 29), cst(2025, 10, 13)) == 5 * DAY
    # a calendar year = chinese_calendar's working days × 7 h
    workdays_2025 = len(chinese_calendar.get_workdays(date(2025, 1, 1), date(2025, 12, 31)))
    assert policy.working_seconds_between(cst(2025, 1, 1), cst(2026, 1, 1)) == workdays_2025 * DAY


def test_add_and_between_are_inverse(policy):
    rng = random.Random(11)
    for _ in range(500):
        start = cst(2024, 1, 1) + timedelta(minutes=rng.randrange(0, 2 * 366 * 24 * 60))
        seconds = rng.randrange(1, 40 * DAY)
        end = policy.add_working_seconds(start, seconds)
        assert end > start
        assert policy.working_seconds_between(start, end) == seconds
        # going back from a moment in office hours returns to a moment with the same distance
        back = policy.add_working_seconds(end, -seconds)
        assert policy.working_seconds_between(back, end) == seconds
        assert back <= end


def _reference_between(a: datetime, b: datetime) -> int:
    """Day-by-day brute force with chinese_calendar, for cross-checking."""
    a, b = a.astimezone(SH), b.astimezone(SH)
    total = 0
    d = a.date()
    while d <= b.date():
        if chinese_calendar.is_workday(d):
            for s, e in (("09:00", "12:00"), ("13:30", "17:30")):
                lo = datetime.combine(d, datetime.strptime(s, "%H:%M").time(), tzinfo=SH)
                hi = datetime.combine(d, datetime.strptime(e, "%H:%M").time(), tzinfo=SH)
                lo, hi = max(lo, a), min(hi, b)
                if hi > lo:
                    total += (hi - lo).total_seconds()
        d += timedelta(days=1)
    return int(total)


def test_between_matches_brute_force(policy):
    rng = random.Random(3)
    for _ in range(300):
        a = cst(2019, 1, 1) + timedelta(seconds=rng.randrange(0, 6 * 365 * 86400))
        b = a + timedelta(seconds=rng.randrange(0, 60 * 86400))
        assert policy.working_seconds_between(a, b) == _reference_between(a, b), (a, b)


# --------------------------------------------------------------------------- warnings


def test_warning_due(policy):
    # 4 working hours before Oct 9 17:30 is 13:30 (the afternoon alone is 4 h)
    assert policy.warning_due(cst(2025, 10, 9, 17, 30)) == cst(2025, 10, 9, 13, 30)
    assert policy.warning_due(cst(2025, 10, 9, 16)) == cst(2025, 10, 9, 10, 30)  # 2.5 h + 1.5 h
    # crosses the holiday back to Sep 30: 2 h on Oct 9 + 2 h on Sep 30
    w = policy.warning_due(cst(2025, 10, 9, 11))
    assert w == cst(2025, 9, 30, 15, 30)
    assert policy.working_seconds_between(w, cst(2025, 10, 9, 11)) == 4 * H
    # a full day back lands on the start of that day, not the end of the previous one
    p = SlaPolicy.from_dict(base_config(warning_before_hours=7))
    assert p.warning_due(cst(2025, 10, 9, 17, 30)) == cst(2025, 10, 9, 9)
    assert SlaPolicy.from_dict(base_config(warning_before_hours=0)).warning_due(cst(2025, 10, 9, 17)) == cst(
        2025, 10, 9, 17
    )


# --------------------------------------------------------------------------- time zones


def test_utc_inputs_are_converted(policy):
    # 2025-09-30 09:00Z = 17:00 Beijing time; 10:00Z = 18:00
    due = policy.first_response_due(datetime(2025, 9, 30, 9, 0, tzinfo=UTC))
    assert due == datetime(2025, 9, 30, 9, 30, tzinfo=UTC)
    assert due.tzinfo == SH and due.hour == 17
    assert policy.first_response_due(datetime(2025, 9, 30, 10, 0, tzinfo=UTC)) == cst(2025, 10, 9, 17, 30)
    # 2025-09-30 23:30Z is already Oct 1 in Beijing: a holiday
    assert not policy.is_working_day(datetime(2025, 9, 30, 23, 30, tzinfo=UTC))
    assert (
        policy.working_seconds_between(datetime(2025, 9, 30, 1, 0, tzinfo=UTC), datetime(2025, 9, 30, 3, 0, tzinfo=UTC))
        == 2 * H
    )
    assert policy.resolution_due(datetime(2025, 9, 30, 6, 0, tzinfo=UTC), "need_policy_consult") == cst(
        2025, 10, 11, 14
    )


def test_dst_of_other_zones_does_not_leak_in(policy):
    # New York switches to DST on 2025-03-09; Beijing does not. The same instants give the same answers.
    ny = ZoneInfo("America/New_York")
    a = datetime(2025, 3, 7, 20, 0, tzinfo=ny)  # Sat Mar 8 09:00 Beijing (a Saturday: off)
    b = datetime(2025, 3, 10, 21, 0, tzinfo=ny)  # Tue Mar 11 09:00 Beijing (DST in NY now)
    assert a.astimezone(SH) == cst(2025, 3, 8, 9) and b.astimezone(SH) == cst(2025, 3, 11, 9)
    assert policy.working_seconds_between(a, b) == DAY
    assert policy.add_working_seconds(a, DAY) == cst(2025, 3, 10, 17, 30)
    assert policy.working_seconds_between(a.astimezone(UTC), b.astimezone(UTC)) == DAY


def test_naive_datetimes_are_refused(policy):
    with pytest.raises(ValueError, match="带时区"):
        policy.first_response_due(datetime(2025, 9, 30, 17))
    with pytest.raises(ValueError, match="带时区"):
        policy.working_seconds_between(datetime(2025, 9, 30, 17), cst(2025, 10, 9))


# --------------------------------------------------------------------------- performance


def test_working_seconds_between_is_fast_over_year_long_spans(policy):
    rng = random.Random(42)
    base = cst(2005, 1, 1)
    pairs = []
    for _ in range(10_000):
        a = base + timedelta(seconds=rng.randrange(0, 20 * 365 * 86400))
        pairs.append((a, a + timedelta(seconds=rng.randrange(300 * 86400, 400 * 86400))))
    pairs = [(a.astimezone(UTC), b.astimezone(UTC)) for a, b in pairs]  # as they come from the database
    t0 = _time.perf_counter()
    total = 0
    for a, b in pairs:
        total += policy.working_seconds_between(a, b)
    elapsed = _time.perf_counter() - t0
    assert total > 0
    assert elapsed < 2.0, f"10,000 calls took {elapsed:.2f} s"
