"""Set-up for the unit tests that start the desk's web application in-process (the modules marked
`pytestmark = pytest.mark.desk`).

Those modules each carried a copy of the same plumbing: Settings for a test desk, the aiohttp test server started
and closed, staff accounts with a known password, and the console's sign-in (the login page's CSRF token, the form,
the redirect). Some imported it from other test modules, which tied test files to each other. It lives here once;
what a module tests stays in the module. A module using this one still marks itself `desk` (tests/conftest.py fails
an unmarked unit test that creates the desk app).

- `desk_app(db_url, var_dir, ...)`: the desk's app on a test database;
- `desk_client(...)`: that app behind an aiohttp TestClient (`async with desk_client(...) as client:`);
- `TestDesk`: one app and several browsers with cookies of their own (staff of two nodes signed in at once);
- `add_staff`: an account with `PASSWORD`; `console_login`, `sign_in`, `login_token`, `csrf_token`: the console's
  sign-in as a browser does it, and the CSRF tokens of its forms;
- `audit`: the console's audit rows;
- `chat_session`: a web chat conversation opened on the desk.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable

from aiohttp import ClientSession, CookieJar, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.db import read_sessions
from bot.db.schema import ConsoleAudit
from bot.desk.app import create_app
from bot.desk.console import auth
from bot.settings import Settings
from bot.staff.accounts import create_staff
from tests.settings_env import with_env

PASSWORD = "Qcy-desk-test-2026"  # of every account add_staff creates; the sign-in helpers' default
LOGIN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')  # the login form's hidden field
SESSION_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')  # on every signed-in console page


def desk_app(
    db_url: str, var_dir, *, clock: Callable | None = None, env: dict | None = None, **fields
) -> web.Application:
    """The desk's app on `db_url` with its files under `var_dir`. Rasa and the action server are port 9, where
    nothing listens (a chat message is stored and left pending, as during an outage); the desk's own scheduler is
    off (it would act by the real clock). `fields` replace Settings fields, `env` sets variables as the desk reads
    them (tests.settings_env.with_env), `clock` is the console's clock (a callable returning now)."""
    fields = {
        "database_url": db_url,
        "var_dir": var_dir,
        "rasa_port": 9,
        "actions_port": 9,
        "rasa_token": "t",
        "desk_scheduler": False,
        **fields,
    }
    settings = dataclasses.replace(Settings(), **fields)
    app = create_app(with_env(settings, **env) if env else settings)
    if clock is not None:
        app[auth.CLOCK_KEY] = clock
    return app


def desk_client(db_url: str, var_dir, **options) -> TestClient:
    """A test client for `desk_app(db_url, var_dir, **options)`, not started yet: `async with desk_client(...) as
    client:` serves the app and closes it afterwards. `client.app` is the app, `client.db` the database URL."""
    client = TestClient(TestServer(desk_app(db_url, var_dir, **options)))
    client.db = db_url
    return client


# ---- staff and the console's sign-in ----------------------------------------------------------------


def add_staff(db: str, username: str, name: str, node: str, role: str = "staff"):
    """A staff account (bot.staff.accounts.create_staff) that signs in with PASSWORD."""
    return create_staff(db, username, name, node, role, PASSWORD)


async def login_token(client, headers: dict | None = None) -> str:
    """The login form's CSRF token (getting the page also sets the cookie it belongs to)."""
    page = await client.get("/console/login", headers=headers or {})
    return LOGIN_TOKEN.search(await page.text()).group(1)


async def console_login(
    client, username: str, password: str = PASSWORD, *, headers: dict | None = None, token=None, follow=False
):
    """Sign in as a browser does: a fresh cookie jar, the login page's CSRF token, the form posted. Returns the
    response: 302 to /console/ when accepted (followed only if `follow`). With `token` the form is posted with that
    token and the cookies are kept."""
    if token is None:
        client.session.cookie_jar.clear()
        token = await login_token(client, headers)
    return await client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/console/"},
        headers=headers or {},
        allow_redirects=follow,
    )


async def csrf_token(client, page: str = "/console/tickets") -> str:
    """The signed-in session's CSRF token, as the console page `page` carries it for its forms."""
    resp = await client.get(page)
    assert resp.status == 200, resp.status
    return SESSION_TOKEN.search(await resp.text()).group(1)


async def sign_in(client, username: str, password: str = PASSWORD, *, csrf_from: str = "/console/") -> str:
    """Sign `username` in (it must be accepted) and return the session's CSRF token, read from `csrf_from`."""
    r = await console_login(client, username, password)
    assert r.status == 302, await r.text()
    return await csrf_token(client, csrf_from)


def audit(db: str, action: str | None = None) -> list[ConsoleAudit]:
    """The console's audit rows in the order written; only those of `action` if given."""
    with read_sessions(db)() as s:
        q = select(ConsoleAudit).order_by(ConsoleAudit.id)
        if action:
            q = q.where(ConsoleAudit.action == action)
        return list(s.scalars(q))


async def chat_session(client, headers: dict | None = None) -> tuple[str, str]:
    """A new web chat conversation, opened as the chat page opens one: (conversation_id, its key)."""
    r = await client.post("/api/chat/session", headers=headers or {})
    assert r.status == 200, r.status
    body = await r.json()
    return body["conversation_id"], body["key"]


# ---- several browsers on one desk -------------------------------------------------------------------


@dataclasses.dataclass
class Browser:
    """One browser (cookies of its own) on a test desk; `client` sends its requests."""

    client: TestClient  # or, for TestDesk's second browser on, another cookie jar on the same server

    async def login(self, username: str, password: str = PASSWORD, headers: dict | None = None):
        """console_login: the response, 302 when accepted."""
        return await console_login(self.client, username, password, headers=headers)

    async def csrf(self) -> str:
        return await csrf_token(self.client)

    async def post(self, path: str, data: dict | None = None, token: bool = True, headers: dict | None = None):
        """A console form posted with the session's CSRF token (without one if not `token`); no redirect followed."""
        data = dict(data or {})
        if token:
            data["csrf_token"] = await self.csrf()
        return await self.client.post(path, data=data, headers=headers or {}, allow_redirects=False)


class TestDesk:
    """The desk's app on a test database (`desk_app`) for browsers of their own: the first `browser()` starts the
    test server, the next ones are other cookie jars on it; `close()` closes them all."""

    __test__ = False  # a helper, not a test class

    def __init__(self, db_url: str, var_dir, **options):
        self.db = db_url
        self._client = desk_client(db_url, var_dir, **options)
        self.app = self._client.app
        self.browsers: list[Browser] = []

    async def browser(self) -> Browser:
        if self.browsers:
            client = _OtherBrowser(self._client)
        else:
            await self._client.start_server()
            client = self._client
        b = Browser(client)
        self.browsers.append(b)
        return b

    async def close(self) -> None:
        for b in reversed(self.browsers):
            await b.client.close()


class _OtherBrowser:
    """Requests to the same test server with a cookie jar of its own."""

    def __init__(self, first: TestClient):
        self.first = first
        self.session = ClientSession(cookie_jar=CookieJar(unsafe=True))

    async def get(self, path: str, **kw):
        return await self.session.get(self.first.make_url(path), **kw)

    async def post(self, path: str, **kw):
        return await self.session.post(self.first.make_url(path), **kw)

    async def close(self) -> None:
        await self.session.close()
