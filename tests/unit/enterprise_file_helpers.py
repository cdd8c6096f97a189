"""Three enterprises on a desk's database and the staff of four nodes, for the tests of 一企一档 and of the pages
that build on it: tests/unit/test_enterprise_file.py, test_visits_console.py and the browser's
tests/browser/test_enterprise_pages.py and test_visits_page.py.

Those imported this from test_enterprise_file.py (some through sys.path), which tied test files to each other (test
modules don't import each other); it lives here once.

- `populate(db)`: 甲 (`JIA`) at 沣西's 信息 park (home node the xinxi workstation) with a resolved ticket at 沣东 after
  a transfer and an open one at the workstation, a contact and a rating; 乙 (`YI`) of 沣东 with no ticket; 丙
  (`BING`) with no place (the centre) and a ticket at 沣西; staff `centre_lead`, `fengxi_lead`, `xinxi_staff` and
  `fengdong_staff`, who sign in with tests.unit.desk_helpers.PASSWORD;
- `MOMENT`: 2026-11-25 15:00 Beijing time, when the enterprises were registered (the console's clock in the tests);
- `FORM`: 甲's profile form as the file page fills it in.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from bot.db import engine_for
from bot.db.schema import Contact, Enterprise, Rating, Ticket
from bot.taxonomy import BY_INTENT
from tests.unit.desk_helpers import add_staff

CST = ZoneInfo("Asia/Shanghai")
MOMENT = datetime(2026, 11, 25, 15, 0, tzinfo=CST)
JIA, YI, BING = "沣西甲光电科技有限公司", "沣东乙材料有限公司", "丙数据服务有限公司"


def _ticket(conn, tid: int, eid: int, node: str, category: str, status: str = "accepted", amount=None):
    created = MOMENT - timedelta(days=3)
    conn.execute(
        insert(Ticket).values(
            id=tid,
            number=f"QCY-20261122-{tid:04d}",
            enterprise_id=eid,
            contact_id=None,
            category=category,
            service_content=BY_INTENT[category].content,
            node_id=node,
            status=status,
            description=f"需求描述{tid}",
            source_channel="web",
            created_at=created,
            first_response_due=created + timedelta(hours=2),
            resolution_due=created + timedelta(days=5),
            resolved_at=created + timedelta(days=1) if status == "resolved" else None,
            redeemed_amount=amount,
            paused_working_seconds=0,
            escalation_level=0,
            priority="normal",
            updated_at=created,
        )
    )


def populate(db: str) -> None:
    with engine_for(db).begin() as conn:
        conn.execute(
            insert(Enterprise).values(
                id=1,
                name=JIA,
                credit_code=None,
                new_city="沣西",
                park="信息产业园",
                created_at=MOMENT,
                certifications=",hightech,",
                industry="光电",
                employees=60,
            )
        )
        conn.execute(
            insert(Enterprise).values(id=2, name=YI, new_city="沣东", created_at=MOMENT, certifications=",tech_sme,")
        )
        conn.execute(insert(Enterprise).values(id=3, name=BING, created_at=MOMENT))
        conn.execute(
            insert(Contact).values(id=1, enterprise_id=1, name="李春梅", mobile="13811112222", created_at=MOMENT)
        )
        _ticket(conn, 1, 1, "fengdong", "need_space", "resolved", Decimal("120000.50"))
        _ticket(conn, 2, 1, "fengxi-ws-xinxi", "need_recruitment")
        _ticket(conn, 3, 3, "fengxi", "need_equity_investment")
        conn.execute(insert(Rating).values(ticket_id=1, score=5, created_at=MOMENT))
        if conn.dialect.name == "postgresql":  # rows inserted with explicit ids: move the sequences on
            for table in ("enterprises", "contacts", "tickets"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
    add_staff(db, "centre_lead", "中心负责人", "centre", "lead")
    add_staff(db, "fengxi_lead", "沣西负责人", "fengxi", "lead")
    add_staff(db, "xinxi_staff", "工作站专员", "fengxi-ws-xinxi")
    add_staff(db, "fengdong_staff", "沣东专员", "fengdong")


FORM = {
    "name": JIA,
    "credit_code": "",
    "new_city": "沣西",
    "park": "信息产业园",
    "industry": "光电",
    "address": "",
    "registered_on": "",
    "employees": "60",
    "tech_staff": "",
    "revenue": "",
    "rd_expense": "",
    "notes": "",
}
