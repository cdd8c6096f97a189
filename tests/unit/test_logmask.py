"""Phone and ID numbers are masked in log records; enterprise codes, ticket numbers, dates stay."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from bot.logmask import MaskFilter, mask


@pytest.mark.parametrize(
    "raw, masked",
    [
        ("我的手机13812345678", "我的手机138****5678"),
        ("138-1234-5678", "138-****-5678"),
        ("138 1234 5678", "138 **** 5678"),
        ("+86 13912345678", "+86 139****5678"),
        ("008619912345678", "0086199****5678"),
        ("１３８１２３４５６７８", "１３８****５６７８"),  # full-width, as an IME types it
        ("电话:13812345678,", "电话:138****5678,"),
        ("身份证610102199001011234", "身份证610***********1234"),
        ("61010219900101123x", "610***********123x"),
        ("６１０１０２１９９００１０１１２３Ｘ", "６１０***********１２３Ｘ"),
        ("610102 19900101 1234", "610*** ******** 1234"),
        ("座机029-88886666", "座机029-****6666"),
        ("(029)88886666", "(029)****6666"),
        ("a13812345678b", "a138****5678b"),
    ],
)
def test_masked(raw, masked):
    assert mask(raw) == masked
    assert len(mask(raw)) == len(raw)


@pytest.mark.parametrize(
    "text",
    [
        "QCY-20261125-0001",
        "QCY202611250001",
        "工单 QCY-20261125-1380",
        "91610131MA6U8XYZ12",
        "统一社会信用代码 91610000MA6TG1L35C",
        "12610000435230279X",
        "2026-11-25 09:30:00",
        "金额 1380000 元",
        "13800.50 元",
        "1732512345678",  # ms timestamp
        "MsgId 6000000000000000001",
        "13812345678901",
        "23812345678",
        "12345678901",
        "version 3.6.21",
        "conversation web-AbC13812345",
        "id=1381234567",
    ],
)
def test_left_alone(text):
    assert mask(text) == text


def test_record_message_args_traceback_and_extra(caplog):
    log = logging.getLogger("test.logmask")
    handler = logging.Handler()
    seen: list[logging.LogRecord] = []
    handler.emit = seen.append
    handler.addFilter(MaskFilter())
    log.addHandler(handler)
    try:
        try:
            raise ValueError("parameters: ('13812345678', '610102199001011234')")
        except ValueError:
            log.error(
                "user %s wrote %r",
                "13812345678",
                {"id": "610102199001011234"},
                exc_info=True,
                extra={"request": "GET /console/tickets?q=13812345678"},
            )
    finally:
        log.removeHandler(handler)
    text = logging.Formatter("%(message)s %(request)s").format(seen[0])
    assert "13812345678" not in text and "610102199001011234" not in text
    assert "138****5678" in text and "610***********1234" in text


def test_install_masks_records_of_any_handler(tmp_path):
    """In a fresh interpreter: handlers configured after install() (as rasa_sdk does) print masked lines."""
    log_file = tmp_path / "out.log"
    code = f"""
import logging
from bot import logmask
logmask.install()
logging.basicConfig(filename={str(log_file)!r}, level=logging.INFO, format="%(levelname)s %(message)s")
logging.getLogger("x").info("收到 %s 的消息：身份证 %s", "13812345678", "610102199001011234")
try:
    {{}}["13987654321"]
except KeyError:
    logging.getLogger("x").exception("lookup failed")
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    out = log_file.read_text(encoding="utf-8")
    for raw in ("13812345678", "610102199001011234", "13987654321"):
        assert raw not in out
    assert "138****5678" in out and "139****4321" in out and "KeyError" in out
