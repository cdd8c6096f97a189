"""政策体检 in the chat, without Rasa: figures typed naturally → bot.policy's input, what to ask next, the reply
(bot/dialogue/policy_check.py over the real rules in knowledge/policies)."""

from datetime import date
from pathlib import Path

import pytest

from bot import clock
from bot.dialogue import policy_check as pc
from bot.dialogue.details import extract, share_value
from bot.policy import load_rules

TODAY = date(2026, 12, 3)
RULES = load_rules(Path(__file__).resolve().parents[2] / "knowledge")


# ---- figures typed naturally --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("营收一千五百万", {"revenue": 1.5e7}),
        ("研发大概两百万", {"rd_expense": 2e6}),
        ("60人，其中研发9个", {"employees": 60, "tech_staff": 9}),
        ("成立三年", {"years_since_founding": 3}),
        ("有5个发明专利", {"invention_patents": 5}),
        ("营收１５００万，研发２００万", {"revenue": 1.5e7, "rd_expense": 2e6}),  # full-width digits
        ("年收入2.3亿", {"revenue": 2.3e8}),
        ("营业收入1.2亿元", {"revenue": 1.2e8}),
        ("销售额三千五百万", {"revenue": 3.5e7}),
        ("营收两个亿", {"revenue": 2e8}),
        ("研发投入一千万", {"rd_expense": 1e7}),
        ("研发费用1,500万元", {"rd_expense": 1.5e7}),
        ("营收八百五十万", {"revenue": 8.5e6}),
        ("員工８０人", {"employees": 80}),
        ("资产总额3000万", {"total_assets": 3e7}),
        ("总资产1.2亿", {"total_assets": 1.2e8}),
        ("应纳税所得额200万", {"taxable_income": 2e6}),
        ("利润大概一百五十万", {"taxable_income": 1.5e6}),
        ("高新技术产品收入占80%", {"hightech_revenue_share": 0.8}),
        ("研发都在国内", {"rd_domestic_share": 1.0}),
        ("境内研发占百分之九十五", {"rd_domestic_share": 0.95}),
        ("我们属于软件和信息技术服务行业", {"industry": "软件和信息技术服务"}),
        ("没有知识产权", {"ip_none": True}),
        ("我们有几百万营收", {}),
    ],
)
def test_figures_typed_naturally(text, expected):
    assert extract(text).figures == expected


def test_two_years_of_revenue_in_one_sentence():
    f = extract("去年营收2000万，前年1500万").figures
    y = clock.today().year
    assert f["revenue_years"] == {str(y - 1): 2e7, str(y - 2): 1.5e7} and f["revenue"] == 2e7


def test_named_years_with_revenue_and_rd():
    f = extract("2024年收入3000万研发300万，2023年收入2000万研发150万").figures
    assert f["revenue_years"] == {"2024": 3e7, "2023": 2e7}
    assert f["rd_expense_years"] == {"2024": 3e6, "2023": 1.5e6}


@pytest.mark.parametrize(
    "text,share", [("80%", 0.8), ("百分之八十", 0.8), ("八成", 0.8), ("0.85", 0.85), ("６０％", 0.6), ("没有", None)]
)
def test_shares(text, share):
    assert share_value(text) == share


@pytest.mark.parametrize(
    "expecting,text,expected",
    [
        ("staff", "60，9", {"employees": 60, "tech_staff": 9}),
        ("staff", "一共四十五个", {"employees": 45}),
        ("founded", "2019年", {"founded_year": 2019}),
        ("founded", "两年半", {"years_since_founding": 2.5}),
        ("ip", "没有", {"ip_none": True}),
        ("taxable", "亏损", {"taxable_income": 0.0}),
        ("assets", "大概两千万", {"total_assets": 2e7}),
        ("shares", "90%，70%", {"rd_domestic_share": 0.9, "hightech_revenue_share": 0.7}),
        ("industry", "医疗器械制造", {"industry": "医疗器械制造"}),
        ("money", "1500万，200万", {"revenue": 1.5e7, "rd_expense": 2e6}),
    ],
)
def test_bare_answers_to_the_question_just_asked(expecting, text, expected):
    assert pc.facts_of(text, expecting=expecting, today=TODAY) == expected


def test_a_bare_answer_fills_what_is_still_missing_and_skip_words_mean_nothing():
    assert pc.facts_of("9个", expecting="staff", known={"employees": 50}, today=TODAY) == {"tech_staff": 9}
    assert pc.facts_of("300万", expecting="money", known={"revenue": 2e7}, today=TODAY) == {"rd_expense": 3e6}
    for skip in ("跳过", "不清楚", "不知道"):
        assert pc.facts_of(skip, expecting="ip", today=TODAY) == {}  # not "no IP"
        assert pc.facts_of(skip, expecting="taxable", today=TODAY) == {}
    assert pc.facts_of("没有统计", expecting="taxable", today=TODAY) == {}


def test_only_the_missing_half_of_a_question_is_asked():
    q = ask({"employees": 50, "revenue": 2e7, "rd_expense": 3e6}, focus=["hnte"])
    assert q.key == "staff" and "一共" not in q.text and "研发（科技）人员" in q.text
    q = ask({"employees": 50, "tech_staff": 9, "years_since_founding": 1, "revenue": 2e7}, focus=["hnte"])
    assert q.key == "money" and q.text.startswith("去年的研发费用")


def test_a_bare_number_means_nothing_without_the_question():
    assert pc.facts_of("60，9", today=TODAY) == {}


def test_facts_become_the_api_input():
    facts = pc.merge(
        {}, extract("员工60人，其中研发9个，营收1500万，研发200万，2019年成立，有5个发明专利").figures, today=TODAY
    )
    data = pc.profile_input(facts, TODAY)
    assert data == {
        "employees": 60,
        "tech_staff": 9,
        "registered_on": "2019-01-01",
        "revenue": [1.5e7],
        "rd_expense": [2e6],
        "ip": {"invention_patents": 5, "utility_models": 0, "software_copyrights": 0},
    }


def test_contradicting_figures_are_left_out_and_named():
    profile, dropped = pc.profile_of({"employees": 5, "tech_staff": 9}, TODAY)
    assert dropped and profile.tech_staff is None or profile.employees is None
    report, dropped = pc.evaluate(RULES, {"employees": 5, "tech_staff": 9}, TODAY)
    assert "前后矛盾" in pc.result_text(report, RULES, dropped=dropped)


def test_later_answers_add_years():
    facts = pc.merge({}, {"revenue": 1.5e7, "rd_expense": 2e6}, today=TODAY)
    facts = pc.merge(
        facts,
        pc.facts_of("前年营收1200万研发90万，大前年营收800万研发60万", expecting="history", today=TODAY),
        expecting="history",
        today=TODAY,
    )
    data = pc.profile_input(facts, TODAY)
    assert data["revenue"] == [8e6, 1.2e7, 1.5e7] and data["rd_expense"] == [6e5, 9e5, 2e6]


# ---- what to ask next ---------------------------------------------------------------------------------


def ask(facts, focus=(), asked=(), skipped=()):
    report, _ = pc.evaluate(RULES, facts, TODAY)
    return pc.next_question(report, facts, focus=list(focus), asked=list(asked), skipped=list(skipped), today=TODAY)


def test_nothing_known_asks_the_figure_most_policies_need_first():
    assert ask({}).key == "staff"


def test_figures_given_are_not_asked_again():
    q = ask({"employees": 60, "tech_staff": 9}, focus=["hnte"])
    assert q.key == "founded"


def test_a_company_of_three_years_is_asked_three_years_of_money():
    q = ask({"employees": 60, "tech_staff": 9, "years_since_founding": 3}, focus=["hnte"])
    assert q.key == "money" and "2023年、2024年、2025年" in q.text


def test_a_failed_policy_asks_nothing_more():
    # 600 employees: 科小 (≤ 500) and 小微 (≤ 300) fail whatever else; only what hnte/加计扣除 need is asked.
    report, _ = pc.evaluate(RULES, {"employees": 600}, TODAY)
    assert report.result("tsme").verdict == "not_eligible"
    q = ask({"employees": 600}, focus=["tsme"])
    assert q is None


def test_skipped_and_asked_questions_are_not_repeated_and_there_is_a_limit():
    assert ask({}, skipped=["staff"]).key != "staff"
    assert ask({}, asked=["staff", "founded", "money", "ip", "shares"]) is None


def test_everything_decided_asks_nothing():
    facts = {
        "employees": 60,
        "tech_staff": 9,
        "years_since_founding": 3,
        "invention_patents": 5,
        "revenue_years": {"2023": 8e6, "2024": 1.2e7, "2025": 1.5e7},
        "rd_expense_years": {"2023": 6e5, "2024": 9e5, "2025": 2e6},
        "rd_domestic_share": 1.0,
        "hightech_revenue_share": 0.8,
    }
    assert ask(facts, focus=["hnte"]) is None


def test_focus_and_check_request():
    assert pc.focus_of("我们这种情况能评高企吗") == ["hnte"]
    assert pc.focus_of("能评科小吗") == ["tsme"]
    assert pc.focus_of("政策体检") == []
    assert pc.wants_check("帮我看看能享受哪些政策") and pc.wants_check("政策体检")
    assert not pc.wants_check("高企认定需要什么条件")
    assert pc.wants_check("我们能享受研发费用加计扣除吗") and pc.wants_check("我们算不算小型微利企业")
    assert pc.wants_check("给我们匹配一下政策") and pc.wants_check("我们够不够格评高企")
    # questions about a requirement itself are for the knowledge base, even with the company's figures
    assert not pc.wants_check("什么样的企业算小型微利企业")
    assert not pc.wants_check("我们成立五年，营收3000万，想问下我们这种情况申请高企，研发费用占比要达到多少？")
    assert not pc.wants_check("加计扣除和高企15%的税率能同时享受吗")
    # the enterprise wants one named policy: its own figures decide — unless it asks the window to act
    assert pc.wants_check("我们公司2025年12月10日注册的，想评高企")
    assert pc.wants_check("我司打算申报科技型中小企业")
    assert not pc.wants_check("我们想申请高企，需要什么条件")
    assert not pc.wants_check("我们想申请高企，帮我登记一下")
    assert not pc.wants_check("我们想申请人才公寓")


def test_skip_words():
    assert pc.is_skip("不清楚") and pc.is_skip("跳过") and not pc.is_skip("60人")


# ---- the reply ------------------------------------------------------------------------------------------


def test_result_shows_the_deciding_numbers_expert_items_and_a_short_citation():
    facts = {
        "employees": 60,
        "tech_staff": 9,
        "years_since_founding": 3,
        "invention_patents": 5,
        "revenue_years": {"2023": 8e6, "2024": 1.2e7, "2025": 1.5e7},
        "rd_expense_years": {"2023": 6e5, "2024": 9e5, "2025": 2e6},
        "rd_domestic_share": 1.0,
        "hightech_revenue_share": 0.8,
    }
    report, dropped = pc.evaluate(RULES, facts, TODAY)
    text = pc.result_text(report, RULES, focus=["hnte"], dropped=dropped)
    assert text.index("高新技术企业认定") < text.index("科技型中小企业")
    assert "✓ 高新技术企业认定" in text and "研发费用占比 10%（要求 ≥ 5%）✓" in text
    assert "创新能力评价：需专家评估" in text and "依据：国科发火〔2016〕32号" in text
    # asked about 高企, the policies still missing figures are one line, not a block each
    assert "需补充 小型微利企业所得税优惠" not in text and "小型微利企业" in text.split("\n\n")[-2]
    assert "说「政策体检」即可" in text
    assert "需补充 小型微利企业所得税优惠" in pc.result_text(report, RULES, dropped=dropped)  # a full check: all
    assert pc.fitting(report, ["hnte"]) == ["hnte"]
    seed = pc.seed_text(report, facts, ["hnte"], "我们能评高企吗")
    assert "高企认定" in seed and "职工60人" in seed and "我们能评高企吗" in seed


def test_a_failing_figure_shows_a_cross():
    facts = {"employees": 60, "tech_staff": 3, "years_since_founding": 5}
    report, _ = pc.evaluate(RULES, facts, TODAY)
    text = pc.result_text(report, RULES, focus=["hnte"])
    assert "✗ 高新技术企业认定" in text and "科技人员占比 5%（要求 ≥ 10%）✗" in text
    assert pc.fitting(report) == []


def test_registered_less_than_a_year_ago_says_from_when():
    """ "我们公司2025年12月10日注册的，想评高企": not yet, and the day it becomes possible (365 days, the rule's
    reading of 一年以上) — the other policies, still missing figures, in one line."""
    facts = pc.facts_of("我们公司2025年12月10日注册的，想评高企", today=TODAY)
    report, _ = pc.evaluate(RULES, facts, TODAY)
    text = pc.result_text(report, RULES, focus=["hnte"], facts=facts)
    assert "✗ 高新技术企业认定" in text and "注册成立时间 358天" in text
    assert "注册满一年之日：2026年12月10日" in text
    assert text.count("需补充") == 0 and "还需要更多数字才能判断" in text
    assert len(text) < 400


def test_categories_exist_in_the_taxonomy():
    from bot.taxonomy import is_need

    assert all(is_need(c) for c in pc.POLICY_CATEGORY.values())
    assert set(pc.POLICY_CATEGORY) >= set(RULES.ids)


# ---- the 1-year registration line of 高企 (issue 12: "the 1-year registration line") -------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("我们2025年3月15日注册的", {"registered_on": "2025-03-15", "founded_year": 2025}),
        ("成立日期是2025-03-15", {"registered_on": "2025-03-15", "founded_year": 2025}),
        ("2024.12.1成立", {"registered_on": "2024-12-01", "founded_year": 2024}),
        ("会议定在2025年3月15日", {}),  # a date without a founding word is not a registration
        ("2025年2月30日注册的", {}),  # no such day: nothing taken, the check asks
    ],
)
def test_a_registration_date_typed_naturally(text, expected):
    assert extract(text).figures == expected


def test_a_registration_last_year_asks_the_exact_day_and_the_answer_decides():
    facts = {
        "employees": 60,
        "tech_staff": 9,
        "founded_year": 2025,
        "invention_patents": 5,
        "revenue": 1.5e7,
        "rd_expense": 2e6,
    }
    report, _ = pc.evaluate(RULES, facts, TODAY)
    assert "registered_on" in report.result("hnte").missing  # 2025: either side of 2025-12-03
    q = ask(facts, focus=["hnte"], asked=["founded"])
    assert q.key == "founded_date" and "成立日期" in q.text
    # one day short of a year, then exactly a year (the rule's line: ≥ 365 days)
    for typed, verdict_known in (("12月4号", "2025-12-04"), ("2025年12月3日", "2025-12-03")):
        new = pc.facts_of(typed, expecting="founded_date", known=facts, today=TODAY)
        assert new["registered_on"] == verdict_known
    short = pc.merge(facts, {"registered_on": "2025-12-04"}, today=TODAY)
    full = pc.merge(facts, {"registered_on": "2025-12-03"}, today=TODAY)
    check = lambda f: pc.evaluate(RULES, f, TODAY)[0].result("hnte").check("registered_one_year")  # noqa: E731
    assert check(short).status == "fail" and check(full).status == "pass"
    assert "2025年12月3日成立" in pc.describe(full)


def test_a_rough_age_near_the_line_is_not_guessed_but_a_clear_one_is():
    assert "registered_on" not in pc.profile_input({"years_since_founding": 1}, TODAY)
    assert "registered_on" not in pc.profile_input({"years_since_founding": 1.5}, TODAY)
    assert "registered_on" not in pc.profile_input({"founded_year": 2025}, TODAY)
    assert pc.profile_input({"years_since_founding": 3}, TODAY)["registered_on"] < "2024-01-01"
    assert pc.profile_input({"founded_year": 2026}, TODAY)["registered_on"] == "2026-12-03"  # this year: < 1 year
    assert (
        ask({"employees": 60, "tech_staff": 9, "years_since_founding": 1.5}, focus=["hnte"], asked=["money"]).key
        == "founded_date"
    )
    assert ask({"employees": 60, "tech_staff": 9}, focus=["hnte"]).key == "founded"  # the year comes first


def test_a_future_or_impossible_day_is_not_taken():
    assert pc.facts_of("2027年1月1日", expecting="founded_date", today=TODAY) == {}
    assert pc.facts_of("2月30日", expecting="founded_date", known={"founded_year": 2025}, today=TODAY) == {}
