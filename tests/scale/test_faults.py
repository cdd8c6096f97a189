"""Faults: a crashed action server, a restarted Rasa, a restarted PostgreSQL, Redis gone.

Each test owns the processes it breaks (they are not the shared `stack` or `cluster`).
What the user sees is read the way a chat page would: the desk's HTTP answer, then the
stored conversation history.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from bot.db import read_sessions
from bot.db.schema import Message, Ticket
from bot.desk.gateway import BUSY_NOTICE
from bot.tooling.stack import create_pg_database, drop_pg_database, local_settings, scaled_settings, start_instance
from tests.conftest import PG_ADMIN, REDIS_URL, in_ci, require_postgresql, require_redis
from tests.scale.cluster_helpers import WebUser

pytestmark = pytest.mark.e2e


def history(db: str, cid: str) -> list[Message]:
    with read_sessions(db)() as s:
        return list(s.scalars(select(Message).where(Message.conversation_id == cid).order_by(Message.id)))


def wait_answered(db: str, cid: str, text: str, timeout: float = 60.0) -> list[Message]:
    """Wait until the inbound message `text` is answered; returns the bot's replies to it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msgs = history(db, cid)
        inbound = [m for m in msgs if m.direction == "in" and m.text == text]
        if inbound and inbound[-1].state == "answered":
            replies = [m for m in msgs if m.reply_to == inbound[-1].id and m.author == "bot"]
            if replies:
                return replies
        time.sleep(0.5)
    raise AssertionError(f"{text!r} not answered: {[(m.direction, m.state, m.text) for m in history(db, cid)]}")


@pytest.fixture(scope="module")
def instance(tmp_path_factory, model_file):
    """One embedded instance (SQLite) that the tests may break and repair."""
    inst = start_instance(local_settings(tmp_path_factory.mktemp("faults"), token="fault-token"), model_file)
    yield inst
    inst.stop()


def test_action_server_crash_keeps_the_need_and_answers_it_when_back(instance):
    db = instance.settings.effective_database_url
    user = WebUser(instance.settings.desk_url)
    assert user.send(instance, "你好")
    instance.kill("actions")
    try:
        need = "我们公司想申请高新技术企业认定，需要满足什么条件"
        reply = user.send(instance, need)
        assert reply == BUSY_NOTICE  # told at once, in Chinese, that it was received
        (m,) = [m for m in history(db, user.cid) if m.text == need]
        assert m.state in ("pending", "forwarded")  # kept; not answered while actions are down
    finally:
        instance.restart("actions")
    replies = wait_answered(db, user.cid, need)  # the desk re-sends it on its own
    assert any("高新技术企业" in (r.text or "") or "高企" in (r.text or "") for r in replies), [r.text for r in replies]
    # The conversation goes on normally, and nothing was answered twice.
    assert user.send(instance, "我的工单")
    inbound = [m for m in history(db, user.cid) if m.direction == "in"]
    assert all(m.state == "answered" for m in inbound)
    assert len([m for m in history(db, user.cid) if m.author == "system" and m.text == BUSY_NOTICE]) == 1


def test_rasa_restart_keeps_the_conversation_mid_form(instance):
    db = instance.settings.effective_database_url
    user = WebUser(instance.settings.desk_url)
    user.send(instance, "想申请创业担保贷款，需要专员对接")
    assert "企业全称" in user.send(instance, "/open_ticket")
    assert "请问怎么称呼" in user.send(instance, "西安秦岭芯材料科技有限公司")
    instance.restart("rasa")  # the tracker is in Rasa's SQL store
    assert "手机号" in user.send(instance, "张工")
    assert "园区" in user.send(instance, "13700001234")
    assert "请确认需求登记信息" in user.send(instance, "沣东新城")
    assert "工单号 QCY-" in user.send(instance, "确认提交")
    with read_sessions(db)() as s:
        assert len(s.scalars(select(Ticket).where(Ticket.conversation_id == user.cid)).all()) == 1


# ---- the scale profile: PostgreSQL restarted, Redis gone ------------------------------------------------


def _pg_cluster() -> list[str]:
    versions = os.listdir("/etc/postgresql") if os.path.isdir("/etc/postgresql") else []
    return [versions[0], "main"] if versions else []


@pytest.fixture
def pg_instance(tmp_path, model_file):
    require_postgresql()
    require_redis()
    tag = uuid.uuid4().hex[:8]
    db = create_pg_database(f"ys_fault_{tag}", PG_ADMIN)
    tracker = create_pg_database(f"ys_fault_tr_{tag}", PG_ADMIN)
    inst = start_instance(
        scaled_settings(tmp_path, db, tracker, REDIS_URL, f"ysfault{tag}", token="fault-token"), model_file
    )
    yield inst
    inst.stop()
    drop_pg_database(db, PG_ADMIN)
    drop_pg_database(tracker, PG_ADMIN)


def test_postgresql_restart_is_survived(pg_instance):
    local = urlsplit(PG_ADMIN).hostname in ("127.0.0.1", "localhost", "::1", None)
    if not (local and shutil.which("pg_ctlcluster") and _pg_cluster() and os.geteuid() == 0):
        reason = "需要本机 PostgreSQL，并以 root 运行 pg_ctlcluster 才能重启它"
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    inst = pg_instance
    db = inst.settings.effective_database_url
    user = WebUser(inst.settings.desk_url)
    user.send(inst, "想申请创业担保贷款，需要专员对接")
    assert "企业全称" in user.send(inst, "/open_ticket")
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *_pg_cluster(), "restart"], check=True, timeout=120)
    # Every pooled connection of the desk, Rasa and the action server is now dead.
    text = "西安秦岭芯材料科技有限公司"
    reply = user.send(inst, text)
    if "请问怎么称呼" not in reply:  # at most one busy notice, then the answer
        assert reply == BUSY_NOTICE, reply
        assert any("请问怎么称呼" in (r.text or "") for r in wait_answered(db, user.cid, text))
    assert "手机号" in user.send(inst, "张工")
    assert "园区" in user.send(inst, "13700001234")
    assert "请确认需求登记信息" in user.send(inst, "沣东新城")
    assert "工单号 QCY-" in user.send(inst, "确认提交")
    r = requests.get(f"{inst.settings.desk_url}/healthz", timeout=10)
    assert r.status_code == 200, r.text


def test_redis_down_gives_a_clear_answer_not_a_hang(tmp_path, model_file, private_redis):
    require_postgresql()
    tag = uuid.uuid4().hex[:8]
    db = create_pg_database(f"ys_redis_{tag}", PG_ADMIN)
    tracker = create_pg_database(f"ys_redis_tr_{tag}", PG_ADMIN)
    inst = None
    try:
        inst = start_instance(
            scaled_settings(tmp_path, db, tracker, private_redis.url, "ysredis", token="fault-token"), model_file
        )
        user = WebUser(inst.settings.desk_url)
        assert user.send(inst, "你好")
        private_redis.stop()

        started = time.monotonic()
        text = "人才公寓怎么申请"
        reply = user.send(inst, text)
        assert time.monotonic() - started < 20  # an answer, not a hang
        assert reply == BUSY_NOTICE
        health = requests.get(f"{inst.settings.desk_url}/healthz", timeout=10)
        assert health.status_code == 503 and "不可达" in health.json()["redis"]

        private_redis.start()  # Redis is back: the message is answered
        assert wait_answered(db, user.cid, text)
        assert requests.get(f"{inst.settings.desk_url}/healthz", timeout=10).status_code == 200
    finally:
        if inst is not None:
            inst.stop()
        drop_pg_database(db, PG_ADMIN)
        drop_pg_database(tracker, PG_ADMIN)
