"""Official Account callback: /wechat/mp in plain, compatible and safe mode.

- GET (URL verification): signature = sha1(token, timestamp, nonce); answer echostr.
- POST without encrypt_type (plain mode): the same signature; the body is the message.
- POST with encrypt_type=aes (compatible and safe mode): msg_signature covers the
  <Encrypt> element, which is decrypted and checked for our appid. Compatible mode
  also carries plaintext fields next to <Encrypt>; they are not signed, so they
  are ignored and only the decrypted message counts. The reply is encrypted.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.desk.wechat import xml as wxml
from bot.desk.wechat.api import MpApi
from bot.desk.wechat.channel import Channel, ChannelConfig, Reject, WeChatConfig
from bot.desk.wechat.crypto import CryptoError, signature_ok


class OfficialAccount(Channel):
    name = "wechat_mp"
    prefix = "wxmp:"
    idle_body = "success"

    def __init__(self, app: web.Application, cfg: ChannelConfig, common: WeChatConfig) -> None:
        super().__init__(app, cfg, common)
        if cfg.receive_id and cfg.secret:
            self.api = MpApi(cfg.api_base, cfg.receive_id, cfg.secret)

    async def handle_get(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            self.check_timestamp(q.get("timestamp", ""), q.get("nonce", ""))
            if not signature_ok(q.get("signature"), self.cfg.token, q["timestamp"], q["nonce"]):
                raise Reject(403, "签名不正确")
        except Reject as exc:
            return self.reject(exc)
        return web.Response(text=q.get("echostr", ""), content_type="text/plain")

    async def handle_post(self, request: web.Request) -> web.Response:
        started = asyncio.get_running_loop().time()
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        try:
            self.check_timestamp(timestamp, nonce)
            body = await self.read_body(request)
            if (q.get("encrypt_type") or "raw").lower() == "aes":
                if self.crypto is None:
                    raise Reject(400, "收到加密消息，但未配置 WECHAT_MP_AES_KEY")
                if "signature" in q and not signature_ok(q["signature"], self.cfg.token, timestamp, nonce):
                    raise Reject(403, "签名不正确")
                encrypt = wxml.parse(body).get("Encrypt")
                if not encrypt:
                    raise Reject(400, "缺少 Encrypt")
                msg = wxml.parse(self.crypto.open(q.get("msg_signature"), timestamp, nonce, encrypt))
                seal = self.sealer(nonce)
            else:
                if not signature_ok(q.get("signature"), self.cfg.token, timestamp, nonce):
                    raise Reject(403, "签名不正确")
                msg = wxml.parse(body)
                seal = None
            await self.check_replay(timestamp, nonce, body)
            return await self.respond(msg, seal, started)
        except (Reject, CryptoError, wxml.XmlError) as exc:
            return self.reject(exc)
