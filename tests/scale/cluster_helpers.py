"""The clients of the scale tests, talking HTTP and WebSocket to a desk as the chat page and the console would: a web
chat user (`WebUser`), a staff member signed in to the console (`Staff`) and a chat page's live updates (`Listener`).

Written for tests/scale/test_cluster.py; tests/scale/test_faults.py imported `WebUser` from there, which tied the two
test files together (test modules don't import each other). They live here once.

- `WebUser(desk_url)`: a new web chat conversation; `send(inst, text)` posts a message to instance `inst`'s desk and
  returns the replies' texts;
- `Staff(db, desk_url)`: a new admin account signed in; `post(desk_url, path, **data)` posts a console form with its
  CSRF token;
- `Listener(desk_url, user)`: the chat page's WebSocket on one desk, collecting events; `wait_for(pred)`, `close()`.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid

import aiohttp
import requests

from bot.staff.accounts import create_staff

# ---- a web chat user and a staff member, as their browsers would talk --------------------------------


class WebUser:
    def __init__(self, desk_url: str):
        r = requests.post(f"{desk_url}/api/chat/session", timeout=10)
        r.raise_for_status()
        self.cid, self.key = r.json()["conversation_id"], r.json()["key"]
        self.sent = 0

    def send(self, inst, text: str) -> str:
        """Post one message to `inst`'s desk; the replies' texts joined."""
        self.sent += 1
        r = requests.post(
            f"{inst.settings.desk_url}/api/chat/message",
            json={"conversation_id": self.cid, "text": text, "client_msg_id": f"{self.cid}-{self.sent}"},
            headers={"X-Chat-Key": self.key},
            timeout=60,
        )
        assert r.status_code == 200, (r.status_code, r.text)
        return "\n".join(m.get("text") or "" for m in r.json()["replies"])


class Staff:
    def __init__(self, db: str, desk_url: str):
        self.username = f"s{uuid.uuid4().hex[:8]}"
        create_staff(db, self.username, "李明", "centre", "admin", "Scale-test-pass-2026!")
        self.http = requests.Session()
        page = self.http.get(f"{desk_url}/console/login", timeout=10)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = self.http.post(
            f"{desk_url}/console/login",
            allow_redirects=False,
            timeout=10,
            data={
                "username": self.username,
                "password": "Scale-test-pass-2026!",
                "csrf_token": token,
                "next": "/console/",
            },
        )
        assert r.status_code in (302, 303), r.text

    def post(self, desk_url: str, path: str, **data) -> requests.Response:
        page = self.http.get(f"{desk_url}/console/tickets", timeout=10)
        assert page.status_code == 200, page.status_code
        data["csrf_token"] = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)
        return self.http.post(
            f"{desk_url}{path}", data=data, headers={"Accept": "application/json"}, allow_redirects=False, timeout=30
        )


class Listener:
    """A chat page's WebSocket on one desk, collecting every event in a background thread."""

    def __init__(self, desk_url: str, user: WebUser):
        self.events: list[dict] = []
        self.ready = threading.Event()
        self._stop = threading.Event()
        url = desk_url.replace("http://", "ws://") + f"/ws/chat?conversation_id={user.cid}"
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run(url, user.key)), daemon=True)
        self._thread.start()
        assert self.ready.wait(10), "WebSocket did not connect"

    async def _run(self, url: str, key: str) -> None:
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(url, protocols=("yschat", f"key.{key}")) as ws:
                self.ready.set()
                while not self._stop.is_set():
                    try:
                        msg = await ws.receive(timeout=0.5)
                    except asyncio.TimeoutError:
                        continue
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    self.events.append(json.loads(msg.data))

    def wait_for(self, pred, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in list(self.events):
                if pred(e):
                    return e
            time.sleep(0.1)
        raise AssertionError(f"no matching event; got {self.events}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
