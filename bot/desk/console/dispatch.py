"""日调度 in the console: the dispatch list of the staff member's nodes, as HTML (template console/dispatch.html).

The list itself — which tickets, under which heading — is bot/reports/dispatch.py's, the same
that the scheduler sends at 08:30 and ``make dispatch`` prints (rules: docs/dispatch.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from markupsafe import Markup

from bot.desk import pages
from bot.reports import dispatch as dp
from bot.tickets.sla import SlaPolicy


def dispatch_lists(db_url: str, node_ids: Optional[set], now: datetime, sla: Optional[SlaPolicy] = None) -> dp.Dispatch:
    """The lists at `now` for `node_ids` (None: every node)."""
    return dp.dispatch(db_url, now, node_ids=node_ids, sla=sla)


def due_items(d: dp.Dispatch) -> list[tuple[str, dp.DispatchTicket]]:
    """Overdue, then due today, over every node (the queue page's table)."""
    return [(dp.OVERDUE, t) for n in d.nodes for t in n.overdue] + [
        (dp.DUE_TODAY, t) for n in d.nodes for t in n.due_today
    ]


def totals(d: dp.Dispatch) -> tuple[int, int, int]:
    """(new, due today, overdue) over every node."""
    n = d.totals()
    return n.get("new_total", 0), n.get(dp.DUE_TODAY, 0), n.get(dp.OVERDUE, 0)


def dispatch_html(d: dp.Dispatch) -> Markup:
    """The lists of the nodes with something to dispatch (template console/dispatch.html), for the reports page."""
    shown = [n for n in d.nodes if not n.empty]
    tz = d.moment.tzinfo

    def summary(counts: dict) -> str:
        return " · ".join(f"{label.split('（')[0]} {counts[kind]}" for kind, label in dp.SECTIONS)

    return Markup(
        pages.render(
            "console/dispatch.html",
            shown=shown,
            hidden=len(d.nodes) - len(shown),
            tz=tz,
            since=d.since.astimezone(tz),
            day=d.day,
            summary=summary,
            NEW=dp.NEW,
            VISITS_HEADING=dp.VISITS_HEADING,
            visit_time=dp.visit_time,
        )
    )
