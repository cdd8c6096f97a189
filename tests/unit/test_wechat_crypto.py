"""WeChat signatures, AES and XML, against WeChat's published vectors and peers we did not write.

Vectors: the Official Account "消息推送" guide (Token "AAAAA": URL verification,
plain mode, safe mode incl. the encrypted reply) and the WeCom callback sample
(Token "QDG6eK", corpid wx5823bf96d3bd56c7). Peers: wechatpy and WeRoBot.
"""

from __future__ import annotations

import base64
import struct

import pytest

from bot.desk.wechat import xml as wxml
from bot.desk.wechat.api import split_text
from bot.desk.wechat.crypto import (
    BLOCK,
    DecryptError,
    MsgCrypto,
    ReceiverError,
    SignatureError,
    aes_key,
    pkcs7_pad,
    pkcs7_unpad,
    signature,
    signature_ok,
)

# ---- WeChat's published vectors --------------------------------------------------------------
MP_TOKEN, MP_KEY, MP_APPID = "AAAAA", "A" * 43, "wxba5fad812f8e6fb9"
MP_ENCRYPT = (
    "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDp"
    "VzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrK"
    "EYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJ"
    "Gj04="
)
MP_MESSAGE = (
    '{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY",'
    '"CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}'
)

WC_TOKEN, WC_KEY, WC_CORP = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"
WC_ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
WC_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg"
    "3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+k"
    "DZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6ti"
    "WSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p"
    "8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)


def test_official_account_url_verification_and_plain_mode_vectors():
    assert signature(MP_TOKEN, "1714036504", "1514711492") == "f464b24fc39322e44b38aa78f5edd27bd1441696"
    assert signature(MP_TOKEN, "1714037059", "486452656") == "899cf89e464efb63f54ddac96b0a0a235f53aa78"
    assert signature_ok("899cf89e464efb63f54ddac96b0a0a235f53aa78", MP_TOKEN, "1714037059", "486452656")
    assert signature_ok("899CF89E464EFB63F54DDAC96B0A0A235F53AA78", MP_TOKEN, "1714037059", "486452656")
    assert not signature_ok("f464b24fc39322e44b38aa78f5edd27bd1441696", MP_TOKEN, "1714037059", "486452656")
    assert not signature_ok("", MP_TOKEN, "1714037059", "486452656")
    assert not signature_ok(None, MP_TOKEN, "1714037059", "486452656")
    assert not signature_ok("签名", MP_TOKEN, "1714037059", "486452656")


def test_official_account_safe_mode_vector():
    c = MsgCrypto(MP_TOKEN, MP_KEY, MP_APPID)
    # URL of the example: signature=6c5c…&timestamp=1714112445&nonce=415670741&msg_signature=046e…
    assert signature(MP_TOKEN, "1714112445", "415670741") == "6c5c811b55cc85e0e1b54100749188c20beb3f5d"
    assert c.sign("1714112445", "415670741", MP_ENCRYPT) == "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3"
    assert (
        c.open("046e02f8204d34f8ba5fa3b1db94908f3df2e9b3", "1714112445", "415670741", MP_ENCRYPT).decode() == MP_MESSAGE
    )
    raw = base64.b64decode(MP_ENCRYPT)
    assert len(raw) == 224  # "TmpMsg, 字节长度为224"
    with pytest.raises(SignatureError):
        c.open("f464b24fc39322e44b38aa78f5edd27bd1441696", "1714112445", "415670741", MP_ENCRYPT)


def test_official_account_encrypted_reply_vector():
    """The guide's reply: fixed random "707722b803182950", timestamp 1713424427, nonce 415670741."""
    c = MsgCrypto(MP_TOKEN, MP_KEY, MP_APPID)
    encrypt = c.encrypt('{"demo_resp":"good luck"}', random16=b"707722b803182950")
    assert encrypt == "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ=="
    assert len(base64.b64decode(encrypt)) == 64
    assert c.sign("1713424427", "415670741", encrypt) == "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1"


def test_wecom_sample_vectors():
    c = MsgCrypto(WC_TOKEN, WC_KEY, WC_CORP)
    echo = c.open("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", WC_ECHOSTR)
    assert echo.isdigit()
    msg = wxml.parse(c.open("477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149", WC_ENCRYPT))
    assert msg == {
        "ToUserName": WC_CORP,
        "FromUserName": "mycreate",
        "CreateTime": "1409659813",
        "MsgType": "text",
        "Content": "hello",
        "MsgId": "4561255354251345929",
        "AgentID": "218",
    }
    with pytest.raises(ReceiverError):
        MsgCrypto(WC_TOKEN, WC_KEY, "wx0000000000000000").decrypt(WC_ENCRYPT)


# ---- PKCS#7 with WeChat's 32-byte block ------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 100])
def test_pkcs7_pads_to_32_and_round_trips(n):
    data = bytes(range(256))[:n] if n <= 256 else b"x" * n
    padded = pkcs7_pad(data)
    assert len(padded) % BLOCK == 0 and len(padded) > n
    assert padded[-1] == BLOCK - n % BLOCK
    assert pkcs7_unpad(padded) == data


@pytest.mark.parametrize("tail", [b"\x00", bytes([33]), b"\x02\x03", b"\x05\x05\x05\x04\x05"])
def test_pkcs7_unpad_is_strict(tail):
    with pytest.raises(DecryptError):
        pkcs7_unpad(b"a" * (BLOCK - len(tail)) + tail)
    with pytest.raises(DecryptError):
        pkcs7_unpad(b"a" * 17)  # not a whole number of blocks


def test_aes_key_validation():
    assert len(aes_key(WC_KEY)) == 32
    for bad in ("", "short", "A" * 42, "A" * 44, "!" * 43, "中" * 43):
        with pytest.raises(ValueError):
            aes_key(bad)


# ---- refusing what is not ours ---------------------------------------------------------------
def _forge(c: MsgCrypto, plain: bytes) -> str:
    """Encrypt an arbitrary (already padded) plaintext with the account key — an attacker's best case."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    enc = Cipher(algorithms.AES(c.key), modes.CBC(c.key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def test_tampered_bad_padding_wrong_receiver_and_garbage_are_refused():
    c = MsgCrypto(MP_TOKEN, MP_KEY, MP_APPID)
    good = c.encrypt("<xml><Content>你好</Content></xml>")
    raw = bytearray(base64.b64decode(good))
    for pos in (len(raw) - 1, len(raw) - 20, len(raw) - 33):  # last block, and the block before it
        t = bytearray(raw)
        t[pos] ^= 0x41
        with pytest.raises((DecryptError, ReceiverError)):
            c.decrypt(base64.b64encode(bytes(t)).decode())
    with pytest.raises(DecryptError):  # padding byte 0
        c.decrypt(_forge(c, b"r" * 16 + struct.pack(">I", 3) + b"abc" + MP_APPID.encode() + b"\x00" * 23))
    body = b"r" * 16 + struct.pack(">I", 3) + b"abc" + MP_APPID.encode()
    with pytest.raises(DecryptError):  # inconsistent padding bytes
        c.decrypt(_forge(c, body + b"\x05" * 22 + b"\x17"))
    with pytest.raises(DecryptError):  # length field beyond the plaintext
        c.decrypt(_forge(c, pkcs7_pad(b"r" * 16 + struct.pack(">I", 999) + b"abc")))
    with pytest.raises(ReceiverError):  # a genuine message for another appid
        MsgCrypto(MP_TOKEN, MP_KEY, "wx0000000000000000").decrypt(good)
    with pytest.raises((DecryptError, ReceiverError)):  # another account's key
        MsgCrypto(MP_TOKEN, "B" * 43, MP_APPID).decrypt(good)
    for garbage in ("", "not base64!!", base64.b64encode(b"x" * 20).decode()):
        with pytest.raises(DecryptError):
            c.decrypt(garbage)


# ---- interoperability: wechatpy and WeRoBot ----------------------------------------------------
def test_wechatpy_encrypts_we_decrypt_and_the_other_way_round():
    from wechatpy.crypto import WeChatCrypto
    from wechatpy.enterprise.crypto import WeChatCrypto as WorkCrypto

    ours, peer = MsgCrypto(MP_TOKEN, MP_KEY, MP_APPID), WeChatCrypto(MP_TOKEN, MP_KEY, MP_APPID)
    text = "<xml><Content><![CDATA[你好，想申请知识产权质押贷款]]></Content></xml>"
    env = wxml.parse(peer.encrypt_message(text, "123456", "1700000000"))
    assert ours.open(env["MsgSignature"], env["TimeStamp"], env["Nonce"], env["Encrypt"]).decode() == text
    encrypt, sig = ours.seal(text, "1700000001", "abc")
    envelope = wxml.encrypted_reply(encrypt, sig, "1700000001", "abc")
    assert peer.decrypt_message(envelope, sig, "1700000001", "abc") == text

    ours_w, peer_w = MsgCrypto(WC_TOKEN, WC_KEY, WC_CORP), WorkCrypto(WC_TOKEN, WC_KEY, WC_CORP)
    echostr = ours_w.encrypt("8723987239")
    assert peer_w.check_signature(ours_w.sign("1", "2", echostr), "1", "2", echostr) == "8723987239"
    env = wxml.parse(peer_w.encrypt_message(text, "n", "1700000002"))
    assert ours_w.open(env["MsgSignature"], env["TimeStamp"], env["Nonce"], env["Encrypt"]).decode() == text


def test_werobot_encrypts_we_decrypt_and_the_other_way_round():
    werobot_crypto = pytest.importorskip("werobot.crypto")
    peer = werobot_crypto.MessageCrypt(MP_TOKEN, MP_KEY, MP_APPID)
    ours = MsgCrypto(MP_TOKEN, MP_KEY, MP_APPID)
    text = "<xml><Content><![CDATA[查询我的工单]]></Content></xml>"
    env = wxml.parse(peer.encrypt_message(text, "1700000000", "nonce"))
    assert ours.open(env["MsgSignature"], env["TimeStamp"], env["Nonce"], env["Encrypt"]).decode() == text
    encrypt, sig = ours.seal(text, "1700000001", "n2")
    assert peer.decrypt_message("1700000001", "n2", sig, encrypt).decode() == text


# ---- XML: safe parsing and CDATA -------------------------------------------------------------
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><Content>&lol3;</Content></xml>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><Content>&xxe;</Content></xml>"""


@pytest.mark.parametrize(
    "body", [BOMB, XXE, b"<!DOCTYPE xml><xml/>", b"<xml><a>", b"", b"<html/>", b"<xml>" + b"<a>1</a>" * 100 + b"</xml>"]
)
def test_unsafe_or_invalid_xml_is_refused(body):
    with pytest.raises(wxml.XmlError):
        wxml.parse(body)


def test_cdata_survives_terminators_and_drops_control_characters():
    import xmltodict
    from wechatpy import parse_message

    tricky = "a]]>b <![CDATA[x]]> ]]]]> 结尾]]\x01\x0b"
    reply = wxml.text_reply("openid", "gh_x", tricky, 1700000000)
    assert wxml.parse(reply)["Content"] == "a]]>b <![CDATA[x]]> ]]]]> 结尾]]"
    assert xmltodict.parse(reply)["xml"]["Content"] == "a]]>b <![CDATA[x]]> ]]]]> 结尾]]"
    # wechatpy parses what WeChat would receive (it dispatches on MsgType, as a server would)
    assert parse_message(reply).content == "a]]>b <![CDATA[x]]> ]]]]> 结尾]]"


def test_split_text_respects_the_byte_limit_and_line_ends():
    text = "\n".join(f"第{i}行：" + "政策" * 30 for i in range(60))
    pieces = split_text(text, 2000)
    assert all(len(p.encode()) <= 2000 for p in pieces)
    assert "\n".join(pieces) == text
    long_line = "长" * 3000
    assert "".join(split_text(long_line, 2000)) == long_line
    assert split_text("") == []
