"""The details a user volunteers in one free chat message.

People do not answer forms, they write sentences: "我叫李娜，手机 138 0000 1234，西安云图生物科技
有限公司，在空港新城，需要找律所做股权架构梳理". Whatever they already said must be used and only
confirmed (design.md §6 "nothing asked twice"), so `extract` reads every detail it can find in
one message: company, contact name, mobile (or a number that was clearly meant as one but is not
valid), credit code (only a valid one), new city / park, and the company figures the policy check
needs (employees, R&D staff, revenue, R&D expense, founding, patents, software copyrights).

`expecting` is the slot the bot just asked for: then a bare answer ("李娜", "云图生物", "空港")
counts too; without it only details announced by their context are taken, so a need description
never turns into a company or a person. A bare answer is never a reply to the question ("好的", "取消",
"没有", "ok", a question of its own): telling one is bot.dialogue.speech's work, and speech reads details
(a yes that also gives details is no plain yes), so the caller hands speech's test in as `is_reply`
rather than details importing speech.

Everything works on the normalised text (traditional → simplified, full width → half width) with
plain regular expressions; values are cut from the same positions so ASCII keeps its case.

Decisions worth knowing:
- "我姓李" gives contact_name "李" (a bare surname): the form needs something to address the user
  by, we do not know whether 先生 or 女士 fits, and the confirmation summary shows it so the user
  can correct it. Only a known surname counts, and only when no full name is in the message.
- A contact name keeps the title the user gave ("张经理", "王总"), like staff would write it.
- Money figures are in yuan, counts in persons / items; "成立三年" is kept as years_since_founding,
  "2019年成立" as founded_year.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Optional

from bot import clock
from bot.text import normalise, normalise_aligned
from bot.tickets import credit_code as uscc

if TYPE_CHECKING:  # pragma: no cover
    from bot.network import Network

__all__ = ["Details", "extract", "parse_amount", "NEW_CITIES", "SLOTS"]

NEW_CITIES = ("沣东", "沣西", "秦汉", "空港", "泾河")
SLOTS = ("enterprise_name", "contact_name", "contact_mobile", "ticket_location", "credit_code")

_CJK = "\u4e00-\u9fff"
_MASK = "|"  # replaces characters already used for a detail
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


@dataclass
class Details:
    """What one message told us. `figures` may hold: employees, tech_staff (persons), revenue, rd_expense
    (yuan, float), founded_year, years_since_founding, invention_patents, utility_models, software_copyrights."""

    company: Optional[str] = None
    contact_name: Optional[str] = None
    mobile: Optional[str] = None
    mobile_invalid: Optional[str] = None  # digits clearly meant as a mobile that are not a valid mainland mobile
    credit_code: Optional[str] = None  # canonical, only when valid
    new_city: Optional[str] = None  # 沣东 / 沣西 / 秦汉 / 空港 / 泾河
    park: Optional[str] = None  # park name as in the network data
    policy_level: Optional[str] = None  # 国家 / 省 / 市 / 区: the level of the policy a redemption is about
    no_location: bool = False  # "我们不在园区": the form need not ask (the centre handles it)
    figures: dict = field(default_factory=dict)

    def as_slots(self) -> dict:
        """The form slots this message fills (only the non-empty ones)."""
        location = (
            self.park or (f"{self.new_city}新城" if self.new_city else None) or ("无" if self.no_location else None)
        )
        slots = {
            "enterprise_name": self.company,
            "contact_name": self.contact_name,
            "contact_mobile": self.mobile,
            "credit_code": self.credit_code,
            "ticket_location": location,
        }
        return {k: v for k, v in slots.items() if v}


# ---- text preparation ---------------------------------------------------------------------------------


def _display(raw: str) -> str:
    """Normalised like bot.text.normalise_aligned (same length) but with ASCII letters in their typed case."""
    aligned = normalise_aligned(raw)
    out = []
    for o, a in zip(raw, aligned):
        if "a" <= a <= "z":
            h = unicodedata.normalize("NFKC", o)
            out.append(h if len(h) == 1 and h.lower() == a else a)
        else:
            out.append(a)
    return "".join(out)


class _Text:
    """The message twice, same length: `low` (for matching, masked as details are taken) and `disp` (values)."""

    def __init__(self, raw: str):
        self.disp = _display(raw or "")
        self.low = self.disp.lower()
        self._chars = list(self.low)

    @property
    def masked(self) -> str:
        return "".join(self._chars)

    def mask(self, start: int, end: int) -> None:
        for i in range(max(0, start), min(end, len(self._chars))):
            self._chars[i] = _MASK


# ---- amounts ------------------------------------------------------------------------------------------

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "壹": 1,
    "幺": 1,
    "二": 2,
    "两": 2,
    "贰": 2,
    "俩": 2,
    "三": 3,
    "叁": 3,
    "四": 4,
    "肆": 4,
    "五": 5,
    "伍": 5,
    "六": 6,
    "陆": 6,
    "七": 7,
    "柒": 7,
    "八": 8,
    "捌": 8,
    "九": 9,
    "玖": 9,
}
_SMALL_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG_UNITS = {"万": 1e4, "萬": 1e4, "亿": 1e8}
_DIGIT_CHARS = "零〇一壹二两贰俩三叁四肆五伍六陆七柒八捌九玖"
_UNIT_CHARS = "十拾百佰千仟万亿"
_NUMBER_CHARS = _DIGIT_CHARS + _UNIT_CHARS
# One numeric expression: Arabic and Chinese digits, units, "点" as decimal point, and the filler people
# put between a number and its unit ("两个亿", "三千多万", "1500余万").
AMOUNT = re.compile(
    rf"(?:\d+(?:\.\d+)?|[{_NUMBER_CHARS}]|点(?=[{_DIGIT_CHARS}\d])|个(?=[万亿])|[多余来](?=[十百千万亿]))+"
)


def _prepare_amount_text(text: str) -> str:
    t = normalise(text or "")
    t = re.sub(r"(?<=\d)[,，](?=\d{3})", "", t)  # 1,500万
    t = re.sub(r"(?<=\d)\s+(?=[\d万亿千百])", "", t)
    t = re.sub(r"(?<=[\d.])\s*w(?![a-z])", "万", t)  # 1.5w
    t = re.sub(r"(?<=[\d.])\s*k(?![a-z])", "千", t)  # 500k
    return t


def _parse_expression(expr: str) -> Optional[float]:
    """Value of one AMOUNT match, or None when it holds no number (exact decimal arithmetic: 2.3亿 is 230000000)."""
    expr = re.sub(r"个(?=[万亿])|[多余来](?=[十百千万亿])", "", expr)
    if not re.search(rf"\d|[{_DIGIT_CHARS}]", expr) and not re.match(r"[十拾百佰千仟]", expr):
        return None
    zero = Decimal(0)
    total = zero  # completed 亿 groups
    wan = zero  # completed 万 group
    section = zero  # digits × 十/百/千 inside the current 万 group
    num: Optional[Decimal] = None
    last_unit: Optional[Decimal] = None  # for the colloquial "两万五" = 25000
    after_unit = False  # the pending number came right after a unit (no 零 between)
    i = 0
    while i < len(expr):
        ch = expr[i]
        m = re.match(r"\d+(?:\.\d+)?", expr[i:])
        if m:
            num, after_unit = Decimal(m.group()), after_unit and len(m.group()) == 1
            i += len(m.group())
            continue
        if ch in _CN_DIGITS:
            d = _CN_DIGITS[ch]
            if ch in "零〇" and num is None:
                after_unit = False
            elif num is not None and not after_unit:
                num = num * 10 + d  # 二零一九
            else:
                num = Decimal(d)
        elif ch == "点":
            frac = ""
            j = i + 1
            while j < len(expr) and (expr[j].isdigit() or expr[j] in _CN_DIGITS):
                frac += expr[j] if expr[j].isdigit() else str(_CN_DIGITS[expr[j]])
                j += 1
            num = Decimal(f"{int(num or 0)}.{frac or 0}")
            after_unit = False
            i = j
            continue
        elif ch in _SMALL_UNITS:
            unit = Decimal(_SMALL_UNITS[ch])
            section += (num if num is not None else 1) * unit
            num, last_unit, after_unit = None, unit, True
        elif ch in _BIG_UNITS:
            unit = Decimal(int(_BIG_UNITS[ch]))
            if unit == 100_000_000:
                group = wan + section + (num or zero)
                total += (group or 1) * unit
                wan = zero
            else:
                group = section + (num or zero)
                wan += (group or 1) * unit
            section, num, last_unit, after_unit = zero, None, unit, True
        i += 1
    value = total + wan + section
    if num is not None:
        if after_unit and last_unit and last_unit >= 100 and num < 10:
            value += num * last_unit / 10  # 两万五, 一千五, 三百六 (a bare digit after a unit)
        else:
            value += num
    return float(value)


def parse_amount(text: str) -> Optional[float]:
    """The first number in `text`, Chinese or Arabic, with 十/百/千/万/亿 applied: "两千万" → 2e7,
    "一千五百万" → 1.5e7, "2.3亿" → 2.3e8, "1.5万" → 15000, "两万五" → 25000, "1,500万元" → 1.5e7.
    None when there is none or it is vague ("几百万", "十几个")."""
    t = _prepare_amount_text(text)
    for m in AMOUNT.finditer(t):
        before = t[m.start() - 1] if m.start() else ""
        after = t[m.end()] if m.end() < len(t) else ""
        if "几" in (before, after) or after == "数" or before == "数":
            return None
        value = _parse_expression(m.group())
        if value is not None:
            return value
    return None


# ---- credit code and mobile ---------------------------------------------------------------------------

_CODE_RUN = re.compile(r"(?<![0-9a-z])[0-9a-z]{18}(?![0-9a-z])")
_MOBILE_RUN = re.compile(r"(?<![0-9a-z.])\+?\d(?:[\d]|[ \-](?=\d))*\d(?![0-9a-z%])")
_MOBILE_CUE = re.compile(r"(?:手机|电话|联系方式|号码|手机号|联系电话|tel|phone|mobile|call)[^\d]{0,6}$")
_OTHER_NUMBER = re.compile(r"qq|微信|工单|订单|账号|帐号|邮编|传真|身份证|工号|座机|固话|卡号|编号|税号")
_AMOUNT_AFTER = re.compile(r"^\s*(?:[万亿千百元块人个名位年月日号%]|w\b|k\b)")


def _mobile_digits(run: str) -> str:
    digits = re.sub(r"\D", "", run)
    if run.startswith("+86") or (digits.startswith("86") and len(digits) == 13):
        digits = digits[2:]
    elif digits.startswith("0086") and len(digits) == 15:
        digits = digits[4:]
    return digits


def _find_mobile(tx: _Text, det: Details, expecting: Optional[str]) -> None:
    text = tx.masked
    invalid: Optional[tuple[int, int, str]] = None
    for m in _MOBILE_RUN.finditer(text):
        run = m.group()
        digits = _mobile_digits(run)
        if _MOBILE.match(digits):
            det.mobile = digits
            tx.mask(m.start(), m.end())
            return
        # "员工50 13800001234": a valid mobile inside a run that also holds other numbers.
        groups = re.split(r"[ \-]", run)
        for i in range(len(groups)):
            for j in range(len(groups), i, -1):
                if _MOBILE.match(_mobile_digits(" ".join(groups[i:j]))):
                    det.mobile = _mobile_digits(" ".join(groups[i:j]))
                    tx.mask(m.start(), m.end())
                    return
        before = text[: m.start()]
        cue = bool(_MOBILE_CUE.search(before)) and not _OTHER_NUMBER.search(before[-8:])
        looks = 10 <= len(digits) <= 12 and digits.startswith("1") and not _AMOUNT_AFTER.match(text[m.end() :])
        asked = expecting == "contact_mobile" and len(digits) >= 5
        if invalid is None and len(digits) >= 5 and (cue or looks or asked):
            invalid = (m.start(), m.end(), digits)
    if invalid is not None:
        det.mobile_invalid = invalid[2]
        tx.mask(invalid[0], invalid[1])


def _find_credit_code(tx: _Text, det: Details, expecting: Optional[str]) -> None:
    for m in _CODE_RUN.finditer(tx.masked):
        code = m.group().upper()
        if not code.isdigit() or len(set(code)) > 1:
            if uscc.is_valid(code):
                det.credit_code = uscc.normalise(code)
                tx.mask(m.start(), m.end())
                return
    if expecting == "credit_code":
        squeezed = re.sub(r"[^0-9a-z]", "", re.sub(r"[^\x00-\x7f]", "", tx.masked))
        if len(squeezed) == 18 and uscc.is_valid(squeezed.upper()):
            det.credit_code = uscc.normalise(squeezed)
            idx = [i for i, c in enumerate(tx.masked) if c.isascii() and c.isalnum()]
            tx.mask(idx[0], idx[-1] + 1)


# ---- company ------------------------------------------------------------------------------------------

_CO_SUFFIXES = (
    "合伙企业(有限合伙)",
    "(有限合伙)",
    "股份有限公司",
    "有限责任公司",
    "集团有限公司",
    "有限公司",
    "合伙企业",
    "集团",
    "研究院",
    "研究所",
    "事务所",
    "工作室",
    "中心",
    "公司",
    "合作社",
    "商行",
    "门诊部",
    "医院",
    "协会",
    "商会",
    "基金会",
    "厂",
)
_CO_SUFFIX_RE = re.compile("|".join(re.escape(s) for s in sorted(_CO_SUFFIXES, key=len, reverse=True)))
_CO_NOT_SUFFIX = re.compile(
    r"厂(?:房|区|家|商|址|长|里)|心(?:城|区|思|点|理)|司(?:法|章|规|务)|团(?:化|购|队|体|建)"
    r"|所(?:以|有|在|谓|得|属)|室(?:内|外)|院(?:士|校|子|内|外)|行(?:业|为|动|政|长)"
)
_STRONG_SUFFIXES = ("有限公司", "有限责任公司", "股份有限公司", "集团有限公司", "(有限合伙)", "合伙企业(有限合伙)")
_CO_CHAR = re.compile(rf"[{_CJK}a-z0-9()·&]")
# Where the name starts: after the last of these inside the run ("我们公司叫|西安…", "我在|西安…").
_CO_CUT = re.compile(
    r"想和|要和|准备和|打算和|想与|要与|想跟|要跟|委托|改为|改成|换成|更正为|修改为|更改为|应该是|应为"
    r"|正确的是|我们公司|我们企业|我们单位|我们是|我们|我司|本公司|咱们|咱|公司名称|企业名称|单位名称|公司名字"
    r"|企业名字|公司全称|企业全称|名称|全称|名字|叫做|叫|是|在(?!线)|来自|属于|的|了|:|称为|名为"
    r"|找|对接|联系|注册|成立|推荐|介绍|一家|一个|这家|那家|哪家|几家|某家|这种|那种|一些|有些|我"
)
_CO_TARGET = {
    "对接",
    "联系",
    "找",
    "推荐",
    "介绍",
    "想和",
    "要和",
    "准备和",
    "打算和",
    "想与",
    "要与",
    "想跟",
    "要跟",
    "委托",
}
_CO_QUANTIFIER = re.compile(r"一家|一个|这家|那家|哪家|几家|某家|一些|有些|这种|那种")
_CO_GENERIC = {
    "投资",
    "律师",
    "会计",
    "会计师",
    "税务师",
    "担保",
    "保险",
    "咨询",
    "代理",
    "中介",
    "评估",
    "科技",
    "贸易",
    "物流",
    "软件",
    "互联网",
    "上市",
    "子",
    "母",
    "分",
    "总",
    "空壳",
    "外资",
    "国有",
    "民营",
    "私营",
    "新",
    "专利",
    "商标",
    "知识产权",
    "检测",
    "认证",
    "培训",
    "服务",
    "政务",
    "办事",
    "客服",
    "研发",
    "运营",
    "技术",
    "数据",
    "创新",
    "孵化",
    "会展",
    "商务",
    "市民",
    "综合",
    "新城",
    "管理",
    "财务",
    "人力",
    "设计",
    "法律",
    "金融",
    "融资",
    "银行",
    "基金",
    "券商",
    "证券",
    "信托",
    "小贷",
    "贷款",
    "租赁",
    "广告",
    "自己",
    "本",
    "贵",
    "你们",
    "他们",
    "咱们",
    "我们",
    "什么",
    "这个",
    "那个",
    "某",
    "大",
    "小",
    "好",
    "高新",
    "高科技",
    "科研",
    "工程",
    "建筑",
    "装修",
    "家",
    "这家",
    "那家",
    "其他",
    "别的",
    "同一",
}


def _company_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of company names in the normalised, masked text."""
    found: list[tuple[int, int]] = []
    for m in _CO_SUFFIX_RE.finditer(text):
        suffix = m.group()
        if _CO_NOT_SUFFIX.match(text, m.end() - 1):
            continue  # "建厂房", "中心城区", "公司法": the suffix is the start of another word
        start = m.start()
        while start > 0 and _CO_CHAR.match(text[start - 1]):
            start -= 1
        body = text[start : m.start()]
        cuts = list(_CO_CUT.finditer(body))
        if cuts:
            last = cuts[-1]
            if _CO_QUANTIFIER.fullmatch(last.group()) and suffix not in _STRONG_SUFFIXES:
                continue  # "找一家投资公司": a kind of company, not theirs
            if any(c.group() in _CO_TARGET for c in cuts):
                continue  # "帮我们对接西安某某律师事务所": the company they want, not theirs
            body = body[last.end() :]
        body = body.lstrip("()·&")
        body = re.sub(r"^(?:公司|企业|单位)(?=[\u4e00-\u9fff]{4,})", "", body)  # "公司西安微纳光电科技有限公司"
        body = re.sub(r"^(?:沣东|沣西|秦汉|空港|泾河)新城(?:的|里|内)?", "", body)
        start = m.start() - len(body)
        if len(body) < 2 or body in _CO_GENERIC or len(body) + len(suffix) > 40:
            continue
        if not re.search(rf"[{_CJK}a-z]", body):
            continue
        if suffix not in _STRONG_SUFFIXES:
            if "服务中心" in text[start : m.end()] or re.search(r"(?:新城|园区|窗口)$", body):
                continue
        found.append((start, m.end()))
    # "…集团有限公司": keep the longest of overlapping spans.
    found.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    out: list[tuple[int, int]] = []
    for s in found:
        if out and s[0] < out[-1][1]:
            if s[1] > out[-1][1]:
                out[-1] = (out[-1][0], s[1])
            continue
        out.append(s)
    return out


_BARE_FILLER = re.compile(
    r"^(?:(?:我们|我|咱们)?(?:的)?(?:公司|企业|单位)?(?:的)?(?:全称|名称|名字)?(?:是|叫|叫做|为|:)+"
    r"|我们是|我们|我是|我在|在|是|叫|就是)+"
)


def _bare_company(tx: _Text, det: Details, is_reply: Callable[[str], bool]) -> None:
    """The answer to "企业名称？" when it has no legal suffix ("云图生物"); never a reply ("好的", "取消", "没有")."""
    text = tx.masked
    for piece in re.finditer(r"[^,，。.!！?？;；、\s|]+", text):
        clause = piece.group()
        stripped = _BARE_FILLER.sub("", clause)
        offset = piece.start() + (len(clause) - len(stripped))
        stripped = re.sub(r"(?:的|啊|呀|哦|吧|呢|哈|了)+$", "", stripped)
        if not 2 <= len(stripped) <= 40 or not re.search(rf"[{_CJK}a-z]", stripped):
            continue
        if re.match(r"(?:做|搞|从事|主要|负责|开|办|想|要|需要|请|帮|麻烦)", stripped) or stripped in _CO_GENERIC:
            continue
        if is_reply(clause):
            continue
        det.company = tx.disp[offset : offset + len(stripped)].strip()
        tx.mask(offset, offset + len(stripped))
        return


# ---- location -----------------------------------------------------------------------------------------

_CITY_RE = re.compile(r"(沣东|沣西|秦汉|空港|泾河)(?:新城)?")
_PLACE_RE = re.compile(r"陕西省?|西安市?|咸阳市?|西咸新区|西咸|宝鸡|渭南|铜川|延安|榆林|汉中|安康|商洛|北京|上海|深圳")


_NOT_THERE = re.compile(r"(?:不在|不是|不属于|并非|没在)(?:沣东|沣西|秦汉|空港|泾河)(?:新城)?")


def _find_location(tx: _Text, det: Details, network: Optional["Network"], expecting: Optional[str]) -> None:
    for m in _NOT_THERE.finditer(tx.masked):  # "我们不在沣西，在沣东"
        tx.mask(m.start(), m.end())
    text = tx.masked.replace(_MASK, " ")
    if network is not None:
        park = network.find_park(text)
        if park is None and expecting == "ticket_location":
            for piece in re.split(r"[,，。.!！?？;；、\s]+", text):
                piece = re.sub(r"^(?:我们|我|公司|企业)?(?:在|是|位于|属于)?", "", piece)
                piece = re.sub(r"(?:的|里|内|这边|那边|园区)?$", "", piece)
                if len(piece) >= 2:
                    park = network.find_park(piece)
                    if park is not None:
                        break
        if park is not None:
            det.park = park.park or park.name
            city = network.new_city_of(park.id)
            det.new_city = city.new_city if city is not None else park.new_city
        else:
            city = network.find_new_city(text)
            if city is not None and city.new_city in NEW_CITIES:
                det.new_city = city.new_city
    if det.new_city is None:
        cities = {m.group(1) for m in _CITY_RE.finditer(text)}
        if len(cities) == 1:
            det.new_city = cities.pop()
    for m in _CITY_RE.finditer(text):
        tx.mask(m.start(), m.end())
    for m in _PLACE_RE.finditer(tx.masked):
        tx.mask(m.start(), m.end())


# ---- contact name -------------------------------------------------------------------------------------

_COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "诸葛",
    "上官",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "长孙",
    "令狐",
    "宇文",
    "夏侯",
    "轩辕",
    "端木",
    "司徒",
    "南宫",
    "独孤",
    "西门",
    "钟离",
    "澹台",
    "呼延",
    "万俟",
    "赫连",
)
# Common surnames; characters that are also everyday function words (于 和 原 都 来 国 公 平 成 时 …) are left
# out so that "我是来咨询的" is not a name.
_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
    "向汤常温康施牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕"
    "单季裴霍涂苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳穆农司卓古吉缪简车项连芦麦褚娄"
    "窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂佟臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟"
    "邝官封谈匡鞠惠荆乐冀郁胥班储栗燕楚鄢劳谌奚皮粟冼蔺楼闻厉伊仝郜阚权帅屠朴盖练廉禹井祖漆巴丰支卿狄"
    "计索宣晋相初扈晁芮阙浦戈伏鹿薄邸雍辜羊裘亓邰赫杭况宿逯隆茹诸慕危亢嵇湛宾戎勾茅揭尉冶檀衣昝幸衡富尧"
    "闭郗蔚冼沃宓琚毋蓟岳钮龙靖汝钭禄酆滑"
)
_TITLES = (
    "总经理",
    "副总",
    "经理",
    "总监",
    "主任",
    "主管",
    "老师",
    "先生",
    "女士",
    "小姐",
    "教授",
    "博士",
    "部长",
    "院长",
    "所长",
    "处长",
    "科长",
    "书记",
    "律师",
    "会计",
    "秘书",
    "助理",
    "老板",
    "董事长",
    "董事",
    "总",
    "工",
    "姐",
    "哥",
)
_NOT_NAMES = {
    "我们",
    "公司",
    "企业",
    "单位",
    "老板",
    "经理",
    "总经理",
    "负责人",
    "财务",
    "法人",
    "本人",
    "自己",
    "客户",
    "老师",
    "领导",
    "同事",
    "员工",
    "专员",
    "工作人员",
    "股东",
    "董事长",
    "总监",
    "主任",
    "先生",
    "女士",
    "小姐",
    "人事",
    "行政",
    "前台",
    "会计",
    "出纳",
    "这边",
    "那边",
    "你们",
    "他们",
    "大家",
    "朋友",
    "不知道",
    "没有",
    "什么",
    "哪位",
    "高企",
    "科小",
    "高新",
    "专利",
    "商标",
    "软著",
    "政策",
    "补贴",
    "项目",
    "需求",
    "创始人",
    "合伙人",
    "总裁",
    "老总",
    "管理员",
    "联系人",
    "对接人",
    "申请人",
    "经办人",
    "秦创原",
    "原上",
}
# Characters that do not occur in a given name but do in the words people put after one.
_NOT_IN_NAME = set(
    "的了是在有和与及或也都就还要想做办请帮您你我他她它们这那哪什么吗呢吧啊呀哦嗯个家企业司区市省县"
    "园厂局部院所处室队城港村镇街路号楼层电话手机号码联系微信邮箱负责公来自需找对接登记申报咨询问题"
    "谢好对行没不"
)
_VERBISH = set("改换修错删补填写选下")  # in "联系人改一下"; allowed only after a known surname ("欧阳修")
_NAME_STOP = re.compile(
    r"手机|电话|联系|号码|微信|邮箱|我们|我|公司|企业|来自|在|的|是|负责|想|要|需|请|帮|麻烦|就|"
    r"吧|呢|啊|呀|哦|哈|今年|现在|目前|这边|那边|和|跟|先生|女士|经理|总|老师|主任|,|。"
)
# Strong cues: whatever 2-4 characters follow is the name (no surname check).
_STRONG_NAME_CUE = re.compile(
    r"(?:称呼我|叫我|我叫|(?<![\u4e00-\u9fff])叫|我的名字是|我的名字叫|名字是|名字叫|名字:|姓名是|姓名为|姓名:|姓名|我名叫|鄙人|本人姓名"
    r"|联系人是|联系人为|联系人:|联系人|对接人是|对接人:|对接人|负责人是|负责人:|称呼我|叫我"
    r"|经办人是?|经办人:)[:\s]*"
)
# Weak cues: only a known surname (with a given name or a title) counts.
_WEAK_NAME_CUE = re.compile(
    r"(?:我是[^,，。]{2,30}?的|(?:我们|我)的|我是|这边是|我这边是|本人是|本人|请找|找|联系|(?:公司|企业|单位|这边)的)"
    r"[:\s]*"
)
_SURNAME_ONLY = re.compile(r"(?:我姓|免贵姓|本人姓|鄙人姓|贵姓)([" + _CJK + r"]{1,2}?)(?=[,，。.!！\s|]|$|的|名|叫|,)")


def _surname_len(s: str) -> int:
    """Length of the surname at the start of s (2 for 欧阳…, 1 for 王…), 0 if none."""
    if s[:2] in _COMPOUND_SURNAMES:
        return 2
    return 1 if s[:1] in _SURNAMES else 0


def _valid_name(cand: str, strict: bool) -> Optional[str]:
    if not cand or cand in _NOT_NAMES:
        return None
    title = next((t for t in _TITLES if cand.endswith(t) and len(cand) > len(t)), "")
    stem = cand[: len(cand) - len(title)] if title else cand
    if stem in _NOT_NAMES:
        return None
    if stem[:1] in "小老" and len(stem) == 2 and not title:  # 小王, 老李
        return cand if _surname_len(stem[1:]) else None
    s = _surname_len(stem)
    given = stem[s:] if s else stem[1:]
    if any(ch in _NOT_IN_NAME for ch in given) or (not s and any(ch in _VERBISH for ch in stem)):
        return None
    if strict and not s:
        return None
    if title:
        ok = len(given) <= 2
    else:
        ok = 1 <= len(given) <= 2 or (not strict and len(stem) in (2, 3))
    return cand if ok and 2 <= len(cand) <= 6 else None


def _name_at(text: str, pos: int, strict: bool) -> tuple[Optional[str], int]:
    run = re.match(rf"[{_CJK}]{{1,8}}", text[pos:])
    if not run:
        return None, 0
    cand = run.group()
    for stop in _NAME_STOP.finditer(cand):
        if stop.start() >= 1:
            # a title right after the surname or name is part of it and ends it ("张经理对接")
            title = next((t for t in _TITLES if cand.startswith(t, stop.start())), "")
            if title and _surname_len(cand) and stop.start() <= 3:
                cand = cand[: stop.start() + len(title)]
                break
            cand = cand[: stop.start()]
            break
    if len(cand) > 4 and not any(cand.endswith(t) for t in _TITLES):
        return None, 0
    name = _valid_name(cand, strict)
    return name, len(cand) if name else 0


# A role between the cue and the name: "我是财务刘芳", "我是人事部的张伟", "联系人：项目经理王磊".
_ROLE = re.compile(
    r"(?:财务|人事|行政|法务|采购|销售|市场|技术|研发|综合|办公室|总经办|HR|hr)(?:部门?|中心)?(?:的)?"
    r"(?:负责人|经理|主管|总监|专员)?(?:的)?|项目经理|技术负责人|负责人"
)


_ENGLISH_NAME = re.compile(
    r"(?:联系人|对接人|我是|我叫|称呼我)[:\s]*([a-z][a-z'\-]{1,15}(?: ?[\u4e00-\u9fff]{1,2})?)"
    r"(?=$|[\s,，。;；|]|\d)"
)


def _find_name(tx: _Text, det: Details, expecting: Optional[str], is_reply: Optional[Callable[[str], bool]]) -> None:
    text = tx.masked
    m = _ENGLISH_NAME.search(text)
    if m and m.group(1).split()[0] not in {"ok", "hi", "hello", "the", "we", "our", "a"}:
        det.contact_name = tx.disp[m.start(1) : m.end(1)]
        tx.mask(m.start(1), m.end(1))
        return
    for cue, strict in ((_STRONG_NAME_CUE, False), (_WEAK_NAME_CUE, True)):
        for m in cue.finditer(text):
            start = m.end()
            role = _ROLE.match(text, start)
            for at in [role.end(), start] if role else [start]:
                name, length = _name_at(text, at, strict)
                if name:
                    det.contact_name = tx.disp[at : at + length]
                    tx.mask(at, at + length)
                    return
    if expecting == "contact_name":
        for piece in re.finditer(r"[^,，。.!！?？;；、\s|:]+", text):
            clause = re.sub(r"(?:就行|就好|就可以|吧|啊|呀|哦|哈|了|呢|哈)+$", "", piece.group())
            if re.fullmatch(rf"[{_CJK}]{{2,6}}", clause):
                name = _valid_name(clause, strict=True)
                if name:
                    det.contact_name = tx.disp[piece.start() : piece.start() + len(clause)]
                    tx.mask(piece.start(), piece.start() + len(clause))
                    return
        whole = text.replace(_MASK, " ").strip(" ,，.。")
        if (
            is_reply is not None  # "ok", "no", "cancel" are no names
            and re.fullmatch(r"[a-z][a-z.'\-]*(?: [a-z][a-z.'\-]*){0,3}", whole)
            and len(whole) <= 30
            and not is_reply(whole)
        ):
            start = text.index(whole)
            det.contact_name = tx.disp[start : start + len(whole)]
            return
    m = re.search(r"(?:my name is|name:)\s*([a-z][a-z'\-]*(?: [a-z][a-z'\-]*)?)(?=$|[\s,.;!|，。])", text)
    if m:
        det.contact_name = tx.disp[m.start(1) : m.end(1)]
        return
    m = _SURNAME_ONLY.search(text)
    if m and _surname_len(m.group(1)) == len(m.group(1)):
        det.contact_name = m.group(1)


# ---- figures ------------------------------------------------------------------------------------------

_N = rf"(?:\d+(?:\.\d+)?|[{_NUMBER_CHARS}]+)"  # a number, Arabic or Chinese
_MONEY = rf"((?:\d+(?:\.\d+)?|[{_NUMBER_CHARS}点个多余来])+)\s*(元|块|万元|亿元)?"
_GAP = r"[^0-9,，。;；!?！？|" + _NUMBER_CHARS + r"]{0,8}?"
_PERSONS = rf"({_N})\s*(?:个人|人|名|位)"


def _money(expr: str, unit: Optional[str]) -> Optional[float]:
    if "几" in expr:
        return None
    if not re.search(r"[万亿千]", expr + (unit or "")) and not unit:
        return None
    value = parse_amount(expr + (unit or "").replace("元", ""))
    return value


def _first_money(text: str, keyword: str) -> Optional[float]:
    for m in re.finditer(rf"(?:{keyword}){_GAP}{_MONEY}", text):
        if re.match(r"\s*(?:个人|人|名|位|个(?![万亿])|项|件|%|年)", text[m.end() :]):
            continue
        value = _money(m.group(1), m.group(2))
        if value is not None:
            return value
    for m in re.finditer(rf"{_MONEY}(?:的|左右的?|多的?)?(?:{keyword})", text):
        if text[max(0, m.start() - 1) : m.start()] in ("几", "数", "好"):
            continue
        value = _money(m.group(1), m.group(2))
        if value is not None:
            return value
    return None


def _count(expr: str) -> Optional[int]:
    value = parse_amount(expr)
    return int(value) if value is not None and value == int(value) else None


_TECH = r"研发人员|研发|科技人员|技术人员|科研人员|技术|工程师|研究人员"
_REVENUE = r"营收|营业收入|营业额|销售收入|销售额|年收入|主营业务收入|主营收入|收入|产值|年销售|流水|年营收"
_RD = r"研发投入|研发费用|研发支出|研发经费|研发投资|研发成本|研发"


def _find_figures(text: str) -> dict:
    m: Optional[re.Match[str]]
    t = _prepare_amount_text(text.replace(_MASK, "，"))
    figures: dict[str, Any] = {}
    # persons: R&D staff first, the rest (not preceded by an R&D word) is the headcount
    tech_spans: list[tuple[int, int]] = []
    for m in re.finditer(
        rf"(?:{_TECH})(?:人员)?(?:有|约|大概|大约|差不多|:|是|占|共)?\s*({_N})\s*(?:个人|个|人|名|位)(?![万亿千百元块])",
        t,
    ):
        n = _count(m.group(1))
        if n is not None and "几" not in m.group(0):
            figures.setdefault("tech_staff", n)
            tech_spans.append(m.span())
    for m in re.finditer(rf"({_N})\s*(?:个|名|位)?(?:{_TECH})(?:人员)?", t):
        if "tech_staff" not in figures and re.search(r"[个名位]|人员", m.group(0)):
            n = _count(m.group(1))
            if n is not None:
                figures["tech_staff"] = n
                tech_spans.append(m.span())
    for m in re.finditer(_PERSONS, t):
        if any(s <= m.start() < e for s, e in tech_spans):
            continue
        before = t[max(0, m.start() - 6) : m.start()]
        if re.search(rf"(?:{_TECH})(?:人员)?[^,，。;；]*$", before) or re.search(r"几", m.group(0)):
            continue
        if re.match(r"\s*(?:次|天|年)", t[m.end() :]):
            continue
        n = _count(m.group(1))
        if n is not None and n > 0:
            figures.setdefault("employees", n)
            break
    revenue = _first_money(t, _REVENUE)
    if revenue is not None:
        figures["revenue"] = revenue
    rd = _first_money(t, _RD)
    if rd is not None:
        figures["rd_expense"] = rd
    day = founding_date(t)
    m = re.search(r"((?:19|20)\d{2})\s*年?\s*(?:的时候)?(?:成立|注册|创立|创办|成立的|注册的)", t) or re.search(
        r"(?:成立|注册|创立|创办)(?:于|在|时间|时间是|是)?\s*((?:19|20)\d{2})", t
    )
    if day is not None:
        figures["registered_on"], figures["founded_year"] = day.isoformat(), day.year
    elif m:
        figures["founded_year"] = int(m.group(1))
    else:
        m = re.search(
            rf"(?:成立|注册|创立|创办|公司)(?:了|有|快|才|已经|刚|刚刚|大概|差不多|将近)*\s*({_N}|半)\s*(?:多|个)?\s*年(半)?",
            t,
        )
        if m and "几" not in m.group(0):
            years = 0.5 if m.group(1) == "半" else parse_amount(m.group(1))
            if years is not None and years < 200:
                years += 0.5 if m.group(2) else 0
                figures["years_since_founding"] = int(years) if years == int(years) else years
        else:
            rel = re.search(r"(今年|去年|前年)(?:刚)?(?:成立|注册|创立|创办)", t)
            if rel:
                figures["years_since_founding"] = {"今年": 0, "去年": 1, "前年": 2}[rel.group(1)]
    figures.update(_yearly_money(t))
    for key, word in (
        ("total_assets", r"资产总额|总资产|资产规模|资产"),
        ("taxable_income", r"应纳税所得额|应税所得|纳税所得额|所得额|利润总额|净利润|利润|盈利"),
    ):
        value = _first_money(t, word)
        if value is not None:
            figures[key] = value
    figures.update(_shares(t))
    industry = _industry(t)
    if industry:
        figures["industry"] = industry
    if _NO_IP.search(t):
        figures["ip_none"] = True
    for key, word in (
        ("invention_patents", r"发明专利"),
        ("utility_models", r"实用新型(?:专利)?"),
        ("software_copyrights", r"软件著作权|软著|软件版权|计算机软件著作权"),
    ):
        m = re.search(rf"({_N})\s*(?:个|项|件|篇|份)?\s*(?:授权的?|已授权的?)?(?:{word})", t)
        if m is None or "几" in m.group(0):
            m = re.search(
                rf"(?:{word})(?:授权)?(?:有|共|:|是|约|大概|已有|已经有|拿到|)?\s*({_N})\s*(?:个|项|件|篇|份)?", t
            )
        if m and "几" not in m.group(0):
            n = _count(m.group(1))
            if n is not None:
                figures[key] = n
    return figures


# Several accounting years in one message: "去年营收2000万，前年1500万", "2024年收入3000万研发300万，2023年…".
_YEAR_MARK = re.compile(r"大前年|前年|去年|今年|((?:19|20)\d{2})\s*年(?:度|的)?")
_RELATIVE_YEARS = {"今年": 0, "去年": 1, "前年": 2, "大前年": 3}
_BARE_MONEY = re.compile(rf"^[^0-9{_NUMBER_CHARS}]{{0,6}}?{_MONEY}")


def _this_year() -> int:

    return clock.today().year


DATE = re.compile(r"((?:19|20)\d{2})\s*[年./\-]\s*(\d{1,2})\s*[月./\-]\s*(\d{1,2})\s*[日号]?")
_FOUNDING_WORD = r"(?:成立|注册|创立|创办|设立)"


def a_date(text: str) -> Optional[date]:
    """The first calendar date written out in the text ("2025年3月15日", "2025-03-15", "2025.3.15"), if real."""
    m = DATE.search(text)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def founding_date(text: str) -> Optional[date]:
    """A registration date stated as such: "2025年3月15日注册的", "成立日期是2025-03-15" (a bare date may be
    anything — a deadline, a meeting — so a founding word must be next to it)."""
    m = DATE.search(text)
    if not m:
        return None
    before, after = text[max(0, m.start() - 8) : m.start()], text[m.end() : m.end() + 6]
    if re.search(_FOUNDING_WORD + r"[^，。,；;]{0,5}$", before) or re.match(r"\s*(?:的时候)?" + _FOUNDING_WORD, after):
        return a_date(m.group(0))
    return None


def _yearly_money(t: str) -> dict:
    """revenue_years / rd_expense_years ({"2025": yuan, …}) when money of two or more years is given; a year's
    amount without its own keyword continues the previous one ("去年营收2000万，前年1500万")."""
    marks = list(_YEAR_MARK.finditer(t))
    if len(marks) < 2:
        return {}
    revenue: dict[str, float] = {}
    rd: dict[str, float] = {}
    last_kind: Optional[str] = None
    for i, m in enumerate(marks):
        seg = t[m.end() : marks[i + 1].start() if i + 1 < len(marks) else len(t)]
        year = int(m.group(1)) if m.group(1) else _this_year() - _RELATIVE_YEARS[m.group()]
        rev, spent = _first_money(seg, _REVENUE), _first_money(seg, _RD)
        if rev is None and spent is None and last_kind:
            bare = _BARE_MONEY.match(seg)
            value = _money(bare.group(1), bare.group(2)) if bare else None
            if value is not None:
                (revenue if last_kind == "revenue" else rd)[str(year)] = value
            continue
        if rev is not None:
            revenue[str(year)] = rev
            last_kind = "revenue"
        if spent is not None:
            rd[str(year)] = spent
            last_kind = "rd" if rev is None else last_kind
    out: dict[str, Any] = {}
    if len(revenue) >= 2 or len(rd) >= 2:
        if revenue:
            out["revenue_years"] = revenue
            out["revenue"] = revenue[max(revenue)]
        if rd:
            out["rd_expense_years"] = rd
            out["rd_expense"] = rd[max(rd)]
    return out


_SHARE_WORDS = (
    ("rd_domestic_share", r"境内研发|国内研发|境内(?:发生|支出)?的?研发|研发[^,，。;；]{0,8}(?:境内|国内)"),
    ("hightech_revenue_share", r"高新(?:技术)?(?:产品|服务|产品和服务|产品（服务）|产品\(服务\))?(?:的)?收入|高新收入"),
)
_PERCENT = re.compile(rf"(\d+(?:\.\d+)?)\s*%|百分之\s*({_N})|({_N})\s*成(?![立本果交])")
_ALL_DOMESTIC = re.compile(
    r"(?:研发)?(?:都|全部|全都|全)(?:在)?(?:境内|国内)|(?:境内|国内)(?:研发)?(?:占)?(?:全部|百分之百|100%)"
)


def share_value(text: str) -> Optional[float]:
    """A share (0–1) typed as "80%", "百分之八十", "八成", "0.8"; None when there is none."""
    t = _prepare_amount_text(text)
    m = _PERCENT.search(t)
    if m:
        value: Optional[float]
        if m.group(1):
            value = float(m.group(1))
        else:
            value = parse_amount(m.group(2) or "") if m.group(2) else parse_amount(m.group(3) or "")
            if value is not None and m.group(3):
                value *= 10
        return value / 100 if value is not None and 0 <= value <= 100 else None
    m = re.search(r"(?<![\d.])(0?\.\d+|1(?:\.0+)?)(?![\d.%])", t)
    if m:
        return float(m.group(1))
    return None


def _shares(t: str) -> dict:
    out: dict[str, float] = {}
    if _ALL_DOMESTIC.search(t):
        out["rd_domestic_share"] = 1.0
    for key, word in _SHARE_WORDS:
        for m in re.finditer(rf"(?:{word})", t):
            clause = re.split(r"[,，。;；]", t[m.end() :])[0][:16]
            value = share_value(clause) if _PERCENT.search(clause) else None
            if value is not None:
                out.setdefault(key, value)
                break
    return out


_INDUSTRY = re.compile(
    r"(?:所属行业|行业|属于|做)(?:是|为|:|属于)?\s*([\u4e00-\u9fff]{2,16}?)(?:行业|领域|类)(?![\u4e00-\u9fff]{0,2}(?:政策|补贴))"
)
_NO_IP = re.compile(r"(?:没有|暂无|还没有?|无)(?:任何)?(?:授权的?)?(?:知识产权|专利|软著)")


def _industry(t: str) -> Optional[str]:
    m = _INDUSTRY.search(t)
    if m and m.group(1) not in ("什么", "哪个", "哪些", "这个", "那个", "这种"):
        return m.group(1)
    return None


# ---- the level of a policy ------------------------------------------------------------------------------

# "省级的研发补助", "市里的奖补", "区级扶持资金": which 专窗 (province / city / district) handles a redemption.
# "西咸新区" alone is where the enterprise is, not a level, so the district needs 区级/区里/新区的+funding words.
_LEVELS = (
    ("国家", re.compile(r"国家级|国家层面|中央财政|国家的(?:补贴|奖励|资金|项目)")),
    ("省", re.compile(r"省级|省里|省上|省科技厅|省财政|省级财政|陕西省的?(?:补贴|奖补|奖励|资金|项目|政策)")),
    ("市", re.compile(r"市级|市里|市上|市科技局|市财政|西安市的?(?:补贴|奖补|奖励|资金|项目|政策)")),
    ("区", re.compile(r"区级|区里|区上|新区的?(?:补贴|奖补|奖励|资金|扶持|政策)|西咸新区(?:科技|财政)局|区财政")),
)


def _find_policy_level(text: str) -> Optional[str]:
    found = {level for level, pattern in _LEVELS if pattern.search(text)}
    return found.pop() if len(found) == 1 else None


_NO_LOCATION = re.compile(
    r"不在(?:任何)?(?:一个)?(?:园区|新城|产业园)|没有(?:在)?(?:园区|入驻园区)|没(?:在|进)园区"
    r"|不属于(?:任何)?园区"
)

# ---- the whole message --------------------------------------------------------------------------------


def extract(
    text: str,
    network: Optional["Network"] = None,
    *,
    expecting: Optional[str] = None,
    is_reply: Optional[Callable[[str], bool]] = None,
) -> Details:
    """Every detail in one free message (see the module docstring). `network` (a bot.network.Network)
    recognises parks and new cities; without it only the five new cities are recognised. `is_reply`
    (bot.dialogue.speech.is_reply) tells a reply from a bare company or English name when `expecting` asks for
    one; without it neither is taken."""
    det = Details()
    if not text or not text.strip():
        return det
    tx = _Text(text[:4000])
    det.policy_level = _find_policy_level(tx.masked)
    _find_credit_code(tx, det, expecting)
    _find_mobile(tx, det, expecting)
    spans = _company_spans(tx.masked)
    # "轻资产公司，…西安云途物流科技有限公司": a registered name (有限公司…) beats a loose "…公司".
    strong = [sp for sp in spans if tx.masked[sp[0] : sp[1]].endswith(_STRONG_SUFFIXES)]
    if spans:
        start, end = (strong or spans)[0]
        det.company = tx.disp[start:end].strip()
    for start, end in spans:
        tx.mask(start, end)
    if _NO_LOCATION.search(tx.masked):
        det.no_location = True
    _find_location(tx, det, network, expecting)
    if expecting == "enterprise_name" and det.company is None and is_reply is not None:
        _bare_company(tx, det, is_reply)
    _find_name(tx, det, expecting, is_reply)
    det.figures = _find_figures(tx.masked)
    return det
