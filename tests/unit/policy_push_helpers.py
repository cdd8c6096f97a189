"""Set-up shared by the policy-push tests (tests/unit/test_policy_push.py, and test_policy_push_desk.py on the
desk): rule files in a tmp dir with application windows set by the test, and enterprises with figures, contacts
and tickets.

test_policy_push_desk.py imported these from test_policy_push.py, which tied the two test files together (test
modules don't import each other); they live here once. The fixtures `rules_dir` and `rules` are imported by name
into the modules that use them, as pytest finds fixtures in a module's namespace.

- `bj(...)`: a Beijing time; `SMALL_FIGURES`: the figures of an enterprise that qualifies as small and low-profit;
- `rules_dir` (fixture): copies of knowledge/policies, small_low_profit with a dated window 2027-03-01…03-31;
  `set_window`: a policy's application window rewritten; `rules` (fixture): the rules loaded from `rules_dir`;
- `add_enterprise`: an enterprise with its figures, contacts and tickets.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.db import sessions
from bot.db.schema import Contact, Conversation, Enterprise, EnterpriseFigures, Ticket
from bot.policy import load_rules
from bot.settings import PROJECT_ROOT
from bot.taxonomy import BY_INTENT
from bot.tickets import lifecycle as lc
from bot.tickets.sla import default_policy

CST = ZoneInfo("Asia/Shanghai")
SMALL_FIGURES = {
    "employees": 50,
    "total_assets": 10_000_000,
    "taxable_income": 1_000_000,
    "industry": "软件和信息技术服务",
}


def bj(y, mo, d, h=10, mi=0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CST)


@pytest.fixture
def rules_dir(tmp_path):
    """small_low_profit with a dated window 2027-03-01…03-31, tsme with its usual months only (no dates)."""
    d = tmp_path / "knowledge" / "policies"
    d.mkdir(parents=True)
    src = PROJECT_ROOT / "knowledge" / "policies"
    for name in ("hnte", "small_low_profit", "tsme", "rd_super_deduction"):
        shutil.copy(src / f"{name}.yml", d / f"{name}.yml")
    set_window("small_low_profit", d, opens="2027-03-01", closes="2027-03-31", source="测试通知（测试〔2027〕1号）")
    set_window("tsme", d, months=[6, 7, 8])
    set_window("rd_super_deduction", d, months=[])
    return tmp_path / "knowledge"


def set_window(policy, d, **window):
    path = d / f"{policy}.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    note = data["application_window"]["note"]
    data["application_window"] = {"note": note, **window}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.fixture
def rules(rules_dir):
    return load_rules(rules_dir)


def add_enterprise(url, name, *, figures=None, contacts=(), tickets=()) -> int:
    """An enterprise; contacts: (sender_id, channel, verified); tickets: (category, sender_id or None)."""
    with sessions(url).begin() as s:
        e = Enterprise(name=name)
        s.add(e)
        s.flush()
        ids = {}
        for sender, channel, verified in contacts:
            s.add(Conversation(id=sender, channel=channel, mode="bot", last_user_at=bj(2027, 2, 1)))
            c = Contact(
                enterprise_id=e.id,
                name=f"{name}联系人",
                sender_id=sender,
                channel=channel,
                verified_at=bj(2027, 1, 1) if verified else None,
            )
            s.add(c)
            s.flush()
            ids[sender] = c.id
        if figures is not None:
            s.add(EnterpriseFigures(enterprise_id=e.id, figures=json.dumps(figures), sources="{}"))
        for i, (category, sender) in enumerate(tickets):
            created = bj(2027, 1, 10)
            s.add(
                Ticket(
                    number=f"QCY-{e.id}-{i}",
                    enterprise_id=e.id,
                    contact_id=ids.get(sender),
                    category=category,
                    service_content=BY_INTENT[category].content,
                    node_id="fengxi",
                    status=lc.IN_PROGRESS,
                    description="测试",
                    source_channel="web",
                    conversation_id=sender,
                    created_at=created,
                    updated_at=created,
                    first_response_due=default_policy().first_response_due(created),
                    resolution_due=created + timedelta(days=10),
                )
            )
        return e.id
