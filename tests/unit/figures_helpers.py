"""Four tickets at four nodes of the real service network, for the tests of /figures, /api/figures and the
console's 数据看板: on a desk in-process (tests/unit/test_figures_web.py), on a desk of its own
(tests/e2e/test_figures_desk.py) and in a browser (tests/browser/test_figures_page.py).

Those imported this from test_figures_web.py (through sys.path), which tied test files to each other (test modules
don't import each other); it lives here once.

- `populate(db, moment=MOMENT)`: one enterprise with a contact, and a ticket created five hours before `moment` at
  each of `NODES` (the centre, 沣西, its xinxi workstation, 沣东); staff `centre_lead`, `fengxi_lead` and
  `xinxi_staff`, who sign in with tests.unit.desk_helpers.PASSWORD;
- `MOMENT`: 2026-11-25 15:00 Beijing time; `SECRETS`: the contact's name and mobile, the enterprise's name and the
  tickets' text, which no public figure may show.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from bot.db import engine_for
from bot.db.schema import Contact, Enterprise, Ticket
from bot.taxonomy import BY_INTENT
from tests.unit.desk_helpers import add_staff

CST = ZoneInfo("Asia/Shanghai")
MOMENT = datetime(2026, 11, 25, 15, 0, tzinfo=CST)
SECRETS = ("李春梅", "13811112222", "沣西测试光电有限公司", "需要对接天使投资")
NODES = {
    "centre": "need_policy_consult",
    "fengxi": "need_equity_investment",
    "fengxi-ws-xinxi": "need_recruitment",
    "fengdong": "need_space",
}


def populate(db: str, moment: datetime = MOMENT) -> None:
    """The four tickets, created five hours before `moment` (the browser tests use the real clock)."""
    with engine_for(db).begin() as conn:
        conn.execute(insert(Enterprise).values(id=1, name=SECRETS[2], created_at=moment))
        conn.execute(
            insert(Contact).values(id=1, enterprise_id=1, name=SECRETS[0], mobile=SECRETS[1], created_at=moment)
        )
        for i, (node, category) in enumerate(NODES.items(), start=1):
            created = moment - timedelta(hours=5)
            conn.execute(
                insert(Ticket).values(
                    id=i,
                    number=f"QCY-20261125-{i:04d}",
                    enterprise_id=1,
                    contact_id=1,
                    category=category,
                    service_content=BY_INTENT[category].content,
                    node_id=node,
                    status="accepted",
                    description=f"{SECRETS[3]}（{i}）",
                    source_channel="web",
                    created_at=created,
                    first_response_due=created + timedelta(hours=2),
                    resolution_due=created + (timedelta(hours=1) if node == "fengxi" else timedelta(days=5)),
                    paused_working_seconds=0,
                    escalation_level=0,
                    priority="normal",
                    updated_at=created,
                )
            )
    add_staff(db, "centre_lead", "中心负责人", "centre", "lead")
    add_staff(db, "fengxi_lead", "沣西负责人", "fengxi", "lead")
    add_staff(db, "xinxi_staff", "工作站专员", "fengxi-ws-xinxi")
