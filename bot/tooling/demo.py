"""Realistic demo data: enterprises, contacts, visits and a year of tickets, fast.

    python -m bot.tooling.demo --db sqlite:///var/demo.db --enterprises 500 --year 2026 [--tickets N] [--seed 1]

What it writes (into a database that already has the schema and the service network;
the CLI runs ``migrate`` and ``sync_network`` itself):

- enterprises with realistic names (西安/陕西 + 字号 + 行业 + 科技有限公司 …), valid
  统一社会信用代码 (``bot.tickets.credit_code.generate``), a new city and usually a park of the
  1+5+N network; 1–3 contacts each, with names and mobile numbers;
- demo staff, three per active node (``demo-<node>-<n>``, no password: they cannot log in);
- on-site visits (入企服务, ~500 a year), some of which raise tickets;
- tickets from 1 January of ``year`` up to ``now``: category mix weighted (政策咨询, 项目申报,
  资质认定 frequent, 上市辅导 rare), seasonal (高企 and 项目申报 peak in March–June, fewer
  around 春节 and National Day, quiet 调休 weekend working days), created in office hours on
  official working days only, routed by ``bot.network.routing``, deadlines from ``bot.tickets.sla``;
- their lifecycle up to ``now``: first responses mostly the same day, 待补充 pauses (the
  deadline extended as the service does), some overdue, a few 无法办理 with a reason,
  ratings mostly 满意/非常满意, some 不满意 (reopened with 回访 and done again), redeemed
  amounts for 政策兑现 tickets (1万–200万, skewed), SLA warning and escalation marks;
- handovers and knowledge-base questions (real FAQs of knowledge/) for the monthly report;
- the audit trail (TicketEvent) of every ticket: full (created, assign, every status change,
  add_info, rating, follow-up, redeemed amount) or, for large runs, minimal ("created" and
  the final status change only).

Timestamps come from a working-time line (working days × office hours of the SLA policy),
so first_response_wsecs / resolution_wsecs equal what ``SlaPolicy.working_seconds_between``
gives and every deadline equals ``SlaPolicy.first_response_due`` / ``resolution_due``.
Numbers are QCY-YYYYMMDD-NNNN in creation order, continuing after the ticket_sequences
counters, which are advanced in the same transaction, so later real tickets don't collide.
Rows go in as Core ``insert(table)`` executemany in chunks of 10,000 (SQLite: the compiled
statement through ``exec_driver_sql`` with the values converted as the column types would;
PostgreSQL: psycopg2 multi-row VALUES pages), all of it in one transaction (SQLite: BEGIN
IMMEDIATE; the WAL grows to about the database's size until the commit). Explicit ids are
reserved first (PostgreSQL: the sequences are moved past them) and the PostgreSQL tables
are ANALYZEd at the end. 1,000,000 tickets take about 3–4 minutes on SQLite.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sys
import time as _time
from bisect import bisect_left
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Callable, Optional

import yaml
from sqlalchemy import Boolean, Float, Numeric, create_engine, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.db import engine_for, migrate
from bot.db.schema import (
    Contact,
    Enterprise,
    Handover,
    KbQuery,
    Rating,
    ServiceNode,
    Staff,
    Ticket,
    TicketEvent,
    TicketSequence,
    UTCDateTime,
    Visit,
)
from bot.network import sync_network
from bot.network.routing import Router
from bot.settings import PROJECT_ROOT
from bot.taxonomy import BY_INTENT, NEED_INTENTS
from bot.tickets import lifecycle as lc
from bot.tickets.credit_code import generate as generate_credit_code
from bot.tickets.service import RATING_LABELS
from bot.tickets.sla import SlaPolicy

KNOWLEDGE_DIR = PROJECT_ROOT / "knowledge"
UTC = timezone.utc
CHUNK = 10_000
SQLITE_CACHE_KIB = 1_048_576  # page cache of the generating connection on SQLite (1 GiB)
FULL_EVENTS_MAX = 200_000  # --events auto: full audit trail up to this many tickets
VISITS_PER_YEAR = 500
TICKETS_PER_ENTERPRISE = 6  # default --tickets: per enterprise and year (prorated)
KB_PER_TICKET = 1.5  # default knowledge-base questions per ticket
HANDOVER_LINKED = 0.06  # share of tickets whose conversation went to staff first
HANDOVER_OTHER = 0.04  # handovers without a ticket, per ticket


class DemoError(RuntimeError):
    """The demo data cannot be generated (message in Chinese, for the operator)."""


# ---- realistic parts -------------------------------------------------------------------------------

# 字号 characters: two of them make a brand (瑞芯, 秦创, 华博 …).
BRAND_CHARS = (
    "秦华中瑞创芯博源科达泰恒光迈锐德远智航聚天宇鼎诚盛联润新嘉晟拓朗誉凯铂汇睿研"
    "星微云图灵思维磐峰启明正和通信长安丰禾致同优立腾骏海川越卓英弘昊宸"
)
# industry: (name in the company name, products, keywords of matching parks)
INDUSTRIES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("光电", ("激光器", "光电探测器", "红外热像仪", "光学镜头"), ("科技", "信息", "创新港")),
    ("半导体", ("功率芯片", "MEMS传感器芯片", "芯片封装测试", "碳化硅器件"), ("信息", "新兴", "制造")),
    ("生物医药", ("创新药", "体外诊断试剂", "生物制剂", "中药新药"), ("生物",)),
    ("医疗器械", ("医用影像设备", "康复器械", "手术机器人"), ("生物",)),
    ("新材料", ("钛合金材料", "碳纤维复合材料", "高温合金", "石墨烯材料"), ("新材料", "制造")),
    ("航空", ("航空零部件", "工业级无人机", "机载电子设备"), ("临空", "航空", "保税")),
    ("软件", ("工业软件", "SaaS平台", "数据中台", "智慧政务系统"), ("数字", "信息", "云谷", "孵化")),
    ("智能制造", ("工业机器人", "智能产线", "数控装备", "智能仓储系统"), ("制造", "智能")),
    ("新能源", ("光伏组件", "储能系统", "氢燃料电池", "充电桩"), ("环保", "新兴", "制造")),
    ("信息技术", ("大数据平台", "物联网终端", "网络安全产品", "算力服务"), ("信息", "数字", "云谷")),
    ("环保", ("污水处理设备", "固废资源化装备", "VOCs治理设备"), ("环保",)),
    ("地理信息", ("北斗导航终端", "遥感数据服务", "三维测绘系统"), ("地理",)),
    ("电子", ("电子元器件", "智能终端", "射频模组"), ("信息", "制造", "综合保税")),
    ("数字文创", ("数字文创产品", "VR内容", "文旅数字化平台"), ("文化",)),
    ("检测", ("检验检测服务", "计量校准服务", "材料分析测试"), ("科技", "创新")),
    ("供应链", ("跨境电商平台", "冷链物流系统", "供应链管理平台"), ("电商", "物流", "保税")),
)
NAME_FORMS = (
    ("{pre}{brand}{ind}科技有限公司", 50),
    ("{pre}{brand}{ind}技术有限公司", 18),
    ("{pre}{brand}{ind}股份有限公司", 8),
    ("{brand}（西安）{ind}科技有限公司", 8),
    ("{pre}{brand}{ind}研究院有限公司", 3),
    ("{pre}{brand}{ind}有限公司", 13),
)
NAME_PREFIXES = (("西安", 55), ("陕西", 35), ("西咸新区", 6), ("咸阳", 4))

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜"
    "叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万严武戴孔"
)
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国文斌宇浩凯晨欣怡佳琪"
    "子涵梓轩睿博思远嘉航晓东雪梅海燕志强永亮俊峰丹婷倩颖琳晶昊天鑫磊亚楠"
)
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "173",
    "176",
    "177",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
)
CHANNELS = (("wechat_mp", 45), ("web", 30), ("wecom", 17), ("rest", 8))

# Base weights of the 19 needs (per mille of tickets, before seasonality).
CATEGORY_WEIGHTS = {
    "need_policy_consult": 200,
    "need_project_application": 130,
    "need_qualification": 120,
    "need_subsidy_redemption": 90,
    "need_talent_recognition": 45,
    "need_talent_living": 40,
    "need_recruitment": 45,
    "need_training": 30,
    "need_debt_financing": 50,
    "need_equity_investment": 25,
    "need_listing": 5,
    "need_business_registration": 45,
    "need_permits": 30,
    "need_intellectual_property": 60,
    "need_space": 35,
    "need_tech_transfer": 20,
    "need_industry_academia": 20,
    "need_market_expansion": 25,
    "need_professional_services": 25,
}
# Seasonal multipliers: category → {month: factor}.
SEASONAL = {
    "need_qualification": {3: 1.6, 4: 1.9, 5: 2.0, 6: 1.8, 7: 1.2, 1: 0.7, 2: 0.6, 11: 0.7, 12: 0.6},
    "need_project_application": {3: 1.7, 4: 1.8, 5: 1.6, 6: 1.5, 8: 0.7, 12: 0.7},
    "need_subsidy_redemption": {10: 1.3, 11: 1.5, 12: 1.6, 1: 1.2, 2: 0.8},
    "need_recruitment": {2: 1.4, 3: 1.6, 4: 1.3, 9: 1.4, 10: 1.2, 7: 0.8},
    "need_training": {7: 1.3, 8: 1.2, 2: 0.6},
    "need_talent_living": {7: 1.4, 8: 1.5, 9: 1.2},  # school places, graduates' housing
    "need_business_registration": {1: 1.2, 3: 1.2},
}
MONTH_VOLUME = {
    1: 0.9,
    2: 0.75,
    3: 1.15,
    4: 1.2,
    5: 1.15,
    6: 1.15,
    7: 0.95,
    8: 0.85,
    9: 1.0,
    10: 0.8,
    11: 1.0,
    12: 0.95,
}
WEEKDAY_VOLUME = (1.12, 1.05, 1.0, 1.0, 0.85, 0.55, 0.55)  # Mon … Sun (weekend = 调休 working days)
# Resolution work as a share of the category's SLA (lognormal median), e.g. 政策咨询 is often answered at once.
RESOLUTION_SHARE = {
    "need_policy_consult": 0.16,
    "need_business_registration": 0.3,
    "need_professional_services": 0.3,
    "need_training": 0.3,
}
RESOLUTION_SHARE_DEFAULT = 0.36
RESOLUTION_SIGMA = 0.62
PRIORITIES = (("normal", 880), ("high", 80), ("low", 30), ("urgent", 10))

DESCRIPTIONS = {
    "need_policy_consult": (
        "我们是做{product}的{ind}企业，想了解{year}年{region}有哪些适用的扶持政策。",
        "请问研发费用加计扣除比例是多少，我们这种{ind}企业怎么享受？",
        "想咨询一下{region}对科技型中小企业有哪些奖补，我们去年营收{revenue}万元。",
        "公司刚从外地迁入{region}，想了解落户奖励和房租补贴政策。",
        "能否帮我们做一次政策匹配，看看{product}项目能申请哪些政策？",
    ),
    "need_project_application": (
        "想申报{year}年陕西省重点研发计划，{product}方向，请问申报材料怎么准备？",
        "西咸新区科技计划项目什么时候开始申报？我们的{product}项目想报名。",
        "申报秦创原科技成果转化项目需要哪些附件，需要查新报告吗？",
        "想申报省科学技术奖，{product}相关成果，需要推荐单位吗？",
        "{year}年省级科技专项资金的申报系统账号怎么注册？",
    ),
    "need_qualification": (
        "公司想申请{year}年高新技术企业认定，请帮忙评估一下条件和材料。",
        "科技型中小企业评价入库需要准备哪些资料？",
        "我们是做{product}的，想申报专精特新中小企业，是否符合条件？",
        "高企认定的研发费用占比我们算不清，能否帮忙看一下？",
        "想申请瞪羚企业认定，去年营收增长{growth}%，可以吗？",
    ),
    "need_subsidy_redemption": (
        "去年的高企认定奖励还没有到账，想查一下兑现进度。",
        "研发投入奖补已经公示了，什么时候拨付？需要提交什么材料？",
        "申请房租补贴的资料已经交了，想确认一下审核进度。",
        "{year}年的科技型企业奖补兑现需要提供哪些票据？",
        "新区人才奖励的申领流程是什么，到账一般要多久？",
    ),
    "need_talent_recognition": (
        "我们引进了一位博士，想申报西咸新区高层次人才认定。",
        "外籍技术总监要办外国人来华工作许可，请问流程。",
        "想了解陕西省人才计划的申报条件，公司有两名核心研发人员。",
        "人才分类认定需要提供哪些材料？",
    ),
    "need_talent_living": (
        "新招的研发人员想申请人才公寓，现在还有房源吗？",
        "高层次人才子女入学怎么申请，我们的人才已经认定为C类。",
        "人才住房补贴怎么申请，需要社保缴纳满多久？",
        "外地人才落户西咸新区需要什么手续？",
    ),
    "need_recruitment": (
        "公司急需招聘{n}名{product}方向的工程师，能否推荐招聘会？",
        "想参加高校秋季校园招聘会，怎么报名？",
        "招用应届毕业生有没有社保补贴？",
        "想建立见习基地，接收{n}名大学生实习，怎么申请见习补贴？",
    ),
    "need_training": (
        "有没有面向科技企业的财税培训或创业辅导课程？",
        "想给员工报名职业技能培训，有补贴吗？",
        "请问近期有没有投融资沙龙或者导师辅导活动？",
    ),
    "need_debt_financing": (
        "想申请科技贷，额度{amount}万元左右，用于{product}研发。",
        "我们有{n}件发明专利，能否做知识产权质押贷款？",
        "请问贷款贴息政策怎么申请，去年在银行贷了{amount}万。",
        "想了解科技保险和担保贷款，公司轻资产没有抵押物。",
    ),
    "need_equity_investment": (
        "公司正在做A轮融资，计划融资{amount}万元，希望对接投资机构。",
        "想参加秦创原路演活动，怎么报名？",
        "有没有政府引导基金可以投{ind}领域的早期项目？",
    ),
    "need_listing": (
        "公司计划三年内在科创板上市，想了解上市后备库入库条件。",
        "想做股份制改造，能否推荐券商和律所？",
        "北交所上市需要先挂新三板吗？想请专人辅导一下路径。",
    ),
    "need_business_registration": (
        "想在{region}新设一家子公司，企业开办流程是什么？",
        "公司要变更注册地址到{park}，需要办哪些手续？",
        "营业执照经营范围想增加{product}相关业务，怎么变更？",
        "外地企业迁入西咸新区的流程和时间？",
    ),
    "need_permits": (
        "新建{product}生产线需要做环评吗？能否帮办项目备案？",
        "厂房装修需要办施工许可，想请窗口帮代办。",
        "我们的技改项目要备案，资料应该怎么准备？",
    ),
    "need_intellectual_property": (
        "想申请发明专利，{product}相关技术，能否走快速预审？",
        "公司商标被抢注了，想了解维权途径。",
        "软件著作权登记需要多长时间，有资助吗？",
        "PCT国际专利申请有没有资助政策？",
    ),
    "need_space": (
        "公司扩大规模，需要{n}00平米的研发办公场地，{park}有没有合适的？",
        "想入驻孵化器，房租减免政策是怎样的？",
        "需要带洁净间的实验室场地，{region}有没有？",
    ),
    "need_tech_transfer": (
        "想和高校签技术转让合同，技术合同登记怎么办理？",
        "我们有一项{product}成果想转化，能否对接技术经理人？",
        "职务科技成果赋权改革的政策能否详细解读？",
    ),
    "need_industry_academia": (
        "想与西安交大共建联合研发中心，窗口能否帮忙对接？",
        "需要做{product}的第三方检测，哪里有共享仪器？",
        "想找高校团队合作攻关{product}关键技术。",
    ),
    "need_market_expansion": (
        "我们的{product}想进入本地应用场景，有没有供需对接会？",
        "首台套装备认定怎么申请？",
        "计划参加海外展会，有没有展位补贴？",
        "想开拓东南亚市场，能否提供出海服务对接？",
    ),
    "need_professional_services": (
        "需要代理记账和税务筹划服务，能否推荐服务机构？",
        "公司股权架构调整，想找律师咨询。",
        "想做年度审计，有没有服务机构名录？",
    ),
}
REGIONS = ("西咸新区", "沣东新城", "沣西新城", "秦汉新城", "空港新城", "泾河新城", "西安市", "陕西省")
CANNOT_HANDLE_REASONS = (
    "企业暂不符合申报条件（成立未满一年），已告知下一批次申报时间",
    "该事项不属于本窗口受理范围，已告知企业向市场监管部门咨询",
    "企业主动撤回需求",
    "相关政策已到期，暂无替代政策，已告知企业关注新政策发布",
    "所需材料企业无法提供，经沟通后终止办理",
    "企业注册地不在西咸新区，已引导至属地服务窗口",
)
AWAITING_NOTES = (
    "请补充近三年财务审计报告",
    "请补充研发项目立项材料",
    "请补充营业执照副本扫描件",
    "请补充社保缴纳证明",
    "请补充知识产权证书复印件",
    "请补充申请表盖章页",
)
ADD_INFO_NOTES = ("已上传补充材料，请查收", "材料已补齐", "已按要求补充盖章页", "补充了审计报告和立项书")
RATING_COMMENTS = {
    5: ("办理很及时，感谢！", "服务专员很专业，讲得很清楚", "效率很高，点赞", "全程有人跟进，非常满意"),
    4: ("整体不错", "回复比较及时", "解答清楚，希望流程再快一些"),
    3: ("等待时间有点长", "一般，材料来回补了几次"),
    2: ("等了很久才有人联系", "问题没有解决，只是让我们自己去问"),
    1: ("多次催办没有回复", "办理太慢，耽误了申报"),
}
RATING_SCORES_ON_TIME = ((5, 60), (4, 30), (3, 6), (2, 3), (1, 1))
RATING_SCORES_LATE = ((5, 30), (4, 35), (3, 17), (2, 12), (1, 6))
VISIT_FINDINGS = (
    "企业计划申报高新技术企业，需辅导研发费用归集",
    "企业反映招聘研发人员困难",
    "企业有扩产需求，需协调厂房场地",
    "企业有融资需求，拟对接科技贷",
    "企业咨询专利布局和知识产权资助",
    "企业希望对接高校开展联合研发",
    "走访了解生产经营情况，暂无新的诉求",
    "企业反映奖补资金到账较慢",
    "企业有上市意向，需了解股改流程",
    "企业需要首台套认定指导",
)
VISIT_CATEGORIES = (
    "need_qualification",
    "need_recruitment",
    "need_space",
    "need_debt_financing",
    "need_intellectual_property",
    "need_industry_academia",
    "need_project_application",
    "need_subsidy_redemption",
    "need_listing",
    "need_market_expansion",
)
HANDOVER_REASONS = (
    ("request_human", 45),
    ("fallback", 25),
    ("staff_takeover", 15),
    ("complaint", 5),
    ("staff_only", 10),
)
HANDOVER_OPENERS = {
    "request_human": "转人工",
    "fallback": "这个怎么弄啊，说了半天你也不懂",
    "staff_takeover": "请问有人吗",
    "complaint": "我要投诉，上次的事情一直没人管",
    "staff_only": "想咨询上市辅导",
}
OFF_TOPIC = (
    "你们几点下班",
    "附近哪里可以停车",
    "窗口地址在哪里",
    "你是机器人吗",
    "今天天气怎么样",
    "食堂在哪",
    "怎么开发票",
    "帮我订个会议室",
)


# ---- working time ------------------------------------------------------------------------------------


class Timeline:
    """Working time as one integer line: W = k × day + s for working day k and s working seconds.

    Differences of W are working seconds as ``SlaPolicy.working_seconds_between`` counts them.
    ``moment(W)`` is the earliest moment with that much work done (W = k × day is 17:30 of
    day k − 1, as ``SlaPolicy.add_working_seconds`` lands), ``start(W)`` the latest (09:00 of
    day k), used for creation times. Moments are naive datetimes in UTC, as stored.
    """

    def __init__(self, sla: SlaPolicy, first: date, last: date):
        self.tz = sla.tz
        self.day = sla.working_day_seconds
        # office intervals in seconds since local midnight, with the work done before each
        self.intervals: list[tuple[int, int, int]] = []
        done = 0
        for iv in sla.office_hours:
            start, end = iv.start_us // 1_000_000, iv.end_us // 1_000_000
            self.intervals.append((done, start, end))
            done += end - start
        self.days: list[date] = []
        d = first
        while d <= last:
            if sla.is_working_day(d):
                self.days.append(d)
            d += timedelta(days=1)
        self.ordinals = [d.toordinal() for d in self.days]
        # naive UTC (what UTCDateTime stores; skips a conversion per value on the way in)
        self.midnight = [
            datetime.combine(d, time(0), tzinfo=self.tz).astimezone(UTC).replace(tzinfo=None) for d in self.days
        ]
        self.end_w = len(self.days) * self.day

    def _local_seconds(self, s: int) -> int:
        """Local seconds since midnight for s working seconds into the day, 0 < s <= day (earliest)."""
        for done, start, end in self.intervals:
            if s <= done + (end - start):
                return start + (s - done)
        return self.intervals[-1][2]

    def moment(self, w: int) -> datetime:
        if w >= self.end_w:
            raise DemoError("工作时间超出了生成范围")  # callers clamp; this is a bug guard
        k, s = divmod(w, self.day)
        if s == 0 and k > 0:
            k, s = k - 1, self.day
        if s == 0:
            return self.midnight[k] + timedelta(seconds=self.intervals[0][1])
        return self.midnight[k] + timedelta(seconds=self._local_seconds(s))

    def start(self, w: int) -> datetime:
        k, s = divmod(w, self.day)
        for done, start, end in self.intervals:
            if s < done + (end - start):
                return self.midnight[k] + timedelta(seconds=start + (s - done))
        raise AssertionError("unreachable")

    def day_end(self, k: int) -> datetime:
        return self.midnight[k] + timedelta(seconds=self.intervals[-1][2])

    def w_of(self, dt: datetime) -> int:
        """Working seconds on the line before ``dt`` (any moment, in or out of office hours)."""
        loc = dt.astimezone(self.tz)
        k = bisect_left(self.ordinals, loc.toordinal())
        if k < len(self.days) and self.ordinals[k] == loc.toordinal():
            secs = loc.hour * 3600 + loc.minute * 60 + loc.second
            worked = 0
            for done, start, end in self.intervals:
                if secs > start:
                    worked = done + min(secs, end) - start
            return k * self.day + worked
        return k * self.day


# ---- the result ---------------------------------------------------------------------------------------


@dataclass
class DemoResult:
    """What one run wrote (staff: demo staff created by this run; earlier runs' are reused)."""

    enterprises: int
    contacts: int
    staff: int
    visits: int
    tickets: int
    events: int
    ratings: int
    handovers: int
    kb_queries: int
    events_mode: str
    first_day: str
    last_moment: str
    seconds: float

    def summary(self) -> str:
        return (
            f"演示数据已生成（{self.first_day} 至 {self.last_moment}，用时 {self.seconds:.1f} 秒）：企业 {self.enterprises:,} 家，"
            f"联系人 {self.contacts:,} 人，演示工作人员 {self.staff:,} 人，入企服务 {self.visits:,} 次，"
            f"工单 {self.tickets:,} 件，审计事件 {self.events:,} 条（{'完整' if self.events_mode == 'full' else '仅创建和最终状态'}），"
            f"评价 {self.ratings:,} 条，转人工 {self.handovers:,} 次，知识库提问 {self.kb_queries:,} 条。"
        )

    def to_dict(self) -> dict:
        return asdict(self)


# ---- helpers ----------------------------------------------------------------------------------------


def _cum(weights) -> list[float]:
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out


def _weighted(pairs):
    items = [p[0] for p in pairs]
    return items, _cum(p[1] for p in pairs)


def _json(value) -> Optional[str]:
    return None if value is None else json.dumps(value, ensure_ascii=False)


_J = {state: _json(state) for state in lc.LABELS}  # statuses as the audit trail stores them


def _person_name(rng: random.Random) -> str:
    n = 1 if rng.random() < 0.3 else 2
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN_CHARS) for _ in range(n))


def _mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"


def _load_faqs(directory: Path = KNOWLEDGE_DIR) -> list[tuple[str, str, Optional[str], list[str]]]:
    """(entry id, faq id, first category, [question, variants…]) of the knowledge base, if present."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    out = []
    for path in sorted((directory / "entries").glob("*.yml")):
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
        except (OSError, yaml.YAMLError):
            continue
        cats = [c for c in data.get("categories") or [] if c in BY_INTENT]
        for faq in data.get("faq") or []:
            texts = [faq.get("question")] + list(faq.get("variants") or [])
            texts = [t for t in texts if isinstance(t, str) and t.strip()]
            if faq.get("id") and texts:
                out.append((str(data.get("id")), str(faq["id"]), cats[0] if cats else None, texts))
    return out


def _month_category_cums() -> dict[int, list[float]]:
    cums = {}
    for month in range(1, 13):
        cums[month] = _cum(CATEGORY_WEIGHTS[c] * SEASONAL.get(c, {}).get(month, 1.0) for c in NEED_INTENTS)
    return cums


def _fill(template: str, rng: random.Random, ent: dict, year: int) -> str:
    if "{" not in template:
        return template
    return template.format(
        product=rng.choice(ent["products"]),
        ind=ent["industry"],
        year=year,
        region=rng.choice(REGIONS),
        revenue=rng.choice((300, 800, 1500, 3000, 5000, 12000)),
        growth=rng.choice((25, 30, 45, 60, 80)),
        n=rng.randint(2, 9),
        amount=rng.choice((200, 300, 500, 800, 1000, 2000, 3000, 5000)),
        park=ent["park"] or ent["city_name"] or "西咸新区",
    )


def _redeemed(rng: random.Random) -> Decimal:
    """1万–200万 yuan, log-normal (median ≈ 8万), mostly whole hundreds."""
    amount = math.exp(rng.gauss(math.log(80_000), 1.1))
    amount = min(2_000_000.0, max(10_000.0, amount))
    if rng.random() < 0.8:
        return Decimal(int(round(amount, -2)))
    return Decimal(f"{amount:.2f}")


# ---- the generator ----------------------------------------------------------------------------------


def _sqlite_datetime(value: datetime) -> str:
    """A timestamp the way UTCDateTime stores it on SQLite: naive UTC, 'YYYY-MM-DD HH:MM:SS.ffffff'."""
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None) if value.tzinfo is UTC else value.astimezone(UTC).replace(tzinfo=None)
    out = value.isoformat(" ")
    return out if len(out) > 19 else out + ".000000"


class _Writer:
    """Buffers rows per table and writes them in chunks with executemany, parents before children.

    PostgreSQL: Core ``insert(table)`` executemany (psycopg2 batches it with execute_values).
    SQLite: the same compiled Core statement through ``exec_driver_sql``, with the values
    converted here exactly as the column types would (UTC timestamps as text, booleans as
    0/1, Numeric as float), which skips SQLAlchemy's per-value processing (3× faster).
    """

    ORDER = (
        "enterprises",
        "contacts",
        "staff",
        "visits",
        "tickets",
        "ticket_events",
        "ratings",
        "handovers",
        "kb_queries",
    )
    TABLES = {
        "enterprises": Enterprise,
        "contacts": Contact,
        "staff": Staff,
        "visits": Visit,
        "tickets": Ticket,
        "ticket_events": TicketEvent,
        "ratings": Rating,
        "handovers": Handover,
        "kb_queries": KbQuery,
    }

    def __init__(self, conn: Connection, chunk: int):
        self.conn, self.chunk = conn, chunk
        self.raw = conn.dialect.name == "sqlite"
        self.buffers: dict[str, list[dict]] = {name: [] for name in self.ORDER}
        self.counts: Counter = Counter()
        self._plans: dict[tuple, tuple] = {}

    def add(self, table: str, row: dict) -> None:
        buf = self.buffers[table]
        buf.append(row)
        if len(buf) >= self.chunk:
            self.flush()

    def _plan(self, name: str, keys: tuple) -> tuple:
        plan = self._plans.get((name, keys))
        if plan is None:
            table = self.TABLES[name].__table__
            compiled = insert(table).compile(dialect=self.conn.dialect, column_keys=list(keys))
            order = compiled.positiontup
            converters = []
            for i, key in enumerate(order):
                col_type = table.c[key].type
                if isinstance(col_type, UTCDateTime):
                    converters.append((i, _sqlite_datetime))
                elif isinstance(col_type, Boolean):
                    converters.append((i, int))
                elif isinstance(col_type, Numeric) and not isinstance(col_type, Float):
                    converters.append((i, float))
            plan = self._plans[(name, keys)] = (str(compiled), itemgetter(*order), tuple(converters))
        return plan

    def _write_raw(self, name: str, rows: list[dict]) -> None:
        sql, getter, converters = self._plan(name, tuple(rows[0]))
        out = []
        append = out.append
        for row in rows:
            values = list(getter(row))
            for i, conv in converters:
                v = values[i]
                if v is not None:
                    values[i] = conv(v)
            append(tuple(values))
        self.conn.exec_driver_sql(sql, out)

    def flush(self) -> None:
        for name in self.ORDER:
            buf = self.buffers[name]
            if buf:
                if self.raw:
                    self._write_raw(name, buf)
                else:
                    self.conn.execute(insert(self.TABLES[name].__table__), buf)
                self.counts[name] += len(buf)
                self.buffers[name] = []


def _reserve_ids(conn: Connection, model, n: int) -> int:
    """First of n consecutive free ids of `model` (PostgreSQL: the sequence is moved past them)."""
    table = model.__tablename__
    current = conn.scalar(select(func.coalesce(func.max(model.id), 0)))
    if conn.dialect.name == "postgresql" and n > 0:
        seq = conn.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table})
        if seq:
            # setval is not transactional: the block stays reserved even for concurrent inserts
            used = f"(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {seq})"
            top = conn.scalar(
                text(f"SELECT setval(CAST(:s AS regclass), GREATEST(:m, {used}) + :n)"),
                {"s": seq, "m": current, "n": n},
            )
            return top - n + 1
    return current + 1


def _reserve_numbers(conn: Connection, per_day: dict[str, int]) -> dict[str, int]:
    """Advance ticket_sequences by each day's count; the first number of each day's block."""
    dialect = conn.dialect.name
    ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(TicketSequence)
    first = {}
    for day, n in sorted(per_day.items()):
        if n <= 0:
            continue
        conn.execute(ins.values(day=day, last=0).on_conflict_do_nothing(index_elements=["day"]))
        conn.execute(update(TicketSequence).where(TicketSequence.day == day).values(last=TicketSequence.last + n))
        last = conn.scalar(select(TicketSequence.last).where(TicketSequence.day == day))
        first[day] = last - n + 1
    return first


class _Lifecycle:
    """One ticket's state while its path is replayed; `to` mirrors TicketService._apply.

    Times are positions on the Timeline (working seconds), so differences are working seconds.
    Audit events are kept as tuples (at, actor, action, field, before, after, note): all of
    them when `full`, else only the latest status change.
    """

    __slots__ = (
        "wc",
        "full",
        "status",
        "paused_at",
        "paused_ws",
        "due_off",
        "resolved_w",
        "res_wsecs",
        "fr_w",
        "reason",
        "last_w",
        "followup",
        "amount",
        "events",
        "last_status",
    )

    def __init__(self, wc: int, due_off: int, full: bool):
        self.wc, self.full, self.due_off = wc, full, due_off
        self.status = lc.ACCEPTED
        self.paused_at = self.resolved_w = self.res_wsecs = self.fr_w = self.reason = self.last_w = None
        self.paused_ws = 0
        self.followup = False
        self.amount = None
        self.events: list[tuple] = []
        self.last_status: Optional[tuple] = None

    def event(self, at: int, actor: str, action: str, field=None, before=None, after=None, note=None) -> None:
        if self.full:
            self.events.append((at, actor, action, field, before, after, note))

    def to(self, at: int, target: str, actor: str, note: Optional[str] = None) -> None:
        before = self.status
        if before == lc.AWAITING_INFO and self.paused_at is not None:
            paused = at - self.paused_at
            self.paused_ws += paused
            self.due_off += paused  # the deadline moves by the pause
            self.paused_at = None
        if target == lc.AWAITING_INFO:
            self.paused_at = at
        elif target == lc.RESOLVED:
            self.resolved_w = at
            self.res_wsecs = max(0, at - self.wc - self.paused_ws)
        elif target == lc.CANNOT_HANDLE:
            self.reason = note
        elif target == lc.IN_PROGRESS and before in lc.FINAL_STATES:  # reopened
            self.resolved_w = self.res_wsecs = None
        if self.fr_w is None and target != lc.ACCEPTED and actor.startswith("staff:"):
            self.fr_w = at
        self.status = target
        self.last_w = at
        ev = (at, actor, "status", "status", _J[before], _J[target], note)
        self.last_status = ev
        if self.full:
            self.events.append(ev)


def _bulk_engine(db_url: str, chunk: int) -> Engine:
    """SQLite: the project's engine (BEGIN IMMEDIATE). PostgreSQL: a private engine whose psycopg2
    executemany sends one multi-row INSERT … VALUES per chunk (the default page is 1,000 rows)."""
    if db_url.startswith("postgresql"):
        return create_engine(db_url, future=True, executemany_mode="values_only", executemany_values_page_size=chunk)
    return engine_for(db_url, True)


def generate(
    db_url: str,
    *,
    enterprises: int = 500,
    year: Optional[int] = None,
    tickets: Optional[int] = None,
    seed: int = 1,
    now: Optional[datetime] = None,
    visits: Optional[int] = None,
    kb_queries: Optional[int] = None,
    events: str = "auto",
    chunk: int = CHUNK,
    sla: Optional[SlaPolicy] = None,
    router=None,
    progress: Optional[Callable[[str], None]] = None,
) -> DemoResult:
    """Write demo enterprises, visits and tickets of `year` up to `now` into `db_url` (migrated, network synced).

    tickets: total number of tickets (default 6 per enterprise and year, prorated to the period);
    visits: on-site visits in the period (default 500 a year, prorated); kb_queries: knowledge-base
    questions (default 1.5 per ticket); events: "full", "minimal" (created + final status) or
    "auto" (full up to 200,000 tickets). Deterministic for a given seed and `now`.
    """
    t_start = _time.perf_counter()
    say = progress or (lambda msg: None)
    if events not in ("auto", "full", "minimal"):
        raise ValueError("events 应为 auto、full 或 minimal")
    if enterprises < 1:
        raise DemoError("企业数量至少为 1")
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now 需要带时区")
    sla = sla or SlaPolicy.load()
    if router is None:
        router = Router.load()
    network = router.network
    tz = sla.tz
    year = year or now.astimezone(tz).year
    year_start = datetime(year, 1, 1, tzinfo=tz)
    year_end = datetime(year + 1, 1, 1, tzinfo=tz)
    if now <= year_start:
        raise DemoError(
            f"{year} 年还没有开始（当前时间 {now.astimezone(tz):%Y-%m-%d %H:%M}），无法生成该年的历史数据；可用 --now 指定“当前时间”"
        )
    until = min(now, year_end)
    rng = random.Random(seed)

    # Deadlines and late resolutions reach into the next year; chinese_calendar may not know it
    # yet (Mon–Fri is then assumed, as SlaPolicy does), which is no news while generating.
    sla_log = logging.getLogger("bot.tickets.sla")
    sla_level = sla_log.level
    sla_log.setLevel(logging.ERROR)
    try:
        tl = Timeline(sla, date(year, 1, 1), date(year + 1, 12, 31))
    finally:
        sla_log.setLevel(sla_level)
    day = tl.day
    w_start = tl.w_of(year_start)
    w_until = tl.w_of(until)  # tickets are created before this
    w_now = tl.w_of(now)  # lifecycle events happen up to this
    w_cap = tl.end_w - 1
    k_first = w_start // day
    k_last = (w_until - 1) // day if w_until > w_start else k_first
    if w_until <= w_start:
        raise DemoError(f"{year} 年在 {until.astimezone(tz):%Y-%m-%d %H:%M} 之前还没有工作时间，无法生成工单")
    span_days = range(k_first, k_last + 1)
    year_days = sum(1 for d in tl.days if d.year == year)
    share = (w_until - w_start) / (year_days * day)
    n_tickets = tickets if tickets is not None else max(1, round(TICKETS_PER_ENTERPRISE * enterprises * share))
    n_visits = visits if visits is not None else round(VISITS_PER_YEAR * share)
    n_kb = kb_queries if kb_queries is not None else round(KB_PER_TICKET * n_tickets)
    mode = events if events != "auto" else ("full" if n_tickets <= FULL_EVENTS_MAX else "minimal")
    full = mode == "full"

    engine = _bulk_engine(db_url, chunk)
    try:
        with engine.begin() as conn:
            node_rows = {r.id: r for r in conn.execute(select(ServiceNode.id, ServiceNode.name, ServiceNode.active))}
            if not node_rows:
                raise DemoError("数据库中没有服务网络节点，请先运行 migrate 和 sync_network")
            missing = [n.id for n in network if n.id not in node_rows]
            if missing:
                raise DemoError("数据库中缺少服务节点 " + "、".join(missing[:5]) + "，请先运行 sync_network")
            if conn.dialect.name == "sqlite":
                # One big transaction: with SQLite's default 2 MB page cache the index pages of a
                # million tickets are spilled to the WAL and read back over and over (I/O-bound, 2×
                # slower). SQLite files are not pooled (NullPool): the setting ends with the connection.
                conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            w = _Writer(conn, chunk)
            created_base = year_start.astimezone(UTC)

            # -- staff: three per active node (reused when a previous demo run created them) -----------
            active_nodes = [n for n in network.topological() if node_rows[n.id].active]
            wanted = [
                (n.id, f"demo-{n.id}-{i}", "lead" if i == 1 else "staff") for n in active_nodes for i in (1, 2, 3)
            ]
            existing_staff = {
                r.username: r.id
                for r in conn.execute(select(Staff.username, Staff.id).where(Staff.username.like("demo-%")))
            }
            new_staff = [x for x in wanted if x[1] not in existing_staff]
            sid = _reserve_ids(conn, Staff, len(new_staff))
            for node_id, username, role in new_staff:
                w.add(
                    "staff",
                    dict(
                        id=sid,
                        username=username,
                        display_name=_person_name(rng),
                        node_id=node_id,
                        role=role,
                        password_hash=None,
                        active=True,
                        failed_logins=0,
                        created_at=created_base,
                    ),
                )
                existing_staff[username] = sid
                sid += 1
            staff_of = {n.id: [existing_staff[f"demo-{n.id}-{i}"] for i in (1, 2, 3)] for n in active_nodes}
            username_of = {v: k for k, v in existing_staff.items()}

            # -- enterprises and contacts ---------------------------------------------------------------
            say(f"生成 {enterprises:,} 家企业 …")
            taken_names = set(conn.scalars(select(Enterprise.name)))
            taken_codes = set(c for c in conn.scalars(select(Enterprise.credit_code)) if c)
            taken_senders = set(s for s in conn.scalars(select(Contact.sender_id)) if s)
            parks = network.parks()
            cities = network.new_cities()
            forms, form_cum = _weighted(NAME_FORMS)
            prefixes, prefix_cum = _weighted(NAME_PREFIXES)
            channels, channel_cum = _weighted(CHANNELS)
            ent_base = _reserve_ids(conn, Enterprise, enterprises)
            ents: list[dict] = []
            contact_rows: list[dict] = []
            for i in range(enterprises):
                industry, products, park_keys = rng.choice(INDUSTRIES)
                for attempt in range(200):
                    brand_len = 2 if attempt < 50 else 3
                    brand = "".join(rng.sample(BRAND_CHARS, brand_len))
                    name = rng.choices(forms, cum_weights=form_cum)[0].format(
                        pre=rng.choices(prefixes, cum_weights=prefix_cum)[0], brand=brand, ind=industry
                    )
                    if name not in taken_names:
                        break
                else:
                    name = f"{name[:-4]}{i}有限公司"
                taken_names.add(name)
                code = generate_credit_code(rng)
                while code in taken_codes:
                    code = generate_credit_code(rng)
                taken_codes.add(code)
                r = rng.random()
                park_node = city_node = None
                if r < 0.74 and parks:
                    matching = [p for p in parks if any(k in (p.park or p.name) for k in park_keys)]
                    park_node = rng.choice(matching) if matching and rng.random() < 0.65 else rng.choice(parks)
                    city_node = network.new_city_of(park_node.id)
                elif r < 0.95 and cities:
                    city_node = rng.choice(cities)
                eid = ent_base + i
                since = created_base - timedelta(days=rng.randint(1, 720), seconds=rng.randint(0, 86_399))
                ent = dict(
                    id=eid,
                    name=name,
                    industry=industry,
                    products=products,
                    new_city=city_node.new_city if city_node else None,
                    city_name=city_node.name.replace("服务中心", "") if city_node else None,
                    park=park_node.park if park_node else None,
                    weight=rng.paretovariate(1.6),
                    contacts=[],
                )
                ents.append(ent)
                w.add(
                    "enterprises",
                    dict(
                        id=eid,
                        name=name,
                        credit_code=code,
                        new_city=ent["new_city"],
                        park=ent["park"],
                        created_at=since,
                    ),
                )
                for _ in range(rng.choices((1, 2, 3), (60, 30, 10))[0]):
                    channel = rng.choices(channels, cum_weights=channel_cum)[0]
                    while True:
                        tag = f"{rng.getrandbits(48):012x}"
                        sender = {"wechat_mp": "oQcy" + tag, "wecom": "wwqcy" + tag}.get(channel, f"{channel}-{tag}")
                        if sender not in taken_senders:
                            break
                    taken_senders.add(sender)
                    contact_rows.append(
                        dict(
                            enterprise_id=eid,
                            name=_person_name(rng),
                            mobile=_mobile(rng),
                            sender_id=sender,
                            channel=channel,
                            created_at=since,
                        )
                    )
            cid = _reserve_ids(conn, Contact, len(contact_rows))
            for row in contact_rows:
                row["id"] = cid
                ents[row["enterprise_id"] - ent_base]["contacts"].append((cid, row["sender_id"], row["channel"]))
                w.add("contacts", row)
                cid += 1
            n_contacts = len(contact_rows)
            del contact_rows
            ent_cum = _cum(e["weight"] for e in ents)

            # -- routing (cached per category and location) --------------------------------------------
            route_cache: dict[tuple, tuple[str, str]] = {}

            def route(category: str, ent: dict, level: Optional[str]) -> tuple[str, str]:
                key = (category, ent["new_city"], ent["park"], level)
                hit = route_cache.get(key)
                if hit is None:
                    res = router.route(category, new_city=ent["new_city"], park=ent["park"], policy_level=level)
                    hit = route_cache[key] = (res.node_id, res.rule)
                return hit

            def staff_for(node_id: str) -> list[int]:
                found = staff_of.get(node_id)
                if found is None:  # an inactive node's ticket: staff of the nearest active ancestor
                    for anc in network.ancestors(node_id):
                        if anc.id in staff_of:
                            return staff_of[anc.id]
                    return staff_of[network.centre.id]
                return found

            # -- day weights (seasonal, weekdays, around long holidays) ---------------------------------
            weights = []
            for k in span_days:
                d = tl.days[k]
                f = MONTH_VOLUME[d.month] * WEEKDAY_VOLUME[d.weekday()]
                gap_before = tl.ordinals[k] - tl.ordinals[k - 1] - 1 if k > 0 else 0
                gap_before2 = tl.ordinals[k - 1] - tl.ordinals[k - 2] - 1 if k > 1 else 0
                if gap_before >= 3:  # first working day after 春节 / 国庆 / a long weekend
                    f *= 0.55 if gap_before >= 5 else 0.8
                elif gap_before2 >= 5:  # second working day after a long holiday
                    f *= 0.8
                if k + 1 < len(tl.days) and tl.ordinals[k + 1] - tl.ordinals[k] - 1 >= 5:
                    f *= 0.75  # the day before a long holiday
                if k == k_last:
                    f *= max(0.0, min(1.0, (w_until - k * day) / day))
                weights.append(f)
            day_cum = _cum(weights)

            # -- visits (入企服务) and the tickets they raise ------------------------------------------
            visit_base = _reserve_ids(conn, Visit, n_visits)
            visit_ticket_p = min(0.6, 0.05 * n_tickets / n_visits) if n_visits else 0.0
            visit_tickets: dict[int, list[tuple]] = {}  # day k → [(s, ent index, visit id, staff id)]
            n_visit_tickets = 0
            for i in range(n_visits):
                k = rng.choices(span_days, cum_weights=day_cum)[0]
                s_hi = min(day, w_until - k * day) if k == k_last else day
                s = rng.randrange(max(1, s_hi))
                e_idx = (
                    rng.randrange(len(ents))
                    if rng.random() < 0.5
                    else rng.choices(range(len(ents)), cum_weights=ent_cum)[0]
                )
                ent = ents[e_idx]
                node_id, _ = route("need_policy_consult", ent, None)
                staff_id = rng.choice(staff_for(node_id))
                vid = visit_base + i
                w.add(
                    "visits",
                    dict(
                        id=vid,
                        enterprise_id=ent["id"],
                        staff_id=staff_id,
                        node_id=node_id,
                        visited_at=tl.start(k * day + s),
                        findings=rng.choice(VISIT_FINDINGS),
                        created_at=tl.moment(min(w_cap, k * day + s + 1800)),
                    ),
                )
                if n_visit_tickets < n_tickets and rng.random() < visit_ticket_p:
                    ts = s + rng.randint(1800, 7200)
                    if ts < s_hi:
                        visit_tickets.setdefault(k, []).append((ts, e_idx, vid, staff_id))
                        n_visit_tickets += 1

            # -- tickets per day and their numbers -----------------------------------------------------
            n_regular = n_tickets - n_visit_tickets
            per_day = Counter(rng.choices(span_days, cum_weights=day_cum, k=n_regular))
            day_str = {k: tl.days[k].strftime("%Y%m%d") for k in span_days}
            first_number = _reserve_numbers(
                conn, {day_str[k]: per_day.get(k, 0) + len(visit_tickets.get(k, ())) for k in span_days}
            )
            ticket_base = _reserve_ids(conn, Ticket, n_tickets)

            # -- per-category constants ----------------------------------------------------------------
            cat_cums = _month_category_cums()
            res_ws = {c: sla.resolution_days(c) * day for c in NEED_INTENTS}
            res_mu = {c: math.log(RESOLUTION_SHARE.get(c, RESOLUTION_SHARE_DEFAULT)) for c in NEED_INTENTS}
            content = {c: BY_INTENT[c].content for c in NEED_INTENTS}
            warn_ws = int(sla.warning_before_hours * 3600)
            prio, prio_cum = _weighted(PRIORITIES)
            on_time_scores, on_time_cum = _weighted(RATING_SCORES_ON_TIME)
            late_scores, late_cum = _weighted(RATING_SCORES_LATE)
            reasons, reason_cum = _weighted(HANDOVER_REASONS)
            J_FALSE, J_TRUE = _json(False), _json(True)
            node_name = {nid: r.name for nid, r in node_rows.items()}
            levels = ("区", "区", "区", "市", "市", "省", None)
            rand, lognorm, randint, choice = rng.random, rng.lognormvariate, rng.randint, rng.choice

            def handover(
                w_at: int, reason: str, ent: dict, category, node_id, ticket_id, conv: str, first_text: str
            ) -> None:
                w_claim = w_at + max(20, int(lognorm(math.log(150), 0.9)))
                w_end = w_claim + max(60, int(lognorm(math.log(900), 0.7)))
                at = tl.start(w_at)
                stamp = at.replace(tzinfo=UTC).isoformat()
                transcript = json.dumps(
                    [
                        {"author": "user", "text": first_text, "at": stamp},
                        {"author": "bot", "text": "好的，正在为您转接人工服务专员，请稍候。", "at": stamp},
                    ],
                    ensure_ascii=False,
                )
                profile = json.dumps(
                    {"enterprise": ent["name"], "new_city": ent["new_city"], "park": ent["park"]}, ensure_ascii=False
                )
                claimer = choice(staff_for(node_id or network.centre.id)) if w_claim <= w_now else None
                w.add(
                    "handovers",
                    dict(
                        conversation_id=conv,
                        reason=reason,
                        category=category,
                        node_id=node_id,
                        ticket_id=ticket_id,
                        enterprise_id=ent["id"],
                        created_at=at,
                        claimed_by=claimer,
                        claimed_at=tl.moment(min(w_claim, w_cap)) if claimer else None,
                        ended_at=tl.moment(min(w_end, w_cap)) if w_end <= w_now else None,
                        transcript=transcript,
                        profile=profile,
                    ),
                )

            # -- the tickets, day by day in creation order ---------------------------------------------
            say(f"生成 {n_tickets:,} 件工单（审计事件：{'完整' if full else '仅创建和最终状态'}）…")
            moment, start_of = tl.moment, tl.start
            ent_range = range(len(ents))
            tid = ticket_base
            done = 0
            next_report = 100_000
            for k in span_days:
                count = per_day.get(k, 0)
                todays = visit_tickets.get(k, [])
                if not count and not todays:
                    continue
                s_hi = min(day, w_until - k * day) if k == k_last else day
                cats = rng.choices(NEED_INTENTS, cum_weights=cat_cums[tl.days[k].month], k=count)
                who = rng.choices(ent_range, cum_weights=ent_cum, k=count)
                items = [(rng.randrange(s_hi), cats[j], who[j], None) for j in range(count)]
                items += [(ts, choice(VISIT_CATEGORIES), e_idx, (vid, staff_id)) for ts, e_idx, vid, staff_id in todays]
                items.sort(key=itemgetter(0))
                priorities = rng.choices(prio, cum_weights=prio_cum, k=len(items))
                seq = first_number[day_str[k]]
                prefix = f"QCY-{day_str[k]}-"
                fr_due = tl.day_end(k)
                for j, (s, cat, e_idx, visit) in enumerate(items):
                    wc = k * day + s
                    created = start_of(wc)
                    ent = ents[e_idx]
                    contact_id, sender, chan = choice(ent["contacts"])
                    actor_user = "user:" + sender
                    if visit is None:
                        actor_created, visit_id, conv = actor_user, None, sender
                    else:
                        visit_id, visit_staff = visit
                        actor_created, chan, conv = "staff:" + username_of[visit_staff], "visit", None
                    level = choice(levels) if cat == "need_subsidy_redemption" else None
                    node_id, rule = route(cat, ent, level)
                    staff = staff_for(node_id)
                    lead = "staff:" + username_of[staff[0]]
                    assignee = choice(staff)
                    actor_staff = "staff:" + username_of[assignee]
                    n_ws = res_ws[cat]

                    # the planned path, in working seconds after creation
                    fr = max(60, int(lognorm(7.2, 1.0)))  # median ≈ 22 min
                    if rand() < 0.03:
                        fr += randint(1, 3) * day  # the odd slow one
                    if rand() < 0.004:  # stuck: done only after 1.5–4× the time
                        work = fr + int(n_ws * (1.5 + 2.5 * rand()))
                    else:
                        work = min(3 * n_ws, max(fr + 600, int(n_ws * lognorm(res_mu[cat], RESOLUTION_SIGMA))))
                    steps = [(fr, "assign"), (fr + max(1, min(int(lognorm(7.5, 0.8)), (work - fr) // 3)), "work")]
                    pause = 0
                    if rand() < 0.15:
                        p_at = fr + int((work - fr) * (0.1 + 0.6 * rand())) + 1
                        pause = max(600, int(lognorm(math.log(day), 0.8)))
                        steps.append((p_at, "pause"))
                        steps.append((p_at + pause, "resume"))
                    end = work + pause
                    if rand() < 0.008:
                        steps.append((fr + (end - fr) // 2 + 1, "cannot"))
                    else:
                        steps.append((end, "resolve"))
                        if rand() < 0.7:
                            steps.append((end + max(60, int(lognorm(math.log(7200), 1.2))), "rate"))
                    steps.sort(key=itemgetter(0))

                    # what happened of it up to now, as TicketService records it
                    st = _Lifecycle(wc, n_ws, full)
                    ratings_here = []
                    i_step = 0
                    while i_step < len(steps):
                        off, kind = steps[i_step]
                        i_step += 1
                        w_at = wc + off
                        if w_at > w_now or w_at > w_cap:
                            break
                        if kind == "assign":
                            st.event(w_at, lead, "assign", "assignee_id", None, str(assignee))
                            st.to(w_at, lc.ASSIGNED, lead)
                        elif kind == "work":
                            if st.status == lc.ASSIGNED:
                                st.to(w_at, lc.IN_PROGRESS, actor_staff)
                        elif kind == "pause":
                            if st.status in lc.OPEN_STATES:
                                st.to(w_at, lc.AWAITING_INFO, actor_staff, choice(AWAITING_NOTES))
                        elif kind == "resume":
                            if st.status == lc.AWAITING_INFO:
                                st.event(w_at, actor_user, "add_info", note=choice(ADD_INFO_NOTES))
                                st.to(w_at, lc.IN_PROGRESS, actor_user)
                        elif kind == "cannot":
                            st.to(w_at, lc.CANNOT_HANDLE, actor_staff, choice(CANNOT_HANDLE_REASONS))
                        elif kind == "resolve":
                            st.to(w_at, lc.RESOLVED, actor_staff)
                            if (
                                st.amount is None
                                and content[cat] == "政策兑现"
                                and (
                                    cat == "need_subsidy_redemption"
                                    and rand() < 0.9
                                    or cat in ("need_qualification", "need_project_application")
                                    and rand() < 0.25
                                )
                            ):
                                st.amount = _redeemed(rng)
                                st.event(
                                    w_at, actor_staff, "redeemed_amount", "redeemed_amount", None, f'"{st.amount}"'
                                )
                        else:  # rate / rerate
                            if kind == "rate":
                                late = st.resolved_w > wc + st.due_off
                                score = rng.choices(
                                    late_scores if late else on_time_scores,
                                    cum_weights=late_cum if late else on_time_cum,
                                )[0]
                                commented = rand() < (0.8 if score <= 2 else 0.3)
                                comment = choice(RATING_COMMENTS[score]) if commented else None
                            else:
                                score, comment = rng.choices((5, 4, 3), (40, 45, 15))[0], None
                            ratings_here.append(
                                dict(ticket_id=tid, score=score, comment=comment, created_at=moment(w_at))
                            )
                            st.to(w_at, lc.RATED, actor_user)
                            st.event(w_at, actor_user, "rating", None, None, str(score), comment)
                            if score <= 2:  # reopened, 回访, done again
                                st.to(w_at, lc.IN_PROGRESS, actor_user, f"用户评价「{RATING_LABELS[score]}」，重新办理")
                                st.followup = True
                                st.event(w_at, "system", "followup", "followup_required", J_FALSE, J_TRUE)
                                again = w_at + randint(day // 2, 5 * day)
                                steps.append((again - wc, "resolve"))
                                if rand() < 0.5:
                                    steps.append((again - wc + randint(600, day), "rerate"))
                                steps.sort(key=itemgetter(0))

                    # SLA marks: the pre-breach warning, escalation past the deadline
                    status = st.status
                    due_w = wc + st.due_off
                    end_w = (
                        st.resolved_w
                        if status in lc.CLOSED_STATES
                        else st.last_w
                        if status == lc.CANNOT_HANDLE
                        else w_now
                    )
                    warned_at = None
                    escalation = 0
                    if end_w > due_w - warn_ws > wc:
                        warned_at = moment(min(due_w - warn_ws, w_cap))
                    if end_w > due_w:
                        escalation = 1 if end_w <= due_w + 3 * day else 2

                    w.add(
                        "tickets",
                        dict(
                            id=tid,
                            number=f"{prefix}{seq:04d}",
                            enterprise_id=ent["id"],
                            contact_id=contact_id,
                            category=cat,
                            service_content=content[cat],
                            node_id=node_id,
                            assignee_id=assignee if st.fr_w is not None else None,
                            status=status,
                            priority=priorities[j],
                            description=_fill(choice(DESCRIPTIONS[cat]), rng, ent, year),
                            source_channel=chan,
                            conversation_id=conv,
                            visit_id=visit_id,
                            created_at=created,
                            first_response_due=fr_due,
                            first_response_at=moment(st.fr_w) if st.fr_w is not None else None,
                            resolution_due=moment(min(due_w, w_cap)),
                            resolved_at=moment(st.resolved_w) if st.resolved_w is not None else None,
                            paused_at=moment(st.paused_at) if st.paused_at is not None else None,
                            paused_working_seconds=st.paused_ws,
                            first_response_wsecs=st.fr_w - wc if st.fr_w is not None else None,
                            resolution_wsecs=st.res_wsecs,
                            warned_at=warned_at,
                            escalation_level=escalation,
                            followup_required=st.followup,
                            reason=st.reason,
                            redeemed_amount=st.amount,
                            last_progress_push=None,
                            updated_at=moment(st.last_w) if st.last_w is not None else created,
                        ),
                    )
                    w.add(
                        "ticket_events",
                        dict(
                            ticket_id=tid,
                            at=created,
                            actor=actor_created,
                            action="created",
                            field=None,
                            before=None,
                            after=_J[lc.ACCEPTED],
                            note=f"路由规则：{rule}；受理节点：{node_name[node_id]}",
                        ),
                    )
                    for w_at, actor, action, field, before, after, note in (
                        st.events if full else (st.last_status,) if st.last_status else ()
                    ):
                        w.add(
                            "ticket_events",
                            dict(
                                ticket_id=tid,
                                at=moment(w_at),
                                actor=actor,
                                action=action,
                                field=field,
                                before=before,
                                after=after,
                                note=note,
                            ),
                        )
                    for rating in ratings_here:
                        w.add("ratings", rating)

                    if visit is None and rand() < HANDOVER_LINKED:
                        reason_h = rng.choices(reasons, cum_weights=reason_cum)[0]
                        handover(
                            max(k * day, wc - randint(60, 900)),
                            reason_h,
                            ent,
                            cat,
                            node_id,
                            tid,
                            sender,
                            HANDOVER_OPENERS[reason_h],
                        )
                    tid += 1
                    seq += 1
                    done += 1
                    if done >= next_report:
                        say(f"  {done:,} / {n_tickets:,} 件工单")
                        next_report += 100_000

            # -- handovers without a ticket ------------------------------------------------------------
            for _ in range(round(HANDOVER_OTHER * n_tickets)):
                k = rng.choices(span_days, cum_weights=day_cum)[0]
                s_hi = min(day, w_until - k * day) if k == k_last else day
                ent = ents[rng.randrange(len(ents))]
                _, sender, _ = choice(ent["contacts"])
                reason_h = rng.choices(reasons, cum_weights=reason_cum)[0]
                cat = rng.choices(NEED_INTENTS, cum_weights=cat_cums[tl.days[k].month])[0] if rand() < 0.6 else None
                node_id = route(cat or "need_policy_consult", ent, None)[0]
                handover(
                    k * day + rng.randrange(max(1, s_hi)),
                    reason_h,
                    ent,
                    cat,
                    node_id,
                    None,
                    sender,
                    HANDOVER_OPENERS[reason_h],
                )

            # -- knowledge-base questions --------------------------------------------------------------
            say(f"生成 {n_kb:,} 条知识库提问 …")
            faqs = _load_faqs()
            by_cat: dict[Optional[str], list] = {}
            for f in faqs:
                by_cat.setdefault(f[2], []).append(f)
            span_start_utc = year_start.astimezone(UTC).replace(tzinfo=None)
            span_secs = max(1, int((until - year_start).total_seconds()))
            all_cum = _cum(CATEGORY_WEIGHTS[c] for c in NEED_INTENTS)
            for _ in range(n_kb):
                if rand() < 0.7:  # office hours
                    k = rng.choices(span_days, cum_weights=day_cum)[0]
                    s_hi = min(day, w_until - k * day) if k == k_last else day
                    asked = tl.start(k * day + rng.randrange(max(1, s_hi)))
                else:  # evenings, weekends, holidays
                    asked = span_start_utc + timedelta(seconds=rng.randrange(span_secs))
                ent = ents[rng.randrange(len(ents))] if rand() < 0.6 else None
                if ent is not None:
                    _, conv, chan = choice(ent["contacts"])
                else:
                    chan = rng.choices(channels, cum_weights=channel_cum)[0]
                    conv = f"{chan}-{rng.getrandbits(48):012x}"
                r = rand()
                cat = rng.choices(NEED_INTENTS, cum_weights=all_cum)[0]
                pool = by_cat.get(cat) or faqs
                if r < 0.08 or not pool:
                    q_text, q_cat, decision, faq = choice(OFF_TOPIC), None, "unknown", None
                    score = round(rand() * 0.25, 3)
                else:
                    faq = choice(pool)
                    q_text = choice(faq[3])
                    q_cat = faq[2] if rand() < 0.9 else None
                    r2 = rand()
                    if r2 < 0.78:
                        decision, score = "answer", round(0.62 + 0.36 * rand(), 3)
                    elif r2 < 0.85:
                        decision, score = "best_guess", round(0.42 + 0.18 * rand(), 3)
                    elif r2 < 0.88:
                        decision, score = "options", round(0.3 + 0.2 * rand(), 3)
                    else:
                        decision, score, faq = "unknown", round(0.1 + 0.28 * rand(), 3), None
                helpful = feedback_at = None
                if decision == "answer" and rand() < 0.25:
                    helpful = rand() < 0.86
                    feedback_at = asked + timedelta(seconds=randint(20, 300))
                w.add(
                    "kb_queries",
                    dict(
                        asked_at=asked,
                        conversation_id=conv,
                        channel=chan,
                        text=q_text,
                        category=q_cat,
                        decision=decision,
                        faq_id=faq[1] if faq else None,
                        entry_id=faq[0] if faq else None,
                        score=score,
                        helpful=helpful,
                        feedback_at=feedback_at,
                    ),
                )
            w.flush()

        if engine.dialect.name == "postgresql":
            say("ANALYZE …")
            with engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                for name in _Writer.ORDER:
                    conn.execute(text(f"ANALYZE {name}"))

        last_moment = min(now, until).astimezone(tz)
        return DemoResult(
            enterprises=enterprises,
            contacts=n_contacts,
            staff=len(new_staff),
            visits=n_visits,
            tickets=n_tickets,
            events=w.counts["ticket_events"],
            ratings=w.counts["ratings"],
            handovers=w.counts["handovers"],
            kb_queries=w.counts["kb_queries"],
            events_mode=mode,
            first_day=f"{year}-01-01",
            last_moment=f"{last_moment:%Y-%m-%d %H:%M}",
            seconds=_time.perf_counter() - t_start,
        )
    finally:
        if engine.dialect.name == "postgresql":
            engine.dispose()


# ---- command line -----------------------------------------------------------------------------------


def _parse_now(value: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"时间格式应为 ISO 8601，例如 2026-11-25T14:00+08:00，实际为 {value!r}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone(timedelta(hours=8)))  # Beijing time when no zone is given
    return dt


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bot.tooling.demo",
        description="生成演示数据：企业、联系人、入企服务，以及某年 1 月 1 日至今（--now）的工单及其办理过程、评价、"
        "转人工和知识库提问。数据库会先迁移到最新版本并同步服务网络。",
        epilog=f"审计事件：--events auto 在工单数不超过 {FULL_EVENTS_MAX:,} 时写入完整的审计轨迹"
        "（创建、分派、每次状态变更、补充材料、评价、回访、兑现金额）；更多工单时只写“创建”和最终状态变更两条，"
        "以保证 100 万件工单几分钟内生成完毕。可用 --events full / minimal 指定。",
    )
    p.add_argument("--db", required=True, help="数据库 URL，如 sqlite:///var/demo.db 或 postgresql+psycopg2://…")
    p.add_argument("--enterprises", type=int, default=500, help="企业数量（默认 500）")
    p.add_argument("--year", type=int, default=None, help="年份（默认今年）")
    p.add_argument(
        "--tickets",
        type=int,
        default=None,
        help=f"工单总数（默认每家企业每年 {TICKETS_PER_ENTERPRISE} 件，按已过去的时间折算）",
    )
    p.add_argument("--seed", type=int, default=1, help="随机种子（默认 1；同一种子和 --now 生成相同的数据）")
    p.add_argument(
        "--now",
        type=_parse_now,
        default=None,
        help="视为“现在”的时间（ISO 8601，不带时区按北京时间；默认当前时间）：工单创建于该年年初至此，办理过程截至此刻",
    )
    p.add_argument(
        "--visits", type=int, default=None, help=f"入企服务次数（默认每年 {VISITS_PER_YEAR} 次，按比例折算）"
    )
    p.add_argument("--kb-queries", type=int, default=None, help=f"知识库提问条数（默认每件工单 {KB_PER_TICKET} 条）")
    p.add_argument(
        "--events",
        choices=("auto", "full", "minimal"),
        default="auto",
        help="审计事件：full 完整轨迹，minimal 只写创建和最终状态，auto（默认）见下文",
    )
    p.add_argument("--no-migrate", action="store_true", help="不执行数据库迁移和服务网络同步")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    if args.tickets is not None and args.tickets < 1:
        print("错误：--tickets 至少为 1", file=sys.stderr)
        return 2
    try:
        if not args.no_migrate:
            migrate(args.db)
            sync_network(args.db)
        result = generate(
            args.db,
            enterprises=args.enterprises,
            year=args.year,
            tickets=args.tickets,
            seed=args.seed,
            now=args.now,
            visits=args.visits,
            kb_queries=args.kb_queries,
            events=args.events,
            progress=lambda m: print(m, file=sys.stderr, flush=True),
        )
    except DemoError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(
            f"错误：数据库操作失败（{args.db.split('@')[-1]}）：{exc.__class__.__name__}: {str(exc).splitlines()[0]}",
            file=sys.stderr,
        )
        return 1
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
