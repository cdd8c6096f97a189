"""政策体检 in the chat: the Rasa side of bot.dialogue.policy_check (which holds the decisions; bot.policy the rules).

Flow (a Rasa form, like the ticket form in actions/ticket_form.py):
- `start_check` ("政策体检", "能评高企吗", a message with figures): figures from this message, from earlier in the
  conversation (`company_facts`) and, for a verified contact, the enterprise's saved ones; when a figure
  decides something it starts `policy_check_form`, else it shows the result at once. Its callers are the turn
  (actions/turn.py) and `action_policy_check_start`, which lives in actions/actions.py with the other actions
  whose intent is only a hint: a message the classifier took for a check may be a question for the knowledge
  base ("什么样的企业算小型微利企业") or a need to register, and then the turn answers it;
- the form's one slot `policy_answer` is asked by `action_ask_policy_answer` (the question chosen by
  next_question) and read by `validate_policy_check_form`: each answer updates the facts and picks the next
  question, "跳过/不清楚" skips it, "取消" / "转人工" end the check;
- `action_policy_check_result` shows one block per policy with the deciding numbers, saves the figures to the
  enterprise (一企一档) when it is known, and offers to register a need for the policies that fit;
- `action_policy_register` (a result button) starts the ticket form with the policy's category.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Dict, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services, wording
from actions.handover import hand_over
from actions.ticket_form import WANTS_A_PERSON, start_ticket_events
from bot import clock
from bot.dialogue import policy_check as pc
from bot.dialogue import speech
from bot.knowledge import replies as kb_replies
from bot.policy import load_rules
from bot.tickets import figures as saved_figures

log = logging.getLogger(__name__)

STATE = "policy_check_state"
ANSWER = "policy_answer"
DONE, CANCELLED, HANDOVER = "done", "cancelled", "handover"


@lru_cache(maxsize=1)
def _rules_holder():

    return load_rules(services.settings().knowledge_dir)


def rules():
    """The policy rules (knowledge/policies); loaded once per action-server process."""
    return _rules_holder()


def _enterprise(tracker: Tracker) -> Optional[int]:
    try:
        return saved_figures.verified_enterprise(services.db_url(), tracker.sender_id)
    except Exception:  # noqa: BLE001 - the check works without the enterprise's file
        log.exception("could not look up the enterprise of %s", tracker.sender_id)
        return None


def _state(tracker: Tracker) -> dict:
    value = tracker.get_slot(STATE)
    return dict(value) if isinstance(value, dict) else {}


def show_result(dispatcher: CollectingDispatcher, tracker: Tracker, facts: dict, state: dict) -> list:
    """The result message, the 一企一档 save, and the slots a "帮我登记" after it needs."""
    focus = state.get("focus") or []
    report, dropped = pc.evaluate(rules(), facts, clock.today())
    fits = pc.fitting(report, focus)
    buttons = [
        {
            "title": wording.CHECK_REGISTER_BUTTON_TITLE.format(name=pc.SHORT_NAMES.get(p, p)),
            "payload": f'/policy_register{{"policy":"{p}"}}',
        }
        for p in fits[:3]
    ] + [kb_replies.HUMAN_BUTTON]
    dispatcher.utter_message(
        text=pc.result_text(report, rules(), focus=focus, dropped=dropped, facts=facts), buttons=buttons
    )
    events: list = [SlotSet("company_facts", facts), SlotSet(STATE, None), SlotSet(ANSWER, None)]
    enterprise = _enterprise(tracker)
    if enterprise is not None and facts:
        try:
            channel = tracker.get_latest_input_channel() or "rest"
            saved_figures.save(services.db_url(), enterprise, facts, via=f"chat:{channel}", by=tracker.sender_id)
        except Exception:  # noqa: BLE001 - never lose the answer over the file
            log.exception("could not save the figures of enterprise %s", enterprise)
    if fits:
        seed = pc.seed_text(report, facts, fits[:1], state.get("asked_in") or "")
        events += [
            SlotSet("ticket_category", pc.POLICY_CATEGORY[fits[0]]),
            SlotSet("ticket_seed", seed),
            SlotSet("user_statement", seed),
        ]
    return events


def start_check(dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> list:
    """Figures from the message, the conversation and the enterprise's file; the first question or the result."""
    from_payload = text.startswith("/")
    facts: dict = {}
    enterprise = _enterprise(tracker)
    if enterprise is not None:
        try:
            facts, _ = saved_figures.load(services.db_url(), enterprise)
        except Exception:  # noqa: BLE001
            log.exception("could not read the figures of enterprise %s", enterprise)
    facts = pc.merge(facts, dict(tracker.get_slot("company_facts") or {}), today=clock.today())
    if not from_payload:
        facts = pc.merge(facts, pc.facts_of(text, services.network(), today=clock.today()), today=clock.today())
    focus = pc.focus_of(text if not from_payload else tracker.get_slot("user_statement") or "")
    state = {"focus": focus, "asked": [], "skipped": [], "asked_in": "" if from_payload else text[:300]}
    report, _ = pc.evaluate(rules(), facts, clock.today())
    q = pc.next_question(report, facts, focus=focus, today=clock.today())
    if q is None:
        return show_result(dispatcher, tracker, facts, state)
    known = pc.describe(facts)
    dispatcher.utter_message(text=wording.CHECK_INTRO + (wording.CHECK_KNOWN.format(known=known) if known else ""))
    state["asked"], state["question"] = [q.key], q.text
    return [
        SlotSet("company_facts", facts),
        SlotSet(STATE, state),
        SlotSet(ANSWER, None),
        FollowupAction("policy_check_form"),
    ]


class ActionAskPolicyAnswer(Action):
    """The form's question: the one validate chose (state["asked"][-1])."""

    def name(self) -> Text:
        return "action_ask_policy_answer"

    async def run(self, dispatcher, tracker, domain):
        state = _state(tracker)
        dispatcher.utter_message(text=state.get("question") or pc.BY_KEY["staff"].text)
        return []


class ValidatePolicyCheckForm(FormValidationAction):
    """Each answer: figures in it (also bare ones meant for the question), "跳过", "取消", "转人工"."""

    def name(self) -> Text:
        return "validate_policy_check_form"

    def validate_policy_answer(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        if value is None:
            return {ANSWER: None}
        text = str(value).strip()
        if speech.is_cancel(text):
            return {ANSWER: CANCELLED}
        if WANTS_A_PERSON.search(text) and len(text) <= 16:
            return {ANSWER: HANDOVER}
        state = _state(tracker)
        asked = list(state.get("asked") or [])
        skipped = list(state.get("skipped") or [])
        pending = asked[-1] if asked else None
        facts = dict(tracker.get_slot("company_facts") or {})
        found = pc.facts_of(text, services.network(), expecting=pending, today=clock.today(), known=facts)
        if found:
            facts = pc.merge(facts, found, expecting=pending, today=clock.today())
        elif pending and not pc.is_skip(text) and not speech.is_none_answer(text) and not state.get("retried"):
            # Not understood: ask the same question once more, in plain words.
            dispatcher.utter_message(text=wording.CHECK_NO_NUMBER)
            return {ANSWER: None, STATE: {**state, "retried": True}}
        elif pending:
            skipped.append(pending)
        report, _ = pc.evaluate(rules(), facts, clock.today())
        q = pc.next_question(
            report, facts, focus=state.get("focus") or [], asked=asked, skipped=skipped, today=clock.today()
        )
        if q is None:
            return {ANSWER: DONE, "company_facts": facts, STATE: {**state, "skipped": skipped, "retried": False}}
        state = {**state, "asked": asked + [q.key], "question": q.text, "skipped": skipped, "retried": False}
        return {ANSWER: None, "company_facts": facts, STATE: state}


class ActionPolicyCheckResult(Action):
    """The form ended: the result, or "已退出", or a person."""

    def name(self) -> Text:
        return "action_policy_check_result"

    async def run(self, dispatcher, tracker, domain):
        answer = tracker.get_slot(ANSWER)
        facts = dict(tracker.get_slot("company_facts") or {})
        if answer == CANCELLED:
            dispatcher.utter_message(text=wording.CHECK_CANCELLED)
            return [SlotSet(STATE, None), SlotSet(ANSWER, None)]
        if answer == HANDOVER:
            return [SlotSet(STATE, None), SlotSet(ANSWER, None)] + hand_over(
                dispatcher, tracker, "request_human", category="need_policy_consult", lead=wording.HANDOVER_LEAD
            )
        return show_result(dispatcher, tracker, facts, _state(tracker))


class ActionPolicyRegister(Action):
    """A result button "登记高企认定需求": the ticket form with the policy's category and the figures."""

    def name(self) -> Text:
        return "action_policy_register"

    async def run(self, dispatcher, tracker, domain):
        policy = next(
            (e.get("value") for e in tracker.latest_message.get("entities") or [] if e.get("entity") == "policy"), None
        )
        category = pc.POLICY_CATEGORY.get(policy or "") or tracker.get_slot("ticket_category") or "need_policy_consult"
        facts = dict(tracker.get_slot("company_facts") or {})
        seed = tracker.get_slot("ticket_seed") if policy is None else None
        if seed is None:
            report, _ = pc.evaluate(rules(), facts, clock.today())
            seed = pc.seed_text(report, facts, [policy] if policy else [], "")
        dispatcher.utter_message(text=wording.REGISTER_START_ON_REQUEST)
        events = [SlotSet("ticket_category", category), SlotSet("user_statement", seed)]
        return events + start_ticket_events(tracker, category, seed)
