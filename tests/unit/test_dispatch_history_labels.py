"""A ticket's history and channel as staff read them: names, not ids; 网页聊天, not 接口.

Real database (SQLite and PostgreSQL), real console (aiohttp test client on create_app).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot import handover as ho
from bot.db import engine_for, migrate, read_sessions, sessions
from bot.db.schema import Conversation, Handover, Message, Staff, Ticket, TicketEvent
from bot.tickets import history
from bot.tickets.service import EnterpriseInput, TicketService
from tests.unit.desk_helpers import add_staff, desk_client, sign_in

pytestmark = pytest.mark.desk

CST = ZoneInfo("Asia/Shanghai")


def web_conversation(db, cid):
    with sessions(db).begin() as s:
        s.add(Conversation(id=cid, channel="web", mode="bot"))
        s.flush()
        s.add(Message(conversation_id=cid, direction="in", author="user", text="我要找人工"))


def open_from_chat(db, cid, channel="rest"):
    """As the action server does: Rasa's REST channel is all it sees of the desk's web chat."""
    return (
        TicketService(db)
        .open_ticket(
            category="need_talent_living",
            description="想申请人才公寓，请问需要什么材料",
            enterprise=EnterpriseInput(name="西安星火光电科技有限公司", new_city="沣西"),
            contact_name="王经理",
            mobile="13912345678",
            sender_id=cid,
            channel=channel,
            conversation_id=cid,
        )
        .ticket
    )


def staff_row(db, username) -> Staff:
    with read_sessions(db)() as s:
        return s.scalars(select(Staff).where(Staff.username == username)).one()


async def ticket_page(db, tmp_path, number, username="li") -> str:
    async with desk_client(db, tmp_path) as client:
        await sign_in(client, username)
        r = await client.get(f"/console/tickets/{number}")
        assert r.status == 200
        return await r.text()


def history_rows(page: str) -> list[str]:
    table = re.search(r'<table class="grid audit">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "|", r)).strip() for r in rows]


async def test_history_shows_names_and_the_web_chat_channel(db_url, tmp_path):
    li = add_staff(db_url, "li", "李明", "fengxi", "lead")
    add_staff(db_url, "wang", "王芳", "fengxi")
    web_conversation(db_url, "web-hist")
    t = open_from_chat(db_url, "web-hist")
    assert t.source_channel == "web"  # the conversation's channel, not "rest"
    info = ho.start_handover(db_url, "web-hist", "request_human", node_id="fengxi", channel="web")
    ho.claim(db_url, info.id, staff_row(db_url, "li"))
    ho.transfer(db_url, info.id, staff_id=staff_row(db_url, "wang").id, actor=staff_row(db_url, "li"))
    svc = TicketService(db_url)
    svc.assign(t.number, None, staff_row(db_url, "wang").id, "staff:li")
    svc.assign(t.number, "fengxi-ws-xinxi", None, "staff:li")
    with sessions(db_url).begin() as s:  # an id whose staff row is gone
        tid = s.scalar(select(Ticket.id).where(Ticket.number == t.number))
        s.add(
            TicketEvent(
                ticket_id=tid, actor="system", action="assign", field="assignee_id", before="99999", after=str(li.id)
            )
        )

    page = await ticket_page(db_url, tmp_path, t.number)
    assert "<dt>来源渠道</dt><dd>网页聊天</dd>" in page
    rows = history_rows(page)
    # e.g. "|2026-12-03 10:02:38||李明（工作人员）| |人工接单| |无 → 李明| |李明 接手对话|"
    assert any("|人工接单|" in r and "|无 → 李明|" in r for r in rows), rows
    assert not any(re.search(r"→ \d+\|", r) for r in rows), rows  # no bare staff id anywhere
    transfer = next(r for r in rows if "|人工转交|" in r)
    assert "节点：沣西新城服务中心，接待专员：李明 → 节点：沣西新城服务中心，接待专员：王芳" in transfer
    assigned = [r.split("|指派|")[1] for r in rows if "|指派|" in r]
    assert [a.split("|")[1] for a in assigned] == ["无 → 王芳", "王芳 → 无", "已删除的工作人员（编号 99999） → 李明"]
    assert any("|转派|" in r and "沣西新城服务中心 → 沣西新城信息产业园工作站" in r for r in rows)


def test_value_text_reads_values_by_field():
    staff = {7: "李明"}
    assert history.value_text("7", "claimed_by", staff=staff) == "李明"
    assert history.value_text("7", "assignee_id", staff=staff) == "李明"
    assert history.value_text("8", "assignee_id", staff=staff) == "已删除的工作人员（编号 8）"
    assert (
        history.value_text('{"node_id": "fengxi", "claimed_by": null}', None, staff=staff)
        == "节点：沣西新城服务中心，接待专员：无"
    )
    assert history.value_text('"in_progress"', "status") == "办理中"
    assert history.value_text('"2026-11-25T02:00:00+00:00"', "warned_at") == "2026-11-25 10:00"
    assert history.value_text("4", "handover_rating") == "满意（4 分）"
    assert history.value_text("120000.50", "redeemed_amount") == "120000.5"
    assert history.value_text(None) == "无"


def test_a_staff_service_rating_is_kept_without_a_ticket(db_url):
    web_conversation(db_url, "web-rate")
    info = ho.start_handover(db_url, "web-rate", "request_human", node_id="fengxi", channel="web")
    at = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)
    assert ho.rate(db_url, info.id, 2, "user:web-rate", now=at) is False  # no ticket trail to put it on
    with read_sessions(db_url)() as s:
        h = s.get(Handover, info.id)
        assert (h.rating, h.rated_at) == (2, at)


def test_the_migration_gives_old_desk_tickets_their_conversation_channel(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, "0005")
    with engine_for(url).begin() as conn:
        conn.exec_driver_sql("INSERT INTO service_nodes (id, name, kind, active) VALUES ('qcy', '中心', 'centre', 1)")
        conn.exec_driver_sql("INSERT INTO enterprises (id, name, created_at) VALUES (1, '企业', '2026-11-20 02:00:00')")
        for cid, channel in (("web-1", "web"), ("wx-1", "wechat_mp")):
            conn.exec_driver_sql(
                f"INSERT INTO conversations (id, channel, mode, created_at, updated_at) "
                f"VALUES ('{cid}', '{channel}', 'bot', '2026-11-20 02:00:00', '2026-11-20 02:00:00')"
            )
        for i, (cid, channel) in enumerate(
            [("web-1", "rest"), ("wx-1", "rest"), ("api-1", "rest"), ("web-1", "visit")], 1
        ):
            conn.exec_driver_sql(
                "INSERT INTO tickets (id, number, enterprise_id, category, service_content, node_id, status, priority, "
                "description, source_channel, conversation_id, created_at, first_response_due, resolution_due, "
                "paused_working_seconds, escalation_level, followup_required, updated_at) VALUES "
                f"({i}, 'QCY-{i}', 1, 'need_space', '科技政务', 'qcy', 'accepted', 'normal', '需求', '{channel}', '{cid}', "
                "'2026-11-20 02:00:00', '2026-11-20 09:30:00', '2026-11-30 09:30:00', 0, 0, 0, '2026-11-20 02:00:00')"
            )
    migrate(url)
    with engine_for(url).connect() as conn:
        rows = conn.execute(select(Ticket.number, Ticket.source_channel).order_by(Ticket.id)).all()
    assert [tuple(r) for r in rows] == [("QCY-1", "web"), ("QCY-2", "wechat_mp"), ("QCY-3", "rest"), ("QCY-4", "visit")]
    engine_for(url).dispose()
