"""统一社会信用代码 (GB 32100-2015) validation, checked against an independent computation."""

from __future__ import annotations

import random

import pytest

from bot.tickets.credit_code import (
    CHARSET,
    InvalidCreditCode,
    check_digit,
    describe,
    generate,
    is_valid,
    normalise,
    org_check_digit,
    validate,
)

# Published codes of well-known enterprises (business-licence data): both check
# digits are verified below by the module AND by an independent computation.
REAL_CODES = {
    "914403001922038216": "华为技术有限公司",
    "91440300708461136T": "深圳市腾讯计算机系统有限公司",
    "91330100799655058B": "阿里巴巴（中国）有限公司",
    "91110108551385082Q": "小米科技有限责任公司",
    "91110000710925462X": "中国石油天然气股份有限公司",
}


def independent_check(code: str) -> bool:
    """Written separately from bot.tickets.credit_code: weights as powers of 3 mod 31, org code per GB 11714."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    if len(code) != 18 or any(c not in alphabet for c in code):
        return False
    total = sum(alphabet.index(c) * pow(3, i, 31) for i, c in enumerate(code[:17]))
    if alphabet[-total % 31] != code[17]:
        return False
    org_total = sum(int(c, 36) * w for c, w in zip(code[8:16], (3, 7, 9, 10, 5, 8, 4, 2)))
    expected = (11 - org_total % 11) % 11
    return code[16] == ("X" if expected == 10 else str(expected))


def test_weights_are_powers_of_three():
    from bot.tickets.credit_code import WEIGHTS

    assert WEIGHTS == tuple(pow(3, i, 31) for i in range(17))
    assert CHARSET == "0123456789ABCDEFGHJKLMNPQRTUWXY" and len(CHARSET) == 31


def test_worked_example_by_hand():
    # 914403001922038216 (华为技术有限公司), check digit by hand:
    #   chars   9  1  4  4  0  3  0  0  1  9  2  2  0  3  8  2  1
    #   weight  1  3  9 27 19 26 16 17 20 29 25 13  8 24 10 30 28
    #   product 9  3 36 108 0 78  0  0 20 261 50 26 0 72 80 60 28  → sum 831
    #   831 mod 31 = 25; 31 - 25 = 6  → check digit "6"
    products = [9, 3, 36, 108, 0, 78, 0, 0, 20, 261, 50, 26, 0, 72, 80, 60, 28]
    assert sum(products) == 831 and 831 % 31 == 25 and 31 - 25 == 6
    assert check_digit("91440300192203821") == "6"
    # Organisation code 19220382-1: weights 3 7 9 10 5 8 4 2
    #   1*3 + 9*7 + 2*9 + 2*10 + 0*5 + 3*8 + 8*4 + 2*2 = 3+63+18+20+0+24+32+4 = 164
    #   164 mod 11 = 10; 11 - 10 = 1  → "1"
    assert 3 + 63 + 18 + 20 + 0 + 24 + 32 + 4 == 164 and 164 % 11 == 10
    assert org_check_digit("19220382") == "1"
    assert validate("914403001922038216") == "914403001922038216"


@pytest.mark.parametrize("code", sorted(REAL_CODES))
def test_real_codes_are_valid(code):
    assert independent_check(code)
    assert validate(code) == code and is_valid(code)


def test_org_code_check_digit_x_and_letters():
    # X as organisation check digit (10) and letters in the body (MA… codes).
    assert org_check_digit("71092546") == "2"
    body = next(b for b in (f"MA{n:06d}" for n in range(1000)) if org_check_digit(b) == "X")
    code17 = "91610000" + body + "X"
    code = code17 + check_digit(code17)
    assert independent_check(code) and is_valid(code)


def test_every_single_character_error_is_rejected():
    code = "91440300708461136T"
    for i in range(18):
        for ch in CHARSET:
            if ch == code[i]:
                continue
            corrupted = code[:i] + ch + code[i + 1 :]
            assert not is_valid(corrupted), corrupted
            assert not independent_check(corrupted) or not is_valid(corrupted)


def test_adjacent_transpositions_are_rejected():
    for code in REAL_CODES:
        for i in range(17):
            if code[i] != code[i + 1]:
                swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
                assert not is_valid(swapped), swapped


@pytest.mark.parametrize(
    "raw",
    [
        "９１４４０３００１９２２０３８２１６",  # full-width digits
        "９１４４０３００７０８４６１１３６Ｔ",  # full-width letter
        "91440300708461136t",  # lower case
        " 9144 0300 7084 6113 6T ",  # spaces
        "914403007084\u300061136T",  # ideographic space
        "91440300708461136T\u200b",  # zero-width space pasted along
    ],
)
def test_normalised_input_accepted(raw):
    assert validate(raw) in REAL_CODES


def test_normalise():
    assert normalise("９１ａｂ c") == "91ABC"
    assert normalise("") == ""


@pytest.mark.parametrize(
    "raw, reason, fragment",
    [
        ("", "empty", "请填写"),
        ("   ", "empty", "请填写"),
        ("91440300708461136", "length", "应为18位，您输入的是17位"),
        ("91440300708461136TT", "length", "19位"),
        ("91440300708461136O", "charset", "第18位的“O”"),
        ("9144030070846I136T", "charset", "可能是“1”"),
        ("91440300-08461136T", "charset", "第9位"),
        ("914403007084611３6甲", "charset", "只由数字和大写字母组成"),
        ("X1440300708461136T", "authority", "第1位"),
        ("94440300708461136T", "org_type", "第2位"),
        ("914A0300708461136T", "division", "第3-8位"),
        ("91990300708461136T", "division", "行政区划"),
        ("91440300708461137T", "org_check", "第17位"),
        ("91440300708461136U", "check", "第18位校验码不正确"),
    ],
)
def test_errors_say_what_is_wrong(raw, reason, fragment):
    with pytest.raises(InvalidCreditCode) as info:
        validate(raw)
    assert info.value.reason == reason
    assert fragment in str(info.value)
    assert not is_valid(raw)


def test_error_is_a_value_error_with_position():
    with pytest.raises(ValueError):
        validate("91440300708461136U")
    try:
        validate("91440300708461136U")
    except InvalidCreditCode as exc:
        assert exc.position == 18 and exc.code == "91440300708461136U"


def test_structure_can_be_relaxed():
    # A code under an authority code this table does not know: check digits only.
    body = "MA6T0000"
    code17 = "G1610000" + body + org_check_digit(body)
    code = code17 + check_digit(code17)
    assert not is_valid(code)
    assert is_valid(code, check_structure=False)


def test_describe():
    parts = describe("９１４４０３００１９２２０３８２１６")
    assert parts == {
        "code": "914403001922038216",
        "authority": "工商（市场监管）",
        "org_type": "企业",
        "division": "440300",
        "org_code": "19220382-1",
    }


def test_generate_produces_valid_distinct_deterministic_codes():
    rng = random.Random(20261125)
    codes = [generate(rng) for _ in range(500)]
    assert all(is_valid(c) and independent_check(c) for c in codes)
    assert len(set(codes)) == 500
    assert all(c.startswith("91") and c[2:4] == "61" for c in codes)  # enterprises in Shaanxi
    assert any(c[8:10] == "MA" for c in codes) and any(c[8:16].isdigit() for c in codes)
    assert [generate(random.Random(7)) for _ in range(3)] == [generate(random.Random(7)) for _ in range(3)]
    assert is_valid(generate())


def test_generate_options():
    rng = random.Random(1)
    assert generate(rng, authority="5", org_type="2").startswith("52")
    assert generate(rng, org_type="2").startswith("92")
    assert generate(rng, division="611100")[2:8] == "611100"
    with pytest.raises(ValueError):
        generate(rng, authority="9", org_type="9")
    with pytest.raises(ValueError):
        generate(rng, division="61")
