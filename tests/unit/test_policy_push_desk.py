"""政策推送 through the desk (in-process, Rasa unreachable on purpose): the notifier delivers a push into the web
chat with its 登记需求 / 退订 buttons, "退订" typed in the chat is answered by the desk itself and stops the next
push, "訂閱" restores them; the console lists pushes by node, the preview is for managers, 立即推送 needs CSRF and
whole-network scope and runs the day's job exactly once.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot import scheduler as sch
from bot.db import read_sessions, sessions
from bot.db.schema import ConsoleAudit, Conversation, JobRun, Notification, PolicyPush, PolicyPushOptOut
from bot.desk import notifier
from bot.policy import load_rules, push, subscription
from tests.clock import Clock
from tests.unit.desk_helpers import add_staff, chat_session, desk_client, sign_in
from tests.unit.policy_push_helpers import SMALL_FIGURES, add_enterprise, bj, rules, rules_dir, set_window  # noqa: F401 - the fixtures rules, rules_dir

pytestmark = pytest.mark.desk

NOW = bj(2027, 3, 1, 9, 30)  # Monday, before the 10:00 run


@pytest.fixture
async def desk(db_url, rules_dir, tmp_path):
    async with desk_client(db_url, tmp_path, clock=Clock(NOW), knowledge_dir=rules_dir) as client:
        yield client


async def say(client, cid, key, text) -> list[dict]:
    r = await client.post("/api/chat/message", json={"conversation_id": cid, "text": text}, headers={"X-Chat-Key": key})
    assert r.status == 200, await r.text()
    return (await r.json())["replies"]


async def history(client, cid, key) -> list[dict]:
    r = await client.get("/api/chat/history", params={"conversation_id": cid}, headers={"X-Chat-Key": key})
    return (await r.json())["messages"]


def run_push(db, rules_dir, now):
    with sessions(db).begin() as s:
        return push.run(s, load_rules(rules_dir), sch.policy_matching(), now)


async def test_push_reaches_the_web_chat_and_unsubscribe_stops_the_next(desk, db_url, rules_dir):
    cid, key = await chat_session(desk)
    eid = add_enterprise(db_url, "网页聊天企业", figures=SMALL_FIGURES)
    with sessions(db_url).begin() as s:
        from bot.db.schema import Contact

        s.add(Contact(enterprise_id=eid, name="王经理", sender_id=cid, channel="web", verified_at=NOW))
    [sent] = run_push(db_url, rules_dir, bj(2027, 3, 1, 10))
    # delivered by this call or, on a slow machine, already by the desk's own notifier loop (every 5 s)
    assert await notifier.deliver_pending(desk.app) in (0, 1)
    for _ in range(150):
        pushed = [m for m in await history(desk, cid, key) if (m["text"] or "").startswith("【政策提醒】")]
        if pushed:
            break
        await asyncio.sleep(0.1)
    assert len(pushed) == 1 and "截止2027年3月31日" in pushed[0]["text"]
    assert [b["payload"] for b in pushed[0]["buttons"]] == ['/policy_register{"policy":"small_low_profit"}', "退订"]
    assert pushed[0]["buttons"][0]["title"] == "登记小微企业所得税优惠需求"

    # 退订, typed: the desk answers (Rasa is down here, so nobody else could have)
    [reply] = await say(desk, cid, key, "退订")
    assert reply["text"] == subscription.UNSUBSCRIBED_TEXT and reply["author"] == "system"
    with read_sessions(db_url)() as s:
        row = s.get(PolicyPushOptOut, cid)
        assert row is not None and row.channel == "web"
    # the next occasion a week later: not sent to this chat
    set_window(
        "tsme", rules_dir / "policies", opens="2027-03-08", closes="2027-04-30", source="测试（测试〔2027〕4号）"
    )
    plan = push.preview(db_url, load_rules(rules_dir), sch.policy_matching(), bj(2027, 3, 8, 10))
    assert not plan.send
    assert run_push(db_url, rules_dir, bj(2027, 3, 8, 10)) == []
    assert await notifier.deliver_pending(desk.app) == 0

    [reply] = await say(desk, cid, key, "訂閱")
    assert reply["text"] == subscription.SUBSCRIBED_TEXT
    assert not subscription.is_opted_out(db_url, cid)
    with read_sessions(db_url)() as s:
        assert s.get(Conversation, cid).mode == "bot"
    assert sent.enterprise_id == eid


# ---- console ---------------------------------------------------------------------------------------------


def add_with_ticket_node(db, name, node, sender):
    """An enterprise that fits by its figures, whose ticket (and so its node) is at `node`."""
    eid = add_enterprise(
        db, name, figures=SMALL_FIGURES, contacts=[(sender, "web", True)], tickets=[("need_recruitment", sender)]
    )
    from bot.db.schema import Ticket

    with sessions(db).begin() as s:
        for t in s.scalars(select(Ticket).where(Ticket.enterprise_id == eid)):
            t.node_id = node
    return eid


async def test_console_pages_scope_roles_and_send_now(desk, db_url, rules_dir, tmp_path):
    add_staff(db_url, "fx_staff", "沣西专员", "fengxi")
    add_staff(db_url, "fx_lead", "沣西负责人", "fengxi", "lead")
    add_staff(db_url, "boss", "管理员", "centre", "admin")
    fx = add_with_ticket_node(db_url, "沣西企业", "fengxi", "web-fx")
    fd = add_with_ticket_node(db_url, "沣东企业", "fengdong", "web-fd")

    # a node lead: the preview of the own nodes, no 立即推送 (a run covers every node)
    csrf = await sign_in(desk, "fx_lead")
    r = await desk.get("/console/pushes/preview")
    text = await r.text()
    assert r.status == 200 and "沣西企业" in text and "沣东企业" not in text
    assert "按已保存的企业数字符合条件" in text and "立即推送</button>" not in text
    r = await desk.post("/console/pushes/send", data={"csrf_token": csrf})
    assert r.status == 403
    # node staff: no preview at all
    await sign_in(desk, "fx_staff")
    r = await desk.get("/console/pushes/preview")
    assert r.status == 403 and "无权访问" in await r.text()

    # an administrator: sees both, sends now; without the CSRF token nothing happens
    csrf = await sign_in(desk, "boss")
    r = await desk.get("/console/pushes/preview")
    text = await r.text()
    assert "沣西企业" in text and "沣东企业" in text and "立即推送</button>" in text
    r = await desk.post("/console/pushes/send", data={})
    assert r.status == 403
    with read_sessions(db_url)() as s:
        assert s.scalars(select(PolicyPush)).all() == []
    r = await desk.post("/console/pushes/send", data={"csrf_token": csrf}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].endswith("done=sent&n=2")
    with read_sessions(db_url)() as s:
        rows = s.scalars(select(PolicyPush).order_by(PolicyPush.enterprise_id)).all()
        assert [(p.enterprise_id, p.node_id, p.sent_by) for p in rows] == [
            (fx, "fengxi", "staff:boss"),
            (fd, "fengdong", "staff:boss"),
        ]
        assert [(j.period, j.status) for j in s.scalars(select(JobRun).where(JobRun.job == sch.POLICY_PUSH))] == [
            ("2027-03-01", "done")
        ]
        assert s.scalar(select(ConsoleAudit.detail).where(ConsoleAudit.action == "policy_push")).startswith(
            "2027-03-01 done"
        )
    # twice: refused, nothing more sent; and the 10:00 run finds the day done
    r = await desk.post("/console/pushes/send", data={"csrf_token": csrf})
    assert r.status == 409 and "已经执行过" in await r.text()
    later = sch.Scheduler(db_url, "inst-a", reports_dir=tmp_path, knowledge_dir=rules_dir)
    assert [r for r in later.run_due(bj(2027, 3, 1, 10, 1), sweep=False) if r.job == sch.POLICY_PUSH] == []
    with read_sessions(db_url)() as s:
        assert len(s.scalars(select(Notification).where(Notification.kind == push.KIND)).all()) == 2

    # a failed run is retried by the scheduler: 立即推送 says so instead of "already done"
    with sessions(db_url).begin() as s:
        s.get(JobRun, s.scalar(select(JobRun.id).where(JobRun.job == sch.POLICY_PUSH))).status = "failed"
    r = await desk.post("/console/pushes/send", data={"csrf_token": csrf})
    assert r.status == 409 and "自动重试" in await r.text()

    # the list: everything for the administrator, own node only for node staff
    r = await desk.get("/console/pushes?done=sent&n=2")
    text = await r.text()
    assert "已推送 2 家企业" in text and text.count('data-push="') == 2 and "boss" in text
    await sign_in(desk, "fx_staff")
    text = await (await desk.get("/console/pushes")).text()
    assert text.count('data-push="') == 1 and "沣西企业" in text and "沣东企业" not in text
    assert 'href="/console/pushes"' in text  # the top-bar link
    assert "推送预览" not in text  # staff: no preview link


async def test_unsubscribe_on_wechat_and_while_waiting_for_staff(desk, db_url):
    """The words work on every channel and in every mode: a WeChat user typing 退訂, a web user waiting for staff."""
    from bot.desk import gateway

    [reply] = await gateway.handle_inbound(desk.app, "wxmp:o-push-1", "退訂", client_msg_id="m1", channel="wechat_mp")
    assert reply["text"] == subscription.UNSUBSCRIBED_TEXT
    with read_sessions(db_url)() as s:
        assert s.get(PolicyPushOptOut, "wxmp:o-push-1").channel == "wechat_mp"
    [reply] = await gateway.handle_inbound(desk.app, "wxmp:o-push-1", "TD", client_msg_id="m2", channel="wechat_mp")
    assert reply["text"] == subscription.ALREADY_OUT_TEXT

    cid, key = await chat_session(desk)
    with sessions(db_url).begin() as s:
        s.get(Conversation, cid).mode = "waiting"
    [reply] = await say(desk, cid, key, "取消订阅")
    assert reply["text"] == subscription.UNSUBSCRIBED_TEXT
    assert subscription.is_opted_out(db_url, cid)


def test_on_wechat_the_buttons_are_numbered_options(rules):
    """WeChat has no buttons: the reminder's become "1. 登记…需求 / 2. 退订提醒", and replying 2 unsubscribes."""
    from bot.desk.wechat.channel import Channel
    from bot.dialogue.options import match_option

    [trigger] = push.triggers(rules, bj(2027, 3, 1).date())
    body, options = Channel._render_one(
        push.message(trigger, "profile"), push.buttons(trigger.policy, sch.policy_matching().short_names)
    )
    assert "1. 登记小微企业所得税优惠需求" in body and "2. 退订提醒" in body
    chosen = match_option("2", [{"title": t, "payload": p} for t, p in options])
    assert subscription.command(chosen["payload"]) == subscription.UNSUBSCRIBE
