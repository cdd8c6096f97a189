"""POST /api/policy-check: 政策体检 for other systems and the web page.

JSON in: an enterprise's figures, every field optional (bot.policy.profile: registered_on,
employees, tech_staff, revenue[], rd_expense[], rd_domestic_share, hightech_revenue_share,
total_assets, taxable_income, ip{…}, industry). JSON out: {"results": [{"policy", "name",
"verdict", "checks": [{"criterion", "required", "value", "pass"}], "citation", "next_step"}]},
plus "not_applied" (policies out of force today, with the reason) when there are any.

Errors are JSON {"error": code, "message": "<Chinese>", "fields": [...]}: 400 for a body that
is not a JSON object, bad JSON, a non-JSON content type or a bad field (the message names the
field); 413 over MAX_BODY; 429 over the per-address limit RATE_LIMIT_POLICY_IP (default 60/60,
counted like the web chat's, in Redis when REDIS_URL is set); 503 when the rule files do not
validate. Nothing is stored: the figures live only for the request, and only their count is logged.

The rules are read from KNOWLEDGE_DIR/policies and re-read when a file there changes (checked at
most every RELOAD_CHECK seconds); a broken edit keeps the last good rules and is logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Callable, Optional

from aiohttp import web

from bot import clock
from bot.desk import ratelimit
from bot.desk.chat import COMMON_HEADERS, too_many
from bot.desk.keys import SETTINGS_KEY
from bot.policy import PolicyError, ProfileError, RuleSet, check, load_rules, parse_profile
from bot.policy.loader import POLICIES_DIR

log = logging.getLogger(__name__)

PATH = "/api/policy-check"
MAX_BODY = 16 * 1024
MAX_DEPTH = 8  # nesting of the body; the API's own shape needs 3
RELOAD_CHECK = 2.0  # seconds between looks at the rule files
RULE_NAME = "policy_ip"  # its limit: Settings.rate_limit_policy_ip (RATE_LIMIT_POLICY_IP)
UNAVAILABLE = "政策体检暂时不可用（政策规则加载失败），请稍后再试或联系服务专员"


class Rules:
    """The rule set, reloaded when the files change; the last good set survives a broken edit."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.rules: Optional[RuleSet] = None
        self.error = ""
        self._sig: tuple = ()
        self._looked = 0.0
        self._lock = threading.Lock()
        self._load(self._signature())

    def _folder(self) -> Path:
        sub = self.directory / POLICIES_DIR
        return sub if sub.is_dir() else self.directory

    def _signature(self) -> tuple:
        try:
            return tuple(
                sorted(
                    (p.name, p.stat().st_mtime_ns, p.stat().st_size)
                    for p in self._folder().iterdir()
                    if p.suffix in (".yml", ".yaml")
                )
            )
        except OSError:
            return ()

    def _load(self, sig: tuple) -> None:
        self._sig = sig
        try:
            self.rules, self.error = load_rules(self.directory), ""
            log.info("policy rules loaded: %s", ", ".join(self.rules.ids))
        except PolicyError as exc:
            self.error = str(exc)
            log.error("%s%s", exc, "（继续使用上一版规则）" if self.rules else "")

    def get(self) -> Optional[RuleSet]:
        now = time.monotonic()
        if now - self._looked >= RELOAD_CHECK:
            with self._lock:
                self._looked = now
                sig = self._signature()
                if sig != self._sig:
                    self._load(sig)
        return self.rules


RULES_KEY = web.AppKey("policy_rules", Rules)
TODAY_KEY = web.AppKey("policy_today", Callable)  # injectable clock (tests)


def _error(status_class, code: str, message: str, fields: Optional[list] = None) -> web.HTTPException:
    body = {"error": code, "message": message, "fields": fields or []}
    return status_class(
        text=json.dumps(body, ensure_ascii=False), content_type="application/json", headers=COMMON_HEADERS
    )


def _too_large(size: int) -> web.HTTPException:
    body = {"error": "too_large", "message": f"请求内容过大（最多 {MAX_BODY // 1024} KB）", "fields": ["(body)"]}
    return web.HTTPRequestEntityTooLarge(
        MAX_BODY,
        size,
        text=json.dumps(body, ensure_ascii=False),
        content_type="application/json",
        headers=COMMON_HEADERS,
    )


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _depth(value, limit: int, level: int = 1) -> bool:
    """True when the value nests no deeper than `limit`."""
    if level > limit:
        return False
    if isinstance(value, dict):
        return all(_depth(v, limit, level + 1) for v in value.values())
    if isinstance(value, list):
        return all(_depth(v, limit, level + 1) for v in value)
    return True


async def _read_body(request: web.Request) -> dict:
    ctype = request.content_type or ""
    if request.headers.get("Content-Type") and ctype != "application/json" and not ctype.endswith("+json"):
        raise _error(
            web.HTTPBadRequest,
            "bad_content_type",
            f"请求内容应为 JSON（Content-Type: application/json），收到的是 {ctype[:60]}",
            ["(body)"],
        )
    if (request.content_length or 0) > MAX_BODY:
        raise _too_large(request.content_length)
    chunks, size = [], 0
    while True:  # a chunked body has no length: read until the end or the limit
        chunk = await request.content.read(MAX_BODY + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY:
            raise _too_large(size)
    raw = b"".join(chunks)
    if not raw.strip():
        raise _error(web.HTTPBadRequest, "bad_json", '请求内容为空，应为 JSON 对象，例如 {"employees": 60}', ["(body)"])
    try:
        data = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise _error(web.HTTPBadRequest, "bad_json", "请求内容编码不正确（应为 UTF-8）", ["(body)"]) from None
    except (ValueError, RecursionError):
        raise _error(web.HTTPBadRequest, "bad_json", "请求内容不是有效的 JSON", ["(body)"]) from None
    if not isinstance(data, dict):
        raise _error(web.HTTPBadRequest, "bad_json", '请求内容应为 JSON 对象，例如 {"employees": 60}', ["(body)"])
    if not _depth(data, MAX_DEPTH):
        raise _error(web.HTTPBadRequest, "bad_json", "请求内容嵌套过深", ["(body)"])
    return data


def _limit_rule(app: web.Application, lim: ratelimit.Limiter) -> str:
    """The policy check's own per-address limit, from the app's settings; added to a limiter without it on
    first use (one swapped in later, as tests do)."""
    if RULE_NAME not in lim.rules:
        lim.rules[RULE_NAME] = ratelimit.rule_from_settings(RULE_NAME, app.get(SETTINGS_KEY))
    return RULE_NAME


async def policy_check(request: web.Request) -> web.Response:
    app = request.app
    lim = ratelimit.limiter(app)
    decision = await lim.hit(_limit_rule(app, lim), ratelimit.client_address(request))
    if not decision.allowed:
        raise too_many(decision)
    rules = app[RULES_KEY].get()
    if rules is None:
        raise _error(web.HTTPServiceUnavailable, "rules_unavailable", UNAVAILABLE)
    data = await _read_body(request)
    today = app[TODAY_KEY]()
    try:
        profile = parse_profile(data, today)
    except ProfileError as exc:
        raise _error(web.HTTPBadRequest, "invalid_field", exc.message, exc.fields) from None
    report = check(rules, profile, today)
    log.info(
        "policy check: %d figures given, verdicts %s",
        len(profile.given()),
        ", ".join(f"{r.policy}={r.verdict}" for r in report.results),
    )
    return web.json_response(
        report.to_json(),
        headers={**COMMON_HEADERS, "Cache-Control": "no-store"},
        dumps=lambda d: json.dumps(d, ensure_ascii=False),
    )


def setup(app: web.Application) -> None:
    """Route, rules and limiter of the policy check."""
    settings = app.get(SETTINGS_KEY)
    directory = getattr(settings, "knowledge_dir", None) or Path(__file__).resolve().parents[2] / "knowledge"
    app[RULES_KEY] = Rules(directory)
    if TODAY_KEY not in app:
        app[TODAY_KEY] = clock.today
    ratelimit.setup(app)
    app.router.add_post(PATH, policy_check)
