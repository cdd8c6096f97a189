"""The monthly report's hand-made month (2026-11 in Beijing time), for the tests that check figures against numbers
worked out by hand: 月总结 (tests/unit/test_monthly_report.py) and the live figures and 绩效 scorecard
(tests/unit/test_figures.py).

test_figures.py imported it from test_monthly_report.py (through sys.path), which tied the two test files together
(test modules don't import each other); it lives here once. The expected figures stay with the tests.

- `populate(url)`: migrates the database at `url` and inserts the month below (nodes, two enterprises, tickets,
  visits, ratings, handovers, knowledge-base questions);
- `utc(text)`: '2026-11-02 02:00' as an aware UTC datetime; `ticket_row(...)`: one ticket's row, as in the table;
- `NODES`, `EVIL` (a workstation's hostile name), `TICKETS`, `VISITS`, `RATINGS`, `HANDOVERS`, `KB`: the rows.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import insert

from bot.db import engine_for, migrate
from bot.db.schema import Enterprise, Handover, KbQuery, Rating, ServiceNode, Ticket, Visit
from bot.taxonomy import CATEGORIES

EVIL = "<script>alert(1)</script>工作站"


def utc(text: str) -> datetime:
    """'2026-11-02 02:00' → aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


# ---- the fixture -----------------------------------------------------------------------------------
#
# Nodes: qcy (centre), fengxi (new city), ws-evil (workstation with a hostile name),
# konggang (new city, no activity at all), old (special window, inactive, one ticket).
#
#  id node     category                    status         created (UTC)       first response (UTC, wsecs)   resolved (UTC)     due (UTC)          res wsecs  amount      visit
#   1 qcy      need_policy_consult         rated          11-02 02:00  M      11-02 03:00 M  3600           11-03 02:00 M      11-05 10:00 ok     28800      -
#   2 qcy      need_subsidy_redemption     resolved       11-05 01:00  M      11-05 01:30 M  1800           11-10 08:00 M      11-09 10:00 LATE  100800      120000.50
#   3 fengxi   need_subsidy_redemption     rated          11-10 02:00  M      11-10 02:10 M   600           11-12 06:00 M      11-20 10:00 ok     43200      80000.25
#   4 fengxi   need_debt_financing         in_progress    11-12 03:00  M      11-12 05:00 M  7200           -                  11-20 10:00 (overdue open)
#   5 fengxi   need_recruitment            awaiting_info  11-20 02:00  M      11-20 03:00 M  3600           -                  12-05 10:00                             V2
#   6 qcy      need_permits                cannot_handle  11-15 02:00  M      11-15 02:15 M   900           -                  11-25 10:00 (not open)
#   7 ws-evil  need_intellectual_property  resolved       11-25 02:00  M      11-25 02:30 M  1800           12-02 02:00 M+1    12-01 10:00        50000      999.99
#   8 ws-evil  need_tech_transfer          accepted       10-31 17:00 = 11-01 01:00 Beijing, M   -          -                  11-06 10:00 (overdue open)              V1
#   9 qcy      need_policy_consult         rated          10-31 15:30 = 10-31 23:30 Beijing, M-1  10-31 15:45 (M-1) 900  11-04 03:00 M  11-05 10:00 ok 72000  -
#  10 fengxi   need_qualification          rated          10-10 02:00  M-1    10-10 03:00 M-1 600           10-20 02:00 M-1    10-25 10:00        9000       30000.00   (followup)
#  11 fengxi   need_listing                in_progress    10-20 02:00  M-1    11-01 02:00 M  86400          -                  10-30 10:00 (overdue open)
#  12 qcy      need_space                  accepted       11-30 15:59 = 11-30 23:59 Beijing, M  -           -                  12-07 10:00
#  13 qcy      need_space                  accepted       11-30 16:00 = 12-01 00:00 Beijing, M+1  -         -                  11-30 16:00 (= month end: not overdue)
#  14 old      need_subsidy_redemption     resolved       11-08 02:00  M      11-08 02:20 M  1200           11-09 09:00 M      11-09 10:00 ok     25200      10000.00
#  15 ws-evil  need_talent_living          in_progress*   11-18 02:00  M      11-18 03:00 M  2400           11-19 06:00 M      11-25 10:00 ok     14400      -
#      (* reopened after resolution: resolved_at kept, status open → not 办结, but resolved in M, and overdue open)
#  16 fengxi   need_market_expansion       resolved       01-15 02:00 2026    01-15 03:00    600            01-20 02:00        01-25 10:00        3600       -          V4
#  17 qcy      need_training               resolved       2025-12-31 17:00 = 2026-01-01 01:00 Beijing (YTD)   2026-01-05 02:00   2026-01-10         3600
#  18 qcy      need_training               resolved       2025-12-31 15:00 = 2025-12-31 23:00 Beijing (not YTD) 2026-01-05 02:00  2026-01-10         3600
#  Tickets 2 and 10 have followup_required; so has 3.

NODES = [
    dict(id="qcy", name="秦创原综合服务中心", kind="centre", active=True),
    dict(id="fengxi", name="沣西新城服务中心", kind="new_city", parent_id="qcy", new_city="沣西", active=True),
    dict(id="konggang", name="空港新城服务中心", kind="new_city", parent_id="qcy", new_city="空港", active=True),
    dict(id="ws-evil", name=EVIL, kind="workstation", parent_id="fengxi", new_city="沣西", active=True),
    dict(id="old", name="旧政策兑现专窗", kind="special_window", level="区", active=False),
]


def ticket_row(
    id,
    node,
    category,
    status,
    created,
    due,
    *,
    fr=None,
    fr_w=None,
    resolved=None,
    res_w=None,
    amount=None,
    visit=None,
    followup=False,
):
    cat = next(c for c in CATEGORIES if c.intent == category)
    return dict(
        id=id,
        number=f"QCY-T-{id:04d}",
        enterprise_id=1 + id % 2,
        category=category,
        service_content=cat.content,
        node_id=node,
        status=status,
        description=f"测试工单 {id}",
        created_at=utc(created),
        first_response_due=utc(created),
        first_response_at=utc(fr) if fr else None,
        first_response_wsecs=fr_w,
        resolution_due=utc(due),
        resolved_at=utc(resolved) if resolved else None,
        resolution_wsecs=res_w,
        redeemed_amount=Decimal(amount) if amount else None,
        visit_id=visit,
        followup_required=followup,
        reason="不属于本窗口职能" if status == "cannot_handle" else None,
        paused_working_seconds=0,
        escalation_level=0,
        priority="normal",
        source_channel="web",
        updated_at=utc(created),
    )


TICKETS = [
    ticket_row(
        1,
        "qcy",
        "need_policy_consult",
        "rated",
        "2026-11-02 02:00",
        "2026-11-05 10:00",
        fr="2026-11-02 03:00",
        fr_w=3600,
        resolved="2026-11-03 02:00",
        res_w=28800,
    ),
    ticket_row(
        2,
        "qcy",
        "need_subsidy_redemption",
        "resolved",
        "2026-11-05 01:00",
        "2026-11-09 10:00",
        fr="2026-11-05 01:30",
        fr_w=1800,
        resolved="2026-11-10 08:00",
        res_w=100800,
        amount="120000.50",
        followup=True,
    ),
    ticket_row(
        3,
        "fengxi",
        "need_subsidy_redemption",
        "rated",
        "2026-11-10 02:00",
        "2026-11-20 10:00",
        fr="2026-11-10 02:10",
        fr_w=600,
        resolved="2026-11-12 06:00",
        res_w=43200,
        amount="80000.25",
        followup=True,
    ),
    ticket_row(
        4,
        "fengxi",
        "need_debt_financing",
        "in_progress",
        "2026-11-12 03:00",
        "2026-11-20 10:00",
        fr="2026-11-12 05:00",
        fr_w=7200,
    ),
    ticket_row(
        5,
        "fengxi",
        "need_recruitment",
        "awaiting_info",
        "2026-11-20 02:00",
        "2026-12-05 10:00",
        fr="2026-11-20 03:00",
        fr_w=3600,
        visit=2,
    ),
    ticket_row(
        6,
        "qcy",
        "need_permits",
        "cannot_handle",
        "2026-11-15 02:00",
        "2026-11-25 10:00",
        fr="2026-11-15 02:15",
        fr_w=900,
    ),
    ticket_row(
        7,
        "ws-evil",
        "need_intellectual_property",
        "resolved",
        "2026-11-25 02:00",
        "2026-12-01 10:00",
        fr="2026-11-25 02:30",
        fr_w=1800,
        resolved="2026-12-02 02:00",
        res_w=50000,
        amount="999.99",
    ),
    ticket_row(8, "ws-evil", "need_tech_transfer", "accepted", "2026-10-31 17:00", "2026-11-06 10:00", visit=1),
    ticket_row(
        9,
        "qcy",
        "need_policy_consult",
        "rated",
        "2026-10-31 15:30",
        "2026-11-05 10:00",
        fr="2026-10-31 15:45",
        fr_w=900,
        resolved="2026-11-04 03:00",
        res_w=72000,
    ),
    ticket_row(
        10,
        "fengxi",
        "need_qualification",
        "rated",
        "2026-10-10 02:00",
        "2026-10-25 10:00",
        fr="2026-10-10 03:00",
        fr_w=600,
        resolved="2026-10-20 02:00",
        res_w=9000,
        amount="30000.00",
        followup=True,
    ),
    ticket_row(
        11,
        "fengxi",
        "need_listing",
        "in_progress",
        "2026-10-20 02:00",
        "2026-10-30 10:00",
        fr="2026-11-01 02:00",
        fr_w=86400,
    ),
    ticket_row(12, "qcy", "need_space", "accepted", "2026-11-30 15:59", "2026-12-07 10:00"),
    ticket_row(13, "qcy", "need_space", "accepted", "2026-11-30 16:00", "2026-11-30 16:00"),
    ticket_row(
        14,
        "old",
        "need_subsidy_redemption",
        "resolved",
        "2026-11-08 02:00",
        "2026-11-09 10:00",
        fr="2026-11-08 02:20",
        fr_w=1200,
        resolved="2026-11-09 09:00",
        res_w=25200,
        amount="10000.00",
    ),
    ticket_row(
        15,
        "ws-evil",
        "need_talent_living",
        "in_progress",
        "2026-11-18 02:00",
        "2026-11-25 10:00",
        fr="2026-11-18 03:00",
        fr_w=2400,
        resolved="2026-11-19 06:00",
        res_w=14400,
    ),
    ticket_row(
        16,
        "fengxi",
        "need_market_expansion",
        "resolved",
        "2026-01-15 02:00",
        "2026-01-25 10:00",
        fr="2026-01-15 03:00",
        fr_w=600,
        resolved="2026-01-20 02:00",
        res_w=3600,
        visit=4,
    ),
    ticket_row(
        17,
        "qcy",
        "need_training",
        "resolved",
        "2025-12-31 17:00",
        "2026-01-10 10:00",
        resolved="2026-01-05 02:00",
        res_w=3600,
    ),
    ticket_row(
        18,
        "qcy",
        "need_training",
        "resolved",
        "2025-12-31 15:00",
        "2026-01-10 10:00",
        resolved="2026-01-05 02:00",
        res_w=3600,
    ),
]

VISITS = [
    dict(id=1, enterprise_id=1, node_id="ws-evil", visited_at=utc("2026-11-01 01:00")),  # M
    dict(id=2, enterprise_id=2, node_id="fengxi", visited_at=utc("2026-10-31 16:30")),  # 11-01 00:30 Beijing: M
    dict(id=3, enterprise_id=1, node_id="qcy", visited_at=utc("2026-11-30 16:00")),  # 12-01 00:00 Beijing: M+1
    dict(id=4, enterprise_id=2, node_id="qcy", visited_at=utc("2026-03-10 02:00")),  # YTD only
    dict(id=5, enterprise_id=1, node_id="qcy", visited_at=utc("2025-12-20 02:00")),  # last year
]

RATINGS = [
    dict(ticket_id=1, score=5, created_at=utc("2026-11-04 02:00")),  # M, qcy
    dict(ticket_id=9, score=4, created_at=utc("2026-11-05 02:00")),  # M, qcy
    dict(ticket_id=10, score=2, created_at=utc("2026-11-02 02:00")),  # M, fengxi, followup
    dict(ticket_id=10, score=3, created_at=utc("2026-10-25 02:00")),  # M-1
    dict(ticket_id=2, score=1, created_at=utc("2026-11-30 16:30")),  # 12-01 Beijing: M+1 (ticket 2 followup)
    dict(ticket_id=3, score=3, created_at=utc("2026-11-15 02:00")),  # M, fengxi, followup
    dict(ticket_id=3, score=4, created_at=utc("2026-11-16 02:00")),  # M, fengxi, same ticket again
    dict(ticket_id=14, score=5, created_at=utc("2026-11-10 02:00")),  # M, old (inactive)
]

HANDOVERS = [
    dict(conversation_id="c1", reason="request_human", created_at=utc("2026-11-03 02:00")),
    dict(conversation_id="c2", reason="fallback", created_at=utc("2026-11-10 02:00")),
    dict(conversation_id="c3", reason="fallback", created_at=utc("2026-11-20 02:00")),
    dict(conversation_id="c4", reason="complaint", created_at=utc("2026-10-31 16:00")),  # exactly the start: in
    dict(conversation_id="c5", reason="staff_only", created_at=utc("2026-11-30 16:00")),  # exactly the end: out
    dict(conversation_id="c6", reason="request_human", created_at=utc("2026-10-15 02:00")),  # M-1
]


def _kb(n, at, decision, helpful):
    return dict(id=n, asked_at=utc(at), conversation_id=f"kb{n}", text=f"问题{n}", decision=decision, helpful=helpful)


KB = [
    _kb(1, "2026-11-02 02:00", "answer", True),
    _kb(2, "2026-11-03 02:00", "answer", False),
    _kb(3, "2026-11-04 02:00", "answer", None),
    _kb(4, "2026-11-05 02:00", "options", None),
    _kb(5, "2026-11-06 02:00", "unknown", None),
    _kb(6, "2026-11-07 02:00", "answer", True),
    _kb(7, "2026-10-31 15:00", "answer", True),  # 10-31 23:00 Beijing: M-1
    _kb(8, "2026-12-01 02:00", "answer", True),  # M+1
]


def populate(url: str) -> None:
    migrate(url)
    with engine_for(url).begin() as conn:
        for node in NODES:  # parents first
            conn.execute(insert(ServiceNode).values(**node))
        conn.execute(
            insert(Enterprise),
            [
                dict(id=1, name="西咸光子科技有限公司", created_at=utc("2026-01-01 00:00")),
                dict(id=2, name="秦汉智造有限公司", created_at=utc("2026-01-01 00:00")),
            ],
        )
        conn.execute(insert(Visit), VISITS)
        conn.execute(insert(Ticket), TICKETS)
        conn.execute(insert(Rating), RATINGS)
        conn.execute(insert(Handover), HANDOVERS)
        conn.execute(insert(KbQuery), KB)
