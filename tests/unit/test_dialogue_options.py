"""Typed = clicked: bot.dialogue.options.match_option picks the button a typed message means."""

import pytest

from bot.dialogue.options import choosable, match_option, option_number

CONFIRM = [
    {"title": "确认提交", "payload": "确认提交"},
    {"title": "修改企业名称", "payload": "修改企业名称"},
    {"title": "修改手机号", "payload": "修改手机号"},
    {"title": "取消", "payload": "取消"},
]
RATING = [
    {"title": t, "payload": f"{t} QCY-20261202-0007"} for t in ("非常满意", "满意", "一般", "不满意", "非常不满意")
]
GREET = [
    {"title": "我能办哪些事", "payload": "/ask_capabilities"},
    {"title": "查询我的工单", "payload": "/ask_ticket_status"},
    {"title": "转人工服务", "payload": "/request_human"},
]
WITH_LINK = [
    {"title": "政策原文", "url": "https://example.gov.cn/p"},
    {"title": "登记需求，专员跟进", "payload": "/open_ticket"},
    {"title": "转人工服务", "payload": "/request_human"},
]


def title(text, buttons):
    b = match_option(text, buttons)
    return b["title"] if b else None


@pytest.mark.parametrize(
    "text",
    ["2", "2.", "2、", "２", "二", "第2个", "第二个", "选2", "选择2", " 2 ", "2）", "No.2", "#2", "第2项", "选第二个"],
)
def test_a_number_picks_the_option(text):
    assert title(text, GREET) == "查询我的工单"


@pytest.mark.parametrize("text", ["0", "4", "12", "2026", "13912345678", "一个", "两个", "2个人", "第5个"])
def test_numbers_out_of_range_or_quantities_pick_nothing(text):
    assert match_option(text, GREET) is None


def test_numbers_count_only_buttons_that_can_be_chosen():
    """A link-only button is not numbered (WeChat shows it as a link line), so "1" is the first choice."""
    assert [b["title"] for b in choosable(WITH_LINK)] == ["登记需求，专员跟进", "转人工服务"]
    assert title("1", WITH_LINK) == "登记需求，专员跟进"
    assert match_option("3", WITH_LINK) is None


@pytest.mark.parametrize(
    "text,expected",
    [
        ("确认提交", "确认提交"),
        ("確認提交", "确认提交"),
        ("确认提交！", "确认提交"),
        ("确认 提交", "确认提交"),
        ("ＯＫ确认提交", "确认提交"),
        ("好的，确认提交", "确认提交"),
        ("确认提交吧", "确认提交"),
        ("修改手机号", "修改手机号"),
        ("取消", "取消"),
        ("非常满意", "非常满意"),
        ("非常满意！", "非常满意"),
        ("满意", "满意"),
        ("不满意", "不满意"),
        ("非常不满意", "非常不满意"),
        ("非常不满意啊", "非常不满意"),
        ("我不满意", "不满意"),
        ("一般", "一般"),
        ("转人工服务", "转人工服务"),
        ("轉人工服務", "转人工服务"),
        ("查询我的工单", "查询我的工单"),
    ],
)
def test_the_words_of_an_option_pick_it(text, expected):
    buttons = CONFIRM + RATING + GREET
    assert title(text, buttons) == expected


def test_the_chosen_button_carries_its_payload():
    assert match_option("非常满意", RATING)["payload"] == "非常满意 QCY-20261202-0007"
    assert match_option("3", RATING)["payload"] == "一般 QCY-20261202-0007"
    assert match_option("查询我的工单", GREET)["payload"] == "/ask_ticket_status"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("确认提叫", "确认提交"),
        ("查询我得工单", "查询我的工单"),
        ("转人工服物", "转人工服务"),
        ("我能办那些事", "我能办哪些事"),
    ],
)
def test_a_small_typo_in_a_short_text_still_picks_it(text, expected):
    assert title(text, CONFIRM + GREET) == expected


@pytest.mark.parametrize(
    "text",
    [
        "不要确认提交",
        "先别确认提交",
        "不是非常满意",  # negated
        "很满意",  # near "满意" but a different word: the NLU decides
        "确认",
        "提交",  # part of a title: the NLU decides (it knows yes/no)
        "我想先问一下高企认定需要什么条件，然后再确认提交",  # long free text
        "高企认定需要什么条件",
        "你好",
        "",
    ],
)
def test_other_texts_pick_nothing(text):
    assert match_option(text, CONFIRM + RATING + GREET) is None


def test_ambiguous_fuzzy_matches_pick_nothing():
    two = [{"title": "修改企业名称", "payload": "a"}, {"title": "修改企业地址", "payload": "b"}]
    assert match_option("修改企业名", two) is None or match_option("修改企业名", two)["payload"] == "a"
    assert match_option("修改企业", two) is None  # equally close to both


def test_no_buttons_or_broken_buttons():
    assert match_option("1", []) is None
    assert match_option("1", None) is None
    assert match_option("确认提交", [{"title": "确认提交"}, {"payload": "x"}, "junk"]) is None


@pytest.mark.parametrize("text,n", [("3", 3), ("第三个", 3), ("选十", 10), ("十", 10), ("abc", None), ("一般", None)])
def test_option_number(text, n):
    assert option_number(text) == n
