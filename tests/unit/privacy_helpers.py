"""A person's whole history in the service database, for the tests of personal data: retention, export and
erasure (tests/unit/test_privacy.py), the desk's side of it (test_privacy_desk.py) and the backup drill
(tests/e2e/test_backup_drill.py).

Those imported `person` and `NOW` from test_privacy.py, which tied test files to each other (test modules don't
import each other); they live here once.

- `NOW`: this process's real time (UTC, whole seconds), the moment the retention tests count back from;
- `person(s, tag, mobile, last)`: an enterprise, contact, conversation with messages, question log, ticket with
  events and a rating, handover, notification, verification code and policy push, all up to `last`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from bot.db.schema import (
    Contact,
    Conversation,
    Enterprise,
    Handover,
    KbQuery,
    Message,
    Notification,
    PolicyPush,
    PolicyPushOptOut,
    Rating,
    Ticket,
    TicketEvent,
    VerificationCode,
)

# The job never follows a simulated future into deleting early (it uses min(now, the clock)): real time.
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def person(s, tag: str, mobile: str, last: datetime) -> dict:
    """One person whose whole history happened up to `last`."""
    first = last - timedelta(days=10)
    ent = Enterprise(name=f"{tag}科技有限公司", created_at=first)
    s.add(ent)
    s.flush()
    cid = f"web-{tag}"
    contact = Contact(
        enterprise_id=ent.id, name=f"{tag}经理", mobile=mobile, sender_id=cid, channel="web", created_at=first
    )
    s.add(contact)
    s.add(Conversation(id=cid, channel="web", mode="bot", created_at=first, updated_at=last, last_user_at=last))
    s.flush()
    m1 = Message(conversation_id=cid, direction="in", author="user", text=f"我的手机号是{mobile}", created_at=first)
    s.add(m1)
    s.flush()
    s.add(Message(conversation_id=cid, direction="out", author="bot", text="好的", reply_to=m1.id, created_at=last))
    s.add(KbQuery(conversation_id=cid, channel="web", text=f"{tag}高企认定条件", decision="answer", asked_at=first))
    t = Ticket(
        number=f"QCY-{tag}",
        enterprise_id=ent.id,
        contact_id=contact.id,
        category="need_policy_redemption",
        service_content="政策兑现",
        node_id="centre",
        status="resolved",
        description=f"{tag}经理，电话{mobile}，想申请补贴",
        conversation_id=cid,
        created_at=first,
        first_response_due=first,
        resolution_due=first,
        resolved_at=last,
        updated_at=last,
    )
    s.add(t)
    s.flush()
    s.add(TicketEvent(ticket_id=t.id, at=first, actor=f"user:{cid}", action="add_info", note=f"补充：联系{mobile}"))
    s.add(TicketEvent(ticket_id=t.id, at=last, actor="staff:wang", action="note", note=f"已电话联系 {mobile}"))
    s.add(Rating(ticket_id=t.id, score=2, comment=f"{tag}经理很不满意", created_at=last))
    s.add(
        Handover(
            conversation_id=cid,
            reason="request_human",
            created_at=first,
            ended_at=last,
            transcript=json.dumps([{"text": mobile}]),
            profile=json.dumps({"name": f"{tag}经理"}),
        )
    )
    s.add(
        Notification(kind="rating_request", recipient=f"sender:{cid}", ticket_id=t.id, body="请评价", created_at=last)
    )
    s.add(
        VerificationCode(
            sender_id=cid,
            enterprise_id=ent.id,
            mobile=mobile,
            code_hash="x",
            created_at=last,
            expires_at=last + timedelta(minutes=10),
            attempts=1,
        )
    )
    s.add(
        PolicyPush(
            enterprise_id=ent.id,
            policy_id="hnte",
            policy_name="高新技术企业认定",
            trigger_key=f"new:{tag}",
            trigger="new",
            reason="profile",
            contact_id=contact.id,
            conversation_id=cid,
            channel="web",
            body="【新政策】…回复“退订”不再接收。",
            sent_by="system",
            created_at=last,
        )
    )
    s.add(PolicyPushOptOut(sender_id=cid, channel="web", opted_out_at=last))
    return {"cid": cid, "ticket": t.number, "contact": contact.id, "mobile": mobile, "enterprise": ent.id}
