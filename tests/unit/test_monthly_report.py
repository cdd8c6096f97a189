"""月总结: every figure of a hand-made month checked against numbers worked out by hand.

The month under test is 2026-11 in Beijing time, i.e. the UTC interval
[2026-10-31T16:00Z, 2026-11-30T16:00Z). The same fixture runs on SQLite and on
PostgreSQL and must give identical figures. The month itself (the table of its
tickets, nodes, visits, ratings, handovers and questions) is built in
tests/unit/monthly_report_helpers.py; the figures expected of it are worked out here.
"""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import insert

from bot.db import engine_for, migrate
from bot.db.schema import Enterprise, Handover, Rating, ServiceNode, Ticket
from bot.reports import monthly_summary, parse_month, to_html, to_text, to_xlsx
from bot.settings import PROJECT_ROOT
from bot.taxonomy import CATEGORIES
from tests.unit.monthly_report_helpers import EVIL, NODES, populate, ticket_row, utc

# ---- the expected figures, worked out by hand ------------------------------------------------------

H = 3600


def check_figures(s) -> None:
    assert s.month == "2026-11"
    assert s.period_start.isoformat() == "2026-11-01T00:00:00+08:00"
    assert s.period_end.isoformat() == "2026-12-01T00:00:00+08:00"

    # accepted: created in [10-31 16:00Z, 11-30 16:00Z) → tickets 1,2,3,4,5,6,7,8,12,14,15 = 11
    # (8 is 11-01 01:00 Beijing; 9 is 10-31 23:30 Beijing; 13 is 12-01 00:00 Beijing)
    assert s.accepted == 11
    # closed: of those, status resolved/rated with resolved_at: 1,2,3,7 (resolved in M+1, counts),14 = 5
    # (15 was reopened: in_progress, not closed)
    assert s.closed == 5
    assert s.cannot_handle == 1  # ticket 6
    assert s.open == 5  # 4,5,8,12,15
    assert s.completion_rate == pytest.approx(5 / 11)

    # resolved in M: 1,2,3,9 (created M-1),14,15 = 6 (7 is M+1, 10 is M-1); on time: all but 2 → 5
    assert s.resolved == 6 and s.on_time == 5
    assert s.on_time_rate == pytest.approx(5 / 6)
    # resolution wsecs of those 6: 28800+100800+43200+72000+25200+14400 = 284400 → /6 = 47400 s = 13.1667 h
    assert s.resolutions_timed == 6 and s.resolution_secs == 284400
    assert s.avg_resolution_hours == pytest.approx(47400 / H)
    # first responses in M: 1(3600) 2(1800) 3(600) 4(7200) 5(3600) 6(900) 7(1800) 11(86400, created M-1)
    # 14(1200) 15(2400) = 10 tickets, 109500 s → 10950 s = 3.0417 h (9's response was 10-31 23:45 Beijing)
    assert s.first_responses == 10 and s.first_response_secs == 109500
    assert s.avg_first_response_hours == pytest.approx(10950 / H)
    # overdue open at month end: open with due < 11-30 16:00Z: 4, 8, 11, 15 = 4 (13's due equals the end)
    assert s.overdue_open == 4
    # redeemed: resolved in M with an amount: 2 (120000.50) + 3 (80000.25) + 14 (10000.00) = 210000.75
    # (7's 999.99 is December, 10's 30000 is October)
    assert s.redeemed_amount == Decimal("210000.75")

    # visits in M: 1 and 2 (10-31 16:30Z = 11-01 00:30 Beijing); 3 is 12-01 00:00 Beijing
    assert s.visits == 2
    # tickets of M from a visit: 5 (V2), 8 (V1) = 2 (16 is January)
    assert s.visit_tickets == 2
    # year to date (2026-01-01 00:00 Beijing … month end): created M (11) + 9,10,11 + 16 + 17 = 16 (18 is 2025)
    assert s.ytd_accepted == 16
    # visits year to date: 1, 2, 4 = 3
    assert s.ytd_visits == 3

    # satisfaction: ratings in M: 5(t1) 4(t9) 2(t10) 3(t3) 4(t3) 5(t14) = 6, sum 23 → 3.8333; ≥4: 4 of 6
    sat = s.satisfaction
    assert sat.count == 6 and sat.score_sum == 23
    assert sat.average == pytest.approx(23 / 6)
    assert sat.satisfied == 4 and sat.satisfied_share == pytest.approx(4 / 6)
    assert sat.levels == {"非常满意": 2, "满意": 2, "一般": 1, "不满意": 1, "非常不满意": 0}
    # follow-ups: tickets rated in M {1,9,10,3,14} with followup_required: 10, 3 = 2
    # (3 rated twice counts once; 2 is flagged but rated in December)
    assert sat.followups == 2

    # handovers in M: c1 request_human, c2+c3 fallback, c4 complaint (at the very start) = 4; c5 is at the end
    assert s.handovers.total == 4
    assert s.handovers.by_reason == {
        "request_human": 1,
        "fallback": 2,
        "complaint": 1,
        "staff_only": 0,
        "staff_takeover": 0,
    }

    # knowledge base in M: questions 1-6 = 6; answered 1,2,3,6 = 4; feedback 1(T),2(F),6(T) = 3; helpful 2
    kb = s.knowledge
    assert (kb.questions, kb.answered, kb.feedback, kb.helpful) == (6, 4, 3, 2)
    assert kb.answer_rate == pytest.approx(4 / 6) and kb.helpful_share == pytest.approx(2 / 3)

    # per category: all 19 in taxonomy order
    assert [c.intent for c in s.categories] == [c.intent for c in CATEGORIES]
    accepted = {c.intent: c.accepted for c in s.categories}
    assert accepted == {
        "need_policy_consult": 1,  # 1
        "need_project_application": 0,
        "need_qualification": 0,  # 10 is October
        "need_subsidy_redemption": 3,  # 2, 3, 14
        "need_talent_recognition": 0,
        "need_talent_living": 1,  # 15
        "need_recruitment": 1,  # 5
        "need_training": 0,
        "need_debt_financing": 1,  # 4
        "need_equity_investment": 0,
        "need_listing": 0,  # 11 is October
        "need_business_registration": 0,
        "need_permits": 1,  # 6
        "need_intellectual_property": 1,  # 7
        "need_space": 1,  # 12 (13 is December)
        "need_tech_transfer": 1,  # 8
        "need_industry_academia": 0,
        "need_market_expansion": 0,
        "need_professional_services": 0,
    }
    sub = next(c for c in s.categories if c.intent == "need_subsidy_redemption")
    assert (sub.closed, sub.cannot_handle, sub.open) == (3, 0, 0)  # 2, 3, 14 all resolved
    assert sub.completion_rate == 1.0
    assert next(c for c in s.categories if c.intent == "need_permits").cannot_handle == 1
    assert next(c for c in s.categories if c.intent == "need_project_application").completion_rate is None
    assert s.uncategorised == 0

    # per service content
    assert [(c.content, c.accepted, c.closed) for c in s.contents] == [
        ("政策兑现", 4, 4),  # 1, 2, 3, 14 — all closed
        ("人才服务", 2, 0),  # 5, 15
        ("科技金融", 1, 0),  # 4
        ("科技政务", 3, 1),  # 6 (cannot), 7 (closed), 12
        ("协同赋能", 1, 0),  # 8
    ]

    # per node: active nodes in network order (zeros included) + inactive "old" which had a ticket
    assert [(n.node_id, n.accepted, n.closed, n.cannot_handle, n.open) for n in s.nodes] == [
        ("qcy", 4, 2, 1, 1),  # 1, 2, 6, 12
        ("fengxi", 3, 1, 0, 2),  # 3, 4, 5
        ("konggang", 0, 0, 0, 0),
        ("ws-evil", 3, 1, 0, 2),  # 7, 8, 15
        ("old", 1, 1, 0, 0),  # 14
    ]

    # 绩效: active nodes with activity (konggang has none, old is inactive)
    perf = {p.node_id: p for p in s.performance}
    assert list(perf) == ["qcy", "fengxi", "ws-evil"]
    q, f, w = perf["qcy"], perf["fengxi"], perf["ws-evil"]
    # qcy: accepted 4, closed 2 (1, 2); resolved in M 1, 2, 9 → on time 1, 9 = 2/3;
    # resolution (28800+100800+72000)/3 = 67200 s; first responses 1, 2, 6: (3600+1800+900)/3 = 2100 s;
    # ratings 5, 4 → 4.5; no overdue (12 due in December, 13's due equals the end); no visit in M
    assert (q.accepted, q.closed, q.resolved, q.on_time, q.ratings, q.overdue_open, q.visits) == (4, 2, 3, 2, 2, 0, 0)
    assert q.completion_rate == 0.5 and q.on_time_rate == pytest.approx(2 / 3)
    assert q.avg_resolution_hours == pytest.approx(67200 / H)
    assert q.avg_first_response_hours == pytest.approx(2100 / H)
    assert q.satisfaction == 4.5
    # fengxi: accepted 3, closed 1 (3); resolved in M: 3 (on time); resolution 43200 s = 12 h;
    # first responses 3, 4, 5, 11: (600+7200+3600+86400)/4 = 24450 s; ratings 2, 3, 4 → 3.0;
    # overdue 4, 11 = 2; visits V2 = 1
    assert (f.accepted, f.closed, f.resolved, f.on_time, f.ratings, f.overdue_open, f.visits) == (3, 1, 1, 1, 3, 2, 1)
    assert f.completion_rate == pytest.approx(1 / 3) and f.on_time_rate == 1.0
    assert f.avg_resolution_hours == 12.0
    assert f.avg_first_response_hours == pytest.approx(24450 / H)
    assert f.satisfaction == 3.0
    # ws-evil: accepted 3, closed 1 (7); resolved in M: 15 (on time); resolution 14400 s = 4 h;
    # first responses 7, 15: (1800+2400)/2 = 2100 s; no ratings; overdue 8, 15 = 2; visits V1 = 1
    assert (w.accepted, w.closed, w.resolved, w.on_time, w.ratings, w.overdue_open, w.visits) == (3, 1, 1, 1, 0, 2, 1)
    assert w.name == EVIL
    assert w.avg_resolution_hours == 4.0
    assert w.avg_first_response_hours == pytest.approx(2100 / H)
    assert w.satisfaction is None


# ---- databases -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('monthly') / 'report.db'}"
    populate(url)
    yield url
    engine_for(url).dispose()


@pytest.fixture(scope="module")
def pg_url(pg_database):
    with pg_database(prepare=False) as url:
        populate(url)
        yield url


# ---- tests -----------------------------------------------------------------------------------------


def test_month_parsing():
    p = parse_month("2026-11")
    assert p.start_utc == utc("2026-10-31 16:00") and p.end_utc == utc("2026-11-30 16:00")
    assert parse_month("2026-12").end_utc == utc("2026-12-31 16:00")
    assert parse_month("2026-12").year_start_utc == utc("2025-12-31 16:00")
    for bad in ("2026-13", "2026-00", "2026/11", "26-11", "2026-1", "", "十一月"):
        with pytest.raises(ValueError) as exc:
            parse_month(bad)
        assert "月份" in str(exc.value)


def test_figures_sqlite(sqlite_url):
    check_figures(monthly_summary(sqlite_url, "2026-11"))


def test_figures_postgresql(pg_url):
    check_figures(monthly_summary(pg_url, "2026-11"))


def test_sqlite_and_postgresql_agree(sqlite_url, pg_url):
    a = monthly_summary(sqlite_url, "2026-11").to_dict()
    b = monthly_summary(pg_url, "2026-11").to_dict()
    a.pop("generated_at"), b.pop("generated_at")
    assert a == b


def test_empty_month_has_no_rates(sqlite_url):
    s = monthly_summary(sqlite_url, "2025-06")  # before every row of the fixture
    assert s.accepted == 0 and s.completion_rate is None and s.on_time_rate is None
    assert s.avg_first_response_hours is None and s.satisfaction.average is None
    assert s.knowledge.answer_rate is None and s.redeemed_amount == Decimal("0.00")
    assert len(s.categories) == 19 and all(c.accepted == 0 for c in s.categories)
    assert s.performance == [] and s.ytd_accepted == 0
    html = to_html(s)
    assert "本月没有节点发生服务活动" in html and "—" in html
    to_xlsx(s, io.BytesIO())
    # a later month without new tickets still shows the tickets that are open and overdue by its end
    # (taken after that end): every open ticket is past its deadline by then: 4, 8, 11, 12, 13, 15 = 6,
    # at qcy (12, 13), fengxi (4, 11), ws-evil (8, 15); 5 waits for the enterprise (待补充): its clock is paused
    later = monthly_summary(sqlite_url, "2027-03", now=utc("2027-04-02 00:00"))
    assert later.accepted == 0 and later.overdue_open == 6 and later.overdue_label == "月末超期在办"
    assert [(p.node_id, p.overdue_open) for p in later.performance] == [("qcy", 2), ("fengxi", 2), ("ws-evil", 2)]


def test_to_dict_is_json_friendly(sqlite_url):
    import json

    d = monthly_summary(sqlite_url, "2026-11").to_dict()
    again = json.loads(json.dumps(d, ensure_ascii=False))
    assert again["redeemed_amount"] == "210000.75"
    assert again["accepted"] == 11 and again["closed"] == 5
    assert again["satisfaction"]["levels"]["非常满意"] == 2
    assert len(again["categories"]) == 19 and len(again["contents"]) == 5
    assert [p["node_id"] for p in again["performance"]] == ["qcy", "fengxi", "ws-evil"]


def test_html(sqlite_url):
    html = to_html(monthly_summary(sqlite_url, "2026-11"))
    assert html.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in html
    # self-contained: no scripts, no external assets
    assert "<script" not in html.lower()
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html and "<link" not in html and "<img" not in html
    # the hostile node name is escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;工作站" in html
    # headline figures
    for text in (
        "受理",
        "11 件",
        "办结",
        "5 件",
        "办结率",
        "45.5%",
        "按时办结率",
        "83.3%",
        "满意度",
        "66.7%",
        "3.83 分",
        "入企服务",
        "2 次",
        "兑现金额",
        "¥210,000.75",
        "21.00 万元",
        "年度累计服务 16 件",
        "年度累计 3 次",
    ):
        assert text in html, text
    # working hours: resolution 13.2, first response 3.0
    assert "13.2 小时" in html and "3.0 小时" in html
    # charts: three inline SVGs; the category chart has 19 bars
    assert html.count("<svg") == 3
    cat_svg = html.split("<svg")[1].split("</svg>")[0]
    assert cat_svg.count("<rect") == 19
    for c in CATEGORIES:
        assert c.name in html
    # 绩效 table rows
    assert "秦创原综合服务中心" in html and "沣西新城服务中心" in html
    assert "4.50 分" in html and "3.00 分" in html
    assert "旧政策兑现专窗（已停用）" in html
    assert "@media print" in html


def test_xlsx(sqlite_url, tmp_path):
    from openpyxl import load_workbook

    s = monthly_summary(sqlite_url, "2026-11")
    path = tmp_path / "m.xlsx"
    to_xlsx(s, path)
    buf = io.BytesIO()
    to_xlsx(s, buf)  # also to a buffer
    assert buf.getvalue()[:2] == b"PK"
    wb = load_workbook(path)
    assert wb.sheetnames == ["概览", "需求分类", "服务内容", "服务节点", "绩效", "满意度", "绩效评分"]

    ov = {row[0].value: row[1] for row in wb["概览"].iter_rows(min_row=2)}
    assert ov["统计月份"].value == "2026-11"
    assert ov["受理（件）"].value == 11 and ov["办结（件）"].value == 5
    assert ov["办结率"].value == pytest.approx(5 / 11) and ov["办结率"].number_format == "0.0%"
    assert ov["按时办结率"].value == pytest.approx(5 / 6)
    assert ov["平均办结用时（工作小时）"].value == pytest.approx(47400 / H)
    assert ov["平均首次响应（工作小时）"].value == pytest.approx(10950 / H)
    assert ov["满意率"].value == pytest.approx(4 / 6)
    assert ov["平均评分"].value == pytest.approx(23 / 6)
    assert Decimal(str(ov["兑现金额（元）"].value)) == Decimal("210000.75")
    assert "¥" in ov["兑现金额（元）"].number_format
    assert ov["入企服务（次）"].value == 2 and ov["年度累计服务（件）"].value == 16
    assert ov["年度累计入企服务（次）"].value == 3
    assert ov["转人工（次）"].value == 4 and ov["转人工·机器人无法理解（次）"].value == 2
    assert ov["知识库解答率"].value == pytest.approx(4 / 6)
    assert ov["月末超期在办（件）"].value == 4

    ws = wb["需求分类"]
    header = [c.value for c in ws[1]]
    assert header[:4] == ["服务内容", "需求分类", "意图", "受理"]
    assert ws["A1"].font.bold and ws["A1"].fill.fgColor.rgb.endswith("1F4E79")
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 19
    assert [r[2] for r in rows] == [c.intent for c in CATEGORIES]
    by_intent = {r[2]: r for r in rows}
    assert by_intent["need_subsidy_redemption"][3:6] == (3, 3, 1)
    assert by_intent["need_project_application"][3] == 0 and by_intent["need_project_application"][5] is None
    assert ws["F5"].number_format == "0.0%"
    assert len(ws._charts) == 1 and type(ws._charts[0]).__name__ == "BarChart"

    assert [r[:3] for r in wb["服务内容"].iter_rows(min_row=2, values_only=True)] == [
        ("政策兑现", 4, 4),
        ("人才服务", 2, 0),
        ("科技金融", 1, 0),
        ("科技政务", 3, 1),
        ("协同赋能", 1, 0),
    ]
    nodes = {r[1]: r for r in wb["服务节点"].iter_rows(min_row=2, values_only=True)}
    assert nodes["ws-evil"][0] == EVIL and nodes["ws-evil"][4] == 3
    assert nodes["old"][3] == "否"

    perf = {r[1]: r for r in wb["绩效"].iter_rows(min_row=2, values_only=True)}
    assert list(perf) == ["qcy", "fengxi", "ws-evil"]
    # 受理, 办结, 办结率, 当月办结, 按时办结率, 首次响应 h, 办结用时 h, 评价数, 满意度, 超期, 入企
    q = perf["qcy"]
    assert q[3:8] == (4, 2, 0.5, 3, pytest.approx(2 / 3))
    assert q[8] == pytest.approx(2100 / H) and q[9] == pytest.approx(67200 / H)
    assert q[10:] == (2, 4.5, 0, 0)
    assert perf["fengxi"][10:] == (3, 3.0, 2, 1)
    assert perf["ws-evil"][11] is None and perf["ws-evil"][12] == 2
    assert wb["绩效"]["H2"].number_format == "0.0%" and wb["绩效"]["I2"].number_format == "0.0"

    sat = list(wb["满意度"].iter_rows(min_row=2, max_row=6, values_only=True))
    assert [(r[0], r[1], r[2]) for r in sat] == [
        ("非常满意", 5, 2),
        ("满意", 4, 2),
        ("一般", 3, 1),
        ("不满意", 2, 1),
        ("非常不满意", 1, 0),
    ]
    assert sat[0][3] == pytest.approx(2 / 6)


def test_text(sqlite_url):
    text = to_text(monthly_summary(sqlite_url, "2026-11"))
    assert "2026年11月 月总结" in text and "受理需求 11 件，办结 5 件，办结率 45.5%" in text
    assert "按时办结率 83.3%" in text and "¥210,000.75" in text


def _cli(*args, env_db=None):
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    if env_db:
        env["DATABASE_URL"] = env_db
    return subprocess.run(
        [sys.executable, "-m", "bot.reports", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_cli(sqlite_url, tmp_path):
    html, xlsx = tmp_path / "out" / "m.html", tmp_path / "out" / "m.xlsx"
    r = _cli("monthly", "--month", "2026-11", "--db", sqlite_url, "--html", str(html), "--xlsx", str(xlsx))
    assert r.returncode == 0, r.stderr
    assert "受理需求 11 件，办结 5 件，办结率 45.5%" in r.stdout
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>") and xlsx.stat().st_size > 0
    # DATABASE_URL is the default database
    r = _cli("monthly", "--month", "2026-11", env_db=sqlite_url)
    assert r.returncode == 0 and "办结 5 件" in r.stdout
    # a bad month is refused in Chinese
    r = _cli("monthly", "--month", "2026-13", "--db", sqlite_url)
    assert r.returncode == 2 and "月份" in r.stderr and "Traceback" not in r.stderr
    r = _cli("monthly", "--month", "11/2026", "--db", sqlite_url)
    assert r.returncode == 2 and "格式" in r.stderr
    # a database file that does not exist is reported, not created
    missing = tmp_path / "nowhere" / "none.db"
    r = _cli("monthly", "--month", "2026-11", "--db", f"sqlite:///{missing}")
    assert r.returncode == 1 and "数据库文件不存在" in r.stderr and not missing.parent.exists()
    # a database without the tables: a Chinese message, no traceback
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    r = _cli("monthly", "--month", "2026-11", "--db", f"sqlite:///{empty}")
    assert r.returncode == 1 and "数据库" in r.stderr and "Traceback" not in r.stderr


# ---- month to date: a deadline still in the future is never overdue --------------------------------
#
# December 2026 taken on 3 December 09:00 Beijing time (2026-12-03 01:00Z), the case: tickets whose
# deadlines fall later in the month are not 超期在办 yet.
#
#  id  node     status          due (UTC)            at 12-03 01:00Z           after the month (2027-01-02)
#  31  qcy      accepted        12-02 10:00          overdue                   overdue
#  32  fengxi   in_progress     12-03 00:30          overdue (08:30 Beijing)   overdue
#  33  fengxi   in_progress     12-03 02:00          not yet (10:00 today)     overdue
#  34  ws-evil  assigned        12-03 01:00          not yet (= the moment)    overdue
#  35  fengxi   awaiting_info   12-02 10:00          paused: no                paused: no
#  36  qcy      resolved        12-02 10:00          closed: no                closed: no
#  37–42 qcy/fengxi/ws-evil in_progress, due 12-05 … 12-30   not yet ×6          overdue ×6
#  43  qcy      in_progress     12-31 16:00 (= the month end)  no              no (not before the end)

DECEMBER = [
    ticket_row(31, "qcy", "need_policy_consult", "accepted", "2026-12-01 02:00", "2026-12-02 10:00"),
    ticket_row(
        32,
        "fengxi",
        "need_debt_financing",
        "in_progress",
        "2026-12-01 02:00",
        "2026-12-03 00:30",
        fr="2026-12-01 03:00",
        fr_w=3600,
    ),
    ticket_row(
        33,
        "fengxi",
        "need_debt_financing",
        "in_progress",
        "2026-12-01 02:00",
        "2026-12-03 02:00",
        fr="2026-12-01 03:00",
        fr_w=3600,
    ),
    ticket_row(34, "ws-evil", "need_recruitment", "assigned", "2026-12-01 02:00", "2026-12-03 01:00"),
    ticket_row(35, "fengxi", "need_recruitment", "awaiting_info", "2026-12-01 02:00", "2026-12-02 10:00"),
    ticket_row(
        36,
        "qcy",
        "need_policy_consult",
        "resolved",
        "2026-12-01 02:00",
        "2026-12-02 10:00",
        resolved="2026-12-02 02:00",
        res_w=7200,
    ),
    *[
        ticket_row(37 + i, node, "need_equity_investment", "in_progress", "2026-12-02 02:00", f"2026-12-{day} 10:00")
        for i, (node, day) in enumerate(
            [("qcy", "05"), ("qcy", "10"), ("fengxi", "15"), ("fengxi", "20"), ("ws-evil", "25"), ("ws-evil", "30")]
        )
    ],
    ticket_row(43, "qcy", "need_equity_investment", "in_progress", "2026-12-02 02:00", "2026-12-31 16:00"),
]


# Ratings in December: of ticket 36 (qcy) 5; of the staff service (on the handover, with or without a ticket):
# fengxi 2 (no ticket), the centre 4 (handover without a node → the centre), fengxi 3 (ticket 32), and one given
# on 30 November 23:00 Beijing (not December).  Satisfaction: 4 ratings, (5+2+4+3)/4 = 3.5, satisfied 5 and 4 = 2;
# qcy 2 ratings (5, 4) → 4.5, fengxi 2 (2, 3) → 2.5, ws-evil none.
DECEMBER_RATINGS = [dict(ticket_id=36, score=5, created_at=utc("2026-12-02 03:00"))]
DECEMBER_HANDOVERS = [
    dict(
        conversation_id="d1",
        reason="request_human",
        node_id="fengxi",
        created_at=utc("2026-12-01 02:00"),
        rating=2,
        rated_at=utc("2026-12-01 03:00"),
    ),
    dict(
        conversation_id="d2",
        reason="fallback",
        node_id=None,
        created_at=utc("2026-12-01 02:00"),
        rating=4,
        rated_at=utc("2026-12-01 04:00"),
    ),
    dict(
        conversation_id="d3",
        reason="request_human",
        node_id="fengxi",
        ticket_id=32,
        created_at=utc("2026-12-02 02:00"),
        rating=3,
        rated_at=utc("2026-12-02 03:00"),
    ),
    dict(
        conversation_id="d4",
        reason="request_human",
        node_id="ws-evil",
        created_at=utc("2026-11-30 14:00"),
        rating=5,
        rated_at=utc("2026-11-30 15:00"),
    ),
    dict(conversation_id="d5", reason="complaint", node_id="ws-evil", created_at=utc("2026-12-02 02:00")),  # unrated
]


def populate_december(url: str) -> None:
    migrate(url)
    with engine_for(url).begin() as conn:
        for node in NODES:
            conn.execute(insert(ServiceNode).values(**node))
        conn.execute(
            insert(Enterprise),
            [
                dict(id=1, name="西咸光子科技有限公司", created_at=utc("2026-01-01 00:00")),
                dict(id=2, name="秦汉智造有限公司", created_at=utc("2026-01-01 00:00")),
            ],
        )
        conn.execute(insert(Ticket), DECEMBER)
        conn.execute(insert(Rating), DECEMBER_RATINGS)
        for h in DECEMBER_HANDOVERS:
            conn.execute(insert(Handover).values(**h))


def check_december(url: str) -> None:
    on_the_3rd = monthly_summary(url, "2026-12", now=utc("2026-12-03 01:00"))
    assert on_the_3rd.month_to_date and on_the_3rd.overdue_open == 2  # 31, 32
    assert on_the_3rd.overdue_label == "截至12月3日 09:00 超期在办"
    assert {p.node_id: p.overdue_open for p in on_the_3rd.performance} == {"qcy": 1, "fengxi": 1, "ws-evil": 0}
    assert "截至12月3日 09:00 超期在办 2 件" in to_text(on_the_3rd)
    assert "截至12月3日 09:00 超期在办" in to_html(on_the_3rd) and "月末超期在办</" not in to_html(on_the_3rd)
    assert on_the_3rd.to_dict()["overdue_label"] == "截至12月3日 09:00 超期在办"
    after = monthly_summary(url, "2026-12", now=utc("2027-01-02 01:00"))
    assert not after.month_to_date and after.overdue_open == 10  # 31–34, 37–42
    assert {p.node_id: p.overdue_open for p in after.performance} == {"qcy": 3, "fengxi": 4, "ws-evil": 3}
    with pytest.raises(ValueError):
        monthly_summary(url, "2026-12", now=datetime(2026, 12, 3, 9))  # no zone: refused

    sat = on_the_3rd.satisfaction  # staff-service ratings count in 满意度 and 绩效
    assert (sat.count, sat.service_count, sat.score_sum, sat.satisfied) == (4, 3, 14, 2)
    assert sat.average == pytest.approx(3.5) and sat.satisfied_share == pytest.approx(0.5)
    assert sat.levels == {"非常满意": 1, "满意": 1, "一般": 1, "不满意": 1, "非常不满意": 0}
    perf = {p.node_id: (p.ratings, p.service_ratings, p.satisfaction) for p in on_the_3rd.performance}
    assert perf == {"qcy": (2, 1, pytest.approx(4.5)), "fengxi": (2, 2, pytest.approx(2.5)), "ws-evil": (0, 0, None)}
    assert "评价 4 条（其中人工服务评价 3 条）" in to_text(on_the_3rd)
    assert on_the_3rd.to_dict()["satisfaction"]["service_ratings"] == 3


def test_month_to_date_counts_only_deadlines_already_passed_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'december.db'}"
    populate_december(url)
    check_december(url)
    engine_for(url).dispose()


def test_month_to_date_counts_only_deadlines_already_passed_postgresql(pg_database):
    with pg_database(prepare=False) as url:
        populate_december(url)
        check_december(url)
