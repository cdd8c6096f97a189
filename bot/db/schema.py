"""Tables of the service database (SQLAlchemy Core/ORM, 1.4 and 2.0 compatible)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional, overload

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base
from sqlalchemy.types import TypeDecorator

# SQLAlchemy 1.4 ships no type stubs for the declarative base (2.0's DeclarativeBase would): typed as Any so
# mypy checks the code that uses the models instead of failing on every class statement.
Base: Any = declarative_base()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@overload
def aware(dt: datetime) -> datetime: ...
@overload
def aware(dt: None) -> None: ...
def aware(dt: Optional[datetime]) -> Optional[datetime]:
    """A timestamp as UTC-aware: a naive one is UTC (what SQLite gives back), None stays None."""
    if dt is None or dt.tzinfo is not None:
        return dt
    return dt.replace(tzinfo=timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timestamps stored in UTC and always read back timezone-aware (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class KbQuery(Base):
    """Every question put to the knowledge base, for the monthly figures."""

    __tablename__ = "kb_queries"

    id = Column(Integer, primary_key=True)
    asked_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    channel = Column(String(32), nullable=False, default="rest")
    text = Column(Text, nullable=False)
    category = Column(String(64), nullable=True)  # NLU intent (need category) if any
    decision = Column(String(16), nullable=False)  # answer / best_guess / options / unknown
    faq_id = Column(String(128), nullable=True)  # top hit
    entry_id = Column(String(128), nullable=True)
    score = Column(Float, nullable=True)
    helpful = Column(Boolean, nullable=True)  # the user's feedback, None until given
    feedback_at = Column(UTCDateTime, nullable=True)


class KbDraft(Base):
    """A knowledge entry being written or changed in the console (docs/knowledge-editing.md).

    `content` is the whole YAML file; `revision` goes up with every save, and a save that names an older
    revision is refused (two people editing the same draft see the conflict, nothing is lost);
    `base_sha` is the SHA-256 of the published file the draft started from ("" for a new entry), checked
    again when it is published so a change made meanwhile is never overwritten.
    """

    __tablename__ = "kb_drafts"

    id = Column(Integer, primary_key=True)
    entry_id = Column(String(128), nullable=False, index=True)
    is_new = Column(Boolean, nullable=False, default=False)
    status = Column(String(16), nullable=False, default="draft", index=True)  # draft / pending / published / withdrawn
    content = Column(Text, nullable=False)
    revision = Column(Integer, nullable=False, default=1)
    base_sha = Column(String(64), nullable=False, default="")
    base_content = Column(Text, nullable=True)  # the published text the draft started from
    author = Column(String(64), nullable=False)  # staff username
    editors = Column(Text, nullable=False, default="")  # every username that saved it, space-separated
    updated_by = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    submitted_at = Column(UTCDateTime, nullable=True)
    origin = Column(Text, nullable=True)  # e.g. the unanswered questions it answers
    published_version = Column(Integer, nullable=True)


class KbVersion(Base):
    """Every published text of a knowledge entry, with who wrote and who approved it."""

    __tablename__ = "kb_versions"
    __table_args__ = (UniqueConstraint("entry_id", "version", name="uq_kb_versions_entry_version"),)

    id = Column(Integer, primary_key=True)
    entry_id = Column(String(128), nullable=False, index=True)
    version = Column(Integer, nullable=False)
    content = Column(Text, nullable=False)
    sha = Column(String(64), nullable=False)
    author = Column(String(64), nullable=False)  # the draft's author; "file" for a text found on disk
    approved_by = Column(String(64), nullable=True)
    draft_id = Column(Integer, ForeignKey("kb_drafts.id"), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    note = Column(Text, nullable=True)


class KbReview(Base):
    """A reviewer's decision on a draft: approve (published with it) or send back with a comment."""

    __tablename__ = "kb_reviews"

    id = Column(Integer, primary_key=True)
    draft_id = Column(Integer, ForeignKey("kb_drafts.id"), nullable=False, index=True)
    reviewer = Column(String(64), nullable=False)
    decision = Column(String(16), nullable=False)  # approve / reject
    comment = Column(Text, nullable=True)
    revision = Column(Integer, nullable=False)  # the draft revision reviewed
    at = Column(UTCDateTime, nullable=False, default=utcnow)


# ---- the service network (1+5+N), staff, enterprises -------------------------------------------


class ServiceNode(Base):
    """One node of the 1+5+N network, or a province/city/district policy special window."""

    __tablename__ = "service_nodes"

    id = Column(String(64), primary_key=True)  # stable code, e.g. "fengxi", "fengxi-ws-xixian-hq"
    name = Column(String(128), nullable=False)
    kind = Column(String(16), nullable=False)  # centre / new_city / workstation / special_window
    parent_id = Column(String(64), ForeignKey("service_nodes.id"), nullable=True, index=True)
    new_city = Column(String(16), nullable=True)  # 沣东/沣西/秦汉/空港/泾河 for new-city centres and their workstations
    park = Column(String(128), nullable=True)  # the park a workstation serves
    level = Column(String(8), nullable=True)  # 省/市/区 for special windows
    address = Column(String(256), nullable=True)
    active = Column(Boolean, nullable=False, default=True)


class Staff(Base):
    __tablename__ = "staff"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(64), nullable=False)
    node_id = Column(String(64), ForeignKey("service_nodes.id"), nullable=False, index=True)
    role = Column(String(16), nullable=False, default="staff")  # staff / lead / admin
    password_hash = Column(String(256), nullable=True)
    active = Column(Boolean, nullable=False, default=True)
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(UTCDateTime, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class Enterprise(Base):
    __tablename__ = "enterprises"

    id = Column(Integer, primary_key=True)
    name = Column(String(128), nullable=False, index=True)
    credit_code = Column(String(18), nullable=True, unique=True)  # 统一社会信用代码, check digit validated
    new_city = Column(String(16), nullable=True)
    park = Column(String(128), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    # 一企一档 profile kept by staff (bot/enterprises/profile.py); the policy check's own figures stay in
    # enterprise_figures, as the chat gave them.
    industry = Column(String(64), nullable=True)  # 所属行业
    address = Column(String(256), nullable=True)
    registered_on = Column(Date, nullable=True)  # 成立日期
    employees = Column(Integer, nullable=True)  # 职工人数
    tech_staff = Column(Integer, nullable=True)  # 科技人员数
    revenue = Column(Numeric(16, 2), nullable=True)  # 上年营业收入, yuan
    rd_expense = Column(Numeric(16, 2), nullable=True)  # 上年研发投入, yuan
    certifications = Column(String(256), nullable=True)  # ",hightech,tech_sme," (bot/enterprises)
    notes = Column(Text, nullable=True)
    updated_at = Column(UTCDateTime, nullable=True)  # last profile change by staff


class Contact(Base):
    """A person of an enterprise; `sender_id` ties a chat identity to them (returning users)."""

    __tablename__ = "contacts"

    id = Column(Integer, primary_key=True)
    enterprise_id = Column(Integer, ForeignKey("enterprises.id"), nullable=False, index=True)
    name = Column(String(64), nullable=False)
    mobile = Column(String(16), nullable=True)
    sender_id = Column(String(128), nullable=True, unique=True)
    channel = Column(String(32), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    # A chat identity is a verified contact of its enterprise only after staff confirmed it or it entered a
    # one-time code sent to a mobile on file (bot/tickets/identity.py); until then it sees its own tickets only.
    verified_at = Column(UTCDateTime, nullable=True)
    verified_by = Column(String(128), nullable=True)  # "staff:<username>" / "sms:<masked mobile>"


class VerificationCode(Base):
    """A one-time code sent by SMS to verify a chat identity as a contact of an enterprise.

    Only a salted hash of the code is stored; a code expires, allows a few attempts and is used once.
    The rows also count sends per identity and per mobile (send limits)."""

    __tablename__ = "verification_codes"

    id = Column(Integer, primary_key=True)
    sender_id = Column(String(128), nullable=False, index=True)
    enterprise_id = Column(Integer, ForeignKey("enterprises.id"), nullable=False)
    mobile = Column(String(16), nullable=False, index=True)
    code_hash = Column(String(128), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    expires_at = Column(UTCDateTime, nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    used_at = Column(UTCDateTime, nullable=True)


# ---- tickets and their audit trail ---------------------------------------------------------------


class Ticket(Base):
    __tablename__ = "tickets"

    id = Column(Integer, primary_key=True)
    number = Column(String(32), nullable=False, unique=True)  # QCY-20261125-0007
    enterprise_id = Column(Integer, ForeignKey("enterprises.id"), nullable=False, index=True)
    contact_id = Column(Integer, ForeignKey("contacts.id"), nullable=True)
    category = Column(String(64), nullable=False, index=True)  # need intent id
    service_content = Column(String(16), nullable=False)
    node_id = Column(String(64), ForeignKey("service_nodes.id"), nullable=False, index=True)
    assignee_id = Column(Integer, ForeignKey("staff.id"), nullable=True)
    status = Column(String(16), nullable=False, index=True)
    priority = Column(String(8), nullable=False, default="normal")  # low / normal / high / urgent
    description = Column(Text, nullable=False)
    source_channel = Column(String(32), nullable=False, default="web")
    conversation_id = Column(String(128), nullable=True, index=True)
    visit_id = Column(Integer, ForeignKey("visits.id"), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    first_response_due = Column(UTCDateTime, nullable=False)
    first_response_at = Column(UTCDateTime, nullable=True)
    resolution_due = Column(UTCDateTime, nullable=False)
    resolved_at = Column(UTCDateTime, nullable=True, index=True)  # 已办结 (latest)
    paused_at = Column(UTCDateTime, nullable=True)  # in 待补充 since
    paused_working_seconds = Column(Integer, nullable=False, default=0)
    first_response_wsecs = Column(Integer, nullable=True)  # working seconds to first response (set once)
    resolution_wsecs = Column(Integer, nullable=True)  # working seconds to resolution, pauses excluded
    warned_at = Column(UTCDateTime, nullable=True)  # pre-breach warning sent
    escalation_level = Column(Integer, nullable=False, default=0)
    followup_required = Column(Boolean, nullable=False, default=False)  # 回访
    reason = Column(Text, nullable=True)  # 无法办理 reason
    result = Column(Text, nullable=True)  # 办结: the result told the enterprise
    redeemed_amount = Column(Numeric(14, 2), nullable=True)  # 政策兑现: yuan redeemed
    stated = Column(Text, nullable=True)  # JSON: enterprise details as an unverified user stated them
    last_progress_push = Column(UTCDateTime, nullable=True)  # 周推进
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class TicketEvent(Base):
    """Append-only audit trail: who changed what, when, from what to what."""

    __tablename__ = "ticket_events"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id"), nullable=False, index=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    actor = Column(String(128), nullable=False)  # "user:<sender>", "staff:<username>", "system"
    action = Column(String(32), nullable=False)  # created / status / assign / note / add_info / escalate / …
    field = Column(String(32), nullable=True)
    before = Column(Text, nullable=True)
    after = Column(Text, nullable=True)
    note = Column(Text, nullable=True)


class Rating(Base):
    __tablename__ = "ratings"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id"), nullable=False, index=True)
    score = Column(Integer, nullable=False)  # 5 非常满意 … 1 非常不满意
    comment = Column(Text, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)


class Visit(Base):
    """入企服务: an on-site visit to an enterprise."""

    __tablename__ = "visits"

    id = Column(Integer, primary_key=True)
    enterprise_id = Column(Integer, ForeignKey("enterprises.id"), nullable=False, index=True)
    staff_id = Column(Integer, ForeignKey("staff.id"), nullable=True)
    node_id = Column(String(64), ForeignKey("service_nodes.id"), nullable=False, index=True)
    visited_at = Column(UTCDateTime, nullable=False, index=True)
    findings = Column(Text, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    recorded_by = Column(Integer, ForeignKey("staff.id"), nullable=True)  # who entered it (console)
    hosts = Column(String(128), nullable=True)  # the enterprise's people met


class VisitParticipant(Base):
    """Who went on a visit (one row per member of staff; `visits.staff_id` is the first of them)."""

    __tablename__ = "visit_participants"

    visit_id = Column(Integer, ForeignKey("visits.id"), primary_key=True)
    staff_id = Column(Integer, ForeignKey("staff.id"), primary_key=True, index=True)


class TicketSequence(Base):
    """Per-day counter behind human-readable ticket numbers."""

    __tablename__ = "ticket_sequences"

    day = Column(String(8), primary_key=True)  # 20261125
    last = Column(Integer, nullable=False, default=0)


class JobRun(Base):
    """Scheduled work, exactly once: one row per (job, period), claimed by a unique insert."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "period", name="uq_job_runs_job_period"),)

    id = Column(Integer, primary_key=True)
    job = Column(String(32), nullable=False)  # daily_dispatch / weekly_push / monthly_summary
    period = Column(String(16), nullable=False)  # 2026-11-25 / 2026-W48 / 2026-11
    instance = Column(String(64), nullable=False)
    started_at = Column(UTCDateTime, nullable=False, default=utcnow)
    finished_at = Column(UTCDateTime, nullable=True)
    status = Column(String(16), nullable=False, default="running")  # running / done / failed
    output = Column(Text, nullable=True)


class Notification(Base):
    """Outbound messages to enterprises or nodes (dispatch lists, progress pushes, rating requests)."""

    __tablename__ = "notifications"

    id = Column(Integer, primary_key=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    kind = Column(String(32), nullable=False)  # dispatch_list / progress / rating_request / sla_warning / escalation
    recipient = Column(String(128), nullable=False)  # "node:<id>" or "sender:<conversation id>"
    ticket_id = Column(Integer, ForeignKey("tickets.id"), nullable=True, index=True)
    body = Column(Text, nullable=False)
    delivered_at = Column(UTCDateTime, nullable=True)


class Handover(Base):
    """A conversation handed from the bot to staff (request, fallbacks, complaint, staff-only category)."""

    __tablename__ = "handovers"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    reason = Column(String(32), nullable=False)  # request_human / fallback / complaint / staff_only / staff_takeover
    category = Column(String(64), nullable=True)
    node_id = Column(String(64), ForeignKey("service_nodes.id"), nullable=True, index=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id"), nullable=True)
    enterprise_id = Column(Integer, ForeignKey("enterprises.id"), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    claimed_by = Column(Integer, ForeignKey("staff.id"), nullable=True)
    claimed_at = Column(UTCDateTime, nullable=True)
    ended_at = Column(UTCDateTime, nullable=True)
    transcript = Column(Text, nullable=True)  # JSON snapshot of the conversation at handover
    profile = Column(Text, nullable=True)  # JSON snapshot of the enterprise profile
    rating = Column(Integer, nullable=True)  # the user's rating of the staff service, 5 … 1
    rated_at = Column(UTCDateTime, nullable=True, index=True)


# ---- the desk: conversations, messages, staff sessions -----------------------------------------


class Conversation(Base):
    """One enterprise conversation on one channel; its id is the Rasa sender id."""

    __tablename__ = "conversations"

    id = Column(String(128), primary_key=True)
    channel = Column(String(32), nullable=False)  # web / wechat_mp / wecom / rest
    mode = Column(String(16), nullable=False, default="bot")  # bot / waiting / staff
    access_key_hash = Column(String(128), nullable=True)  # web chat: hash of the browser's secret key
    external_user = Column(String(128), nullable=True, index=True)  # WeChat openid / WeCom userid
    enterprise_id = Column(Integer, ForeignKey("enterprises.id"), nullable=True)
    node_id = Column(String(64), ForeignKey("service_nodes.id"), nullable=True, index=True)
    assigned_staff_id = Column(Integer, ForeignKey("staff.id"), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    last_user_at = Column(UTCDateTime, nullable=True)


class Message(Base):
    """Every message in and out, stored before anything else happens."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("conversation_id", "client_msg_id", name="uq_messages_client_msg"),)

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), ForeignKey("conversations.id"), nullable=False, index=True)
    direction = Column(String(4), nullable=False)  # in / out
    author = Column(String(96), nullable=False)  # user / bot / staff:<username> / system
    text = Column(Text, nullable=True)
    payload = Column(Text, nullable=True)  # JSON: buttons, custom data
    client_msg_id = Column(String(64), nullable=True)  # idempotency key from the client
    reply_to = Column(Integer, ForeignKey("messages.id"), nullable=True)
    state = Column(String(16), nullable=False, default="stored")  # in: stored / forwarded / answered / pending
    internal = Column(Boolean, nullable=False, default=False)  # staff-only note, never shown to the user
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)


class StaffSession(Base):
    __tablename__ = "staff_sessions"

    id = Column(String(128), primary_key=True)  # SHA-256 of the cookie value
    staff_id = Column(Integer, ForeignKey("staff.id"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = Column(UTCDateTime, nullable=False)
    last_seen_at = Column(UTCDateTime, nullable=True)
    ip = Column(String(64), nullable=True)


class ConsoleAudit(Base):
    """Every staff action in the console, and sign-ins: the trail for what touches no ticket.

    Actions on a conversation with a linked ticket are also written as TicketEvents;
    this table keeps the console's own complete record (who, what, where, from which address).
    """

    __tablename__ = "console_audit"

    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    actor = Column(String(128), nullable=False, index=True)  # "staff:<username>" (or the name tried at login)
    action = Column(String(32), nullable=False)  # login / login_failed / claim / reply / note / transfer / end / …
    conversation_id = Column(String(128), nullable=True, index=True)
    handover_id = Column(Integer, ForeignKey("handovers.id"), nullable=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id"), nullable=True)
    detail = Column(Text, nullable=True)
    ip = Column(String(64), nullable=True)


class ConsoleRead(Base):
    """How far a member of staff has read a conversation in the console: the unread counts of the queue
    and the tab title ("(3) 人工队列") are the enterprise's messages after `last_message_id`."""

    __tablename__ = "console_reads"

    staff_id = Column(Integer, ForeignKey("staff.id"), primary_key=True)
    conversation_id = Column(String(128), primary_key=True)
    last_message_id = Column(Integer, nullable=False, default=0)
    read_at = Column(UTCDateTime, nullable=False, default=utcnow)


class LoginThrottle(Base):
    """Console sign-in attempts counted per key (bot/desk/console/throttle.py).

    Keys: "pair:<username>@<address>" (pauses that pair after 5 failures), "acct:<username>"
    (growing delays across addresses), "addr:<address>" (failures of one address over all
    accounts). Rows are locked while an attempt is counted, so parallel attempts all count.
    """

    __tablename__ = "login_throttle"

    key = Column(String(200), primary_key=True)
    kind = Column(String(8), nullable=False)  # pair / acct / addr
    username = Column(String(64), nullable=True, index=True)  # for unlocking an account's rows
    failures = Column(Integer, nullable=False, default=0)  # attempts counted in the window (pending ones too)
    last_at = Column(UTCDateTime, nullable=True)  # when the last counted attempt began
    next_at = Column(UTCDateTime, nullable=True)  # no attempt before this (growing delays)


class EnterpriseFigures(Base):
    """一企一档: the latest figures an enterprise gave for the policy check (bot/tickets/figures.py).

    `figures` (JSON) holds the chat's facts ({"employees": 60, "revenue_years": {...}, …}); `sources` (JSON) says
    for each figure when and where it came from ({"employees": {"at": iso, "via": "chat:web", "by": sender}}).
    """

    __tablename__ = "enterprise_figures"

    enterprise_id = Column(Integer, ForeignKey("enterprises.id"), primary_key=True)
    figures = Column(Text, nullable=False)
    sources = Column(Text, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


# ---- 政策推送: proactive policy reminders (bot/policy/push.py) --------------------------------------


class PolicyPush(Base):
    """One proactive message to one enterprise about one policy (an application window opening, a new policy).

    Every push is recorded here, with why the enterprise was chosen and where the message went; the message
    itself goes out as a Notification ("sender:<conversation id>"), which retention may delete later, so
    `notification_id` is a plain reference. (enterprise, trigger) is unique: one reminder per window or
    new policy, whatever runs."""

    __tablename__ = "policy_pushes"
    __table_args__ = (UniqueConstraint("enterprise_id", "trigger_key", name="uq_policy_pushes_enterprise_trigger"),)

    id = Column(Integer, primary_key=True)
    enterprise_id = Column(Integer, ForeignKey("enterprises.id"), nullable=False, index=True)
    policy_id = Column(String(64), nullable=False)
    policy_name = Column(String(128), nullable=False)
    trigger_key = Column(String(96), nullable=False)  # window:hnte:2027-05-01 / window:tsme:2027-06 / new:x:2026-12-01
    trigger = Column(String(16), nullable=False)  # window / new
    reason = Column(String(16), nullable=False)  # profile (saved figures qualify) / need (past need category)
    contact_id = Column(Integer, ForeignKey("contacts.id"), nullable=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    channel = Column(String(32), nullable=True)
    node_id = Column(String(64), nullable=True, index=True)  # for console scoping (None: the centre)
    notification_id = Column(Integer, nullable=True)
    deadline = Column(Date, nullable=True)
    body = Column(Text, nullable=False)
    sent_by = Column(String(128), nullable=False)  # "system" (the scheduled run) / "staff:<username>" (立即推送)
    job_period = Column(String(16), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)


class PolicyPushThrottle(Base):
    """The last push to an enterprise: at most one a week, claimed by a conditional UPDATE."""

    __tablename__ = "policy_push_throttle"

    enterprise_id = Column(Integer, ForeignKey("enterprises.id"), primary_key=True)
    last_push_at = Column(UTCDateTime, nullable=False)


class PolicyPushOptOut(Base):
    """A chat identity that replied 退订 (and has not replied 订阅 since): no policy reminders to it."""

    __tablename__ = "policy_push_optouts"

    sender_id = Column(String(128), primary_key=True)
    channel = Column(String(32), nullable=True)
    opted_out_at = Column(UTCDateTime, nullable=False, default=utcnow)


# ---- files sent in conversations (bot/files) ----------------------------------------------------


class FileBlob(Base):
    """The bytes of a file, once per content (SHA-256): in the database, so every desk instance of the scale
    profile serves it, backups hold it, and an erasure removes it in the same transaction as its rows."""

    __tablename__ = "file_blobs"

    sha256 = Column(String(64), primary_key=True)
    size = Column(Integer, nullable=False)
    data = Column(LargeBinary, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class Attachment(Base):
    """One file sent in a conversation (by the enterprise or by staff), and the ticket it is attached to."""

    __tablename__ = "attachments"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    message_id = Column(Integer, ForeignKey("messages.id"), nullable=True, index=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id"), nullable=True, index=True)
    sender = Column(String(96), nullable=False)  # user / staff:<username>
    channel = Column(String(32), nullable=False)  # web / wechat_mp / wecom / console
    name = Column(String(128), nullable=False)  # the original name, sanitised
    kind = Column(String(16), nullable=False)  # image / document
    mime = Column(String(128), nullable=False)  # from the content (magic bytes), not the client
    size = Column(Integer, nullable=False)
    sha256 = Column(String(64), ForeignKey("file_blobs.sha256"), nullable=False, index=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
