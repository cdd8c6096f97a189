"""政策推送 through the real stack (desk → notifier → web chat; the button → Rasa → action server): a reminder shows
in the enterprise's web chat history with its buttons, the 登记需求 button starts the ticket form of the policy's
category, "退订" typed in the chat stops the next reminder and "订阅" brings them back.

The application window is a fixture rule file in a tmp dir (opening today): the real rule files carry only dates
read in published notices.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
import yaml
from sqlalchemy import update

from bot import scheduler as sch
from bot.db import sessions
from bot.db.schema import Contact, Enterprise, EnterpriseFigures, PolicyPushThrottle
from bot.policy import load_rules, push, subscription
from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.e2e

CST = ZoneInfo("Asia/Shanghai")
FIGURES = {"employees": 50, "total_assets": 10_000_000, "taxable_income": 1_000_000, "industry": "软件和信息技术服务"}


def rules_with_window(tmp_path, opens):
    d = tmp_path / "knowledge" / "policies"
    d.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "knowledge" / "policies" / "small_low_profit.yml", d / "small_low_profit.yml")
    path = d / "small_low_profit.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["application_window"] = {
        "note": data["application_window"]["note"],
        "opens": opens.isoformat(),
        "closes": (opens + timedelta(days=30)).isoformat(),
        "source": "测试通知（测试〔2026〕1号）",
    }
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_rules(tmp_path / "knowledge")


class Chat:
    def __init__(self, desk):
        self.desk = desk
        r = requests.post(f"{desk}/api/chat/session", json={}, timeout=30)
        data = r.json()
        self.cid, self.key = data["conversation_id"], data["key"]

    def send(self, text, title=None) -> list[dict]:
        body = {"conversation_id": self.cid, "text": text}
        if title:
            body["title"] = title
        r = requests.post(f"{self.desk}/api/chat/message", headers={"X-Chat-Key": self.key}, json=body, timeout=120)
        assert r.status_code == 200, r.text
        return r.json()["replies"]

    def history(self) -> list[dict]:
        r = requests.get(
            f"{self.desk}/api/chat/history",
            params={"conversation_id": self.cid},
            headers={"X-Chat-Key": self.key},
            timeout=30,
        )
        return r.json()["messages"]

    def reminders(self) -> list[dict]:
        return [m for m in self.history() if (m.get("text") or "").startswith("【政策提醒】")]

    def wait_reminders(self, n, timeout=40.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.reminders()
            if len(found) >= n:
                return found
            time.sleep(0.5)
        raise AssertionError(f"{n} reminder(s) expected in the chat, found {len(self.reminders())}")


def test_reminder_in_web_chat_button_and_unsubscribe(stack, tmp_path):
    desk, db = stack.settings.desk_url, stack.settings.effective_database_url
    chat = Chat(desk)
    with sessions(db).begin() as s:
        ent = Enterprise(name=f"推送测试{chat.cid[-6:]}有限公司")
        s.add(ent)
        s.flush()
        s.add(
            Contact(
                enterprise_id=ent.id, name="王经理", sender_id=chat.cid, channel="web", verified_at=datetime.now(CST)
            )
        )
        s.add(EnterpriseFigures(enterprise_id=ent.id, figures=json.dumps(FIGURES), sources="{}"))
        eid = ent.id
    now = datetime.now(CST)
    matching = sch.policy_matching()
    rules = rules_with_window(tmp_path, now.date())

    with sessions(db).begin() as s:
        sent = push.run(s, rules, matching, now, enterprises=[eid])
    assert [r.enterprise_id for r in sent if r.enterprise_id == eid] == [eid]
    [reminder] = chat.wait_reminders(1)  # delivered by the desk's notifier
    assert "截止" in reminder["text"] and "退订" in reminder["text"]
    register, unsubscribe = reminder["buttons"]
    assert register["payload"] == '/policy_register{"policy":"small_low_profit"}' and unsubscribe["payload"] == "退订"

    # the button, clicked: Rasa's policy_register starts the ticket form
    replies = chat.send(register["payload"], title=register["title"])
    assert "登记需求" in "\n".join(r.get("text") or "" for r in replies), replies
    chat.send("取消")

    # 退订 typed: answered by the desk; the next occasion (a week later) does not reach this chat
    replies = chat.send("退订")
    assert [r["text"] for r in replies] == [subscription.UNSUBSCRIBED_TEXT]
    with sessions(db).begin() as s:
        s.execute(
            update(PolicyPushThrottle)
            .where(PolicyPushThrottle.enterprise_id == eid)
            .values(last_push_at=now - timedelta(days=8))
        )
    later = rules_with_window(tmp_path, now.date() - timedelta(days=1))  # another call: a new occasion
    plan = push.preview(db, later, matching, now, enterprises=[eid])
    assert [(c.enterprise_id, c.skipped) for c in plan.skipped if c.enterprise_id == eid] == [(eid, "opted_out")]
    with sessions(db).begin() as s:
        assert [r for r in push.run(s, later, matching, now, enterprises=[eid]) if r.enterprise_id == eid] == []
    time.sleep(6)  # one notifier round: nothing arrives
    assert len(chat.reminders()) == 1

    # 订阅: the reminders come back
    assert [r["text"] for r in chat.send("订阅")] == [subscription.SUBSCRIBED_TEXT]
    with sessions(db).begin() as s:
        assert [
            r.enterprise_id for r in push.run(s, later, matching, now, enterprises=[eid]) if r.enterprise_id == eid
        ] == [eid]
    assert len(chat.wait_reminders(2)) == 2
    assert [p.policy_id for p in push.pushes_for_enterprise(db, eid)] == ["small_low_profit", "small_low_profit"]
