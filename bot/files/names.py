"""A client's file name made safe to store, show and offer as a download name.

The name is only a label: files are stored and served by id, never by name, so a hostile name cannot
reach the file system. It still goes into HTML, a Content-Disposition header and exports, so path parts,
control and bidirectional-override characters (which can disguise "exe.pdf" as "fdp.exe"), characters
Windows refuses and leading dots are removed, and the length is bounded keeping the extension.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME = 100
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C, 0xFEFF)}


def sanitise(raw: object, fallback: str = "文件") -> str:
    """`raw` as a plain file name (no directories, no control characters), at most MAX_NAME characters."""
    name = raw if isinstance(raw, str) else ""
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]  # "../../etc/passwd" → "passwd"
    name = "".join(ch for ch in name if ch not in _BIDI and unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    name = _FORBIDDEN.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip().lstrip(".").strip()
    if not name or set(name) <= {"_", " ", "."}:
        return fallback
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_NAME - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:MAX_NAME]
    return name


def extension(name: str) -> str:
    """The lower-case extension without the dot ("" when there is none)."""
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem and 0 < len(ext) <= 10 else ""


def with_extension(name: str, ext: str) -> str:
    """`name` ending in `.ext` (added when the name has no extension at all)."""
    return name if extension(name) else f"{name}.{ext}"
