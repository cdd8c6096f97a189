"""POST /api/policy-check on a real desk: the answer's shape and verdicts, every kind of bad request
(400 naming the field in Chinese, 413, 405), the per-address rate limit (in memory and, shared by two
desks, in Redis), hostile input, and that nothing is stored.

The API needs neither Rasa nor the action server: the desk runs on a fresh, migrated SQLite database
with Rasa on a closed port, in-process (aiohttp test server on a real port, so the test can set the
desk's clock), and once as `python -m bot.desk` in its own process (bench/policy_check_api.py's
`desk_process`, the same desk the benchmark measures).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import requests
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.db import read_sessions
from bot.db.schema import Conversation, Message, Ticket
from bot.desk import policy_check
from bot.desk.app import create_app
from bot.runtime.supervisor import free_port
from bot.settings import Settings
from tests.settings_env import with_env

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from policy_check_api import desk_process  # noqa: E402 - bench/ is not a package

pytestmark = pytest.mark.e2e

URL = "/api/policy-check"
TODAY = date(2026, 12, 3)
FULL = {
    "registered_on": "2021-03-01",
    "employees": 50,
    "tech_staff": 9,
    "revenue": [15_000_000, 18_000_000, 20_000_000],
    "rd_expense": [1_000_000, 1_500_000, 3_000_000],
    "rd_domestic_share": 1,
    "hightech_revenue_share": 0.8,
    "total_assets": 30_000_000,
    "taxable_income": 1_500_000,
    "ip": {"invention_patents": 1, "software_copyrights": 5},
    "industry": "软件和信息技术服务业",
}


async def start(
    db: str, tmp_path, monkeypatch, today: date = TODAY, settings_: Settings | None = None, **env
) -> TestClient:
    """A desk configured by `settings_` and the environment variables `env` (RATE_LIMIT_POLICY_IP="3/60", …)."""
    closed = free_port()
    settings_ = dataclasses.replace(
        settings_ or Settings(),
        database_url=db,
        var_dir=tmp_path,
        rasa_port=closed,
        actions_port=closed,
        rasa_token="t",
        desk_scheduler=False,
    )
    app = create_app(with_env(settings_, **env))
    app[policy_check.TODAY_KEY] = lambda: today
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def desk(sqlite_url, tmp_path, monkeypatch):
    client = await start(sqlite_url, tmp_path, monkeypatch)
    yield client
    await client.close()


def counts(db: str) -> tuple[int, int, int]:
    with read_sessions(db)() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Conversation, Message, Ticket))


async def post(client, body=None, *, raw: bytes | str | None = None, ip: str | None = None, **headers):
    if ip:
        headers["X-Forwarded-For"] = ip
    if raw is not None:
        headers.setdefault("Content-Type", "application/json")
        return await client.post(URL, data=raw, headers=headers)
    return await client.post(URL, json=body, headers=headers)


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


# ---- answers -------------------------------------------------------------------------------------------


async def test_full_figures_get_one_result_per_policy_in_the_issue_shape_and_nothing_is_stored(desk, sqlite_url):
    before = counts(sqlite_url)
    r = await post(desk, FULL)
    assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
    assert r.headers["Content-Type"].startswith("application/json")
    body = await r.json()
    assert set(body) == {"results"}
    by_id = {x["policy"]: x for x in body["results"]}
    assert set(by_id) == {"hnte", "tsme", "small_low_profit", "rd_super_deduction"}
    assert {p: x["verdict"] for p, x in by_id.items()} == {p: "eligible" for p in by_id}
    for x in body["results"]:
        assert set(x) == {"policy", "name", "verdict", "checks", "citation", "next_step"}
        assert has_chinese(x["name"]) and has_chinese(x["next_step"]) and x["citation"].startswith("《")
        for c in x["checks"]:
            assert set(c) == {"criterion", "required", "value", "pass"} and c["pass"] in (True, False, None)
    hnte = {c["criterion"][:12]: c for c in by_id["hnte"]["checks"]}
    rd = next(c for c in by_id["hnte"]["checks"] if "研究开发费用总额占同期销售收入" in c["criterion"])
    # 550万 / 5300万 over three years = 10.377…% (band: last year 2000万 ≤ 5000万 → 5 %)
    assert rd["value"] == "10.37%（近3年研发费用550万元 / 销售收入5300万元）" and rd["pass"] is True
    assert rd["required"] == "≥ 5%（最近一年销售收入小于5,000万元（含））"
    assert any(c["value"] == "需专家评估" and c["pass"] is None for c in hnte.values())
    assert counts(sqlite_url) == before == (0, 0, 0)


async def test_the_issue_example_needs_the_missing_figures(desk):
    # "我们50个人，营收两千万，研发三百万，能评高企吗"
    body = await (await post(desk, {"employees": 50, "revenue": [20_000_000], "rd_expense": [3_000_000]})).json()
    hnte = next(x for x in body["results"] if x["policy"] == "hnte")
    assert hnte["verdict"] == "need_more_info"
    assert hnte["next_step"].startswith("请补充：注册成立日期、科技人员数、")
    # with the registration date (2025): one accounting year is the whole period, 15 % ≥ 5 %
    body = await (
        await post(
            desk, {"employees": 50, "revenue": [20_000_000], "rd_expense": [3_000_000], "registered_on": "2025-03-01"}
        )
    ).json()
    hnte = next(x for x in body["results"] if x["policy"] == "hnte")
    rd = next(c for c in hnte["checks"] if "研究开发费用总额" in c["criterion"])
    assert rd["value"].startswith("15%（近1年") and rd["pass"] is True


async def test_an_empty_object_is_a_valid_request(desk):
    body = await (await post(desk, {})).json()
    assert {x["verdict"] for x in body["results"]} == {"need_more_info"}


async def test_an_expired_policy_is_reported_as_not_applied(sqlite_url, tmp_path, monkeypatch):
    client = await start(sqlite_url, tmp_path, monkeypatch, today=date(2028, 1, 1))
    try:
        body = await (await post(client, {"employees": 10, "taxable_income": 100})).json()
    finally:
        await client.close()
    assert "small_low_profit" not in {x["policy"] for x in body["results"]}
    assert body["not_applied"] == [
        {
            "policy": "small_low_profit",
            "name": "小型微利企业所得税优惠",
            "reason": "该政策已于2027年12月31日到期，不再适用",
            "citation": "《财政部 税务总局关于进一步支持小微企业和个体工商户发展有关税费政策的公告》"
            "（财政部 税务总局公告2023年第12号）",
        }
    ]


# ---- bad requests ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, code, field, words",
    [
        ("{not json", "bad_json", "(body)", "请求内容不是有效的 JSON"),
        ("", "bad_json", "(body)", "请求内容为空"),
        ("[1, 2]", "bad_json", "(body)", "请求内容应为 JSON 对象"),
        ('"employees"', "bad_json", "(body)", "请求内容应为 JSON 对象"),
        ('{"employees": NaN}', "bad_json", "(body)", "不是有效的 JSON"),
        ('{"employees": Infinity}', "bad_json", "(body)", "不是有效的 JSON"),
        ('{"ip": ' + "[" * 50 + "]" * 50 + "}", "bad_json", "(body)", "嵌套过深"),
        ('{"employees": true}', "invalid_field", "employees", "employees（职工总数）应为整数"),
        ('{"employees": -5}', "invalid_field", "employees", "应不少于1"),
        ('{"tech_staff": 3.5}', "invalid_field", "tech_staff", "tech_staff（科技人员数）应为整数"),
        ('{"registered_on": "2026-12-04"}', "invalid_field", "registered_on", "不能晚于今天"),
        ('{"registered_on": "2026-2-30"}', "invalid_field", "registered_on", "应为 YYYY-MM-DD 格式"),
        ('{"revenue": [1, 2], "rd_expense": [1, 2, 3]}', "invalid_field", "rd_expense", "年数应相同"),
        ('{"revenue": [1, 2, 3, 4]}', "invalid_field", "revenue", "最多填最近3个会计年度"),
        ('{"revenue": [1e400]}', "invalid_field", "revenue[0]", "数值过大"),
        ('{"total_assets": -0.01}', "invalid_field", "total_assets", "total_assets（资产总额）不能为负数"),
        ('{"rd_domestic_share": 1.5}', "invalid_field", "rd_domestic_share", "不能大于 1"),
        ('{"ip": {"patents": 3}}', "invalid_field", "ip.patents", "未知的知识产权类别"),
        ('{"industry": "\\ud800"}', "invalid_field", "industry", "含有无效字符"),
        ('{"employes": 60}', "invalid_field", "employes", "未知字段“employes”"),
        ('{"employees": 1' + "0" * 5000 + "}", "bad_json", "(body)", "不是有效的 JSON"),
    ],
)
async def test_bad_input_gets_400_naming_the_field_in_chinese(desk, raw, code, field, words):
    r = await post(desk, raw=raw)
    assert r.status == 400, await r.text()
    body = await r.json()
    assert body["error"] == code and field in body["fields"] and words in body["message"], body


async def test_wrong_content_type_method_and_size(desk):
    r = await desk.post(URL, data="employees=60", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 400 and (await r.json())["error"] == "bad_content_type"
    assert "Content-Type: application/json" in (await r.json())["message"]
    r = await desk.post(URL, data=b"\xff\xfe{}", headers={"Content-Type": "application/json"})
    assert r.status == 400 and "UTF-8" in (await r.json())["message"]
    r = await post(desk, raw='{"industry": "' + "软" * 7000 + '"}')  # ~21 KB > 16 KB
    assert r.status == 413 and (await r.json())["message"] == "请求内容过大（最多 16 KB）"
    r = await post(desk, raw="{" + " " * 70_000 + "}")  # over the desk's 64 KB
    assert r.status == 413 and has_chinese((await r.json())["message"])
    r = await desk.get(URL)
    assert r.status == 405 and (await r.json())["message"] == "不支持该请求方法"


async def test_hostile_text_is_answered_as_data_and_the_database_is_untouched(desk, sqlite_url):
    for text in ("'; DROP TABLE tickets; --", '<script>alert("x")</script>', "{{7*7}} ${7*7}", "\u202e反转"):
        r = await post(desk, {"rd_expense": [1], "industry": text})
        assert r.status == 200 and r.headers["X-Content-Type-Options"] == "nosniff"
        rd = next(x for x in (await r.json())["results"] if x["policy"] == "rd_super_deduction")
        assert any(text in (c["value"] or "") for c in rd["checks"])  # echoed as JSON text only
    assert counts(sqlite_url) == (0, 0, 0)


# ---- rate limit --------------------------------------------------------------------------------------------


async def test_rate_limit_per_client_address(sqlite_url, tmp_path, monkeypatch):
    client = await start(sqlite_url, tmp_path, monkeypatch, RATE_LIMIT_POLICY_IP="3/60")
    try:
        for _ in range(3):
            assert (await post(client, {}, ip="203.0.113.7")).status == 200
        r = await post(client, {}, ip="203.0.113.7")
        assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
        assert (await r.json())["message"] == "发送太频繁，请稍后再试"
        assert (await post(client, {}, ip="203.0.113.8")).status == 200  # another address
        # a local tool without X-Forwarded-For has no per-address limit (as for the web chat)
        assert all([(await post(client, {})).status == 200 for _ in range(5)])
    finally:
        await client.close()


async def test_rate_limit_is_shared_by_desks_through_redis(sqlite_url, tmp_path, monkeypatch, redis_url):
    shared = dataclasses.replace(Settings(), redis_url=redis_url.url, redis_prefix=redis_url.prefix)
    a = await start(sqlite_url, tmp_path / "a", monkeypatch, settings_=shared, RATE_LIMIT_POLICY_IP="3/60")
    b = await start(sqlite_url, tmp_path / "b", monkeypatch, settings_=shared, RATE_LIMIT_POLICY_IP="3/60")
    try:
        assert (await post(a, {}, ip="198.51.100.9")).status == 200
        assert (await post(b, {}, ip="198.51.100.9")).status == 200
        assert (await post(a, {}, ip="198.51.100.9")).status == 200
        assert (await post(b, {}, ip="198.51.100.9")).status == 429
        assert any(":rl:policy_ip:" in k for k in redis_url.keys())
    finally:
        await a.close()
        await b.close()


# ---- the desk as its own process ------------------------------------------------------------------------


def test_the_desk_process_answers_the_policy_check(sqlite_url, tmp_path):
    with desk_process(tmp_path, sqlite_url) as base:
        r = requests.post(base + URL, json=FULL, timeout=10)
        assert r.status_code == 200
        verdicts = {x["policy"]: x["verdict"] for x in r.json()["results"]}
        assert verdicts["hnte"] == verdicts["tsme"] == verdicts["rd_super_deduction"] == "eligible"
        r = requests.post(
            base + URL, data=b'{"employees": -1}', headers={"Content-Type": "application/json"}, timeout=10
        )
        assert r.status_code == 400 and r.json()["fields"] == ["employees"]


# ---- the rule files behind the running desk --------------------------------------------------------------


async def test_broken_rules_at_start_answer_503_in_chinese(sqlite_url, tmp_path, monkeypatch):
    empty = tmp_path / "knowledge"
    empty.mkdir()
    client = await start(
        sqlite_url, tmp_path, monkeypatch, settings_=dataclasses.replace(Settings(), knowledge_dir=empty)
    )
    try:
        r = await post(client, {})
        assert r.status == 503 and (await r.json())["error"] == "rules_unavailable"
        assert "政策体检暂时不可用" in (await r.json())["message"]
    finally:
        await client.close()


def test_rules_are_reread_when_a_file_changes_and_a_broken_edit_keeps_the_last_good_set(tmp_path, monkeypatch):
    monkeypatch.setattr(policy_check, "RELOAD_CHECK", 0.0)
    folder = tmp_path / "policies"
    shutil.copytree(ROOT / "knowledge" / "policies", folder)
    rules = policy_check.Rules(tmp_path)
    assert rules.get().get("small_low_profit").version == 1 and not rules.error
    path = folder / "small_low_profit.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("version: 1", "version: 2"), encoding="utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # a new mtime even on coarse clocks
    assert rules.get().get("small_low_profit").version == 2
    path.write_text(text.replace("version: 1", "version: two"), encoding="utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    assert rules.get().get("small_low_profit").version == 2  # the last good set stays
    assert "small_low_profit.yml: version: 应为正整数" in rules.error
