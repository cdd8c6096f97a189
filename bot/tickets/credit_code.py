"""统一社会信用代码 (Unified Social Credit Identifier, GB 32100-2015) validation.

Structure of the 18 characters:

  pos 1      registration authority code (登记管理部门代码), e.g. 9 = market regulation (工商)
  pos 2      organisation type code (机构类别代码), allowed values depend on pos 1
  pos 3-8    administrative division of the registration authority (GB/T 2260, 6 digits)
  pos 9-17   organisation code (组织机构代码, GB 11714): 8 characters + its own check digit
  pos 18     check digit over positions 1-17 (mod 31)

The character set is 0-9 and A-Z without I, O, S, V, Z. Enterprises type codes
with full-width characters, lower case and spaces; `validate` normalises those
before checking and returns the canonical form, or raises InvalidCreditCode
whose message (Chinese, shown to the user) says what is wrong.
"""

from __future__ import annotations

import random
import unicodedata
from typing import Optional

__all__ = [
    "CHARSET",
    "InvalidCreditCode",
    "normalise",
    "validate",
    "is_valid",
    "check_digit",
    "org_check_digit",
    "describe",
    "generate",
    "AUTHORITIES",
]

LENGTH = 18

# The 31 characters of GB 32100-2015, in value order (0..30).
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(CHARSET)}

# Weights of positions 1-17 are 3^i mod 31.
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# GB 11714 organisation code: weights of its 8 body characters, mod 11.
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# Registration authorities and the organisation types each may assign
# (the code table published with GB 32100-2015 and its later assignments).
AUTHORITIES: dict[str, tuple[str, dict[str, str]]] = {
    "1": ("机构编制", {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"}),
    "2": ("外交", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": (
        "司法行政",
        {
            "1": "律师执业机构",
            "2": "公证处",
            "3": "基层法律服务所",
            "4": "司法鉴定机构",
            "5": "仲裁委员会",
            "9": "其他",
        },
    ),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": ("旅游", {"1": "外国旅游部门常驻代表机构", "2": "港澳台地区旅游部门常驻内地（大陆）代表机构", "9": "其他"}),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    "9": ("工商（市场监管）", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室", {"1": "军队事业单位", "9": "其他"}),
    "N": ("农业", {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"}),
    "Y": ("其他", {"1": "其他"}),
}

# First two digits of a GB/T 2260 division code: provinces, plus 10 for
# authorities at national level (e.g. 100000).
_PROVINCES = frozenset(
    {
        "10",
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    }
)

# Characters people type by mistake for a valid one (the standard leaves them out for that reason).
_LOOKALIKE = {"I": "1", "O": "0", "Z": "2", "S": "5", "V": "U"}

# Zero-width and other invisible characters pasted along with the code.
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"}


class InvalidCreditCode(ValueError):
    """The code is not a valid 统一社会信用代码; str(exc) is a message for the user.

    `reason` is a stable machine-readable tag: empty / length / charset / authority /
    org_type / division / org_check / check; `position` is 1-based where it applies.
    """

    def __init__(self, message: str, reason: str, position: Optional[int] = None, code: str = ""):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.position = position
        self.code = code


def normalise(code: str) -> str:
    """Full-width → half-width, drop whitespace and invisible characters, upper-case."""
    text = unicodedata.normalize("NFKC", code or "")
    return "".join(ch for ch in text if not ch.isspace() and ch not in _INVISIBLE).upper()


def _weighted(chars: str, weights: tuple[int, ...], values) -> int:
    return sum(values(ch) * w for ch, w in zip(chars, weights))


def check_digit(first17: str) -> str:
    """The 18th character for the first 17 (which must be in CHARSET)."""
    total = _weighted(first17, WEIGHTS, _VALUE.__getitem__)
    return CHARSET[(31 - total % 31) % 31]


def _org_value(ch: str) -> int:
    # GB 11714: digits are their value, letters A..Z are 10..35.
    return int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10


def org_check_digit(body8: str) -> str:
    """GB 11714 check character of an 8-character organisation code body (0-9 or X)."""
    total = _weighted(body8, ORG_WEIGHTS, _org_value)
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def validate(code: str, *, check_structure: bool = True) -> str:
    """Return the normalised code, or raise InvalidCreditCode saying what is wrong.

    `check_structure=False` checks only length, characters and both check
    digits, for codes issued under authority or type codes assigned after
    this table was written.
    """
    norm = normalise(code)
    if not norm:
        raise InvalidCreditCode("请填写统一社会信用代码（18位，见营业执照左上方）。", "empty", code=norm)

    for i, ch in enumerate(norm, start=1):
        if ch not in _VALUE:
            if ch in _LOOKALIKE:
                hint = f"统一社会信用代码不使用字母 I、O、Z、S、V，这里可能是“{_LOOKALIKE[ch]}”"
            elif ch.isascii() and ch.isalnum():
                hint = "统一社会信用代码不使用字母 I、O、Z、S、V"
            else:
                hint = "统一社会信用代码只由数字和大写字母组成"
            raise InvalidCreditCode(f"第{i}位的“{ch}”不是有效字符：{hint}，请核对。", "charset", position=i, code=norm)

    if len(norm) != LENGTH:
        raise InvalidCreditCode(
            f"统一社会信用代码应为18位，您输入的是{len(norm)}位，请核对是否有漏填或多填。", "length", code=norm
        )

    if check_structure:
        authority = AUTHORITIES.get(norm[0])
        if authority is None:
            raise InvalidCreditCode(
                f"第1位（登记管理部门代码）“{norm[0]}”无效，常见的是 9（企业、个体工商户）、1（机关事业单位）、5（社会组织）。",
                "authority",
                position=1,
                code=norm,
            )
        name, types = authority
        if norm[1] not in types:
            allowed = "、".join(types)
            raise InvalidCreditCode(
                f"第2位（机构类别代码）“{norm[1]}”与登记管理部门“{name}”不匹配，应为 {allowed} 之一。",
                "org_type",
                position=2,
                code=norm,
            )

    division = norm[2:8]
    if not division.isdigit() or (check_structure and division[:2] not in _PROVINCES):
        raise InvalidCreditCode(
            f"第3-8位（登记机关行政区划码）“{division}”无效，应为6位行政区划数字。", "division", position=3, code=norm
        )

    org = norm[8:17]
    if org_check_digit(org[:8]) != org[8]:
        raise InvalidCreditCode(
            "第17位（组织机构代码的校验位）不正确，请核对第9-17位是否有输错或前后颠倒的字符。",
            "org_check",
            position=17,
            code=norm,
        )

    if check_digit(norm[:17]) != norm[17]:
        raise InvalidCreditCode(
            "第18位校验码不正确，代码中可能有输错或前后颠倒的字符，请对照营业执照核对。",
            "check",
            position=18,
            code=norm,
        )
    return norm


def is_valid(code: str, *, check_structure: bool = True) -> bool:
    try:
        validate(code, check_structure=check_structure)
    except InvalidCreditCode:
        return False
    return True


def describe(code: str) -> dict[str, str]:
    """The parts of a valid code, for display (raises InvalidCreditCode)."""
    norm = validate(code)
    name, types = AUTHORITIES[norm[0]]
    return {
        "code": norm,
        "authority": name,
        "org_type": types[norm[1]],
        "division": norm[2:8],
        "org_code": f"{norm[8:16]}-{norm[16]}",
    }


# Divisions for demo data: 陕西省, 西安市 and 咸阳市 and districts around Xixian New Area.
DEMO_DIVISIONS = ("610000", "610100", "610112", "610116", "610118", "610400", "610402", "610404")

# Characters of a newly assigned organisation code body (GB 32100 codes avoid I O S V Z).
_BODY_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def generate(
    rng: Optional[random.Random] = None, *, authority: str = "9", org_type: str = "1", division: Optional[str] = None
) -> str:
    """A random valid code for demo and test data (default: an enterprise in Shaanxi).

    Bodies look like those issued since 2015 ("MA" + 6 characters) or older
    all-digit organisation codes. Deterministic for a seeded `rng`.
    """
    rng = rng or random.Random()
    if authority not in AUTHORITIES or org_type not in AUTHORITIES[authority][1]:
        raise ValueError(f"unknown authority/type {authority}{org_type}")
    division = division or rng.choice(DEMO_DIVISIONS)
    if len(division) != 6 or not division.isdigit():
        raise ValueError(f"division must be 6 digits: {division!r}")
    if rng.random() < 0.7:
        body = "MA" + "".join(rng.choice(_BODY_CHARS) for _ in range(6))
    else:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    first17 = authority + org_type + division + body + org_check_digit(body)
    return first17 + check_digit(first17)
