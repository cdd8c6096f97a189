"""Sample files built in code (real formats, no binary fixtures) and a ticket to attach them to, for the tests of
bot.files (tests/unit/test_files.py) and of files on the desk, in WeChat and in the browser
(tests/unit/test_files_desk.py, tests/e2e/test_wechat_files.py, tests/browser/test_chat_files.py).

Those imported them from test_files.py, which tied test files to each other (test modules don't import each other);
they live here once.

- `png(width, height)`, `office(kind, extra, content_types)`, `plain_zip()`: built on demand, with fixed bytes (a
  zip member's date is fixed, so parameter ids built from them never change);
- `JPEG`, `GIF`, `WEBP`, `PDF`, `OLE2`: the smallest files of each kind;
- `open_ticket(db, sender)`: a ticket opened by the ticket service for the conversation `sender`.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from bot.tickets.service import EnterpriseInput, TicketService

# ---- sample files (built here: real formats, no binary fixtures) ----------------------------------------


def png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00"
    b"\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


def _member(name: str) -> zipfile.ZipInfo:
    """A zip member with a fixed date: the bytes (and so the parameter ids built from them) do not depend on the
    clock, or pytest-xdist's workers, collecting a second apart, see different tests."""
    return zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))


def office(kind: str = "word", extra: dict | None = None, content_types: bool = True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        if content_types:
            z.writestr(_member("[Content_Types].xml"), "<Types/>")
        z.writestr(_member(f"{kind}/document.xml"), "<doc/>")
        for name, body in (extra or {}).items():
            z.writestr(_member(name), body)
    return buf.getvalue()


def plain_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(_member("setup.exe"), b"MZ\x90\x00")
    return buf.getvalue()


# ---- a ticket to attach them to ---------------------------------------------------------------------------


def open_ticket(db, sender):
    """A ticket opened for the conversation `sender` (its enterprise, contact and mobile made up)."""
    return (
        TicketService(db)
        .open_ticket(
            category="need_debt_financing",
            description="想申请知识产权质押贷款",
            enterprise=EnterpriseInput(name="西安光启芯科技有限公司", new_city="沣西"),
            contact_name="王经理",
            mobile="13912345678",
            sender_id=sender,
        )
        .ticket
    )
