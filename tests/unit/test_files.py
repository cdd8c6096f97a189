"""bot.files: what a file is (by content), whether it is accepted, its safe name; stored with its chat message,
attached to the open ticket, deduplicated; exported and erased with the person's data (bot.privacy)."""

from __future__ import annotations

import base64
import hashlib
import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.db import read_sessions, sessions
from bot.db.schema import Attachment, Conversation, FileBlob, Message, TicketEvent
from bot.files import FileRefused, Limits, check, sniff, store
from bot.files.names import sanitise, with_extension
from bot.files.sniff import ACCEPTED
from bot.privacy import data as privacy
from bot.privacy.service import run_erase, run_export
from tests.unit.files_helpers import GIF, JPEG, OLE2, PDF, WEBP, office, open_ticket, plain_zip, png

# ---- what a file is -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data,name,ext,kind",
    [
        (JPEG, "营业执照.jpg", "jpg", "image"),
        (JPEG, "照片.JPEG", "jpg", "image"),
        (png(), "截图.png", "png", "image"),
        (GIF, "a.gif", "gif", "image"),
        (WEBP, "a.webp", "webp", "image"),
        (PDF, "营业执照.pdf", "pdf", "document"),
        (office("word"), "申请书.docx", "docx", "document"),
        (office("xl"), "报表.xlsx", "xlsx", "document"),
        (office("ppt"), "路演.pptx", "pptx", "document"),
        (OLE2, "旧版.doc", "doc", "document"),
        (OLE2, "旧表.xls", "xls", "document"),
        (PDF, "没有扩展名", "pdf", "document"),
    ],
)
def test_accepted_types_are_recognised_by_content(data, name, ext, kind):
    found = check(data, name)
    assert (found.ext, found.kind) == (ext, kind)
    assert found.mime.startswith("image/" if kind == "image" else "application/")


@pytest.mark.parametrize(
    "data,name,code,status",
    [
        (b"", "空.pdf", "empty", 400),
        (png(), "合同.pdf", "mismatch", 415),  # a PNG calling itself a PDF
        (b"MZ\x90\x00\x03" + b"\x00" * 100, "发票.pdf", "dangerous", 415),  # a Windows program named .pdf
        (b"MZ\x90\x00\x03" + b"\x00" * 100, "setup.exe", "dangerous", 415),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 50, "a.pdf", "dangerous", 415),
        (b"#!/bin/sh\nrm -rf /\n", "run.sh", "dangerous", 415),
        (b"<!doctype html><script>alert(1)</script>", "page.html", "markup", 415),
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
            "logo.svg",
            "markup",
            415,
        ),
        (b"\xef\xbb\xbf  <svg onload=alert(1)>", "logo.png", "markup", 415),
        (plain_zip(), "材料.zip", "archive", 415),
        (office("word", content_types=False), "a.docx", "archive", 415),
        (office("word", {"word/vbaProject.bin": b"\x00"}), "宏.docm", "macro", 415),
        (b"PK\x03\x04garbage-not-a-zip", "a.docx", "corrupt", 415),
        (OLE2, "installer.msi", "unknown_office", 415),  # OLE2 is also an installer container
        (b"just some text", "说明.txt", "unsupported", 415),
    ],
)
def test_hostile_or_unsupported_files_are_refused_with_chinese_reasons(data, name, code, status):
    with pytest.raises(FileRefused) as err:
        check(data, name)
    assert (err.value.code, err.value.status) == (code, status)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in err.value.message)


def test_size_limits_per_kind():
    lim = Limits(image_bytes=1000, document_bytes=3000)
    big_png = png(40, 40) + b"\x00" * 1000
    with pytest.raises(FileRefused) as err:
        check(big_png, "大图.png", lim)
    assert err.value.status == 413 and "图片过大" in err.value.message
    assert check(PDF + b"%" * 2000, "a.pdf", lim).ext == "pdf"  # a document may be larger
    with pytest.raises(FileRefused) as err:
        check(PDF + b"%" * 4000, "a.pdf", lim)
    assert err.value.status == 413


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\a.pdf", "a.pdf"),
        ("/abs/path/营业执照.pdf", "营业执照.pdf"),
        ("report\u202efdp.exe", "reportfdp.exe"),
        ("a\x00b.pdf", "ab.pdf"),
        ("a\nb\r.pdf", "ab.pdf"),
        ("...", "文件"),
        ("", "文件"),
        (None, "文件"),
        (".hidden.pdf", "hidden.pdf"),
        ('a<b>:"|?*.pdf', "a_b______.pdf"),
        ("  合同   扫描件 .pdf ", "合同 扫描件 .pdf"),
    ],
)
def test_names_are_made_safe(raw, expected):
    assert sanitise(raw) == expected


def test_long_names_keep_their_extension():
    name = sanitise("很" * 300 + ".pdf")
    assert len(name) <= 100 and name.endswith(".pdf")
    assert with_extension("扫描件", "pdf") == "扫描件.pdf" and with_extension("a.jpeg", "jpg") == "a.jpeg"


def test_sniff_ignores_the_name_for_images():
    assert sniff(png(), "whatever.exe").ext == "png"


# ---- stored with the conversation and its ticket ------------------------------------------------------


def conversation(db, cid, channel="web"):
    with sessions(db).begin() as s:
        s.add(Conversation(id=cid, channel=channel, mode="bot"))


def test_a_received_file_is_a_chat_message_that_never_goes_to_rasa(db_url):
    conversation(db_url, "web-f1")
    found = check(PDF, "营业执照.pdf")
    got = store.receive(db_url, "web-f1", PDF, "营业执照.pdf", found, "web", "c-1")
    assert not got.duplicate and got.mode == "bot" and got.ticket_number is None
    with read_sessions(db_url)() as s:
        m = s.get(Message, got.message_id)
        a = s.scalars(select(Attachment)).one()
        assert (m.direction, m.author, m.text, m.state) == ("in", "user", "[文件] 营业执照.pdf", "answered")
        assert json.loads(m.payload)["file"] == {
            "id": a.id,
            "name": "营业执照.pdf",
            "kind": "document",
            "mime": "application/pdf",
            "size": len(PDF),
        }
        assert (a.message_id, a.sha256, a.sender) == (m.id, hashlib.sha256(PDF).hexdigest(), "user")
    again = store.receive(db_url, "web-f1", PDF, "营业执照.pdf", found, "web", "c-1")  # a resend
    assert again.duplicate and again.message_id == got.message_id and again.file == got.file
    row, data = store.get(db_url, got.file["id"])
    assert data == PDF and row.conversation_id == "web-f1"


def test_files_attach_to_the_open_ticket_and_share_their_bytes(db_url):
    t = open_ticket(db_url, "web-f2")
    found = check(png(), "a.png")
    first = store.receive(db_url, "web-f2", png(), "a.png", found, "web")
    second = store.receive(db_url, "web-f2", png(), "b.png", found, "web")  # same content, other name
    assert first.ticket_number == second.ticket_number == t.number
    with read_sessions(db_url)() as s:
        events = list(
            s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id, TicketEvent.action == "attachment"))
        )
        assert [(e.actor, e.field, e.after) for e in events] == [
            ("user:web-f2", "file", "a.png"),
            ("user:web-f2", "file", "b.png"),
        ]
        assert s.scalar(select(func.count()).select_from(FileBlob)) == 1
    assert [r.name for r in store.for_ticket(db_url, t.id)] == ["a.png", "b.png"]


def test_staff_files_are_outgoing_messages(db_url):
    t = open_ticket(db_url, "web-f3")
    with sessions(db_url).begin() as s:
        if s.get(Conversation, "web-f3") is None:
            s.add(Conversation(id="web-f3", channel="web", mode="staff"))
    sent = store.send(db_url, "web-f3", PDF, "回执.pdf", check(PDF, "回执.pdf"), "staff:li")
    assert sent.ticket_number == t.number
    with read_sessions(db_url)() as s:
        m = s.get(Message, sent.message_id)
        assert (m.direction, m.author, m.text) == ("out", "staff:li", "[文件] 回执.pdf")
    with pytest.raises(LookupError):
        store.send(db_url, "nobody", PDF, "a.pdf", check(PDF, "a.pdf"), "staff:li")


# ---- personal data: export and erase include files ------------------------------------------------------


def test_export_and_erase_include_the_files_and_their_bytes(db_url):
    t = open_ticket(db_url, "web-p1")
    store.receive(db_url, "web-p1", PDF, "身份证.pdf", check(PDF, "身份证.pdf"), "web")
    conversation(db_url, "web-other")
    store.receive(db_url, "web-other", PDF, "别人的.pdf", check(PDF, "别人的.pdf"), "web")  # same bytes, other person
    store.receive(db_url, "web-other", png(), "别人的图.png", check(png(), "a.png"), "web")

    out = run_export(db_url, mobile="13912345678")
    assert [(f["name"], f["ticket_id"]) for f in out["files"]] == [("身份证.pdf", t.id)]
    assert base64.b64decode(out["files"][0]["content_base64"]) == PDF

    done = run_erase(db_url, mobile="13912345678")
    assert done.files == 1 and "文件 1 个" in done.summary()
    with read_sessions(db_url)() as s:
        assert [a.name for a in s.scalars(select(Attachment).order_by(Attachment.id))] == ["别人的.pdf", "别人的图.png"]
        assert s.scalar(select(func.count()).select_from(FileBlob)) == 2  # the shared bytes stay
    run_erase(db_url, conversation="web-other")
    with read_sessions(db_url)() as s:
        assert s.scalar(select(func.count()).select_from(Attachment)) == 0
        assert s.scalar(select(func.count()).select_from(FileBlob)) == 0  # nothing left behind


def test_retention_ages_out_files_with_their_conversation(db_url):
    from datetime import timedelta

    from bot.db.schema import utcnow

    old = utcnow() - timedelta(days=400)
    with sessions(db_url).begin() as s:
        s.add(Conversation(id="web-old", channel="web", mode="bot", created_at=old, updated_at=old, last_user_at=old))
    store.receive(db_url, "web-old", PDF, "旧.pdf", check(PDF, "旧.pdf"), "web", now=old)
    with sessions(db_url).begin() as s:
        result = privacy.purge(s, utcnow(), 365)
    assert result.erased.files == 1
    with read_sessions(db_url)() as s:
        assert s.scalar(select(func.count()).select_from(FileBlob)) == 0


# ---- any input: accepted or refused with a 4xx reason, never an exception; names always plain -----------

MAGIC = st.sampled_from(
    [
        b"",
        b"%PDF-",
        b"PK\x03\x04",
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff",
        b"GIF89a",
        b"RIFF",
        OLE2[:8],
        b"MZ",
        b"<svg",
        b"\xef\xbb\xbf<html>",
    ]
)


@hsettings(max_examples=300, deadline=None)
@given(MAGIC, st.binary(max_size=2048), st.text(max_size=200))
def test_any_bytes_and_name_are_accepted_or_refused_never_an_error(magic, rest, raw_name):
    try:
        found = check(magic + rest, sanitise(raw_name), Limits(image_bytes=1500, document_bytes=2000))
    except FileRefused as exc:
        assert exc.status in (400, 413, 415) and exc.message
    else:
        assert found.ext in ACCEPTED


@hsettings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_sanitised_names_are_plain_and_short(raw):
    name = sanitise(raw)
    assert name and len(name) <= 100 and name == name.strip() and not name.startswith(".")
    assert not any(c in name for c in '/\\<>:"|?*') and name != ".."
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Cs") for c in name)
