"""Phone and ID numbers that users type never reach the log files of the running system.

A message carrying a mobile number and a resident ID number goes through the desk of the real
stack (HTTP POST to the chat API, on to Rasa and the action server), and a staff-style URL
carrying a phone number is requested (the desk's access log records URLs); then every log file
of the stack is searched for the raw numbers. The masked form must be there (so the lines were
written and masked, not simply absent).
"""

from __future__ import annotations

import time

import pytest
import requests

pytestmark = pytest.mark.e2e

MOBILE, ID_NUMBER, LANDLINE = "13812345678", "610102199001011234", "029-88886666"


def test_personal_numbers_are_masked_in_every_log_file(stack):
    desk = stack.settings.desk_url
    session = requests.post(f"{desk}/api/chat/session", timeout=10).json()
    cid, key = session["conversation_id"], session["key"]
    text = f"你好，我的手机号是{MOBILE}，身份证号{ID_NUMBER}，座机{LANDLINE}，想申请人才公寓"
    r = requests.post(
        f"{desk}/api/chat/message", json={"conversation_id": cid, "text": text}, headers={"X-Chat-Key": key}, timeout=60
    )
    assert r.status_code == 200, r.text
    assert r.json()["message"]["text"] == text  # stored as typed; only logs are masked
    assert r.json()["replies"], "the bot answered"
    # a search URL with the number (what staff type when looking for an enterprise's tickets)
    requests.get(f"{desk}/console/tickets", params={"q": MOBILE, "id": ID_NUMBER}, timeout=10, allow_redirects=False)

    logs = sorted(stack.log_dir.glob("*.log"))
    assert {p.name.split("-")[0] for p in logs} >= {"actions", "rasa", "desk"}
    deadline = time.monotonic() + 10
    while "138****5678" not in (stack.log_dir / f"desk-{stack.settings.desk_port}.log").read_text(errors="replace"):
        assert time.monotonic() < deadline, "the desk's access log line never appeared"
        time.sleep(0.2)
    for path in logs:
        content = path.read_text(encoding="utf-8", errors="replace")
        for raw in (MOBILE, ID_NUMBER, "88886666", "1381234", "1990010112"):
            assert raw not in content, f"{raw} in {path.name}"
    desk_log = (stack.log_dir / f"desk-{stack.settings.desk_port}.log").read_text(errors="replace")
    assert "610***********1234" in desk_log
