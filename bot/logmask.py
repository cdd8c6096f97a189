"""Mask personal numbers in log output: mobile and landline numbers, resident ID numbers.

Users type their mobile number and sometimes their ID number into the chat; any log line
that quotes user text, a URL, or an exception carrying SQL parameters could copy them into
log files that are kept and shared far more loosely than the database. `install()` makes
every log record of the process masked when it is created (a LogRecord factory), so it
works whatever handlers a framework (rasa_sdk, Sanic, aiohttp) configures later:
the message is formatted once and masked, and so are the traceback and stack text.

What is masked (ASCII and full-width digits, with the spaces or dashes people type):
- mainland mobile numbers 1[3-9]x xxxx xxxx, optionally +86/0086 → 138****5678
- landlines written with an area code and a separator, 029-88886666 / (029)88886666 → 029-****6666
- 18-character resident ID numbers (region, valid birth date, sequence, check digit)
  → 610***********1234
- secrets: a web chat key offered as a WebSocket subprotocol ``key.<key>`` (aiohttp logs the offered
  protocols when none matches), and the value after ``X-Chat-Key``, ``Authorization`` (Bearer),
  ``token``, ``access_token``, ``secret``, ``password``, ``csrf_token`` (``name: value``, ``name=value``,
  quoted or not) → every character ``*``
Unified social credit codes (enterprises, public) and ticket numbers are left alone.
"""

from __future__ import annotations

import logging
import re
import traceback

_FULLWIDTH = str.maketrans("０１２３４５６７８９Ｘｘ－", "0123456789Xx-")
_SEP = r"[-\s]?"

# Patterns run on the text with full-width digits mapped to ASCII (same length, same offsets).
_ID = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}"
    + _SEP
    + r"(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    + _SEP
    + r"\d{3}[0-9Xx](?![0-9A-Za-z])",
    re.ASCII,
)
_MOBILE = re.compile(
    r"(?<![0-9])(?:(?:\+|00)?86[-\s]?)?(?P<n>1[3-9]\d" + _SEP + r"\d{4}" + _SEP + r"\d{4})(?![0-9])", re.ASCII
)
_LANDLINE = re.compile(r"(?<![0-9])(?:\(0\d{2,3}\)\s?|0\d{2,3}[-\s])(?P<n>\d{7,8})(?![0-9])", re.ASCII)


_CHAT_KEY = re.compile(r"(?<![A-Za-z0-9_])(key\.)([A-Za-z0-9_\-]{8,})")
_NAMED_SECRET = re.compile(
    r"(?i)((?:x-chat-key|authorization|access[_-]?token|token|secret|password|passwd|csrf[_-]?token)"
    r"['\"]?\s*[:=]\s*['\"]?(?:bearer\s+|basic\s+)?)([A-Za-z0-9_\-.~+/=%]{6,})"
)


def mask_secrets(text: str) -> str:
    """Chat keys and named tokens replaced by '*' (same length)."""
    if not text:
        return text
    for pattern in (_CHAT_KEY, _NAMED_SECRET):
        text = pattern.sub(lambda m: m.group(1) + "*" * len(m.group(2)), text)
    return text


def _mask_span(out: list[str], ascii_text: str, start: int, end: int, head: int, tail: int) -> None:
    """Replace the digits of [start, end) by '*', keeping `head` leading and `tail` trailing ones."""
    positions = [i for i in range(start, end) if ascii_text[i] in "0123456789Xx"]
    for i in positions[head : len(positions) - tail]:
        out[i] = "*"


def mask(text: str) -> str:
    """`text` with personal numbers and secrets masked (same length)."""
    text = mask_secrets(text)
    if not text or not any(c.isdigit() for c in text):
        return text
    ascii_text = text.translate(_FULLWIDTH)
    out = list(text)
    taken: list[tuple[int, int]] = []
    for m in _ID.finditer(ascii_text):
        _mask_span(out, ascii_text, m.start(), m.end(), 3, 4)
        taken.append(m.span())
    for pattern, head in ((_MOBILE, 3), (_LANDLINE, 0)):
        for m in pattern.finditer(ascii_text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            _mask_span(out, ascii_text, m.start("n"), m.end("n"), head, 4)
            taken.append(m.span())
    return "".join(out)


_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def _mask_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format string: leave it for the handler to report
        return record
    record.msg, record.args = mask(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = mask("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    elif record.exc_text:
        record.exc_text = mask(record.exc_text)
    if record.stack_info:
        record.stack_info = mask(record.stack_info)
    for name, value in record.__dict__.items():
        if name not in _STANDARD and isinstance(value, str):  # `extra=` fields (Sanic's access log)
            record.__dict__[name] = mask(value)
    return record


class MaskFilter(logging.Filter):
    """The same masking as a handler filter (for handlers of records made before install())."""

    def filter(self, record: logging.LogRecord) -> bool:
        _mask_record(record)
        return True


_installed = False


def install() -> None:
    """Mask every log record created from now on in this process (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        return _mask_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskFilter())
    _installed = True
