"""Sending one-time codes by SMS: an interface and the Aliyun SMS (dysmsapi) provider, chosen by configuration.

Configuration (environment, read into Settings.sms by bot/settings.py; docs/identity.md):
  SMS_PROVIDER=aliyun             unset: no SMS; chat verification is then done by staff in the console
  ALIYUN_SMS_ACCESS_KEY_ID, ALIYUN_SMS_ACCESS_KEY_SECRET, ALIYUN_SMS_SIGN_NAME, ALIYUN_SMS_TEMPLATE_CODE
  ALIYUN_SMS_ENDPOINT             default https://dysmsapi.aliyuncs.com/ (tests point it at a local stand-in)

The request is Alibaba Cloud's RPC style, signature version 1.0 (public docs, "Signature mechanism" /
"signature method" of Short Message Service): the parameters (common + SendSms ones, without Signature)
sorted by name, each name and value percent-encoded (RFC 3986: space %20, '*' %2A, '~' kept), joined by
'&' into the canonicalized query string; StringToSign = "GET&%2F&" + percentEncode(canonicalized);
Signature = Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)). The template must have a ${code}
variable; the answer is JSON with Code "OK" on success.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping, Optional, Protocol

from bot.settings import SmsSettings

ALIYUN_ENDPOINT = SmsSettings.endpoint


class SmsError(RuntimeError):
    """The provider did not accept the message (the text is for the log, not for the user)."""


class SmsSender(Protocol):
    name: str

    def send_code(self, mobile: str, code: str) -> None:
        """Send `code` to the mainland mobile `mobile`; raise SmsError when it was not accepted."""


def percent_encode(value: str) -> str:
    """Alibaba Cloud's POP encoding: RFC 3986 unreserved characters kept, everything else %XX (UTF-8)."""
    return urllib.parse.quote(str(value), safe="-_.~")


def aliyun_signature(params: Mapping[str, str], secret: str, method: str = "GET") -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass
class AliyunSms:
    access_key_id: str
    access_key_secret: str
    sign_name: str
    template_code: str
    endpoint: str = ALIYUN_ENDPOINT
    timeout: float = 10.0
    name: str = "aliyun"

    def params(self, mobile: str, code: str, now: Optional[datetime] = None, nonce: Optional[str] = None) -> dict:
        now = now or datetime.now(timezone.utc)
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": mobile,
            "RegionId": "cn-hangzhou",
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": self.template_code,
            "TemplateParam": json.dumps({"code": code}, separators=(",", ":")),
            "Timestamp": now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        params["Signature"] = aliyun_signature(params, self.access_key_secret)
        return params

    def send_code(self, mobile: str, code: str) -> None:
        query = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in self.params(mobile, code).items())
        url = f"{self.endpoint.rstrip('/')}/?{query}"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=self.timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
        except OSError as exc:
            raise SmsError(f"aliyun sms unreachable: {exc}") from exc
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise SmsError(f"aliyun sms: not JSON: {body[:200]!r}") from exc
        if answer.get("Code") != "OK":
            raise SmsError(f"aliyun sms refused: {answer.get('Code')} {answer.get('Message')}")


# variable → SmsSettings field
ALIYUN_KEYS = {
    "ALIYUN_SMS_ACCESS_KEY_ID": "access_key_id",
    "ALIYUN_SMS_ACCESS_KEY_SECRET": "access_key_secret",
    "ALIYUN_SMS_SIGN_NAME": "sign_name",
    "ALIYUN_SMS_TEMPLATE_CODE": "template_code",
}


def from_settings(settings: SmsSettings) -> Optional[SmsSender]:
    """The configured provider, or None when SMS_PROVIDER is unset; a partial configuration is refused."""
    provider = settings.provider.strip().lower()
    if not provider:
        return None
    if provider != "aliyun":
        raise ValueError(f"SMS_PROVIDER={provider!r} is not supported (supported: aliyun)")
    missing = [var for var, name in ALIYUN_KEYS.items() if not getattr(settings, name).strip()]
    if missing:
        raise ValueError(f"SMS_PROVIDER=aliyun needs {', '.join(missing)}")
    return AliyunSms(
        settings.access_key_id.strip(),
        settings.access_key_secret.strip(),
        settings.sign_name.strip(),
        settings.template_code.strip(),
        endpoint=(settings.endpoint or ALIYUN_ENDPOINT).strip(),
    )
