"""The handover actions (actions/handover.py) called directly: action_request_human, action_after_handover,
action_rate_handover. The handovers are real rows in a fresh service database (bot.handover)."""

from datetime import timedelta

import pytest
from rasa_sdk.events import ActionExecuted, ConversationPaused

from bot import handover
from bot.db import sessions
from bot.db.schema import Staff, utcnow
from tests.unit.actions.helpers import payloads, said, texts, tracker

PAUSED = [ConversationPaused(), ActionExecuted("action_listen")]


def add_staff(db, username="li", name="李专员", node="centre") -> Staff:
    with sessions(db).begin() as s:
        staff = Staff(username=username, display_name=name, node_id=node, role="staff")
        s.add(staff)
        s.flush()
        return staff


def served(db, sender="unit-sender", ended_ago=timedelta(minutes=1)):
    """A handover of `sender` that a staff member claimed and ended `ended_ago`."""
    info = handover.start_handover(db, sender, "request_human")
    handover.claim(db, info.id, add_staff(db))
    handover.end(db, info.id, "staff:li", now=utcnow() - ended_ago)
    return info


# ---- action_request_human --------------------------------------------------------------------------


async def test_request_human_records_the_handover_tells_the_desk_and_pauses(dispatcher, domain, db):
    from actions.handover import ActionRequestHuman

    events = await ActionRequestHuman().run(dispatcher, tracker("转人工", "request_human"), domain)

    assert events == PAUSED
    assert texts(dispatcher)[0] == "好的，正在为您转接服务专员。"
    assert "服务专员" in texts(dispatcher)[1]  # who answers and when (depends on the hour)
    h = handover.open_for(db, "unit-sender")
    assert dispatcher.messages[2]["custom"] == {
        "handover": {"id": h.id, "node": "centre", "node_name": "秦创原综合服务中心", "reason": "request_human"}
    }
    assert h.reason == "request_human" and h.claimed_by is None


async def test_request_human_after_a_complaint_is_a_complaint_without_the_lead(dispatcher, domain, db):
    from actions.handover import ActionRequestHuman

    events = await ActionRequestHuman().run(dispatcher, tracker("我要投诉你们", "complain"), domain)

    assert events == PAUSED and "正在为您转接" not in said(dispatcher)
    assert handover.open_for(db, "unit-sender").reason == "complaint"


async def test_request_human_twice_keeps_one_handover(domain, db):
    from rasa_sdk.executor import CollectingDispatcher

    from actions.handover import ActionRequestHuman

    ids = []
    for _ in range(2):
        d = CollectingDispatcher()
        await ActionRequestHuman().run(d, tracker("转人工", "request_human"), domain)
        ids.append(d.messages[-1]["custom"]["handover"]["id"])
    assert ids[0] == ids[1] and handover.latest(db, "unit-sender").id == ids[0]


async def test_request_human_takes_the_need_being_discussed_and_the_transcript(dispatcher, domain, db):
    from actions.handover import ActionRequestHuman

    earlier = [
        {
            "event": "user",
            "text": "想申请人才公寓",
            "timestamp": 1_700_000_000.0,
            "parse_data": {"intent": {"name": "need_talent_living"}},
        },
        {"event": "bot", "text": "人才公寓的申请条件是……", "timestamp": 1_700_000_001.0},
    ]
    await ActionRequestHuman().run(dispatcher, tracker("转人工", "request_human", events=earlier), domain)

    h = handover.open_for(db, "unit-sender")
    assert h.category == "need_talent_living"
    assert "想申请人才公寓" in h.transcript and "人才公寓的申请条件是" in h.transcript


async def test_request_human_when_the_handover_cannot_be_recorded_says_so_and_keeps_answering(
    dispatcher, domain, services, tmp_path, monkeypatch
):
    """A database without the service tables: the bot must not pause silently."""
    from actions.handover import ActionRequestHuman

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    services.settings.cache_clear()

    events = await ActionRequestHuman().run(dispatcher, tracker("转人工", "request_human"), domain)

    assert events == []
    assert "转接服务专员暂时没有成功" in said(dispatcher) and payloads(dispatcher) == ["/open_ticket"]


# ---- action_after_handover -------------------------------------------------------------------------


async def test_after_a_served_handover_the_user_is_asked_to_rate_the_staff(dispatcher, domain, db):
    from actions.handover import ActionAfterHandover

    served(db)
    events = await ActionAfterHandover().run(
        dispatcher, tracker("/EXTERNAL_handover_ended", "EXTERNAL_handover_ended"), domain
    )

    assert events == []
    assert texts(dispatcher) == ["本次人工服务已结束，原上管家继续为您服务。请为刚才服务专员的服务打个分："]
    assert payloads(dispatcher) == ["非常满意", "满意", "一般", "不满意", "非常不满意"]


@pytest.mark.parametrize("case", ["no handover", "never claimed", "ended long ago"])
async def test_after_a_handover_nobody_served_lately_the_bot_just_greets(case, dispatcher, domain, db):
    from actions.handover import ActionAfterHandover

    if case == "never claimed":
        info = handover.start_handover(db, "unit-sender", "request_human")
        handover.end(db, info.id)
    elif case == "ended long ago":
        served(db, ended_ago=timedelta(hours=2))
    events = await ActionAfterHandover().run(
        dispatcher, tracker("/EXTERNAL_handover_ended", "EXTERNAL_handover_ended"), domain
    )

    assert events == [] and texts(dispatcher) == ["原上管家在这里，有什么可以帮您？"]
    assert payloads(dispatcher) == []


# ---- action_rate_handover --------------------------------------------------------------------------


async def test_rating_the_staff_is_recorded_on_the_handover(dispatcher, domain, db):
    from actions.handover import ActionRateHandover

    info = served(db)
    events = await ActionRateHandover().run(dispatcher, tracker("非常满意", "rate_service"), domain)

    assert events == [] and texts(dispatcher) == ["感谢您对服务专员的评价！还有其他问题随时告诉我。"]
    assert handover.get(db, info.id).rating == 5


async def test_a_low_rating_of_the_staff_is_apologised_for(dispatcher, domain, db):
    from actions.handover import ActionRateHandover

    info = served(db)
    await ActionRateHandover().run(dispatcher, tracker("不满意", "rate_service"), domain)

    assert "非常抱歉这次人工服务没能让您满意" in said(dispatcher)
    assert handover.get(db, info.id).rating == 2


async def test_a_message_that_is_no_rating_records_nothing(dispatcher, domain, db):
    from actions.handover import ActionRateHandover

    info = served(db)
    events = await ActionRateHandover().run(dispatcher, tracker("嗯嗯", "affirm"), domain)

    assert events == [] and texts(dispatcher) == ["感谢您的反馈！还有其他问题随时告诉我。"]
    assert handover.get(db, info.id).rating is None


async def test_a_rating_without_any_handover_is_thanked_for(dispatcher, domain, db):
    from actions.handover import ActionRateHandover

    events = await ActionRateHandover().run(dispatcher, tracker("满意", "rate_service"), domain)

    assert events == [] and "感谢您对服务专员的评价" in said(dispatcher)
    assert handover.latest(db, "unit-sender") is None
