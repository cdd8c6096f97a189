"""What a chat message does: affirm, refuse, cancel, answer "none", ask, request, correct, follow up.

The form used to compare the whole message with a short list ("确认", "好的"), so "确认无误，提交"
looped forever, and a correction looked for field words anywhere, so a new need description that
mentioned "公司" overwrote the company name. Here every function reads messages of any length the
way a person would (design.md §6 "typed = clicked", "nothing loops"):

- a message is split into clauses; an affirmation is a message with a clause made only of yes-words
  ("确认无误，提交", "嗯对", "👌") and nothing that says no, corrects, cancels, asks or gives new details;
- a correction names its field BEFORE the change verb or colon ("需求描述改成：…公司规模50人" is the
  need description); without a field word the field is inferred from the new value ("不对，应该是139…");
- a request asks the window to act for the user ("帮我办一下", "能帮我们联系投资机构吗"), a plain
  question only asks ("高企认定需要什么条件");
- a follow-up is elliptical and needs the previous topic ("那科小呢", "要什么材料").

All functions accept traditional characters, full-width punctuation, emoji and mixed English; they
are pure regular-expression work over `bot.text.normalise`, and read the details in a message with
`bot.dialogue.details.extract` (a yes that also gives details is no plain yes; a correction's new value is
the detail it names). details in turn needs to know a reply from a bare answer: `is_reply`, which callers
hand to `extract` (details does not import this module).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Optional

from bot.dialogue.details import extract
from bot.text import normalise, normalise_aligned

__all__ = [
    "is_reply",
    "is_affirmation",
    "is_negation",
    "is_cancel",
    "is_none_answer",
    "is_request",
    "is_question",
    "question_parts",
    "correction",
    "is_followup",
    "followup_subject",
    "FIELDS",
]

FIELDS = ("contact_mobile", "contact_name", "enterprise_name", "ticket_location", "need_description", "credit_code")

_PUNCT = r"[\s,.!?;:，。！？；：、~～…\-—_'\"“”‘’()（）\[\]【】<>《》/\\|*#@]"
_PUNCT_RE = re.compile(_PUNCT + "+")
_YES_EMOJI = ("👌", "👍", "✅", "🆗", "✔", "🙆", "💯", "🤝", "🙏")
_NO_EMOJI = ("❌", "🙅", "👎", "✖", "⛔", "🚫", "❎")


@lru_cache(maxsize=4096)
def _norm_cached(text: str) -> str:
    return normalise(text)


def _norm(text: str) -> str:
    return _norm_cached(text or "")


def _bare(text: str) -> str:
    return _PUNCT_RE.sub("", _norm(text))


def _clauses(t: str) -> list[str]:
    return [c for c in _PUNCT_RE.split(t) if c]


def clauses(text: str) -> list[str]:
    """The message cut at its punctuation (normalised): the pieces a long message is made of."""
    return _clauses(_norm(text))


def _segment(clause: str, vocabulary: list[str]) -> Optional[list[str]]:
    """Split a clause into words of `vocabulary` (longest first at each position), or None if it cannot be."""
    out: list[str] = []
    i = 0
    while i < len(clause):
        word = next((w for w in vocabulary if clause.startswith(w, i)), None)
        if word is None:
            return None
        out.append(word)
        i += len(word)
    return out


def _by_length(words) -> list[str]:
    return sorted(set(words), key=len, reverse=True)


# ---- yes / no -----------------------------------------------------------------------------------------

_YES_WORDS = _by_length(
    """
确认 确定 确认提交 确定提交 提交 提交吧 是 是的 是滴 是呀 是啊 对 对的 对头 对呀 对啊 没错 没错的 没有错 没问题 没有问题
没啥问题 没什么问题 都没问题 无误 确认无误 核对无误 信息无误 准确无误 正确无误 无异议 没有异议 正确 准确 属实 都对
都是对的 是对的 全对 好 好的 好滴 好哒 好嘞 好勒 好吧 好呀 好啊 好哦 嗯好 行 行的 行吧 可以 可以的 可 中 妥 妥了
嗯 嗯嗯 恩 恩恩 嗯呢 嗯哼 哦 噢 同意 没毛病 就这样 就这么办 就这样吧 那就这样 照这个 按这个 阔以 可以可以 好好
ok okay okk oka k yes yep yeah yup y sure confirm confirmed correct right submit fine good alright
all good looks good sounds good go ahead thats right that's right 不用改 不用改了 不需要改 不需要修改 不用修改
没有要改的 没什么要改的 不用再改 就这些 就这些了 没别的了 没有别的了 没其他的了 没有其他的了 嗯呐 收到 好的收到
直接 直接提交 就提交 那就提交 去提交 可以提交 帮我提交 请提交 马上提交 登记吧 办吧
""".split()
)
_FILLER_WORDS = _by_length(
    """
吧 啊 呀 了 的 哈 哈哈 啦 哦 噢 喔 呢 嘛 呗 嘞 咯 哟 滴 麻烦 麻烦了 麻烦你 麻烦您 谢谢 谢谢你 谢谢您 谢谢你们 谢了 感谢
多谢 辛苦 辛苦了 辛苦你了 请 帮忙 帮我 帮我们 一下 下 尽快 赶紧 快点 马上 信息 以上 以上信息 上面 上面的 内容 资料
都 全部 全都 就 那 那就 这样 这个 我 我们 看了 看过了 核对了 核对过了 已核对 已确认 也 老师 您 你 你们 亲 please pls
plz thanks thank you thx ty
""".split()
)
_YES_VOCAB = _by_length(_YES_WORDS + _FILLER_WORDS)
# Words with 不/没/无 that do not say no.
_NOT_NEGATIVE = _by_length(
    """
没问题 没有问题 没啥问题 没什么问题 都没问题 没错 没有错 无误 没毛病 无异议 没有异议 不错 挺不错 不用改 不需要改
不需要修改 不用修改 没有要改的 没什么要改的 不用再改 不好意思 不客气 别客气 没关系 不过 不少 不仅 不断 不久 不管
就这些 没别的了 没有别的了 没其他的了 没有其他的了 无论 非常 并非 别人 别的 别家 区别 特别 分别 级别 类别 识别 告别 差别 个别 不是很 不太懂 不知道 不清楚 不确定 不了解 不晓得 没想到 差不多 不一定
""".split()
)
# A-not-A questions are not a no: "是不是", "对不对".
_A_NOT_A = re.compile(r"(.)[不没]\1|可不可以|需不需要|能不能|要不要|会不会|有没有|行不行")
_NEGATIVE = re.compile(
    r"不|没|无(?!论)|别|否|错|非(?!常)|有误|有问题|算了|\bno\b|\bnot\b|\bnope\b|\bwrong\b"
    r"|\bincorrect\b|\bdon'?t\b|\bnah\b|\bcancel\b|\bwait\b|等等|等一下|稍等|慢着|先别"
)


# Putting the decision off is no yes, whatever yes-word it starts with: "嗯，我再考虑一下", "好的，晚点再说".
_DEFERRAL = re.compile(
    r"再想|想想|想一想|考虑|斟酌|琢磨|商量|请示|回头|晚点|晚些|稍后|改天|过几天|等会|以后再|再说"
    r"|\bthink\b|\blater\b|\bhold on\b"
)


def _strip_not_negative(t: str) -> str:
    t = _A_NOT_A.sub(" ", t)
    for w in _NOT_NEGATIVE:
        t = t.replace(w, " ")
    return t


def _has_negative(t: str) -> bool:
    return bool(_NEGATIVE.search(_strip_not_negative(t)))


def is_affirmation(text: str) -> bool:
    """Yes, of any length: "确认无误，提交", "对，没问题", "行", "好的提交", "OK", "👌", "嗯对".
    Not when the message also says no, corrects, cancels, puts the decision off, asks something or gives new
    details ("不对，手机号错了", "好的，手机号改成139…", "嗯，我再考虑一下", "可以吗？")."""
    raw = text or ""
    if any(e in raw for e in _NO_EMOJI):
        return False
    t = _norm(raw)
    found = any(e in raw for e in _YES_EMOJI)
    if not t:
        return found
    if _has_negative(t) or _DEFERRAL.search(t) or is_question(raw) or is_cancel(raw) or re.search(r"\d", t):
        return False
    if correction(raw) is not None:
        return False
    content: list[str] = []
    for clause in _clauses(t):
        words = _segment(clause, _YES_VOCAB)
        if words is not None:
            found = found or any(w in _YES_WORDS for w in words)
        else:
            content.append(clause)
    if not found:
        return False
    if content and extract("，".join(content)).as_slots():
        return False  # "好的，我们在沣西": new details, not a plain yes
    return True


def is_negation(text: str) -> bool:
    """No: "不对", "不是", "不用了", "否", "错了", "no", "❌", "不对，手机号错了". Not "没问题", "不错",
    "不知道" (uncertain) or an A-not-A question ("是不是…")."""
    raw = text or ""
    if any(e in raw for e in _NO_EMOJI):
        return True
    t = _norm(raw)
    if not t:
        return False
    return _has_negative(t)


# ---- cancel / none -----------------------------------------------------------------------------------

_CANCEL = re.compile(
    r"取消|算了|不办了|先不办|不用办|不用了|不需要了|不要了|不登记了|不用登记|不要登记|不想登记|不想办|不想弄|不弄了|不搞了"
    r"|不申请了|暂时不办|暂不办|不办理了|退出|放弃|撤销|结束登记|停止登记|不用麻烦|以后再说|改天再说|下次再说|回头再说|暂时不需要|暂时不用|暂不需要"
    r"|先不用|先不要|先不登记|不考虑了|没必要了|不填了|不想填|\bcancel\b|\bquit\b|\bexit\b|\bstop\b|never ?mind|forget it"
)
_NOT_CANCEL = re.compile(
    r"被取消|取消资格|资格取消|取消认定|取消了资格|撤销资格|撤销认定|算了一下|算了下|算了算(?!了)|不用了解"
    r"|取消.{0,4}(?:补贴|政策|优惠|资格)|放弃.{0,4}(?:补贴|资格|专利)"
)
_CANCEL_ASK = re.compile(r"^(?:能|可以|能不能|可不可以|我想|我要)?(?:取消|退出)(?:吗|么|嘛|一下|吧)?$")


def is_cancel(text: str) -> bool:
    """The user stops what is going on: "取消", "算了，先不办了", "不用登记了", "取消吧", "cancel".
    Not a question about cancelling something ("高企资格被取消了怎么办")."""
    t = _norm(text)
    if not t or not _CANCEL.search(t) or _NOT_CANCEL.search(t):
        return False
    if _CANCEL_ASK.match(_bare(text)):
        return True
    return not is_question(text)


_NONE_CORE = {
    "无",
    "没有",
    "没",
    "不在",
    "没在",
    "不知道",
    "不清楚",
    "不确定",
    "跳过",
    "都不是",
    "暂无",
    "不晓得",
    "不了解",
    "记不清",
    "忘了",
    "其他",
    "其它",
    "别的",
    "空",
    "略",
    "none",
    "no",
    "na",
    "n/a",
    "nil",
    "没注册",
    "未注册",
    "还没注册",
    "不是",
    "均不是",
    "以上都不是",
    "都没有",
    "不记得",
    "不方便",
    "不属于",
    "不太清楚",
    "不太知道",
    "不大清楚",
    "不太确定",
    "说不清",
    "说不好",
}
_NONE_NOISE = _by_length(
    """
我们 我 公司 企业 单位 目前 暂时 现在 还 也 都 真的 其实 好像 应该 任何 这些 那些 以上 上述 里面 里 内 中 园区 新城
位置 地址 信用代码 代码 手机 这个 那个 呢 哦 啊 吧 呀 的 了 哈 嗯 哎 诶 欸 额 呃 谢谢 抱歉 不好意思 在 哪个 之一 个 暂 哦哦 这里 那里
""".split()
)
_NONE_MARKS = "-—/／~～…"


def is_none_answer(text: str) -> bool:
    """ "I have none / don't know" to the question just asked: "无", "没有", "不在园区", "不清楚",
    "我们不在任何园区里", "都不是", "-"."""
    raw = (text or "").strip()
    if raw and all(ch in _NONE_MARKS or ch.isspace() for ch in raw):
        return True
    t = _bare(raw)
    if not t:
        return False
    if t in _NONE_CORE:
        return True
    rest = t
    changed = True
    while changed and rest not in _NONE_CORE:
        changed = False
        for w in _NONE_NOISE:
            if rest.startswith(w) and len(rest) > len(w):
                rest, changed = rest[len(w) :], True
                break
            if rest.endswith(w) and len(rest) > len(w):
                rest, changed = rest[: -len(w)], True
                break
    return rest in _NONE_CORE


# ---- questions ---------------------------------------------------------------------------------------

_IDIOMS = re.compile(
    r"没什么|没啥|不怎么|什么都|啥都|怎么都|哪里哪里|多多少少|多少有点|好几|几乎|为什么不呢|不管怎么|无论如何"
    r"|什么的|之类|哪怕|多少会"
)
_Q_WORD = re.compile(
    r"怎么|怎样|如何|为什么|为何|什么|啥|哪|多少|多久|多长|多大|多远|多高|几[个天年月号点时种家项次岁类成位周日倍张份]"
    r"|是否|能否|可否|可不可以|能不能|会不会|是不是|有没有|要不要|需不需要|用不用|行不行|对不对|好不好|在不在|有无"
    r"|请问|请教|想问|问一下|问下|问问|咨询一下|咨询下|想咨询|想了解|了解一下|求问|谁|何时|何地|何处|几时|咋"
)
_Q_END = re.compile(r"(?:吗|么|嘛|呢|(?<=[好行对是能要有去来])不)(?:[\s啊呀哈哦]*)$|吗(?!啡)")
_EN_Q = re.compile(
    r"^(?:how|what|when|where|who|whom|why|which|can|could|do|does|did|is|are|am|will|would|should"
    r"|may|shall|have|has|any)\b"
)


def is_question(text: str) -> bool:
    """The message asks something: "你们窗口周末上班吗", "在哪里办", "高企需要什么条件", "how long does it take?".
    Not "没什么问题", "好的", "帮我办一下"."""
    t = _norm(text)
    if not t:
        return False
    if "?" in t:
        return True
    core = _IDIOMS.sub(" ", t)
    for clause in re.split(r"[,.!;:。]+", core):
        c = clause.strip()
        if not c:
            continue
        if _Q_WORD.search(c) or _Q_END.search(c) or _EN_Q.match(c):
            return True
    return False


# ---- a reply, not a value --------------------------------------------------------------------------


def is_reply(text: str) -> bool:
    """The message replies to the question just asked instead of giving the value it asks for: yes, no, cancel,
    "none", or a question of its own ("好的", "不是", "取消", "没有", "ok", "什么意思"). Passed to
    `details.extract` (`is_reply=`) so that no such message is read as a bare company or English name."""
    # is_affirmation last: it is the one that reads the message's details
    return is_question(text) or is_none_answer(text) or is_cancel(text) or is_negation(text) or is_affirmation(text)


# ---- requests ----------------------------------------------------------------------------------------

_ACT = (
    r"(?:办理|办|登记|对接|联系|联络|安排|协助|协调|处理|申请|申报|提交|找|推荐|介绍(?:一|个|家|几|位|些)|预约|约"
    r"|跟进|上门|走访|代办|代理|填|写|准备|整理|跑|催|加急|报名|匹配|牵线|引荐|接洽|沟通|指导|辅导|打电话|打个电话"
    r"|回电|回个电话|来电|派|做|弄|搞|落实|解决|争取|递交|审核|核对|评估|梳理|起草|备案|认定)"
)
# What the window does for someone, for "办理一下" / "登记一下吧" without a "帮我" ("找一下", "看一下" are not).
_ACT_DO = (
    r"(?:办理|办|登记|对接|联系|安排|协助|协调|处理|申请|申报|提交|预约|跟进|上门|代办|报名|牵线|引荐|催|加急|落实"
    r"|备案)"
)
_INFO = r"(?:问|查|看|了解|解答|解释|说明|讲|介绍一下|介绍下|科普|分析一下这个政策)"
_ME = r"(?:我|我们|咱们|俺|我司|本公司|我公司|我们公司|我们企业|我家)"
_REQUEST_STRONG = [
    re.compile(rf"(?:帮|替|为|给){_ME}(?!{_INFO}).{{0,8}}?{_ACT}"),
    re.compile(rf"^(?!.*(?:谢谢|感谢|多谢|谢).*帮).*帮(?:个|帮)?忙(?!{_INFO})"),
    re.compile(
        rf"(?:请(?!问|教)|麻烦|劳驾|烦请|拜托|恳请)(?:你们|您|你|窗口|工作人员|老师|专员|一下|尽快|帮忙|再)*{_ACT}"
    ),
    re.compile(r"帮帮(?:我|我们|忙)|求助|救救"),
    re.compile(r"安排(?:一?(?:个|位|名)?(?:人|专人|专员|人员|工作人员|老师|同事))"),
    re.compile(r"(?:联系|回复|回电|打给|call)(?:一下)?我|给我(?:们)?(?:打|回)(?:个)?电话|加我(?:的)?微信"),
    re.compile(
        rf"{_ME}(?:要|想|想要|需要|希望|打算)(?:你们)?(?:登记|提交|预约|报名|对接|找人|找个人|找专人|办理|委托|代办)"
    ),
    re.compile(
        r"(?:希望|想|想要|需要|要|求|急需|期待|盼)(?:有|找|能有)?(?:人|专人|专员|人员|工作人员|你们|窗口|老师|政府"
        r"|贵方|您|你们窗口)(?:能|可以|来|帮忙|尽快|给予)*(?:协助|帮助|帮|对接|联系|安排|上门|指导|辅导|跟进|代办"
        r"|牵线|引荐|介绍|推荐|处理|办理|服务)"
    ),
    re.compile(
        r"(?:希望|想|想要|需要|急需|求)(?:协助|帮助|帮忙|对接|牵线|引荐|上门指导|上门服务|安排|人帮|人协助|人对接)"
    ),
    re.compile(r"(?:能|可以|能否|可否|是否可以|可不可以|能不能)(?:派|安排)(?:个)?(?:人|专人|专员|人员|工作人员)"),
    re.compile(r"(?:能|可以|能否|可否|可不可以|能不能)(?:上门|来一趟|过来一趟|派人|来人)"),
    re.compile(
        r"\b(?:please|pls|plz|can you|could you|would you|help me|help us|i want to|i'd like to|we need|i need"
        r"|we want to)\b.{0,20}\b(?:register|arrange|contact|connect|help|apply|handle|book|call|introduce)"
    ),
]
_REQUEST_WEAK = [
    re.compile(rf"(?<!怎么)(?<!如何){_ACT_DO}(?:一下|下)(?:吧|呗|哈|啊|呀|哦)?$"),
    re.compile(rf"(?<!怎么)(?<!如何){_ACT_DO}一下(?!{_INFO})"),
    re.compile(r"(?:需要|想|想要|希望|急需)(?:对接|联系)"),
    re.compile(
        r"(?:需要|想|想要|希望|急需)找(?:到)?(?:一家|一个|个|几家|家|一位|位|靠谱的?|专业的?)[^,，。]{0,10}"
        r"(?:律所|律师|机构|银行|专家|老师|团队|代理|服务商|事务所|人)"
    ),
]
_INFO_Q = re.compile(
    r"什么|哪些|哪个|哪里|哪儿|多久|多长|多少|怎么|怎样|如何|几|是否|有没有|需不需要|要不要|条件|流程"
    r"|材料|标准|要求|手续|时间|费用"
)


def is_request(text: str) -> bool:
    """The user asks the window to DO something for them — register, arrange a person, connect, handle:
    "帮我办一下", "希望有人协助", "请安排专员对接", "麻烦对接一下律所", "能帮我们联系投资机构吗".
    A plain question ("高企认定需要什么条件", "怎么申报") is not a request."""
    t = _norm(text)
    if not t:
        return False
    for clause in re.split(r"[,.!?;。，、\n]+", t):
        c = clause.replace(" ", "") if not re.search(r"[a-z]{2}", clause) else clause.strip()
        if not c:
            continue
        if any(p.search(c) for p in _REQUEST_STRONG):
            return True
        if any(p.search(c) for p in _REQUEST_WEAK) and not _INFO_Q.search(c) and not re.search(r"吗|么$|呢$", c):
            return True
    return False


# ---- question parts and follow-ups ------------------------------------------------------------------

_CONNECTORS = re.compile(
    r"另外|此外|顺便问一下|顺便问下|顺便问问|顺便请教一下|顺便|再问一下|再问下|还想问一下|还想问"
    r"|还有一个问题|还有个问题|还有就是|还有[,:，：]|其次|然后还有|\bby the way\b|\balso\b|\band\b"
    r"|(?<![\d.])\d{1,2}\s*[.、)）](?!\d)|[①②③④⑤⑥⑦⑧⑨]"
)
_ASK_INTRO = re.compile(
    r"(?:请问|想问|我想问|问一下|问下|咨询一下|想咨询|咨询|请教|问题如下|几个问题|以下问题)[^,，]{0,8}[:：]?$"
)
_LEADING = re.compile(
    r"^(?:那么|那|还有|另外|以及|还|再就是|就是|请问一下|请问|我想问一下|我想问下|我想问|想问一下|想问下|想问"
    r"|问一下|问下|我想咨询一下|我想咨询|想咨询一下|想咨询|咨询一下|咨询下|我想了解一下|我想了解|想了解一下"
    r"|想了解|了解一下|关于|对于|and|also|then)\s*[:：]?\s*"
)
_ASK_LEAD = re.compile(
    r"^(?:请问|我想问|想问|问一下|问下|我想咨询|想咨询|咨询一下|咨询下|请教一下|请教|我想了解|想了解)"
)
_GREETING = re.compile(
    r"^(?:你好|您好|hi|hello|在吗|在不在|老师好|谢谢|感谢|麻烦了|打扰了|早上好|下午好|晚上好|你们好|谢谢啦"
    r"|谢谢了|多谢|请问|[:：])+$"
)
_TOPIC_FILLER = re.compile(
    r"^(?:那么|那|还有|另外|请问|我想问一下|我想问|想问一下|想问下|想问|问一下|问下|咨询一下|我想咨询|想咨询"
    r"|我想了解|想了解|了解一下|帮我们|帮我|帮忙|请|麻烦|办一下|办理一下|一下|我们|我|公司|企业|想|要"
    r"|打算|准备|申请|申报|办理|关于|对于|如果|要是|的)+"
)
_TOPIC_END = re.compile(
    r"需要|要|有|是|的|怎么|如何|什么|多久|多少|能|可以|吗|呢|在哪|去哪|哪|咋|几|需|得|该|应该|必须|,|，"
    r"|办理|申请|申报|认定|多长|和|与|跟|或"
)
_ASPECTS = {
    "有效期",
    "期限",
    "材料",
    "资料",
    "条件",
    "要求",
    "标准",
    "流程",
    "步骤",
    "手续",
    "程序",
    "费用",
    "收费",
    "钱",
    "补贴",
    "奖励",
    "金额",
    "额度",
    "时间",
    "周期",
    "地点",
    "地址",
    "电话",
    "政策",
    "截止时间",
    "截止日期",
    "名额",
    "申请条件",
    "申报条件",
    "申报时间",
    "申请时间",
    "申报材料",
    "申请材料",
    "办理时间",
    "办理地点",
    "网址",
    "入口",
    "复审",
    "续期",
    "有效时间",
    "审批时间",
    "结果",
    "进度",
    "其他",
    "别的",
    "这个",
    "那个",
    "它",
    "怎么办",
    "怎么样",
    "咋办",
    "为什么",
    "什么",
    "啥",
    "然后",
    "接下来",
    "之后",
    "后面",
    "后来",
    "其他的",
    "以后",
    "下一步",
    "现在",
}
_GENERIC = _by_length(
    """
那么 那如果 那 还有 另外 请问 想问 问一下 一下 需要 需 要 得 有没有 有 是不是 是 能不能 能 可以 可不可以 会 多久 多长时间
多长 多少钱 多少 钱 费用 收费 怎么样 怎么弄 怎么办 怎么 怎样 如何 咋 在哪里 在哪儿 在哪 哪里 哪儿 去哪里 去哪 哪个 哪些
什么时候 什么 啥 几天 几个月 几年 几 时间 有效期 期限 材料 资料 条件 要求 标准 流程 步骤 手续 程序 补贴 奖励 金额 额度
申请 申报 办理 办下来 办 批下来 批 审批 下来 通过 拿到 到账 周期 时候 还 也 都 呢 吗 啊 呀 的 了 吧 和 跟 下 去 给
我们 我 交 提交 准备 续期 复审 截止 一般 大概 大约 最快 最多 最少 可 能否 是否 可否 地点 地方 线上 线下 网上 现场 本人
必须 亲自 带 这个 那个 它 这 久 长 结果 多 才 就 能够 一共 总共 如果 要是 认定 审核 出来 公示 收到 么 嘛 用 不用 再
发放 发 兑现 拨付 下发 开始 受理 截止时间 截止日期 报名 入口 网址 电话 联系方式 找谁 谁 处理 几号 日期
""".split()
)


def _subject_of(clause: str) -> Optional[str]:
    """The X of "那X呢" / "X呢" / "X的呢", before deciding whether it is a subject or an aspect."""
    m = re.fullmatch(
        r"(?:那么|那|还有|如果是|要是|那如果是|那如果|那要是|换成|对于|关于)*(.+?)(?:的)?(?:呢|咧|嘞)", clause
    )
    if not m:
        return None
    x = re.sub(r"^(?:如果是|如果|要是|是|换成|对于|关于|申请|申报|办理)+", "", m.group(1))
    aspect = re.search(r"的(?:" + "|".join(sorted(_ASPECTS, key=len, reverse=True)) + r")$", x)
    if aspect:  # "那小巨人的条件呢" → 小巨人
        x = x[: aspect.start()]
    return x or None


def followup_subject(text: str) -> Optional[str]:
    """The new subject of "那X呢" / "X呢" / "X的呢" ("那高企呢" → "高企"); None when there is none or X is
    only an aspect of the previous topic ("那有效期呢": same topic, new aspect)."""
    t = _bare(text)
    if not t or len(t) > 20:
        return None
    x = _subject_of(t)
    if (
        not x
        or x in _ASPECTS
        or len(x) > 12
        or _Q_WORD.search(x)
        or x in ("我", "你", "你们", "他", "她", "我们")
        or re.match(r"[没不有无]", x)
    ):
        return None
    return x


_PERSON = re.compile(
    r"转人工|人工(?:服务|客服|坐席)|真人|活人|找(?:个|一个|一下)?(?:客服|专员|工作人员)"
    r"|(?:和|跟|找|要)(?:个|一个)?(?:人|客服)(?:聊|说|谈|沟通|对话)"
)
_ASKS_WHAT = re.compile(
    r"什么|哪些|哪个|哪里|哪儿|哪类|哪种|多久|多长|多少|怎么|怎样|如何|为什么|为啥|几[个年月天家种]"
)


def asks_for_person(text: str) -> bool:
    """Words that ask for a human: "找个真人聊聊", "转人工", "要人工客服" — not "人工智能" or "找人才"."""
    return bool(_PERSON.search(_norm(text or "")))


def asks_what(text: str) -> bool:
    """A question that names what it wants to know ("哪些行业不行？", "为什么不行"): never a plain yes or no,
    even when it carries a negative word."""
    return is_question(text) and bool(_ASKS_WHAT.search(_norm(text or "")))


def is_followup(text: str) -> bool:
    """An elliptical message that needs the previous topic: "那高企呢", "那有效期多久", "要什么材料",
    "在哪里办", "多久能批下来", "需要多少钱"."""
    t = _bare(text)
    if not t or len(t) > 20:
        return False
    subject = _subject_of(t)  # "那高企呢", "费用呢", "那怎么办呢"
    if subject is not None and (t.startswith("那") or len(t) <= 10) and not re.search(r"干嘛|在干", subject):
        return True
    if not is_question(text):
        return False
    if re.match(r"那么?", t):
        return True
    rest = t
    for w in _GENERIC:
        rest = rest.replace(w, "")
    return rest == ""


def _topic(clause: str) -> Optional[str]:
    s = _TOPIC_FILLER.sub("", clause)
    m = _TOPIC_END.search(s)
    topic = s[: m.start()] if m else s
    topic = re.sub(r"(?:的|了)$", "", topic)
    return topic if 2 <= len(topic) <= 14 and topic not in _ASPECTS else None


def question_parts(text: str) -> list[str]:
    """The questions in a long message, in order, each able to be looked up on its own.

    Sentences are split at 。！？；, line breaks, "另外 / 还有 / 顺便问一下" and list numbers ("1. … 2. …");
    statements in the same sentence stay in front as context ("我们是软件企业，想申请高企，需要什么条件")
    except the company's own figures ("去年营收3000万", "员工80人"), which would only pull the search towards
    whatever policy lists such figures (they are kept as company facts instead);
    a question without a topic of its own gets the last topic mentioned ("我们想申请高企。需要什么材料？"
    → "高企需要什么材料"); "那X呢" repeats the previous question about X ("专精特新怎么申报？那小巨人呢"
    → "小巨人怎么申报"). Parts are normalised (simplified, half-width); the knowledge base normalises anyway."""
    if not text or not text.strip():
        return []
    aligned = normalise_aligned(text)
    parts: list[str] = []
    last_q: Optional[str] = None  # the previous question without its context, for "那X呢"
    last_topic: Optional[str] = None
    for chunk in re.split(r"[。!?！？;；\n]+", aligned):
        asking = False  # "请问：1. 高企认定条件 2. 需要哪些材料": list items are questions
        for sentence in _CONNECTORS.split(chunk):
            sentence = normalise(sentence).strip(" ,，、")
            if not sentence:
                continue
            if _ASK_INTRO.search(sentence) and not is_question(_LEADING.sub("", sentence)):
                asking = True
                continue
            context: list[str] = []
            subs = [c.strip() for c in re.split(r"[,，、]+", sentence) if c.strip()]
            for i, sub in enumerate(subs):
                if _GREETING.match(sub.replace(" ", "")):
                    continue
                core = _LEADING.sub("", sub).strip(" :：") or sub
                # "想问下我们这种情况申请高企，研发费用占比要达到多少": the ask-intro clause states
                # what the question that follows is about; it is that question's context.
                intro = bool(_ASK_LEAD.match(sub)) and i < len(subs) - 1 and not is_question(core)
                if intro or not (is_question(sub) or asking):
                    if not intro and extract(core).figures:
                        continue  # the company's own figures: kept as facts, not search words
                    context.append(core)
                    last_topic = _topic(core) or last_topic
                    continue
                subject = followup_subject(core)
                own = _topic(core)
                cjk = re.search(r"[\u4e00-\u9fff]", core)
                if subject and last_q and last_topic and last_topic in last_q:
                    question = last_q.replace(last_topic, subject, 1)
                    own = subject
                elif (
                    not context and last_topic and cjk and last_topic not in core and (is_followup(core) or own is None)
                ):
                    question = last_topic + re.sub(r"^那么?", "", core)
                else:
                    question = core
                last_q = question
                last_topic = own or subject or last_topic
                parts.append("，".join(context + [question]))
                context = []
    return parts


# ---- corrections -------------------------------------------------------------------------------------

_FIELD_WORDS = {
    "contact_mobile": (
        "手机号码",
        "手机号",
        "手机",
        "电话号码",
        "联系电话",
        "电话",
        "联系方式",
        "号码",
        "mobile",
        "phone",
    ),
    "contact_name": ("联系人姓名", "联系人", "姓名", "名字", "称呼", "人名", "对接人"),
    "enterprise_name": (
        "企业名称",
        "公司名称",
        "单位名称",
        "企业全称",
        "公司全称",
        "公司名字",
        "企业名字",
        "企业名",
        "公司名",
        "企业",
        "公司",
        "单位",
        "company",
    ),
    "ticket_location": (
        "所在园区",
        "所在新城",
        "所在地",
        "所在区域",
        "园区",
        "新城",
        "位置",
        "地址",
        "区域",
        "地点",
        "location",
        "address",
    ),
    "need_description": ("需求描述", "需求内容", "问题描述", "需求", "描述", "内容", "事项", "情况"),
    "credit_code": ("统一社会信用代码", "社会信用代码", "信用代码", "营业执照号", "执照号", "税号", "代码"),
}
_FIELD_OF = {w: f for f, words in _FIELD_WORDS.items() for w in words}
_FIELD_RE = re.compile("|".join(re.escape(w) for w in _by_length(_FIELD_OF)))
_CHANGE = re.compile(
    r"修改为|修改成|更改为|更改成|更正为|更新为|改成|改为|换成|换为|写成|填成|应该是|应该为|应为|应是|其实是"
    r"|写错了|填错了|输错了|打错了|弄错了|搞错了|选错了|写错|填错|输错|打错|选错|错了|不对|有误|不正确|有问题|不是这个"
    r"|修改一下|修改下|修改|更改|更正|改一下|改下|换一下|换下|重新填|重填|更新|要改|改(?=[:\s\d])|:"
)
_LEAD_VERB = re.compile(
    r"(?:请|麻烦|帮我|我要|我想|需要|要)?(?:修改|更改|更正|改一下|改下|改|换一下|换|重新填|重填|更新)"
    r"(?:一下|下|个|一个)?(?:我的|我们的|一下)?\s*"
)
_VALUE_FILLER = re.compile(
    r"(?:[\s,，:：。;；]|应该是|应该为|应为|应是|其实是|正确的是|正确是|应该改成|应改成|要改成|请改成|改成|改为|换成|为|是"
    r"|我们在|我们是|我在|我是|在|叫|我叫|一下)+"
)
# What may stand between a field word and its change verb ("手机号我写错了", "公司名称那一栏不对").
_BETWEEN = re.compile(
    r"^(?:的|也|我|我们|写|填|选|这里|那里|这儿|那儿|那一栏|这一栏|一栏|栏|项|一项|信息|那个|这个|好像|可能|有点"
    r"|都|全|需要|要|得|请|帮我|给我|麻烦|还|再|\s|,|，)*$"
)
_NOT_A_TO_B = re.compile(
    r"^(?:我的|我们的|把)?(?P<field>[^,，\s]{0,10}?)不是(.{1,30}?)[,，\s]+(?:而是|是|应该是|应是)(.+)$"
)
_WEAK_FIELDS = {"公司", "企业", "单位", "情况", "内容", "事项", "代码", "号码", "描述"}


def _value_after(raw: str, t: str, start: int) -> Optional[str]:
    """The user's own words after position `start`, without the leading "是 / 改成 / ："."""
    m = _VALUE_FILLER.match(t, start)
    begin = m.end() if m else start
    value = raw[begin:].strip(" \t\r\n,，。.!！;；、")
    return value or None


def _infer_field(value: str) -> Optional[str]:
    if is_question(value):
        return None
    found = extract(value)
    if found.mobile or found.mobile_invalid:
        return "contact_mobile"
    if found.credit_code:
        return "credit_code"
    if found.company:
        return "enterprise_name"
    if found.new_city or found.park:
        return "ticket_location"
    bare = re.sub(r"^(?:我叫|我是|叫|是|联系人是?)", "", _bare(value))
    if found.contact_name == bare or extract(bare, expecting="contact_name", is_reply=is_reply).contact_name == bare:
        return "contact_name"
    return None


def _clean_value(field: str, value: Optional[str]) -> Optional[str]:
    """The detail itself when the value is a sentence ("我叫李娜" → "李娜"); else the user's words as typed."""
    if value is None:
        return None
    if field in ("contact_mobile", "contact_name", "enterprise_name", "credit_code"):
        found = extract(value, expecting=field, is_reply=is_reply)
        cleaned = {
            "contact_mobile": found.mobile,
            "contact_name": found.contact_name,
            "enterprise_name": found.company,
            "credit_code": found.credit_code,
        }[field]
        return cleaned or value
    return value


def correction(text: str) -> Optional[tuple[str, Optional[str]]]:
    """A correction of a form field: (field, new value) or (field, None) when only the field is named.
    "手机号写错了，是13912345678" → ("contact_mobile", "13912345678"); "修改手机号" → ("contact_mobile", None);
    "需求描述改成：帮我们找一家做股权架构的律所，公司规模50人" → ("need_description", "帮我们找…50人").
    The field word is looked for only right before the change verb or colon, never inside the new value;
    without a field word the field is what the new value is ("不对，应该是139…" → contact_mobile).
    Values are the user's own words (a mobile comes back as its 11 digits when it is valid)."""
    raw = text or ""
    t = normalise_aligned(raw)  # same length as raw: positions cut the user's own words
    if not t.strip():
        return None
    field: Optional[str]
    lead = re.match(r"\s*", t)
    lead = _LEAD_VERB.match(t, lead.end() if lead else 0)
    if lead:
        # "修改手机号" / "改一下公司名称，西安某某有限公司": the verb first, then the field.
        f = _FIELD_RE.match(t, lead.end())
        if f:
            field = _FIELD_OF[f.group()]
            rest = f.end()
            while t[rest : rest + 1] in ("/", "、") and (more := _FIELD_RE.match(t, rest + 1)):  # "修改所在园区/新城"
                rest = more.end()
            nxt = _CHANGE.match(t, rest)
            if nxt:
                rest = nxt.end()
            return field, _clean_value(field, _value_after(raw, t, rest))
    m = _NOT_A_TO_B.match(t.strip())
    if m:
        # "不是王磊，是李娜", "联系人不是我，是我们的李经理"
        offset = len(t) - len(t.lstrip())
        value = _value_after(raw, t, offset + m.start(3))
        named = _FIELD_RE.fullmatch(m.group("field")) if m.group("field") else None
        field = (_FIELD_OF[named.group()] if named else None) or _infer_field(value or "") or _infer_field(m.group(2))
        if field and (named or not m.group("field")):
            return field, _clean_value(field, value)
    previous_end = 0
    for change in _CHANGE.finditer(t):
        segment = t[previous_end : change.start()]
        fields = [f for f in _FIELD_RE.finditer(segment) if _BETWEEN.match(segment[f.end() :])]
        if change.group() == ":":
            clause = re.split(r"[,，。.!;；]", segment)[-1]
            clause = re.sub(r"^(?:\s|我的|我们的|把|请|另外|还有|然后)+", "", clause).strip()
            fields = [f for f in fields if f.group() == clause]
        if fields:
            word = fields[-1].group()
            field = _FIELD_OF[word]
            if word in _WEAK_FIELDS and fields[-1].end() != len(segment.rstrip()):
                previous_end = change.end()
                continue
            rest = change.end()
            return field, _clean_value(field, _value_after(raw, t, rest))
        value = _value_after(raw, t, change.end())
        if change.group() != ":" and value:
            # "不对，应该是13912345678", "错了，我们在沣西": the field is what the value is
            vt = normalise_aligned(value)
            nested = _CHANGE.search(vt)
            if nested and _FIELD_RE.search(vt[: nested.start()]):
                previous_end = change.end()
                continue
            field = _infer_field(value)
            if field:
                return field, _clean_value(field, value)
        previous_end = change.end()
    # "手机号是13912345678" at the start of the message: a new value for that field.
    m = re.match(r"^\s*(?:我的|我们的|把)?(" + _FIELD_RE.pattern + r")\s*(?:是|为)", t)
    if m and m.group(1) not in _WEAK_FIELDS:
        field = _FIELD_OF[m.group(1)]
        value = _value_after(raw, t, m.end())
        if value and not is_question(value):
            return field, _clean_value(field, value)
    return None
