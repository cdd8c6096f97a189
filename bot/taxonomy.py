"""The window's published taxonomy: 19 need categories under five service contents.

Intent ids are fixed (tests, reports and the knowledge base depend on them),
so this module is the single place that lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard


@dataclass(frozen=True)
class Category:
    intent: str
    name: str
    content: str
    scope: str  # what belongs here, in the user's words


SERVICE_CONTENTS = ("政策兑现", "人才服务", "科技金融", "科技政务", "协同赋能")

CATEGORIES: tuple[Category, ...] = (
    Category("need_policy_consult", "政策咨询", "政策兑现", "适用政策、条款解读、申报资格"),
    Category("need_project_application", "项目申报", "政策兑现", "科技计划项目、专项资金、科技奖励的申报"),
    Category("need_qualification", "资质认定", "政策兑现", "高企认定、科小评价、专精特新、瞪羚、技术中心等"),
    Category("need_subsidy_redemption", "奖补兑现", "政策兑现", "已获奖补的申领、兑现进度和到账"),
    Category("need_talent_recognition", "人才引进与认定", "人才服务", "人才认定、人才计划、外国人来华工作许可"),
    Category("need_talent_living", "人才安居保障", "人才服务", "人才公寓、住房补贴、落户、子女入学、配偶就业"),
    Category("need_recruitment", "招聘用工", "人才服务", "招聘、招聘会、校园招聘、实习、就业和社保补贴"),
    Category("need_training", "培训交流", "人才服务", "创业和员工培训、导师辅导、沙龙、技能课程"),
    Category("need_debt_financing", "贷款融资", "科技金融", "科技贷、信用贷、知识产权质押、担保、贴息、科技保险"),
    Category("need_equity_investment", "股权投资", "科技金融", "天使、创投、基金、路演、对接投资人"),
    Category("need_listing", "上市辅导", "科技金融", "IPO、科创板、北交所、新三板、股改、上市后备库"),
    Category("need_business_registration", "企业登记", "科技政务", "企业开办、变更、迁移、执照、税务登记"),
    Category("need_permits", "审批代办", "科技政务", "项目备案、环评、施工许可等审批的代办帮办"),
    Category("need_intellectual_property", "知识产权", "科技政务", "专利、商标、软著、知识产权资助、快速预审、维权"),
    Category("need_space", "场地入驻", "科技政务", "办公、实验室、厂房、孵化器、众创空间、租金减免"),
    Category("need_tech_transfer", "成果转化", "协同赋能", "科技成果转化、技术转让、技术合同登记、三项改革"),
    Category("need_industry_academia", "产学研合作", "协同赋能", "校企合作、联合研发平台、仪器共享、检测、中试"),
    Category("need_market_expansion", "市场拓展", "协同赋能", "供需对接、供应链、应用场景、展会、首台套、出海"),
    Category("need_professional_services", "专业服务", "协同赋能", "法律、财税代理、审计、管理咨询、人力资源外包"),
)

META_INTENTS = (
    "greet",
    "goodbye",
    "thank",
    "affirm",
    "deny",
    "ask_ticket_status",
    "request_human",
    "complain",
    "rate_service",
    "bot_challenge",
    "ask_capabilities",
    "out_of_scope",
)

BY_INTENT: dict[str, Category] = {c.intent: c for c in CATEGORIES}
NEED_INTENTS: tuple[str, ...] = tuple(c.intent for c in CATEGORIES)


def is_need(intent: str | None) -> TypeGuard[str]:
    return intent in BY_INTENT


def category(intent: str) -> Category:
    """Look up a need category; raises KeyError for unknown ids."""
    return BY_INTENT[intent]
