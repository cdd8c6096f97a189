"""Ticket actions after registration: 我的工单, adding information to an open ticket, rating a closed one.

The registration form that opens a ticket is in actions/ticket_form.py.
"""

from __future__ import annotations

import re
from typing import Text

from rasa_sdk import Action, FormValidationAction
from rasa_sdk.events import FollowupAction, SlotSet

from actions import services, wording
from actions.turn import respond
from actions.verification import verification_turn
from bot.dialogue import speech, turn
from bot.knowledge import replies as kb_replies
from bot.tickets import chat
from bot.tickets import lifecycle as lc
from bot.tickets.service import TicketError

CANCELLED = "cancelled"  # info_text when the user cancels adding information
# "我的工单", "我提交的需求办到哪了", a ticket number: the user asks about their own tickets.
OWN_TICKETS = re.compile(
    r"我的|我们的|我(?:们)?(?:提交|报|登记|申请)的|工单号|QCY|办到|到哪|进度|进展|查询|查一下|查下", re.IGNORECASE
)


class ActionTicketStatus(Action):
    """我的工单: the enterprise's tickets for a verified contact, the sender's own ones until then."""

    def name(self) -> Text:
        return "action_ticket_status"

    async def run(self, dispatcher, tracker, domain):
        handled = verification_turn(dispatcher, tracker)
        if handled is not None:
            return handled
        text = tracker.latest_message.get("text") or ""
        if (
            not text.startswith("/")
            and not OWN_TICKETS.search(text)
            and turn.is_answerable(
                text, kb=services.knowledge(), context=turn.context_from_slot(tracker.get_slot("kb_context"))
            )
        ):
            return respond(dispatcher, tracker)  # "提交了需求多久有人回复" asks about the service, not a ticket
        rows = services.tickets().tickets_for_sender(tracker.sender_id)
        standing = services.identity().standing(tracker.sender_id)
        # Unverified: only its own tickets, and the way to see the enterprise's (nothing says whether it has any).
        offer = (
            None
            if standing.verified or not standing.enterprise_name
            else (wording.VERIFY_OFFER.format(name=standing.enterprise_name))
        )
        if not rows:
            dispatcher.utter_message(
                text=wording.NO_TICKETS + (f"\n{offer}" if offer else ""),
                buttons=[wording.VERIFY_BUTTON] if offer else [],
            )
            return []
        wanted = chat.ticket_numbers(tracker.latest_message.get("text") or "")
        if wanted:
            rows = [r for r in rows if r[0].number in wanted] or rows
        head = wording.MY_TICKETS_ENTERPRISE if standing.verified else wording.MY_TICKETS_OWN
        lines = [head.format(count=len(rows))]
        buttons = []
        for i, (t, node) in enumerate(rows, 1):
            lines.append(chat.ticket_line(i, t, node.name))
            if t.status in lc.OPEN_STATES and len(buttons) < 4:
                buttons.append(
                    {
                        "title": wording.ADD_INFO_BUTTON_TITLE.format(number=t.number),
                        "payload": wording.ADD_INFO_PAYLOAD.format(number=t.number),
                    }
                )
            if t.status == lc.RESOLVED and len(buttons) < 4:
                buttons.append(
                    {
                        "title": wording.RATE_BUTTON_TITLE.format(number=t.number),
                        "payload": wording.RATE_PAYLOAD.format(number=t.number),
                    }
                )
        if offer:
            lines.append(offer)
            buttons.append(wording.VERIFY_BUTTON)
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
        return []


class ActionStartAddInfo(Action):
    def name(self) -> Text:
        return "action_start_add_info"

    async def run(self, dispatcher, tracker, domain):
        rows = services.tickets().tickets_for_sender(tracker.sender_id, limit=20)
        open_rows = [t for t, _ in rows if t.status in lc.OPEN_STATES]
        target = chat.ticket_meant(open_rows, tracker.latest_message.get("text") or "", only_if_single=True)
        if target is None:
            if not open_rows:
                dispatcher.utter_message(text=wording.NO_OPEN_TICKETS)
                return []
            dispatcher.utter_message(
                text=wording.WHICH_TICKET_TO_ADD,
                buttons=[
                    {"title": t.number, "payload": wording.ADD_INFO_PAYLOAD.format(number=t.number)}
                    for t in open_rows[:5]
                ],
            )
            return []
        return [
            SlotSet("info_ticket_number", target.number),
            SlotSet("info_text", None),
            FollowupAction("add_info_form"),
        ]


class ValidateAddInfoForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_add_info_form"

    def validate_info_text(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"info_text": None}
        text = (value or "").strip()
        if speech.is_cancel(text):
            return {"info_text": CANCELLED}
        if len(text) < 2 or text.startswith("/"):
            dispatcher.utter_message(text=wording.ADD_INFO_EMPTY)
            return {"info_text": None}
        return {"info_text": text}


class ActionSubmitAddInfo(Action):
    def name(self) -> Text:
        return "action_submit_add_info"

    async def run(self, dispatcher, tracker, domain):
        number, text = tracker.get_slot("info_ticket_number"), tracker.get_slot("info_text")
        if text == CANCELLED:
            dispatcher.utter_message(text=wording.ADD_INFO_CANCELLED)
        else:
            try:
                t = services.tickets().add_info(number, tracker.sender_id, text)
                dispatcher.utter_message(text=wording.ADD_INFO_DONE.format(number=t.number, status=lc.LABELS[t.status]))
            except TicketError as exc:
                dispatcher.utter_message(text=str(exc))
        return [SlotSet("info_ticket_number", None), SlotSet("info_text", None)]


class ActionRateTicket(Action):
    """Rate a closed ticket (5 levels); 不满意 reopens it with a follow-up flag."""

    def name(self) -> Text:
        return "action_rate_ticket"

    async def run(self, dispatcher, tracker, domain):
        handled = verification_turn(dispatcher, tracker)
        if handled is not None:
            return handled
        text = tracker.latest_message.get("text") or ""
        svc = services.tickets()
        rows = svc.tickets_for_sender(tracker.sender_id, limit=20)
        resolved = [t for t, _ in rows if t.status == lc.RESOLVED]
        # The ticket the rating request named (its buttons carry the number), or the only one waiting for a
        # rating — never simply "the latest" when several wait.
        target = chat.ticket_meant(resolved, text, only_if_single=True)
        if target is None:
            if len(resolved) > 1 and not chat.ticket_numbers(text):
                score = chat.rating_score(text)
                label = next((lbl for lbl, v in chat.RATING_BUTTONS if v == score), None)
                dispatcher.utter_message(
                    text=wording.WHICH_TICKET_TO_RATE,
                    buttons=[
                        {
                            "title": wording.RATE_BUTTON_TITLE.format(number=t.number),
                            "payload": wording.RATE_WITH_SCORE_PAYLOAD.format(label=label, number=t.number)
                            if label
                            else wording.RATE_PAYLOAD.format(number=t.number),
                        }
                        for t in resolved[:5]
                    ],
                )
                return []
            named = chat.ticket_numbers(text)
            if named:  # a number that is not (or no longer) the sender's to rate: the same answer either way
                dispatcher.utter_message(
                    text=wording.NOT_RATABLE.format(numbers=wording.NUMBERS_SEPARATOR.join(sorted(named)))
                )
                return []
            # Nothing of the sender's waits for a rating (not closed yet, or not theirs): say so rather than
            # thank them for a rating that was not recorded; a complaint still gets a way to a person.
            score = chat.rating_score(text)
            if score is not None and score <= 2:
                dispatcher.utter_message(text=wording.NOTHING_TO_RATE_COMPLAINT, buttons=[kb_replies.HUMAN_BUTTON])
            else:
                dispatcher.utter_message(text=wording.NOTHING_TO_RATE)
            return []
        score = chat.rating_score(text)
        if score is None:
            dispatcher.utter_message(
                text=wording.ASK_RATING.format(number=target.number),
                buttons=[
                    {
                        "title": label,
                        "payload": wording.RATE_WITH_SCORE_PAYLOAD.format(label=label, number=target.number),
                    }
                    for label, _ in chat.RATING_BUTTONS
                ],
            )
            return []
        try:
            svc.rate(target.number, tracker.sender_id, score)
        except TicketError as exc:
            dispatcher.utter_message(text=str(exc))
            return []
        if score <= 2:
            dispatcher.utter_message(text=wording.RATING_LOW.format(number=target.number))
        else:
            dispatcher.utter_message(text=wording.RATING_THANKS.format(number=target.number))
        return [
            SlotSet("rating_ticket_number", target.number),
            SlotSet("rating_comment", None),
            FollowupAction("rating_comment_form"),
        ]


class ValidateRatingCommentForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_rating_comment_form"

    def validate_rating_comment(self, value, dispatcher, tracker, domain):
        if value is None:  # the slot was reset by an action, not answered by the user
            return {"rating_comment": None}
        text = (value or "").strip()
        return {"rating_comment": "-" if speech.is_none_answer(text) or speech.is_cancel(text) else text[:500]}


class ActionSubmitRatingComment(Action):
    def name(self) -> Text:
        return "action_submit_rating_comment"

    async def run(self, dispatcher, tracker, domain):
        comment = tracker.get_slot("rating_comment")
        number = tracker.get_slot("rating_ticket_number")
        if comment and comment != "-" and number:
            try:
                services.tickets().comment_on_rating(number, tracker.sender_id, comment)
                dispatcher.utter_message(text=wording.COMMENT_NOTED)
            except TicketError as exc:  # e.g. the sender's verification was revoked since the rating
                dispatcher.utter_message(text=str(exc))
        else:
            dispatcher.utter_message(text=wording.COMMENT_SKIPPED)
        return [SlotSet("rating_ticket_number", None), SlotSet("rating_comment", None)]
