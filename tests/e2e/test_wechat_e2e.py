"""WeChat channels end to end: wechatpy-encrypted callbacks → desk gateway → the real Rasa and back.

The desk runs in-process (aiohttp test server) on the `stack`'s Rasa, action server and
database, with both WeChat channels configured and WeChat's API server replaced by a
local stand-in that records customer-service sends.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise import parse_message as parse_work_message
from wechatpy.enterprise.crypto import PrpCrypto as WorkPrp
from wechatpy.enterprise.crypto import WeChatCrypto as WorkCrypto
from wechatpy.utils import WeChatSigner

from bot import handover
from bot.db import read_sessions, sessions
from bot.db.schema import Conversation, Message, Staff
from bot.desk import gateway
from bot.desk.app import create_app
from bot.desk.wechat import CHANNELS_KEY
from bot.desk.wechat import xml as wxml
from tests.settings_env import with_env

pytestmark = pytest.mark.e2e

MP_TOKEN, MP_KEY, MP_APPID, MP_GH = (
    "e2etoken",
    "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "wxe2e0000000000001",
    "gh_e2e000000001",
)
WC_TOKEN, WC_KEY, WC_CORP, WC_AGENT = (
    "e2ewc",
    "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
    "wwe2e0000000000001",
    "1000002",
)


def sign(*parts: str) -> str:
    s = WeChatSigner()
    s.add_data(*parts)
    return s.signature


def text_xml(content: str, user: str, to: str, agent: str | None = None) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{uuid.uuid4().int % 10**19}</MsgId>"
        + (f"<AgentID>{agent}</AgentID>" if agent else "")
        + "</xml>"
    )


class StandInApi:
    def __init__(self) -> None:
        self.sends: list[tuple[str, dict]] = []
        self.app = web.Application()
        self.app.router.add_get("/cgi-bin/token", self.token)
        self.app.router.add_get("/cgi-bin/gettoken", self.token)
        self.app.router.add_post("/cgi-bin/message/custom/send", self.send)
        self.app.router.add_post("/cgi-bin/message/send", self.send)

    async def token(self, request):
        return web.json_response({"errcode": 0, "access_token": "E2E-TOKEN", "expires_in": 7200})

    async def send(self, request):
        assert request.query["access_token"] == "E2E-TOKEN"
        self.sends.append((request.path, await request.json()))
        return web.json_response({"errcode": 0, "errmsg": "ok"})


@pytest.fixture
async def wx(stack, monkeypatch):
    api = StandInApi()
    api_server = TestServer(api.app)
    await api_server.start_server()
    base = str(api_server.make_url("")).rstrip("/")
    app = create_app(
        with_env(
            stack.settings,
            WECHAT_MP_TOKEN=MP_TOKEN,
            WECHAT_MP_AES_KEY=MP_KEY,
            WECHAT_MP_APPID=MP_APPID,
            WECHAT_MP_SECRET="s",
            WECHAT_API_BASE=base,
            WECOM_TOKEN=WC_TOKEN,
            WECOM_AES_KEY=WC_KEY,
            WECOM_CORPID=WC_CORP,
            WECOM_SECRET="s",
            WECOM_AGENT_ID=WC_AGENT,
            WECOM_API_BASE=base,
            WECHAT_REPLY_BUDGET="4.0",
        )
    )
    client = TestClient(TestServer(app))
    await client.start_server()
    stack.say("你好", f"warmup-{uuid.uuid4().hex[:6]}")  # the first turn of a fresh model is slow
    yield client, app, api
    await client.close()
    await api_server.close()


async def post_mp(client, text: str, openid: str):
    peer = WeChatCrypto(MP_TOKEN, MP_KEY, MP_APPID)
    ts, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
    env = wxml.parse(peer.encrypt_message(text_xml(text, openid, MP_GH), nonce, ts))
    params = {
        "signature": sign(MP_TOKEN, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "openid": openid,
        "encrypt_type": "aes",
        "msg_signature": env["MsgSignature"],
    }
    body = f"<xml><ToUserName><![CDATA[{MP_GH}]]></ToUserName><Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>"
    r = await client.post("/wechat/mp", params=params, data=body.encode())
    assert r.status == 200
    answer = await r.text()
    if answer == "success":
        return None
    out = wxml.parse(answer)
    return parse_message(peer.decrypt_message(answer, out["MsgSignature"], out["TimeStamp"], out["Nonce"]))


def rows(db: str, conv: str):
    with read_sessions(db)() as s:
        return s.get(Conversation, conv), list(
            s.scalars(select(Message).where(Message.conversation_id == conv).order_by(Message.id))
        )


async def test_official_account_text_reaches_rasa_and_the_passive_reply_decrypts(stack, wx):
    client, app, api = wx
    openid = "oE2E" + uuid.uuid4().hex[:24]
    t0 = time.monotonic()
    reply = await post_mp(client, "你好", openid)
    elapsed = time.monotonic() - t0
    assert reply is not None, "no passive reply within the budget"
    assert reply.type == "text" and reply.target == openid and reply.source == MP_GH
    assert "原上管家" in reply.content
    assert "1. 我能办哪些事" in reply.content and "回复序号" in reply.content
    assert elapsed < 5
    # the same conversation model as the web chat: stored, channel and WeChat user recorded
    await asyncio.sleep(0.3)
    conv, msgs = rows(stack.settings.effective_database_url, f"wxmp:{openid}")
    assert conv.channel == "wechat_mp" and conv.mode == "bot" and conv.external_user == openid
    assert [(m.direction, m.author) for m in msgs][:2] == [("in", "user"), ("out", "bot")]
    assert msgs[0].text == "你好"
    # a number picks the button: "查询我的工单" → the ticket-status answer
    reply = await post_mp(client, "2", openid)
    assert reply is not None and "工单" in reply.content
    assert api.sends == []


async def test_wecom_url_verification_and_message(stack, wx):
    client, app, api = wx
    peer = WorkCrypto(WC_TOKEN, WC_KEY, WC_CORP)
    ts = str(int(time.time()))
    echostr = WorkPrp(peer.key).encrypt("3141592653589793", WC_CORP).decode()
    r = await client.get(
        "/wechat/work",
        params={"msg_signature": sign(WC_TOKEN, ts, "v1", echostr), "timestamp": ts, "nonce": "v1", "echostr": echostr},
    )
    assert r.status == 200 and await r.read() == b"3141592653589793"

    user = "e2e." + uuid.uuid4().hex[:8]
    nonce = uuid.uuid4().hex[:8]
    env = wxml.parse(peer.encrypt_message(text_xml("你好", user, WC_CORP, WC_AGENT), nonce, ts))
    body = (
        f"<xml><ToUserName><![CDATA[{WC_CORP}]]></ToUserName><AgentID><![CDATA[{WC_AGENT}]]></AgentID>"
        f"<Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>"
    )
    r = await client.post(
        "/wechat/work",
        params={"msg_signature": env["MsgSignature"], "timestamp": ts, "nonce": nonce},
        data=body.encode(),
    )
    assert r.status == 200
    answer = await r.text()
    out = wxml.parse(answer)
    reply = parse_work_message(peer.decrypt_message(answer, out["MsgSignature"], out["TimeStamp"], out["Nonce"]))
    assert reply.target == user and reply.source == WC_CORP and "原上管家" in reply.content
    conv, msgs = rows(stack.settings.effective_database_url, f"wecom:{user}")
    assert conv.channel == "wecom" and msgs[0].text == "你好"


async def test_handover_staff_reply_goes_out_through_the_customer_service_api(stack, wx):
    client, app, api = wx
    openid = "oE2E" + uuid.uuid4().hex[:24]
    conv_id = f"wxmp:{openid}"
    db = stack.settings.effective_database_url
    await post_mp(client, "你好", openid)
    reply = await post_mp(client, "转人工", openid)
    assert reply is not None, "the handover notice should come back passively"
    conv, _ = rows(db, conv_id)
    assert conv.mode == "waiting", reply.content
    # while waiting for staff the user's messages are stored for staff and acknowledged passively
    # (the expected wait and how to take the request back)
    ack = await post_mp(client, "我想咨询高企认定的材料", openid)
    assert ack is not None and "服务专员" in ack.content and "取消" in ack.content
    _, msgs = rows(db, conv_id)
    inbound = [m for m in msgs if m.direction == "in"]
    assert inbound[-1].text == "我想咨询高企认定的材料"
    # staff claim it: the user is told through WeChat's customer-service API
    h = handover.open_for(db, conv_id)
    with sessions(db)() as s, s.begin():
        staff = Staff(username=f"wang-{uuid.uuid4().hex[:6]}", display_name="王专员", node_id=h.node_id)
        s.add(staff)
    await gateway.claim_handover(app, h.id, staff)
    assert api.sends[-1][1]["touser"] == openid and "王专员" in api.sends[-1][1]["text"]["content"]
    # a staff reply (as the console sends it) goes the same way
    await gateway.send_to_user(app, conv_id, "您好，我是沣西新城服务专员小王，高企认定需要以下材料……", "staff:wang")
    assert api.sends[-1] == (
        "/cgi-bin/message/custom/send",
        {
            "touser": openid,
            "msgtype": "text",
            "text": {"content": "您好，我是沣西新城服务专员小王，高企认定需要以下材料……"},
        },
    )
    # staff end it: the bot comes back and asks for a rating, with numbered options the user answers
    await gateway.end_handover(app, h.id, "staff:wang")
    rating = api.sends[-1][1]["text"]["content"]
    assert "打个分" in rating and "1. " in rating and "回复序号" in rating, rating
    first_option = rating.split("1. ", 1)[1].split("\n", 1)[0]  # e.g. 非常满意
    reply = await post_mp(client, "1", openid)
    _, msgs = rows(db, conv_id)
    last_in = [m for m in msgs if m.direction == "in"][-1]  # stored as typed, the choice beside it
    assert last_in.text == "1" and json.loads(last_in.payload)["choice"]["title"] == first_option
    assert reply is not None and ("感谢" in reply.content or "谢谢" in reply.content), reply
    assert app[CHANNELS_KEY]["wechat_mp"].stats["pushed"] == 3  # claim notice, staff reply, rating
