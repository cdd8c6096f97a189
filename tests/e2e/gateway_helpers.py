"""The desk's front door driven in-process against the running stack, for the end-to-end tests of the gateway
(tests/e2e/test_desk_gateway.py) and of conversations through it (tests/e2e/test_desk_conversation.py).

test_desk_conversation.py imported these from test_desk_gateway.py, which tied the two test files together (test
modules don't import each other); they live here once.

- `in_thread`: runs an async test body in its own thread and event loop (Playwright's sync API, used by the browser
  tests of the same session, keeps an event loop on the main thread);
- `start_desk(settings)`, `desk_for(settings)`: a desk app for the stack's settings behind an aiohttp test server
  (`async with desk_for(settings) as client:`); `session(client)`: a new web chat conversation and its key;
- `db_of(settings)`: the stack's database; `rows(db, cid, **where)`: a conversation's stored messages;
  `conversation(db, cid)`: its row;
- `tracker(settings, cid)`: Rasa's tracker of the conversation; `user_events(settings, cid)`: the texts Rasa received.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading

import requests
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.db import read_sessions
from bot.db.schema import Conversation, Message
from bot.desk import gateway
from bot.desk.app import create_app


def in_thread(fn):
    """Run an async test in a fresh event loop on a worker thread (fixtures resolved as usual)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        outcome: dict = {}

        def target():
            try:
                outcome["value"] = asyncio.run(fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
                outcome["error"] = exc

        t = threading.Thread(target=target)
        t.start()
        t.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")

    return wrapper


def db_of(settings) -> str:
    return settings.effective_database_url


def rows(db: str, cid: str, **where) -> list[Message]:
    with read_sessions(db)() as s:
        q = select(Message).where(Message.conversation_id == cid)
        for k, v in where.items():
            q = q.where(getattr(Message, k) == v)
        return list(s.scalars(q.order_by(Message.id)))


def conversation(db: str, cid: str) -> Conversation:
    with read_sessions(db)() as s:
        return s.get(Conversation, cid)


def tracker(settings, cid: str) -> dict:
    r = requests.get(
        f"{settings.rasa_url}/conversations/{cid}/tracker", params={"token": settings.rasa_token}, timeout=10
    )
    r.raise_for_status()
    return r.json()


def user_events(settings, cid: str) -> list[str]:
    return [e.get("text") for e in tracker(settings, cid)["events"] if e["event"] == "user"]


async def start_desk(settings, retry_interval: float = 0.3) -> TestClient:
    app = create_app(settings)
    app[gateway.GATEWAY_KEY].retry_interval = retry_interval
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def session(client: TestClient) -> tuple[str, str]:
    r = await client.post("/api/chat/session")
    assert r.status == 200
    body = await r.json()
    return body["conversation_id"], body["key"]


@contextlib.asynccontextmanager
async def desk_for(settings):
    client = await start_desk(settings)
    try:
        yield client
    finally:
        await client.close()
