"""Live figures and the 绩效 scorecard against the monthly report's hand-made November (both databases).

The fixture is the monthly report's (tests/unit/monthly_report_helpers.py), plus: a contact with a name and a
mobile (which must never reach the public figures), a staff-service rating at 沣西 on 11-20, ticket 1 answered within
its 即日办 deadline, and two 周推进 events (ticket 4 on 11-30, inside the last 8 days of the month; ticket 8 on 11-20,
outside). The moment is 2026-11-30 23:59:30 Beijing time (15:59:30Z), so "today" is 30 November.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, update

from bot.db import engine_for
from bot.db.schema import Contact, Handover, KbQuery, Ticket, TicketEvent
from bot.reports import monthly_summary
from bot.reports.figures import PublicFigures, dashboard, public_figures, window
from bot.reports.scorecard import previous_month, scorecard
from tests.unit.monthly_report_helpers import populate, utc

NOW = utc("2026-11-30 15:59:30")
H = 3600
CONTACT_NAME, CONTACT_MOBILE = "王秀兰", "13987654321"
ENTERPRISE_NAMES = ("西咸光子科技有限公司", "秦汉智造有限公司")


def populate_figures(url: str) -> None:
    populate(url)
    with engine_for(url).begin() as conn:
        conn.execute(
            insert(Contact).values(
                id=1, enterprise_id=1, name=CONTACT_NAME, mobile=CONTACT_MOBILE, created_at=utc("2026-01-01 00:00")
            )
        )
        conn.execute(update(Ticket).where(Ticket.id.in_([1, 4])).values(contact_id=1))
        conn.execute(
            insert(Handover).values(
                conversation_id="c7",
                reason="request_human",
                node_id="fengxi",
                created_at=utc("2026-11-20 01:00"),
                rating=5,
                rated_at=utc("2026-11-20 02:00"),
            )
        )
        conn.execute(update(Ticket).where(Ticket.id == 1).values(first_response_due=utc("2026-11-02 09:00")))
        conn.execute(
            insert(TicketEvent),
            [
                dict(ticket_id=4, at=utc("2026-11-30 01:00"), actor="system", action="progress_push"),
                dict(ticket_id=8, at=utc("2026-11-20 02:00"), actor="system", action="progress_push"),
            ],
        )
        conn.execute(
            insert(KbQuery),
            [
                dict(
                    id=n,
                    asked_at=utc(at),
                    conversation_id=f"kb{n}",
                    text=f"我的电话{CONTACT_MOBILE}怎么申请",
                    decision="unknown",
                )
                for n, at in ((9, "2026-11-08 02:00"), (10, "2026-11-09 02:00"))
            ],
        )


@pytest.fixture(scope="module")
def sqlite_db(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('figures') / 'figures.db'}"
    populate_figures(url)
    yield url
    engine_for(url).dispose()


@pytest.fixture(scope="module")
def pg_db(pg_database):
    with pg_database(prepare=False) as url:
        populate_figures(url)
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request):
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")


def test_windows_are_beijing_days_and_months():
    assert window("today", NOW).start_utc == utc("2026-11-29 16:00")
    assert window("today", NOW).end_utc == utc("2026-11-30 16:00")
    assert window("month", NOW).start_utc == utc("2026-10-31 16:00")
    assert window("month", NOW).end_utc == utc("2026-11-30 16:00")
    assert window("all", NOW).end_utc == utc("2026-11-30 16:00")
    assert window("month", utc("2026-12-31 16:30")).start.isoformat() == "2027-01-01T00:00:00+08:00"
    with pytest.raises(ValueError, match="统计区间"):
        window("week", NOW)
    with pytest.raises(ValueError, match="时区"):
        public_figures("sqlite://", NOW.replace(tzinfo=None))


def test_public_figures_by_hand(db):
    f = public_figures(db, NOW)
    today, month, total = (f["windows"][k] for k in ("today", "month", "all"))
    # today (11-30 Beijing): ticket 12 (created 23:59 Beijing, enterprise 1), no visit, nothing resolved
    assert (today["accepted"], today["closed"], today["visits"], today["enterprises"], today["services"]) == (
        1,
        0,
        0,
        1,
        1,
    )
    assert today["redeemed_amount"] == "0.00" and today["completion_rate"] == 0.0
    # this month: the monthly summary's 11 accepted, 5 closed, 2 visits, ¥210000.75; enterprises 1 and 2
    assert (month["accepted"], month["closed"], month["visits"], month["enterprises"], month["services"]) == (
        11,
        5,
        2,
        2,
        13,
    )
    assert month["completion_rate"] == round(5 / 11, 4) and month["redeemed_amount"] == "210000.75"
    # all time (until 12-01 00:00 Beijing): every ticket but 13 = 17; closed: 1,2,3,7,9,10,14,16,17,18 = 10
    # (15 was reopened); visits 1,2,4,5 = 4 (3 is 12-01); redeemed: 2, 3, 10, 14 = 240000.75 (7 is 12-02)
    assert (total["accepted"], total["closed"], total["visits"], total["enterprises"], total["services"]) == (
        17,
        10,
        4,
        2,
        21,
    )
    assert total["redeemed_amount"] == "240000.75" and total["completion_rate"] == round(10 / 17, 4)
    cats = {c["intent"]: c["accepted"] for c in total["categories"]}
    assert len(cats) == 19
    assert cats["need_policy_consult"] == 2 and cats["need_subsidy_redemption"] == 3 and cats["need_training"] == 2
    assert cats["need_space"] == 1 and cats["need_project_application"] == 0 and sum(cats.values()) == 17
    contents = {c["name"]: c["accepted"] for c in total["contents"]}
    assert contents == {"政策兑现": 6, "人才服务": 4, "科技金融": 2, "科技政务": 3, "协同赋能": 2}


def test_public_figures_hold_no_personal_data(db):
    text = json.dumps(public_figures(db, NOW), ensure_ascii=False)
    for secret in (CONTACT_NAME, CONTACT_MOBILE, *ENTERPRISE_NAMES, "测试工单", "script", "QCY-T-"):
        assert secret not in text


def test_dashboard_month_equals_the_monthly_summary(db):
    d = dashboard(db, NOW)
    s = monthly_summary(db, "2026-11", NOW)
    m = d.month
    assert (m.accepted, m.closed, m.cannot_handle, m.open) == (s.accepted, s.closed, s.cannot_handle, s.open)
    assert m.completion_rate == s.completion_rate
    assert (m.visits, m.redeemed_amount, m.resolved, m.on_time) == (s.visits, s.redeemed_amount, s.resolved, s.on_time)
    assert m.avg_first_response_hours == s.avg_first_response_hours
    assert m.avg_resolution_hours == s.avg_resolution_hours
    assert (m.ratings, m.service_ratings, m.satisfaction) == (
        s.satisfaction.count,
        s.satisfaction.service_count,
        s.satisfaction.average,
    )
    assert [(c.key, c.accepted, c.closed) for c in m.categories] == [
        (c.intent, c.accepted, c.closed) for c in s.categories
    ]
    assert (m.kb_questions, m.kb_answered) == (s.knowledge.questions, s.knowledge.answered)
    # the figures themselves, by hand: ratings 6 of the fixture + the staff-service 5 = 7, sum 28
    assert (m.ratings, m.service_ratings) == (7, 1) and m.satisfaction == pytest.approx(4.0)
    # medians: first responses of M 600,900,1200,1800,1800,2400,3600,3600,7200,86400 → (1800+2400)/2
    assert m.p50_first_response_hours == pytest.approx(2100 / H)
    # resolutions of M 14400,25200,28800,43200,72000,100800 → (28800+43200)/2 = 36000 s = 10 h
    assert m.p50_resolution_hours == pytest.approx(10.0)
    # knowledge: 6 questions + the two added, 4 answered → 4 unanswered; 1 marked unhelpful
    assert (m.kb_questions, m.kb_unanswered, m.kb_not_helpful) == (8, 4, 1)
    # what to write next: the added question twice (its mobile masked), then 5 (unknown, 11-06), 4 (options,
    # 11-05) and 2 (answered, marked 没帮助); 1, 3, 6 were answered and not marked unhelpful
    assert [(q.text, q.asked, q.not_helpful) for q in d.questions] == [
        ("我的电话139****4321怎么申请", 2, 0),
        ("问题5", 1, 0),
        ("问题4", 1, 0),
        ("问题2", 0, 1),
    ]
    assert d.questions[0].last_asked.isoformat() == "2026-11-09T10:00:00+08:00"
    # open / overdue now: 4 (due 11-20), 11 (10-30) at 沣西; 8, 15 at the workstation; 5 is paused; 13's
    # deadline is 12-01 00:00 Beijing, still ahead
    states = {n.node_id: (n.open, n.overdue) for n in d.nodes}
    assert states == {"qcy": (2, 0), "fengxi": (3, 2), "konggang": (0, 0), "ws-evil": (2, 2)}
    assert sum(n.overdue for n in d.nodes) == s.overdue_open


def test_dashboard_of_a_new_city_centre_is_its_nodes_only(db):
    scope = {"fengxi", "ws-evil"}
    d = dashboard(db, NOW, scope)
    s = monthly_summary(db, "2026-11", NOW)
    m = d.month
    needs = [n for n in s.nodes if n.node_id in scope]
    assert m.accepted == sum(n.accepted for n in needs) == 6  # 3, 4, 5 + 7, 8, 15
    assert m.closed == sum(n.closed for n in needs) == 2  # 3, 7
    assert m.visits == 2 and m.redeemed_amount == Decimal("80000.25")  # V1, V2; ticket 3
    # ratings at 沣西: 2 (t10), 3 and 4 (t3) and the staff-service 5 → 4 ratings, 3.5
    assert (m.ratings, m.service_ratings, m.satisfaction) == (4, 1, 3.5)
    # first responses 600,1800,2400,3600,7200,86400 → (2400+3600)/2 = 3000 s
    assert m.p50_first_response_hours == pytest.approx(3000 / H)
    assert m.kb_questions is None and d.questions == []  # questions carry no node: not shown to a node
    assert {n.node_id for n in d.nodes} == scope
    by = {c.key: c.accepted for c in m.categories}
    assert by["need_debt_financing"] == 1 and by["need_policy_consult"] == 0 and sum(by.values()) == 6


def test_cache_computes_once_per_ttl(sqlite_db):
    ticks = [100.0]
    cache = PublicFigures(sqlite_db, ttl=60, clock=lambda: NOW, monotonic=lambda: ticks[0])
    first = cache.get()
    ticks[0] = 159.0
    assert cache.get() is first and cache.computations == 1
    ticks[0] = 160.0
    assert cache.get() == first and cache.computations == 2


def test_scorecard_by_hand(db):
    sc = scorecard(db, "2026-11", NOW)
    assert (sc.month, sc.previous_month, sc.previous_label) == ("2026-11", "2026-10", "2026年10月")
    rows = {r.node_id: r for r in sc.rows}
    assert list(rows) == ["qcy", "fengxi", "ws-evil"]  # konggang: no activity; old: inactive
    q, f, w = rows["qcy"].current, rows["fengxi"].current, rows["ws-evil"].current
    # 即日办: first responses in M at qcy: 1 (by its deadline), 2, 6 (late) → 1/3; elsewhere all late
    assert (q.responded_in_time, q.responded) == (1, 3)
    assert (f.responded_in_time, f.responded) == (0, 4) and (w.responded_in_time, w.responded) == (0, 2)
    # 按时办结: the summary's — qcy 1, 9 on time, 2 late; fengxi 3; ws-evil 15
    assert (q.on_time, q.resolved, f.on_time, f.resolved, w.on_time, w.resolved) == (2, 3, 1, 1, 1, 1)
    # 周推进: due at 11-30 16:00Z (open, created by 11-23 16:00Z): 沣西 4, 5, 11; workstation 8, 15;
    # pushed within the 8 days before: 4 only (8's push was 11-20)
    assert (f.pushed, f.push_due, w.pushed, w.push_due, q.push_due) == (1, 3, 0, 2, 0)
    assert f.push_coverage == pytest.approx(1 / 3) and q.push_coverage is None
    # satisfaction: qcy 5, 4; 沣西 2, 3, 4 + staff service 5
    assert (q.ratings, q.satisfaction) == (2, 4.5)
    assert (f.ratings, f.service_ratings, f.satisfaction) == (4, 1, 3.5)
    # visits: V2 沣西, V1 workstation; unanswered at month end: 12 (qcy), 8 (workstation)
    assert (q.visits, f.visits, w.visits) == (0, 1, 1)
    assert (q.unanswered, f.unanswered, w.unanswered) == (1, 0, 1)
    assert (q.overdue_open, f.overdue_open, w.overdue_open) == (0, 2, 2)
    # October beside it: qcy accepted 9 (10-31 23:30 Beijing); 沣西 10 and 11
    assert (rows["qcy"].previous.accepted, rows["fengxi"].previous.accepted) == (1, 2)
    assert sc.total().accepted == 10 and sc.total(scope={"fengxi"}).accepted == 3
    assert previous_month("2027-01") == "2026-12"


def test_monthly_xlsx_has_the_scorecard_sheet(sqlite_db, tmp_path):
    from openpyxl import load_workbook

    from bot.reports import to_xlsx

    s = monthly_summary(sqlite_db, "2026-11", NOW)
    path = tmp_path / "m.xlsx"
    to_xlsx(s, path)
    ws = load_workbook(path)["绩效评分"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "服务节点" and "即日办响应率" in rows[0] and "周推进覆盖率" in rows[0]
    by_node = {r[0]: r for r in rows[1:] if r[0]}
    head = list(rows[0])
    fengxi = by_node["沣西新城服务中心"]
    assert fengxi[head.index("周推进覆盖率")] == pytest.approx(1 / 3)
    assert fengxi[head.index("上月受理")] == 2 and fengxi[head.index("未响应诉求")] == 0
    assert by_node["合计"][head.index("受理")] == 10


def test_a_day_later_today_is_december(sqlite_db):
    # a moment a day later moves "today" and keeps November in "all"
    f = public_figures(sqlite_db, NOW + timedelta(days=1))
    assert f["windows"]["today"]["accepted"] == 1  # ticket 13, 12-01 00:00 Beijing
    assert f["windows"]["month"]["accepted"] == 1
    assert f["windows"]["all"]["accepted"] == 18
