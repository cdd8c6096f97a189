"""WeCom (企业微信) application callback: /wechat/work, always encrypted.

- GET (URL verification): msg_signature = sha1(token, timestamp, nonce, echostr);
  echostr is decrypted, checked for our corpid and answered as the bare plaintext
  (no quotes, no newline, no BOM — WeCom compares it byte for byte).
- POST: msg_signature covers <Encrypt>; the decrypted message must name our corpid
  (and our AgentID when WECOM_AGENT_ID is set). The passive reply is encrypted.
"""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from bot.desk.wechat import xml as wxml
from bot.desk.wechat.api import WorkApi
from bot.desk.wechat.channel import Channel, ChannelConfig, Reject, WeChatConfig
from bot.desk.wechat.crypto import CryptoError


class WorkApp(Channel):
    name = "wecom"
    prefix = "wecom:"
    idle_body = ""  # WeCom: an empty answer means "nothing to say"
    user_re = re.compile(r"^[A-Za-z0-9_\-.@]{1,64}$")

    def __init__(self, app: web.Application, cfg: ChannelConfig, common: WeChatConfig) -> None:
        super().__init__(app, cfg, common)
        if cfg.secret and cfg.agent_id:
            self.api = WorkApi(cfg.api_base, cfg.receive_id, cfg.secret, cfg.agent_id)

    async def handle_get(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            self.check_timestamp(q.get("timestamp", ""), q.get("nonce", ""))
            # base64 has no spaces: a space is a "+" that was not URL-encoded on the way
            echostr = q.get("echostr", "").replace(" ", "+")
            if not echostr:
                raise Reject(400, "缺少 echostr")
            plain = self.crypto.open(q.get("msg_signature"), q["timestamp"], q["nonce"], echostr)
            return web.Response(body=plain, content_type="text/plain")
        except (Reject, CryptoError) as exc:
            return self.reject(exc)

    async def handle_post(self, request: web.Request) -> web.Response:
        started = asyncio.get_running_loop().time()
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        try:
            self.check_timestamp(timestamp, nonce)
            body = await self.read_body(request)
            outer = wxml.parse(body)
            encrypt = outer.get("Encrypt")
            if not encrypt:
                raise Reject(400, "缺少 Encrypt")
            msg = wxml.parse(self.crypto.open(q.get("msg_signature"), timestamp, nonce, encrypt))
            agent = (msg.get("AgentID") or outer.get("AgentID") or "").strip()
            if self.cfg.agent_id and agent and agent != self.cfg.agent_id:
                raise Reject(403, "AgentID 与配置不符")
            await self.check_replay(timestamp, nonce, body)
            return await self.respond(msg, self.sealer(nonce), started)
        except (Reject, CryptoError, wxml.XmlError) as exc:
            return self.reject(exc)
