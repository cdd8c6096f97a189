"""Content checks a policy officer would make, run by `python -m bot.knowledge validate`.

The loader (loader.py) checks that files are well formed; these checks are about
what the entries say (knowledge/README.md, "Content checklist", lists them):

- reviewed:      every entry has `reviewed_on`;
- source:        `source` names a document (《…》 or a 文号) or says where to check (以…为准);
- placeholder:   a shown date is verified: `effective` on 1 January (the pattern of a
                 year typed in as a date) or any `expires` needs a `checked` source that
                 confirms it; a 窗口 topic has no `effective` date at all (write null);
- window:        months or dates in `window` need a `checked` source confirming `window`;
- book title:    every 《…》 in the source, answers and next steps is a document name (it
                 ends in 办法/条例/通知/…), never the entry's own title dressed up as one;
- length:        answer + next step ≤ MAX_BUBBLE_CHARS characters (one chat bubble);
- wording:       no non-standard wording from NONSTANDARD (e.g. 当个工作日 → 当天（工作日））;
- next step:     every FAQ ends with a next step (`next_step`, the FAQ's or the entry's) that
                 names where to go (a system, office, node, hotline or "在这里登记"), and the
                 answer does not repeat it.
Warnings (printed, not failing): a review older than REVIEW_AFTER_DAYS, an expired entry
without `superseded_by`, an unverified non-1-January effective date (not shown in replies).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher
from pathlib import Path
from typing import Optional

from bot import clock

from .model import Entry, KnowledgeBase

REVIEW_AFTER_DAYS = 365
MAX_BUBBLE_CHARS = 300  # answer + next step: what fits one chat bubble on a phone without scrolling far

# What a document name ends with (after a trailing edition note such as （2020年修正））.
DOC_SUFFIXES = (
    "办法",
    "条例",
    "法",
    "规定",
    "通知",
    "公告",
    "意见",
    "规则",
    "指引",
    "标准",
    "目录",
    "名录",
    "细则",
    "方案",
    "决定",
    "指南",
    "措施",
    "条约",
    "公约",
    "批复",
    "函",
    "纲要",
    "规划",
    "计划",
    "清单",
    "领域",
    "范围",
    "证书",
    "证",
    "报",
    "决议",
    "解释",
    "令",
    "文件",
    "导则",
    "要点",
)
_BOOK = re.compile(r"《([^《》]+)》")
_EDITION = re.compile(r"[（(][^（）()]*[）)]$")
# A 文号 or an announcement number: 国科发火〔2016〕32号, 公告2023年第7号, 国务院令第746号, 主席令第五十五号.
_DOC_NUMBER = re.compile(r"〔\d{4}〕|\[\d{4}\]|公告\d{4}年第\d+号|令第[\d一二三四五六七八九十百]+号")
_WHERE_TO_CHECK = re.compile(r"以.{1,40}为准|秦创原总窗口|见.{2,30}")
# Where a next step sends the enterprise: a system or site, an office, a node, a hotline, here.
NEXT_STEP_WHERE = re.compile(
    r"系统|平台|网站|官网|网上|窗口|专窗|服务中心|工作站|服务站|新城|12366|热线|电话|税务|"
    r"厅|局|部门|管委会|中心|机构|交易所|银行|券商|律所|事务所|载体|孵化器|这里|此处|登记需求|提交需求|专员|"
    r"转人工|我的工单|工作人员"
)
NEXT_STEP_PREFIX = "下一步："
# Wording that is not standard Chinese, with what to write instead.
NONSTANDARD = {"当个工作日": "当天（工作日）"}


@dataclass
class AuditResult:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def error(self, entry: Entry, fld: str, problem: str) -> None:
        self.problems.append(f"{_file(entry)}: {fld}: {problem}")

    def warn(self, entry: Entry, fld: str, problem: str) -> None:
        self.warnings.append(f"{_file(entry)}: {fld}: {problem}")


def _file(entry: Entry) -> str:
    return f"entries/{Path(entry.path).name}" if entry.path else f"entries/{entry.id}.yml"


def _plain(text: str) -> str:
    return re.sub(r"[\s“”\"'‘’「」『』·（）()]", "", text)


def is_document_name(name: str) -> bool:
    """《name》 names a document: it ends in a document type (办法, 条例, 通知, …)."""
    core = name.strip()
    while _EDITION.search(core):
        core = _EDITION.sub("", core).strip()
    return core.endswith(DOC_SUFFIXES)


def near_title(name: str, title: str) -> bool:
    """The 《》 text is the entry's own title (or nearly: quotes, punctuation, a few characters)."""
    a, b = _plain(name), _plain(title)
    return bool(a) and (a == b or a in b or b in a or SequenceMatcher(None, a, b).ratio() >= 0.8)


def is_placeholder(entry: Entry) -> bool:
    """An effective date that stands for "we only know the year": 1 January, not confirmed by a source."""
    d = entry.effective
    return d is not None and d.month == 1 and d.day == 1 and not entry.verified("effective")


def _check_books(entry: Entry, fld: str, text: str, out: AuditResult) -> None:
    for match in _BOOK.finditer(text or ""):
        name = match.group(1)
        if is_document_name(name):
            continue
        if near_title(name, entry.title):
            out.error(
                entry,
                fld,
                f"《{name}》是条目自己的标题，不是文件名：写出文件的正式名称，"
                "或去掉书名号并说明以哪个部门的现行文件为准",
            )
        else:
            out.error(entry, fld, f"《{name}》不像文件名（应以 办法/条例/通知/公告 等结尾）：核实正式名称")


def _last_sentence(text: str) -> str:
    sentences = [s.strip() for s in re.split(r"(?<=[。！？])", text.strip()) if s.strip()]
    return sentences[-1] if sentences else ""


def audit(kb: KnowledgeBase, today: Optional[date] = None) -> AuditResult:
    """All content problems of a loaded base (each "<file>: <field>: <problem>")."""
    today = today or clock.today()
    out = AuditResult()
    for entry in kb:
        if entry.reviewed_on is None:
            out.error(entry, "reviewed_on", "缺少复核日期：按来源核对后写上核对当天的日期")
        elif (today - entry.reviewed_on).days > REVIEW_AFTER_DAYS:
            out.warn(entry, "reviewed_on", f"{entry.reviewed_on} 复核至今已超过 {REVIEW_AFTER_DAYS} 天，请重新核对")

        source = entry.source or ""
        if not (_BOOK.search(source) or _DOC_NUMBER.search(source) or _WHERE_TO_CHECK.search(source)):
            out.error(entry, "source", "没有写明依据：写出文件名（《…》或文号），或写明以哪个部门的现行规定为准")
        _check_books(entry, "source", source, out)

        if entry.level == "窗口" and entry.effective is not None:
            out.error(entry, "effective", "窗口服务事项没有生效日期，请写 null（复核日期写在 reviewed_on）")
        elif is_placeholder(entry):
            out.error(
                entry,
                "effective",
                f"{entry.effective} 是 1 月 1 日，像是只知道年份的占位日期："
                "核实后在 checked 中注明 confirms: [effective]，否则写 null",
            )
        elif entry.effective is not None and not entry.verified("effective"):
            out.warn(entry, "effective", f"{entry.effective} 未经 checked 来源核实，回答中不显示该日期")
        if entry.expires is not None and not entry.verified("expires"):
            out.error(entry, "expires", f"{entry.expires} 未核实：在 checked 中注明 confirms: [expires]")
        windows = [("window", entry.window)] + [
            (f"faq[{i}]({f.id}).window", f.window) for i, f in enumerate(entry.faqs)
        ]
        for fld, window in windows:
            if window is not None and (window.months or window.opens or window.closes) and not entry.verified("window"):
                out.error(entry, fld, "申报月份或日期未核实：在 checked 中注明 confirms: [window]，否则只写 note")
        if entry.is_expired(today) and not entry.superseded_by:
            out.warn(entry, "superseded_by", f"已于 {entry.expires} 到期：写明接替的条目，或删除本条")

        _check_books(entry, "next_step", entry.next_step, out)
        for i, faq in enumerate(entry.faqs):
            where = f"faq[{i}]({faq.id})"
            _check_books(entry, f"{where}.answer", faq.answer, out)
            _check_books(entry, f"{where}.next_step", faq.next_step, out)
            for fld, text in (("answer", faq.answer), ("next_step", faq.next_step)):
                for wrong, right in NONSTANDARD.items():
                    if wrong in text:
                        out.error(entry, f"{where}.{fld}", f"“{wrong}”不是规范用语，请写“{right}”")
            step = faq.next
            if len(faq.answer) + len(step) > MAX_BUBBLE_CHARS:
                out.error(
                    entry,
                    f"{where}.answer",
                    f"答案加下一步共 {len(faq.answer) + len(step)} 字，"
                    f"超过一个聊天气泡的 {MAX_BUBBLE_CHARS} 字：拆成两个问答或删繁就简",
                )
            if not step:
                out.error(
                    entry,
                    f"{where}.next_step",
                    "缺少下一步：写明去哪里办（系统/部门/节点）、准备什么，或请企业在这里登记需求",
                )
                continue
            if not NEXT_STEP_WHERE.search(step):
                out.error(
                    entry, f"{where}.next_step", f"“{step}” 没有说明去哪里办（系统、部门、节点、热线或在这里登记）"
                )
            last = _last_sentence(faq.answer)
            if last and (last in step or _plain(last) == _plain(_last_sentence(step))):
                out.error(entry, f"{where}.answer", "答案结尾重复了下一步的内容：从答案中删去这句")
    return out
