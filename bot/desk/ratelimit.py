"""Per-sender rate limits of the desk: web chat, WeChat, console sign-in.

A limit is "at most N events per W seconds" for one key (a conversation, an IP address,
a WeChat openid), counted over a sliding window. Two backends share that meaning:

- in-process (no REDIS_URL): a deque of timestamps per key, idle keys forgotten, so
  memory stays bounded whatever the number of senders;
- Redis (REDIS_URL set): a sorted set per key, updated by one Lua script (atomic, and
  timed by Redis's own clock), so every desk instance counts against the same window.

When Redis does not answer, the limiter fails OPEN: the event is allowed and a warning
is logged (at most once a minute). A user's message must not be lost or delayed because
only the limiter is unavailable; the per-account sign-in lockout (in the database) still
protects the console. After a failure Redis is not asked again for a few seconds, so an
outage costs each request nothing rather than a timeout.

Limits come from the app's Settings (bot/settings.py), set in the environment as "count/seconds" ("off" or
"0" disables one): RATE_LIMIT_CHAT, RATE_LIMIT_CHAT_IP, RATE_LIMIT_SESSION_IP, RATE_LIMIT_WECHAT,
RATE_LIMIT_LOGIN_IP, RATE_LIMIT_FILE_IP, RATE_LIMIT_POLICY_IP (see README "Configuration"). Behind a reverse
proxy, set DESK_TRUSTED_PROXIES (default: loopback) so the client address is read from X-Forwarded-For.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass

from aiohttp import web

from bot.desk.keys import SETTINGS_KEY
from bot.redis_client import redis_for
from bot.settings import DEFAULT_TRUSTED_PROXIES, Settings, parse_rate

log = logging.getLogger(__name__)

REDIS_BUDGET = 1.0  # seconds one limiter call may wait for Redis before failing open
REDIS_COOLDOWN = 5.0  # after a Redis failure, fail open without asking for this long
MAX_KEYS = 100_000  # in-process: keys remembered at most (oldest dropped first)
TOO_MANY = "发送太频繁，请稍后再试"


@dataclass(frozen=True)
class Rule:
    """At most `limit` events per `window` seconds per key; limit 0 = no limit."""

    name: str
    limit: int
    window: float

    @property
    def off(self) -> bool:
        return self.limit <= 0 or self.window <= 0


# rule name → the Settings field holding its (count, seconds)
RULE_SETTINGS = {
    "chat": "rate_limit_chat",  # web chat messages per conversation
    "chat_ip": "rate_limit_chat_ip",  # web chat messages per client address
    "session_ip": "rate_limit_session_ip",  # new web conversations per client address
    "wechat": "rate_limit_wechat",  # WeChat / WeCom messages per user
    "login_ip": "rate_limit_login_ip",  # failed console sign-ins per client address
    "file_ip": "rate_limit_file_ip",  # web chat files per client address (bot/desk/files.py)
    "policy_ip": "rate_limit_policy_ip",  # POST /api/policy-check per client address (bot/desk/policy_check.py)
}


def parse_rule(name: str, raw: str, default: tuple[int, float]) -> Rule:
    """'20/60' → 20 per 60 s; '' → the default; 'off' or '0' → no limit. ValueError names the problem."""
    return Rule(name, *parse_rate(raw, default))


def rule_from_settings(name: str, settings: Settings | None) -> Rule:
    """The rule `name` as the settings set it (the Settings default for an app without settings)."""
    return Rule(name, *getattr(settings or Settings(), RULE_SETTINGS[name]))


def rules_from_settings(settings: Settings | None) -> dict[str, Rule]:
    return {name: rule_from_settings(name, settings) for name in RULE_SETTINGS}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float = 0.0  # seconds until the next event would be allowed (when refused)

    @property
    def retry_after_header(self) -> str:
        return str(max(1, int(self.retry_after + 0.999)))


ALLOW = Decision(True)


# ---- backends -------------------------------------------------------------------------------------


class MemoryBackend:
    """Sliding window log per key in this process."""

    def __init__(self, clock=time.monotonic, max_keys: int = MAX_KEYS) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._log: OrderedDict[str, deque] = OrderedDict()

    async def hit(self, rule: Rule, key: str, count: bool = True) -> Decision:
        now = self.clock()
        k = f"{rule.name}:{key}"
        q = self._log.get(k)
        if q is None:
            if not count:
                return ALLOW
            q = self._log[k] = deque()
        self._log.move_to_end(k)
        while q and now - q[0] >= rule.window:
            q.popleft()
        if len(q) >= rule.limit:
            return Decision(False, q[0] + rule.window - now)
        if count:
            q.append(now)
            while len(self._log) > self.max_keys:
                self._log.popitem(last=False)
        elif not q:
            del self._log[k]
        return ALLOW

    def __len__(self) -> int:
        return len(self._log)


# KEYS[1] the window's sorted set; ARGV: window ms, limit, count (1/0), a unique member.
# Redis's clock (TIME) so instances with skewed clocks agree. Returns {allowed, retry_ms}.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now}
end
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
end
return {1, 0}
"""


class RedisBackend:
    """Sliding window log per key in Redis (shared by every desk instance); fails open."""

    def __init__(self, url: str, prefix: str, budget: float = REDIS_BUDGET, cooldown: float = REDIS_COOLDOWN) -> None:
        self.url, self.prefix = url, prefix
        self.budget, self.cooldown = budget, cooldown
        self._down_until = 0.0
        self._warned_at = float("-inf")
        self.failures = 0

    async def hit(self, rule: Rule, key: str, count: bool = True) -> Decision:
        if time.monotonic() < self._down_until:
            return ALLOW

        try:
            client = redis_for(self.url)
            allowed, retry_ms = await asyncio.wait_for(
                client.eval(
                    _SCRIPT,
                    1,
                    f"{self.prefix}:rl:{rule.name}:{key}",
                    int(rule.window * 1000),
                    rule.limit,
                    "1" if count else "0",
                    uuid.uuid4().hex,
                ),
                self.budget,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any Redis trouble: fail open (module docstring)
            self._failed(exc)
            return ALLOW
        return ALLOW if int(allowed) else Decision(False, max(0, int(retry_ms)) / 1000)

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        now = time.monotonic()
        self._down_until = now + self.cooldown
        if now - self._warned_at >= 60:
            self._warned_at = now
            log.warning(
                "限流用的 Redis 不可用（%s: %s），暂不限流（放行），%d 秒后重试",
                type(exc).__name__,
                exc,
                int(self.cooldown),
            )


# ---- the limiter of an app ------------------------------------------------------------------------


class Limiter:
    """The desk's limits and the backend that counts them."""

    def __init__(self, rules: dict[str, Rule], backend) -> None:
        self.rules, self.backend = rules, backend

    async def hit(self, rule_name: str, key: str) -> Decision:
        """Count one event for `key`; refused (not counted) when the window is full."""
        rule = self.rules[rule_name]
        if rule.off or not key:
            return ALLOW
        return await self.backend.hit(rule, key, True)

    async def check(self, rule_name: str, key: str) -> Decision:
        """Whether one more event would be allowed, without counting it (sign-in: count failures only)."""
        rule = self.rules[rule_name]
        if rule.off or not key:
            return ALLOW
        return await self.backend.hit(rule, key, False)


def make_limiter(settings: Settings | None = None) -> Limiter:
    """The limits of `settings`, counted in Redis when they name one (else in this process)."""
    settings = settings or Settings()
    backend = RedisBackend(settings.redis_url, settings.redis_prefix) if settings.redis_url else MemoryBackend()
    return Limiter(rules_from_settings(settings), backend)


LIMITER_KEY = web.AppKey("rate_limiter", Limiter)


def setup(app: web.Application) -> Limiter:
    """The app's limiter (created once; Redis when the settings name one)."""
    if LIMITER_KEY not in app:
        app[LIMITER_KEY] = make_limiter(app.get(SETTINGS_KEY))
    return app[LIMITER_KEY]


def limiter(app: web.Application) -> Limiter:
    return app[LIMITER_KEY] if LIMITER_KEY in app else setup(app)


# ---- the client's address -------------------------------------------------------------------------


def _trusted_proxies(app: web.Application) -> list:
    """The networks of the app's DESK_TRUSTED_PROXIES setting (default loopback)."""
    raw = getattr(app.get(SETTINGS_KEY), "trusted_proxies", DEFAULT_TRUSTED_PROXIES)
    return [] if raw.strip().lower() in ("", "none", "off") else _parse_proxies(raw)


@functools.lru_cache(maxsize=8)
def _parse_proxies(raw: str) -> list:
    nets = []
    for part in raw.replace(",", " ").split():
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            log.warning("DESK_TRUSTED_PROXIES 中的地址无效，已忽略：%s", part)
    return nets


def _trusted(addr: str, nets: list) -> bool:
    try:
        ip = ipaddress.ip_address(addr.strip())
    except ValueError:
        return False
    return any(ip in n for n in nets)


def client_address(request: web.Request) -> str:
    """The sender's IP for per-address limits.

    The peer, unless the peer is a trusted proxy (DESK_TRUSTED_PROXIES; default loopback,
    where the desk's own reverse proxy sits): then the nearest untrusted address in
    X-Forwarded-For (a client cannot choose it by sending its own header). A trusted peer
    without that header is a local tool (health checks, benchmarks): "" = no per-address limit.
    """
    peer = request.remote or ""
    nets = _trusted_proxies(request.app)
    if not nets or not _trusted(peer, nets):
        return peer[:64]
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, nets):
            return hop[:64]
    return hops[0][:64] if hops else ""
