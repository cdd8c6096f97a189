"""Demo data (bot.tooling.demo): a small year of tickets checked for integrity, SLA consistency and continuity."""

from __future__ import annotations

import io
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from bot.db import engine_for
from bot.db.schema import (
    Contact,
    Enterprise,
    Handover,
    KbQuery,
    Rating,
    ServiceNode,
    Staff,
    Ticket,
    TicketEvent,
    TicketSequence,
    Visit,
)
from bot.network import default_network
from bot.network.routing import Router
from bot.reports import monthly_summary, to_html, to_xlsx
from bot.taxonomy import BY_INTENT
from bot.tickets import lifecycle as lc
from bot.tickets.credit_code import is_valid
from bot.tickets.service import EnterpriseInput, TicketService
from bot.tickets.sla import SlaPolicy
from bot.tooling import demo

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=CST)  # a Wednesday afternoon
NUMBER = re.compile(r"^QCY-(\d{8})-(\d{4,})$")


def _generate(url, **kw):
    args = dict(enterprises=40, year=2026, tickets=200, seed=3, now=NOW)
    args.update(kw)
    return demo.generate(url, **args)


@pytest.fixture
def demo_db(db_url):
    return db_url, _generate(db_url)


def rows(url, model):
    with engine_for(url).connect() as conn:
        return conn.execute(select(model)).all()


def test_counts_and_referential_integrity(demo_db):
    url, result = demo_db
    assert result.tickets == 200 and result.enterprises == 40 and result.events_mode == "full"
    with engine_for(url).connect() as conn:
        if url.startswith("sqlite"):  # PostgreSQL checks foreign keys on every insert
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        for model, n in (
            (Ticket, result.tickets),
            (Enterprise, result.enterprises),
            (Contact, result.contacts),
            (Visit, result.visits),
            (TicketEvent, result.events),
            (Rating, result.ratings),
            (Handover, result.handovers),
            (KbQuery, result.kb_queries),
        ):
            assert conn.scalar(select(text("count(*)")).select_from(model.__table__)) == n, model.__tablename__
        # contacts belong to the ticket's enterprise; a visit ticket's visit is to the same enterprise
        assert (
            conn.scalar(
                text(
                    "SELECT count(*) FROM tickets t JOIN contacts c ON c.id = t.contact_id "
                    "WHERE c.enterprise_id != t.enterprise_id"
                )
            )
            == 0
        )
        assert (
            conn.scalar(
                text(
                    "SELECT count(*) FROM tickets t JOIN visits v ON v.id = t.visit_id "
                    "WHERE v.enterprise_id != t.enterprise_id OR t.created_at < v.visited_at"
                )
            )
            == 0
        )
        assert conn.scalar(text("SELECT count(*) FROM tickets WHERE visit_id IS NOT NULL")) >= 1
        assert conn.scalar(text("SELECT count(*) FROM tickets WHERE contact_id IS NULL")) == 0
        # handovers tied to a ticket agree with it
        assert (
            conn.scalar(
                text(
                    "SELECT count(*) FROM handovers h JOIN tickets t ON t.id = h.ticket_id "
                    "WHERE h.enterprise_id != t.enterprise_id OR h.node_id != t.node_id"
                )
            )
            == 0
        )
        # demo staff: three per active node, unable to log in
        staff = conn.execute(select(Staff)).all()
        nodes = conn.execute(select(ServiceNode).where(ServiceNode.active.is_(True))).all()
        assert len(staff) == 3 * len(nodes) and all(s.password_hash is None for s in staff)


def test_enterprises_look_real(demo_db):
    url, _ = demo_db
    net = default_network()
    ents = rows(url, Enterprise)
    assert len({e.name for e in ents}) == len(ents)
    assert all(e.name.endswith("有限公司") for e in ents)
    assert all(is_valid(e.credit_code) for e in ents)
    assert len({e.credit_code for e in ents}) == len(ents)
    cities = {n.new_city for n in net.new_cities()}
    for e in ents:
        if e.park is not None:
            ws = net.find_park(e.park)
            assert ws is not None and ws.new_city == e.new_city, e
        assert e.new_city is None or e.new_city in cities
    assert sum(e.park is not None for e in ents) > len(ents) / 2
    contacts = rows(url, Contact)
    assert all(re.fullmatch(r"1[3-9]\d{9}", c.mobile) for c in contacts)
    assert all(2 <= len(c.name) <= 3 for c in contacts)
    assert len({c.sender_id for c in contacts}) == len(contacts)


def test_numbers_unique_continuous_and_in_creation_order(demo_db):
    url, _ = demo_db
    tickets = sorted(rows(url, Ticket), key=lambda t: t.id)
    assert len({t.number for t in tickets}) == len(tickets)
    by_day = defaultdict(list)
    for t in tickets:
        m = NUMBER.match(t.number)
        assert m, t.number
        assert m.group(1) == t.created_at.astimezone(CST).strftime("%Y%m%d")
        by_day[m.group(1)].append((t.created_at, int(m.group(2)), t.id))
    seqs = {s.day: s.last for s in rows(url, TicketSequence)}
    assert set(seqs) == set(by_day)
    for day, items in by_day.items():
        assert sorted(n for _, n, _ in items) == list(range(1, len(items) + 1))
        assert seqs[day] == len(items)
        assert [n for _, n, _ in sorted(items, key=lambda x: x[2])] == sorted(n for _, n, _ in items)
        assert [c for c, _, _ in sorted(items, key=lambda x: x[1])] == sorted(c for c, _, _ in items)


def test_statuses_and_timestamps_agree_with_the_sla(demo_db):
    url, _ = demo_db
    sla = SlaPolicy.load()
    tickets = rows(url, Ticket)
    low_ratings = {r.ticket_id for r in rows(url, Rating) if r.score <= 2}
    for t in tickets:
        assert sla.is_working_time(t.created_at), t.number
        assert t.created_at <= NOW
        assert t.first_response_due > t.created_at and t.resolution_due > t.created_at
        assert t.first_response_due == sla.first_response_due(t.created_at)
        assert t.resolution_due == sla.resolution_due(t.created_at, t.category, t.paused_working_seconds)
        assert t.service_content == BY_INTENT[t.category].content
        # resolved_at set iff 办结; its working time excludes the pauses
        assert (t.resolved_at is not None) == (t.status in lc.CLOSED_STATES), t.number
        assert (t.resolution_wsecs is not None) == (t.resolved_at is not None)
        if t.resolved_at is not None:
            assert t.created_at < t.resolved_at <= NOW
            assert (
                t.resolution_wsecs
                == sla.working_seconds_between(t.created_at, t.resolved_at) - t.paused_working_seconds
            )
        # first response: by staff, with the assignee; precomputed working seconds
        assert (t.first_response_at is not None) == (t.assignee_id is not None) == (t.status != lc.ACCEPTED)
        assert (t.first_response_wsecs is not None) == (t.first_response_at is not None)
        if t.first_response_at is not None:
            assert t.created_at < t.first_response_at <= NOW
            assert t.first_response_wsecs == sla.working_seconds_between(t.created_at, t.first_response_at)
        assert (t.paused_at is not None) == (t.status == lc.AWAITING_INFO)
        assert (t.reason is not None) == (t.status == lc.CANNOT_HANDLE)
        assert t.redeemed_amount is None or (
            t.service_content == "政策兑现" and 10_000 <= t.redeemed_amount <= 2_000_000
        )
        assert t.followup_required == (t.id in low_ratings)
        assert t.created_at <= t.updated_at <= NOW
    # realistic outcomes: older tickets are nearly all done, first responses mostly the same day
    old = [t for t in tickets if t.created_at < datetime(2026, 10, 1, tzinfo=CST)]
    assert sum(t.status in lc.CLOSED_STATES for t in old) / len(old) > 0.9
    responded = [t for t in tickets if t.first_response_at is not None]
    assert sum(t.first_response_at <= t.first_response_due for t in responded) / len(responded) > 0.7
    scores = Counter(r.score for r in rows(url, Rating))
    assert (scores[5] + scores[4]) / sum(scores.values()) > 0.7


def test_audit_trail_replays_to_the_ticket_status(demo_db):
    url, _ = demo_db
    events = defaultdict(list)
    for e in sorted(rows(url, TicketEvent), key=lambda e: e.id):
        events[e.ticket_id].append(e)
    ratings = Counter(r.ticket_id for r in rows(url, Rating))
    for t in rows(url, Ticket):
        evs = events[t.id]
        assert evs[0].action == "created" and evs[0].after == '"accepted"' and evs[0].at == t.created_at
        assert [e.at for e in evs] == sorted(e.at for e in evs)
        status = lc.ACCEPTED
        for e in evs:
            if e.action == "status":
                assert e.before == f'"{status}"'
                target = e.after.strip('"')
                lc.check_transition(status, target, e.note)
                status = target
        assert status == t.status, t.number
        assert sum(e.action == "rating" for e in evs) == ratings[t.id]


def test_routing_follows_the_rules(demo_db):
    url, _ = demo_db
    router = Router.load()
    ents = {e.id: e for e in rows(url, Enterprise)}
    windows = {n.id for n in router.network.special_windows()}
    for t in rows(url, Ticket):
        e = ents[t.enterprise_id]
        if t.category == "need_subsidy_redemption":
            assert t.node_id in windows
        else:
            assert t.node_id == router.route(t.category, new_city=e.new_city, park=e.park).node_id


def test_a_real_ticket_opened_afterwards_continues_the_numbers(demo_db):
    url, _ = demo_db
    last = max(rows(url, Ticket), key=lambda t: t.created_at)
    day = last.created_at.astimezone(CST)
    n = int(NUMBER.match(last.number).group(2))
    max_id = max(t.id for t in rows(url, Ticket))
    svc = TicketService(url, clock=lambda: day.replace(hour=16, minute=0))
    res = svc.open_ticket(
        category="need_space",
        description="需要300平米研发办公场地",
        enterprise=EnterpriseInput(name="西安新来的光电科技有限公司", new_city="沣西"),
        contact_name="王经理",
        mobile="13912345678",
        sender_id="wx-after-demo",
    )
    assert res.ticket.number == f"QCY-{day:%Y%m%d}-{n + 1:04d}"
    assert res.ticket.id == max_id + 1


def test_a_second_run_adds_without_collisions(demo_db):
    url, first = demo_db
    second = _generate(url, enterprises=10, tickets=80, seed=4, events="minimal")
    tickets = rows(url, Ticket)
    assert len(tickets) == first.tickets + second.tickets
    assert len({t.number for t in tickets}) == len(tickets)
    per_day = Counter(NUMBER.match(t.number).group(1) for t in tickets)
    seqs = {s.day: s.last for s in rows(url, TicketSequence)}
    assert seqs == dict(per_day)
    assert second.staff == 0  # demo staff reused
    assert len(rows(url, Enterprise)) == 50


def test_minimal_events_are_created_and_final_status(db_url):
    result = _generate(db_url, tickets=120, events="minimal")
    assert result.events_mode == "minimal"
    per_ticket = defaultdict(list)
    for e in rows(db_url, TicketEvent):
        per_ticket[e.ticket_id].append(e)
    for t in rows(db_url, Ticket):
        evs = sorted(per_ticket[t.id], key=lambda e: e.id)
        assert evs[0].action == "created"
        if t.status == lc.ACCEPTED:
            assert len(evs) == 1
        else:
            assert [e.action for e in evs] == ["created", "status"] and evs[1].after == f'"{t.status}"'


def test_same_seed_same_data(tmp_path):
    from bot.db import migrate
    from bot.network import sync_network

    dumps = []
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path / name}.db"
        migrate(url)
        sync_network(url)
        _generate(url, tickets=60, enterprises=10)
        dumps.append([tuple(r) for r in rows(url, Ticket)])
    assert dumps[0] == dumps[1]


def test_monthly_summary_runs_on_it(demo_db):
    url, _ = demo_db
    october = [
        t
        for t in rows(url, Ticket)
        if datetime(2026, 10, 1, tzinfo=CST) <= t.created_at < datetime(2026, 11, 1, tzinfo=CST)
    ]
    s = monthly_summary(url, "2026-10")
    assert s.accepted == len(october) > 0
    assert s.closed == sum(t.status in lc.CLOSED_STATES for t in october)
    assert s.ytd_accepted == len([t for t in rows(url, Ticket) if t.created_at < datetime(2026, 11, 1, tzinfo=CST)])
    assert s.knowledge.questions > 0 and s.visits > 0 and s.satisfaction.count > 0
    assert "2026年10月" in to_html(s)
    buf = io.BytesIO()
    to_xlsx(s, buf)
    assert buf.getvalue()[:2] == b"PK"


def test_cli(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    code = demo.main(
        [
            "--db",
            url,
            "--enterprises",
            "8",
            "--year",
            "2026",
            "--tickets",
            "30",
            "--seed",
            "2",
            "--now",
            "2026-06-30T12:00",
        ]
    )
    assert code == 0
    assert "工单 30 件" in capsys.readouterr().out
    assert "最终状态" in demo._parser().format_help()
    assert demo.main(["--db", url, "--year", "2030", "--now", "2026-06-30T12:00"]) == 1
    assert "还没有开始" in capsys.readouterr().err


def test_postgresql_ids_and_numbers_continue(pg_url):
    result = _generate(pg_url, tickets=60, enterprises=10)
    with engine_for(pg_url).connect() as conn:
        max_id = conn.scalar(text("SELECT max(id) FROM tickets"))
        last = conn.execute(text("SELECT number, created_at FROM tickets ORDER BY created_at DESC LIMIT 1")).one()
    assert max_id == result.tickets
    day = last.created_at.astimezone(CST)
    svc = TicketService(pg_url, clock=lambda: day.replace(hour=16, minute=0))
    res = svc.open_ticket(
        category="need_training",
        description="想报名创业培训课程",
        enterprise=EnterpriseInput(name="西安新来的软件技术有限公司"),
        contact_name="李老师",
        mobile="13712345678",
        sender_id="wx-after-demo-pg",
    )
    assert res.ticket.id == max_id + 1
    assert res.ticket.number == f"QCY-{day:%Y%m%d}-{int(NUMBER.match(last.number).group(2)) + 1:04d}"
