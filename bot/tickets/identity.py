"""Identity before access: a chat identity is a contact of an enterprise only once verified.

A chat identity is the conversation id Rasa knows as the sender (web chat conversation, or the
conversation of a WeChat openid / WeCom userid). Typing a company name links it to the enterprise as an
*unverified* contact: it sees and acts on the tickets it opened itself, nothing else, and what it states
never changes the enterprise's record (bot/tickets/service.py). It becomes verified

- when staff confirm it in the console ("确认为该企业联系人", audited), or
- when it enters a one-time code sent by SMS to a mobile already on file for the enterprise: the mobile of
  a contact verified before (its own number if it is one of them). Without an SMS provider configured, or
  with no mobile on file, verification is done by staff.

Codes: 6 digits from `secrets`, stored as a salted SHA-256 only, valid 5 minutes, 5 attempts, used once
(the attempt counter and the use are single conditional UPDATEs, so parallel guesses all count and a code
is accepted once), compared with hmac.compare_digest. Sends are limited per identity and per mobile.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Optional

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.db import read_sessions, sessions
from bot.db.schema import Contact, Enterprise, VerificationCode, utcnow
from bot.db.schema import aware as _aware
from bot.text import normalise
from bot.tickets.sms import SmsError, SmsSender

log = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 5
RESEND_GAP = timedelta(seconds=60)  # one code a minute per identity and per mobile
SENDS_PER_IDENTITY_PER_DAY = 5
SENDS_PER_MOBILE_PER_DAY = 10
KEEP_CODES = timedelta(days=2)  # rows (a mobile, a sender id) are needed for the daily limits only
CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def mask_mobile(mobile: str) -> str:
    return f"{mobile[:3]}****{mobile[-4:]}" if mobile and len(mobile) >= 7 else "***"


def hash_code(code: str, salt: Optional[str] = None) -> str:
    salt = salt or secrets.token_hex(16)
    return f"{salt}${hashlib.sha256(f'{salt}:{code}'.encode()).hexdigest()}"


def code_matches(code: str, stored: str) -> bool:
    salt, _, _digest = stored.partition("$")
    return hmac.compare_digest(hash_code(code, salt).encode(), stored.encode())


def code_in(text: str) -> Optional[str]:
    """The 6-digit code in what the user typed ("验证码是123456", "123456"), else None."""
    found = CODE.findall(normalise(text or "").replace(" ", ""))
    return found[0] if len(found) == 1 else None


@dataclass
class Standing:
    """Where a chat identity stands: the enterprise it claims (if any) and whether it is verified."""

    contact_id: Optional[int]
    enterprise_id: Optional[int]
    enterprise_name: Optional[str]
    verified: bool


@dataclass
class SendResult:
    outcome: str  # sent / staff (no provider or no mobile on file) / no_claim / verified / wait / limit / failed
    masked_mobile: Optional[str] = None


@dataclass
class CheckResult:
    outcome: str  # verified / wrong / expired / too_many / none
    attempts_left: int = 0


def standing_in(s: Session, sender_id: str) -> Standing:
    row = s.execute(
        select(Contact, Enterprise)
        .join(Enterprise, Contact.enterprise_id == Enterprise.id)
        .where(Contact.sender_id == sender_id)
    ).first()
    if row is None:
        return Standing(None, None, None, False)
    c, e = row
    return Standing(c.id, e.id, e.name, c.verified_at is not None)


class IdentityService:
    def __init__(
        self,
        db_url: str,
        sms: Optional[SmsSender] = None,
        clock: Callable[[], datetime] = utcnow,
        make_code: Callable[[], str] = lambda: f"{secrets.randbelow(10**6):06d}",
    ):
        self.db_url = db_url
        self.sms = sms
        self.clock = clock
        self.make_code = make_code

    def standing(self, sender_id: str) -> Standing:
        with read_sessions(self.db_url)() as s:
            return standing_in(s, sender_id)

    # ---- staff ---------------------------------------------------------------------------------

    def verify_by_staff(self, sender_id: str, staff_username: str) -> Standing:
        """Staff confirm the chat identity as a contact of the enterprise it claims."""
        now = self.clock()
        with sessions(self.db_url).begin() as s:
            c = s.scalars(select(Contact).where(Contact.sender_id == sender_id)).first()
            if c is None:
                raise ValueError("该会话还没有登记企业，无法确认为企业联系人。")
            if c.verified_at is None:
                c.verified_at, c.verified_by = now, f"staff:{staff_username}"[:128]
            return standing_in(s, sender_id)

    def revoke(self, sender_id: str) -> Standing:
        """Staff withdraw a verification (confirmed by mistake, the person left the enterprise)."""
        with sessions(self.db_url).begin() as s:
            c = s.scalars(select(Contact).where(Contact.sender_id == sender_id)).first()
            if c is None or c.verified_at is None:
                raise ValueError("该会话不是已验证的企业联系人，无需撤销。")
            c.verified_at = c.verified_by = None
            return standing_in(s, sender_id)

    # ---- one-time codes ------------------------------------------------------------------------

    @staticmethod
    def _mobiles_on_file(s: Session, enterprise_id: int, sender_id: str) -> list[str]:
        """Mobiles of the enterprise's verified contacts, most recently verified first."""
        rows = s.execute(
            select(Contact.mobile)
            .where(
                Contact.enterprise_id == enterprise_id,
                Contact.verified_at.is_not(None),
                Contact.mobile.is_not(None),
                Contact.sender_id.is_distinct_from(sender_id),
            )
            .order_by(Contact.verified_at.desc())
        ).all()
        seen: list[str] = []
        for (m,) in rows:
            if m not in seen:
                seen.append(m)
        return seen

    def _sends_since(self, s: Session, column, value: str, since: datetime) -> tuple[int, Optional[datetime]]:
        count, last = s.execute(
            select(func.count(VerificationCode.id), func.max(VerificationCode.created_at)).where(
                column == value, VerificationCode.created_at >= since
            )
        ).one()
        return int(count or 0), _aware(last)

    def send_code(self, sender_id: str) -> SendResult:
        now = self.clock()
        with sessions(self.db_url).begin() as s:
            # Personal data kept no longer than needed: old code rows go as new ones are sent.
            s.execute(delete(VerificationCode).where(VerificationCode.created_at < now - KEEP_CODES))
            c = s.scalars(select(Contact).where(Contact.sender_id == sender_id)).first()
            if c is None:
                return SendResult("no_claim")
            if c.verified_at is not None:
                return SendResult("verified")
            mobiles = self._mobiles_on_file(s, c.enterprise_id, sender_id)
            if self.sms is None or not mobiles:
                return SendResult("staff")
            mobile = c.mobile if c.mobile in mobiles else mobiles[0]
            day = now - timedelta(days=1)
            for column, value, per_day in (
                (VerificationCode.sender_id, sender_id, SENDS_PER_IDENTITY_PER_DAY),
                (VerificationCode.mobile, mobile, SENDS_PER_MOBILE_PER_DAY),
            ):
                count, last = self._sends_since(s, column, value, day)
                if count >= per_day:
                    return SendResult("limit", mask_mobile(mobile))
                if last is not None and now - last < RESEND_GAP:
                    return SendResult("wait", mask_mobile(mobile))
            code = self.make_code()
            # Earlier codes of this identity stop working when a new one is sent.
            s.execute(
                update(VerificationCode)
                .where(VerificationCode.sender_id == sender_id, VerificationCode.used_at.is_(None))
                .values(used_at=now)
            )
            s.add(
                VerificationCode(
                    sender_id=sender_id,
                    enterprise_id=c.enterprise_id,
                    mobile=mobile,
                    code_hash=hash_code(code),
                    created_at=now,
                    expires_at=now + CODE_TTL,
                    attempts=0,
                )
            )
            s.flush()
            try:
                self.sms.send_code(mobile, code)
            except SmsError:
                log.exception("verification code could not be sent")
                # the row stays (it counts against the limits) but can never be used
                s.execute(
                    update(VerificationCode)
                    .where(VerificationCode.sender_id == sender_id, VerificationCode.used_at.is_(None))
                    .values(used_at=now)
                )
                return SendResult("failed", mask_mobile(mobile))
            return SendResult("sent", mask_mobile(mobile))

    def pending(self, sender_id: str) -> bool:
        """A code was sent to this identity and can still be entered."""
        now = self.clock()
        with read_sessions(self.db_url)() as s:
            return (
                s.scalar(
                    select(VerificationCode.id)
                    .where(
                        VerificationCode.sender_id == sender_id,
                        VerificationCode.used_at.is_(None),
                        VerificationCode.expires_at > now,
                        VerificationCode.attempts < MAX_ATTEMPTS,
                    )
                    .limit(1)
                )
                is not None
            )

    def check_code(self, sender_id: str, code: str) -> CheckResult:
        now = self.clock()
        with sessions(self.db_url).begin() as s:
            row = s.scalars(
                select(VerificationCode)
                .where(VerificationCode.sender_id == sender_id)
                .order_by(VerificationCode.id.desc())
                .limit(1)
            ).first()
            if row is None or row.used_at is not None:
                return CheckResult("none")
            if _aware(row.expires_at) <= now:
                return CheckResult("expired")
            # Count the attempt first, atomically: parallel guesses cannot share one attempt.
            counted = s.execute(
                update(VerificationCode)
                .where(
                    VerificationCode.id == row.id,
                    VerificationCode.used_at.is_(None),
                    VerificationCode.attempts < MAX_ATTEMPTS,
                )
                .values(attempts=VerificationCode.attempts + 1)
            )
            if counted.rowcount != 1:
                return CheckResult("too_many")
            s.refresh(row)
            if not code_matches(code or "", row.code_hash):
                left = MAX_ATTEMPTS - row.attempts
                if left <= 0:
                    row.used_at = now
                    return CheckResult("too_many")
                return CheckResult("wrong", left)
            used = s.execute(
                update(VerificationCode)
                .where(VerificationCode.id == row.id, VerificationCode.used_at.is_(None))
                .values(used_at=now)
            )
            if used.rowcount != 1:
                return CheckResult("none")
            c = s.scalars(select(Contact).where(Contact.sender_id == sender_id)).first()
            if c is None or c.enterprise_id != row.enterprise_id:
                return CheckResult("none")  # the identity claimed another enterprise since
            c.verified_at, c.verified_by = now, f"sms:{mask_mobile(row.mobile)}"
            return CheckResult("verified")
