"""Identity before access (issue 16): two chats claiming one company, staff and SMS-code verification,
one-time codes (expiry, attempts, replay, constant-time compare, send limits), on both databases."""

from __future__ import annotations

import hmac
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.db import sessions
from bot.db.schema import Enterprise, VerificationCode
from bot.tickets import identity
from bot.tickets import lifecycle as lc
from bot.tickets.identity import IdentityService, code_in, hash_code
from bot.tickets.service import EnterpriseInput, TicketError, TicketService
from tests.clock import Clock

CST = timezone(timedelta(hours=8))
COMPANY = "西安光启芯科技有限公司"


class FakeSms:
    """Records what would be sent (the real provider is tested against a stand-in server in test_sms.py)."""

    name = "fake"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send_code(self, mobile: str, code: str) -> None:
        self.sent.append((mobile, code))


@pytest.fixture
def clock():
    return Clock(datetime(2026, 11, 25, 10, 0, tzinfo=CST))


@pytest.fixture
def svc(db_url, clock):
    return TicketService(db_url, clock=clock)


@pytest.fixture
def sms():
    return FakeSms()


@pytest.fixture
def ids(db_url, clock, sms):
    return IdentityService(db_url, sms=sms, clock=clock)


def open_one(
    svc,
    sender,
    description="想申请知识产权质押贷款，额度500万",
    new_city=None,
    park=None,
    mobile="13912345678",
    category="need_debt_financing",
):
    return svc.open_ticket(
        category=category,
        description=description,
        enterprise=EnterpriseInput(name=COMPANY, new_city=new_city, park=park),
        contact_name="王经理",
        mobile=mobile,
        sender_id=sender,
        channel="web",
    )


def location(db_url):
    with sessions(db_url)() as s:
        e = s.scalars(select(Enterprise).where(Enterprise.name == COMPANY)).one()
        return e.new_city, e.park


def test_a_second_chat_claiming_the_same_company_sees_and_touches_nothing_of_the_first(svc, db_url):
    first = open_one(svc, "chat-a", new_city="沣西").ticket
    assert location(db_url) == ("沣西", None)
    svc.transition(first.number, lc.RESOLVED, "staff:li")
    # The second chat states the same company, another place, and the same need.
    second = open_one(
        svc, "chat-b", new_city="沣东", mobile="13800001111", description="知识产权质押贷款，想问下进度，额度500万"
    )
    assert not second.linked and second.ticket.number != first.number  # never linked to (or told) the first
    assert location(db_url) == ("沣西", None)  # the enterprise's record unchanged
    assert json.loads(svc.get(second.ticket.number).stated)["new_city"] == "沣东"  # kept on the ticket
    assert second.node.id == "fengdong"  # routed by what it stated
    assert [t.number for t, _ in svc.tickets_for_sender("chat-b")] == [second.ticket.number]
    assert svc.profile("chat-b").new_city == "沣东"  # its own statement, not the record
    for act in (
        lambda: svc.rate(first.number, "chat-b", 1),
        lambda: svc.add_info(first.number, "chat-b", "捣乱"),
        lambda: svc.comment_on_rating(first.number, "chat-b", "差"),
    ):
        with pytest.raises(TicketError) as err:
            act()
        assert str(err.value) == f"没有找到您名下的工单 {first.number}。"  # same answer as for no such ticket
    with pytest.raises(TicketError) as missing:
        svc.add_info("QCY-20261125-9999", "chat-b", "x")
    assert str(missing.value) == "没有找到您名下的工单 QCY-20261125-9999。"
    assert svc.get(first.number).status == lc.RESOLVED and not svc.get(first.number).followup_required
    # The first chat is unverified too: it sees only its own ticket, not the second's.
    assert [t.number for t, _ in svc.tickets_for_sender("chat-a")] == [first.number]


def test_staff_verification_opens_the_enterprise_and_lets_the_contact_update_it(svc, ids, db_url):
    first = open_one(svc, "chat-a", new_city="沣西").ticket
    second = open_one(svc, "chat-b", new_city="沣东", description="人才公寓申请", category="need_talent_living").ticket
    st = ids.verify_by_staff("chat-b", "li")
    assert st.verified and st.enterprise_name == COMPANY
    assert {t.number for t, _ in svc.tickets_for_sender("chat-b")} == {first.number, second.number}
    svc.transition(first.number, lc.RESOLVED, "staff:li")
    svc.rate(first.number, "chat-b", 5)
    open_one(svc, "chat-b", new_city="沣东", description="科技保险保费补贴", category="need_debt_financing")
    assert location(db_url) == ("沣东", None)  # a verified contact updates the record
    with pytest.raises(ValueError, match="还没有登记企业"):
        ids.verify_by_staff("nobody", "li")


def test_claiming_another_company_drops_the_verification(svc, ids):
    open_one(svc, "chat-a")
    ids.verify_by_staff("chat-a", "li")
    svc.open_ticket(
        category="need_talent_living",
        description="人才公寓申请",
        enterprise=EnterpriseInput(name="别的公司"),
        contact_name="王经理",
        mobile="13912345678",
        sender_id="chat-a",
    )
    assert not ids.standing("chat-a").verified


def verified_colleague(svc, ids, sender="chat-a", mobile="13912345678"):
    open_one(svc, sender, mobile=mobile)
    ids.verify_by_staff(sender, "li")


def test_code_goes_to_a_mobile_on_file_and_verifies_once(svc, ids, sms, clock):
    verified_colleague(svc, ids)
    open_one(svc, "chat-b", mobile="13800001111", description="人才公寓申请", category="need_talent_living")
    res = ids.send_code("chat-b")
    assert res.outcome == "sent" and res.masked_mobile == "139****5678"
    assert sms.sent[0][0] == "13912345678"  # the number on file, not the one chat-b typed
    code = sms.sent[0][1]
    assert len(code) == 6 and code.isdigit()
    assert ids.pending("chat-b")
    assert ids.check_code("chat-b", code).outcome == "verified"
    assert ids.standing("chat-b").verified
    assert len(svc.tickets_for_sender("chat-b")) == 2
    assert ids.check_code("chat-b", code).outcome == "none"  # replay


def test_code_is_hashed_at_rest_and_compared_in_constant_time(svc, ids, sms, db_url, monkeypatch):
    verified_colleague(svc, ids)
    open_one(svc, "chat-b", mobile="13800001111", description="人才公寓申请", category="need_talent_living")
    ids.send_code("chat-b")
    code = sms.sent[0][1]
    with sessions(db_url)() as s:
        stored = s.scalars(select(VerificationCode.code_hash)).one()
    assert code not in stored and stored != hash_code(code)  # salted hash, never the code
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(identity.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    wrong = "000000" if code != "000000" else "111111"
    assert ids.check_code("chat-b", wrong).outcome == "wrong"
    assert calls


def test_five_wrong_attempts_burn_the_code(svc, ids, sms):
    verified_colleague(svc, ids)
    open_one(svc, "chat-b", mobile="13800001111", description="人才公寓申请", category="need_talent_living")
    ids.send_code("chat-b")
    code = sms.sent[0][1]
    wrong = "000000" if code != "000000" else "111111"
    lefts = [ids.check_code("chat-b", wrong) for _ in range(4)]
    assert [r.attempts_left for r in lefts] == [4, 3, 2, 1]
    assert ids.check_code("chat-b", wrong).outcome == "too_many"
    assert ids.check_code("chat-b", code).outcome in ("too_many", "none")  # the right code is no use now
    assert not ids.standing("chat-b").verified and not ids.pending("chat-b")


def test_codes_expire_after_five_minutes(svc, ids, sms, clock):
    verified_colleague(svc, ids)
    open_one(svc, "chat-b", mobile="13800001111", description="人才公寓申请", category="need_talent_living")
    ids.send_code("chat-b")
    clock.advance(minutes=5, seconds=1)
    assert ids.check_code("chat-b", sms.sent[0][1]).outcome == "expired"
    assert not ids.standing("chat-b").verified


def test_send_limit_per_identity(svc, db_url, sms, clock):
    codes = iter(f"{n:06d}" for n in range(100001, 100100))
    ids = IdentityService(db_url, sms=sms, clock=clock, make_code=lambda: next(codes))
    verified_colleague(svc, ids)
    open_one(svc, "chat-b", mobile="13800001111", description="人才公寓申请", category="need_talent_living")
    assert ids.send_code("chat-b").outcome == "sent"
    assert ids.send_code("chat-b").outcome == "wait"  # one a minute
    for _ in range(identity.SENDS_PER_IDENTITY_PER_DAY - 1):
        clock.advance(minutes=2)
        assert ids.send_code("chat-b").outcome == "sent"
    clock.advance(minutes=2)
    assert ids.send_code("chat-b").outcome == "limit"
    assert len(sms.sent) == identity.SENDS_PER_IDENTITY_PER_DAY
    assert ids.check_code("chat-b", sms.sent[0][1]).outcome == "wrong"  # only the newest code works
    assert ids.check_code("chat-b", sms.sent[-1][1]).outcome == "verified"
    clock.advance(days=1)
    open_one(svc, "chat-c", mobile="13800003333", description="人才公寓申请", category="need_talent_living")
    assert ids.send_code("chat-c").outcome == "sent"  # a day later, again


def test_send_limit_per_mobile(svc, ids, sms, clock):
    verified_colleague(svc, ids)
    outcomes = []
    for i in range(identity.SENDS_PER_MOBILE_PER_DAY + 1):
        clock.advance(minutes=2)
        open_one(svc, f"chat-x{i}", mobile="13800002222", description="人才公寓申请", category="need_talent_living")
        outcomes.append(ids.send_code(f"chat-x{i}").outcome)
    assert outcomes == ["sent"] * identity.SENDS_PER_MOBILE_PER_DAY + ["limit"]
    assert {m for m, _ in sms.sent} == {"13912345678"}


def test_without_a_provider_or_a_mobile_on_file_staff_verify(svc, db_url, clock):
    open_one(svc, "chat-b")
    assert IdentityService(db_url, sms=None, clock=clock).send_code("chat-b").outcome == "staff"
    assert IdentityService(db_url, sms=FakeSms(), clock=clock).send_code("chat-b").outcome == "staff"  # none on file
    assert IdentityService(db_url, sms=FakeSms(), clock=clock).send_code("nobody").outcome == "no_claim"


@pytest.mark.parametrize(
    "text,code",
    [
        ("验证码是123456", "123456"),
        ("123456", "123456"),
        ("１２３４５６", "123456"),
        ("验证码 123 456", "123456"),
        ("我的手机13912345678", None),
        ("12345", None),
    ],
)
def test_the_code_in_what_the_user_typed(text, code):
    assert code_in(text) == code


def test_parallel_guesses_all_count_and_never_pass_the_limit(svc, db_url, sms, clock):
    """Twenty guesses at once (threads, each its own connection): at most five are checked, the rest are
    refused, and afterwards even the right code is no use."""
    import threading

    ids = IdentityService(db_url, sms=sms, clock=clock, make_code=lambda: "654321")
    verified_colleague(svc, ids)
    open_one(svc, "chat-b", mobile="13800001111", description="人才公寓申请", category="need_talent_living")
    assert ids.send_code("chat-b").outcome == "sent"
    outcomes, start = [], threading.Barrier(20)

    def guess(i):
        start.wait()
        outcomes.append(ids.check_code("chat-b", f"{i:06d}").outcome)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 20 and outcomes.count("wrong") <= identity.MAX_ATTEMPTS - 1
    assert outcomes.count("wrong") + outcomes.count("too_many") + outcomes.count("none") == 20
    assert ids.check_code("chat-b", "654321").outcome in ("too_many", "none")
    assert not ids.standing("chat-b").verified
    with sessions(db_url)() as s:
        assert s.scalars(select(VerificationCode.attempts)).one() == identity.MAX_ATTEMPTS


def test_a_code_for_one_identity_is_no_use_to_another(svc, ids, sms):
    verified_colleague(svc, ids)
    open_one(svc, "chat-b", mobile="13800001111", description="人才公寓申请", category="need_talent_living")
    open_one(svc, "chat-c", mobile="13800002222", description="科技保险补贴")
    ids.send_code("chat-b")
    assert ids.check_code("chat-c", sms.sent[-1][1]).outcome == "none"
    assert not ids.standing("chat-c").verified
    assert ids.check_code("chat-b", sms.sent[-1][1]).outcome == "verified"


def test_an_unverified_credit_code_stays_on_the_ticket(svc, ids, db_url):
    import random

    from bot.tickets.credit_code import generate

    open_one(svc, "chat-a", new_city="沣西")  # the record has no credit code
    code = generate(random.Random(11))
    r = svc.open_ticket(
        category="need_space",
        description="需要办公场地",
        enterprise=EnterpriseInput(name=COMPANY, credit_code=code, park="某园区"),
        contact_name="赵六",
        mobile=None,
        sender_id="chat-b",
    )
    with sessions(db_url)() as s:
        e = s.scalars(select(Enterprise).where(Enterprise.name == COMPANY)).one()
        assert e.credit_code is None and (e.new_city, e.park) == ("沣西", None)
    assert json.loads(svc.get(r.ticket.number).stated) == {"name": COMPANY, "credit_code": code, "park": "某园区"}
    ids.verify_by_staff("chat-b", "li")
    svc.open_ticket(
        category="need_space",
        description="另外还需要会议室",
        enterprise=EnterpriseInput(name=COMPANY, credit_code=code),
        contact_name="赵六",
        mobile=None,
        sender_id="chat-b",
    )
    with sessions(db_url)() as s:
        assert s.scalars(select(Enterprise.credit_code).where(Enterprise.name == COMPANY)).one() == code


def test_code_rows_are_kept_two_days_only(svc, ids, sms, clock, db_url):
    verified_colleague(svc, ids)
    open_one(svc, "chat-b", mobile="13800001111", description="人才公寓申请", category="need_talent_living")
    ids.send_code("chat-b")
    clock.advance(days=2, minutes=1)
    open_one(svc, "chat-c", mobile="13800002222", description="科技保险补贴")
    ids.send_code("chat-c")
    with sessions(db_url)() as s:
        assert s.scalars(select(VerificationCode.sender_id)).all() == ["chat-c"]


@pytest.mark.parametrize(
    "typed", ["", "abcdef", "12345", "1234567", "１２３４５６７８", "验证码" * 500, "0" * 10000, None]
)
def test_odd_codes_are_wrong_or_ignored_never_an_error(svc, ids, sms, typed):
    verified_colleague(svc, ids)
    open_one(svc, "chat-b", mobile="13800001111", description="人才公寓申请", category="need_talent_living")
    ids.send_code("chat-b")
    assert ids.check_code("chat-b", typed).outcome == "wrong"
    code_in(typed or "")
    assert not ids.standing("chat-b").verified
