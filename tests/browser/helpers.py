"""Set-up shared by the browser tests (Playwright in Debian's Chromium, started by tests/browser/conftest.py).

Some browser test modules imported these from others (test_web_chat_typed.py from test_web_chat.py,
test_visits_page.py from test_enterprise_pages.py through sys.path), which tied test files to each other (test
modules don't import each other); they live here once. Each test module keeps its own `pytestmark`.

The web chat page against the running stack (tests/conftest.py's `stack`):
- `open_chat(page, stack)`: the chat page opened and connected; `cid_of(page)`: its conversation id;
- `say(page, text)`: a message typed and sent; `inbound(stack, cid)`: the conversation's stored inbound messages.

The console of a desk process on the 一企一档 enterprises (tests/unit/enterprise_file_helpers.py):
- `desk` (fixture, imported by name into the test module): the desk as its own process (bench/policy_check_api.py,
  no Rasa) on a fresh SQLite database with those enterprises and staff; `(base URL, database URL)`;
- `sign_in(page, base, username)`: a staff member signed in through the login form;
- `NO_OVERFLOW`: a script giving the page's [scrollWidth, clientWidth] (a page must not scroll sideways).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bot.db import read_sessions
from bot.db.schema import Message
from tests.unit.desk_helpers import PASSWORD
from tests.unit.enterprise_file_helpers import populate

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from policy_check_api import desk_process  # noqa: E402 - bench/ is not a package

# ---- the web chat page ---------------------------------------------------------------------------------


def open_chat(page, stack):
    page.goto(stack.settings.desk_url + "/")
    page.wait_for_function("() => window.__yschat && window.__yschat.state.connected === true")


def cid_of(page) -> str:
    return page.evaluate("window.__yschat.state.cid")


def inbound(stack, cid: str) -> list[Message]:
    with read_sessions(stack.settings.effective_database_url)() as s:
        return list(
            s.scalars(
                select(Message).where(Message.conversation_id == cid, Message.direction == "in").order_by(Message.id)
            )
        )


def say(page, text: str) -> None:
    page.fill("#input", text)
    page.press("#input", "Enter")


# ---- the console of a desk process on the 一企一档 enterprises -------------------------------------------

NO_OVERFLOW = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"


@pytest.fixture
def desk(tmp_path):
    from bot.db import migrate
    from bot.network import sync_network

    db = f"sqlite:///{tmp_path / 'enterprises.db'}"
    migrate(db)
    sync_network(db)
    populate(db)
    with desk_process(tmp_path, db) as base:
        yield base, db


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/console/login")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    expect(page).to_have_url(re.compile(r"/console/$"))
