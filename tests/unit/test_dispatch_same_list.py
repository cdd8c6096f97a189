"""One 日调度: the scheduler's 08:30 job, the console and the command line give the same list.

The fixture is built through the ticket service (real deadlines from bot/service_data/sla.yml) on SQLite and
PostgreSQL; the moment is Wednesday 2026-11-25 08:30 Beijing time, so the previous dispatch moment is
Tuesday 11-24 08:30. Rules: docs/dispatch.md.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot import scheduler as sch
from bot.db import read_sessions, sessions
from bot.db.schema import Notification, Ticket, Visit
from bot.desk.console.dispatch import dispatch_lists, totals
from bot.reports import dispatch as dp
from bot.settings import PROJECT_ROOT
from bot.tickets import lifecycle as lc
from bot.tickets.service import EnterpriseInput, TicketService
from bot.visits import raise_ticket_from_visit, record_visit
from tests.clock import Clock as FakeClock
from tests.unit.desk_helpers import add_staff, desk_client, sign_in

pytestmark = pytest.mark.desk

CST = ZoneInfo("Asia/Shanghai")
MOMENT = datetime(2026, 11, 25, 8, 30, tzinfo=CST)  # Wednesday, the scheduler's moment


def bj(mo, d, h, mi=0) -> datetime:
    return datetime(2026, mo, d, h, mi, tzinfo=CST)


def open_at(db, when, sender, description, new_city="沣西", category="need_recruitment", name=None):
    svc = TicketService(db, clock=lambda: when)
    return svc.open_ticket(
        category=category,
        description=description,
        enterprise=EnterpriseInput(name=name or f"企业{sender}", new_city=new_city),
        contact_name="王经理",
        mobile="13912345678",
        sender_id=sender,
        channel="web",
    ).ticket


def step(db, when, number, target, actor="staff:li"):
    TicketService(db, clock=lambda: when).transition(number, target, actor)


def populate(db) -> dict[str, str]:
    """Tickets of 沣西 and 沣东 at every heading; returns role → ticket number."""
    add_staff(db, "li", "李明", "fengxi")
    add_staff(db, "admin", "管理员", "centre", "admin")
    out = {}
    # 已超期 (办结): 招聘用工 has 5 working days; answered at once, never finished
    t = open_at(db, bj(11, 2, 10), "s-old", "招聘会摊位申请")
    step(db, bj(11, 2, 11), t.number, lc.IN_PROGRESS)
    out["overdue"] = t.number
    # 已超期 (首次响应): arrived yesterday morning, nobody answered by 17:30
    out["silent"] = open_at(db, bj(11, 24, 9, 40), "s-silent", "校园招聘合作").number
    # 今日到期 and new: arrived after office hours yesterday, 即日办 due today 17:30
    out["evening"] = open_at(db, bj(11, 24, 18), "s-evening", "社保补贴材料清单").number
    # 待补充: paused, deadline passed meanwhile — still not overdue (the clock is paused)
    t = open_at(db, bj(11, 2, 11), "s-paused", "实习生补贴怎么申请")
    step(db, bj(11, 3, 10), t.number, lc.AWAITING_INFO)
    out["paused"] = t.number
    # 新增: arrived yesterday morning and answered
    t = open_at(db, bj(11, 24, 10), "s-new", "想招聘二十名操作工", category="need_debt_financing")
    step(db, bj(11, 24, 11), t.number, lc.IN_PROGRESS)
    out["new"] = t.number
    # 本周推进: open for more than a week, on schedule (股权投资: 20 working days)
    t = open_at(db, bj(11, 16, 10), "s-long", "寻找天使轮投资", category="need_equity_investment")
    step(db, bj(11, 16, 11), t.number, lc.IN_PROGRESS)
    out["weekly"] = t.number
    # not listed: closed; arrived after the moment; open, answered, two days old, on schedule
    t = open_at(db, bj(11, 20, 9, 30), "s-done", "用工备案")
    step(db, bj(11, 21, 9, 30), t.number, lc.RESOLVED)
    out["closed"] = t.number
    out["later"] = open_at(db, bj(11, 25, 8, 45), "s-later", "招聘需求").number
    t = open_at(db, bj(11, 23, 10), "s-quiet", "贷款贴息咨询", category="need_debt_financing")
    step(db, bj(11, 23, 11), t.number, lc.IN_PROGRESS)
    out["quiet"] = t.number
    # another node: 沣东, new
    t = open_at(db, bj(11, 24, 15), "s-dong", "办公场地租赁", new_city="沣东", category="need_space")
    step(db, bj(11, 24, 16), t.number, lc.IN_PROGRESS)
    out["dong"] = t.number
    # a visit to 沣西 this morning before the list, with a need raised, and one planned for the afternoon
    from bot.db.schema import Enterprise

    with read_sessions(db)() as s:
        ent = s.scalars(select(Enterprise).where(Enterprise.name == "企业s-new")).one()
    v = record_visit(
        db, ent.id, None, "fengxi", bj(11, 25, 8, 0), "了解到企业想申请贷款贴息", clock=lambda: bj(11, 25, 8, 10)
    )
    raised = raise_ticket_from_visit(
        db, v.id, "need_debt_financing", "申请科技贷款贴息", service=TicketService(db, clock=lambda: bj(11, 25, 8, 10))
    )
    out["from_visit"] = raised.ticket.number
    with sessions(db).begin() as s:  # planned (recorded ahead, as the visits page will allow)
        s.add(Visit(enterprise_id=ent.id, node_id="fengxi", visited_at=bj(11, 25, 15), findings="回访"))
        # recorded after the fact: yesterday afternoon (after yesterday's list) reaches today's list,
        # yesterday before 08:30 was yesterday's
        s.add(Visit(enterprise_id=ent.id, node_id="fengxi", visited_at=bj(11, 24, 15), findings="了解研发情况"))
        s.add(Visit(enterprise_id=ent.id, node_id="fengxi", visited_at=bj(11, 24, 8), findings="早间走访"))
    return out


def cli(db, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.reports", "dispatch", "--db", db, *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
    )


def headings(d: dict) -> dict:
    """node → heading → ticket numbers (+ visits), from Dispatch.to_dict()."""
    return {
        n["node_id"]: {
            **{k: [t["number"] for t in n[k]] for k, _ in dp.SECTIONS},
            "visits": [v["id"] for v in n["visits"]],
        }
        for n in d["nodes"]
    }


def html_headings(page: str) -> dict:
    """The same from the console's HTML (data-node / data-kind / data-number / data-visit)."""
    out = {}
    for block in re.findall(r'<div class="dispatch-node" data-node="([^"]+)">(.*?)</div>', page, re.S):
        node, body = block
        found = {k: [] for k, _ in dp.SECTIONS} | {"visits": []}
        for kind, table in re.findall(r'<table class="grid dispatch" data-kind="([^"]+)">(.*?)</table>', body, re.S):
            if kind == "visits":
                found[kind] = [int(x) for x in re.findall(r'data-visit="(\d+)"', table)]
            else:
                found[kind] = re.findall(r'data-number="([^"]+)"', table)
        out[node] = found
    return out


async def console_page(db, tmp_path, username, path="/console/reports") -> str:
    # desk_client keeps the desk's own scheduler off: it would escalate by the real clock
    async with desk_client(db, tmp_path, clock=FakeClock(MOMENT)) as client:
        await sign_in(client, username)
        r = await client.get(path)
        assert r.status == 200
        return await r.text()


@pytest.mark.slow
async def test_scheduler_console_and_cli_give_the_same_list(db_url, tmp_path, monkeypatch):
    n = populate(db_url)
    sched = sch.Scheduler(db_url, "inst-a", reports_dir=tmp_path / "reports")
    result = sched.run_job(sch.DAILY, "2026-11-25", MOMENT + timedelta(seconds=20))
    assert result.status == "done"
    from_scheduler = result.data.to_dict()
    lists = headings(from_scheduler)

    # the rules, on this fixture
    fx = lists["fengxi"]
    assert fx["overdue"] == [n["overdue"], n["silent"]]
    assert fx["due_today"] == [n["evening"], n["from_visit"]]  # new, and 即日办 due today
    assert fx["awaiting_info"] == [n["paused"]]
    assert fx["new"] == [n["new"]]
    assert fx["weekly"] == [n["weekly"]]
    assert len(fx["visits"]) == 3  # since yesterday's 08:30 list
    assert lists["fengdong"]["new"] == [n["dong"]]
    listed = [x for node in lists.values() for k, _ in dp.SECTIONS for x in node[k]]
    assert len(listed) == len(set(listed))  # one heading per ticket
    assert not {n["closed"], n["later"], n["quiet"]} & set(listed)
    fx_obj = result.data["fengxi"]
    assert fx_obj.new_count == 4 and [t.new for t in fx_obj.due_today] == [True, True]

    # the command line at the same moment: the same data, and the same text as the notification
    out = cli(db_url, "--now", "2026-11-25T08:30", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == from_scheduler
    text = cli(db_url, "--now", "2026-11-25T08:30", "--node", "fengxi")
    assert text.returncode == 0, text.stderr
    with read_sessions(db_url)() as s:
        body = s.scalars(
            select(Notification.body).where(
                Notification.kind == "dispatch_list", Notification.recipient == "node:fengxi"
            )
        ).one()
    assert text.stdout.strip() == body.strip()

    # the console at the same moment: the admin sees every node, 沣西's staff their node
    assert {k: v for k, v in html_headings(await console_page(db_url, tmp_path, "admin")).items()} == {
        k: v for k, v in lists.items() if any(v.values())
    }
    mine = html_headings(await console_page(db_url, tmp_path, "li"))
    assert mine == {"fengxi": lists["fengxi"]}
    queue = await console_page(db_url, tmp_path, "li", "/console/")
    for number in (n["overdue"], n["silent"], n["evening"]):
        assert number in queue
    assert n["paused"] not in queue and n["new"] not in queue


@pytest.mark.slow
def test_cli_refuses_bad_input(sqlite_url):
    from bot.db import migrate

    migrate(sqlite_url)
    bad = cli(sqlite_url, "--now", "昨天")
    assert bad.returncode == 2 and "--now 的格式不正确" in bad.stderr
    unknown = cli(sqlite_url, "--node", "nowhere", "--now", "2026-11-25T08:30")
    assert unknown.returncode == 2 and "nowhere" in unknown.stderr
    ok = cli(sqlite_url, "--now", "2026-11-25T08:30", "--all")
    assert ok.returncode == 0 and "今日没有需要调度的工单" in ok.stdout


def test_console_lists_at_other_moments(db_url):
    """Later in the day the console shows the list of that moment (same rules), scoped to the node."""
    n = populate(db_url)
    at_ten = bj(11, 25, 10)
    d = dispatch_lists(db_url, {"fengxi"}, at_ten)
    assert [x.node_id for x in d.nodes] == ["fengxi"]
    fx = d["fengxi"]
    assert [t.number for t in fx.overdue] == [n["overdue"], n["silent"]]
    assert fx.overdue[1].deadline == "首次响应"
    # created 08:45: after 08:30 but before 10:00, answered by nobody: 即日办 due today
    assert [t.number for t in fx.due_today] == [n["evening"], n["later"], n["from_visit"]]
    assert [t.planned for t in fx.visits] == [False, False, True]
    assert [dp.visit_time(v, at_ten.date(), CST) for v in fx.visits] == ["11-24 15:00", "08:00", "15:00"]
    assert totals(d) == (5, 3, 2)
    assert dispatch_lists(db_url, {"fengdong"}, at_ten)["fengdong"].new[0].number == n["dong"]
    # after 17:30 the first responses due today are overdue
    late = dispatch_lists(db_url, {"fengxi"}, bj(11, 25, 18))["fengxi"]
    assert {n["evening"], n["later"]} <= {t.number for t in late.overdue} and late.due_today == []


def test_a_ticket_paused_and_resumed_goes_back_to_its_deadline(db_url):
    n = populate(db_url)
    step(db_url, bj(11, 25, 9), n["paused"], lc.IN_PROGRESS)
    with read_sessions(db_url)() as s:
        due = s.scalar(select(Ticket.resolution_due).where(Ticket.number == n["paused"]))
    fx = dispatch_lists(db_url, {"fengxi"}, bj(11, 25, 9, 30))["fengxi"]
    assert n["paused"] not in [t.number for t in fx.awaiting_info]
    listed = {t.number: k for k, _, items in fx.sections() for t in items}
    # 5 working days, 6 hours used before the pause: due 29 working hours after resuming; open since 11-02
    assert due.astimezone(CST).isoformat() == "2026-12-01T10:00:00+08:00" and listed[n["paused"]] == dp.WEEKLY
