"""政策推送 (issue 12 items 4–5): triggers from the rule files, who qualifies, the weekly throttle at its boundary,
退订 / 订阅, no push without a channel, every push recorded, and exactly once across racing schedulers.

Rule files are fixtures in a tmp dir (copies of knowledge/policies with application windows set here): the real
files carry only dates read in published notices, and tests must not depend on them.
Calendar facts: 2027-03-01 a Monday (working day), 2027-03-06 a Saturday.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import yaml
from sqlalchemy import select

from bot import scheduler as sch
from bot.db import read_sessions, sessions
from bot.db.schema import JobRun, Notification, PolicyPush
from bot.policy import load_rules, push, subscription
from bot.settings import PROJECT_ROOT
from tests.race import race
from tests.unit.policy_push_helpers import SMALL_FIGURES, add_enterprise, bj, rules, rules_dir, set_window  # noqa: F401 - the fixtures rules, rules_dir

TOO_BIG = {"employees": 500, "total_assets": 10_000_000, "taxable_income": 1_000_000, "industry": "软件"}


@pytest.fixture
def matching():
    return sch.policy_matching()


def pushes(url) -> list[PolicyPush]:
    with read_sessions(url)() as s:
        return list(s.scalars(select(PolicyPush).order_by(PolicyPush.id)))


def notes(url) -> list[Notification]:
    with read_sessions(url)() as s:
        return list(s.scalars(select(Notification).where(Notification.kind == push.KIND).order_by(Notification.id)))


def run(url, rules, matching, now, **kw):
    with sessions(url).begin() as s:
        return push.run(s, rules, matching, now, **kw)


# ---- triggers ------------------------------------------------------------------------------------------


def test_triggers_come_from_the_rule_files_only(rules):
    keys = lambda d: [t.key for t in push.triggers(rules, d)]  # noqa: E731
    assert keys(date(2027, 2, 28)) == []
    assert keys(date(2027, 3, 1)) == ["window:small_low_profit:2027-03-01"]  # the opening day
    [t] = push.triggers(rules, date(2027, 3, 31))
    assert t.deadline == date(2027, 3, 31) and t.kind == "window"  # the deadline day
    assert keys(date(2027, 4, 1)) == []
    # usual months, no dates: one occasion for the whole run of months, no deadline
    assert keys(date(2027, 6, 1)) == keys(date(2027, 8, 31)) == ["window:tsme:2027-06"]
    assert push.triggers(rules, date(2027, 7, 15))[0].deadline is None
    # the real files carry no application dates for the current year but tsme's 2026 call (ended)
    real = load_rules(PROJECT_ROOT / "knowledge")
    assert [t for t in push.triggers(real, date(2026, 12, 3)) if t.kind == "window"] == []


def test_a_dated_window_replaces_the_usual_months_in_its_year(rules_dir):
    set_window(
        "tsme",
        rules_dir / "policies",
        months=[6, 7, 8],
        opens="2027-06-10",
        closes="2027-07-20",
        source="测试通知（测试〔2027〕2号）",
    )
    rules = load_rules(rules_dir)
    assert [t.key for t in push.triggers(rules, date(2027, 6, 5))] == []  # dates known: wait for them
    assert [t.key for t in push.triggers(rules, date(2027, 6, 10))] == ["window:tsme:2027-06-10"]
    assert [t.key for t in push.triggers(rules, date(2028, 6, 1))] == ["window:tsme:2028-06"]


def test_a_new_policy_is_announced_for_thirty_days(rules_dir):
    path = rules_dir / "policies" / "small_low_profit.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["effective"] = "2027-05-01"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    rules = load_rules(rules_dir)
    assert [t.key for t in push.triggers(rules, date(2027, 4, 30))] == []  # not in force yet
    assert [t.key for t in push.triggers(rules, date(2027, 5, 1))] == ["new:small_low_profit:2027-05-01"]
    assert [t.key for t in push.triggers(rules, date(2027, 5, 30))] == ["new:small_low_profit:2027-05-01"]
    assert [t.key for t in push.triggers(rules, date(2027, 5, 31))] == []


def test_message_is_short_and_has_the_deadline_and_buttons(rules):
    [t] = push.triggers(rules, date(2027, 3, 2))
    text = push.message(t, "profile")
    assert "截止2027年3月31日" in text and "退订" in text and len(text) < 150
    assert "曾登记政策咨询需求" in push.message(t, "need", "政策咨询")
    b = push.buttons("small_low_profit", {"small_low_profit": "小微企业所得税优惠"})
    assert b[0] == {"title": "登记小微企业所得税优惠需求", "payload": '/policy_register{"policy":"small_low_profit"}'}
    assert b[1]["payload"] == "退订" and subscription.command(b[1]["payload"]) == subscription.UNSUBSCRIBE


# ---- who qualifies ---------------------------------------------------------------------------------------


def test_who_is_notified_and_why(db_url, rules, matching):
    fits = add_enterprise(db_url, "符合企业", figures=SMALL_FIGURES, contacts=[("web-fit", "web", True)])
    need = add_enterprise(
        db_url,
        "咨询过企业",
        contacts=[("wxmp:need", "wechat_mp", False)],
        tickets=[("need_policy_consult", "wxmp:need")],
    )
    add_enterprise(
        db_url,
        "不符合企业",
        figures=TOO_BIG,
        contacts=[("web-big", "web", True)],
        tickets=[("need_policy_consult", "web-big")],
    )  # the figures rule it out: no push
    add_enterprise(
        db_url, "无关企业", contacts=[("web-other", "web", True)], tickets=[("need_recruitment", "web-other")]
    )
    unverified = add_enterprise(db_url, "未核实企业", figures=SMALL_FIGURES, contacts=[("web-unv", "web", False)])
    plan = push.preview(db_url, rules, matching, bj(2027, 3, 1))
    assert {(c.enterprise_id, c.reason, c.conversation_id, c.channel) for c in plan.send} == {
        (fits, "profile", "web-fit", "web"),
        (need, "need", "wxmp:need", "wechat_mp"),
    }
    # figures saved, but nobody verified to tell: skipped, said why
    assert [(c.enterprise_id, c.skipped) for c in plan.skipped] == [(unverified, "no_channel")]
    assert not pushes(db_url)  # a preview sends nothing
    only = push.preview(db_url, rules, matching, bj(2027, 3, 1), enterprises=[need])
    assert [c.enterprise_id for c in only.send] == [need] and only.skipped == []

    sent = run(db_url, rules, matching, bj(2027, 3, 1))
    assert {r.enterprise_id for r in sent} == {fits, need}
    rows = pushes(db_url)
    assert {(p.enterprise_id, p.policy_id, p.trigger, p.reason, p.deadline) for p in rows} == {
        (fits, "small_low_profit", "window", "profile", date(2027, 3, 31)),
        (need, "small_low_profit", "window", "need", date(2027, 3, 31)),
    }
    ns = notes(db_url)
    assert sorted(n.recipient for n in ns) == ["sender:web-fit", "sender:wxmp:need"]
    assert all(p.notification_id in {n.id for n in ns} for p in rows)
    assert push.buttons_for_notification(db_url, ns[0].id)[0]["payload"].startswith("/policy_register")
    [record] = push.pushes_for_enterprise(db_url, fits)
    assert (record.policy_id, record.reason_text, record.status_text) == (
        "small_low_profit",
        "按已保存的企业数字符合条件",
        "待发送",
    )
    # retention removes the notification later: the push stays on record
    with sessions(db_url).begin() as s:
        s.execute(Notification.__table__.delete().where(Notification.recipient == "sender:web-fit"))
    assert push.pushes_for_enterprise(db_url, fits)[0].status_text == "已清理"


def test_no_channel_no_push(db_url, rules, matching):
    """Figures and a need, but no chat identity with a conversation (a visit-only enterprise)."""
    eid = add_enterprise(db_url, "只有走访的企业", figures=SMALL_FIGURES, tickets=[("need_policy_consult", None)])
    plan = push.preview(db_url, rules, matching, bj(2027, 3, 1))
    assert [(c.enterprise_id, c.skipped, c.skipped_text) for c in plan.skipped] == [
        (eid, "no_channel", "没有可推送的聊天渠道")
    ]
    assert run(db_url, rules, matching, bj(2027, 3, 1)) == [] and notes(db_url) == []


def test_the_same_window_is_pushed_once(db_url, rules, matching):
    add_enterprise(db_url, "符合企业", figures=SMALL_FIGURES, contacts=[("web-fit", "web", True)])
    assert len(run(db_url, rules, matching, bj(2027, 3, 1))) == 1
    assert run(db_url, rules, matching, bj(2027, 3, 15)) == []  # a week later, same window: nothing new
    assert len(pushes(db_url)) == 1 and len(notes(db_url)) == 1


# ---- at most one a week ----------------------------------------------------------------------------------


def test_weekly_throttle_at_the_boundary(db_url, rules_dir, matching):
    """Two windows open for one enterprise: the second waits until exactly 7 days after the first push."""
    set_window(
        "tsme", rules_dir / "policies", opens="2027-03-01", closes="2027-04-30", source="测试通知（测试〔2027〕3号）"
    )
    rules = load_rules(rules_dir)
    eid = add_enterprise(
        db_url,
        "两项都符合",
        contacts=[("web-2", "web", True)],
        tickets=[("need_policy_consult", "web-2"), ("need_qualification", "web-2")],
    )
    first = bj(2027, 3, 1, 10, 0)
    [a] = run(db_url, rules, matching, first)
    assert a.policy_id == "small_low_profit"  # the sooner deadline first
    just_before = first + timedelta(days=7) - timedelta(seconds=1)
    plan = push.preview(db_url, rules, matching, just_before)
    assert [(c.enterprise_id, c.skipped, c.trigger.policy) for c in plan.skipped] == [(eid, "throttled", "tsme")]
    assert run(db_url, rules, matching, just_before) == []
    [b] = run(db_url, rules, matching, first + timedelta(days=7))  # exactly a week: allowed
    assert b.policy_id == "tsme"
    assert [p.policy_id for p in pushes(db_url)] == ["small_low_profit", "tsme"]


# ---- 退订 / 订阅 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["退订", " 退订。", "取消订阅", "TD", "td", "退訂", "取消訂閱", "退订提醒"])
def test_unsubscribe_words(text):
    assert subscription.command(text) == subscription.UNSUBSCRIBE


@pytest.mark.parametrize("text", ["订阅", "訂閱", "重新订阅"])
def test_subscribe_words(text):
    assert subscription.command(text) == subscription.SUBSCRIBE


@pytest.mark.parametrize("text", ["怎么退订会员", "我想了解订阅号", "退订了还能收到吗？我们公司想问问", "", None, "n"])
def test_other_messages_are_not_commands(text):
    assert subscription.command(text) is None


def test_unsubscribe_stops_pushes_and_subscribe_restores_them(db_url, rules, matching):
    eid = add_enterprise(db_url, "符合企业", figures=SMALL_FIGURES, contacts=[("web-fit", "web", True)])
    assert subscription.apply(db_url, "web-fit", subscription.UNSUBSCRIBE, "web") == subscription.UNSUBSCRIBED_TEXT
    assert subscription.apply(db_url, "web-fit", subscription.UNSUBSCRIBE) == subscription.ALREADY_OUT_TEXT
    plan = push.preview(db_url, rules, matching, bj(2027, 3, 1))
    assert [(c.enterprise_id, c.skipped) for c in plan.skipped] == [(eid, "opted_out")] and not plan.send
    assert run(db_url, rules, matching, bj(2027, 3, 1)) == [] and notes(db_url) == []
    assert subscription.apply(db_url, "web-fit", subscription.SUBSCRIBE) == subscription.SUBSCRIBED_TEXT
    assert subscription.apply(db_url, "web-fit", subscription.SUBSCRIBE) == subscription.ALREADY_IN_TEXT
    assert len(run(db_url, rules, matching, bj(2027, 3, 2))) == 1


def test_an_unsubscribed_contact_is_passed_over_for_a_colleague(db_url, rules, matching):
    add_enterprise(
        db_url, "两位联系人", figures=SMALL_FIGURES, contacts=[("web-a", "web", True), ("wecom:b", "wecom", True)]
    )
    subscription.apply(db_url, "web-a", subscription.UNSUBSCRIBE)
    [r] = run(db_url, rules, matching, bj(2027, 3, 1))
    assert r.conversation_id == "wecom:b" and r.channel == "wecom"


# ---- the scheduler: exactly once -------------------------------------------------------------------------


def test_racing_schedulers_push_once(db_url, rules_dir, tmp_path):
    for i in range(5):
        add_enterprise(db_url, f"符合企业{i}", figures=SMALL_FIGURES, contacts=[(f"web-{i}", "web", True)])
    now = bj(2027, 3, 1, 10, 5)
    results = race(
        4,
        lambda i: sch.Scheduler(db_url, f"inst-{i}", reports_dir=tmp_path, knowledge_dir=rules_dir),
        lambda s: [r for r in s.run_due(now, sweep=False) if r.job == sch.POLICY_PUSH],
    )
    assert [r.status for r in results if r.status == "done"] == ["done"]
    [done] = [r for r in results if r.status == "done"]
    assert done.period == "2027-03-01" and done.output == "已向 5 家企业推送政策提醒"
    assert len(pushes(db_url)) == 5 and len(notes(db_url)) == 5
    with read_sessions(db_url)() as s:
        runs = s.scalars(select(JobRun).where(JobRun.job == sch.POLICY_PUSH)).all()
        assert [(r.period, r.status) for r in runs] == [("2027-03-01", "done")]
    # the same day again, and a Saturday: nothing
    again = sch.Scheduler(db_url, "inst-9", reports_dir=tmp_path, knowledge_dir=rules_dir)
    assert [r for r in again.run_due(now + timedelta(hours=3), sweep=False) if r.job == sch.POLICY_PUSH] == []
    assert [r for r in again.run_due(bj(2027, 3, 6, 11), sweep=False) if r.job == sch.POLICY_PUSH] == []
    assert len(notes(db_url)) == 5


def test_the_job_is_due_at_ten_on_working_days_only(db_url, rules_dir, tmp_path):
    s = sch.Scheduler(db_url, "x", reports_dir=tmp_path, knowledge_dir=rules_dir)
    assert sch._policy_push_candidates(s, bj(2027, 3, 1, 9, 59)) == []
    assert sch._policy_push_candidates(s, bj(2027, 3, 1, 10, 0)) == ["2027-03-01"]
    assert sch._policy_push_candidates(s, bj(2027, 3, 6, 12)) == []
    assert sch.POLICY_PUSH not in sch.Scheduler(db_url, "y", reports_dir=tmp_path).jobs  # no rules given
    assert sch.POLICY_PUSH in s.jobs


def test_two_runs_at_once_never_push_an_enterprise_twice(db_url, rules, matching):
    """Belt and braces below the JobRun claim (a run taken over as stale while the first still works):
    (enterprise, trigger) is unique and the weekly throttle is a conditional update."""
    for i in range(3):
        add_enterprise(db_url, f"企业{i}", figures=SMALL_FIGURES, contacts=[(f"web-{i}", "web", True)])
    now = bj(2027, 3, 1)

    def one(_sched):
        try:
            return run(db_url, rules, matching, now)
        except Exception:  # the loser of a write race on PostgreSQL may fail: it then commits nothing
            return []

    race(3, lambda i: None, one)
    assert len(pushes(db_url)) == 3 and len(notes(db_url)) == 3
    assert len({p.enterprise_id for p in pushes(db_url)}) == 3


@pytest.mark.slow
def test_two_scheduler_processes_push_once(db_url, rules_dir, tmp_path):
    """Two `python -m bot.scheduler run-once` processes at the same moment (the desks' loops do the same): one
    政策推送 run, one reminder per enterprise; `status` reports it."""
    import os
    import subprocess
    import sys

    for i in range(3):
        add_enterprise(db_url, f"进程企业{i}", figures=SMALL_FIGURES, contacts=[(f"web-p{i}", "web", True)])
    env = dict(os.environ, VAR_DIR=str(tmp_path / "var"), DATABASE_URL=db_url, KNOWLEDGE_DIR=str(rules_dir))
    cmd = [sys.executable, "-m", "bot.scheduler", "run-once", "--now", "2027-03-01T10:05", "--no-sla"]
    procs = [
        subprocess.Popen(
            cmd + ["--instance", f"proc-{i}"],
            cwd=PROJECT_ROOT,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    said = [o for o, _ in outs if "政策推送 2027-03-01：已完成 —— 已向 3 家企业推送政策提醒" in o]
    assert len(said) == 1, outs
    assert len(pushes(db_url)) == 3 and len(notes(db_url)) == 3
    status = subprocess.run(
        [sys.executable, "-m", "bot.scheduler", "status", "--now", "2027-03-01T11:00"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "政策推送（policy_push）：最近完成 2027-03-01" in status.stdout, status.stdout + status.stderr
    assert "下次：2027-03-02 10:00" in status.stdout
