"""Files on the desk: the web chat's upload and download (conversation key), the console's download (session,
node scope, audit) and staff sending a file back (claimed, CSRF) — hostile uploads get Chinese 4xx answers.
A real desk app and database (SQLite and PostgreSQL); no Rasa (files never go to it)."""

from __future__ import annotations

import re

import aiohttp
import pytest
from sqlalchemy import select, update

from bot import handover as ho
from bot.db import read_sessions, sessions
from bot.db.schema import Attachment, Conversation, Message, TicketEvent
from tests.unit.desk_helpers import TestDesk, add_staff, audit, chat_session
from tests.unit.files_helpers import JPEG, PDF, office, open_ticket, png

pytestmark = pytest.mark.desk

CN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
async def desk(db_url, tmp_path):
    d = TestDesk(
        db_url,
        tmp_path,
        file_max_image_bytes=50_000,
        file_max_document_bytes=100_000,
        rate_limit_chat=(6, 60.0),
    )
    yield d
    await d.close()


def upload_form(
    data: bytes | None,
    name: str = "营业执照.pdf",
    client_msg_id: str | None = None,
    ctype: str = "application/pdf",
    extra: dict | None = None,
) -> aiohttp.FormData:
    form = aiohttp.FormData()
    if client_msg_id:
        form.add_field("client_msg_id", client_msg_id)
    for k, v in (extra or {}).items():
        form.add_field(k, v, content_type="text/plain")  # a content type makes it multipart
    if data is not None:
        form.add_field("file", data, filename=name, content_type=ctype)
    return form


async def upload(client, cid, key, data, name="营业执照.pdf", headers: dict | None = None, **kw):
    return await client.post(
        f"/api/chat/files?conversation_id={cid}",
        data=upload_form(data, name, **kw),
        headers={"X-Chat-Key": key, **(headers or {})},
    )


async def error_of(r) -> str:
    body = await r.json()
    assert CN.search(body["message"]), body
    return body["message"]


# ---- the web chat -------------------------------------------------------------------------------------


async def test_web_chat_sends_a_pdf_sees_it_in_history_and_fetches_it_with_its_key(desk):
    b = await desk.browser()
    cid, key = await chat_session(b.client)
    r = await upload(b.client, cid, key, PDF, client_msg_id="f-1")
    assert r.status == 200, await r.text()
    body = await r.json()
    f = body["message"]["file"]
    assert body["message"]["text"] == "[文件] 营业执照.pdf" and f["name"] == "营业执照.pdf"
    assert f["mime"] == "application/pdf" and f["kind"] == "document" and f["size"] == len(PDF)
    [reply] = body["replies"]
    assert "转人工" in reply["text"] and reply["buttons"] == [{"title": "转人工", "payload": "/request_human"}]
    again = await upload(b.client, cid, key, PDF, client_msg_id="f-1")  # a resend: the same message
    assert (await again.json())["message"]["id"] == body["message"]["id"] and (await again.json())["duplicate"]

    hist = await (await b.client.get(f"/api/chat/history?conversation_id={cid}", headers={"X-Chat-Key": key})).json()
    assert [m["file"]["id"] for m in hist["messages"] if m.get("file")] == [f["id"]]
    with read_sessions(desk.db)() as s:
        m = s.get(Message, body["message"]["id"])
        assert m.state == "answered"  # never queued for Rasa

    got = await b.client.get(f"/api/chat/files/{f['id']}?conversation_id={cid}", headers={"X-Chat-Key": key})
    assert got.status == 200 and await got.read() == PDF
    assert got.headers["Content-Type"] == "application/pdf" and got.headers["X-Content-Type-Options"] == "nosniff"
    assert (
        got.headers["Content-Disposition"].startswith("attachment;")
        and "sandbox" in got.headers["Content-Security-Policy"]
    )
    assert "no-store" in got.headers["Cache-Control"]

    assert (await b.client.get(f"/api/chat/files/{f['id']}?conversation_id={cid}")).status == 403  # no key
    other, other_key = await chat_session(b.client)
    r = await b.client.get(f"/api/chat/files/{f['id']}?conversation_id={other}", headers={"X-Chat-Key": other_key})
    assert r.status == 404 and "文件不存在" in await error_of(r)  # another conversation's file
    r = await b.client.get(f"/api/chat/files/{f['id']}?conversation_id={other}", headers={"X-Chat-Key": key})
    assert r.status == 403  # a key for the wrong conversation
    for bad in ("99999", "abc", "1" * 30):
        r = await b.client.get(f"/api/chat/files/{bad}?conversation_id={cid}", headers={"X-Chat-Key": key})
        assert r.status == 404


async def test_an_upload_without_the_key_is_refused_before_the_body_is_read(desk):
    b = await desk.browser()
    cid, key = await chat_session(b.client)
    r = await upload(b.client, cid, "wrong", PDF)
    assert r.status == 403
    r = await b.client.post("/api/chat/files", data=upload_form(PDF), headers={"X-Chat-Key": key})
    assert r.status == 403  # no conversation named
    with read_sessions(desk.db)() as s:
        assert s.scalars(select(Attachment)).first() is None


@pytest.mark.parametrize(
    "data,name,status,words",
    [
        (png(), "合同.pdf", 415, "内容与扩展名不符"),
        (b"MZ\x90\x00" + b"\x00" * 200, "发票.pdf", 415, "可执行程序"),
        (b"<html><script>alert(1)</script></html>", "a.html", 415, "网页"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "a.svg", 415, "SVG"),
        (b"", "空.pdf", 400, "空的"),
        (PDF + b"%" * 100_001, "大.pdf", 413, "过大"),
        (png() + b"\x00" * 60_000, "大图.png", 413, "图片过大"),
        (office("word", {"word/vbaProject.bin": b"x"}), "宏.docx", 415, "宏"),
    ],
    ids=["png-as-pdf", "exe-as-pdf", "html", "svg", "empty", "big-pdf", "big-png", "macro"],
)
async def test_hostile_uploads_get_clear_chinese_4xx(desk, data, name, status, words):
    b = await desk.browser()
    cid, key = await chat_session(b.client)
    r = await upload(b.client, cid, key, data, name)
    assert r.status == status
    assert words in await error_of(r)
    with read_sessions(desk.db)() as s:
        assert s.scalars(select(Attachment)).first() is None
        assert (
            s.scalars(select(Message).where(Message.conversation_id == cid, Message.direction == "in")).first() is None
        )


async def test_malformed_requests(desk):
    b = await desk.browser()
    cid, key = await chat_session(b.client)
    h = {"X-Chat-Key": key}
    r = await b.client.post(
        f"/api/chat/files?conversation_id={cid}", data=upload_form(None, extra={"x": "1"}), headers=h
    )
    assert r.status == 400 and "请选择要发送的文件" in await error_of(r)  # multipart without a file
    r = await b.client.post(f"/api/chat/files?conversation_id={cid}", json={"file": "x"}, headers=h)
    assert r.status == 415 and "multipart" in await error_of(r)
    r = await b.client.post(
        f"/api/chat/files?conversation_id={cid}",
        data=b"--x\r\nbroken",
        headers={**h, "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert r.status == 400 and CN.search((await r.json())["message"])
    r = await upload(b.client, cid, key, PDF, client_msg_id="有 空格")
    assert r.status == 400 and "消息编号" in await error_of(r)
    big = b"%PDF-" + b"0" * (200_000)  # beyond the route's body limit
    r = await upload(b.client, cid, key, big, "a.pdf")
    assert r.status == 413 and "过大" in (await r.json())["message"]


@pytest.mark.parametrize(
    "raw",
    [
        "../../../../etc/passwd.pdf",
        "..\\..\\boot.ini.pdf",
        "/tmp/x/营业执照.pdf",
        "a\u202efdp.exe.pdf",
        "<img src=x onerror=alert(1)>.pdf",
    ],
    ids=["dotdot", "backslash", "absolute", "bidi", "markup"],
)
async def test_path_traversal_and_markup_in_names_are_stored_as_plain_names(desk, raw):
    b = await desk.browser()
    cid, key = await chat_session(b.client)
    r = await upload(b.client, cid, key, PDF, raw)
    assert r.status == 200
    name = (await r.json())["message"]["file"]["name"]
    assert "/" not in name and "\\" not in name and "<" not in name and "\u202e" not in name and name.endswith(".pdf")


async def test_uploads_are_rate_limited_like_messages(desk):
    b = await desk.browser()
    cid, key = await chat_session(b.client)
    statuses = [(await upload(b.client, cid, key, PDF, f"{i}.pdf")).status for i in range(8)]
    assert statuses[:6] == [200] * 6 and statuses[6] == 429
    r = await upload(b.client, cid, key, PDF)
    assert r.status == 429 and "Retry-After" in r.headers and "频繁" in await error_of(r)


async def test_a_file_with_an_open_ticket_is_attached_to_it(desk):
    b = await desk.browser()
    cid, key = await chat_session(b.client)
    t = open_ticket(desk.db, cid)
    r = await upload(b.client, cid, key, JPEG, "现场照片.jpg")
    body = await r.json()
    assert t.number in body["replies"][0]["text"] and not body["replies"][0]["buttons"]
    with read_sessions(desk.db)() as s:
        e = s.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == t.id, TicketEvent.action == "attachment")
        ).one()
        assert e.after == "现场照片.jpg" and e.actor == f"user:{cid}"
    fid = body["message"]["file"]["id"]
    add_staff(desk.db, "boss", "管理员", "centre", "admin")
    boss = await desk.browser()
    await boss.login("boss")
    page = await (await boss.client.get(f"/console/tickets/{t.number}")).text()
    assert 'id="ticket-files"' in page and f'href="/console/files/{fid}?dl=1"' in page and "附件（1）" in page
    assert "现场照片.jpg" in page.split('id="ticket-files"', 1)[1]


async def test_while_waiting_for_staff_the_file_is_passed_on(desk):
    b = await desk.browser()
    cid, key = await chat_session(b.client)
    ho.start_handover(desk.db, cid, "request_human", channel="web")
    r = await upload(b.client, cid, key, PDF)
    body = await r.json()
    assert "已转给服务专员" in body["replies"][0]["text"] and body["replies"][0]["author"] == "system"
    with read_sessions(desk.db)() as s:
        assert s.get(Message, body["message"]["id"]).state == "forwarded"


# ---- the console ---------------------------------------------------------------------------------


async def _conversation_with_file(desk, b):
    cid, key = await chat_session(b.client)
    r = await upload(b.client, cid, key, png(), "营业执照.png")
    return cid, key, (await r.json())["message"]["file"]


async def test_staff_see_and_download_files_only_within_their_node_scope(desk):
    b = await desk.browser()
    cid, key, f = await _conversation_with_file(desk, b)
    with sessions(desk.db).begin() as s:
        s.execute(update(Conversation).where(Conversation.id == cid).values(node_id="fengxi"))
    add_staff(desk.db, "li", "李明", "fengxi")
    add_staff(desk.db, "wang", "王芳", "fengdong")
    li, wang = await desk.browser(), await desk.browser()
    assert (await li.login("li")).status == 302 and (await wang.login("wang")).status == 302

    page = await (await li.client.get(f"/console/conversations/{cid}")).text()
    assert f'src="/console/files/{f["id"]}"' in page and "下载 营业执照.png" in page and 'id="file-form"' in page
    api = await (await li.client.get(f"/console/api/conversations/{cid}")).json()
    assert [m["file"]["id"] for m in api["messages"] if m.get("file")] == [f["id"]]

    got = await li.client.get(f"/console/files/{f['id']}?dl=1")
    assert got.status == 200 and await got.read() == png() and got.headers["Content-Type"] == "image/png"
    assert got.headers["Content-Disposition"].startswith("attachment;")
    row = audit(desk.db, "file_download")[-1]
    assert row.actor == "staff:li" and row.conversation_id == cid and "营业执照.png" in row.detail

    refused = await wang.client.get(f"/console/files/{f['id']}")  # another node's conversation
    assert refused.status == 403 and "无权" in await refused.text()
    assert audit(desk.db, "denied")[-1].actor == "staff:wang"
    assert (await li.client.get("/console/files/424242")).status == 404

    anonymous = aiohttp.ClientSession()
    try:
        r = await anonymous.get(b.client.make_url(f"/console/files/{f['id']}"), allow_redirects=False)
        assert r.status in (302, 401) and not (await r.read()).startswith(b"\x89PNG")
    finally:
        await anonymous.close()


async def test_staff_of_the_ticket_node_may_see_its_files(desk):
    b = await desk.browser()
    cid, key = await chat_session(b.client)
    t = open_ticket(desk.db, cid)  # 沣西 by what the user stated
    with read_sessions(desk.db)() as s:
        node = s.get(type(t), t.id).node_id
    with sessions(desk.db).begin() as s:
        s.execute(update(Conversation).where(Conversation.id == cid).values(node_id="fengdong"))
    r = await upload(b.client, cid, key, PDF)
    fid = (await r.json())["message"]["file"]["id"]
    add_staff(desk.db, "zhao", "赵敏", node)
    z = await desk.browser()
    await z.login("zhao")
    assert (await z.client.get(f"/console/files/{fid}")).status == 200


async def staff_send(browser, cid, data, name, handover_id=None, token=True):
    form = aiohttp.FormData()
    if token:
        form.add_field("csrf_token", await browser.csrf())
    if handover_id is not None:
        form.add_field("handover_id", str(handover_id))
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return await browser.client.post(f"/console/conversations/{cid}/files", data=form, allow_redirects=False)


async def test_staff_send_a_file_back_after_claiming(desk):
    b = await desk.browser()
    cid, key = await chat_session(b.client)
    info = ho.start_handover(desk.db, cid, "request_human", channel="web", node_id="fengxi")
    li_row = add_staff(desk.db, "li", "李明", "fengxi")
    add_staff(desk.db, "wang", "王芳", "fengdong")
    li, wang = await desk.browser(), await desk.browser()
    await li.login("li")
    await wang.login("wang")

    r = await staff_send(li, cid, PDF, "回执.pdf", info.id)
    assert r.status == 409 and "请先接单" in await r.text()  # not claimed yet
    ho.claim(desk.db, info.id, li_row)
    r = await staff_send(li, cid, PDF, "回执.pdf", info.id, token=False)
    assert r.status == 403  # no CSRF token
    r = await staff_send(wang, cid, PDF, "回执.pdf", info.id)
    assert r.status == 403  # out of scope
    r = await staff_send(li, cid, b"MZ\x90\x00" + b"\x00" * 99, "回执.pdf", info.id)
    assert r.status == 415 and "可执行程序" in await r.text()
    r = await staff_send(li, cid, PDF, "../回执.pdf", info.id)
    assert r.status == 303 and r.headers["Location"] == f"/console/conversations/{cid}?done=replied"

    hist = await (await b.client.get(f"/api/chat/history?conversation_id={cid}", headers={"X-Chat-Key": key})).json()
    sent = [m for m in hist["messages"] if m.get("file")]
    assert [(m["direction"], m["author"], m["file"]["name"]) for m in sent] == [("out", "staff:li", "回执.pdf")]
    got = await b.client.get(
        f"/api/chat/files/{sent[0]['file']['id']}?conversation_id={cid}", headers={"X-Chat-Key": key}
    )
    assert await got.read() == PDF
    assert audit(desk.db, "file_send")[-1].actor == "staff:li"


async def test_a_file_for_a_ticket_waiting_for_materials_resumes_it(desk):
    from bot.tickets import lifecycle as lc
    from bot.tickets.service import TicketService

    b = await desk.browser()
    cid, key = await chat_session(b.client)
    t = open_ticket(desk.db, cid)
    svc = TicketService(desk.db)
    svc.transition(t.number, lc.IN_PROGRESS, "staff:li")
    svc.transition(t.number, lc.AWAITING_INFO, "staff:li", reason="请补充营业执照")
    assert svc.get(t.number).status == lc.AWAITING_INFO
    body = await (await upload(b.client, cid, key, PDF, "营业执照.pdf")).json()
    assert "工单已恢复办理" in body["replies"][0]["text"]
    assert svc.get(t.number).status == lc.IN_PROGRESS
    assert [e.action for e in svc.events(t.number)][-3:] == ["attachment", "add_info", "status"]


async def test_a_conversation_has_a_daily_budget_and_an_address_an_hourly_file_count(db_url, tmp_path):
    d = TestDesk(db_url, tmp_path, file_daily_bytes=2 * len(PDF) + 10, rate_limit_file_ip=(4, 3600.0))
    try:
        b = await d.browser()
        via = {"X-Forwarded-For": "198.51.100.7"}  # a client behind the desk's reverse proxy
        cid, key = await chat_session(b.client)
        assert [(await upload(b.client, cid, key, PDF, f"{i}.pdf", via)).status for i in range(2)] == [200, 200]
        r = await upload(b.client, cid, key, PDF, "3.pdf", via)
        assert r.status == 429 and "今天发送的文件已达上限" in await error_of(r)
        with read_sessions(d.db)() as s:
            assert len(list(s.scalars(select(Attachment).where(Attachment.conversation_id == cid)))) == 2
        other, other_key = await chat_session(b.client)  # a new conversation from the same address
        assert (await upload(b.client, other, other_key, PDF, headers=via)).status == 200
        r = await upload(b.client, other, other_key, PDF, headers=via)
        assert r.status == 429 and "Retry-After" in r.headers  # 5th file of this address this hour
    finally:
        await d.close()
