"""What a file is, from its bytes, and whether the service accepts it.

Accepted: images (JPEG, PNG, GIF, WebP) and documents (PDF; Word, Excel and PowerPoint both as OOXML zip
packages and as the older OLE2 compound files). Everything else is refused, in particular executables,
scripts, HTML and SVG (both run script in a browser), plain zip archives (they can carry anything) and
Office files with macros. The type comes from the content only; a name whose extension says something
else ("合同.pdf" holding a PNG or a program) is refused rather than trusted or silently renamed, so what
staff open is what the sender said it was. Sizes are limited per kind (bot.settings: FILE_MAX_*_MB).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from bot.files.names import extension

IMAGE, DOCUMENT = "image", "document"

# extension → (kind, mime) of what the service accepts
ACCEPTED = {
    "jpg": (IMAGE, "image/jpeg"),
    "png": (IMAGE, "image/png"),
    "gif": (IMAGE, "image/gif"),
    "webp": (IMAGE, "image/webp"),
    "pdf": (DOCUMENT, "application/pdf"),
    "docx": (DOCUMENT, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "xlsx": (DOCUMENT, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "pptx": (DOCUMENT, "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    "doc": (DOCUMENT, "application/msword"),
    "xls": (DOCUMENT, "application/vnd.ms-excel"),
    "ppt": (DOCUMENT, "application/vnd.ms-powerpoint"),
}
SAME = {"jpeg": "jpg", "jpe": "jpg"}  # extensions that name the same type
ACCEPT_ATTR = ".jpg,.jpeg,.png,.gif,.webp,.pdf,.doc,.docx,.xls,.xlsx,.ppt,.pptx"
ALLOWED_TEXT = "图片（JPG、PNG、GIF、WebP）、PDF、Word、Excel、PowerPoint"

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OOXML = {"word/": "docx", "xl/": "xlsx", "ppt/": "pptx"}
_MACROS = ("vbaproject.bin", "vbadata.xml", "activex")
_DANGER = (  # recognised only to say clearly why it is refused
    (b"MZ", "可执行程序"),
    (b"\x7fELF", "可执行程序"),
    (b"#!", "脚本"),
    (b"\xca\xfe\xba\xbe", "可执行程序"),
    (b"\xcf\xfa\xed\xfe", "可执行程序"),
    (b"\xfe\xed\xfa\xcf", "可执行程序"),
)


class FileRefused(ValueError):
    """A file the service does not take: `status` (400/413/415), a short `code` and a Chinese `message`."""

    def __init__(self, message: str, code: str, status: int = 415) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


@dataclass(frozen=True)
class Limits:
    image_bytes: int = 10 * 1024 * 1024
    document_bytes: int = 20 * 1024 * 1024
    daily_bytes: int = 200 * 1024 * 1024  # per conversation and 24 hours (the database holds the files)

    @classmethod
    def of(cls, settings) -> "Limits":
        return cls(
            getattr(settings, "file_max_image_bytes", cls.image_bytes),
            getattr(settings, "file_max_document_bytes", cls.document_bytes),
            getattr(settings, "file_daily_bytes", cls.daily_bytes),
        )

    @property
    def largest(self) -> int:
        return max(self.image_bytes, self.document_bytes)

    def for_kind(self, kind: str) -> int:
        return self.image_bytes if kind == IMAGE else self.document_bytes


@dataclass(frozen=True)
class Sniffed:
    ext: str  # canonical extension of the detected type
    kind: str  # image / document
    mime: str


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


def _ooxml(data: bytes) -> str:
    """docx / xlsx / pptx for an Office Open XML package; FileRefused for any other zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = [i.filename for i in z.infolist()]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise FileRefused("文件已损坏，无法识别，请检查后重新发送", "corrupt") from None
    lowered = [n.lower() for n in names]
    if "[content_types].xml" not in lowered:
        raise FileRefused(f"不支持压缩包，请直接发送{ALLOWED_TEXT}文件", "archive")
    if any(m in n for n in lowered for m in _MACROS):
        raise FileRefused("文件包含宏或控件，出于安全考虑不能接收；请另存为不含宏的文档后再发送", "macro")
    for prefix, ext in _OOXML.items():
        if any(n.startswith(prefix) for n in lowered):
            return ext
    raise FileRefused(f"不支持该文件类型，请发送{ALLOWED_TEXT}", "unsupported")


def _looks_like_markup(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return (
        text.startswith((b"<", b"<?xml")) or b"<svg" in text[:512] or b"<html" in text[:512] or b"<script" in text[:512]
    )


def sniff(data: bytes, name: str = "") -> Sniffed:
    """The accepted type of `data` (FileRefused otherwise). `name` only tells the OLE2 formats apart
    (Word, Excel and PowerPoint share one container), and must agree with what the content is."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        ext = "jpg"
    elif head.startswith(b"\x89PNG\r\n\x1a\n"):
        ext = "png"
    elif head.startswith((b"GIF87a", b"GIF89a")):
        ext = "gif"
    elif head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        ext = "webp"
    elif head.startswith(b"%PDF-"):
        ext = "pdf"
    elif head.startswith(b"PK\x03\x04"):
        ext = _ooxml(data)
    elif head.startswith(OLE2):
        given = SAME.get(extension(name), extension(name))
        if given not in ("doc", "xls", "ppt"):
            raise FileRefused(
                "无法确认该 Office 文件的类型，请使用 .doc、.xls 或 .ppt 扩展名，或另存为 .docx / .xlsx 后再发送",
                "unknown_office",
            )
        ext = given
    else:
        for magic, what in _DANGER:
            if head.startswith(magic):
                raise FileRefused(f"出于安全考虑，不能接收{what}文件", "dangerous")
        if _looks_like_markup(data[:1024]):
            raise FileRefused(f"出于安全考虑，不能接收网页或 SVG 文件，请发送{ALLOWED_TEXT}", "markup")
        raise FileRefused(f"不支持该文件类型（已按文件内容识别），请发送{ALLOWED_TEXT}", "unsupported")
    kind, mime = ACCEPTED[ext]
    return Sniffed(ext, kind, mime)


def check(data: bytes, name: str, limits: Limits = Limits()) -> Sniffed:
    """Everything a received file must pass: not empty, an accepted type by content, the name's extension
    (if any) naming that same type, within the size limit of its kind."""
    if not data:
        raise FileRefused("文件是空的（0 字节），请检查后重新发送", "empty", 400)
    if len(data) > limits.largest:
        raise FileRefused(f"文件过大（最大 {_mb(limits.largest)}）", "too_large", 413)
    found = sniff(data, name)
    given = extension(name)
    given = SAME.get(given, given)
    if given and given != found.ext:
        raise FileRefused(
            f"文件内容与扩展名不符（名为 .{given}，内容是 {found.ext.upper()}），为安全起见未接收，请发送原始文件",
            "mismatch",
        )
    limit = limits.for_kind(found.kind)
    if len(data) > limit:
        label = "图片" if found.kind == IMAGE else "文档"
        raise FileRefused(f"{label}过大（{_mb(len(data))}，最大 {_mb(limit)}），请压缩后再发送", "too_large", 413)
    return found
