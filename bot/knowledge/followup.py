"""Follow-up questions: read a short message against the previous answered topic.

In chat people do not repeat the subject. After "科技型中小企业怎么评价" they
type "那高企呢" (a new subject, the same predicate), and after an answer on
高企认定 they type "那有效期多久" (the same subject, a new predicate). Looked
up on their own, such messages matched nothing or whatever FAQ happened to
share one word. This module decides, without any model, which of three
readings applies and what text to look up instead:

- "elliptical": the message states no subject, only what is asked
  ("要什么材料", "在哪里办", "多久能批下来") → look it up together with the
  previous subject, preferring the previous policy's FAQs;
- "new_subject": a subject and nothing else, with a follow-up marker
  ("那高企呢", "商标的话呢") → the previous question's predicate with the new
  subject ("高企怎么评价");
- "standalone": a full question (subject and predicate), or no context → as
  typed; a clear topic change wins over the context.

A subject is a term the base knows as a topic (entry keywords, titles,
synonym terms) or, failing that, what is left of the message once markers,
question words and predicate words are taken out. Pure functions over plain
strings, so they are unit-tested without an index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional

from bot.text import normalise

STANDALONE, ELLIPTICAL, NEW_SUBJECT = "standalone", "elliptical", "new_subject"

# A message longer than this is a question of its own, not a follow-up fragment.
MAX_FOLLOWUP_CHARS = 24


@dataclass
class KbContext:
    """The previous answered topic of a conversation (what a follow-up refers to).

    entry_id / faq_id: the policy and FAQ the previous reply was about;
    question: the question as it was understood (Answer.resolved), whose
    predicate a "那X呢" keeps.
    """

    entry_id: Optional[str] = None
    faq_id: Optional[str] = None
    question: Optional[str] = None

    def __bool__(self) -> bool:
        return bool(self.entry_id or self.faq_id or self.question)


@dataclass
class Reading:
    """How a message is read against the context, and what to retrieve with."""

    kind: str  # STANDALONE / ELLIPTICAL / NEW_SUBJECT
    query: str  # the text to look up
    subject: Optional[str] = None  # the new subject (NEW_SUBJECT) or the carried one (ELLIPTICAL)
    body: str = ""  # the message without punctuation and follow-up markers


# Words that open or close a follow-up fragment ("那…呢", "…的话呢", "换成…").
_LEAD = re.compile(
    r"^(?:那么|那如果是|那要是|那如果|如果是|要是|换成|换作|换做|还有|另外|那|对了|顺便问一下|再问一下|再问下|请问)+"
)
_TRAIL = re.compile(
    r"(?:的话呢|的话|的呢|呢|怎么样|咋样|也一样吗|也行吗|也可以吗|也能吗|也有吗|也是吗|吗|啊|呀|吧|嘛)+$"
)
_PUNCT = re.compile(r"[\s，,。.？?！!、；;：:~～…\"'“”‘’（）()【】\[\]]+")

# What is asked (the predicate): kept from the previous question for "那X呢";
# a message made only of these (and fillers) states no subject.
ASPECT_WORDS = tuple(
    """
税收优惠 有效期 有效期限 保护期 保护期限 有效年限 多长时间 多少时间 什么时候 啥时候 截止时间 批下来 怎么申请 怎么申报 怎么办理 怎么认定 怎么评价
哪个部门 什么部门 哪个窗口 多少钱 能不能 可不可以 会不会 是不是 有没有 怎么办 怎么弄 怎么搞 几个月 多少天 多少年
条件 门槛 要求 标准 资格 够格 符合 材料 资料 文件 证明 手续 流程 步骤 程序 环节 期限 多久 几天 几年 周期 时限 时间
何时 几月 截止 哪里 哪儿 在哪 网上 线上 线下 现场 费用 收费 花费 免费 补贴 补助 奖励 资助 奖补 支持 政策 优惠
好处 用处 作用 福利 减免 退税 比例 金额 额度 多少 申请 申报 办理 认定 评价 评定 登记 注册 提交 准备 续期 续展
到期 过期 复审 年报 变更 审批 审核 通过 拿到 下来 到账 领取 兑现 区别 不同 怎么 怎样 如何 咋样 需要 可以 入库
享受 适用 申领 报名 参加 获得 查询 进度 联系 电话 地址 咨询 对接 帮忙 协助 多长 续 查 拿 补
税率 税 钱 批 办 评 领 交 咋 能 要 得 去 找 带 算 报 用 做
行业 领域 范围 对象 适用对象 哪类 哪些人 不行 不能 不可以 不适用 不符合 排除 除外 例外 限制 禁止 谁
""".split()
)
_ASPECT_SET = frozenset(ASPECT_WORDS)
# Modal and light verbs: part of a predicate, but alone they ask nothing
# ("可以", "要", "能吗" are acknowledgements as often as questions).
WEAK_ASPECTS = frozenset(
    """
可以 能 要 得 需要 是不是 有没有 会不会 能不能 可不可以 去 用 做 算 带 找 拿 补 查 续 通过 下来
""".split()
)

# Words that carry neither subject nor predicate.
FILLER_WORDS = tuple(
    """
我们公司 我们企业 咱们公司 我们这种 这种情况 我们 咱们 你们 公司 企业 单位 这种 这个 那个 这样 那样 情况 一般 大概
大约 最快 最长 以后 之后 一下 请问 想问 知道 了解 的话 还是 还有 就是 现在 目前 已经 具体 的 了 呢 吧 啊 呀 么 吗
嘛 我 你 您 这 那 是 有 没 还 也 都 就 在 给 来 弄 搞 想 问 下 个 些 后 前 会 让 被 把 对 从 和 跟 与 或 及 什么 啥
哪些 哪个 几 多 可 能够
""".split()
)

_STRIP_WORDS = tuple(sorted(set(ASPECT_WORDS) | set(FILLER_WORDS), key=len, reverse=True))
_STRIP = re.compile("|".join(re.escape(w) for w in _STRIP_WORDS))
_ASPECT_RE = re.compile("|".join(re.escape(w) for w in sorted(ASPECT_WORDS, key=len, reverse=True)))
_CONTENT = re.compile(r"[\u4e00-\u9fff]|[a-z0-9]+")


def _norm(text: str) -> str:
    return normalise(text or "").lower()


def _body(text: str) -> tuple[str, bool]:
    """The message without punctuation and follow-up markers; and whether a marker was there."""
    t = _PUNCT.sub("", _norm(text))
    lead = _LEAD.match(t)
    core = t[lead.end() :] if lead else t
    trail = _TRAIL.search(core)
    # "吗/啊/吧" alone close any question; only the follow-up tails count as a marker
    marker = bool(lead) or bool(trail and re.search(r"呢|的话|怎么样|咋样|也", trail.group(0)))
    core = core[: trail.start()] if trail else core
    return core, marker


def residue(text: str) -> str:
    """What is left once predicate and filler words are removed (the subject, if any)."""
    return _STRIP.sub("", text)


def aspects(text: str) -> list[str]:
    """The predicate words of a text, in order (longest match first)."""
    return _ASPECT_RE.findall(text)


def asks_something(text: str) -> bool:
    """True when a text names what is asked (材料, 多久, 哪里, 申请 …), not only modal verbs."""
    return any(a not in WEAK_ASPECTS for a in aspects(text))


def _has_content(text: str) -> bool:
    found = _CONTENT.findall(text)
    cjk = sum(1 for f in found if len(f) == 1 and "\u4e00" <= f <= "\u9fff")
    latin = [f for f in found if not ("\u4e00" <= f[0] <= "\u9fff")]
    return cjk >= 2 or any(len(f) >= 2 for f in latin)


class SubjectLexicon:
    """Topic terms of the base (entry keywords and titles, synonym terms), longest first.

    Terms made only of predicate/filler words (申报材料, 截止时间, 补贴) are
    left out: they say what is asked, not about what.
    """

    def __init__(self, terms: Iterable[str] = ()):
        kept = set()
        for term in terms:
            t = _PUNCT.sub("", _norm(term))
            if len(t) >= 2 and _has_content(residue(t)):
                kept.add(t)
        self.terms = sorted(kept, key=lambda t: (-len(t), t))
        self._re = re.compile("|".join(re.escape(t) for t in self.terms)) if self.terms else None

    def find(self, text: str) -> Optional[str]:
        """The longest topic term in the text (None if none)."""
        if self._re is None or not text:
            return None
        found = self._re.findall(_PUNCT.sub("", _norm(text)))
        return max(found, key=len) if found else None

    @classmethod
    def from_base(cls, kb) -> "SubjectLexicon":
        terms: list[str] = []
        for entry in kb:
            terms.append(entry.title)
            terms.extend(entry.keywords)
        for group in kb.synonyms:
            terms.extend(group)
        return cls(terms)


def subject_of(text: str, lexicon: SubjectLexicon) -> Optional[str]:
    """The subject a message names: a known topic term, else its content residue."""
    body, _ = _body(text)
    known = lexicon.find(body)
    if known:
        return known
    rest = residue(body)
    return rest if _has_content(rest) else None


def predicate_of(question: str, lexicon: SubjectLexicon) -> str:
    """The previous question without its subject ("科技型中小企业怎么评价" → "怎么评价")."""
    body = _PUNCT.sub("", _norm(question))
    lead = _LEAD.match(body)
    body = re.sub(r"(?:的话呢|的话|的呢|呢)+$", "", body[lead.end() :] if lead else body)
    subject = lexicon.find(body)
    if subject:
        return body.replace(subject, "", 1)
    return "".join(aspects(body))


def read(
    text: str, context: Optional[KbContext], lexicon: SubjectLexicon, context_subject: Optional[str] = None
) -> Reading:
    """Decide how to read `text` given the previous topic (see the module docstring).

    context_subject: the previous topic's subject when the caller knows it
    better than the previous question does (e.g. the entry's main keyword).
    """
    raw = (text or "").strip()
    if not context or not raw:
        return Reading(STANDALONE, raw)
    body, marker = _body(raw)
    if len(body) > MAX_FOLLOWUP_CHARS:
        return Reading(STANDALONE, raw)
    known = lexicon.find(body)
    rest = residue(body.replace(known, " ") if known else body)
    subject = known or (rest if _has_content(rest) else None)
    asked = aspects(body.replace(known, " ") if known else body)
    previous = context.question or ""
    carried = context_subject or (lexicon.find(previous) if previous else None) or subject_of(previous, lexicon)
    if subject is None:
        if not carried or not asks_something(body):  # "好的", "可以", "嗯": nothing is asked
            return Reading(STANDALONE, raw)
        return Reading(ELLIPTICAL, f"{carried} {body}".strip(), carried, body)
    if not asked and marker and previous:
        predicate = predicate_of(previous, lexicon)
        if predicate:
            return Reading(NEW_SUBJECT, f"{subject}{predicate}", subject, body)
    return Reading(STANDALONE, raw)
