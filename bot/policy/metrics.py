"""Named figures a criterion can test: the input fields themselves, and a few derived ones
(a share, a ratio over the right years, a score). A rule file names them; nothing in a rule
file is ever executed.

A metric either gives a Value (the number and how to show it), or raises
- Missing: a figure it needs was not given (→ the policy's verdict is need_more_info and the
  chat asks for exactly these fields), or
- Undecidable: the figures are there but cannot decide it (a ratio over zero revenue): the
  criterion is then left to staff like an expert criterion, never guessed.

A score that depends on figures the API does not carry (the 科技型中小企业 R&D indicator may be
scored on cost instead of revenue) is an Interval: the lowest and highest score the missing
part allows. A threshold decides it only when both ends agree.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from typing import Callable, Optional, Union

from .profile import LABELS, Profile


class Missing(Exception):
    def __init__(self, fields: tuple[str, ...], note: str = "") -> None:
        self.fields = fields
        self.note = note or "需补充" + "、".join(LABELS.get(f, f) for f in fields)
        super().__init__(self.note)


class Undecidable(Exception):
    def __init__(self, shown: str) -> None:
        self.shown = shown
        super().__init__(shown)


@dataclass(frozen=True)
class Interval:
    lo: Fraction
    hi: Fraction


Number = Union[Fraction, int]


@dataclass(frozen=True)
class Value:
    value: Union[Number, str, Interval]
    shown: str


# ---- formatting ------------------------------------------------------------------------------------


def _trim(d: Decimal) -> str:
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def percent(x: Fraction) -> str:
    """0.1333… → '13.33%'. Truncated, never rounded up: a share just under a threshold never
    shows as the threshold itself (4.999 % shows 4.99 %, not 5 %)."""
    d = (Decimal(x.numerator) * 100 / Decimal(x.denominator)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    return _trim(d) + "%"


def money(x: Fraction) -> str:
    """Yuan as people say it: 50000000 → '5000万元', 200000000 → '2亿元', 1234567 → '123.46万元'."""
    d = Decimal(x.numerator) / Decimal(x.denominator)
    if abs(d) >= Decimal(10) ** 8 and (d / Decimal(10) ** 8) == (d / Decimal(10) ** 8).quantize(Decimal("0.01")):
        return _trim(d / Decimal(10) ** 8) + "亿元"
    if abs(d) >= Decimal(10) ** 4:
        return _trim((d / Decimal(10) ** 4).quantize(Decimal("0.01"))) + "万元"
    return _trim(d.quantize(Decimal("0.01"))) + "元"


def number(x: Number) -> str:
    return _trim(Decimal(x.numerator) / Decimal(x.denominator)) if isinstance(x, Fraction) else str(x)


def show(value: Union[Number, str], unit: str) -> str:
    if isinstance(value, str):
        return value
    return _show_number(value, unit)


@functools.lru_cache(maxsize=4096)  # thresholds and common figures repeat on every request
def _show_number(value: Number, unit: str) -> str:
    if unit == "percent":
        return percent(Fraction(value))
    if unit == "yuan":
        return money(Fraction(value))
    if unit == "days":
        return f"{value}天"
    if unit == "people":
        return f"{value}人"
    if unit == "count":
        return f"{value}件"
    if unit == "score":
        return f"{number(value)}分"
    return number(value)


# ---- metrics ---------------------------------------------------------------------------------------


def _missing(profile: Profile, *names: str) -> Missing:
    """The Missing for those of `names` the profile does not give. A metric reads its figures into
    locals, and raises this when one of them is None (which also narrows the locals for the checker)."""
    return Missing(tuple(n for n in names if getattr(profile, n) is None))


def days_since_registration(p: Profile, today: date) -> Value:
    registered_on = p.registered_on
    if registered_on is None:
        raise _missing(p, "registered_on")
    days = (today - registered_on).days
    return Value(days, f"{registered_on.isoformat()}注册，至今{days}天")


def tech_staff_share(p: Profile, today: date) -> Value:
    employees, tech_staff = p.employees, p.tech_staff
    if employees is None or tech_staff is None:
        raise _missing(p, "employees", "tech_staff")
    share = Fraction(tech_staff, employees)
    return Value(share, f"{percent(share)}（科技人员{tech_staff}人 / 职工{employees}人）")


def ip_total(p: Profile, today: date) -> Value:
    ip = p.ip
    if ip is None:
        raise _missing(p, "ip")
    return Value(ip.total, f"{ip.describe()}" + (f"，共{ip.total}件" if ip.total else ""))


def last_year_revenue(p: Profile, today: date) -> Value:
    revenue = p.revenue
    if revenue is None:
        raise _missing(p, "revenue")
    return Value(revenue[-1], f"最近一年{money(revenue[-1])}")


def last_year_rd_expense(p: Profile, today: date) -> Value:
    rd_expense = p.rd_expense
    if rd_expense is None:
        raise _missing(p, "rd_expense")
    return Value(rd_expense[-1], f"最近一年{money(rd_expense[-1])}")


def accounting_years_needed(p: Profile, today: date) -> Optional[int]:
    """高企: the last three accounting years, or the years since registration if fewer
    (实际经营期不满三年的按实际经营时间计算). The accounting years before the check's year that
    the enterprise existed in, at most three; None when the registration date is not known."""
    if p.registered_on is None:
        return None
    return max(0, min(3, today.year - p.registered_on.year))


def hnte_rd_ratio(p: Profile, today: date) -> Value:
    """R&D expense over sales revenue, both summed over the accounting years the rule needs."""
    revenue, rd_expense = p.revenue, p.rd_expense
    if revenue is None or rd_expense is None:
        raise _missing(p, "revenue", "rd_expense")
    given = len(revenue)
    needed = accounting_years_needed(p, today)
    if needed is None:
        if given < 3:
            raise Missing(
                ("registered_on",), f"只提供了{given}年数据：需近三个会计年度的数据，成立不满三年的请补充注册成立日期"
            )
        needed = 3
    if needed == 0:
        raise Undecidable("成立当年尚无完整会计年度的数据，无法计算")
    if given < needed:
        raise Missing(("revenue", "rd_expense"), f"需近{needed}个会计年度的销售收入和研发费用，目前只有{given}年")
    rev, rd = sum(revenue[-needed:]), sum(rd_expense[-needed:])
    if rev == 0:
        raise Undecidable(f"近{needed}年销售收入合计为0，占比无法计算")
    ratio = Fraction(rd) / Fraction(rev)
    return Value(
        ratio, f"{percent(ratio)}（近{needed}年研发费用{money(Fraction(rd))} / 销售收入{money(Fraction(rev))}）"
    )


# 科技型中小企业评价办法 第七条 (score bands, lower bound of each band included)
TSME_TECH_BANDS = (
    (Fraction(30, 100), 20),
    (Fraction(25, 100), 16),
    (Fraction(20, 100), 12),
    (Fraction(15, 100), 8),
    (Fraction(10, 100), 4),
)
TSME_RD_BANDS = (
    (Fraction(6, 100), 50),
    (Fraction(5, 100), 40),
    (Fraction(4, 100), 30),
    (Fraction(3, 100), 20),
    (Fraction(2, 100), 10),
)
TSME_RD_MAX = 50
TSME_II_BANDS = ((4, 24), (3, 18), (2, 12), (1, 6))
TSME_I_SCORE = 30


def _band(x: Number, bands: tuple[tuple[Number, int], ...]) -> int:
    """The score of the first band whose floor `x` reaches (bands highest first); 0 below them all."""
    return next((score for floor, score in bands if x >= floor), 0)


def tsme_tech_score(tech_staff: int, employees: int) -> int:
    return _band(Fraction(tech_staff, employees), TSME_TECH_BANDS)


def tsme_score(p: Profile, today: date) -> Value:
    """科技型中小企业 综合评价 (100 points): 科技人员 20 + 研发投入 50 + 科技成果 30, on the latest
    year's figures. Bounds, not a guess: the R&D indicator may instead be scored on R&D over total
    cost (not an API field), and "other" IP may be of class I (植物新品种, 集成电路布图设计…) or II
    (外观设计); the lower bound counts neither, the upper bound counts both at best."""
    employees, tech_staff, revenue, rd_expense, ip = p.employees, p.tech_staff, p.revenue, p.rd_expense, p.ip
    if employees is None or tech_staff is None or revenue is None or rd_expense is None or ip is None:
        raise _missing(p, "employees", "tech_staff", "revenue", "rd_expense", "ip")
    tech = tsme_tech_score(tech_staff, employees)
    rev, rd = revenue[-1], rd_expense[-1]
    rd_score = _band(Fraction(rd) / Fraction(rev), TSME_RD_BANDS) if rev else 0
    ip_lo = TSME_I_SCORE if ip.invention_patents else _band(ip.utility_models + ip.software_copyrights, TSME_II_BANDS)
    ip_hi = max(ip_lo, TSME_I_SCORE if ip.other else ip_lo)
    lo = tech + rd_score + ip_lo
    hi = tech + TSME_RD_MAX + ip_hi
    parts = f"科技人员{tech}分 + 研发投入{rd_score}分 + 科技成果{ip_lo}分"
    if lo == hi:
        return Value(Interval(Fraction(lo), Fraction(hi)), f"{lo}分（{parts}）")
    unknown = ["研发投入如按研发费用占成本费用比例评分可能更高"]
    if ip_hi > ip_lo:
        unknown.append("“其他知识产权”如属Ⅰ类可得30分")
    return Value(
        Interval(Fraction(lo), Fraction(hi)), f"按现有数据至少{lo}分、至多{hi}分（{parts}；{'，'.join(unknown)}）"
    )


def _field(name: str) -> Callable[[Profile, date], Value]:
    def metric(p: Profile, today: date) -> Value:
        value = getattr(p, name)
        if value is None:
            raise _missing(p, name)
        return Value(value, "")

    return metric


METRICS: dict[str, Callable[[Profile, date], Value]] = {
    "days_since_registration": days_since_registration,
    "tech_staff_share": tech_staff_share,
    "ip_total": ip_total,
    "last_year_revenue": last_year_revenue,
    "last_year_rd_expense": last_year_rd_expense,
    "hnte_rd_ratio": hnte_rd_ratio,
    "tsme_score": tsme_score,
    **{
        name: _field(name)
        for name in (
            "employees",
            "tech_staff",
            "rd_domestic_share",
            "hightech_revenue_share",
            "total_assets",
            "taxable_income",
            "industry",
        )
    },
}

# What a metric's Value holds where it is not a plain number (the loader pairs operators with these):
# text, tested with contains_any / not_contains_any and never compared; or bounds (an Interval),
# compared end by end, which cannot choose the tier of a tiered threshold.
TEXT_METRICS = frozenset({"industry"})
INTERVAL_METRICS = frozenset({"tsme_score"})

# The input fields each metric reads (for "which figures does this policy need").
NEEDS: dict[str, tuple[str, ...]] = {
    "days_since_registration": ("registered_on",),
    "tech_staff_share": ("employees", "tech_staff"),
    "ip_total": ("ip",),
    "last_year_revenue": ("revenue",),
    "last_year_rd_expense": ("rd_expense",),
    "hnte_rd_ratio": ("revenue", "rd_expense", "registered_on"),
    "tsme_score": ("employees", "tech_staff", "revenue", "rd_expense", "ip"),
}


def needs(metric: str) -> tuple[str, ...]:
    return NEEDS.get(metric, (metric,))
