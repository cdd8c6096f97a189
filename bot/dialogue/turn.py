"""What the assistant does with one message in bot mode: answer, register, hand over — or several, in order.

This is the conversation's decision layer, kept free of Rasa so it can be unit-tested with a real knowledge
base and no servers. The Rasa actions (actions/) only read the tracker, call `plan_turn` and turn the plan into
messages and slot events.

The rules it implements (design.md §6):
- a message that asks something is looked up in the knowledge base whatever the classifier said (a need, a
  fallback, out-of-scope, even a "complaint" that is really a question about the window);
- a request for help ("帮我办/请安排/对接/登记一下") starts registration, after answering any question part;
- a question never starts registration by itself: the answer offers it as a button;
- a plain statement of a need that the knowledge base cannot answer is registered (that is what the user came for);
- details the user gave (company, name, mobile, credit code, location, company figures) are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from bot.dialogue import speech
from bot.dialogue.details import Details, extract
from bot.knowledge import Answer
from bot.knowledge import replies as kb_replies
from bot.knowledge.service import ANSWER, BEST_GUESS, OPTIONS, UNKNOWN, KbContext
from bot.taxonomy import BY_INTENT, is_need
from bot.text import normalise

MAX_QUESTIONS = 2  # question parts answered in one turn ("…另外…还有…")
RANKING_MIN = 0.10  # an NLU need category this likely may name the need of a request
KB_CATEGORY_MIN = 0.20  # a knowledge-base hit this likely may name it otherwise
OUT_OF_SCOPE_NEED_MIN = 0.20  # a request the classifier called out of scope needs a need category this likely
SURE_INTENT = 0.80  # below this the knowledge base may name a request's category instead,
VOTE_HITS = 5  # … by the main categories of its top hits (category_vote)
VOTE_MIN = 0.08  # … which must carry at least this much score
BARE_REQUEST_CHARS = 10  # a need part this short ("帮我们登记一下") names no subject to vote on
# "那帮我们办一下吧", "那就登记吧", "好的，麻烦安排一下": a request about whatever was just answered.
ELLIPTICAL_REQUEST = re.compile(r"^(?:那|那就|那么|好的?|行|可以|嗯)[，,\s]*.{0,6}(?:帮|麻烦|请|登记|办|安排|对接)")
# Clauses that carry no need: greetings, bare field names ("联系人：胡杨" is cut at the colon).
NOISE_CLAUSE = re.compile(
    r"(?:你好|您好|hi|hello|联系人|联系方式|联系电话|手机号?|电话|姓名|微信|两件事|有两件事|谢谢)[呀啊哈]?"
)
CUES = (
    (
        "need_subsidy_redemption",
        re.compile(
            r"(?:补贴|奖补|奖励|资金|补助|扶持)[^，。]{0,8}(?:没到账|未到账|没有到账|还没到|到账|拨付|催办|兑现)"
            r"|(?:催办|兑现)[^，。]{0,6}(?:补贴|奖补|奖励|资金|补助)"
        ),
    ),
    (
        "need_business_registration",
        re.compile(
            r"迁移登记|迁入登记|迁址|变更登记|注销登记|企业开办|(?:新)?注册(?:一家|一个|个)?(?:新)?公司"
            r"|办(?:理)?营业执照|设立登记"
        ),
    ),
)
ANSWERED = (ANSWER, BEST_GUESS)
REGISTER_PAYLOAD = "/open_ticket"
FEEDBACK_PAYLOADS = tuple(b["payload"] for b in kb_replies.FEEDBACK_BUTTONS)


def _without(replies: list[kb_replies.Reply], *payloads: str) -> list[kb_replies.Reply]:
    """The replies minus the buttons with these payloads, and minus replies left with neither text nor buttons
    (the feedback question belongs after the last answer of a turn only)."""
    out = []
    for r in replies:
        buttons = [b for b in r.buttons if b.get("payload") not in payloads]
        if r.text == kb_replies.FEEDBACK_QUESTION and not buttons:
            continue
        if r.text or buttons:
            out.append(kb_replies.Reply(r.text, buttons))
    return out


@dataclass
class Asked:
    """One question part and what the knowledge base said about it."""

    text: str
    answer: Answer


@dataclass
class TurnPlan:
    """The plan for one user message; actions render it in this order: replies, then register/hand over."""

    replies: list[kb_replies.Reply] = field(default_factory=list)
    asked: list[Asked] = field(default_factory=list)
    register: bool = False  # start the registration form
    category: Optional[str] = None  # the need category (for the form or the handover)
    description: Optional[str] = None  # the user's own words for the ticket
    handover: Optional[str] = None  # a handover reason ("fallback", "complaint", "request_human")
    unknown: bool = False  # nothing relevant was found (two in a row → a person)
    context: Optional[dict[str, Any]] = None  # the topic to carry into the next turn (kb_context slot)
    details: Details = field(default_factory=Details)

    @property
    def answered(self) -> bool:
        return any(a.answer.decision in ANSWERED for a in self.asked)


def context_from_slot(value: Any) -> Optional[KbContext]:
    """The kb_context slot (a dict) as the knowledge service's context object."""
    if not isinstance(value, dict) or not value.get("entry_id"):
        return None
    return KbContext(entry_id=value.get("entry_id"), faq_id=value.get("faq_id"), question=value.get("question"))


def context_of(asked: Asked) -> Optional[dict[str, Any]]:
    answer = asked.answer
    top = answer.top
    if answer.decision not in ANSWERED or top is None:
        return None
    question = getattr(answer, "resolved", "") or asked.text  # "那高企呢" → what it was read as
    return {
        "entry_id": top.entry.id,
        "faq_id": top.faq.id,
        "question": question[:200],
        "category": top.entry.categories[0] if top.entry.categories else None,
    }


def need_category(
    intent: Optional[str], ranking: list[dict], asked: list[Asked], fallback: Optional[str] = None
) -> Optional[str]:
    """The category a need belongs to: the classifier's need intent, else its likeliest need category,
    else the category of the best knowledge-base hit, else `fallback` (e.g. the category discussed last)."""
    if is_need(intent):
        return intent
    for item in ranking or []:
        name = item.get("name")
        if is_need(name) and (item.get("confidence") or 0) >= RANKING_MIN:
            return name
    for a in asked:
        top = a.answer.top
        if top is not None and top.score >= KB_CATEGORY_MIN and top.entry is not None:
            for c in top.entry.categories:
                if is_need(c):
                    return c
    return fallback if is_need(fallback) else None


def request_category(
    text: str,
    intent: Optional[str],
    confidence: float,
    ranking: list[dict],
    *,
    kb,
    asked: Sequence[Asked] = (),
    context: Optional[dict] = None,
    fallback: Optional[str] = None,
) -> Optional[str]:
    """The category of what a request asks the window to do.

    - "那帮我们办一下吧" right after an answer: the topic just answered;
    - a message that asks one thing and requests another ("一是想问高企…，二是想申请质押贷款，麻烦安排"): the
      request's own part, read by the knowledge base (the classifier saw both and often names the question's);
    - a long message full of names, numbers and places, or an unsure classifier: the need part without them, read
      by the knowledge base when it is clear about it;
    - otherwise the classifier (need_category).
    """
    text = (text or "").strip()
    if context and context.get("category") and is_need(context["category"]) and ELLIPTICAL_REQUEST.match(text):
        return context["category"]
    need_text = need_part(text, [a.text for a in asked])
    cued = cue_category(need_text or text)
    if cued:
        return cued
    unsure = not is_need(intent) or confidence < SURE_INTENT
    # "…怎么申请？帮我们登记一下": a bare request has no subject of its own — the classifier's reading stands.
    if len(need_text) > BARE_REQUEST_CHARS and (asked or unsure or need_text != "，".join(speech.clauses(text))):
        voted = category_vote(kb.ask(need_text))
        if voted:
            return voted
    return need_category(intent, ranking, list(asked), fallback)


def category_vote(answer: Answer) -> Optional[str]:
    """The category the knowledge base's best hits agree on: the main category of each of the top hits,
    weighted by score; one category must carry enough weight and twice any other's. The scores of a short
    need statement are low (it is no question) but its hits usually agree on the subject."""
    mass: dict[str, float] = {}
    for h in answer.hits[:VOTE_HITS]:
        main = next((c for c in (h.entry.categories if h.entry else []) if is_need(c)), None)
        if main:
            mass[main] = mass.get(main, 0.0) + h.score
    if not mass:
        return None
    ranked = sorted(mass.items(), key=lambda kv: -kv[1])
    best, weight = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    return best if weight >= VOTE_MIN and weight >= 2 * runner_up else None


def need_part(text: str, questions: Sequence[str] = ()) -> str:
    """The clauses of a message that state the need: without the question parts already answered, and
    without the clauses that only give contact details, places or figures (what the classifier should
    have read in "我叫李娜，手机…，西安云图…有限公司，在空港新城，需要找律所做股权架构梳理，请安排一下")."""
    keep = []
    for c in speech.clauses(text):
        if any(c == q or c in q for q in questions):
            continue
        if (
            re.search(r"\d", c)
            or extract(c).as_slots()
            or NOISE_CLAUSE.fullmatch(c)
            or extract(c, expecting="contact_name", is_reply=speech.is_reply).contact_name == c
        ):
            continue
        keep.append(c)
    return "，".join(keep)


def _named_need(text: str, ranking: list[dict], asked: list[Asked], kb) -> bool:
    """Some need category is clearly in play (for a message the classifier called out of scope): the classifier's
    runner-up, a cue word, a relevant knowledge-base hit, or the knowledge base's vote on the need part."""
    if any(is_need(i.get("name")) and (i.get("confidence") or 0) >= OUT_OF_SCOPE_NEED_MIN for i in ranking or []):
        return True
    if any(a.answer.top is not None and a.answer.top.score >= KB_CATEGORY_MIN for a in asked):
        return True
    need_text = need_part(text, [a.text for a in asked])
    return bool(need_text) and (cue_category(need_text) is not None or category_vote(kb.ask(need_text)) is not None)


def cue_category(text: str) -> Optional[str]:
    """The category a few unmistakable words name (design.md §2's boundary examples: 补贴到账 is redemption,
    not application; 迁移登记 / 企业开办 is registration, not 审批代办) — None unless exactly one category is cued."""
    t = normalise(text or "")
    found = {category for category, pattern in CUES if pattern.search(t)}
    return found.pop() if len(found) == 1 else None


def _questions(text: str, request: bool) -> list[str]:
    if not text:
        return []  # nothing said (a category button first thing): nothing to look up
    parts = speech.question_parts(text)
    if parts:
        return parts[:MAX_QUESTIONS]
    if request:
        return []  # "请安排一下…": nothing to look up, only to register
    return [text]  # a statement ("高企认定", "想申请人才公寓") is looked up as it is


def plan_turn(
    text: str,
    intent: Optional[str],
    ranking: list[dict],
    *,
    kb,
    network=None,
    context: Optional[KbContext] = None,
    previous_unknown: bool = False,
    last_category: Optional[str] = None,
    confidence: float = 1.0,
    topic: Optional[dict] = None,
) -> TurnPlan:
    """Decide what to do with one message (see the module docstring).

    kb: a KnowledgeService; context: the topic of the previous answer (for "那有效期多久");
    previous_unknown: the previous turn found nothing either (a second miss goes to a person).
    """
    text = (text or "").strip()
    plan = TurnPlan(details=extract(text, network))
    request = speech.is_request(text)
    for part in _questions(text, request):
        plan.asked.append(Asked(part, kb.ask(part, context=context)))
    answered = [a for a in plan.asked if a.answer.decision in ANSWERED]
    plan.context = context_of(answered[0]) if answered else None

    if intent == "complain" and not answered:
        plan.handover = "complaint"
        return plan
    if not answered and speech.asks_for_person(text) and _leans_to(ranking, "request_human"):
        # "找个真人聊聊，机器人说不清楚" just under the fallback threshold: the words and the classifier agree.
        plan.handover = "request_human"
        return plan

    if request and intent == "out_of_scope" and not _named_need(text, ranking, plan.asked, kb):
        request = False  # "帮我订一张火车票": a request, but for nothing the window does
    if request:
        # Answer what was asked (confident answers only), then register the need.
        for a in answered:
            if a.answer.decision == ANSWER:
                plan.replies += _without(kb_replies.render(a.answer), REGISTER_PAYLOAD, *FEEDBACK_PAYLOADS)
        plan.register = True
        plan.category = request_category(
            text, intent, confidence, ranking, kb=kb, asked=plan.asked, context=topic, fallback=last_category
        )
        plan.description = text
        return plan

    if answered:
        for i, a in enumerate(answered):
            replies = kb_replies.render(a.answer)
            if i < len(answered) - 1:  # one feedback question, after the last answer
                replies = _without(replies, REGISTER_PAYLOAD, *FEEDBACK_PAYLOADS)
            plan.replies += replies
        plan.category = need_category(intent, ranking, plan.asked, last_category)
        plan.description = text
        return plan

    # Nothing confident. Options (several close candidates) are still an answer of sorts.
    first = plan.asked[0].answer if plan.asked else None
    if first is not None and first.decision not in (UNKNOWN,):
        plan.replies += kb_replies.render(first)
        plan.category = need_category(intent, ranking, plan.asked, last_category)
        plan.description = text
        return plan

    plan.unknown = True
    plan.category = need_category(intent, ranking, plan.asked, None)
    plan.description = text
    if is_need(intent) and not speech.is_question(text):
        plan.register = True  # a stated need the base cannot answer: register it for staff
        return plan
    if previous_unknown and intent != "out_of_scope":  # chit-chat twice is no reason to call a person
        plan.handover = "fallback"
        return plan
    if first is not None and intent != "out_of_scope":  # out of scope: the actions say what we do instead
        plan.replies += kb_replies.render(first, intent=intent)
    return plan


def _leans_to(ranking: list[dict], intent: str) -> bool:
    """`intent` is the classifier's first or second choice, not counting the fallback."""
    names = [r.get("name") for r in ranking if r.get("name") != "nlu_fallback"][:2]
    return intent in names


def is_answerable(text: str, *, kb, context: Optional[KbContext] = None) -> bool:
    """A message a meta intent caught (capabilities, ticket status) that is really a question for the base:
    a follow-up to the topic just answered, or a question the base answers or offers a menu for ("你们的服务中心
    都在哪": the window's centres or the 首贷服务中心) — but not "你们能办什么", which the intent's own reply
    answers best. A menu of the FAQs the question names beats the list of everything the window does."""
    if not speech.is_question(text) and not speech.is_followup(text):
        return False
    if context is not None and speech.is_followup(text):
        return kb.ask(text, context=context).decision in (*ANSWERED, OPTIONS)
    if CAPABILITY_QUESTION.search(normalise(text)):
        return False
    return kb.ask(text).decision in (*ANSWERED, OPTIONS)


CAPABILITY_QUESTION = re.compile(
    r"能办|能做|可以办|可以做|能帮|能干|会什么|服务内容|业务范围|功能|办哪些|做哪些|管哪些"
)


def label(category: Optional[str]) -> str:
    c = BY_INTENT.get(category or "")
    return c.name if c else ""
