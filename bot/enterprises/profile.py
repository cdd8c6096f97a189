"""The editable profile of an enterprise (一企一档) and its validation.

Staff edit the fields in `FIELDS`; `parse_form` turns the strings of a form into typed values with a
Chinese message per bad field (nothing is saved when any field is bad), `apply_edit` saves the changed
ones and returns them as (label, before, after) so the console can audit exactly what changed.
Certifications are stored as ",code,code," so a list filter is one LIKE; `CERTIFICATIONS` names them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Mapping, Optional

from sqlalchemy import select

from bot import clock
from bot.db import sessions
from bot.db.schema import Contact, Enterprise, utcnow
from bot.text import normalise
from bot.tickets import credit_code as cc
from bot.tickets.service import TicketError, normalise_mobile

# 资质认定: code → label. Order is the order shown.
CERTIFICATIONS = {
    "hightech": "高新技术企业",
    "tech_sme": "科技型中小企业",
    "specialized": "专精特新中小企业",
    "little_giant": "专精特新“小巨人”",
    "gazelle": "瞪羚企业",
    "unicorn": "独角兽企业",
    "innovative_sme": "创新型中小企业",
    "rd_centre": "省级以上研发平台",
}

NEW_CITIES = ("沣东", "沣西", "秦汉", "空港", "泾河")

# field → (label, kind); kind: text:<max> / int / yuan / date / certs / new_city / credit_code / name
FIELDS: dict[str, tuple[str, str]] = {
    "name": ("企业名称", "name"),
    "credit_code": ("统一社会信用代码", "credit_code"),
    "new_city": ("所在新城", "new_city"),
    "park": ("所在园区", "text:128"),
    "industry": ("所属行业", "text:64"),
    "address": ("地址", "text:256"),
    "registered_on": ("成立日期", "date"),
    "employees": ("职工人数", "int"),
    "tech_staff": ("科技人员数", "int"),
    "revenue": ("上年营业收入（元）", "yuan"),
    "rd_expense": ("上年研发投入（元）", "yuan"),
    "certifications": ("资质认定", "certs"),
    "notes": ("备注", "text:2000"),
}
MAX_PEOPLE = 10**7
MAX_YUAN = Decimal(10) ** 13
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ProfileError(ValueError):
    """One or more fields are wrong; `problems` maps field → Chinese message."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("；".join(problems.values()))


def certs_of(stored: Optional[str]) -> list[str]:
    """The certification codes of a stored value, in `CERTIFICATIONS` order (unknown codes dropped)."""
    have = {c for c in (stored or "").split(",") if c}
    return [c for c in CERTIFICATIONS if c in have]


def certs_value(codes: Iterable[str]) -> Optional[str]:
    codes = [c for c in CERTIFICATIONS if c in set(codes)]
    return f",{','.join(codes)}," if codes else None


def certs_label(stored: Optional[str]) -> str:
    return "、".join(CERTIFICATIONS[c] for c in certs_of(stored))


def display(field: str, value: Any) -> str:
    """A stored value as staff read it (audit lines, the file page, the export)."""
    if value is None or value == "":
        return "空"
    kind = FIELDS.get(field, ("", "text"))[1]
    if kind == "certs":
        return certs_label(value) or "空"
    if kind == "yuan":
        return f"{Decimal(value):,.2f} 元"
    if isinstance(value, (date, datetime)):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _clean(raw: Any) -> str:
    return _CONTROL.sub("", raw if isinstance(raw, str) else "").strip()


def parse_form(
    form: Mapping[str, Any], certifications: Iterable[str] = (), *, today: Optional[date] = None
) -> dict[str, Any]:
    """Typed values of the editable fields present in `form` (certifications given separately, as the codes
    ticked). Empty strings clear a field, except the name. Raises ProfileError naming every bad field."""
    today = today or clock.today()
    out: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for field, (label, kind) in FIELDS.items():
        if kind == "certs":
            continue
        if field not in form:
            continue
        raw = _clean(form.get(field))
        try:
            out[field] = _parse(field, label, kind, raw, today)
        except ValueError as exc:
            problems[field] = str(exc)
    unknown = [c for c in certifications if c not in CERTIFICATIONS]
    if unknown:
        problems["certifications"] = f"资质认定“{unknown[0][:20]}”不在可选范围内"
    else:
        out["certifications"] = certs_value(certifications)
    emp, tech = out.get("employees"), out.get("tech_staff")
    if emp is not None and tech is not None and tech > emp and "tech_staff" not in problems:
        problems["tech_staff"] = f"科技人员数（{tech}人）不能超过职工人数（{emp}人）"
    if problems:
        raise ProfileError(problems)
    return out


def _parse(field: str, label: str, kind: str, raw: str, today: date) -> Any:
    if kind == "name":
        # Stored as the ticket service stores and looks names up (bot/text.normalise: full-width to half-width,
        # traditional to simplified, ASCII lower-cased): a name typed "ABC科技（西安）" here must be found by the
        # next chat or visit ticket, which would otherwise open a second file for the same company.
        raw = normalise(raw)
        if len(raw) < 2:
            raise ValueError("企业名称不能为空（至少 2 个字）")
        if len(raw) > 128:
            raise ValueError("企业名称不能超过 128 个字")
        return raw
    if not raw:
        return None
    if kind == "credit_code":
        try:
            return cc.validate(raw)
        except cc.InvalidCreditCode as exc:
            raise ValueError(str(exc)) from exc
    if kind == "new_city":
        short = raw.removesuffix("新城")
        if short not in NEW_CITIES:
            raise ValueError(f"所在新城应为{'、'.join(NEW_CITIES)}之一")
        return short
    if kind.startswith("text:"):
        limit = int(kind.split(":")[1])
        if len(raw) > limit:
            raise ValueError(f"{label}不能超过 {limit} 个字")
        return raw
    if kind == "int":
        if not re.fullmatch(r"\d{1,9}", raw.replace(",", "")):
            raise ValueError(f"{label}应为不小于 0 的整数")
        n = int(raw.replace(",", ""))
        if n > MAX_PEOPLE:
            raise ValueError(f"{label}数值过大，请检查")
        return n
    if kind == "yuan":
        try:
            amount = Decimal(raw.replace(",", "").removesuffix("元"))
        except InvalidOperation:
            raise ValueError(f"{label}应为金额（元），例如 1200000 或 1200000.50") from None
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"{label}不能为负数")
        if amount >= MAX_YUAN:
            raise ValueError(f"{label}数值过大，请检查（单位是元）")
        return amount.quantize(Decimal("0.01"))
    if kind == "date":
        try:
            d = date.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"{label}应为日期，例如 2018-05-20") from None
        if d > today or d.year < 1900:
            raise ValueError(f"{label}不能晚于今天或早于 1900 年")
        return d
    raise AssertionError(kind)


@dataclass(frozen=True)
class Change:
    field: str
    label: str
    before: str
    after: str

    def line(self) -> str:
        return f"{self.label}：{self.before} → {self.after}"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return (a is None) == (b is None) and (a is None or Decimal(a) == Decimal(b))
    return (a or None) == (b or None)


class StaleEdit(ValueError):
    """The file changed since the form was opened (another member of staff saved first)."""


def version(ent: Enterprise) -> str:
    """What the edit form carries back: a digest of the editable fields as they were when it was opened (a
    timestamp would miss two saves within one clock tick; equal content is no conflict)."""
    text = "\x1f".join(display(f, getattr(ent, f)) for f in FIELDS)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def apply_edit(
    db_url: str,
    enterprise_id: int,
    values: Mapping[str, Any],
    *,
    expected_version: Optional[str] = None,
    clock: Callable[[], datetime] = utcnow,
) -> list[Change]:
    """Save the values that differ from the stored ones; returns what changed (empty: nothing saved).

    A credit code or name already held by another enterprise is refused (ProfileError): two files for one
    company would split its tickets. `expected_version` (from `version()` when the form was opened) not
    matching: StaleEdit, nothing saved — a concurrent edit is detected, not silently overwritten. Unknown
    enterprise: LookupError."""
    with sessions(db_url).begin() as s:
        ent = s.get(Enterprise, enterprise_id, with_for_update=True)
        if ent is None:
            raise LookupError(enterprise_id)
        if expected_version is not None and expected_version != version(ent):
            raise StaleEdit("档案在您打开后已被他人修改，请查看最新内容后重新编辑。")
        code = values.get("credit_code")
        if code and code != ent.credit_code:
            other = s.scalar(
                select(Enterprise.name).where(Enterprise.credit_code == code, Enterprise.id != enterprise_id)
            )
            if other is not None:
                raise ProfileError({"credit_code": f"统一社会信用代码 {code} 已登记在“{other}”名下"})
        name = values.get("name")
        if name and name != ent.name:
            if s.scalar(select(Enterprise.id).where(Enterprise.name == name, Enterprise.id != enterprise_id)):
                raise ProfileError({"name": f"已有名为“{name}”的企业档案"})
        changes = []
        for field, value in values.items():
            if field not in FIELDS:
                continue
            before = getattr(ent, field)
            if _same(before, value):
                continue
            changes.append(Change(field, FIELDS[field][0], display(field, before), display(field, value)))
            setattr(ent, field, value)
        if changes:
            ent.updated_at = clock()
        return changes


__all__ = [
    "CERTIFICATIONS",
    "FIELDS",
    "NEW_CITIES",
    "ProfileError",
    "StaleEdit",
    "Change",
    "version",
    "add_contact",
    "create_enterprise",
    "certs_of",
    "certs_value",
    "certs_label",
    "display",
    "parse_form",
    "apply_edit",
]


def add_contact(
    db_url: str, enterprise_id: int, name: str, mobile: Optional[str], *, clock: Callable[[], datetime] = utcnow
):
    """A contact person staff add to the file (no chat identity: it verifies nobody's chat). Refuses an empty
    name, a malformed mobile and a person already on file with the same name and mobile (ProfileError)."""
    name = _clean(name)
    problems = {}
    if not 2 <= len(name) <= 64:
        problems["contact_name"] = "联系人姓名应为 2–64 个字"
    try:
        mobile = normalise_mobile(mobile) if mobile and mobile.strip() else None
    except TicketError as exc:
        problems["contact_mobile"] = str(exc)
    if problems:
        raise ProfileError(problems)
    with sessions(db_url).begin() as s:
        if s.get(Enterprise, enterprise_id) is None:
            raise LookupError(enterprise_id)
        same = Contact.mobile.is_(None) if mobile is None else Contact.mobile == mobile
        if s.scalar(select(Contact.id).where(Contact.enterprise_id == enterprise_id, Contact.name == name, same)):
            raise ProfileError({"contact_name": f"联系人“{name}”已在档案中"})
        c = Contact(enterprise_id=enterprise_id, name=name, mobile=mobile, channel="console", created_at=clock())
        s.add(c)
        s.flush()
        return c.id, name, mobile


def create_enterprise(db_url: str, values: Mapping[str, Any], *, clock: Callable[[], datetime] = utcnow) -> int:
    """A new file from parsed values (`parse_form`). An enterprise with the same credit code or name already on
    file is refused, naming it (ProfileError): the existing file is the one to use."""
    with sessions(db_url).begin() as s:
        code = values.get("credit_code")
        if code:
            other = s.scalar(select(Enterprise.name).where(Enterprise.credit_code == code))
            if other is not None:
                raise ProfileError({"credit_code": f"统一社会信用代码 {code} 已登记在“{other}”名下"})
        if s.scalar(select(Enterprise.id).where(Enterprise.name == values["name"])):
            raise ProfileError({"name": f"已有名为“{values['name']}”的企业档案"})
        now = clock()
        ent = Enterprise(created_at=now, updated_at=now, **{k: v for k, v in values.items() if k in FIELDS})
        s.add(ent)
        s.flush()
        return ent.id
