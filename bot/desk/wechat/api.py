"""Customer-service (out-of-band) messages: Official Account and WeCom application.

A passive reply must be ready within WeChat's 5 seconds; everything later (slow
bot turns, staff replies, weekly progress pushes) goes through these APIs. The
access token is fetched once and cached until shortly before it expires; a
token error from WeChat (expired, revoked by a token fetched elsewhere) drops
the cache and the call is repeated once. Other errors are raised as
WeChatApiError with a Chinese explanation that staff can act on.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any
from urllib.parse import unquote

import aiohttp

TOKEN_ERRORS = {40001, 40014, 42001}  # invalid credential / invalid token / token expired
EXPLAIN = {
    -1: "微信系统繁忙",
    40001: "access_token 无效（AppSecret 错误或令牌已被其他服务刷新）",
    40003: "用户 openid / userid 无效",
    40013: "AppID / CorpID 无效",
    40125: "AppSecret 无效",
    41001: "缺少 access_token",
    42001: "access_token 已过期",
    43004: "用户未关注公众号",
    45009: "接口调用超过频率或每日上限",
    45015: "用户超过 48 小时未与公众号互动，微信不允许再主动发送客服消息",
    45047: "客服消息下行条数超过上限（用户每次互动后最多可收 20 条）",
    48001: "公众号没有客服消息接口权限",
    60020: "服务器 IP 不在企业微信应用的可信 IP 列表中",
    81013: "企业微信用户不存在或不在应用可见范围内",
    82001: "企业微信接收人无效",
}
TEXT_LIMIT_BYTES = 2000  # WeChat cuts/refuses text above 2048 bytes; keep a margin
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10)
MEDIA_TIMEOUT = aiohttp.ClientTimeout(total=60)  # a 20 MB file over a slow link
MEDIA_TOO_LARGE = -3
EXPLAIN[MEDIA_TOO_LARGE] = "文件超过允许的大小"


class WeChatApiError(Exception):
    def __init__(self, errcode: int, errmsg: str = "") -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        self.explanation = EXPLAIN.get(errcode, f"微信接口返回错误 {errcode}")
        super().__init__(f"{errcode} {errmsg}".strip())

    @property
    def window_closed(self) -> bool:
        return self.errcode == 45015

    @property
    def quota_exceeded(self) -> bool:
        return self.errcode == 45047


def _cut(line: str, limit: int):
    """`line` in pieces of at most `limit` UTF-8 bytes (never splitting a character)."""
    buf: list[str] = []
    size = 0
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit and buf:
            yield "".join(buf)
            buf, size = [], 0
        buf.append(ch)
        size += n
    if buf:
        yield "".join(buf)


def split_text(text: str, limit: int = TEXT_LIMIT_BYTES) -> list[str]:
    """Pieces of `text` of at most `limit` UTF-8 bytes, cut at line ends where possible."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.splitlines(keepends=True):
        for chunk in _cut(line, limit):
            n = len(chunk.encode("utf-8"))
            if size + n > limit and current:
                pieces.append("".join(current))
                current, size = [], 0
            current.append(chunk)
            size += n
    if current:
        pieces.append("".join(current))
    return [p.strip("\n") for p in pieces if p.strip()]


class _Client:
    """Token cache and JSON calls shared by both APIs."""

    token_path = ""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self.token_fetches = 0

    def _token_params(self) -> dict[str, str]:
        raise NotImplementedError

    async def _fetch_token(self, http: aiohttp.ClientSession) -> str:
        data = await self._get(http, self.token_path, self._token_params())
        token = data.get("access_token")
        if not token:
            raise WeChatApiError(int(data.get("errcode") or -1), data.get("errmsg", "no access_token"))
        self.token_fetches += 1
        expires_in = int(data.get("expires_in") or 7200)
        self._token, self._expires = token, time.monotonic() + max(60, expires_in - 300)
        return token

    async def token(self, http: aiohttp.ClientSession) -> str:
        if self._token and time.monotonic() < self._expires:
            return self._token
        async with self._lock:  # one refresh for all concurrent senders
            if self._token and time.monotonic() < self._expires:
                return self._token
            return await self._fetch_token(http)

    def _drop(self, token: str) -> None:
        if self._token == token:
            self._token, self._expires = None, 0.0

    async def _get(self, http: aiohttp.ClientSession, path: str, params: dict) -> dict[str, Any]:
        try:
            async with http.get(self.base + path, params=params, timeout=REQUEST_TIMEOUT) as resp:
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise WeChatApiError(-1, f"{type(exc).__name__}: {exc}") from None
        if not isinstance(data, dict):
            raise WeChatApiError(-1, "unexpected answer")
        return data

    async def post(self, http: aiohttp.ClientSession, path: str, payload: dict) -> dict[str, Any]:
        """POST with the access token; one retry after a token error."""
        for attempt in (1, 2):
            token = await self.token(http)
            try:
                async with http.post(
                    self.base + path, params={"access_token": token}, json=payload, timeout=REQUEST_TIMEOUT
                ) as resp:
                    data = await resp.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                raise WeChatApiError(-1, f"{type(exc).__name__}: {exc}") from None
            if not isinstance(data, dict):
                raise WeChatApiError(-1, "unexpected answer")
            code = int(data.get("errcode") or 0)
            if code in TOKEN_ERRORS and attempt == 1:
                self._drop(token)
                continue
            if code:
                raise WeChatApiError(code, str(data.get("errmsg", "")))
            return data
        raise AssertionError("unreachable")

    # -- media (files in conversations, bot/desk/files.py) ---------------------------------------------
    async def get_media(self, http: aiohttp.ClientSession, media_id: str, max_bytes: int) -> tuple[bytes, str, str]:
        """(bytes, file name from Content-Disposition or "", Content-Type) of a temporary media file
        (GET /cgi-bin/media/get, the same path for both APIs); one retry after a token error. An answer
        in JSON is WeChat's error; more than `max_bytes` is refused while reading (MEDIA_TOO_LARGE)."""
        for attempt in (1, 2):
            token = await self.token(http)
            try:
                async with http.get(
                    self.base + "/cgi-bin/media/get",
                    timeout=MEDIA_TIMEOUT,
                    params={"access_token": token, "media_id": media_id},
                ) as resp:
                    ctype = resp.headers.get("Content-Type", "")
                    if resp.status != 200:
                        raise WeChatApiError(-1, f"HTTP {resp.status}")
                    if "json" in ctype or ctype.startswith("text/"):
                        data = await resp.json(content_type=None)
                        code = int((data or {}).get("errcode") or -1) if isinstance(data, dict) else -1
                        if code in TOKEN_ERRORS and attempt == 1:
                            self._drop(token)
                            continue
                        raise WeChatApiError(
                            code, str((data or {}).get("errmsg", "")) if isinstance(data, dict) else ""
                        )
                    if resp.content_length is not None and resp.content_length > max_bytes:
                        raise WeChatApiError(MEDIA_TOO_LARGE, f"{resp.content_length} bytes")
                    body = bytearray()
                    async for chunk in resp.content.iter_chunked(65536):
                        body += chunk
                        if len(body) > max_bytes:
                            raise WeChatApiError(MEDIA_TOO_LARGE, f"more than {max_bytes} bytes")
                    return bytes(body), _disposition_name(resp.headers.get("Content-Disposition", "")), ctype
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                raise WeChatApiError(-1, f"{type(exc).__name__}: {exc}") from None
        raise AssertionError("unreachable")

    async def upload_media(self, http: aiohttp.ClientSession, data: bytes, name: str, kind: str) -> str:
        """media_id of a temporary media file (POST /cgi-bin/media/upload?type=image|file)."""
        for attempt in (1, 2):
            token = await self.token(http)
            form = aiohttp.FormData(quote_fields=False)  # the name as UTF-8, as WeChat shows it
            form.add_field("media", data, filename=name, content_type="application/octet-stream")
            try:
                async with http.post(
                    self.base + "/cgi-bin/media/upload",
                    data=form,
                    timeout=MEDIA_TIMEOUT,
                    params={"access_token": token, "type": kind},
                ) as resp:
                    answer = await resp.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                raise WeChatApiError(-1, f"{type(exc).__name__}: {exc}") from None
            if not isinstance(answer, dict):
                raise WeChatApiError(-1, "unexpected answer")
            code = int(answer.get("errcode") or 0)
            if code in TOKEN_ERRORS and attempt == 1:
                self._drop(token)
                continue
            if code or not answer.get("media_id"):
                raise WeChatApiError(code or -1, str(answer.get("errmsg", "no media_id")))
            return str(answer["media_id"])
        raise AssertionError("unreachable")


def _disposition_name(header: str) -> str:
    """The file name of a Content-Disposition header (filename*=UTF-8'' preferred)."""
    m = re.search(r"filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)", header)
    if m:
        return unquote(m.group(1).strip().strip('"'))
    m = re.search(r'filename\s*=\s*"([^"]*)"', header) or re.search(r"filename\s*=\s*([^;]+)", header)
    return m.group(1).strip() if m else ""


class MpApi(_Client):
    """Official Account: GET /cgi-bin/token, POST /cgi-bin/message/custom/send."""

    token_path = "/cgi-bin/token"

    def __init__(self, base: str, appid: str, secret: str) -> None:
        super().__init__(base)
        self.appid, self.secret = appid, secret

    def _token_params(self) -> dict[str, str]:
        return {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}

    async def send_text(self, http: aiohttp.ClientSession, openid: str, text: str) -> None:
        await self.post(
            http, "/cgi-bin/message/custom/send", {"touser": openid, "msgtype": "text", "text": {"content": text}}
        )

    sends_documents = False  # customer-service messages carry images, not arbitrary files

    async def send_media(self, http: aiohttp.ClientSession, openid: str, kind: str, media_id: str) -> None:
        await self.post(
            http, "/cgi-bin/message/custom/send", {"touser": openid, "msgtype": kind, kind: {"media_id": media_id}}
        )


class WorkApi(_Client):
    """WeCom application: GET /cgi-bin/gettoken, POST /cgi-bin/message/send."""

    token_path = "/cgi-bin/gettoken"

    def __init__(self, base: str, corpid: str, secret: str, agent_id: str) -> None:
        super().__init__(base)
        self.corpid, self.secret = corpid, secret
        self.agent_id = int(agent_id)

    def _token_params(self) -> dict[str, str]:
        return {"corpid": self.corpid, "corpsecret": self.secret}

    async def send_text(self, http: aiohttp.ClientSession, userid: str, text: str) -> None:
        data = await self.post(
            http,
            "/cgi-bin/message/send",
            {
                "touser": userid,
                "msgtype": "text",
                "agentid": self.agent_id,
                "text": {"content": text},
                "safe": 0,
            },
        )
        if data.get("invaliduser"):  # errcode 0 but nobody received it
            raise WeChatApiError(82001, f"invaliduser={data['invaliduser']}")

    sends_documents = True

    async def send_media(self, http: aiohttp.ClientSession, userid: str, kind: str, media_id: str) -> None:
        data = await self.post(
            http,
            "/cgi-bin/message/send",
            {
                "touser": userid,
                "msgtype": kind,
                "agentid": self.agent_id,
                kind: {"media_id": media_id},
                "safe": 0,
            },
        )
        if data.get("invaliduser"):
            raise WeChatApiError(82001, f"invaliduser={data['invaliduser']}")
