"""What the desk adds to a turn, and how fast staff and users see each other (issue 5).

    python bench/desk_latency.py [-n 100]

Starts the real stack (action server, Rasa, desk) on free ports with a temporary
VAR_DIR and SQLite database, signs a member of staff of the comprehensive centre in
to the console (cookie + CSRF, like a browser), then measures with real clients:

1. a web chat turn (WebSocket send → the bot's reply on the same socket) against a
   direct POST to Rasa's REST channel with the same held-out texts, interleaved;
2. "转人工" sent by a user → the handover notice on the console's event stream (SSE);
3. a staff reply POSTed in the console → the message on the user's WebSocket.

Everything runs on one machine (the three services and this client share its cores),
so the figures are an upper bound for a dedicated server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
import unicodedata
import uuid
from pathlib import Path
from typing import Optional

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

from bot.db import migrate  # noqa: E402
from bot.network import sync_network  # noqa: E402
from bot.rasa_ext.training import ensure_model  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.staff.accounts import create_staff  # noqa: E402
from bot.tooling.stack import local_settings, start_instance  # noqa: E402

# Intents whose held-out texts are answered in one turn (no form, no handover); every text
# is still probed once on a fresh conversation and dropped if it starts a form or pauses the bot.
TURN_INTENTS = ("greet", "thank", "ask_capabilities", "bot_challenge", "goodbye", "need_policy_consult")
CONVERSATIONS = 8  # turns rotate over this many conversations (chat rate limit: 20 per 10 s each)
QUIET = 0.25  # seconds without another bot message = the turn's last reply has arrived
TIMEOUT = 30.0
USERNAME = "bench.centre"
PASSWORD = "Bench-latency-2026"
HANDOVER_TEXT = "转人工"


# ---- helpers ---------------------------------------------------------------------------------------


def heldout(intents: tuple[str, ...]) -> list[str]:
    data = yaml.safe_load((ROOT / "tests/eval/nlu_heldout.yml").read_text(encoding="utf-8"))
    out = []
    for block in data["nlu"]:
        if block.get("intent") in intents:
            out += [l[2:].strip() for l in block["examples"].splitlines() if l.startswith("- ")]
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def summary(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), pct(values, 95)


def pad(text: str, width: int) -> str:
    """Left-justify to `width` terminal columns (CJK characters take two)."""
    cols = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - cols)


def now() -> float:
    return time.perf_counter()


class Console:
    """A signed-in member of staff: cookie session, CSRF token, the live event stream."""

    def __init__(self, desk: str, http: aiohttp.ClientSession):
        self.desk, self.http = desk, http
        self.csrf = ""
        self.handovers: dict[str, tuple[float, dict]] = {}  # conversation id → (arrival, data)
        self.waiters: dict[str, asyncio.Future] = {}
        self.ready = asyncio.Event()
        self.task: Optional[asyncio.Task] = None

    async def login(self, username: str, password: str) -> None:
        async with self.http.get(f"{self.desk}/console/login") as r:
            page = await r.text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        async with self.http.post(
            f"{self.desk}/console/login",
            allow_redirects=False,
            data={"username": username, "password": password, "csrf_token": token, "next": "/console/"},
        ) as r:
            if r.status != 302:
                raise RuntimeError(f"console login failed: HTTP {r.status}")
        async with self.http.get(f"{self.desk}/console/") as r:
            page = await r.text()
            if r.status != 200:
                raise RuntimeError(f"console queue page: HTTP {r.status}")
        self.csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)

    async def _stream(self) -> None:
        async with self.http.get(
            f"{self.desk}/console/events", timeout=aiohttp.ClientTimeout(total=None, sock_read=None)
        ) as r:
            if r.status != 200:
                raise RuntimeError(f"console events: HTTP {r.status}")
            event, data = None, None
            async for raw in r.content:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif line == "" and event is not None:
                    at = now()
                    payload = json.loads(data) if data else {}
                    if event == "ready":
                        self.ready.set()
                    elif event == "handover":
                        cid = payload.get("conversation_id")
                        if cid and cid not in self.handovers:
                            self.handovers[cid] = (at, payload)
                            w = self.waiters.pop(cid, None)
                            if w is not None and not w.done():
                                w.set_result((at, payload))
                    event, data = None, None

    async def start_stream(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._stream())
        done, _ = await asyncio.wait(
            {self.task, asyncio.ensure_future(self.ready.wait())}, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if self.task in done:
            self.task.result()  # raises what went wrong
        if not self.ready.is_set():
            raise RuntimeError("console event stream did not start")

    async def handover_for(self, cid: str) -> tuple[float, dict]:
        if cid in self.handovers:
            return self.handovers[cid]
        fut = self.waiters.setdefault(cid, asyncio.get_running_loop().create_future())
        return await asyncio.wait_for(fut, TIMEOUT)

    async def post(self, path: str, data: dict) -> dict:
        async with self.http.post(
            f"{self.desk}{path}", data=data, headers={"X-CSRF-Token": self.csrf, "Accept": "application/json"}
        ) as r:
            body = await r.json(content_type=None)
            if r.status != 200 or not body.get("ok"):
                raise RuntimeError(f"POST {path}: HTTP {r.status} {body}")
            return body


class Chat:
    """One web chat conversation as the browser has it: session key + WebSocket."""

    def __init__(self, desk: str, http: aiohttp.ClientSession):
        self.desk, self.http = desk, http
        self.cid = ""
        self.ws: Optional[aiohttp.ClientWebSocketResponse] = None
        self.handed_over = False

    async def open(self) -> "Chat":
        async with self.http.post(f"{self.desk}/api/chat/session") as r:
            if r.status != 200:
                raise RuntimeError(f"/api/chat/session: HTTP {r.status} {await r.text()}")
            s = await r.json()
        self.cid = s["conversation_id"]
        self.ws = await self.http.ws_connect(
            f"{self.desk}/ws/chat?conversation_id={self.cid}", protocols=("yschat", f"key.{s['key']}"), heartbeat=None
        )
        return self

    async def send(self, text: str) -> float:
        t0 = now()
        await self.ws.send_json({"type": "send", "text": text, "client_msg_id": uuid.uuid4().hex})
        return t0

    async def next_event(self, timeout: float = TIMEOUT) -> tuple[float, dict]:
        frame = await self.ws.receive(timeout=timeout)
        at = now()
        if frame.type != aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"web chat socket of {self.cid}: {frame.type!r} {frame.data!r}")
        event = json.loads(frame.data)
        if event.get("type") == "error":
            raise RuntimeError(f"web chat error on {self.cid}: {event}")
        return at, event

    async def wait_message(self, pred, timeout: float = TIMEOUT) -> tuple[float, dict]:
        deadline = now() + timeout
        while True:
            at, ev = await self.next_event(max(0.01, deadline - now()))
            if ev.get("type") == "message" and pred(ev["message"]):
                return at, ev["message"]

    async def bot_turn(self, text: str) -> tuple[float, float, int]:
        """(first bot reply, last bot reply, replies) in seconds after sending.

        Raises HandedOver when the conversation is with staff before the bot answered (the bot
        handed over on an earlier turn, e.g. after two misunderstandings in a row): staff, not
        the bot, answer there, so the caller continues on a fresh conversation. A handover in
        this turn's own answer is noted in `handed_over`."""
        t0 = await self.send(text)
        deadline = now() + TIMEOUT
        while True:
            at, ev = await self.next_event(max(0.01, deadline - now()))
            if ev.get("type") == "mode" and ev.get("mode") != "bot":
                self.handed_over = True
            elif ev.get("type") == "message" and ev["message"]["author"] == "bot":
                first = at
                break
            elif (
                ev.get("type") == "message"
                and ev["message"]["author"] == "system"
                and (ev["message"]["text"] or "").startswith("已收到")
            ):  # acknowledged for staff
                self.handed_over = True
                raise HandedOver(self.cid)
        last, count = first, 1
        while True:
            try:
                at, ev = await self.next_event(QUIET)
            except asyncio.TimeoutError:
                break
            if ev.get("type") == "mode" and ev.get("mode") != "bot":
                self.handed_over = True
            if ev.get("type") == "message" and ev["message"]["author"] == "bot":
                last, count = at, count + 1
        return first - t0, last - t0, count

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.ws.close(), 5)


class HandedOver(Exception):
    """The conversation is with staff: bot turns cannot be measured on it any more."""


async def rest_turn(http: aiohttp.ClientSession, s: Settings, sender: str, text: str) -> tuple[float, list]:
    t0 = now()
    async with http.post(
        s.desk_channel_url, headers=s.desk_channel_headers, json={"sender": sender, "message": text}
    ) as r:
        r.raise_for_status()
        body = await r.json(content_type=None)
    return now() - t0, body


async def one_turn_texts(http: aiohttp.ClientSession, s: Settings, candidates: list[str]) -> list[str]:
    """Texts that, on a fresh conversation, are answered without a form or a handover."""
    keep = []
    for i, text in enumerate(candidates):
        sender = f"probe-{i}"
        _, replies = await rest_turn(http, s, sender, text)
        async with http.get(f"{s.rasa_url}/conversations/{sender}/tracker", params={"token": s.rasa_token}) as r:
            tracker = await r.json(content_type=None)
        loop = (tracker.get("active_loop") or {}).get("name")
        handover = any(isinstance(m.get("custom"), dict) and "handover" in m["custom"] for m in replies)
        if not loop and not tracker.get("paused") and not handover and replies:
            keep.append(text)
    return keep


# ---- the measurements --------------------------------------------------------------------------------


async def measure(s: Settings, n: int) -> dict:
    jar = aiohttp.CookieJar(unsafe=True)  # cookies from 127.0.0.1
    timeout = aiohttp.ClientTimeout(total=60)
    async with (
        aiohttp.ClientSession(cookie_jar=jar, timeout=timeout) as staff_http,
        aiohttp.ClientSession(timeout=timeout) as user_http,
        aiohttp.ClientSession(timeout=timeout) as rasa_http,
    ):
        load_before = os.getloadavg()[0]
        console = Console(s.desk_url, staff_http)
        await console.login(USERNAME, PASSWORD)
        await console.start_stream()

        # 1. desk turn vs Rasa REST turn
        candidates = heldout(TURN_INTENTS)
        texts = await one_turn_texts(rasa_http, s, candidates)
        if not texts:
            raise RuntimeError("no held-out text is answered in one turn")
        chats: list[Chat] = []
        senders = [f"bench-rest-{k}" for k in range(CONVERSATIONS)]
        fresh = 0

        async def new_chat() -> Chat:
            chat = await Chat(s.desk_url, user_http).open()
            await chat.bot_turn("你好")  # session start is not part of a turn
            return chat

        async def new_sender(k: int) -> None:
            nonlocal fresh
            fresh += 1
            senders[k] = f"bench-rest-{k}-{fresh}"
            await rest_turn(rasa_http, s, senders[k], "你好")

        desk_first, desk_last, rest = [], [], []
        handed_over = 0
        try:
            for k in range(CONVERSATIONS):
                chats.append(await new_chat())
                await rest_turn(rasa_http, s, senders[k], "你好")
            for i in range(n):
                text, k = texts[i % len(texts)], i % CONVERSATIONS
                order = ("desk", "rest") if i % 2 == 0 else ("rest", "desk")
                for what in order:
                    if what == "desk":
                        try:
                            first, last, _ = await chats[k].bot_turn(text)
                        except HandedOver:
                            first = last = None
                        if first is not None:
                            desk_first.append(first * 1000)
                            desk_last.append(last * 1000)
                        if chats[k].handed_over:  # two misses in a row: the bot handed over; go on afresh
                            handed_over += 1
                            await chats[k].close()
                            chats[k] = await new_chat()
                    else:
                        took, replies = await rest_turn(rasa_http, s, senders[k], text)
                        rest.append(took * 1000)
                        if any(isinstance(m.get("custom"), dict) and "handover" in m["custom"] for m in replies):
                            await new_sender(k)
        finally:
            for c in chats:
                await c.close()

        # 2. handover → console notice, 3. staff reply → user's screen
        notice_user, notice_console, reply_screen, reply_post = [], [], [], []
        for j in range(n):
            chat = await Chat(s.desk_url, user_http).open()
            try:
                await chat.bot_turn("你好")  # a conversation under way, not a session start
                t0 = await chat.send(HANDOVER_TEXT)
                at_user, _ = await chat.wait_message(lambda m: m["author"] == "bot")
                at_console, data = await console.handover_for(chat.cid)
                notice_user.append((at_user - t0) * 1000)
                notice_console.append((at_console - t0) * 1000)
                hid = data.get("handover_id")
                await console.post(f"/console/conversations/{chat.cid}/claim", {"handover_id": str(hid)})
                await chat.wait_message(lambda m: m["author"] == "system" and "已接入" in (m["text"] or ""))
                reply = f"您好，我是服务专员，第{j + 1}号咨询已收到，请问具体是哪方面的问题？"
                t0 = now()
                post = asyncio.get_running_loop().create_task(
                    console.post(f"/console/conversations/{chat.cid}/reply", {"handover_id": str(hid), "text": reply})
                )
                try:
                    at_screen, _ = await chat.wait_message(
                        lambda m: m["author"] == f"staff:{USERNAME}" and m["text"] == reply
                    )
                finally:
                    await post
                posted = now()
                reply_screen.append((at_screen - t0) * 1000)
                reply_post.append((posted - t0) * 1000)
            finally:
                await chat.close()
        if console.task is not None:
            console.task.cancel()
            await asyncio.gather(console.task, return_exceptions=True)
        return {
            "texts": len(texts),
            "candidates": len(candidates),
            "handed_over": handed_over,
            "desk_first": desk_first,
            "desk_last": desk_last,
            "rest": rest,
            "notice_user": notice_user,
            "notice_console": notice_console,
            "reply_screen": reply_screen,
            "reply_post": reply_post,
            "load": (load_before, os.getloadavg()[0]),
        }


# ---- main ------------------------------------------------------------------------------------------


def report(r: dict, n: int, model: str, startup: float) -> None:
    W = 58

    def row(label: str, values: list[float]) -> str:
        p50, p95 = summary(values)
        return f"  {pad(label, W)}{p50:>9.1f}{p95:>9.1f}"

    dp50, dp95 = summary(r["desk_first"])
    rp50, rp95 = summary(r["rest"])
    lp50, lp95 = summary(r["desk_last"])
    cpu = next(
        (
            l.split(":", 1)[1].strip()
            for l in Path("/proc/cpuinfo").read_text().splitlines()
            if l.startswith("model name")
        ),
        platform.processor() or "?",
    )
    print(f"原上管家 服务台时延 / desk latency — model {model}, n={n} each, sequential, one client")
    print(
        f"启动 startup (spawn → all three healthy): {startup:.1f} s; "
        f"turn texts: {r['texts']} of {r['candidates']} held-out examples answered in one turn"
        + (
            f"; {r['handed_over']} desk conversation(s) handed over (misses in a row) and replaced"
            if r["handed_over"]
            else ""
        )
    )
    print(f"  {pad('测量 measurement', W)}{'p50 ms':>9}{'p95 ms':>9}")
    print("  1 对话轮次 turn (same texts, interleaved)")
    print(row("Rasa 服务台渠道直连 POST /webhooks/desk/webhook", r["rest"]))
    print(row("服务台 WebSocket 发送→首条机器人回复 first reply", r["desk_first"]))
    print(row("服务台 WebSocket 发送→末条机器人回复 last reply", r["desk_last"]))
    print(f"  {pad('服务台开销 desk overhead (first − REST)', W)}{dp50 - rp50:>+9.1f}{dp95 - rp95:>+9.1f}")
    print(f"  {pad('服务台开销 desk overhead (last − REST)', W)}{lp50 - rp50:>+9.1f}{lp95 - rp95:>+9.1f}")
    print("  2 转人工 handover (“转人工” sent on the WebSocket, new conversation each)")
    print(row("→ 用户收到转接提示 user sees the notice", r["notice_user"]))
    print(row("→ 工作台 SSE 收到转人工事件 console SSE event", r["notice_console"]))
    print("  3 人工回复 staff reply (after claim via console API)")
    print(row("回复 POST → 用户 WebSocket 收到 user's screen", r["reply_screen"]))
    print(row("回复 POST → POST 返回 response", r["reply_post"]))
    print(
        f"机器 machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, SQLite; "
        "action server, Rasa, desk and this client share these cores, so figures are upper bounds; "
        f"load average (1 min) {r['load'][0]:.2f} before, {r['load'][1]:.2f} after."
    )
    print(
        "说明 note: desk overhead = 存库、转发、发布 (store, forward to Rasa, store replies, publish); "
        "“last reply” waits for the turn's last bot message (measured; "
        f"{QUIET * 1000:.0f} ms quiet ends a turn, not counted)."
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=100, help="turns / handovers per measurement (default 100)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary VAR_DIR (logs, database)")
    args = ap.parse_args()
    if not 1 <= args.n <= 250:
        ap.error("-n must be 1–250 (the web chat allows 300 new conversations per address in 10 minutes)")
    base = Settings.from_env()
    model = ensure_model(base.model_dir)
    var = Path(tempfile.mkdtemp(prefix="bench-desk-"))
    s = local_settings(var, token="bench")
    db = s.effective_database_url
    migrate(db)
    sync_network(db)  # the staff account belongs to the node "centre": the network first
    create_staff(db, USERNAME, "基准测试", "centre", "staff", PASSWORD)
    ok = False
    t0 = time.perf_counter()
    inst = start_instance(s, model)
    try:
        startup = time.perf_counter() - t0
        result = asyncio.run(measure(s, args.n))
        report(result, args.n, model.name, startup)
        ok = True
    finally:
        inst.stop()
        if ok and not args.keep:
            shutil.rmtree(var, ignore_errors=True)
        else:
            print(f"logs and database kept in {var}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
