"""Console sign-in throttling (used by bot/desk/console/auth.py and the staff CLI): slows password guessing without letting anyone lock staff out.

Three counters, all in the database (table login_throttle), so every desk instance shares them:

- per account and address ("pair"): in each round of 5 failures the 3rd and 4th make the next
  attempt wait 2 and 4 seconds, and the 5th pauses the pair: 15 minutes, then 30, 60, … (at most
  24 hours) for each further round; the count is forgotten after 24 hours without an attempt.
  Only the address that failed is paused: the member of staff signs in from their own address.
- per account, over all addresses ("acct"): from the 10th failure within an hour each attempt
  waits 1, 2, 4, … seconds (at most 60) — but not from an address this account has signed in
  from successfully in the last 90 days, so an attacker elsewhere cannot keep staff out.
- per address, over all accounts ("addr"): at most RATE_LIMIT_LOGIN_IP failures (default 10
  per 15 minutes), then the address waits until the window has passed.

Counting is atomic: an attempt is counted *before* its password is checked, inside one
transaction that locks the rows it counts on (SELECT … FOR UPDATE on PostgreSQL, in key order
so two attempts cannot deadlock; BEGIN IMMEDIATE on SQLite), and the rows' state decides
whether it may go ahead. N parallel attempts therefore take N consecutive counts: none can
slip past the limit as they could with check-then-count. A successful sign-in then clears
its pair and account counters and gives its address count back.

Usernames are counted whether or not the account exists, so the answers (and the pauses)
are the same for unknown usernames as for wrong passwords.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.db import sessions
from bot.db.schema import ConsoleAudit, LoginThrottle

PAIR_MAX = 5  # failures of one account from one address before a pause
PAIR_PAUSE = timedelta(minutes=15)  # ... the first pause; it doubles with each further round
PAIR_PAUSE_MAX = timedelta(hours=24)
PAIR_WINDOW = timedelta(hours=24)  # the pair's count is forgotten after this long idle
PAIR_DELAY_FROM = 3  # within a round, from this failure on: 2, 4, … seconds
ACCOUNT_DELAY_FROM = 10  # failures of one account (all addresses) before delays
ACCOUNT_WINDOW = timedelta(hours=1)
ACCOUNT_DELAY_MAX = 60  # seconds
KNOWN_ADDRESS_DAYS = 90  # a successful sign-in from an address makes it known
DEFAULT_ADDRESS_RULE = (10, 900.0)  # RATE_LIMIT_LOGIN_IP
STALE_AFTER = timedelta(days=2)  # rows idle this long (and past every window) are removed


@dataclass(frozen=True)
class Counter:
    key: str
    kind: str
    username: Optional[str]
    limit: Optional[int]  # attempts allowed in the window (None: no hard limit)
    window: timedelta  # the count starts afresh after this long without an attempt

    def delay(self, failures: int) -> float:
        """Seconds the next attempt must wait after `failures` counted attempts."""
        if self.kind == "pair" and failures:
            if failures % PAIR_MAX == 0:
                return pair_pause(failures).total_seconds()
            within = failures % PAIR_MAX
            return float(2 ** (within - PAIR_DELAY_FROM + 1)) if within >= PAIR_DELAY_FROM else 0.0
        if self.kind == "acct" and failures >= ACCOUNT_DELAY_FROM:
            return float(min(2 ** (failures - ACCOUNT_DELAY_FROM), ACCOUNT_DELAY_MAX))
        return 0.0


@dataclass(frozen=True)
class Attempt:
    """The outcome of counting one attempt."""

    allowed: bool
    reason: str = ""  # when refused: "pair" (paused), "delay", "address"
    retry_after: float = 0.0  # seconds until an attempt may be made
    until: Optional[datetime] = None
    failures: int = 0  # the pair's count including this attempt (when allowed)
    keys: tuple = ()  # the counters this attempt was counted on
    stale_before: Optional[datetime] = None  # rows idle since before this can go (tidied on success)


def pair_pause(failures: int) -> timedelta:
    """The pause after `failures` (a multiple of PAIR_MAX) failures of one pair: 15 min, 30 min, 1 h, …"""
    rounds = max(1, failures // PAIR_MAX)
    return min(PAIR_PAUSE * 2 ** min(rounds - 1, 16), PAIR_PAUSE_MAX)


def pair_key(username: str, address: str) -> str:
    return f"pair:{username}@{address or '-'}"


def account_key(username: str) -> str:
    return f"acct:{username}"


def address_key(address: str) -> str:
    return f"addr:{address}"


def counters(
    username: str,
    address: str,
    limit_address: str,
    known_address: bool,
    address_rule: tuple[int, float] = DEFAULT_ADDRESS_RULE,
) -> list[Counter]:
    """The counters of one attempt, in key order (the order rows are locked in)."""
    out = [Counter(pair_key(username, address), "pair", username, None, PAIR_WINDOW)]
    if not known_address:
        out.append(Counter(account_key(username), "acct", username, None, ACCOUNT_WINDOW))
    limit, seconds = address_rule
    if limit_address and limit > 0 and seconds > 0:
        out.append(Counter(address_key(limit_address), "addr", None, limit, timedelta(seconds=seconds)))
    return sorted(out, key=lambda c: c.key)


def known_address(s, username: str, address: str, now: datetime) -> bool:
    """Whether `username` signed in successfully from `address` in the last 90 days."""
    if not address:
        return False
    since = now - timedelta(days=KNOWN_ADDRESS_DAYS)
    return bool(
        s.scalar(
            select(
                exists().where(
                    ConsoleAudit.actor == f"staff:{username}",
                    ConsoleAudit.action == "login",
                    ConsoleAudit.ip == address,
                    ConsoleAudit.at >= since,
                )
            )
        )
    )


def _insert_missing(s, counter: Counter) -> None:
    values = dict(key=counter.key, kind=counter.kind, username=counter.username, failures=0)
    insert = pg_insert if s.bind.dialect.name == "postgresql" else sqlite_insert
    s.execute(insert(LoginThrottle).values(**values).on_conflict_do_nothing(index_elements=["key"]))


def _refusal(counter: Counter, row: LoginThrottle, now: datetime) -> Optional[Attempt]:
    fresh = row.last_at is None or now - row.last_at >= counter.window
    if counter.limit is not None and not fresh and row.failures >= counter.limit:
        until = row.last_at + counter.window
        return Attempt(False, "address", (until - now).total_seconds(), until)
    if row.next_at is not None and row.next_at > now:
        paused = counter.kind == "pair" and row.failures % PAIR_MAX == 0
        return Attempt(False, "pair" if paused else "delay", (row.next_at - now).total_seconds(), row.next_at)
    return None


def count_attempt(
    db_url: str,
    username: str,
    address: str,
    now: datetime,
    *,
    limit_address: str | None = None,
    address_rule: tuple[int, float] = DEFAULT_ADDRESS_RULE,
) -> Attempt:
    """Count one sign-in attempt before its password is checked; refused attempts are not counted.

    `address` is the client's address (pair counter); `limit_address` the key of the
    per-address limit ("" = none, e.g. a local tool behind no proxy; None = `address`).
    """
    limit_address = address if limit_address is None else limit_address
    with sessions(db_url).begin() as s:
        known = known_address(s, username, address, now)
        todo = counters(username, address, limit_address, known, address_rule)
        rows = []
        for c in todo:  # in key order: no two attempts wait for each other in a cycle
            _insert_missing(s, c)
            row = s.execute(select(LoginThrottle).where(LoginThrottle.key == c.key).with_for_update()).scalar_one()
            rows.append((c, row))
        refusals = [r for r in (_refusal(c, row, now) for c, row in rows) if r is not None]
        if refusals:
            # the pause of the pair first (its message says why), then the longest wait
            refusals.sort(key=lambda r: (r.reason != "pair", -r.retry_after))
            return refusals[0]
        pair_failures = 0
        for c, row in rows:
            if row.last_at is None or now - row.last_at >= c.window:
                row.failures = 0
            row.failures += 1
            row.last_at = now
            wait = c.delay(row.failures)
            row.next_at = now + timedelta(seconds=wait) if wait else None
            if c.kind == "pair":
                pair_failures = row.failures
        longest = max([STALE_AFTER] + [c.window for c in todo])
        return Attempt(True, failures=pair_failures, keys=tuple(c.key for c, _ in rows), stale_before=now - longest)


def succeeded(db_url: str, attempt: Attempt) -> None:
    """A successful sign-in: its account's counters start afresh, the address gets its count back,
    and counters idle for longer than any window (of anyone) are removed, so the table stays small."""
    with sessions(db_url).begin() as s:
        # the rows are locked in key order, as count_attempt does: a sign-in and a parallel attempt
        # of the same account and address cannot wait for each other
        s.execute(
            select(LoginThrottle.key)
            .where(LoginThrottle.key.in_(attempt.keys))
            .order_by(LoginThrottle.key)
            .with_for_update()
        ).all()
        mine = [k for k in attempt.keys if not k.startswith("addr:")]
        if mine:
            s.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(mine)))
        for k in attempt.keys:
            if k.startswith("addr:"):
                s.execute(
                    update(LoginThrottle)
                    .where(LoginThrottle.key == k, LoginThrottle.failures > 0)
                    .values(failures=LoginThrottle.failures - 1)
                )
    if attempt.stale_before is not None:
        with sessions(db_url).begin() as s:
            # rows an attempt holds right now are skipped (PostgreSQL; SQLite runs one writer at a time)
            idle = (
                select(LoginThrottle.key)
                .where(or_(LoginThrottle.last_at < attempt.stale_before, LoginThrottle.last_at.is_(None)))
                .with_for_update(skip_locked=True)
            )
            s.execute(
                delete(LoginThrottle).where(LoginThrottle.key.in_(idle)).execution_options(synchronize_session=False)
            )


def clear_account(s, username: str) -> int:
    """Forget every counter of `username` (unlock by an administrator); returns the rows removed."""
    return s.execute(delete(LoginThrottle).where(LoginThrottle.username == username)).rowcount or 0


def paused_addresses(s, username: str, now: datetime) -> list[tuple[str, datetime]]:
    """(address, until) of the pairs of `username` paused at `now`."""
    rows = s.scalars(select(LoginThrottle).where(LoginThrottle.username == username, LoginThrottle.kind == "pair"))
    return [
        (r.key.split("@", 1)[-1], r.next_at)
        for r in rows
        if r.failures and r.failures % PAIR_MAX == 0 and r.next_at is not None and r.next_at > now
    ]
