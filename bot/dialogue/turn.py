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

from dataclasses import dataclass, field
from typing import Any, Optional

from bot import kb_replies
from bot.dialogue import speech
from bot.dialogue.details import Details, extract
from bot.knowledge import Answer
from bot.knowledge.service import ANSWER, BEST_GUESS, KbContext, UNKNOWN
from bot.taxonomy import BY_INTENT, is_need

MAX_QUESTIONS = 2            # question parts answered in one turn ("…另外…还有…")
RANKING_MIN = 0.10           # an NLU need category this likely may name the need of a request
KB_CATEGORY_MIN = 0.20       # a knowledge-base hit this likely may name it otherwise
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
    register: bool = False                 # start the registration form
    category: Optional[str] = None         # the need category (for the form or the handover)
    description: Optional[str] = None      # the user's own words for the ticket
    handover: Optional[str] = None         # a handover reason ("fallback", "complaint")
    unknown: bool = False                  # nothing relevant was found (two in a row → a person)
    context: Optional[dict[str, Any]] = None   # the topic to carry into the next turn (kb_context slot)
    details: Details = field(default_factory=Details)

    @property
    def answered(self) -> bool:
        return any(a.answer.decision in ANSWERED for a in self.asked)


def context_from_slot(value: Any) -> Optional[KbContext]:
    """The kb_context slot (a dict) as the knowledge service's context object."""
    if not isinstance(value, dict) or not value.get("entry_id"):
        return None
    return KbContext(entry_id=value.get("entry_id"), faq_id=value.get("faq_id"),
                     question=value.get("question"))


def context_of(asked: Asked) -> Optional[dict[str, Any]]:
    answer = asked.answer
    if answer.decision not in ANSWERED or answer.top is None:
        return None
    return {"entry_id": answer.entry.id, "faq_id": answer.faq.id, "question": asked.text[:200],
            "category": (answer.entry.categories or [None])[0]}


def need_category(intent: Optional[str], ranking: list[dict], asked: list[Asked],
                  fallback: Optional[str] = None) -> Optional[str]:
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


def _questions(text: str, request: bool) -> list[str]:
    parts = speech.question_parts(text)
    if parts:
        return parts[:MAX_QUESTIONS]
    if request:
        return []           # "请安排一下…": nothing to look up, only to register
    return [text]           # a statement ("高企认定", "想申请人才公寓") is looked up as it is


def plan_turn(text: str, intent: Optional[str], ranking: list[dict], *, kb, network=None,
              context: Optional[KbContext] = None, previous_unknown: bool = False,
              last_category: Optional[str] = None) -> TurnPlan:
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

    if request:
        # Answer what was asked (confident answers only), then register the need.
        for a in answered:
            if a.answer.decision == ANSWER:
                plan.replies += _without(kb_replies.render(a.answer), REGISTER_PAYLOAD, *FEEDBACK_PAYLOADS)
        plan.register = True
        plan.category = need_category(intent, ranking, plan.asked, last_category)
        plan.description = text
        return plan

    if answered:
        for i, a in enumerate(answered):
            replies = kb_replies.render(a.answer)
            if i < len(answered) - 1:       # one feedback question, after the last answer
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
        plan.register = True        # a stated need the base cannot answer: register it for staff
        return plan
    if previous_unknown and intent != "out_of_scope":     # chit-chat twice is no reason to call a person
        plan.handover = "fallback"
        return plan
    if first is not None and intent != "out_of_scope":     # out of scope: the actions say what we do instead
        plan.replies += kb_replies.render(first, intent=intent)
    return plan


def label(category: Optional[str]) -> str:
    c = BY_INTENT.get(category or "")
    return c.name if c else ""
