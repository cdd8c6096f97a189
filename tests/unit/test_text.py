import pytest

from bot.text import normalise, normalise_aligned


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("高新技術企業認定要準備什麼材料？", "高新技术企业认定要准备什么材料?"),
        ("ＩＰＯ辅导找谁", "ipo辅导找谁"),
        ("研发费用，加计扣除！", "研发费用,加计扣除!"),
        ("想申请 Loan", "想申请 loan"),
        ("頭髮乾燥", "头发干燥"),  # phrase-level conversion: 乾燥 → 干燥
        ("乾隆", "乾隆"),  # ...but a proper name keeps 乾
    ],
)
def test_normalise_maps_traditional_fullwidth_and_case(raw, expected):
    assert normalise(raw) == expected


def test_emoji_and_invisible_characters_become_spaces():
    assert normalise("你好😀👍🏻\u200b在吗") == "你好 在吗"
    assert normalise("\u3000\t 专利 \n申请 ") == "专利 申请"


@pytest.mark.parametrize(
    "raw",
    [
        "高新技術企業？😀",
        "ＡＢＣ　专利👨‍👩‍👧",
        "",
        "   ",
        "a\u200db",
        "🇨🇳中国",
        "x" * 5000,
    ],
)
def test_aligned_normalisation_keeps_length(raw):
    assert len(normalise_aligned(raw)) == len(raw)


def test_empty_and_none_like_input():
    assert normalise("") == ""
    assert normalise("😀😀") == ""
