"""WeChat's side of the desk's /wechat/mp and /wechat/work, for the tests that drive them the way WeChat does
(tests/unit/test_wechat_endpoints.py, test_wechat_shared_state.py, tests/e2e/test_wechat_files.py).

Those imported these from test_wechat_endpoints.py, which tied test files to each other (test modules don't import
each other); they live here once. A unit test module starting the desk with them still marks itself `desk`.

- the accounts: `MP_TOKEN`, `MP_KEY`, `MP_APPID`, `MP_GH` (Official Account), `WC_TOKEN`, `WC_KEY`, `WC_CORP`,
  `WC_AGENT` (WeCom), `OPENID` (the user); `sign(...)`: WeChat's signature;
- messages: `text_xml(...)`, `event_xml(...)`; `msg_ids`: fresh MsgIds;
- the fake peers, which sign and encrypt with wechatpy: `Mp` (the Official Account platform posting to /wechat/mp,
  plain or safe mode) and `Work` (WeCom posting to /wechat/work);
- stand-ins: `FakeInbound` for the gateway's `handle_inbound` (counts calls: "never reached Rasa" is checkable) and
  `StandInApi` for WeChat's API server (tokens and customer-service sends, errors on demand);
- `start_desk(...)`: a desk configured for both channels against a `StandInApi`, as a `Desk`; `config_of(env)`:
  the channels some variables configure.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import PrpCrypto as WorkPrp
from wechatpy.enterprise.crypto import WeChatCrypto as WorkCrypto
from wechatpy.utils import WeChatSigner

from bot.desk import wechat
from bot.desk.wechat import xml as wxml
from bot.settings import Settings
from tests.unit.desk_helpers import desk_client

MP_TOKEN, MP_KEY, MP_APPID, MP_GH = (
    "mptoken",
    "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "wx1234567890abcdef",
    "gh_0123456789ab",
)
WC_TOKEN, WC_KEY, WC_CORP, WC_AGENT = (
    "wctoken",
    "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
    "ww1234567890abcdef",
    "1000002",
)
OPENID = "oAbCdEfGhIjKlMnOpQrStUvWxYz0"


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


# ---- the WeChat side: messages, signed and encrypted by wechatpy ---------------------------------
msg_ids = iter(range(6_000_000_000_000_000_000, 7_000_000_000_000_000_000))  # MsgIds and nonces, each used once


def text_xml(
    content: str,
    user: str = OPENID,
    to: str = MP_GH,
    msg_id: int | None = None,
    created: int | None = None,
    agent: str | None = None,
) -> str:
    xml = (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{created or int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id or next(msg_ids)}</MsgId>"
        + (f"<AgentID>{agent}</AgentID>" if agent else "")
        + "</xml>"
    )
    assert parse_message(xml).type == "text"  # a well-formed message by wechatpy's reading
    return xml


def event_xml(event: str, key: str = "", user: str = OPENID, created: int | None = None) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{MP_GH}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{created or int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>"
    )


@dataclass
class Mp:
    """The Official Account platform posting to /wechat/mp."""

    crypto: WeChatCrypto = field(default_factory=lambda: WeChatCrypto(MP_TOKEN, MP_KEY, MP_APPID))

    def plain(self, inner: str, ts: str | None = None, nonce: str = "n1"):
        ts = ts or str(int(time.time()))
        return {"signature": sign(MP_TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": OPENID}, inner

    def safe(self, inner: str, ts: str | None = None, nonce: str | None = None, compat: str = ""):
        ts, nonce = ts or str(int(time.time())), nonce or f"{next(msg_ids) % 10**9}"
        env = wxml.parse(self.crypto.encrypt_message(inner, nonce, ts))
        body = (
            f"<xml><ToUserName><![CDATA[{MP_GH}]]></ToUserName>{compat}"
            f"<Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>"
        )
        params = {
            "signature": sign(MP_TOKEN, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "openid": OPENID,
            "encrypt_type": "aes",
            "msg_signature": env["MsgSignature"],
        }
        return params, body

    def open_reply(self, text: str) -> str:
        env = wxml.parse(text)
        return self.crypto.decrypt_message(text, env["MsgSignature"], env["TimeStamp"], env["Nonce"])


@dataclass
class Work:
    """WeCom posting to /wechat/work."""

    crypto: WorkCrypto = field(default_factory=lambda: WorkCrypto(WC_TOKEN, WC_KEY, WC_CORP))

    def verify_params(self, echo: str = "1616140317555161061", corp: str = WC_CORP, ts: str | None = None):
        ts = ts or str(int(time.time()))
        echostr = WorkPrp(self.crypto.key).encrypt(echo, corp).decode()
        return {"msg_signature": sign(WC_TOKEN, ts, "wn", echostr), "timestamp": ts, "nonce": "wn", "echostr": echostr}

    def message(self, inner: str, ts: str | None = None, nonce: str | None = None):
        ts, nonce = ts or str(int(time.time())), nonce or f"w{next(msg_ids) % 10**9}"
        env = wxml.parse(self.crypto.encrypt_message(inner, nonce, ts))
        body = (
            f"<xml><ToUserName><![CDATA[{WC_CORP}]]></ToUserName><AgentID><![CDATA[{WC_AGENT}]]></AgentID>"
            f"<Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>"
        )
        return {"msg_signature": env["MsgSignature"], "timestamp": ts, "nonce": nonce}, body

    def open_reply(self, text: str) -> str:
        env = wxml.parse(text)
        return self.crypto.decrypt_message(text, env["MsgSignature"], env["TimeStamp"], env["Nonce"])


# ---- stand-ins: the gateway and WeChat's API server ---------------------------------------------
class FakeInbound:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.titles: list[str | None] = []
        self.delay = 0.0
        self.replies: list[dict] | None = None
        self.fail = False
        self.release: asyncio.Event | None = None  # when set: the bot answers only once the test says so

    async def __call__(self, app, conversation_id, text, client_msg_id=None, channel="web", title=None):
        self.calls.append((conversation_id, text, client_msg_id, channel))
        self.titles.append(title)
        await asyncio.sleep(self.delay)
        if self.release is not None:
            await self.release.wait()
        if self.fail:
            raise self.fail if isinstance(self.fail, Exception) else RuntimeError("Rasa unreachable")
        if self.replies is not None:
            return self.replies
        return [{"text": f"收到：{text}"}]


class StandInApi:
    """api.weixin.qq.com / qyapi.weixin.qq.com: tokens and message sends, errors on demand."""

    def __init__(self) -> None:
        self.sends: list[tuple[str, dict]] = []
        self.token_requests = 0
        self.errors: list[int] = []
        self.tokens: set[str] = set()
        self.app = web.Application()
        self.app.router.add_get("/cgi-bin/token", self.token)
        self.app.router.add_get("/cgi-bin/gettoken", self.token)
        self.app.router.add_post("/cgi-bin/message/custom/send", self.send)
        self.app.router.add_post("/cgi-bin/message/send", self.send)

    async def token(self, request: web.Request) -> web.Response:
        q = request.query
        ok = (q.get("appid"), q.get("secret")) == (MP_APPID, "mpsecret") or (q.get("corpid"), q.get("corpsecret")) == (
            WC_CORP,
            "wcsecret",
        )
        if not ok:
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        self.token_requests += 1
        token = f"TOKEN-{self.token_requests}"
        self.tokens = {token}
        return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})

    async def send(self, request: web.Request) -> web.Response:
        body = await request.json()
        if request.query.get("access_token") not in self.tokens:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        if self.errors:
            code = self.errors.pop(0)
            if code == 40001:
                self.tokens = set()  # e.g. another service fetched a new token
            return web.json_response({"errcode": code, "errmsg": f"error {code}"})
        self.sends.append((request.path, body))
        return web.json_response({"errcode": 0, "errmsg": "ok"})


@dataclass
class Desk:
    client: TestClient
    app: web.Application
    inbound: FakeInbound
    api: StandInApi
    mp: Mp
    work: Work

    def channel(self, name: str):
        return self.app[wechat.CHANNELS_KEY][name]

    async def post_mp(self, params, body):
        return await self.client.post("/wechat/mp", params=params, data=body.encode())

    async def post_work(self, params, body):
        return await self.client.post("/wechat/work", params=params, data=body.encode())


async def start_desk(monkeypatch, tmp_path, db_url, budget="4.0", **settings) -> tuple[Desk, list]:
    api = StandInApi()
    api_server = TestServer(api.app)
    await api_server.start_server()
    base = str(api_server.make_url("")).rstrip("/")
    env = {
        "WECHAT_MP_TOKEN": MP_TOKEN,
        "WECHAT_MP_AES_KEY": MP_KEY,
        "WECHAT_MP_APPID": MP_APPID,
        "WECHAT_MP_SECRET": "mpsecret",
        "WECHAT_API_BASE": base,
        "WECOM_TOKEN": WC_TOKEN,
        "WECOM_AES_KEY": WC_KEY,
        "WECOM_CORPID": WC_CORP,
        "WECOM_SECRET": "wcsecret",
        "WECOM_AGENT_ID": WC_AGENT,
        "WECOM_API_BASE": base,
        "WECHAT_REPLY_BUDGET": budget,
    }
    client = desk_client(db_url, tmp_path, env=env, **settings)
    inbound = FakeInbound()
    client.app[wechat.INBOUND_KEY] = inbound
    await client.start_server()
    return Desk(client, client.app, inbound, api, Mp(), Work()), [client, api_server]


def config_of(env: dict) -> wechat.WeChatConfig:
    """The channels these variables configure (read into Settings.wechat as the desk reads them)."""
    return wechat.WeChatConfig.from_settings(Settings.from_env(env).wechat)
