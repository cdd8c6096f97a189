"""The desk under fuzz and the hypothesis strategies of the property tests of its public HTTP endpoints
(tests/unit/test_desk_fuzz.py, and test_privacy_fuzz.py for the privacy endpoints).

test_privacy_fuzz.py imported these from test_desk_fuzz.py, which tied the two test files together (test modules
don't import each other); they live here once. A module using them still marks itself `desk` and `slow`.

- `desk` (module-scoped fixture, imported by name into the test module): a real desk app on a fresh SQLite database,
  WeChat Official Account on, rate limits off, Rasa a closed port, serving HTTP on a free port in its own thread;
  a `Desk` with `request(...)` (within `TIMEOUT`) and `session()` (a new web chat conversation and its key);
- `FUZZ`: the hypothesis settings; `texts`, `short_texts`, `json_values`, `query_params`: the strategies, with
  the hostile strings of `SPECIAL`;
- `qs(params)`: a query string that may carry lone surrogates; `assert_sane(r)`: no 5xx, errors in Chinese;
- `MP_TOKEN`, `MP_KEY`, `MP_APPID`: the Official Account the desk is configured with.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import threading
import time

import numpy  # noqa: F401 - imported before the desk's thread may import it while hypothesis looks for it
import pytest
import requests
from aiohttp import web
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from bot.desk import gateway
from bot.runtime.supervisor import free_port
from bot.settings import RATE_FIELDS
from tests.unit.desk_helpers import desk_app

TIMEOUT = 15
CJK = re.compile(r"[\u3400-\u9fff]")
MP_TOKEN, MP_KEY, MP_APPID = "fuzztoken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx1234567890abcdef"
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SPECIAL = [
    "你好",
    "😀👍🏻🇨🇳",
    "a\x00b",
    "\x00",
    "   ",
    "\u200b\u200d",
    "\u202eevil",
    "高新技術企業認定怎麼辦",
    "１３８１２３４５６７８",
    "'; DROP TABLE messages; --",
    "<script>alert(1)</script>",
    "\r\n\r\nX-Injected: 1",
    "\ud800",
    "x\udfffy",
    "字" * 2000,
    "字" * 2001,
    "%s%n%x{0}{{}}",
    "../../etc/passwd",
    "\\u0000",
]
texts = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(max_size=60),
    st.text(st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010), max_size=8),  # surrogates around
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=4), st.integers(400, 700)),
)
short_texts = st.sampled_from(SPECIAL[:14]) | st.text(max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | short_texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(short_texts, inner, max_size=4),
    max_leaves=10,
)
query_params = st.dictionaries(
    st.sampled_from(
        [
            "conversation_id",
            "after",
            "key",
            "x",
            "signature",
            "timestamp",
            "nonce",
            "echostr",
            "encrypt_type",
            "msg_signature",
            "openid",
            "next",
            "q",
            "page",
        ]
    )
    | st.text(max_size=10),
    short_texts | st.integers().map(str),
    max_size=5,
)


# ---- the desk under test ------------------------------------------------------------------------


@dataclasses.dataclass
class Desk:
    url: str
    app: web.Application
    loop: asyncio.AbstractEventLoop

    def request(self, method: str, path: str, **kw) -> requests.Response:
        started = time.monotonic()
        r = requests.request(method, self.url + path, timeout=TIMEOUT, allow_redirects=False, **kw)
        assert time.monotonic() - started < TIMEOUT
        return r

    def session(self) -> tuple[str, str]:
        body = self.request("POST", "/api/chat/session").json()
        return body["conversation_id"], body["key"]


def qs(params: dict) -> str:
    """A query string, sending lone surrogates as the raw (invalid UTF-8) bytes an attacker could send."""
    from urllib.parse import urlencode

    return "?" + urlencode(
        {k.encode("utf-8", "surrogatepass"): v.encode("utf-8", "surrogatepass") for k, v in params.items()}
    )


def assert_sane(r: requests.Response) -> None:
    """No 5xx; an error says what went wrong in Chinese."""
    assert r.status_code < 500, (r.status_code, r.text[:300])
    if r.status_code >= 400:
        if r.headers.get("Content-Type", "").startswith("application/json"):
            assert CJK.search(r.json()["message"]), (r.status_code, r.text[:300])
        else:
            assert CJK.search(r.text), (r.status_code, r.text[:300])


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    from bot.db import migrate
    from bot.network import sync_network

    tmp = tmp_path_factory.mktemp("fuzz")
    db = f"sqlite:///{tmp / 'fuzz.db'}"
    migrate(db)
    sync_network(db)
    closed = free_port()
    # the limits have their own tests; here every example must reach the handlers
    no_limits = {field.upper(): "off" for field in RATE_FIELDS}  # RATE_LIMIT_CHAT=off, …
    env = dict(
        WECHAT_MP_TOKEN=MP_TOKEN,
        WECHAT_MP_AES_KEY=MP_KEY,
        WECHAT_MP_APPID=MP_APPID,
        WECHAT_TIMESTAMP_WINDOW="0",
        **no_limits,
    )
    app = desk_app(db, tmp, env=env, rasa_port=closed, actions_port=closed)
    app[gateway.GATEWAY_KEY].retry_interval = 3600
    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner = web.AppRunner(app)

    async def start():
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    assert ready.wait(30)
    yield Desk(f"http://127.0.0.1:{port}", app, loop)
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
