"""The window's calendar is Beijing time whatever zone the machine runs in (bot/clock.py).

CI runs in UTC: from 16:00 to 24:00 UTC the machine's date is the window's yesterday, and a knowledge entry
reviewed "today" (the console fills in Beijing's date) was refused as reviewed in the future.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from bot import clock
from bot.knowledge import editing
from bot.knowledge.loader import load_base
from bot.knowledge.model import KnowledgeError

EVENING_UTC = datetime(2026, 12, 3, 16, 30, tzinfo=timezone.utc)  # 00:30 on 4 December in Xixian


def test_the_window_day_turns_at_midnight_beijing_time():
    assert clock.today(EVENING_UTC) == date(2026, 12, 4)
    assert clock.today(EVENING_UTC - timedelta(hours=1)) == date(2026, 12, 3)
    assert clock.today(datetime(2026, 12, 3, 16, 30)) == date(2026, 12, 4)  # naive: UTC, as the database keeps it
    assert clock.local(datetime(2026, 12, 3, 16, 30)).strftime("%m-%d %H:%M") == "12-04 00:30"
    assert clock.now().utcoffset() == timedelta(hours=8)
    assert clock.today() == datetime.now(timezone.utc).astimezone(clock.BEIJING).date()


ENTRY = """\
id: canteen
title: 单位食堂食品经营许可
issuer: 秦创原总窗口
doc_number: ""
level: 窗口
categories: [need_permits]
effective: null
expires: null
source: 以西咸新区市场监督管理部门的现行规定为准
reviewed_on: {reviewed_on}
next_step: 可以在这里登记需求，由服务专员帮您对接市场监管部门。
faq:
  - id: canteen-apply
    question: 单位食堂食品经营许可怎么申请？
    variants: [食堂要办什么许可证]
    answer: 请向市场监督管理部门申请食品经营许可，具体材料以受理窗口的要求为准。
"""


def write_entry(directory: Path, reviewed_on: date) -> Path:
    (directory / "canteen.yml").write_text(ENTRY.format(reviewed_on=reviewed_on.isoformat()), encoding="utf-8")
    return directory


def reviewed_on_problems(directory: Path, **kwargs) -> list[str]:
    try:
        load_base(directory, **kwargs)
    except KnowledgeError as exc:
        return [p for p in exc.problems if "reviewed_on" in p]
    return []


def test_an_entry_reviewed_on_the_windows_today_loads_and_one_reviewed_tomorrow_does_not(tmp_path):
    (tmp_path / "entries").mkdir()
    write_entry(tmp_path / "entries", date(2026, 12, 4))
    assert reviewed_on_problems(tmp_path, today=date(2026, 12, 4)) == []
    assert reviewed_on_problems(tmp_path, today=date(2026, 12, 3)) == [
        "entries/canteen.yml: reviewed_on: 复核日期 2026-12-04 晚于今天"
    ]
    write_entry(tmp_path / "entries", clock.today())  # the default day is the window's: accepted at any hour
    assert reviewed_on_problems(tmp_path) == []


def test_the_editors_check_judges_review_dates_by_the_day_it_is_given(tmp_path):
    """The console checks a draft with its own today (Beijing, from the request's clock); the loader used the
    machine's date, so on a UTC evening a draft reviewed today failed its check and could not be saved."""
    (tmp_path / "entries").mkdir()
    text = ENTRY.format(reviewed_on="2026-12-04")
    assert editing.check_text(tmp_path, "canteen", text, today=date(2026, 12, 4)).problems == []
    late = editing.check_text(tmp_path, "canteen", text, today=date(2026, 12, 3))
    assert any("reviewed_on" in p for p in late.problems), late.problems
