"""The list of enterprises in a member of staff's scope, filtered and paged, and its xlsx export.

Filters: `node` (enterprises belonging to that node, see the package docstring — it must be in the scope),
`category` (with at least one ticket of that need category), `open_only` (with a ticket still open),
`cert` (holding that certification), `q` (name or credit code contains). The export takes the same
filters and the same scope and writes every matching row (up to EXPORT_LIMIT).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Optional

from sqlalchemy import case, func, or_, select

from bot import clock
from bot.db import read_sessions
from bot.db.schema import Contact, Enterprise, Ticket, Visit
from bot.enterprises import profile as pf
from bot.enterprises.membership import all_enterprise_nodes, enterprise_nodes, home_node, visible
from bot.text import normalise
from bot.tickets import lifecycle as lc

PAGE = 50
EXPORT_LIMIT = 20000


@dataclass
class Filters:
    node: str = ""
    category: str = ""
    open_only: bool = False
    cert: str = ""
    q: str = ""

    def query(self) -> dict:
        return {
            "node": self.node,
            "category": self.category,
            "open": "1" if self.open_only else "",
            "cert": self.cert,
            "q": self.q,
        }


@dataclass
class EnterpriseRow:
    id: int
    name: str
    credit_code: Optional[str]
    new_city: Optional[str]
    park: Optional[str]
    industry: Optional[str]
    employees: Optional[int]
    tech_staff: Optional[int]
    revenue: Optional[Decimal]
    certifications: Optional[str]
    home_node: str
    nodes: set[str]
    tickets: int = 0
    open_tickets: int = 0
    visits: int = 0
    last_visit: Optional[datetime] = None
    redeemed: Decimal = Decimal("0.00")
    contacts: list[str] = field(default_factory=list)


def _aware(dt):
    return dt.replace(tzinfo=timezone.utc) if dt is not None and dt.tzinfo is None else dt


def _matching(s, scope: Optional[set], f: Filters) -> list[int]:
    """Ids of the enterprises in scope passing the filters, by name."""
    q = select(Enterprise.id, Enterprise.name)
    if f.q:
        like = f"%{f.q}%"
        q = q.where(
            or_(
                Enterprise.name.like(like),
                Enterprise.name.like(f"%{normalise(f.q)}%"),
                Enterprise.credit_code.like(like.upper()),
            )
        )
    if f.cert:
        q = q.where(Enterprise.certifications.like(f"%,{f.cert},%"))
    if f.category:
        q = q.where(Enterprise.id.in_(select(Ticket.enterprise_id).where(Ticket.category == f.category)))
    if f.open_only:
        q = q.where(Enterprise.id.in_(select(Ticket.enterprise_id).where(Ticket.status.in_(sorted(lc.OPEN_STATES)))))
    candidates = s.execute(q.order_by(Enterprise.name, Enterprise.id)).all()
    if scope is None and not f.node:
        return [i for i, _ in candidates]
    nodes = all_enterprise_nodes(s)
    out = []
    for eid, _ in candidates:
        mine = nodes.get(eid, set())
        if not visible(mine, scope):
            continue
        if f.node and f.node not in mine:
            continue
        out.append(eid)
    return out


def _rows(s, ids: list[int]) -> list[EnterpriseRow]:
    if not ids:
        return []

    nodes = enterprise_nodes(s, ids)
    ents = {e.id: e for e in s.scalars(select(Enterprise).where(Enterprise.id.in_(ids)))}
    rows = {
        i: EnterpriseRow(
            i,
            ents[i].name,
            ents[i].credit_code,
            ents[i].new_city,
            ents[i].park,
            ents[i].industry,
            ents[i].employees,
            ents[i].tech_staff,
            ents[i].revenue,
            ents[i].certifications,
            home_node(ents[i].new_city, ents[i].park),
            nodes.get(i, set()),
        )
        for i in ids
    }
    open_states = sorted(lc.OPEN_STATES)
    for eid, n, n_open, amount in s.execute(
        select(
            Ticket.enterprise_id,
            func.count(),
            func.sum(case((Ticket.status.in_(open_states), 1), else_=0)),
            func.sum(Ticket.redeemed_amount),
        )
        .where(Ticket.enterprise_id.in_(ids))
        .group_by(Ticket.enterprise_id)
    ):
        r = rows[eid]
        r.tickets, r.open_tickets = int(n or 0), int(n_open or 0)
        r.redeemed = Decimal(amount or 0).quantize(Decimal("0.01"))
    for eid, n, last in s.execute(
        select(Visit.enterprise_id, func.count(), func.max(Visit.visited_at))
        .where(Visit.enterprise_id.in_(ids))
        .group_by(Visit.enterprise_id)
    ):
        rows[eid].visits, rows[eid].last_visit = int(n or 0), _aware(last)
    for eid, name, mobile in s.execute(
        select(Contact.enterprise_id, Contact.name, Contact.mobile)
        .where(Contact.enterprise_id.in_(ids))
        .order_by(Contact.verified_at.is_(None), Contact.id.desc())
    ):
        label = f"{name} {mobile}" if mobile else name
        if label not in rows[eid].contacts and len(rows[eid].contacts) < 3:
            rows[eid].contacts.append(label)
    return [rows[i] for i in ids]


def page(
    db_url: str, scope: Optional[set], f: Filters, number: int = 1, per_page: int = PAGE
) -> tuple[list[EnterpriseRow], int]:
    """(rows of page `number`, total matching)."""
    with read_sessions(db_url)() as s:
        ids = _matching(s, scope, f)
        start = (max(1, number) - 1) * per_page
        return _rows(s, ids[start : start + per_page]), len(ids)


def export_rows(db_url: str, scope: Optional[set], f: Filters) -> list[EnterpriseRow]:
    with read_sessions(db_url)() as s:
        ids = _matching(s, scope, f)[:EXPORT_LIMIT]
        out = []
        for i in range(0, len(ids), 500):
            out.extend(_rows(s, ids[i : i + 500]))
        return out


HEADERS = (
    "企业名称",
    "统一社会信用代码",
    "所在新城",
    "所在园区",
    "属地节点",
    "服务节点",
    "所属行业",
    "职工人数",
    "科技人员数",
    "上年营业收入（元）",
    "资质认定",
    "联系人",
    "工单数",
    "在办工单",
    "入企服务次数",
    "最近走访",
    "兑现金额（元）",
)


def to_xlsx(rows: list[EnterpriseRow], node_names: dict, title: str, now: datetime) -> bytes:
    """The rows as an xlsx workbook (one sheet, a title line, headers, frozen header row)."""
    from openpyxl import Workbook  # lazy: openpyxl adds 0.2 s; only the Excel export needs it
    from openpyxl.styles import Font  # lazy: openpyxl, as above

    wb = Workbook()
    ws = wb.active
    ws.title = "企业档案"
    ws.append([f"{title}（导出时间 {clock.local(now):%Y-%m-%d %H:%M}，共 {len(rows)} 家）"])
    ws["A1"].font = Font(bold=True)
    ws.append(list(HEADERS))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for r in rows:
        ws.append(
            [
                r.name,
                r.credit_code or "",
                r.new_city or "",
                r.park or "",
                node_names.get(r.home_node, r.home_node),
                "、".join(sorted(node_names.get(n, n) for n in r.nodes)),
                r.industry or "",
                r.employees,
                r.tech_staff,
                float(r.revenue) if r.revenue is not None else None,
                pf.certs_label(r.certifications),
                "；".join(r.contacts),
                r.tickets,
                r.open_tickets,
                r.visits,
                clock.local(r.last_visit).strftime("%Y-%m-%d") if r.last_visit else "",
                float(r.redeemed),
            ]
        )
    for col, width in zip("ABCDEFGHIJKLMNOPQ", (32, 22, 8, 20, 22, 30, 14, 8, 8, 16, 28, 28, 8, 8, 10, 12, 14)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A3"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


__all__ = ["Filters", "EnterpriseRow", "PAGE", "page", "export_rows", "to_xlsx", "HEADERS"]
