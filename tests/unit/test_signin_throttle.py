"""Console sign-in like a bank's (issue 16, item 3), on a real desk app and database, SQLite and PostgreSQL.

One answer for unknown users, disabled accounts and wrong passwords; throttling per
account+address (pause), per account (growing delays, never for an address the account
signed in from before) and per address; counting that parallel requests cannot get past.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import threading
from datetime import datetime, timezone

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.db import read_sessions
from bot.db.schema import LoginThrottle
from bot.desk.console import auth
from bot.staff import throttle
from bot.staff.accounts import set_active
from tests.clock import Clock as FakeClock
from tests.unit.desk_helpers import PASSWORD, add_staff, audit, console_login, desk_client, login_token

pytestmark = pytest.mark.desk

FLASH = re.compile(r'<div class="flash err" role="alert">([^<]*)</div>')


@dataclasses.dataclass
class Console:
    client: TestClient
    clock: FakeClock
    db: str

    async def token(self, ip: str | None = None) -> str:
        return await login_token(self.client, self.headers(ip))

    @staticmethod
    def headers(ip: str | None) -> dict:
        return {"X-Forwarded-For": ip} if ip else {}

    async def login(self, username: str, password: str = PASSWORD, ip: str | None = None, token: str | None = None):
        return await console_login(self.client, username, password, headers=self.headers(ip), token=token)


async def answer(resp) -> tuple[int, str]:
    """(status, the message shown) of a refused sign-in."""
    m = FLASH.search(await resp.text())
    return resp.status, m.group(1) if m else ""


@pytest.fixture
async def console(db_url, tmp_path):
    clock = FakeClock(datetime.now(timezone.utc).replace(microsecond=0))
    async with desk_client(db_url, tmp_path, clock=clock) as client:
        yield Console(client, clock, db_url)


def counter(db, key):
    with read_sessions(db)() as s:
        row = s.get(LoginThrottle, key)
        return row.failures if row else 0


# ---- one answer -----------------------------------------------------------------------------------


async def test_unknown_disabled_and_wrong_password_get_the_same_answers(console):
    add_staff(console.db, "li", "李明", "fengxi")
    add_staff(console.db, "off", "停用", "fengxi")
    set_active(console.db, "off", False)
    seen = {}
    for name, password, ip in (
        ("li", "wrong-password-1", "198.51.100.1"),
        ("nobody", "wrong-password-1", "198.51.100.2"),
        ("off", PASSWORD, "198.51.100.3"),
    ):
        steps = []
        for _ in range(6):  # warnings, the pause, the refusal during the pause
            steps.append(await answer(await console.login(name, password, ip=ip)))
            console.clock.advance(seconds=10)
        seen[name] = [(status, text.replace(name, "?")) for status, text in steps]
        console.clock.advance(minutes=-1)  # the same clock for each name
    assert seen["li"] == seen["nobody"] == seen["off"], seen
    statuses = [status for status, _ in seen["li"]]
    assert statuses == [401, 401, 401, 401, 401, 429]
    assert "再输错 1 次" in seen["li"][3][1] and "已暂停登录 15 分钟" in seen["li"][4][1]


async def test_unknown_and_disabled_accounts_cost_one_dummy_password_check(console, monkeypatch):
    add_staff(console.db, "off", "停用", "fengxi")
    set_active(console.db, "off", False)
    dummy, real = [], []
    real_dummy, real_verify = auth.dummy_verify, auth.verify_password
    monkeypatch.setattr(auth, "dummy_verify", lambda pw: (dummy.append(pw), real_dummy(pw))[1])
    monkeypatch.setattr(auth, "verify_password", lambda h, pw: (real.append(pw), real_verify(h, pw))[1])
    assert (await console.login("ghost", "whatever-123")).status == 401
    assert (await console.login("off", PASSWORD)).status == 401
    assert dummy == ["whatever-123", PASSWORD] and real == []


# ---- throttling -----------------------------------------------------------------------------------


async def test_a_pause_is_per_address_and_never_keeps_staff_out_elsewhere(console):
    add_staff(console.db, "li", "李明", "fengxi")
    for i in range(5):
        await console.login("li", f"guess-{i}-password", ip="198.51.100.66")
        console.clock.advance(seconds=10)
    status, text = await answer(await console.login("li", ip="198.51.100.66"))  # right password, paused there
    assert status == 429 and "已暂停登录" in text
    ok = await console.login("li", ip="203.0.113.10")  # the member of staff, elsewhere
    assert ok.status == 302
    rows = audit(console.db, "login")
    assert [(r.actor, r.ip) for r in rows] == [("staff:li", "203.0.113.10")]  # the real client address


async def test_account_delays_grow_but_spare_addresses_the_account_signed_in_from(console):
    add_staff(console.db, "li", "李明", "fengxi")
    office = "203.0.113.10"
    assert (await console.login("li", ip=office)).status == 302  # a known address from now on
    for i in range(throttle.ACCOUNT_DELAY_FROM):  # one guess each from many addresses
        r = await console.login("li", "guess-password-x", ip=f"198.51.100.{i + 1}")
        assert r.status == 401
        console.clock.advance(seconds=70)  # past any delay, within the hour
    r = await console.login("li", "guess-password-y", ip="198.51.100.200")
    assert r.status == 401  # the 11th: allowed, but now the account makes strangers wait
    status, text = await answer(await console.login("li", "guess-password-z", ip="198.51.100.201"))
    assert status == 429 and "尝试过于频繁，请 2 秒后再试" in text
    assert (await console.login("li", ip=office)).status == 302  # the office is never slowed
    status, _ = await answer(await console.login("li", ip="192.0.2.50"))  # a new address waits its turn
    assert status == 429
    console.clock.advance(seconds=3)
    assert (await console.login("li", ip="192.0.2.50")).status == 302


async def test_parallel_attempts_from_one_address_are_all_counted(console, monkeypatch):
    """Twelve wrong sign-ins sent at once for twelve accounts, address limit ten: exactly ten are
    checked and counted, two are refused (check-then-count let all twelve through)."""
    monkeypatch.setitem(
        console.client.server.app[auth.ratelimit.LIMITER_KEY].rules,
        "login_ip",
        auth.ratelimit.Rule("login_ip", 10, 900.0),
    )
    ip = "198.51.100.77"
    token = await console.token(ip)
    results = await asyncio.gather(
        *(console.login(f"user{i}", "wrong-password-1", ip=ip, token=token) for i in range(12))
    )
    statuses = sorted(r.status for r in results)
    assert statuses == [401] * 10 + [429] * 2
    assert counter(console.db, throttle.address_key(ip)) == 10
    assert len(audit(console.db, "login_failed")) == 10  # the refused two cost no password check
    # and the limit holds for the next one, right password or not
    add_staff(console.db, "li", "李明", "fengxi")
    status, text = await answer(await console.login("li", ip=ip))
    assert status == 429 and "登录失败次数过多" in text


async def test_parallel_attempts_on_one_account_and_address_stop_at_the_first_delay(console):
    add_staff(console.db, "li", "李明", "fengxi")
    ip = "198.51.100.78"
    token = await console.token(ip)
    results = await asyncio.gather(*(console.login("li", f"wrong-password-{i}", ip=ip, token=token) for i in range(10)))
    # the 3rd counted attempt sets a 2-second delay at once: the other seven wait, uncounted
    assert sorted(r.status for r in results) == [401] * throttle.PAIR_DELAY_FROM + [429] * 7
    assert counter(console.db, throttle.pair_key("li", ip)) == throttle.PAIR_DELAY_FROM


def test_count_attempt_is_atomic_under_threads(db_url):
    """Twenty threads count on one address (limit 8) at the same instant: exactly 8 allowed, counter 8."""
    now = datetime.now(timezone.utc)
    barrier = threading.Barrier(20)
    outcomes = []

    def attempt(i):
        barrier.wait()
        outcomes.append(throttle.count_attempt(db_url, f"user{i}", "198.51.100.9", now, address_rule=(8, 900.0)))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(outcomes) == 20
    assert sum(o.allowed for o in outcomes) == 8
    assert {o.reason for o in outcomes if not o.allowed} == {"address"}
    assert counter(db_url, throttle.address_key("198.51.100.9")) == 8


async def test_a_successful_sign_in_gives_the_address_its_count_back(console):
    add_staff(console.db, "li", "李明", "fengxi")
    ip = "198.51.100.90"
    assert (await console.login("li", "wrong-password-1", ip=ip)).status == 401
    assert (await console.login("li", ip=ip)).status == 302
    assert counter(console.db, throttle.address_key(ip)) == 1
    assert counter(console.db, throttle.pair_key("li", ip)) == 0  # the pair starts afresh


async def test_idle_counters_are_tidied_away(console):
    add_staff(console.db, "li", "李明", "fengxi")
    for i in range(3):  # a spray of made-up names from one address
        assert (await console.login(f"ghost{i}", "wrong-password-1", ip="198.51.100.120")).status == 401
    with read_sessions(console.db)() as s:
        assert s.scalar(select(func.count()).select_from(LoginThrottle)) == 7  # 3 pairs, 3 accounts, 1 address
    console.clock.advance(days=3)
    assert (await console.login("li", ip="203.0.113.10")).status == 302
    with read_sessions(console.db)() as s:
        left = list(s.scalars(select(LoginThrottle)))
    assert [(r.key, r.failures) for r in left] == [("addr:203.0.113.10", 0)]


async def test_pauses_of_one_pair_grow_and_are_forgotten_after_a_quiet_day(console):
    add_staff(console.db, "li", "李明", "fengxi")
    ip = "198.51.100.130"

    async def round_of_five() -> str:
        for i in range(5):
            status, text = await answer(await console.login("li", f"guess-{i}-password", ip=ip))
            assert status == 401, text
            console.clock.advance(seconds=throttle.ACCOUNT_DELAY_MAX + 1)  # past any delay (the account's too)
        return text

    assert "已暂停登录 15 分钟" in await round_of_five()
    console.clock.advance(minutes=15)
    assert "已暂停登录 30 分钟" in await round_of_five()
    console.clock.advance(minutes=20)  # not yet: 30 minutes this time
    status, text = await answer(await console.login("li", ip=ip))
    assert status == 429 and "已暂停登录" in text
    console.clock.advance(minutes=10)
    assert "已暂停登录 1 小时" in await round_of_five()
    assert [throttle.pair_pause(n * 5).total_seconds() // 60 for n in (1, 2, 3, 4, 10)] == [15, 30, 60, 120, 24 * 60]
    console.clock.advance(hours=25)  # a quiet day: the count starts afresh
    status, text = await answer(await console.login("li", "guess-x-password", ip=ip))
    assert status == 401 and text == "用户名或密码错误。"
    console.clock.advance(seconds=10)
    assert (await console.login("li", ip=ip)).status == 302


async def test_a_sign_in_and_parallel_wrong_attempts_of_the_same_account_never_fail(console):
    """The success path locks its rows in the same order as counting: no deadlock, no 500."""
    add_staff(console.db, "li", "李明", "fengxi")
    ip = "198.51.100.140"
    for _ in range(4):
        console.client.session.cookie_jar.clear()
        token = await console.token(ip)  # a success ends the sign-in form's token
        results = await asyncio.gather(
            console.login("li", ip=ip, token=token),
            *(console.login("li", f"wrong-password-{i}", ip=ip, token=token) for i in range(3)),
        )
        assert {r.status for r in results} <= {302, 401, 429}
        assert 302 in {r.status for r in results} or 429 in {r.status for r in results}
        console.clock.advance(seconds=throttle.ACCOUNT_DELAY_MAX + 1)
