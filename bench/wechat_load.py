"""WeChat callback load: concurrent users posting encrypted messages to a desk on the real Rasa.

    python bench/wechat_load.py                    (default: 1, 10, 30 and 60 concurrent users)
    python bench/wechat_load.py --users 50 -m 8

Starts the same processes as `make run` (action server, Rasa, desk) on free ports, with
the Official Account channel configured in safe mode and WeChat's API server replaced
by a local stand-in (it receives the replies that miss the passive deadline). Each
simulated user sends messages from the held-out NLU set one after another, encrypted
and signed by wechatpy as WeChat would; the clock runs from the POST until the answer.

Prints, per load level: callback time p50/p95 of passive replies (the reply came back in
the same HTTP exchange), the share of callbacks answered within WeChat's 5 seconds
(passive or "success" — no retry), the share answered passively, how many replies missed
the budget and how many customer-service sends reached the stand-in for them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

from wechatpy.crypto import WeChatCrypto  # noqa: E402  (test peer, not used by bot/)
from wechatpy.utils import WeChatSigner  # noqa: E402

from bot.desk.wechat import xml as wxml  # noqa: E402
from bot.rasa_ext.training import ensure_model  # noqa: E402
from bot.runtime.supervisor import free_port  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.tooling.stack import local_settings, start_instance  # noqa: E402

TOKEN, AES_KEY, APPID, GH = (
    "benchtoken",
    "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "wxbench000000001",
    "gh_bench00000001",
)
DEADLINE = 5.0
BUDGET = float(os.environ.get("WECHAT_REPLY_BUDGET") or 4.0)


def messages() -> list[str]:
    """Held-out NLU examples, without those that hand the conversation to staff at once
    (a user waiting for staff gets no bot reply, which would flatter the figures)."""
    data = yaml.safe_load((ROOT / "tests/eval/nlu_heldout.yml").read_text(encoding="utf-8"))
    out = []
    for block in data["nlu"]:
        if block.get("intent") in ("request_human", "complain"):
            continue
        out += [l[2:].strip() for l in block["examples"].splitlines() if l.startswith("- ")]
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


class StandIn:
    """WeChat's API server: a token and a counter of customer-service sends."""

    def __init__(self) -> None:
        self.sends = 0
        self.app = web.Application()
        self.app.router.add_get("/cgi-bin/token", self.token)
        self.app.router.add_post("/cgi-bin/message/custom/send", self.send)

    async def token(self, request):
        return web.json_response({"access_token": "BENCH", "expires_in": 7200})

    async def send(self, request):
        await request.read()
        self.sends += 1
        return web.json_response({"errcode": 0, "errmsg": "ok"})


def build(peer: WeChatCrypto, openid: str, text: str) -> tuple[dict, bytes]:
    ts, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
    inner = (
        f"<xml><ToUserName><![CDATA[{GH}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{uuid.uuid4().int % 10**19}</MsgId></xml>"
    )
    env = wxml.parse(peer.encrypt_message(inner, nonce, ts))
    signer = WeChatSigner()
    signer.add_data(TOKEN, ts, nonce)
    params = {
        "signature": signer.signature,
        "timestamp": ts,
        "nonce": nonce,
        "openid": openid,
        "encrypt_type": "aes",
        "msg_signature": env["MsgSignature"],
    }
    body = f"<xml><ToUserName><![CDATA[{GH}]]></ToUserName><Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>"
    return params, body.encode()


async def user(
    http: aiohttp.ClientSession, url: str, peer: WeChatCrypto, texts: list[str], results: list[tuple[float, str]]
) -> None:
    openid = "oBench" + uuid.uuid4().hex[:22]
    for text in texts:
        params, body = build(peer, openid, text)
        t0 = time.perf_counter()
        try:
            async with http.post(url, params=params, data=body, timeout=aiohttp.ClientTimeout(total=DEADLINE)) as resp:
                answer = await resp.text()
                kind = (
                    "passive"
                    if resp.status == 200 and "<Encrypt>" in answer
                    else ("success" if resp.status == 200 and answer == "success" else f"http{resp.status}")
                )
        except asyncio.TimeoutError:
            kind = "timeout"  # WeChat would hang up here and retry
        except aiohttp.ClientError as exc:
            kind = type(exc).__name__
        results.append((time.perf_counter() - t0, kind))
        await asyncio.sleep(random.uniform(0.2, 1.0))  # a person reads, then types again


async def level(url: str, users: int, per_user: int, corpus: list[str], stand_in: StandIn) -> dict:
    peer = WeChatCrypto(TOKEN, AES_KEY, APPID)
    results: list[tuple[float, str]] = []
    sends_before = stand_in.sends
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as http:
        started = time.perf_counter()
        await asyncio.gather(*(user(http, url, peer, random.sample(corpus, per_user), results) for _ in range(users)))
        wall = time.perf_counter() - started
    # "success" at the budget = the reply follows through the customer-service API;
    # a quick "success" = nothing to say now (the conversation is waiting for staff)
    deferred = sum(1 for t, k in results if k == "success" and t >= BUDGET - 0.1)
    quiet = sum(1 for t, k in results if k == "success" and t < BUDGET - 0.1)
    for _ in range(60):  # late replies still on their way
        if stand_in.sends - sends_before >= deferred:
            break
        await asyncio.sleep(0.5)
    passive = [t for t, k in results if k == "passive"]
    in_time = [t for t, k in results if k in ("passive", "success") and t <= DEADLINE]
    return {
        "users": users,
        "requests": len(results),
        "wall": wall,
        "p50": statistics.median(passive) * 1000 if passive else float("nan"),
        "p95": pct(passive, 95) * 1000,
        "all_p95": pct([t for t, _ in results], 95) * 1000,
        "in_time": len(in_time) / len(results),
        "passive": len(passive) / len(results),
        "deferred": deferred,
        "quiet": quiet,
        "pushed": stand_in.sends - sends_before,
        "errors": sum(1 for _, k in results if k not in ("passive", "success")),
    }


async def run(settings: Settings, levels: list[int], per_user: int, stand_in: StandIn) -> list[dict]:
    url = f"{settings.desk_url}/wechat/mp"
    corpus = messages()
    # warm up: one user, a few turns (first Rasa turns of a fresh process are slow)
    await level(url, 1, 3, corpus, stand_in)
    return [await level(url, n, per_user, corpus, stand_in) for n in levels]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", default="1,10,30,60", help="concurrent users per level, comma-separated")
    ap.add_argument("-m", "--messages", type=int, default=6, help="messages per user")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    random.seed(args.seed)
    levels = [int(x) for x in args.users.split(",") if x.strip()]

    async def serve_stand_in() -> tuple[StandIn, web.AppRunner, int]:
        stand_in = StandIn()
        runner = web.AppRunner(stand_in.app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return stand_in, runner, port

    model = ensure_model(Settings.from_env().model_dir)
    var = Path(tempfile.mkdtemp(prefix="bench-wechat-"))
    loop = asyncio.new_event_loop()
    stand_in, runner, api_port = loop.run_until_complete(serve_stand_in())
    os.environ.update(
        WECHAT_MP_TOKEN=TOKEN,
        WECHAT_MP_AES_KEY=AES_KEY,
        WECHAT_MP_APPID=APPID,
        WECHAT_MP_SECRET="bench",
        WECHAT_API_BASE=f"http://127.0.0.1:{api_port}",
    )
    inst = start_instance(local_settings(var, token="bench"), model)
    s = inst.settings
    try:
        rows = loop.run_until_complete(run(s, levels, args.messages, stand_in))
    finally:
        inst.stop()
        loop.run_until_complete(runner.cleanup())
        loop.close()
    print(
        f"model {model.name}; {os.cpu_count()} CPUs; safe mode (AES); {args.messages} messages per user, "
        f"0.2–1 s between a user's messages; reply budget {BUDGET} s"
    )
    print(
        "users  requests  msg/s  passive p50  passive p95  all p95   ≤5 s answered  passive  deferred→CS sent"
        "  to staff  errors"
    )
    for r in rows:
        print(
            f"{r['users']:>5}  {r['requests']:>8}  {r['requests'] / r['wall']:>5.1f}"
            f"  {r['p50']:>8.0f} ms  {r['p95']:>8.0f} ms  {r['all_p95']:>6.0f} ms"
            f"  {r['in_time']:>12.1%}  {r['passive']:>7.1%}  {r['deferred']:>8} → {r['pushed']:<6}"
            f"  {r['quiet']:>8}  {r['errors']:>6}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
