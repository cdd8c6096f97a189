"""An enterprise's figures for a policy check, parsed and validated from plain data (JSON).

Every field is optional: a missing figure makes the checks that need it answer
"need_more_info" rather than guess. Bad input is refused with a Chinese message that
names the field (both its API name and its Chinese label), so the HTTP API can answer
400 and the chat can ask again:

- amounts are yuan, counts are whole numbers, shares are fractions 0–1;
- a bool is not a number (JSON ``true`` would otherwise pass as 1);
- no negative numbers, no NaN/Infinity, no absurd sizes (an amount over 10万亿元, more
  than 1000万 employees), no registration date in the future or before 1900;
- ``revenue`` and ``rd_expense`` are lists of one to three yearly amounts, oldest
  first; when both are given they cover the same years, so they have the same length;
- ``tech_staff`` cannot exceed ``employees``;
- unknown fields are refused, not dropped (a typo such as ``employee`` must not
  silently become "missing").

Numbers are kept as exact fractions (a float such as 0.05 is read as the decimal it
was written as), so "R&D exactly 5 %" compares equal to 5 % and not to 4.9999…%.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any, Mapping, Optional

from bot import clock

MAX_AMOUNT = 10**13  # yuan: 10万亿元, far above any single enterprise's figures
MAX_PEOPLE = 10**7  # employees / tech staff
MAX_IP_COUNT = 10**6  # patents, copyrights… of one kind
MAX_YEARS = 3  # revenue / rd_expense: the last three accounting years at most
MAX_INDUSTRY_CHARS = 100
EARLIEST_REGISTRATION = date(1900, 1, 1)

IP_KINDS = ("invention_patents", "utility_models", "software_copyrights", "other")

# Chinese labels, used in every message and in "please provide …" lists.
LABELS = {
    "registered_on": "注册成立日期",
    "employees": "职工总数",
    "tech_staff": "科技人员数",
    "revenue": "销售收入",
    "rd_expense": "研发费用",
    "rd_domestic_share": "境内研发费用占比",
    "hightech_revenue_share": "高新技术产品（服务）收入占比",
    "total_assets": "资产总额",
    "taxable_income": "应纳税所得额",
    "ip": "知识产权数量",
    "industry": "所属行业",
    "ip.invention_patents": "发明专利数",
    "ip.utility_models": "实用新型专利数",
    "ip.software_copyrights": "软件著作权数",
    "ip.other": "其他知识产权数",
}

FIELDS = (
    "registered_on",
    "employees",
    "tech_staff",
    "revenue",
    "rd_expense",
    "rd_domestic_share",
    "hightech_revenue_share",
    "total_assets",
    "taxable_income",
    "ip",
    "industry",
)

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def label(name: str) -> str:
    """'revenue' → 'revenue（销售收入）': the API name for developers, the Chinese for people."""
    base = name.split("[")[0]
    return f"{name}（{LABELS.get(base, base)}）"


class ProfileError(ValueError):
    """Bad input; `problems` lists (field, Chinese message) pairs, `message` joins them."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__(self.message)

    @property
    def fields(self) -> list[str]:
        return [f for f, _ in self.problems]

    @property
    def message(self) -> str:
        return "；".join(m for _, m in self.problems)


@dataclass(frozen=True)
class IpCounts:
    """Counts of intellectual property by kind (a kind not given counts 0)."""

    invention_patents: int = 0
    utility_models: int = 0
    software_copyrights: int = 0
    other: int = 0

    @property
    def total(self) -> int:
        return self.invention_patents + self.utility_models + self.software_copyrights + self.other

    def describe(self) -> str:
        parts = [
            (self.invention_patents, "发明专利"),
            (self.utility_models, "实用新型专利"),
            (self.software_copyrights, "软件著作权"),
            (self.other, "其他知识产权"),
        ]
        shown = [f"{name}{n}件" for n, name in parts if n]
        return "、".join(shown) if shown else "无知识产权"


@dataclass(frozen=True)
class Profile:
    """The figures of one enterprise; None = not given."""

    registered_on: Optional[date] = None
    employees: Optional[int] = None
    tech_staff: Optional[int] = None
    revenue: Optional[tuple[Fraction, ...]] = None  # yuan per accounting year, oldest first
    rd_expense: Optional[tuple[Fraction, ...]] = None  # same years as revenue
    rd_domestic_share: Optional[Fraction] = None  # 0–1
    hightech_revenue_share: Optional[Fraction] = None  # 0–1
    total_assets: Optional[Fraction] = None  # yuan
    taxable_income: Optional[Fraction] = None  # yuan
    ip: Optional[IpCounts] = None
    industry: Optional[str] = None

    def given(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a JSON "\\ud800" escape
        return False
    return True


# ---- parsing ---------------------------------------------------------------------------------------


def _number(value: Any) -> Optional[Fraction]:
    """A JSON number as an exact fraction; None when it is not a finite number (bools are not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return Fraction(Decimal(repr(value)))
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return Fraction(value)
    return None


class _Parser:
    def __init__(self, today: date) -> None:
        self.today = today
        self.problems: list[tuple[str, str]] = []

    def bad(self, name: str, message: str) -> None:
        self.problems.append((name, f"{label(name)}{message}"))

    def amount(self, name: str, value: Any, *, minimum: Fraction = Fraction(0)) -> Optional[Fraction]:
        n = _number(value)
        if n is None:
            self.bad(name, "应为数字（单位：元）")
        elif n < minimum:
            self.bad(name, "不能为负数")
        elif n > MAX_AMOUNT:
            self.bad(name, "数值过大（超过10万亿元），请检查单位是否为元")
        else:
            return n
        return None

    def count(self, name: str, value: Any, *, maximum: int, minimum: int = 0) -> Optional[int]:
        n = _number(value)
        if n is None:
            self.bad(name, "应为整数")
        elif n.denominator != 1:
            self.bad(name, "应为整数")
        elif n < minimum:
            self.bad(name, "不能为负数" if minimum == 0 else f"应不少于{minimum}")
        elif n > maximum:
            self.bad(name, "数值过大，请检查")
        else:
            return int(n)
        return None

    def share(self, name: str, value: Any) -> Optional[Fraction]:
        n = _number(value)
        if n is None:
            self.bad(name, "应为 0 到 1 之间的小数（例如 60% 填 0.6）")
        elif n < 0:
            self.bad(name, "不能为负数")
        elif n > 1:
            self.bad(name, "应为 0 到 1 之间的小数（例如 60% 填 0.6），不能大于 1")
        else:
            return n
        return None

    def day(self, name: str, value: Any) -> Optional[date]:
        m = _DATE.match(value.strip()) if isinstance(value, str) else None
        if m is None:
            self.bad(name, "应为 YYYY-MM-DD 格式的日期，例如 2020-05-18")
            return None
        try:
            d = date(*(int(g) for g in m.groups()))
        except ValueError:
            self.bad(name, f"“{value.strip()}”不是有效日期")
            return None
        if d > self.today:
            self.bad(name, "不能晚于今天")
        elif d < EARLIEST_REGISTRATION:
            self.bad(name, "早于1900年，请检查")
        else:
            return d
        return None

    def years(self, name: str, value: Any) -> Optional[tuple[Fraction, ...]]:
        if not isinstance(value, list):
            self.bad(name, f"应为按年份从早到晚排列的数组（最多{MAX_YEARS}年，单位：元），例如 [12000000, 15000000]")
            return None
        if not value:
            self.bad(name, "不能为空数组；没有这项数据时请不填")
            return None
        if len(value) > MAX_YEARS:
            self.bad(name, f"最多填最近{MAX_YEARS}个会计年度，实际有{len(value)}个")
            return None
        before = len(self.problems)
        out = []
        for i, item in enumerate(value):
            n = self.amount(f"{name}[{i}]", item)
            out.append(n)
        if len(self.problems) != before:
            return None
        return tuple(out)  # type: ignore[arg-type]

    def ip(self, value: Any) -> Optional[IpCounts]:
        if not isinstance(value, dict):
            self.bad("ip", '应为对象，例如 {"invention_patents": 1, "software_copyrights": 5}')
            return None
        before = len(self.problems)
        counts = {}
        for key, item in value.items():
            if key not in IP_KINDS:
                key = str(key)[:40].encode("utf-8", "replace").decode("utf-8")
                self.problems.append(
                    (
                        f"ip.{key}",
                        f"ip.{key}：未知的知识产权类别，可用的有 "
                        + "、".join(f"{k}（{LABELS['ip.' + k]}）" for k in IP_KINDS),
                    )
                )
                continue
            name = f"ip.{key}"
            n = _number(item)
            if n is None or n.denominator != 1:
                self.problems.append((name, f"{name}（{LABELS[name]}）应为整数"))
            elif n < 0:
                self.problems.append((name, f"{name}（{LABELS[name]}）不能为负数"))
            elif n > MAX_IP_COUNT:
                self.problems.append((name, f"{name}（{LABELS[name]}）数值过大，请检查"))
            else:
                counts[key] = int(n)
        if len(self.problems) != before:
            return None
        return IpCounts(**counts)

    def industry(self, value: Any) -> Optional[str]:
        if not isinstance(value, str):
            self.bad("industry", "应为文字，例如“软件和信息技术服务业”")
            return None
        text = value.strip()
        if not _encodable(text):
            self.bad("industry", "含有无效字符")
            return None
        if _CONTROL.search(text):
            self.bad("industry", "含有不可见的控制字符")
            return None
        if len(text) > MAX_INDUSTRY_CHARS:
            self.bad("industry", f"过长（最多{MAX_INDUSTRY_CHARS}个字）")
            return None
        return text or None


def parse_profile(data: Any, today: Optional[date] = None) -> Profile:
    """Validate plain data (a JSON object) into a Profile; raises ProfileError naming each bad field."""
    today = today or clock.today()
    if not isinstance(data, Mapping):
        raise ProfileError([("(body)", '请求内容应为 JSON 对象，例如 {"employees": 60}')])
    p = _Parser(today)
    unknown = [k for k in data if k not in FIELDS]
    for key in unknown:
        shown = str(key)[:40].encode("utf-8", "replace").decode("utf-8")
        p.problems.append((shown, f"未知字段“{shown}”；可用字段：{'、'.join(FIELDS)}"))
    values: dict[str, Any] = {}
    for name in FIELDS:
        raw = data.get(name)
        if raw is None:
            continue
        if name == "registered_on":
            values[name] = p.day(name, raw)
        elif name == "employees":
            values[name] = p.count(name, raw, maximum=MAX_PEOPLE, minimum=1)
        elif name == "tech_staff":
            values[name] = p.count(name, raw, maximum=MAX_PEOPLE)
        elif name in ("revenue", "rd_expense"):
            values[name] = p.years(name, raw)
        elif name in ("rd_domestic_share", "hightech_revenue_share"):
            values[name] = p.share(name, raw)
        elif name in ("total_assets", "taxable_income"):
            values[name] = p.amount(name, raw)
        elif name == "ip":
            values[name] = p.ip(raw)
        elif name == "industry":
            values[name] = p.industry(raw)
    rev, rd = values.get("revenue"), values.get("rd_expense")
    if rev is not None and rd is not None and len(rev) != len(rd):
        p.problems.append(
            (
                "rd_expense",
                f"{label('rd_expense')}与{label('revenue')}的年数应相同"
                f"（同样按年份从早到晚），现在分别是{len(rd)}年和{len(rev)}年",
            )
        )
    emp, tech = values.get("employees"), values.get("tech_staff")
    if emp is not None and tech is not None and tech > emp:
        p.problems.append(("tech_staff", f"{label('tech_staff')}（{tech}人）不能超过{label('employees')}（{emp}人）"))
    if p.problems:
        raise ProfileError(p.problems)
    return Profile(**{k: v for k, v in values.items() if v is not None})
