"""One message in bot mode, whatever the classifier called it: `respond`, the Rasa side of bot.dialogue.turn.

"验证" and one-time codes come first (actions/verification.py); a category that routing sends straight to
staff is handed over at once, and a message asking for the 政策体检 (or figures typed after its result) goes
to the check (actions/policy_check.py). Anything else bot.dialogue.turn plans (answer from the knowledge base,
register a need, hand over) and `respond` carries the plan out: it says the replies, sets the slots (the
details the user gave, the knowledge-base context, the user's own words for the need), logs the questions
looked up, and starts the registration form (actions/ticket_form.py) or a handover (actions/handover.py).
It is called by the actions whose intent is only a hint (actions/actions.py) and by 我的工单 when the message
is really a question (actions/tickets.py).
"""

from __future__ import annotations

import logging
from typing import Optional

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services, wording
from actions.handover import hand_over
from actions.latest_message import from_button, user_statement
from actions.policy_check import start_check
from actions.ticket_form import start_ticket_events
from actions.verification import verification_turn
from bot.dialogue import needs, speech, turn
from bot.dialogue import policy_check as policy_chat
from bot.knowledge import log as kb_log
from bot.knowledge import replies as kb_replies
from bot.network.routing import default_router
from bot.taxonomy import is_need

log = logging.getLogger(__name__)


def _utter(dispatcher: CollectingDispatcher, replies: list[kb_replies.Reply]) -> None:
    for r in replies:
        dispatcher.utter_message(**r.as_message())


def _staff_only(intent: Optional[str]) -> bool:
    try:
        return default_router().is_staff_only(intent)
    except Exception:  # noqa: BLE001 - a broken routing file must not stop the bot answering
        log.exception("could not read staff-only categories")
        return False


def detail_events(plan_details, tracker: Tracker) -> list:
    """Slot events for the details the user gave (company, name, mobile, credit code, location, figures)."""
    events = [SlotSet(k, v) for k, v in plan_details.as_slots().items()]
    if plan_details.figures:
        facts = dict(tracker.get_slot("company_facts") or {})
        facts.update(plan_details.figures)
        events.append(SlotSet("company_facts", facts))
    return events


def _more_figures_after_a_check(tracker: Tracker, text: str) -> bool:
    """The bot's last message was a 政策体检 result and this one gives figures (no question, no contact)."""
    last = next((e for e in reversed(tracker.events) if e.get("event") == "bot"), None)
    if not last or not (last.get("text") or "").startswith(policy_chat.RESULT_HEAD):
        return False
    if policy_chat.leaves_contact(text, services.network()) or speech.is_question(text):
        return False
    return bool(policy_chat.facts_of(text, services.network()))


def respond(dispatcher: CollectingDispatcher, tracker: Tracker) -> list:
    """One message in bot mode, whatever it was classified as: answer, register, hand over (bot.dialogue.turn)."""
    verifying = verification_turn(dispatcher, tracker)  # "验证", a one-time code (actions/verification.py)
    if verifying is not None:
        return verifying
    intent = tracker.get_intent_of_latest_message()
    text = tracker.latest_message.get("text") or ""
    ranking = tracker.latest_message.get("intent_ranking") or []
    statement = user_statement(tracker)
    if is_need(intent) and _staff_only(intent):
        # The window routes this category straight to staff (routing.yml staff_only): no bot handling.
        lead = wording.STAFF_ONLY_LEAD.format(label=needs.label(intent))
        return [SlotSet("ticket_category", intent), SlotSet("ticket_seed", statement)] + hand_over(
            dispatcher, tracker, "staff_only", category=intent, lead=lead
        )
    if not text.startswith("/") and (
        policy_chat.starts_check(text, services.network()) or _more_figures_after_a_check(tracker, text)
    ):
        # "我们50个人，营收两千万，研发三百万，能评高企吗" caught by a need intent: the 政策体检 answers it; so do
        # figures typed right after a check's result ("我们有45个人"): the check goes on with them.
        return start_check(dispatcher, tracker, text)
    if text.startswith("/"):
        # A category button ("/need_space"): the need is what the user said before it.
        text = statement or ""
    plan = turn.plan_turn(
        text,
        intent,
        ranking,
        kb=services.knowledge(),
        network=services.network(),
        context=turn.context_from_slot(tracker.get_slot("kb_context")),
        previous_unknown=bool(tracker.get_slot("kb_unknown")),
        last_category=tracker.get_slot("ticket_category"),
        confidence=float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0),
        topic=tracker.get_slot("kb_context"),
    )
    qid = _log_questions(tracker, plan, intent)
    events: list = detail_events(plan.details, tracker)
    if plan.context:
        events.append(SlotSet("kb_context", plan.context))
    events.append(SlotSet("kb_unknown", plan.unknown))
    events.append(SlotSet("kb_query_id", qid if plan.answered else None))
    if statement and not from_button(tracker):
        events.append(SlotSet("user_statement", statement))
    description = statement if from_button(tracker) else plan.description
    if plan.category:
        events += [SlotSet("ticket_category", plan.category), SlotSet("ticket_seed", description)]

    _utter(dispatcher, plan.replies)
    if plan.handover == "complaint":
        dispatcher.utter_message(response="utter_complain_ack")
        return events + hand_over(dispatcher, tracker, "complaint", category=plan.category)
    if plan.handover == "request_human":
        return events + hand_over(
            dispatcher, tracker, "request_human", category=plan.category, lead=wording.HANDOVER_LEAD
        )
    if plan.handover == "fallback":
        return events + hand_over(
            dispatcher, tracker, "fallback", category=plan.category, lead=wording.FALLBACK_HANDOVER_LEAD
        )
    if plan.register and _staff_only(plan.category):
        lead = wording.STAFF_ONLY_LEAD.format(label=needs.label(plan.category))
        return events + hand_over(dispatcher, tracker, "staff_only", category=plan.category, lead=lead)
    if plan.register:
        dispatcher.utter_message(text=needs.acknowledge(plan.category) if plan.category else wording.REGISTER_START)
        return events + start_ticket_events(tracker, plan.category, description, prefilled=events)
    if plan.unknown and not plan.replies:
        if intent == "out_of_scope":
            dispatcher.utter_message(response="utter_out_of_scope")
        else:
            _utter(dispatcher, kb_replies.render_unknown(None))
    return events


def _log_questions(tracker: Tracker, plan, intent: Optional[str]) -> Optional[int]:
    """Record every question looked up (a DB failure never blocks the reply); the id of the last answered one."""
    qid = None
    for asked in plan.asked:
        top = asked.answer.top
        try:
            row = kb_log.record_question(
                services.db_url(),
                conversation_id=tracker.sender_id,
                text=asked.text,
                decision=asked.answer.decision,
                category=intent if is_need(intent) else plan.category,
                faq_id=top.faq.id if top else None,
                entry_id=top.entry.id if top else None,
                score=round(top.score, 4) if top else None,
                channel=tracker.get_latest_input_channel() or "rest",
            )
        except Exception:  # noqa: BLE001
            log.exception("could not record knowledge-base question")
            continue
        if asked.answer.decision in turn.ANSWERED:
            qid = row
    return qid
