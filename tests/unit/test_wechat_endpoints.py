"""/wechat/mp and /wechat/work on the desk app, driven the way WeChat drives them.

wechatpy (and WeRoBot) sign and encrypt what we receive and decrypt/parse what we
answer. The gateway is replaced by a fake `handle_inbound` (no Rasa needed here):
it counts calls, so "never reached Rasa" and "reached Rasa once" are checkable.
A stand-in for WeChat's API server records customer-service sends and can answer
with errors.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise import parse_message as parse_work_message
from wechatpy.enterprise.crypto import WeChatCrypto as WorkCrypto

from bot.desk import wechat
from bot.desk.app import create_app
from bot.desk.hub import HUB_KEY
from bot.desk.wechat import xml as wxml
from bot.settings import Settings
from tests.unit.wechat_helpers import (
    MP_APPID,
    MP_GH,
    MP_KEY,
    MP_TOKEN,
    OPENID,
    WC_AGENT,
    WC_CORP,
    WC_KEY,
    WC_TOKEN,
    config_of,
    event_xml,
    sign,
    start_desk,
    text_xml,
)

pytestmark = pytest.mark.desk


@pytest.fixture
async def desk(monkeypatch, tmp_path, db_url):
    d, closers = await start_desk(monkeypatch, tmp_path, db_url)
    yield d
    for c in closers:
        await c.close()


@pytest.fixture
async def slow_desk(monkeypatch, tmp_path, db_url):
    """Reply budget 0.3 s: anything slower goes through the customer-service API."""
    d, closers = await start_desk(monkeypatch, tmp_path, db_url, budget="0.3")
    yield d
    for c in closers:
        await c.close()


async def until(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


# ---- configuration ----------------------------------------------------------------------------
async def test_unconfigured_channels_answer_404(tmp_path):
    client = TestClient(TestServer(create_app(Settings(var_dir=tmp_path))))
    await client.start_server()
    try:
        for path in ("/wechat/mp", "/wechat/work"):
            assert (await client.get(path, params={"echostr": "x"})).status == 404
            assert (await client.post(path, data=b"<xml/>")).status == 404
    finally:
        await client.close()


def test_partial_or_malformed_configuration_is_refused():
    with pytest.raises(ValueError, match="WECOM_CORPID"):
        config_of({"WECOM_TOKEN": "t", "WECOM_AES_KEY": WC_KEY})
    with pytest.raises(ValueError, match="EncodingAESKey"):
        config_of({"WECHAT_MP_TOKEN": "t", "WECHAT_MP_AES_KEY": "short", "WECHAT_MP_APPID": "a"})
    with pytest.raises(ValueError, match="WECHAT_MP_APPID"):
        config_of({"WECHAT_MP_TOKEN": "t", "WECHAT_MP_AES_KEY": MP_KEY})
    with pytest.raises(SystemExit, match="WECHAT_REPLY_BUDGET"):
        config_of({"WECHAT_MP_TOKEN": "t", "WECHAT_REPLY_BUDGET": "soon"})
    cfg = config_of({"WECHAT_MP_TOKEN": "t"})
    assert cfg.mp and cfg.mp.api_base == "https://api.weixin.qq.com" and cfg.work is None


# ---- URL verification -----------------------------------------------------------------------------
async def test_mp_url_verification_official_vector_and_refusals(desk):
    desk.channel("wechat_mp").cfg = desk.channel("wechat_mp").cfg.__class__(
        "AAAAA", MP_KEY, MP_APPID
    )  # the guide's Token
    desk.channel("wechat_mp").clock = lambda: 1714036504
    q = {
        "signature": "f464b24fc39322e44b38aa78f5edd27bd1441696",
        "echostr": "4375120948345356249",
        "timestamp": "1714036504",
        "nonce": "1514711492",
    }
    r = await desk.client.get("/wechat/mp", params=q)
    assert r.status == 200 and await r.text() == "4375120948345356249"
    assert (await desk.client.get("/wechat/mp", params={**q, "signature": "0" * 40})).status == 403
    desk.channel("wechat_mp").clock = lambda: 1714036504 + 3600  # an hour later: stale
    assert (await desk.client.get("/wechat/mp", params=q)).status == 403


async def test_wecom_url_verification_answers_the_bare_plaintext(desk):
    r = await desk.client.get("/wechat/work", params=desk.work.verify_params("1616140317555161061"))
    assert r.status == 200
    assert await r.read() == b"1616140317555161061"  # no quotes, no newline
    assert (await desk.client.get("/wechat/work", params=desk.work.verify_params(corp="wwOTHERCORP"))).status == 403
    bad = desk.work.verify_params()
    assert (await desk.client.get("/wechat/work", params={**bad, "msg_signature": "1" * 40})).status == 403
    stale = desk.work.verify_params(ts=str(int(time.time()) - 3600))
    assert (await desk.client.get("/wechat/work", params=stale)).status == 403


async def test_wecom_official_sample_vector_verifies(desk):
    ch = desk.channel("wecom")
    from bot.desk.wechat.crypto import MsgCrypto

    ch.crypto = MsgCrypto("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")
    ch.clock = lambda: 1409659589
    r = await desk.client.get(
        "/wechat/work",
        params={
            "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
            "timestamp": "1409659589",
            "nonce": "263014780",
            "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
        },
    )
    assert r.status == 200 and (await r.text()).isdigit()


# ---- the three Official Account modes --------------------------------------------------------------
async def test_mp_plain_mode_passive_reply(desk):
    r = await desk.post_mp(*desk.mp.plain(text_xml("你好", msg_id=1001)))
    assert r.status == 200
    reply = parse_message(await r.text())
    assert reply.type == "text" and reply.content == "收到：你好"
    assert reply.target == OPENID and reply.source == MP_GH
    assert desk.inbound.calls == [(f"wxmp:{OPENID}", "你好", "1001", "wechat_mp")]


async def test_mp_safe_mode_reply_decrypts_with_wechatpy_and_werobot(desk):
    params, body = desk.mp.safe(text_xml("想申请知识产权质押贷款"))
    r = await desk.post_mp(params, body)
    assert r.status == 200
    text = await r.text()
    assert "<Encrypt>" in text and "收到" not in text
    assert parse_message(desk.mp.open_reply(text)).content == "收到：想申请知识产权质押贷款"
    werobot_crypto = pytest.importorskip("werobot.crypto")
    from werobot.parser import parse_xml

    env = wxml.parse(text)
    plain = werobot_crypto.MessageCrypt(MP_TOKEN, MP_KEY, MP_APPID).decrypt_message(
        env["TimeStamp"], env["Nonce"], env["MsgSignature"], env["Encrypt"]
    )
    assert parse_xml(plain)["Content"] == "收到：想申请知识产权质押贷款"


async def test_werobot_encrypted_message_is_accepted(desk):
    werobot_crypto = pytest.importorskip("werobot.crypto")
    ts, nonce = str(int(time.time())), "wr1"
    env = wxml.parse(
        werobot_crypto.MessageCrypt(MP_TOKEN, MP_KEY, MP_APPID).encrypt_message(text_xml("查询我的工单"), ts, nonce)
    )
    params = {
        "timestamp": ts,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": env["MsgSignature"],
        "signature": sign(MP_TOKEN, ts, nonce),
    }
    r = await desk.post_mp(params, f"<xml><Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>")
    assert r.status == 200 and parse_message(desk.mp.open_reply(await r.text())).content == "收到：查询我的工单"


async def test_mp_compatible_mode_trusts_only_the_encrypted_part(desk):
    forged = "<FromUserName><![CDATA[oFORGED]]></FromUserName><Content><![CDATA[伪造的明文]]></Content>"
    params, body = desk.mp.safe(text_xml("真实内容"), compat=forged)
    r = await desk.post_mp(params, body)
    assert r.status == 200
    assert desk.inbound.calls[0][:2] == (f"wxmp:{OPENID}", "真实内容")
    assert parse_message(desk.mp.open_reply(await r.text())).content == "收到：真实内容"


async def test_wecom_message_round_trip(desk):
    params, body = desk.work.message(text_xml("你好", user="zhang.san", to=WC_CORP, agent=WC_AGENT, msg_id=77))
    r = await desk.post_work(params, body)
    assert r.status == 200
    reply = parse_work_message(desk.work.open_reply(await r.text()))
    assert reply.content == "收到：你好" and reply.target == "zhang.san" and reply.source == WC_CORP
    assert desk.inbound.calls == [("wecom:zhang.san", "你好", "77", "wecom")]
    other_agent = text_xml("你好", user="zhang.san", to=WC_CORP, agent="1000009")
    assert (await desk.post_work(*desk.work.message(other_agent))).status == 403


# ---- refusals: 4xx and never a forward ---------------------------------------------------------------
def _resigned(params, body, encrypt):
    """Replace <Encrypt> and sign it correctly: only decryption can refuse it."""
    body = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return {**params, "msg_signature": sign(MP_TOKEN, params["timestamp"], params["nonce"], encrypt)}, body


def _negative_cases():
    import base64

    from bot.desk.wechat.crypto import MsgCrypto

    ours = MsgCrypto(MP_TOKEN, MP_KEY, MP_APPID)

    def wrong_signature(d):
        p, b = d.mp.safe(text_xml("x"))
        return {**p, "msg_signature": "0" * 40}, b

    def wrong_plain_signature(d):
        p, b = d.mp.plain(text_xml("x"))
        return {**p, "signature": sign("other", p["timestamp"], p["nonce"])}, b

    def tampered_ciphertext(d):
        p, b = d.mp.safe(text_xml("x"))
        raw = bytearray(base64.b64decode(wxml.parse(b)["Encrypt"]))
        raw[-1] ^= 0x3C
        return _resigned(p, b, base64.b64encode(bytes(raw)).decode())

    def tampered_unsigned(d):
        p, b = d.mp.safe(text_xml("x"))
        enc = wxml.parse(b)["Encrypt"]
        return p, b.replace(enc, enc[:10] + ("A" if enc[10] != "A" else "B") + enc[11:])

    def bad_padding(d):
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        plain = b"0123456789abcdef" + len(b"<xml/>").to_bytes(4, "big") + b"<xml/>" + MP_APPID.encode()
        pad = 32 - len(plain) % 32
        plain += b"\x05" * (pad - 1) + bytes([pad])  # claims `pad` bytes that differ
        enc = Cipher(algorithms.AES(ours.key), modes.CBC(ours.key[:16])).encryptor()
        ct = base64.b64encode(enc.update(plain) + enc.finalize()).decode()
        p, b = d.mp.safe(text_xml("x"))
        return _resigned(p, b, ct)

    def wrong_appid(d):
        other = WeChatCrypto(MP_TOKEN, MP_KEY, "wxOTHERAPPID00000")
        ts, nonce = str(int(time.time())), "wa"
        env = wxml.parse(other.encrypt_message(text_xml("x"), nonce, ts))
        return (
            {"timestamp": ts, "nonce": nonce, "encrypt_type": "aes", "msg_signature": env["MsgSignature"]},
            f"<xml><Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>",
        )

    def stale_timestamp(d):
        return d.mp.safe(text_xml("x"), ts=str(int(time.time()) - 600))

    def future_timestamp(d):
        return d.mp.safe(text_xml("x"), ts=str(int(time.time()) + 600))

    def entity_bomb(d):
        bomb = (
            '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
            f"<xml><FromUserName>{OPENID}</FromUserName><MsgType>text</MsgType><Content>&c;</Content></xml>"
        )
        return d.mp.plain(bomb)

    def entity_bomb_inside_ciphertext(d):
        bomb = (
            '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            f"<xml><FromUserName>{OPENID}</FromUserName><MsgType>text</MsgType><Content>&b;</Content></xml>"
        )
        return d.mp.safe(bomb)

    def external_entity(d):
        xxe = (
            '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            f"<xml><FromUserName>{OPENID}</FromUserName><MsgType>text</MsgType><Content>&x;</Content></xml>"
        )
        return d.mp.plain(xxe)

    def oversized(d):
        return d.mp.plain(text_xml("大" * 20_000))

    def missing_params(d):
        p, b = d.mp.safe(text_xml("x"))
        return {k: v for k, v in p.items() if k not in ("timestamp",)}, b

    def not_wechat_xml(d):
        return d.mp.plain("<html><body>hi</body></html>")

    def bad_user(d):
        return d.mp.plain(text_xml("x", user="../../etc"))

    return [
        wrong_signature,
        wrong_plain_signature,
        tampered_ciphertext,
        tampered_unsigned,
        bad_padding,
        wrong_appid,
        stale_timestamp,
        future_timestamp,
        entity_bomb,
        entity_bomb_inside_ciphertext,
        external_entity,
        oversized,
        missing_params,
        not_wechat_xml,
        bad_user,
    ]


@pytest.mark.parametrize("case", _negative_cases(), ids=lambda f: f.__name__)
async def test_refused_requests_get_4xx_and_never_reach_rasa(desk, case):
    params, body = case(desk)
    r = await desk.post_mp(params, body)
    assert 400 <= r.status < 500, (r.status, await r.text())
    assert desk.inbound.calls == []


async def test_wecom_refusals(desk):
    inner = text_xml("x", user="li", to=WC_CORP, agent=WC_AGENT)
    p, b = desk.work.message(inner)
    assert (await desk.post_work({**p, "msg_signature": "f" * 40}, b)).status == 403
    other = WorkCrypto(WC_TOKEN, WC_KEY, "wwOTHERCORP")
    ts, nonce = str(int(time.time())), "o1"
    env = wxml.parse(other.encrypt_message(inner, nonce, ts))
    r = await desk.post_work(
        {"msg_signature": env["MsgSignature"], "timestamp": ts, "nonce": nonce},
        f"<xml><Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>",
    )
    assert r.status == 403
    assert (await desk.post_work(*desk.work.message(inner, ts=str(int(time.time()) - 1000)))).status == 403
    assert desk.inbound.calls == []


async def test_replayed_signature_with_another_body_is_refused(desk):
    ts = str(int(time.time()))
    params, body = desk.mp.plain(text_xml("第一条", msg_id=5), ts=ts, nonce="samenonce")
    assert (await desk.post_mp(params, body)).status == 200
    r = await desk.post_mp(params, text_xml("伪造的第二条", msg_id=6))
    assert r.status == 403
    again = await desk.post_mp(params, body)  # an unchanged retry is fine
    assert again.status == 200 and parse_message(await again.text()).content == "收到：第一条"
    assert [c[1] for c in desk.inbound.calls] == ["第一条"]


# ---- retries and the 5-second deadline -----------------------------------------------------------------
async def test_retries_reach_rasa_once_and_get_the_same_answer(desk):
    desk.inbound.delay = 0.4
    params, body = desk.mp.safe(text_xml("高企认定需要什么条件", msg_id=4242))
    first = asyncio.create_task(desk.post_mp(params, body))
    await asyncio.sleep(0.1)
    # WeChat retries with a new request (same message); here while the first still waits for Rasa
    params2, body2 = desk.mp.safe(text_xml("高企认定需要什么条件", msg_id=4242, created=int(time.time())))
    second = asyncio.create_task(desk.post_mp(params2, body2))
    answers = [desk.mp.open_reply(await (await t).text()) for t in (first, second)]
    third = await desk.post_mp(*desk.mp.safe(text_xml("高企认定需要什么条件", msg_id=4242)))
    answers.append(desk.mp.open_reply(await third.text()))
    assert {parse_message(a).content for a in answers} == {"收到：高企认定需要什么条件"}
    assert len(desk.inbound.calls) == 1


async def test_events_are_deduplicated_on_sender_and_create_time(desk):
    created = int(time.time())
    for _ in range(3):
        r = await desk.post_mp(*desk.mp.safe(event_xml("subscribe", created=created)))
        assert r.status == 200
    assert desk.inbound.calls == [(f"wxmp:{OPENID}", "/greet", f"{OPENID}:{created}:subscribe", "wechat_mp")]
    assert desk.inbound.titles == ["（关注）"]  # what staff see instead of "/greet"


async def test_slow_reply_goes_out_through_the_customer_service_api(slow_desk):
    d = slow_desk
    d.inbound.release = asyncio.Event()  # the bot has not answered yet ...
    params, body = d.mp.safe(text_xml("想了解人才公寓", msg_id=9001))
    r = await d.post_mp(params, body)
    assert await r.text() == "success"  # ... so WeChat got "success" without waiting for it
    retry = await d.post_mp(*d.mp.safe(text_xml("想了解人才公寓", msg_id=9001)))
    assert await retry.text() == "success"
    assert d.api.sends == []
    d.inbound.release.set()
    await until(lambda: d.api.sends)
    await asyncio.sleep(0.2)
    assert d.api.sends == [
        (
            "/cgi-bin/message/custom/send",
            {"touser": OPENID, "msgtype": "text", "text": {"content": "收到：想了解人才公寓"}},
        )
    ]
    late = await d.post_mp(*d.mp.safe(text_xml("想了解人才公寓", msg_id=9001)))
    assert await late.text() == "success"  # already delivered: not twice
    assert len(d.inbound.calls) == 1 and len(d.api.sends) == 1


async def test_wecom_slow_reply_is_sent_with_the_agent_id(slow_desk):
    d = slow_desk
    d.inbound.delay = 0.8
    r = await d.post_work(*d.work.message(text_xml("你好", user="wang", to=WC_CORP, agent=WC_AGENT)))
    assert r.status == 200 and await r.text() == ""
    await until(lambda: d.api.sends)
    path, sent = d.api.sends[0]
    assert path == "/cgi-bin/message/send"
    assert sent["touser"] == "wang" and sent["agentid"] == int(WC_AGENT) and sent["text"]["content"] == "收到：你好"


# ---- rendering: several messages, buttons as numbered options, CDATA ----------------------------------
async def test_several_messages_are_joined_and_buttons_become_numbers(desk):
    desk.inbound.replies = [
        {"text": "您好！我是原上管家。"},
        {
            "text": "请问您想办理哪类事项？",
            "buttons": [
                {"title": "我能办哪些事", "payload": "/ask_capabilities"},
                {"title": "查询我的工单", "payload": "/ask_ticket_status"},
                {"title": "转人工服务", "payload": "/request_human"},
            ],
        },
    ]
    r = await desk.post_mp(*desk.mp.safe(text_xml("你好")))
    content = parse_message(desk.mp.open_reply(await r.text())).content
    assert content == (
        "您好！我是原上管家。\n\n请问您想办理哪类事项？\n1. 我能办哪些事\n2. 查询我的工单\n"
        "3. 转人工服务\n（回复序号即可选择）"
    )
    desk.inbound.replies = [{"text": "您名下有 1 张工单。"}]
    await desk.post_mp(*desk.mp.safe(text_xml("２")))  # full-width digit
    assert desk.inbound.calls[-1][1] == "/ask_ticket_status"
    assert desk.inbound.titles[-1] == "查询我的工单"
    await desk.post_mp(*desk.mp.safe(text_xml("2")))  # no options any more: plain text
    assert desk.inbound.calls[-1][1] == "2"


async def test_long_replies_are_pushed_in_order(desk):
    parts = [f"第{i}段：" + "科技成果转化" * 60 for i in range(1, 4)]  # ~1 KB each, 3 KB together
    desk.inbound.replies = [{"text": p} for p in parts]
    r = await desk.post_mp(*desk.mp.safe(text_xml("成果转化怎么办")))
    assert await r.text() == "success"
    await until(lambda: len(desk.api.sends) == 3)
    assert [s[1]["text"]["content"] for s in desk.api.sends] == parts
    assert desk.api.token_requests == 1  # one token for all three


async def test_cdata_terminator_in_a_reply(desk):
    desk.inbound.replies = [{"text": "示例：]]><xml>不是标签</xml> 结束"}]
    r = await desk.post_mp(*desk.mp.plain(text_xml("给我看个例子")))
    assert parse_message(await r.text()).content == "示例：]]><xml>不是标签</xml> 结束"


async def test_events_and_other_message_types(desk):
    r = await desk.post_mp(*desk.mp.safe(event_xml("unsubscribe")))
    assert await r.text() == "success"
    await desk.post_mp(*desk.mp.safe(event_xml("CLICK", "ask_ticket_status")))
    assert desk.inbound.calls[-1][1] == "/ask_ticket_status"
    assert desk.inbound.titles[-1] == "（菜单）查询我的工单"
    n = len(desk.inbound.calls)
    r = await desk.post_mp(*desk.mp.safe(event_xml("CLICK", "drop_tables")))
    assert "菜单暂未开放" in parse_message(desk.mp.open_reply(await r.text())).content
    video = (
        f"<xml><ToUserName>{MP_GH}</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>video</MsgType><MediaId>m</MediaId><ThumbMediaId>t</ThumbMediaId><MsgId>31</MsgId></xml>"
    )
    r = await desk.post_mp(*desk.mp.safe(video))  # images and files are received (tests/e2e/test_wechat_files.py)
    assert "文字" in parse_message(desk.mp.open_reply(await r.text())).content
    assert len(desk.inbound.calls) == n


async def test_gateway_failure_gets_an_apology_not_an_error(desk):
    desk.inbound.fail = True
    r = await desk.post_mp(*desk.mp.safe(text_xml("你好")))
    assert r.status == 200 and "繁忙" in parse_message(desk.mp.open_reply(await r.text())).content
    from bot.desk.gateway import InboundError

    desk.inbound.fail = InboundError("消息过长（最多2000字）", "too_long")  # the gateway refuses it
    r = await desk.post_mp(*desk.mp.safe(text_xml("长" * 2100)))
    assert parse_message(desk.mp.open_reply(await r.text())).content == "消息过长（最多2000字）"


# ---- out-of-band sends: staff replies and progress pushes --------------------------------------------
async def test_staff_reply_token_cache_and_token_refresh(desk):
    send = wechat._sender("wechat_mp")
    assert await send(desk.app, {"id": f"wxmp:{OPENID}"}, "您好，我是沣西新城的服务专员小李。", None)
    assert await send(desk.app, f"wxmp:{OPENID}", "第二条", None)
    assert desk.api.token_requests == 1
    desk.api.errors = [40001]  # token revoked: fetched again, sent once
    assert await send(
        desk.app,
        {"id": f"wxmp:{OPENID}"},
        "请对本次服务评价：",
        [
            {"title": "非常满意", "payload": '/rate_service{"score": 5}'},
            {"title": "满意", "payload": '/rate_service{"score": 4}'},
        ],
    )
    assert desk.api.token_requests == 2
    contents = [s[1]["text"]["content"] for s in desk.api.sends]
    assert contents == [
        "您好，我是沣西新城的服务专员小李。",
        "第二条",
        "请对本次服务评价：\n1. 非常满意\n2. 满意\n（回复序号即可选择）",
    ]
    # the user answers the rating with a number
    await desk.post_mp(*desk.mp.safe(text_xml("1")))
    assert desk.inbound.calls[-1][1] == '/rate_service{"score": 5}'


@pytest.mark.parametrize("errcode,words", [(45015, "48 小时"), (45047, "20 条"), (43004, "未关注")])
async def test_send_errors_are_reported_to_staff(desk, db_url, errcode, words):
    from sqlalchemy import select

    from bot.db import read_sessions, sessions
    from bot.db.schema import Conversation, Message

    conv = f"wxmp:{OPENID}"
    with sessions(db_url)() as s, s.begin():
        s.add(Conversation(id=conv, channel="wechat_mp", mode="staff", external_user=OPENID))
    desk.api.errors = [errcode]
    with desk.app[HUB_KEY].subscribe("console") as q:
        ok = await wechat._sender("wechat_mp")(desk.app, conv, "工单进展：已受理", None)
        events = [q.get_nowait() for _ in range(q.qsize())]
    assert ok is False and desk.api.sends == []
    event = next(e for e in events if e["type"] == "delivery_failed")
    assert event["type"] == "delivery_failed" and event["errcode"] == errcode and words in event["reason"]
    assert event["conversation_id"] == conv and event["text"] == "工单进展：已受理"
    with read_sessions(db_url)() as s:
        note = s.scalars(select(Message).where(Message.conversation_id == conv)).one()  # not shown to the user
    assert note.internal and note.author == "system" and words in note.text and "工单进展" in note.text


async def test_wecom_staff_reply(desk):
    assert await wechat._sender("wecom")(
        desk.app, {"id": "wecom:zhang.san", "external_user": "zhang.san"}, "您好，已为您转接。", None
    )
    assert desk.api.sends == [
        (
            "/cgi-bin/message/send",
            {
                "touser": "zhang.san",
                "msgtype": "text",
                "agentid": int(WC_AGENT),
                "text": {"content": "您好，已为您转接。"},
                "safe": 0,
            },
        )
    ]
