"""Files in a real browser (Debian's Chromium) against the real stack: an enterprise on a 390 px phone sends a
PDF from the web chat, is offered 转人工 and takes it; staff see the file in the console conversation and
download it; staff send an image back, which appears in the enterprise's chat; the enterprise downloads
its own file. No page scrolls sideways at 390 px."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bot.db import read_sessions
from bot.db.schema import Attachment, ConsoleAudit
from bot.staff.accounts import create_staff
from tests.unit.files_helpers import PDF, png

pytestmark = pytest.mark.e2e

PASSWORD = "Files-browser-2026"
NO_OVERFLOW = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


@pytest.fixture
def contexts(browser):
    made = []

    def make(**kw):
        ctx = browser.new_context(locale="zh-CN", accept_downloads=True, **kw)
        made.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in made:
        ctx.close()


def test_pdf_from_the_phone_chat_reaches_staff_and_an_image_comes_back(stack, contexts, tmp_path: Path):
    desk, db = stack.settings.desk_url, stack.settings.effective_database_url
    pdf = tmp_path / "营业执照.pdf"
    pdf.write_bytes(PDF)
    image = tmp_path / "办理回执.png"
    image.write_bytes(png(24, 16))

    # ---- the enterprise, on a phone, sends a PDF with the 📎 button
    user = contexts(viewport={"width": 390, "height": 844})
    user.goto(f"{desk}/")
    expect(user.locator("#attach")).to_be_visible()
    expect(user.locator("#rows")).to_contain_text("原上管家")
    cid = json.loads(user.evaluate("localStorage.getItem('yschat.v1.session')"))["conversation_id"]
    user.set_input_files("#file", str(pdf))
    mine = user.locator(".row.out .file-card", has_text="营业执照.pdf")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("点击下载", timeout=10_000)  # stored: it has an id now
    expect(user.locator("#rows")).to_contain_text("如需服务专员查看，请点「转人工」")
    assert user.evaluate(NO_OVERFLOW)
    with read_sessions(db)() as s:
        a = s.scalars(select(Attachment).where(Attachment.conversation_id == cid)).one()
        assert (a.name, a.mime, a.size) == ("营业执照.pdf", "application/pdf", len(PDF))

    # ---- a refused file gets a Chinese notice and no bubble
    fake = tmp_path / "发票.pdf"
    fake.write_bytes(b"MZ\x90\x00" + b"\x00" * 200)
    user.set_input_files("#file", str(fake))
    expect(user.locator("#notice")).to_contain_text("可执行程序")
    expect(user.locator(".row.out .file-card")).to_have_count(1)

    # ---- the enterprise asks for a person with the offered button
    user.locator(".quick button", has_text="转人工").last.click()
    expect(user.locator("#rows")).to_contain_text("服务专员", timeout=30_000)

    # ---- staff sign in and see the file in the conversation
    username = f"fi{uuid.uuid4().hex[:6]}"
    create_staff(db, username, "周静", "centre", "staff", PASSWORD)
    staff = contexts(viewport={"width": 1366, "height": 900})
    staff.goto(f"{desk}/console/login")
    staff.fill('input[name="username"]', username)
    staff.fill('input[name="password"]', PASSWORD)
    staff.click('button[type="submit"]')
    expect(staff).to_have_url(f"{desk}/console/")
    staff.goto(f"{desk}/console/conversations/{cid}")
    link = staff.locator("#messages .msg.user a.file-link")
    expect(link).to_contain_text("营业执照.pdf")
    with staff.expect_download() as got:
        link.click()
    assert got.value.suggested_filename == "营业执照.pdf"
    assert Path(got.value.path()).read_bytes() == PDF
    with read_sessions(db)() as s:
        assert (
            s.scalars(
                select(ConsoleAudit).where(
                    ConsoleAudit.actor == f"staff:{username}", ConsoleAudit.action == "file_download"
                )
            ).first()
            is not None
        )

    # ---- staff claim and send an image back; it shows in the enterprise's chat
    expect(staff.locator("#file-send")).to_be_disabled()
    staff.click("#claim")
    expect(staff.locator(".flash.ok")).to_contain_text("已接单")
    staff.set_input_files("#file-input", str(image))
    staff.click("#file-send")
    expect(staff.locator(".flash.ok")).to_contain_text("已发送给企业")
    expect(staff.locator("#messages .msg.staff img.file-thumb")).to_be_visible()
    back = user.locator(".row.in img.file-img")
    expect(back).to_have_attribute("src", re.compile(r"^blob:"), timeout=10_000)
    user.wait_for_function(
        "() => { const i = document.querySelector('.row.in img.file-img');"
        " return i && i.complete && i.naturalWidth === 24; }"
    )
    assert user.evaluate(NO_OVERFLOW)

    # ---- while staff hold the conversation, the enterprise's next file appears in the console live
    more = tmp_path / "补充材料.pdf"
    more.write_bytes(PDF + b"%more\n")
    user.set_input_files("#file", str(more))
    expect(staff.locator("#messages .msg.user a.file-link", has_text="补充材料.pdf")).to_be_visible(timeout=10_000)

    # ---- the enterprise downloads its own PDF again (with its key, through a blob: URL)
    with user.expect_download() as again:
        mine.click()
    assert Path(again.value.path()).read_bytes() == PDF

    # ---- the console conversation page at 390 px: the file and the upload form fit
    small = contexts(viewport={"width": 390, "height": 844})
    small.goto(f"{desk}/console/login")
    small.fill('input[name="username"]', username)
    small.fill('input[name="password"]', PASSWORD)
    small.click('button[type="submit"]')
    small.goto(f"{desk}/console/conversations/{cid}")
    expect(small.locator("#messages a.file-link").first).to_be_visible()
    expect(small.locator("#file-form")).to_be_visible()
    assert small.evaluate(NO_OVERFLOW)
