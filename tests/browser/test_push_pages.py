"""政策推送 in the console, in a real browser (desktop and a 390 px phone): the top-bar link, the list of pushes
scoped to the member of staff's nodes, the managers' preview (refused to node staff in Chinese), and no page
wider than the screen — the tables scroll inside their box.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from playwright.sync_api import expect
from sqlalchemy import select

from bot import scheduler as sch
from bot.db import read_sessions, sessions
from bot.db.schema import Contact, Conversation, Enterprise, EnterpriseFigures, JobRun, Ticket
from bot.policy import load_rules, push
from bot.settings import PROJECT_ROOT
from bot.staff.accounts import create_staff
from bot.taxonomy import BY_INTENT
from bot.tickets import lifecycle as lc
from bot.tickets.sla import default_policy

pytestmark = pytest.mark.e2e

CST = ZoneInfo("Asia/Shanghai")
PASSWORD = "Push-pages-2026"
FIGURES = {"employees": 50, "total_assets": 10_000_000, "taxable_income": 1_000_000, "industry": "软件和信息技术服务"}
NO_OVERFLOW = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def fixture_rules(tmp_path, opens):
    d = tmp_path / "knowledge" / "policies"
    d.mkdir(parents=True)
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


def enterprise_at(db, name, node, tag) -> int:
    now = datetime.now(CST)
    sender = f"web-push-{tag}-{node}"
    with sessions(db).begin() as s:
        e = Enterprise(name=name)
        s.add(e)
        s.flush()
        s.add(Conversation(id=sender, channel="web", mode="bot", node_id=node))
        s.add(Contact(enterprise_id=e.id, name="王经理", sender_id=sender, channel="web", verified_at=now))
        s.add(EnterpriseFigures(enterprise_id=e.id, figures=json.dumps(FIGURES), sources="{}"))
        s.add(
            Ticket(
                number=f"QCY-PUSH-{tag}-{node}",
                enterprise_id=e.id,
                category="need_recruitment",
                service_content=BY_INTENT["need_recruitment"].content,
                node_id=node,
                status=lc.RESOLVED,
                description="测试",
                source_channel="web",
                created_at=now,
                updated_at=now,
                first_response_due=default_policy().first_response_due(now),
                resolution_due=now + timedelta(days=5),
                resolved_at=now,
            )
        )
        return e.id


def login(page, desk, username):
    page.goto(f"{desk}/console/login")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    expect(page).to_have_url(re.compile(r"/console/$"))


@pytest.mark.parametrize("width", [1366, 390])
def test_push_list_and_preview(stack, browser, tmp_path, width):
    desk, db = stack.settings.desk_url, stack.settings.effective_database_url
    tag = uuid.uuid4().hex[:6]
    admin, staff = f"pa{tag}", f"ps{tag}"
    create_staff(db, admin, "推送管理员", "centre", "admin", PASSWORD)
    create_staff(db, staff, "沣东专员", "fengdong", "staff", PASSWORD)
    fx = enterprise_at(db, f"沣西推送{tag}有限公司", "fengxi", tag)
    fd = enterprise_at(db, f"沣东推送{tag}有限公司", "fengdong", tag)
    now = datetime.now(CST)
    with sessions(db).begin() as s:
        sent = push.run(s, fixture_rules(tmp_path, now.date()), sch.policy_matching(), now, enterprises=[fx, fd])
    assert sorted(r.enterprise_id for r in sent) == sorted([fx, fd])

    ctx = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
    try:
        page = ctx.new_page()
        login(page, desk, admin)
        page.click('header.top nav a[href="/console/pushes"]')
        expect(page.locator("h1").first).to_contain_text("政策推送")
        for eid in (fx, fd):
            row = page.locator(f'table.pushes tr[data-enterprise="{eid}"]')
            expect(row).to_have_count(1)
            expect(row).to_contain_text("小型微利企业")
            expect(row).to_contain_text("按已保存的企业数字符合条件")
        assert page.evaluate(NO_OVERFLOW)
        page.click('a[href="/console/pushes/preview"]')
        expect(page.locator("h1").first).to_contain_text("推送预览")
        with read_sessions(db)() as s:
            today = datetime.now(CST).date().isoformat()
            ran = s.scalar(select(JobRun.status).where(JobRun.job == sch.POLICY_PUSH, JobRun.period == today))
        if ran in ("done", "running"):
            expect(page.locator("text=今天的推送已执行")).to_have_count(1)
            expect(page.locator('button:has-text("立即推送")')).to_have_count(0)
        else:
            expect(page.locator('button:has-text("立即推送")')).to_have_count(1)
        assert page.evaluate(NO_OVERFLOW)
        page.click('header.top form[action="/console/logout"] button')

        # node staff: their node's push only; the preview is refused in Chinese
        login(page, desk, staff)
        page.goto(f"{desk}/console/pushes")
        expect(page.locator(f'table.pushes tr[data-enterprise="{fd}"]')).to_have_count(1)
        expect(page.locator(f'table.pushes tr[data-enterprise="{fx}"]')).to_have_count(0)
        expect(page.locator('a[href="/console/pushes/preview"]')).to_have_count(0)
        page.goto(f"{desk}/console/pushes/preview")
        expect(page.locator("h1").first).to_contain_text("无权访问")
    finally:
        ctx.close()
