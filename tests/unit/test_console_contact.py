"""Console: staff confirm a chat identity as a contact of its enterprise ("确认为该企业联系人") — scoped to the
conversation's node, CSRF-protected, audited; afterwards the chat sees the enterprise's tickets. Both databases."""

from __future__ import annotations

import pytest

from bot.tickets.identity import IdentityService
from bot.tickets.service import EnterpriseInput, TicketService
from tests.unit.desk_helpers import TestDesk, add_staff, audit

pytestmark = pytest.mark.desk

COMPANY = "西安光启芯科技有限公司"


@pytest.fixture
async def desk(db_url, tmp_path):
    d = TestDesk(db_url, tmp_path)
    yield d
    await d.close()


def open_for(db, sender, new_city, description):
    return (
        TicketService(db)
        .open_ticket(
            category="need_debt_financing",
            description=description,
            enterprise=EnterpriseInput(name=COMPANY, new_city=new_city),
            contact_name="王经理",
            mobile="13912345678",
            sender_id=sender,
        )
        .ticket
    )


async def test_staff_confirm_a_contact_and_the_chat_then_sees_the_enterprises_tickets(desk):
    first = open_for(desk.db, "chat-a", "沣西", "想申请知识产权质押贷款，额度500万")
    mine = open_for(desk.db, "chat-b", "沣东", "人才公寓怎么申请")  # routed to 沣东 by what it stated
    add_staff(desk.db, "li", "李明", "fengdong")
    add_staff(desk.db, "wang", "王芳", "fengxi")
    li, wang = await desk.browser(), await desk.browser()
    assert (await li.login("li")).status == 302 and (await wang.login("wang")).status == 302
    svc = TicketService(desk.db)
    assert [t.number for t, _ in svc.tickets_for_sender("chat-b")] == [mine.number]

    page = await li.client.get("/console/conversations/chat-b/contact")
    text = await page.text()
    assert page.status == 200 and "未验证" in text and "确认为该企业联系人" in text
    assert "沣东" in text and "未写入档案" in text  # what it stated, shown as such

    assert (await li.post("/console/conversations/chat-b/verify-contact", token=False)).status in (400, 403)
    assert not IdentityService(desk.db).standing("chat-b").verified  # no CSRF token: nothing done
    refused = await wang.post("/console/conversations/chat-b/verify-contact")  # another node's conversation
    assert refused.status == 403 and not IdentityService(desk.db).standing("chat-b").verified

    done = await li.post("/console/conversations/chat-b/verify-contact")
    assert done.status == 303 and done.headers["Location"] == "/console/conversations/chat-b/contact?done=verified"
    assert IdentityService(desk.db).standing("chat-b").verified
    row = audit(desk.db, "verify_contact")[-1]
    assert row.actor == "staff:li" and row.conversation_id == "chat-b" and COMPANY in row.detail
    assert {t.number for t, _ in svc.tickets_for_sender("chat-b")} == {first.number, mine.number}
    text = await (await li.client.get("/console/conversations/chat-b/contact")).text()
    assert "已验证" in text and "staff:li" in text and 'id="verify-contact"' not in text

    undone = await li.post("/console/conversations/chat-b/unverify-contact")
    assert undone.status == 303 and undone.headers["Location"].endswith("?done=revoked")
    assert not IdentityService(desk.db).standing("chat-b").verified
    assert [t.number for t, _ in svc.tickets_for_sender("chat-b")] == [mine.number]
    assert audit(desk.db, "unverify_contact")[-1].actor == "staff:li"
    again = await li.post("/console/conversations/chat-b/unverify-contact")
    assert again.status == 409 and "无需撤销" in await again.text()


async def test_a_conversation_without_a_claim_cannot_be_confirmed(desk):
    open_for(desk.db, "chat-c", None, "想申请知识产权质押贷款")
    add_staff(desk.db, "boss", "管理员", "centre", "admin")
    b = await desk.browser()
    await b.login("boss")
    assert (await b.client.get("/console/conversations/nobody/contact")).status == 404
    r = await b.post("/console/conversations/nobody/verify-contact")
    assert r.status == 404


@pytest.mark.parametrize("cid", ["x" * 600, "..%2F..%2Fetc", "%00", "会话<script>alert(1)</script>", "' OR 1=1 --"])
async def test_odd_conversation_ids_get_not_found_never_an_error(desk, cid):
    add_staff(desk.db, "boss", "管理员", "centre", "admin")
    b = await desk.browser()
    await b.login("boss")
    page = await b.client.get(f"/console/conversations/{cid}/contact")
    assert page.status in (400, 404) and "<script>alert" not in await page.text()  # %00: refused as bad input
    assert (await b.post(f"/console/conversations/{cid}/verify-contact")).status in (400, 404)
