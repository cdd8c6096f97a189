"""政策体检 in the chat: the enterprise's figures as typed, the next question worth asking, the reply.

A thin layer over bot.policy (which holds every rule and verdict): this module only
- turns the figures `details.extract` found (kept in the `company_facts` slot, a plain dict) into the
  input of `bot.policy.parse_profile`;
- decides what to ask next: only figures that some still-undecided policy needs, the one that decides most
  policies first, one short question at a time, never the same question twice and at most MAX_QUESTIONS;
- reads the answer to the question just asked (a bare "60，9" or "没有" means something only then);
- renders the result: one block per policy with bot.policy.render's lines, a short citation, and which
  policies fit (for the "登记" buttons).

No Rasa here (domain core): actions/policy_check.py is the adapter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Optional, Sequence

from bot import clock
from bot.dialogue import speech
from bot.dialogue.details import a_date, extract, parse_amount, share_value
from bot.policy import PolicyResult, Profile, ProfileError, Report, Rule, RuleSet, check, parse_profile, render
from bot.policy.profile import IP_KINDS, LABELS
from bot.text import normalise

if TYPE_CHECKING:  # pragma: no cover
    from bot.network import Network

MAX_QUESTIONS = 5  # questions in one check; after that the result shows what is still 需补充
PROFILE_KEYS = (
    "employees",
    "tech_staff",
    "revenue",
    "rd_expense",
    "revenue_years",
    "rd_expense_years",
    "founded_year",
    "years_since_founding",
    "registered_on",
    "invention_patents",
    "utility_models",
    "software_copyrights",
    "ip_none",
    "total_assets",
    "taxable_income",
    "rd_domestic_share",
    "hightech_revenue_share",
    "industry",
)

# Which need category a registration for a fitting policy goes to (bot/taxonomy.py). The taxonomy has no tax
# category: the two tax preferences are claimed in the enterprise's own tax filing, so help with them is
# 政策咨询 (适用政策、申报资格); 资质认定 is the category for 高企 / 科小.
POLICY_CATEGORY = {
    "hnte": "need_qualification",
    "tsme": "need_qualification",
    "small_low_profit": "need_policy_consult",
    "rd_super_deduction": "need_policy_consult",
}
SHORT_NAMES = {
    "hnte": "高企认定",
    "tsme": "科小评价",
    "small_low_profit": "小微企业所得税优惠",
    "rd_super_deduction": "研发费用加计扣除",
}

# What a message asks about (the check then asks only for that policy's figures).
FOCUS = (
    ("hnte", re.compile(r"高企|高新技术企业|高新企业|评高新|认定高新|高新认定")),
    ("tsme", re.compile(r"科小|科技型中小|科技中小")),
    ("small_low_profit", re.compile(r"小微|小型微利|小规模.*所得税")),
    ("rd_super_deduction", re.compile(r"加计扣除|加计")),
)

# "政策体检", "能享受哪些政策", "能评高企吗": a check is asked for (used with the classifier's intent).
CHECK_REQUEST = re.compile(
    r"体检|政策匹配|匹配(?:一下)?(?:适合的)?政策|(?:能|可以|可)(?:享受|申请|申报|拿|用)(?:到)?(?:哪些|什么|啥)(?:政策|优惠|补贴)"
    r"|符合(?:哪些|什么)(?:政策|条件)|(?:能|可以|够)(?:不能)?(?:评|申请|申报|认定|拿)(?:上)?(?:高企|高新|科小|小微)"
    r"|(?:够不够|符不符合|能不能评|够格|有没有资格|能否评)"
)

SKIP = re.compile(
    r"不清楚|不知道|不太清楚|不确定|跳过|不方便|说不好|记不清|没统计|没有统计|算了|下一个|先不说|不想说|保密"
)


@dataclass(frozen=True)
class Question:
    key: str
    fields: tuple[str, ...]  # bot.policy input fields it answers
    text: str


QUESTIONS = (
    Question(
        "staff",
        ("employees", "tech_staff"),
        "公司现在一共有多少人？其中研发（科技）人员有多少？例如「60人，其中研发9个」",
    ),
    Question("founded", ("registered_on",), "公司是哪一年注册成立的？例如「2019年」或「成立三年」"),
    Question("money", ("revenue", "rd_expense"), "去年的营业收入和研发费用大概各是多少？例如「营收1500万，研发200万」"),
    # After the money on a tie. Asked only when the year leaves the 1-year line of 高企 open (registered last year, or "成立一年多").
    Question(
        "founded_date",
        ("registered_on",),
        "高企要求注册成立满一年，差几天结论就不同：营业执照上的成立日期是哪天？例如「2025年3月15日」",
    ),
    Question("ip", ("ip",), "公司现在有哪些已授权的知识产权？例如「5个发明专利、3个软著」；没有就说「没有」"),
    Question(
        "history",
        ("revenue", "rd_expense"),
        "高企看近三个会计年度的研发费用占比：前年和大前年的营收、研发费用大概各多少？"
        "例如「前年营收1200万研发90万，大前年营收800万研发60万」",
    ),
    Question("assets", ("total_assets",), "公司的资产总额大概多少？例如「资产总额3000万」"),
    Question(
        "taxable", ("taxable_income",), "去年的应纳税所得额（大致接近利润总额）是多少？亏损或没有利润可以说「没有」"
    ),
    Question(
        "shares",
        ("rd_domestic_share", "hightech_revenue_share"),
        "还有两个比例：研发费用里在境内发生的占多少，高新技术产品（服务）收入占总收入多少？"
        "例如「研发都在国内，高新收入占80%」",
    ),
    Question("industry", ("industry",), "公司属于什么行业？例如「软件和信息技术服务」「医疗器械制造」"),
)
BY_KEY = {q.key: q for q in QUESTIONS}
STAFF_PART = {
    False: "其中研发（科技）人员大概有多少？例如「研发9个」",
    True: "公司现在一共有多少人（职工总数）？例如「60人」",
}
MONEY_PART = {False: "去年的研发费用大概多少？例如「研发200万」", True: "去年的营业收入大概多少？例如「营收1500万」"}
MONEY_3_YEARS = (
    "高企看近三个会计年度：{years}每年的营业收入和研发费用大概各多少？"
    "例如「{y1}年营收800万研发60万，{y2}年营收1200万研发90万，{y3}年营收1500万研发200万」"
)


# ---- the figures ---------------------------------------------------------------------------------------


def facts_of(
    text: str,
    network: Optional[Network] = None,
    *,
    expecting: Optional[str] = None,
    today: Optional[date] = None,
    known: Optional[dict] = None,
) -> dict:
    """The figures in one message (details.extract), plus the bare answers that mean something only because
    `expecting` (a Question key) was just asked: "60，9", "2019", "没有", "80%". `known`: the facts so far (a bare
    "9个" after "其中研发人员有多少" is the R&D staff, not the headcount)."""
    found = dict(extract(text, network).figures)
    t = normalise(text or "")
    known = known or {}
    if not expecting or found.keys() & set(_answers(expecting)) or is_skip(text):
        return found
    bare = re.sub(r"一共|一起|总共|一般|一下|其中|大概|差不多|左右", "，", t)
    numbers = [m.group() for m in re.finditer(r"\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万亿点]+", bare)]
    if expecting == "staff":
        counts = [int(v) for v in (parse_amount(n) for n in numbers) if v is not None and v == int(v) and v > 0]
        missing = [k for k in ("employees", "tech_staff") if known.get(k) is None]
        for key, count in zip(missing, counts):
            found.setdefault(key, count)
    elif expecting in ("money", "history"):
        written = (
            parse_amount(n + ("万" if re.fullmatch(r"\d+(?:\.\d+)?", n) and "万" in t else ""))
            for n in re.findall(r"[\d.零〇一二两三四五六七八九十百千]+(?:万|亿)", t)
        )
        amounts = [a for a in written if a is not None]
        if expecting == "money":
            missing = [k for k in ("revenue", "rd_expense") if known.get(k) is None]
            for key, amount in zip(missing, amounts):
                found.setdefault(key, amount)
    elif expecting in ("founded", "founded_date") and (day := a_date(t)) is not None:
        if day <= (today or clock.today()):
            found["registered_on"], found["founded_year"] = day.isoformat(), day.year
    elif expecting == "founded_date":
        md = re.search(r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?", t)
        year = known.get("founded_year")
        if md and year:
            try:
                day = date(int(year), int(md.group(1)), int(md.group(2)))
            except ValueError:
                day = None
            if day is not None and day <= (today or clock.today()):
                found["registered_on"] = day.isoformat()
    elif expecting == "founded":
        year = re.search(r"(?:19|20)\d{2}", t)
        if year:
            found["founded_year"] = int(year.group())
        else:
            m = re.search(r"([\d零一二两三四五六七八九十]+|半)\s*(?:多|个)?\s*年(半)?", t)
            if m:
                years = 0.5 if m.group(1) == "半" else parse_amount(m.group(1))
                if years is not None:
                    found["years_since_founding"] = years + (0.5 if m.group(2) else 0)
    elif expecting == "ip" and re.search(r"^(?:没有|无|都没有|还没有|暂时没有|暂无|一个都没有|0|零)", t):
        found["ip_none"] = True
    elif expecting == "assets" and numbers:
        assets = parse_amount(t)
        if assets is not None and re.search(r"[万亿]", t):
            found["total_assets"] = assets
    elif expecting == "taxable":
        if re.search(r"没有|亏损|亏了|负|零|^0", t):
            found["taxable_income"] = 0.0
        elif re.search(r"[万亿]", t) and parse_amount(t) is not None:
            found["taxable_income"] = parse_amount(t)
    elif expecting == "shares":
        values = [share_value(part) for part in re.split(r"[,，;；、]", t)]
        values = [v for v in values if v is not None]
        if values and "rd_domestic_share" not in found:
            found["rd_domestic_share"] = values[0]
        if len(values) > 1 and "hightech_revenue_share" not in found:
            found["hightech_revenue_share"] = values[1]
    elif expecting == "industry":
        clause = re.sub(r"^(?:我们|公司|企业)?(?:是|属于|做)?", "", t).strip("，。 ")
        clause = re.sub(r"(?:行业|领域|的|类)$", "", clause)
        if 2 <= len(clause) <= 30 and not SKIP.search(clause):
            found["industry"] = clause
    return found


def _answers(key: str) -> tuple[str, ...]:
    return {
        "staff": ("employees", "tech_staff"),
        "money": ("revenue", "rd_expense"),
        "history": ("revenue_years", "rd_expense_years"),
        "founded": ("founded_year", "years_since_founding", "registered_on"),
        "founded_date": ("registered_on",),
        "ip": ("invention_patents", "utility_models", "software_copyrights", "ip_none"),
        "assets": ("total_assets",),
        "taxable": ("taxable_income",),
        "shares": ("rd_domestic_share", "hightech_revenue_share"),
        "industry": ("industry",),
    }[key]


def merge(old: Optional[dict], new: dict, *, expecting: Optional[str] = None, today: Optional[date] = None) -> dict:
    """`old` facts updated with `new`; the answer to the "history" question adds years to the ones known."""
    facts = {k: v for k, v in (old or {}).items() if k in PROFILE_KEYS}
    today = today or clock.today()
    for key in ("revenue", "rd_expense"):
        years = dict(facts.get(f"{key}_years") or {})
        if key in facts and not years:
            years[str(today.year - 1)] = facts[key]  # a figure without a year is last year's
        if f"{key}_years" in new:
            years.update(new[f"{key}_years"])
        elif key in new:
            years[str(today.year - 1 if expecting != "history" else today.year - 2)] = new[key]
        if years:
            facts[f"{key}_years"] = years
            facts[key] = years[max(years)]
    for key, value in new.items():
        if key not in ("revenue", "rd_expense", "revenue_years", "rd_expense_years") and key in PROFILE_KEYS:
            facts[key] = value
    if "founded_year" in new or "registered_on" in new:
        facts.pop("years_since_founding", None)
    if "years_since_founding" in new:
        facts.pop("founded_year", None)
        facts.pop("registered_on", None)
    if (
        "founded_year" in new
        and "registered_on" not in new
        and str(facts.get("registered_on", ""))[:4] != str(new["founded_year"])
    ):
        facts.pop("registered_on", None)  # a corrected year makes the earlier exact day wrong
    if new.get("ip_none"):
        for kind in ("invention_patents", "utility_models", "software_copyrights"):
            facts.pop(kind, None)
    elif any(k in new for k in ("invention_patents", "utility_models", "software_copyrights")):
        facts.pop("ip_none", None)
    return facts


def profile_input(facts: dict, today: Optional[date] = None) -> dict:
    """The facts as the JSON input of bot.policy.parse_profile (the API's fields)."""
    today = today or clock.today()
    data: dict[str, Any] = {}
    for key in ("employees", "tech_staff"):
        if isinstance(facts.get(key), (int, float)) and facts[key] == int(facts[key]):
            data[key] = int(facts[key])
    if facts.get("registered_on"):
        data["registered_on"] = facts["registered_on"]
    elif facts.get("founded_year"):
        year = int(facts["founded_year"])
        # Only the year is known: its first day (the accounting years since registration are counted by year).
        # A registration last year may fall either side of the 1-year line: left open, the exact day is asked.
        if year <= today.year - 2 or year == today.year:
            data["registered_on"] = f"{year}-01-01" if year < today.year else today.isoformat()
    elif facts.get("years_since_founding") is not None:
        years = float(facts["years_since_founding"])
        if not near_one_year(years):
            days = int(round(years * 365.25))
            data["registered_on"] = date.fromordinal(today.toordinal() - days).isoformat()
    rev = {int(y): v for y, v in (facts.get("revenue_years") or {}).items() if int(y) < today.year}
    rd = {int(y): v for y, v in (facts.get("rd_expense_years") or {}).items() if int(y) < today.year}
    if not rev and facts.get("revenue") is not None:
        rev = {today.year - 1: facts["revenue"]}
    if not rd and facts.get("rd_expense") is not None:
        rd = {today.year - 1: facts["rd_expense"]}
    if rev and rd:
        common = sorted(set(rev) & set(rd))[-3:]
        # consecutive years back from the latest only (the rule reads the list as the last N accounting years)
        while common and any(b - a != 1 for a, b in zip(common, common[1:])):
            common = common[1:]
        if common:
            data["revenue"] = [rev[y] for y in common]
            data["rd_expense"] = [rd[y] for y in common]
        else:
            data["revenue"] = [rev[max(rev)]]
    elif rev:
        data["revenue"] = [rev[y] for y in sorted(rev)[-3:]]
    elif rd:
        data["rd_expense"] = [rd[y] for y in sorted(rd)[-3:]]
    if facts.get("ip_none"):
        data["ip"] = {k: 0 for k in IP_KINDS}
    elif any(facts.get(k) is not None for k in ("invention_patents", "utility_models", "software_copyrights")):
        data["ip"] = {k: int(facts.get(k) or 0) for k in ("invention_patents", "utility_models", "software_copyrights")}
    for key in ("total_assets", "taxable_income", "rd_domestic_share", "hightech_revenue_share"):
        if facts.get(key) is not None:
            data[key] = facts[key]
    if facts.get("industry"):
        data["industry"] = str(facts["industry"])[:100]
    return data


def near_one_year(years: float) -> bool:
    """ "成立一年" / "一年多" / "一年半": the rough age cannot tell which side of 高企's 1-year line it is."""
    return 0.5 < years < 2


def founding_known(facts: dict) -> bool:
    return bool(facts.get("founded_year")) or facts.get("years_since_founding") is not None


def profile_of(facts: dict, today: Optional[date] = None) -> tuple[Profile, list[str]]:
    """The validated profile, leaving out figures bot.policy refuses (e.g. more R&D staff than employees);
    the refused fields are returned so the reply can say they were not used."""
    data = profile_input(facts, today)
    dropped: list[str] = []
    for _ in range(len(data) + 1):
        try:
            return parse_profile(data, today), dropped
        except ProfileError as exc:
            bad = {f.split("[")[0].split(".")[0] for f in exc.fields} & set(data)
            if not bad:
                break
            for f in bad:
                data.pop(f)
            dropped += sorted(bad)
    return parse_profile({}, today), dropped


# ---- what to ask ---------------------------------------------------------------------------------------


def focus_of(text: str) -> list[str]:
    """The policies a message names ("能评高企吗" → ["hnte"]); empty: all."""
    t = normalise(text or "")
    return [pid for pid, pattern in FOCUS if pattern.search(t)]


SELF = re.compile(r"我们|我司|我公司|咱们|咱|本公司|我这|我家|我们这")
ASKS_OWN_FIT = re.compile(
    r"能不能|能否|可不可以|够不够|符不符合|算不算|是否符合|适不适用|适用吗|有没有资格|够格"
    r"|(?:能|可以)[^，。,？?]{0,12}吗"
)
# "我们…想评高企" / "我司打算申报科小": the enterprise wants one named policy — its own figures decide, so check.
WANTS_TO_APPLY = re.compile(r"(?:想|打算|准备|计划|希望)(?:要)?(?:评|申请|申报|认定|报|拿)")
# A question about a requirement itself ("研发费用占比要达到多少", "需要什么条件"): the knowledge base answers it.
REQUIREMENT_QUESTION = re.compile(
    r"要达到多少|达到多少|是多少|多少比例|要求是|什么条件|哪些条件|什么要求|怎么申请|如何申请"
    r"|怎么办理|流程|材料|什么意思|有效期|税率"
)


def wants_check(text: str) -> bool:
    """The message asks for a check of the enterprise's own situation: "政策体检", "能享受哪些政策",
    "我们能享受研发费用加计扣除吗" — not a question about a requirement ("什么样的企业算小型微利企业",
    "我们这种情况申请高企，研发费用占比要达到多少")."""
    t = normalise(text or "")
    if REQUIREMENT_QUESTION.search(t) and "体检" not in t:
        return False
    if CHECK_REQUEST.search(t):
        return True
    if SELF.search(t) and WANTS_TO_APPLY.search(t) and focus_of(t) and not speech.is_request(text):
        return True
    return bool(SELF.search(t) and ASKS_OWN_FIT.search(t) and (focus_of(t) or re.search(r"政策|优惠|扶持|补贴", t)))


def _needs_history(report: Report, facts: dict) -> bool:
    hnte = report.result("hnte")
    if hnte is None or hnte.verdict != "need_more_info":
        return False
    c = hnte.check("rd_ratio")
    return (
        c is not None
        and c.status == "missing"
        and facts.get("revenue") is not None
        and facts.get("rd_expense") is not None
    )


def next_question(
    report: Report,
    facts: dict,
    *,
    focus: Sequence[str] = (),
    asked: Sequence[str] = (),
    skipped: Sequence[str] = (),
    today: Optional[date] = None,
) -> Optional[Question]:
    """The question that decides the most still-undecided policies (those in `focus` when given), never one
    asked already; None when nothing undecided depends on a figure or MAX_QUESTIONS were asked."""
    if len(asked) >= MAX_QUESTIONS:
        return None
    open_ = [r for r in report.results if r.verdict == "need_more_info" and (not focus or r.policy in focus)]
    best, best_weight = None, 0
    for q in QUESTIONS:
        if q.key in asked or q.key in skipped:
            continue
        if q.key == "history":
            weight = 1 if _needs_history(report, facts) and (not focus or "hnte" in focus) else 0
        elif q.key == "money" and facts.get("revenue") is not None and facts.get("rd_expense") is not None:
            weight = 0
        elif q.key in ("founded", "founded_date") and (q.key == "founded") == founding_known(facts):
            weight = 0  # the year is asked first; the exact day only when the year leaves the line open
        else:
            weight = sum(1 for r in open_ if set(q.fields) & set(r.missing))
        if weight > best_weight:
            best, best_weight = q, weight
    if (
        best is not None
        and best.key == "staff"
        and (facts.get("employees") is None) != (facts.get("tech_staff") is None)
    ):
        best = Question("staff", best.fields, STAFF_PART[facts.get("employees") is None])
    elif (
        best is not None and best.key == "money" and (facts.get("revenue") is None) != (facts.get("rd_expense") is None)
    ):
        best = Question("money", best.fields, MONEY_PART[facts.get("revenue") is None])
    if best is not None and best.key == "money" and _hnte_open(report, focus) and _years_to_ask(facts, today) > 1:
        n = _years_to_ask(facts, today)
        y = (today or clock.today()).year
        years = [y - n + i for i in range(n)]
        first = [y - 3, y - 2, y - 1][-n:]
        text = MONEY_3_YEARS.format(
            years="、".join(f"{v}年" for v in years), y1=first[0], y2=first[min(1, n - 1)], y3=first[-1]
        )
        if n == 2:
            text = re.sub(
                r"，\d{4}年营收1500万研发200万」", "」", text.replace("营收800万研发60万，", "营收1200万研发90万，", 1)
            )
            text = re.sub(rf"{first[1]}年营收1200万研发90万」", f"{first[1]}年营收1500万研发200万」", text)
        best = Question("money", best.fields, text)
    return best


def _hnte_open(report: Report, focus: Sequence[str]) -> bool:
    r = report.result("hnte")
    return r is not None and r.verdict == "need_more_info" and (not focus or "hnte" in focus)


def _years_to_ask(facts: dict, today: Optional[date]) -> int:
    """Accounting years the 高企 R&D ratio needs (up to three, fewer for a young company); 1 when unknown."""
    y = (today or clock.today()).year
    if facts.get("founded_year"):
        founded = int(facts["founded_year"])
    elif facts.get("years_since_founding") is not None:
        founded = y - int(float(facts["years_since_founding"]))
    elif facts.get("registered_on"):
        founded = int(str(facts["registered_on"])[:4])
    else:
        return 1
    return max(1, min(3, y - founded))


def leaves_contact(text: str, network: Optional[Network] = None) -> bool:
    """The message leaves a mobile or a company with a contact for a person to call back: a registration."""
    d = extract(text, network)
    return bool(d.mobile) or bool(d.company and d.contact_name)


def starts_check(text: str, network: Optional[Network] = None) -> bool:
    """A message another intent caught that still asks for a check: "我们50个人…能评高企吗" (wants_check), not
    when it leaves contact details for a person (that registers)."""
    return wants_check(text) and not leaves_contact(text, network)


def is_skip(text: str) -> bool:
    t = normalise(text or "")
    return bool(SKIP.search(t)) and not re.search(r"\d", t)


# ---- the reply -----------------------------------------------------------------------------------------


def short_citation(rule: Rule) -> str:
    numbers = [d.doc_number for d in rule.documents if d.doc_number]
    return "依据：" + ("、".join(numbers[:2]) if numbers else f"《{rule.documents[0].title}》")


def fitting(report: Report, focus: Sequence[str] = ()) -> list[str]:
    """The policies that fit (focus first), for the registration buttons."""
    ids = [r.policy for r in report.results if r.verdict == "eligible"]
    return sorted(ids, key=lambda p: (p not in focus, ids.index(p)))


RESULT_HEAD = "政策体检结果"


def result_text(
    report: Report,
    rules: RuleSet,
    *,
    focus: Sequence[str] = (),
    dropped: Sequence[str] = (),
    facts: Optional[dict] = None,
) -> str:
    """The whole result message: one block per policy (focus first), each with its deciding lines and a short
    citation; the items left to experts named; a closing line on what it is.

    Asked about one policy ("想评高企"), the others do not bury the answer in a chat bubble: one that fits is
    still shown in full (good news), one that does not is one line, and those still missing figures are named
    together in a single line."""
    results = sorted(report.results, key=lambda r: (r.policy not in focus, report.results.index(r)))
    blocks, undecided = [], []
    for r in results:
        aside = bool(focus) and r.policy not in focus
        if aside and r.verdict == "need_more_info":
            undecided.append(r.name)
            continue
        block = render.lines(r, only_deciding=True) if not (aside and r.verdict != "eligible") else [render.headline(r)]
        if not aside or r.verdict == "eligible":
            block += _when_eligible(r, facts or {})
            rule = rules.get(r.policy)
            if rule is not None:
                block.append("  " + short_citation(rule))
        blocks.append("\n".join(block))
    if undecided:
        blocks.append(f"另外，{'、'.join(undecided)}还需要更多数字才能判断；想一起看看，说「政策体检」即可。")
    for n in report.not_applied:
        blocks.append(f"— {n.name}：{n.reason}")
    head = RESULT_HEAD + "（按您提供的数字初步判断，最终以主管部门认定为准）："
    tail = []
    if dropped:
        tail.append("以下数字前后矛盾，这次没有采用：" + "、".join(LABELS.get(f, f) for f in dropped) + "。")
    if any(r.verdict == "eligible" for r in report.results):
        tail.append("标 ✓ 的政策可以登记需求，由服务专员帮您核实材料、安排申报。")
    elif report.results:
        tail.append("需要的话可以请服务专员帮您逐项核实。")
    return "\n\n".join([head] + blocks + (["\n".join(tail)] if tail else []))


def _when_eligible(r: PolicyResult, facts: dict) -> list[str]:
    """A line saying from when a time condition is met ("满一年之日"), when that is all the date decides."""
    c = r.check("registered_one_year")
    registered = facts.get("registered_on")
    if c is None or c.status != "fail" or not registered:
        return []
    try:
        day = date.fromisoformat(str(registered)[:10])
    except ValueError:
        return []
    due = day + timedelta(days=365)  # the rule's own reading of 一年以上 (365 calendar days)
    return [f"  注册满一年之日：{due.year}年{due.month}月{due.day}日，之后可按当年的申报通知申请。"]


def seed_text(report: Report, facts: dict, policies: list[str], asked_in: str = "") -> str:
    """The ticket description a registration from the check starts with."""
    names = "、".join(SHORT_NAMES.get(p, p) for p in policies)
    figures = describe(facts)
    text = f"政策体检：初步判断符合{names}的可量化条件，希望专员协助核实、申报。"
    if figures:
        text += f"企业情况：{figures}。"
    if asked_in:
        text += f"（用户原话：{asked_in[:200]}）"
    return text[:2000]


def _wan(v: float) -> str:
    w = v / 1e4
    return f"{w:g}万元" if w < 1e4 else f"{w / 1e4:g}亿元"


def describe(facts: dict) -> str:
    """The figures in one line, for the ticket and the confirmation."""
    parts = []
    if facts.get("employees") is not None:
        parts.append(f"职工{int(facts['employees'])}人")
    if facts.get("tech_staff") is not None:
        parts.append(f"科技人员{int(facts['tech_staff'])}人")
    for key, name in (("revenue", "营收"), ("rd_expense", "研发费用")):
        years = facts.get(f"{key}_years") or {}
        if len(years) > 1:
            parts.append(name + "（" + "，".join(f"{y}年{_wan(v)}" for y, v in sorted(years.items())) + "）")
        elif facts.get(key) is not None:
            parts.append(f"{name}{_wan(float(facts[key]))}")
    if facts.get("registered_on"):
        y, m, d = (int(v) for v in str(facts["registered_on"]).split("-"))
        parts.append(f"{y}年{m}月{d}日成立")
    elif facts.get("founded_year"):
        parts.append(f"{int(facts['founded_year'])}年成立")
    elif facts.get("years_since_founding") is not None:
        parts.append(f"成立{facts['years_since_founding']:g}年")
    ip = [
        (facts.get(k), n)
        for k, n in (("invention_patents", "发明专利"), ("utility_models", "实用新型"), ("software_copyrights", "软著"))
    ]
    if facts.get("ip_none"):
        parts.append("暂无知识产权")
    elif any(n is not None for n, _ in ip):
        parts.append("、".join(f"{name}{int(n)}件" for n, name in ip if n))
    if facts.get("total_assets") is not None:
        parts.append(f"资产总额{_wan(float(facts['total_assets']))}")
    if facts.get("taxable_income") is not None:
        parts.append(f"应纳税所得额{_wan(float(facts['taxable_income']))}")
    for key, name in (("rd_domestic_share", "境内研发占比"), ("hightech_revenue_share", "高新收入占比")):
        if facts.get(key) is not None:
            parts.append(f"{name}{float(facts[key]) * 100:g}%")
    if facts.get("industry"):
        parts.append(f"行业：{facts['industry']}")
    return "，".join(p for p in parts if p)


def evaluate(rules: RuleSet, facts: dict, today: Optional[date] = None) -> tuple[Report, list[str]]:
    profile, dropped = profile_of(facts, today)
    return check(rules, profile, today), dropped
