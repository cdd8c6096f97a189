"""Keys and tokens never reach a log line (bot.logmask.mask_secrets, part of mask())."""

from __future__ import annotations

import logging

import pytest

from bot.logmask import MaskFilter, mask

KEY = "AbCdEf0123456789_-xyzXYZabcdefghijklmnopqrs"


@pytest.mark.parametrize(
    "raw",
    [
        f"Client protocols ['key.{KEY}'] don’t overlap server-known ones ('yschat',)",
        f"Sec-WebSocket-Protocol: yschat, key.{KEY}",
        f"X-Chat-Key: {KEY}",
        f"x-chat-key={KEY}",
        f"Authorization: Bearer {KEY}",
        f"GET /webhook?token={KEY}&x=1",
        f'{{"access_token": "{KEY}"}}',
        f"password={KEY}",
        f"csrf_token={KEY}",
    ],
)
def test_secrets_are_masked(raw):
    out = mask(raw)
    assert KEY not in out and len(out) == len(raw) and "*" * 20 in out


@pytest.mark.parametrize(
    "text",
    [
        "monkey.business",
        "key.short",
        "token=1",
        "QCY-20261125-0007",
        "统一社会信用代码 91610000MA6TG0XX0X",
        "see the key. Then",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert mask(text) == text


def test_a_key_without_digits_is_masked_too():
    raw = "protocols ['key.abcdefghijklmnopqrstuvwxyzABCDEFGHIJ']"
    assert "abcdefghij" not in mask(raw)


def test_a_record_with_the_key_in_its_args_is_masked():
    rec = logging.LogRecord(
        "aiohttp.websocket",
        logging.WARNING,
        __file__,
        1,
        "Client protocols %r don’t overlap server-known ones %r",
        ([f"key.{KEY}"], ("yschat",)),
        None,
    )
    MaskFilter().filter(rec)
    assert KEY not in rec.getMessage()
