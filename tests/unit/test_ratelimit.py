"""Per-sender rate limits: the sliding window in process and in Redis, failing open when Redis is down."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid

import pytest

from bot.desk import ratelimit
from bot.desk.keys import SETTINGS_KEY
from bot.desk.ratelimit import Limiter, MemoryBackend, RedisBackend, Rule, parse_rule, rules_from_settings
from bot.settings import Settings
from tests.clock import Clock

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def test_rules_from_the_settings():
    assert parse_rule("chat", "", (20, 60)) == Rule("chat", 20, 60.0)
    assert parse_rule("chat", "5/10", (20, 60)) == Rule("chat", 5, 10.0)
    assert parse_rule("chat", "off", (20, 60)).off and parse_rule("chat", "0", (20, 60)).off
    for bad in ("x/10", "5/0", "-1/10", "5/abc"):
        with pytest.raises(ValueError, match="限流设置"):
            parse_rule("chat", bad, (20, 60))
    rules = rules_from_settings(Settings.from_env({"RATE_LIMIT_CHAT": "3/30", "RATE_LIMIT_POLICY_IP": "off"}))
    assert rules["chat"] == Rule("chat", 3, 30.0) and rules["login_ip"] == Rule("login_ip", 10, 900.0)
    assert rules["policy_ip"].off
    with pytest.raises(SystemExit, match="RATE_LIMIT_WECHAT"):
        Settings.from_env({"RATE_LIMIT_WECHAT": "lots"})


async def test_memory_sliding_window():
    clock = Clock(1000.0)
    lim = Limiter({"r": Rule("r", 3, 10)}, MemoryBackend(clock))
    assert [(await lim.hit("r", "a")).allowed for _ in range(4)] == [True, True, True, False]
    assert (await lim.hit("r", "b")).allowed  # per key
    refused = await lim.hit("r", "a")
    assert not refused.allowed and refused.retry_after == pytest.approx(10) and refused.retry_after_header == "10"
    clock.now += 4
    assert not (await lim.hit("r", "a")).allowed
    assert (await lim.hit("r", "a")).retry_after == pytest.approx(6)
    clock.now += 6  # the first three leave the window together
    assert [(await lim.hit("r", "a")).allowed for _ in range(4)] == [True, True, True, False]


async def test_memory_check_does_not_count_and_memory_is_bounded():
    clock = Clock(1000.0)
    backend = MemoryBackend(clock, max_keys=100)
    lim = Limiter({"r": Rule("r", 2, 10)}, backend)
    for _ in range(5):
        assert (await lim.check("r", "x")).allowed
    assert len(backend) == 0
    await lim.hit("r", "x")
    await lim.hit("r", "x")
    assert not (await lim.check("r", "x")).allowed
    for i in range(1000):
        await lim.hit("r", f"k{i}")
    assert len(backend) == 100


async def test_off_rule_and_empty_key_always_allowed():
    lim = Limiter({"r": Rule("r", 0, 0)}, MemoryBackend())
    assert all([(await lim.hit("r", "a")).allowed for _ in range(100)])
    lim = Limiter({"r": Rule("r", 1, 10)}, MemoryBackend())
    assert (await lim.hit("r", "")).allowed and (await lim.hit("r", "")).allowed


# ---- Redis ---------------------------------------------------------------------------------------


@pytest.fixture
def redis_url():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({exc}); set CI=true to make this a failure")
    return REDIS_URL


@pytest.fixture
def prefix(redis_url):
    import redis

    p = f"test-rl-{uuid.uuid4().hex[:10]}"
    yield p
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{p}:*"))
    if keys:
        client.delete(*keys)


async def test_redis_window_is_shared_between_limiters(redis_url, prefix):
    """Two desk instances (two limiters) count against the same window."""
    rule = {"r": Rule("r", 3, 1.5)}
    a, b = Limiter(rule, RedisBackend(redis_url, prefix)), Limiter(rule, RedisBackend(redis_url, prefix))
    results = [(await lim.hit("r", "conv-1")).allowed for lim in (a, b, a, b)]
    assert results == [True, True, True, False]
    refused = await a.hit("r", "conv-1")
    assert not refused.allowed and 0 < refused.retry_after <= 1.5
    assert (await b.hit("r", "conv-2")).allowed
    import redis

    keys = sorted(k.decode() for k in redis.Redis.from_url(redis_url).scan_iter(f"{prefix}:*"))
    assert keys == [f"{prefix}:rl:r:conv-1", f"{prefix}:rl:r:conv-2"]
    ttl = redis.Redis.from_url(redis_url).pttl(f"{prefix}:rl:r:conv-1")
    assert 0 < ttl <= 1500  # keys expire with their window
    await asyncio.sleep(1.6)
    assert (await a.hit("r", "conv-1")).allowed


async def test_redis_concurrent_hits_are_atomic(redis_url, prefix):
    lim = Limiter({"r": Rule("r", 10, 30)}, RedisBackend(redis_url, prefix))
    results = await asyncio.gather(*(lim.hit("r", "burst") for _ in range(50)))
    assert sum(d.allowed for d in results) == 10


async def test_redis_check_does_not_count(redis_url, prefix):
    lim = Limiter({"r": Rule("r", 1, 30)}, RedisBackend(redis_url, prefix))
    for _ in range(3):
        assert (await lim.check("r", "ip")).allowed
    assert (await lim.hit("r", "ip")).allowed
    assert not (await lim.check("r", "ip")).allowed


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_redis_down_fails_open_fast(caplog):
    backend = RedisBackend(f"redis://127.0.0.1:{_closed_port()}/0", "test-down")
    lim = Limiter({"r": Rule("r", 1, 60)}, backend)
    started = time.monotonic()
    with caplog.at_level("WARNING", logger="bot.desk.ratelimit"):
        results = [(await lim.hit("r", "x")).allowed for _ in range(20)]
    assert results == [True] * 20  # open: messages keep flowing
    assert time.monotonic() - started < 5
    assert backend.failures == 1  # then not asked again during the cool-down
    warnings = [r for r in caplog.records if "Redis 不可用" in r.getMessage()]
    assert len(warnings) == 1


async def test_redis_unanswering_fails_open_within_the_budget():
    """A Redis that accepts connections but never answers (a hung server) costs at most the budget."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        lim = Limiter({"r": Rule("r", 1, 60)}, RedisBackend(f"redis://127.0.0.1:{port}/0", "test-hung"))
        started = time.monotonic()
        assert (await lim.hit("r", "x")).allowed
        assert time.monotonic() - started < ratelimit.REDIS_BUDGET + 1
    finally:
        server.close()


def test_client_address_behind_a_trusted_proxy(monkeypatch):
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    app = web.Application()

    def req(peer, xff=None):
        headers = {"X-Forwarded-For": xff} if xff else {}
        r = make_mocked_request("GET", "/", headers=headers, app=app)
        monkeypatch.setattr(type(r), "remote", property(lambda self: peer))
        return r

    def trusting(env: dict) -> None:  # a desk whose environment sets DESK_TRUSTED_PROXIES so
        nonlocal app
        app = web.Application()
        app[SETTINGS_KEY] = Settings.from_env(env)

    trusting({})  # default: a proxy on this host
    assert ratelimit.client_address(req("203.0.113.9", "1.2.3.4")) == "203.0.113.9"  # header ignored
    assert ratelimit.client_address(req("127.0.0.1", "198.51.100.7")) == "198.51.100.7"
    assert ratelimit.client_address(req("127.0.0.1")) == ""  # a local tool: no per-address limit
    trusting({"DESK_TRUSTED_PROXIES": "none"})
    assert ratelimit.client_address(req("127.0.0.1", "198.51.100.7")) == "127.0.0.1"
    trusting({"DESK_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"})
    assert ratelimit.client_address(req("10.0.0.2", "198.51.100.7")) == "198.51.100.7"
    # a client-supplied first entry cannot pick the address: the nearest untrusted hop counts
    assert ratelimit.client_address(req("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.5")) == "198.51.100.7"
    assert ratelimit.client_address(req("203.0.113.9", "1.2.3.4")) == "203.0.113.9"  # peer not trusted
