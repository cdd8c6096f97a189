"""The Aliyun SMS provider against a local stand-in of dysmsapi that checks the request signature
(signature version 1.0, HMAC-SHA1 over the sorted, percent-encoded parameters), as the WeChat API tests do."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.settings import Settings
from bot.tickets import sms
from bot.tickets.identity import IdentityService
from bot.tickets.service import EnterpriseInput, TicketService

KEY_ID, SECRET = "LTAI-test-id", "test-secret-~*+ 中"


def pop(value: str) -> str:
    """The stand-in's own encoder, written from the docs (not the module's): UTF-8 %XX, '+'→%20,
    '*'→%2A, '%7E'→'~'."""
    return urllib.parse.quote_plus(value, encoding="utf-8").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


class StandIn:
    def __init__(self, answer: dict | None = None) -> None:
        self.received: list[dict] = []
        self.nonces: set[str] = set()
        self.answer = answer
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                query = urllib.parse.urlsplit(self.path).query
                params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
                status, body = stand_in.check(params)
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def check(self, params: dict) -> tuple[int, dict]:
        signature = params.pop("Signature", "")
        canonical = "&".join(f"{pop(k)}={pop(v)}" for k, v in sorted(params.items()))
        to_sign = "GET&%2F&" + pop(canonical)
        expected = base64.b64encode(hmac.new(f"{SECRET}&".encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
        if params.get("AccessKeyId") != KEY_ID:
            return 404, {"Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found."}
        if not hmac.compare_digest(signature, expected):
            return 400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched."}
        if params.get("SignatureNonce") in self.nonces:
            return 400, {"Code": "SignatureNonceUsed", "Message": "Specified signature nonce was used already."}
        self.nonces.add(params.get("SignatureNonce"))
        for k, v in {
            "Action": "SendSms",
            "Version": "2017-05-25",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "Format": "JSON",
        }.items():
            if params.get(k) != v:
                return 400, {"Code": "MissingParameter", "Message": k}
        self.received.append(params)
        return 200, self.answer or {"Code": "OK", "Message": "OK", "BizId": "9006197469364984^0", "RequestId": "r1"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in():
    s = StandIn()
    yield s
    s.close()


def from_env(env: dict):
    """The provider these variables configure (read into Settings.sms as the action server reads them)."""
    return sms.from_settings(Settings.from_env(env).sms)


def provider(url: str, secret: str = SECRET) -> sms.AliyunSms:
    return from_env(
        {
            "SMS_PROVIDER": "aliyun",
            "ALIYUN_SMS_ACCESS_KEY_ID": KEY_ID,
            "ALIYUN_SMS_ACCESS_KEY_SECRET": secret,
            "ALIYUN_SMS_SIGN_NAME": "秦创原总窗口",
            "ALIYUN_SMS_TEMPLATE_CODE": "SMS_123456789",
            "ALIYUN_SMS_ENDPOINT": url,
        }
    )


def test_a_signed_send_is_accepted_with_the_code_in_the_template(stand_in):
    p = provider(stand_in.url)
    p.send_code("13912345678", "042917")
    p.send_code("13912345678", "042918")  # a fresh nonce each time
    got = stand_in.received[0]
    assert got["PhoneNumbers"] == "13912345678" and got["SignName"] == "秦创原总窗口"
    assert json.loads(got["TemplateParam"]) == {"code": "042917"} and got["TemplateCode"] == "SMS_123456789"
    assert got["Timestamp"].endswith("Z") and len(stand_in.received) == 2


def test_a_wrong_secret_is_refused_by_the_signature_check(stand_in):
    with pytest.raises(sms.SmsError, match="SignatureDoesNotMatch"):
        provider(stand_in.url, secret="not-the-secret").send_code("13912345678", "123456")
    assert stand_in.received == []


def test_a_provider_refusal_and_an_unreachable_provider_are_errors(stand_in):
    stand_in.answer = {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控"}
    with pytest.raises(sms.SmsError, match="BUSINESS_LIMIT_CONTROL"):
        provider(stand_in.url).send_code("13912345678", "123456")
    with pytest.raises(sms.SmsError, match="unreachable"):
        provider("http://127.0.0.1:9/").send_code("13912345678", "123456")


def test_configuration():
    assert from_env({}) is None
    with pytest.raises(ValueError, match="ALIYUN_SMS_TEMPLATE_CODE"):
        from_env(
            {
                "SMS_PROVIDER": "aliyun",
                "ALIYUN_SMS_ACCESS_KEY_ID": "a",
                "ALIYUN_SMS_ACCESS_KEY_SECRET": "b",
                "ALIYUN_SMS_SIGN_NAME": "c",
            }
        )
    with pytest.raises(ValueError, match="not supported"):
        from_env({"SMS_PROVIDER": "carrier-pigeon"})


def test_percent_encoding_follows_the_docs():
    assert sms.percent_encode("a b*c~d+e/中") == "a%20b%2Ac~d%2Be%2F%E4%B8%AD"


def test_a_chat_verified_through_the_real_provider(stand_in, db_url):
    svc = TicketService(db_url)
    for sender, mobile in (("chat-a", "13912345678"), ("chat-b", "13800001111")):
        svc.open_ticket(
            category="need_debt_financing",
            description="想申请知识产权质押贷款",
            enterprise=EnterpriseInput(name="西安光启芯科技有限公司"),
            contact_name="王经理",
            mobile=mobile,
            sender_id=sender,
        )
    ids = IdentityService(db_url, sms=provider(stand_in.url))
    ids.verify_by_staff("chat-a", "li")
    assert ids.send_code("chat-b").outcome == "sent"
    code = json.loads(stand_in.received[-1]["TemplateParam"])["code"]
    assert stand_in.received[-1]["PhoneNumbers"] == "13912345678"
    assert ids.check_code("chat-b", code).outcome == "verified"
    assert len(svc.tickets_for_sender("chat-b")) == 2
