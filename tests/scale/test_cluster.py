"""Two instances of everything on shared PostgreSQL + Redis: a conversation may hop between them.

Each instance is a real action server + Rasa server + desk (bot.tooling.stack.start_cluster); desk i
talks to Rasa i. The conversation state lives in PostgreSQL (tickets, messages, Rasa's
tracker) and Redis (Rasa's conversation locks, the desks' live-update bridge).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import func, select

from bot.db import read_sessions
from bot.db.schema import Handover, JobRun, Message, Notification, Ticket
from bot.settings import PROJECT_ROOT
from bot.tickets.sla import default_policy
from tests.scale.cluster_helpers import Listener, Staff, WebUser

pytestmark = pytest.mark.e2e


def tracker(inst, cid: str) -> dict:
    r = requests.get(
        f"{inst.settings.rasa_url}/conversations/{cid}/tracker", params={"token": inst.settings.rasa_token}, timeout=10
    )
    r.raise_for_status()
    return r.json()


def rows(db: str, stmt):
    with read_sessions(db)() as s:
        return s.execute(stmt).all()


# ---- tests --------------------------------------------------------------------------------------------


def test_a_form_started_on_one_instance_finishes_on_the_other(cluster):
    a, b = cluster[0], cluster[1]
    user = WebUser(a.settings.desk_url)
    turns = [
        (a, "我们想找一个500平米左右的实验室场地", None),  # no place: the form asks it
        (b, "/open_ticket", "企业全称"),
        (a, "西安光启芯科技有限公司", "请问怎么称呼"),
        (b, "王经理", "手机号"),
        (a, "139-1234-5678", "园区"),
        (b, "沣西新城", "请确认需求登记信息"),
        (a, "确认提交", "工单号 QCY-"),
        (b, "我的工单", "已受理"),
    ]
    for inst, text, expected in turns:
        reply = user.send(inst, text)
        if expected:
            assert expected in reply, (text, reply)

    # Both Rasa servers read the same tracker: same events, same slots, form finished.
    ta, tb = tracker(a, user.cid), tracker(b, user.cid)
    assert len(ta["events"]) == len(tb["events"]) and ta["slots"] == tb["slots"]
    assert ta["active_loop"] in ({}, None) or not ta["active_loop"].get("name")
    assert "13912345678" in json.dumps(ta["events"], ensure_ascii=False)  # the form's answer, on both
    # Exactly one ticket, and every message stored once and answered.
    db = cluster.database_url
    tickets = rows(db, select(Ticket.number, Ticket.node_id).where(Ticket.conversation_id == user.cid))
    assert len(tickets) == 1 and tickets[0].node_id == "fengxi"
    inbound = rows(
        db,
        select(Message.client_msg_id, Message.state).where(
            Message.conversation_id == user.cid, Message.direction == "in"
        ),
    )
    assert len(inbound) == len(turns) and all(m.state == "answered" for m in inbound), inbound
    assert len({m.client_msg_id for m in inbound}) == len(turns)


def answered_in_the_end(db: str, cid: str, timeout: float = 90.0) -> list:
    """The conversation's inbound messages once every one is answered by the bot, oldest first.

    A message Rasa could not take at once (its reply was the busy notice) stays pending and
    the desks' retry loop forwards it again within seconds; wait for that instead of
    mistaking it for a loss. Raises if one is still unanswered after `timeout`.
    """
    inbound = (
        select(Message.id, Message.text, Message.state)
        .where(Message.conversation_id == cid, Message.direction == "in")
        .order_by(Message.id)
    )
    deadline = time.monotonic() + timeout
    while True:
        msgs = rows(db, inbound)
        answered = {
            r.reply_to
            for r in rows(
                db,
                select(Message.reply_to).where(
                    Message.conversation_id == cid, Message.direction == "out", Message.author == "bot"
                ),
            )
        }
        if all(m.state == "answered" and m.id in answered for m in msgs):
            return msgs
        if time.monotonic() > deadline:
            raise AssertionError(f"not every message answered after {timeout:.0f} s: {msgs}")
        time.sleep(0.5)


def test_simultaneous_messages_on_two_instances_are_taken_one_at_a_time(cluster):
    """Two desks take one conversation's messages at the same moment: each reaches Rasa's
    tracker once, whole, one turn after the other, and gets its own answer.

    Rasa's RedisLockStore alone does not ensure this (its ticket is a GET then a SET: two Rasa
    servers can both take ticket 0, and the SQL tracker store then keeps only one turn's
    events); the desks take the conversation's turn in Redis before calling Rasa. Several
    rounds, because the race needs the two requests within milliseconds of each other.
    """
    a, b = cluster[0], cluster[1]
    pair = ("高企认定需要什么条件", "研发费用加计扣除比例是多少")
    user = WebUser(a.settings.desk_url)
    assert user.send(a, "你好")
    rounds = 3
    for _ in range(rounds):
        with ThreadPoolExecutor(2) as pool:
            replies = list(pool.map(lambda args: user.send(*args), [(a, pair[0]), (b, pair[1])]))
        assert all(replies), replies  # an answer, or the busy notice for a message kept pending
    # Nothing lost: every message answered by the bot (after a retry if it was kept pending) ...
    inbound = answered_in_the_end(cluster.database_url, user.cid)
    assert [m.text for m in inbound].count(pair[0]) == rounds and len(inbound) == 1 + 2 * rounds, inbound
    # ... and in Rasa's tracker exactly once, the two of each round in one order or the other.
    events = tracker(b, user.cid)["events"]
    users = [e["text"] for e in events if e["event"] == "user"]
    assert users[0] == "你好" and len(users) == 1 + 2 * rounds, users
    for i in range(rounds):
        assert sorted(users[1 + 2 * i : 3 + 2 * i]) == sorted(pair), users
    # Each user turn is followed by its own bot turn before the next user message (no interleaving).
    kinds = [e["event"] for e in events if e["event"] in ("user", "bot")]
    seq = "".join("u" if k == "user" else "b" for k in kinds)
    assert "uu" not in seq and seq.endswith("b"), seq


def test_live_updates_and_staff_cross_instances(cluster):
    """The chat page is open on desk A; the user writes through desk B; staff work on desk B."""
    a, b = cluster[0], cluster[1]
    user = WebUser(a.settings.desk_url)
    screen = Listener(a.settings.desk_url, user)
    try:
        user.send(b, "你好，想了解一下人才公寓")
        screen.wait_for(lambda e: e.get("type") == "message" and e["message"]["author"] == "bot")

        staff = Staff(cluster.database_url, b.settings.desk_url)
        user.send(b, "转人工")
        screen.wait_for(lambda e: e.get("type") == "mode" and e.get("mode") == "waiting")
        (h,) = rows(cluster.database_url, select(Handover.id).where(Handover.conversation_id == user.cid))
        # The console session is in the database: the same cookie works on either desk.
        r = staff.post(a.settings.desk_url, f"/console/conversations/{user.cid}/claim", handover_id=h.id)
        assert r.status_code in (200, 303), r.text
        r = staff.post(
            b.settings.desk_url,
            f"/console/conversations/{user.cid}/reply",
            handover_id=h.id,
            text="您好，我是李明，人才公寓的申请材料我发给您。",
        )
        assert r.status_code in (200, 303), r.text
        staff_msg = screen.wait_for(
            lambda e: e.get("type") == "message" and "人才公寓的申请材料" in (e["message"].get("text") or "")
        )
        assert staff_msg["message"]["author"].startswith("staff")
        # The user answers on desk A: it goes to staff, not to Rasa.
        assert user.send(a, "好的，谢谢") == ""
        r = staff.post(a.settings.desk_url, f"/console/conversations/{user.cid}/end", handover_id=h.id)
        assert r.status_code in (200, 303), r.text
        screen.wait_for(lambda e: e.get("type") == "mode" and e.get("mode") == "bot")
        assert not tracker(a, user.cid)["paused"]
    finally:
        screen.close()


def test_scheduled_jobs_run_once_across_instances(cluster):
    """Both desks run the scheduler; two more instances race for the same due jobs: one run each."""
    db = cluster.database_url
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # the desks' schedulers tick at start-up
        if rows(db, select(JobRun.id).where(JobRun.job == "daily_dispatch")):
            break
        time.sleep(1)
    # Two scheduler processes at the same simulated moment: 09:30 Beijing time on the next working
    # day after today. Not a fixed date: the scheduler never catches up periods older than a job's
    # first run, and the desks' own schedulers run today's jobs (only after 08:30 Beijing time),
    # so a fixed past date passed or failed by the hour CI ran at.
    sla = default_policy()
    day = datetime.now(timezone(timedelta(hours=8))).date() + timedelta(days=1)
    while not sla.is_working_day(day):
        day += timedelta(days=1)
    month = (day.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    cmd = [sys.executable, "-m", "bot.scheduler", "run-once", "--now", f"{day.isoformat()}T09:30", "--db", db]
    procs = [
        subprocess.Popen(
            cmd + ["--instance", f"racer-{i}"],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    runs = rows(db, select(JobRun.job, JobRun.period, JobRun.instance, JobRun.status))
    assert {(r.job, r.period) for r in runs} >= {("daily_dispatch", day.isoformat()), ("monthly_summary", month)}
    assert all(r.status == "done" for r in runs), runs
    racers = {r.instance for r in runs if r.period == day.isoformat()}
    assert racers and racers <= {"racer-0", "racer-1"}
    # The work itself happened once: one dispatch list per node per day, one monthly notice.
    lists = rows(db, select(Notification.recipient, Notification.body).where(Notification.kind == "dispatch_list"))
    per_day_node = Counter((n.recipient, re.search(r"\d{1,2}月\d{1,2}日", n.body).group(0)) for n in lists)
    assert lists and max(per_day_node.values()) == 1, per_day_node
    monthly = rows(
        db,
        select(func.count())
        .select_from(Notification)
        .where(Notification.kind == "monthly_summary", Notification.body.contains(f"{int(month[5:])}月")),
    )
    assert monthly[0][0] == 1
