"""Console sign-in: argon2 passwords, server-side sessions, throttling, CSRF, the access middleware.

- The session cookie holds 32 random bytes; the database keeps only their SHA-256
  (StaffSession.id), so a leaked database cannot be replayed as cookies. Sessions end
  8 hours after sign-in whatever the activity (a working day), or at sign-out, or when
  the account is disabled.
- One answer for every refused sign-in, whether the username exists or not ("用户名或密码错误",
  the same warnings and pauses), and the same argon2 work: unknown usernames are checked
  against a dummy hash.
- Throttling (bot/staff/throttle.py): growing delays and pauses per account and address
  (15 minutes after 5 failures, doubling with each further 5), growing delays per account from
  addresses it never signed in from, and a limit per address (RATE_LIMIT_LOGIN_IP, default 10
  failures per 15 minutes).
  Attempts are counted atomically before the password is checked, so parallel requests
  cannot slip past a limit; nobody can lock a member of staff out from another address.
- The client's address (audit rows, throttling) is the socket peer, or — only when the peer
  is a trusted proxy (DESK_TRUSTED_PROXIES, default loopback) — the nearest untrusted
  address in X-Forwarded-For, else X-Real-IP.
- CSRF: a synchronizer token per session, required on every POST/PUT/PATCH/DELETE as form
  field `csrf_token` or header `X-CSRF-Token`; the sign-in form has its own token in a
  short-lived cookie (double submit), so a foreign site cannot sign a browser in either.
- Nothing under /console/ is served without a session except the sign-in page and the
  stylesheet: pages redirect to /console/login, the JSON API and event stream answer 401.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import ipaddress
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Optional
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import delete, select

from bot import clock
from bot.db import read_sessions, sessions
from bot.db.schema import ConsoleAudit, Staff, StaffSession, utcnow
from bot.desk import ratelimit
from bot.desk.console import store
from bot.desk.console import templates as t
from bot.desk.console.staff_view import StaffView, staff_view
from bot.desk.keys import SETTINGS_KEY, db_url
from bot.staff import throttle
from bot.staff.accounts import dummy_verify, hash_password, needs_rehash, normalise_username, verify_password

log = logging.getLogger(__name__)

COOKIE = "qcy_console"
LOGIN_CSRF_COOKIE = "qcy_login_csrf"
SESSION_HOURS = 8
MAX_FAILURES = throttle.PAIR_MAX
LOCK_MINUTES = int(throttle.PAIR_PAUSE.total_seconds() // 60)  # the first pause; later ones double
LAST_SEEN_EVERY = timedelta(minutes=5)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC_PATHS = frozenset({"/console/login", "/console/static/console.css"})
PREFIX = "/console"

Clock = Callable[[], datetime]
CLOCK_KEY = web.AppKey("console_clock", object)  # a callable returning aware UTC datetimes
STAFF_KEY = "console_staff"  # request key of the signed-in StaffView


def is_console_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def _is_api(path: str) -> bool:
    return path.startswith("/console/api/") or path == "/console/events"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def secure_cookies(request: web.Request) -> bool:
    """Secure cookies when served over https, or when the desk sits behind a TLS proxy (CONSOLE_SECURE_COOKIE)."""
    return request.secure or getattr(request.app.get(SETTINGS_KEY), "console_secure_cookie", False)


def clock_of(app: web.Application) -> Clock:
    return app.get(CLOCK_KEY) or utcnow


@functools.lru_cache(maxsize=8)
def _networks(raw: str) -> tuple:
    if raw.strip().lower() in ("", "none", "off"):
        return ()
    nets = []
    for part in raw.replace(",", " ").split():
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            pass  # ratelimit logs the same setting's bad entries
    return tuple(nets)


def _ip(value: str) -> Optional[str]:
    """The address in canonical form, or None when `value` is not an IP address."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _trusted_proxies(request: web.Request) -> tuple:
    settings = request.app.get(SETTINGS_KEY)
    return _networks(getattr(settings, "trusted_proxies", ratelimit.DEFAULT_TRUSTED_PROXIES))


def real_client(request: web.Request) -> tuple[Optional[str], bool]:
    """(the client's address, whether it came from a trusted proxy's header).

    The socket peer, unless the peer is a trusted proxy: then the nearest address in
    X-Forwarded-For that is not itself a trusted proxy (a client cannot choose it by
    sending its own header), else X-Real-IP. Values that are not IP addresses are ignored.
    """
    peer = request.remote or ""
    nets = _trusted_proxies(request)
    peer_ip = _ip(peer)

    def trusted(addr: Optional[str]) -> bool:
        return addr is not None and any(ipaddress.ip_address(addr) in n for n in nets)

    if not nets or not trusted(peer_ip):
        return (peer_ip or peer[:64] or None), False
    hops = [h for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        addr = _ip(hop)
        if addr is None:
            break  # garbage from the client side: stop at the last good hop
        if not trusted(addr):
            return addr, True
    real = _ip(request.headers.get("X-Real-IP", ""))
    if real is not None:
        return real, True
    return peer_ip, False


def _peer_trusted(request: web.Request) -> bool:
    peer = _ip(request.remote or "")
    return peer is not None and any(ipaddress.ip_address(peer) in n for n in _trusted_proxies(request))


def client_ip(request: web.Request) -> Optional[str]:
    """The client's address for audit rows and sign-in throttling (see real_client)."""
    return real_client(request)[0]


# ---- the signed-in member of staff ---------------------------------------------------------------


def current_staff(request: web.Request) -> StaffView:
    staff = request.get(STAFF_KEY)
    if staff is None:  # the middleware lets no such request through; belt and braces
        raise web.HTTPUnauthorized(text="请先登录")
    return staff


# ---- sign-in -------------------------------------------------------------------------------------


class LoginError(Exception):
    """Sign-in refused; the message is shown on the sign-in page."""


BAD_CREDENTIALS = "用户名或密码错误。"


def _beijing(dt: datetime) -> str:

    return clock.local(dt).strftime("%H:%M")


def _duration(pause: timedelta) -> str:
    minutes = int(pause.total_seconds() // 60)
    return f"{minutes // 60} 小时" if minutes >= 60 and minutes % 60 == 0 else f"{minutes} 分钟"


def _locked_message(until: datetime, pause: Optional[timedelta] = None) -> str:
    what = f"连续 {MAX_FAILURES} 次登录失败，已暂停登录 {_duration(pause)}" if pause else "多次登录失败，已暂停登录"
    return f"该账号在本地址{what}，请于 {_beijing(until)}（北京时间）后再试，或联系管理员解除。"


class Throttled(LoginError):
    """Sign-in refused before the password was checked (a pause, a delay, the address limit)."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def retry_after_header(self) -> str:
        return str(max(1, int(self.retry_after + 0.999)))


def _throttled(attempt: throttle.Attempt) -> Throttled:
    seconds = max(1, int(attempt.retry_after + 0.999))
    if attempt.reason == "pair":
        return Throttled(_locked_message(attempt.until), attempt.retry_after)
    if attempt.reason == "address":
        minutes = max(1, round(attempt.retry_after / 60))
        return Throttled(f"登录失败次数过多，请 {minutes} 分钟后再试。", attempt.retry_after)
    return Throttled(f"尝试过于频繁，请 {seconds} 秒后再试。", attempt.retry_after)


@dataclass(frozen=True)
class LoginResult:
    token: str  # the cookie value (never stored)
    staff_id: int
    username: str
    expires_at: datetime


def login(
    db_url: str,
    username: str,
    password: str,
    now: datetime,
    ip: str | None = None,
    *,
    limit_address: str | None = None,
    address_rule: tuple[int, float] = throttle.DEFAULT_ADDRESS_RULE,
) -> LoginResult:
    """Count the attempt, check the password, and open a session on success.

    Unknown, disabled and password-less accounts get exactly what a wrong password gets.
    `ip` is the client's address (audit, per account+address counting); `limit_address`
    the key of the per-address limit (None: `ip`; "": none). Refusals are committed
    (counters, audit row) before LoginError (Throttled: before any password check) is raised.
    """
    username = normalise_username(username)[:64]
    password = password or ""
    if not username or not password:
        dummy_verify(password)
        raise LoginError("请输入用户名和密码。")
    attempt = throttle.count_attempt(
        db_url, username, ip or "", now, limit_address=limit_address, address_rule=address_rule
    )
    if not attempt.allowed:
        # logged, not audited: refusals cost no password check and are unbounded in number, so a
        # flood must not grow the database (failures are audited, and they are bounded)
        log.info(
            "console sign-in refused before the password check: %s from %s (%s, %d s)",
            username[:32],
            ip,
            attempt.reason,
            int(attempt.retry_after + 0.999),
        )
        raise _throttled(attempt)
    with read_sessions(db_url)() as s:
        staff = s.scalars(select(Staff).where(Staff.username == username)).first()
    usable = staff is not None and staff.active and bool(staff.password_hash)
    if usable:
        ok = verify_password(staff.password_hash, password)
    else:
        dummy_verify(password)
        ok = False
    if not ok:
        actor = f"staff:{username}" if usable else f"login:{username}"
        detail = f"failure {attempt.failures} from this address" + ("" if usable else "; unknown or inactive account")
        pause = throttle.pair_pause(attempt.failures) if attempt.failures % MAX_FAILURES == 0 else None
        with sessions(db_url).begin() as s:
            s.add(ConsoleAudit(at=now, actor=actor, action="login_failed", detail=detail, ip=ip))
            if pause is not None:
                s.add(
                    ConsoleAudit(
                        at=now,
                        actor=actor,
                        action="locked",
                        ip=ip,
                        detail=f"paused for this address until {(now + pause).isoformat()}",
                    )
                )
        if pause is not None:
            raise LoginError(_locked_message(now + pause, pause))
        left = MAX_FAILURES - attempt.failures % MAX_FAILURES
        upcoming = _duration(throttle.pair_pause(attempt.failures + left))
        raise LoginError(
            f"{BAD_CREDENTIALS}再输错 {left} 次，该账号将在本地址暂停登录 {upcoming}。"
            if left <= 2
            else BAD_CREDENTIALS
        )
    throttle.succeeded(db_url, attempt)
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=SESSION_HOURS)
    with sessions(db_url).begin() as s:
        staff = s.get(Staff, staff.id)
        if staff is None or not staff.active:  # disabled while the password was being checked
            s.add(
                ConsoleAudit(
                    at=now,
                    actor=f"staff:{username}",
                    action="login_failed",
                    detail="account disabled during sign-in",
                    ip=ip,
                )
            )
            result = None
        else:
            staff.failed_logins = 0
            staff.locked_until = None
            if needs_rehash(staff.password_hash):
                staff.password_hash = hash_password(password)
            # expired sessions (of anyone) are tidied up on each sign-in
            s.execute(delete(StaffSession).where(StaffSession.expires_at <= now))
            s.add(
                StaffSession(
                    id=token_hash(token),
                    staff_id=staff.id,
                    csrf_token=secrets.token_urlsafe(32),
                    created_at=now,
                    expires_at=expires,
                    last_seen_at=now,
                    ip=ip,
                )
            )
            s.add(ConsoleAudit(at=now, actor=f"staff:{username}", action="login", ip=ip))
            result = LoginResult(token, staff.id, staff.username, expires)
    if result is None:
        raise LoginError(BAD_CREDENTIALS)
    return result


def load_session(db_url: str, token: str, now: datetime) -> Optional[StaffView]:
    """The signed-in member of staff for a cookie value, or None (unknown, expired, deactivated)."""
    if not token or len(token) > 128:
        return None
    sid = token_hash(token)
    with read_sessions(db_url)() as s:
        row = s.execute(
            select(StaffSession, Staff).join(Staff, Staff.id == StaffSession.staff_id).where(StaffSession.id == sid)
        ).first()
    if row is None:
        return None
    sess, staff = row
    if sess.expires_at <= now or not staff.active:
        return None
    if sess.last_seen_at is None or now - sess.last_seen_at >= LAST_SEEN_EVERY:
        with sessions(db_url).begin() as s:
            s.query(StaffSession).filter(StaffSession.id == sid).update({"last_seen_at": now})
    return staff_view(staff, sid, sess.csrf_token)


def end_session(db_url: str, session_id: str) -> None:
    with sessions(db_url).begin() as s:
        s.execute(delete(StaffSession).where(StaffSession.id == session_id))


# ---- CSRF ----------------------------------------------------------------------------------------


def tokens_equal(a: Optional[str], b: Optional[str]) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


async def submitted_csrf(request: web.Request) -> Optional[str]:
    header = request.headers.get("X-CSRF-Token")
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()  # cached: the handler reads the same form
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    return None


def csrf_failure(request: web.Request) -> web.Response:
    if _is_api(request.path) or "application/json" in request.headers.get("Accept", ""):
        return web.json_response(
            {"error": "csrf", "message": "请求缺少有效的安全令牌（CSRF），请刷新页面后重试。"}, status=403
        )
    return web.Response(
        text=t.error_page("请求已失效", "页面已过期或请求缺少安全令牌，请返回刷新页面后重试。"),
        status=403,
        content_type="text/html",
    )


# ---- middleware and security headers -------------------------------------------------------------


def _login_redirect(request: web.Request) -> web.HTTPFound:
    target = request.path_qs if request.method == "GET" else "/console/"
    return web.HTTPFound(f"/console/login?next={quote(target, safe='')}")


@web.middleware
async def console_middleware(request: web.Request, handler):
    """Only for /console paths: session → request[STAFF_KEY], 302/401 without one, CSRF on writes."""
    path = request.path
    if not is_console_path(path):
        return await handler(request)
    if path in PUBLIC_PATHS:
        return await handler(request)
    now = clock_of(request.app)()
    token = request.cookies.get(COOKIE, "")
    staff = await asyncio.to_thread(load_session, db_url(request), token, now) if token else None
    if staff is None:
        if _is_api(path):
            return web.json_response({"error": "unauthorized", "message": "请先登录"}, status=401)
        raise _login_redirect(request)
    if request.method in UNSAFE_METHODS and not tokens_equal(await submitted_csrf(request), staff.csrf_token):
        return csrf_failure(request)
    request[STAFF_KEY] = staff
    return await handler(request)


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self' data:; frame-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'; object-src 'none'"
)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every console response is uncacheable and locked down."""
    if not is_console_path(request.path):
        return
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Frame-Options", "DENY")
    h["X-Content-Type-Options"] = "nosniff"
    h["Referrer-Policy"] = "same-origin"
    if not request.path.startswith("/console/static/"):
        h["Cache-Control"] = "no-store"


# ---- handlers: sign-in, sign-out ------------------------------------------------------------------


def _safe_next(value: Optional[str]) -> str:
    """Only same-site console paths (no open redirect)."""
    if (
        value
        and value.startswith("/console/")
        and not value.startswith("//")
        and "\\" not in value
        and "\n" not in value
        and "\r" not in value
        and not value.startswith("/console/login")
    ):
        return value
    return "/console/"


def _login_page(
    request: web.Request, message: str | None = None, username: str = "", status: int = 200
) -> web.Response:
    token = secrets.token_urlsafe(32)
    resp = web.Response(
        text=t.login_page(token, _safe_next(request.query.get("next")), message, username),
        status=status,
        content_type="text/html",
    )
    resp.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/console/login",
        httponly=True,
        samesite="Strict",
        secure=secure_cookies(request),
    )
    return resp


async def login_get(request: web.Request) -> web.Response:
    now = clock_of(request.app)()
    token = request.cookies.get(COOKIE)
    if token and await asyncio.to_thread(load_session, db_url(request), token, now):
        raise web.HTTPFound(_safe_next(request.query.get("next")))
    return _login_page(request)


async def login_post(request: web.Request) -> web.Response:
    form = await request.post()
    if not tokens_equal(form.get("csrf_token"), request.cookies.get(LOGIN_CSRF_COOKIE)):
        return _login_page(request, "登录页面已过期，请重新输入。", str(form.get("username", ""))[:64], status=403)
    username = str(form.get("username", "")).replace("\x00", "")  # NUL: PostgreSQL cannot compare it
    password = str(form.get("password", "")).replace("\x00", "")
    now = clock_of(request.app)()
    ip, forwarded = real_client(request)
    # per-address limit: the client's address; none for a local tool talking to the desk directly
    # through a trusted (loopback) peer without a forwarding header, as in bot/desk/ratelimit.py
    limit_address = ip if (forwarded or not _peer_trusted(request)) else ""
    rule = ratelimit.limiter(request.app).rules["login_ip"]
    address_rule = (0, 0.0) if rule.off else (rule.limit, rule.window)
    try:
        result = await asyncio.to_thread(
            login,
            db_url(request),
            username,
            password,
            now,
            ip,
            limit_address=limit_address or "",
            address_rule=address_rule,
        )
    except Throttled as exc:
        resp = _login_page(request, str(exc), normalise_username(username)[:64], status=429)
        resp.headers["Retry-After"] = exc.retry_after_header
        return resp
    except LoginError as exc:
        return _login_page(request, str(exc), normalise_username(username)[:64], status=401)
    target = _safe_next(str(form.get("next", "")))
    resp = web.HTTPFound(target)
    resp.set_cookie(
        COOKIE,
        result.token,
        max_age=SESSION_HOURS * 3600,
        path=PREFIX,
        httponly=True,
        samesite="Strict",
        secure=secure_cookies(request),
    )
    resp.del_cookie(LOGIN_CSRF_COOKIE, path="/console/login")
    raise resp


async def logout_get(request: web.Request) -> web.Response:
    staff = current_staff(request)
    return web.Response(text=t.logout_page(staff), content_type="text/html")


async def logout_post(request: web.Request) -> web.Response:
    staff = current_staff(request)
    db = db_url(request)
    await asyncio.to_thread(end_session, db, staff.session_id)
    await asyncio.to_thread(store.record, db, staff, "logout", ip=client_ip(request), at=clock_of(request.app)())
    resp = web.HTTPFound("/console/login")
    resp.del_cookie(COOKIE, path=PREFIX)
    raise resp
