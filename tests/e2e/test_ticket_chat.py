"""Opening, tracking and rating tickets in the chat, through the real Rasa and action servers
(on both profiles: `any_stack`)."""

import uuid

import pytest

from bot.tickets import lifecycle as lc
from bot.tickets.service import TicketService

pytestmark = pytest.mark.e2e


def texts(replies):
    return "\n".join(r.get("text") or "" for r in replies)


def sender():
    return f"tk-{uuid.uuid4().hex[:8]}"


def _wait_for_system_message(any_stack, conversation_id, timeout=20.0):
    import time

    from sqlalchemy import select

    from bot.db import read_sessions
    from bot.db.schema import Message

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with read_sessions(any_stack.settings.effective_database_url)() as s:
            m = s.scalars(
                select(Message).where(Message.conversation_id == conversation_id, Message.author == "system")
            ).first()
        if m is not None:
            return m
        time.sleep(0.5)
    raise AssertionError("no notification delivered to the conversation")


def register(any_stack, who, first_message="我们想在沣西找一个500平米左右的实验室场地"):
    any_stack.say(first_message, who)
    body = texts(any_stack.say("/open_ticket", who))
    assert "企业全称" in body, body
    assert "请问怎么称呼" in texts(any_stack.say("西安光启芯科技有限公司", who))
    assert "手机号" in texts(any_stack.say("王经理", who))
    bad = texts(any_stack.say("12345", who))
    assert "手机号" in bad and "12345" not in bad
    summary = any_stack.say("139-1234-5678", who)
    if "园区" in texts(summary) and "请确认需求登记信息" not in texts(summary):
        summary = any_stack.say("沣西新城", who)  # the location was not in the first message
    body = texts(summary)
    assert "请确认需求登记信息" in body and "13912345678" in body and "西安光启芯科技有限公司" in body
    return summary


def test_form_collects_confirms_corrects_and_opens_a_ticket(any_stack):
    who = sender()
    summary = register(any_stack, who)
    assert any(b["payload"] == "确认提交" for r in summary for b in r.get("buttons", []))
    corrected = texts(any_stack.say("手机号改成13800001111", who))
    assert "13800001111" in corrected and "请确认需求登记信息" in corrected
    done = texts(any_stack.say("确认提交", who))
    assert "已为您登记需求，工单号 QCY-" in done and "沣西" in done and "首次回复" in done, done

    mine = texts(any_stack.say("我的工单", who))
    number = done.split("工单号 ")[1].split("。")[0]
    assert number in mine and "已受理" in mine and "场地入驻" in mine
    svc = TicketService(any_stack.settings.effective_database_url)
    t = svc.get(number)
    assert t.node_id == "fengxi" and t.category == "need_space" and t.source_channel == "rest"
    assert "实验室" in t.description

    # A returning user is not asked again: straight to the summary.
    any_stack.say("另外想咨询一下人才公寓怎么申请", who)
    again = texts(any_stack.say("/open_ticket", who))
    assert "请确认需求登记信息" in again and "西安光启芯科技有限公司" in again
    assert "企业全称" not in again


def test_cancel_at_any_point(any_stack):
    who = sender()
    any_stack.say("想申请创业担保贷款", who)
    any_stack.say("/open_ticket", who)
    any_stack.say("西安某某电子有限公司", who)
    body = texts(any_stack.say("取消", who))
    assert "已取消本次需求登记" in body
    assert TicketService(any_stack.settings.effective_database_url).tickets_for_sender(who) == []


def test_question_mid_form_is_answered_then_the_form_continues(any_stack):
    who = sender()
    any_stack.say("想办理企业迁址变更", who)
    any_stack.say("/open_ticket", who)
    body = texts(any_stack.say("高新技术企业认定需要满足哪些条件？", who))
    assert "国科发火〔2016〕32号" in body and "继续" in body and "企业全称" in body
    assert "请问怎么称呼" in texts(any_stack.say("西安迁址测试有限公司", who))


def test_closing_and_rating_with_comment_and_unsatisfied_reopen(any_stack):
    who = sender()
    register(any_stack, who, "想问问孵化器入驻的流程")
    done = texts(any_stack.say("确认提交", who))
    number = done.split("工单号 ")[1].split("。")[0]
    svc = TicketService(any_stack.settings.effective_database_url)
    svc.transition(number, lc.RESOLVED, "staff:e2e")

    # The desk delivers the rating request to the enterprise's conversation.
    request = _wait_for_system_message(any_stack, who)
    assert number in request.text and "打分" in request.text
    assert f"非常满意 {number}" in request.payload

    mine = any_stack.say("我的工单", who)
    assert any(b["payload"] == f"评价工单 {number}" for r in mine for b in r.get("buttons", []))
    body = texts(any_stack.say(f"不满意 {number}", who))
    assert "重新进入办理" in body and body.count("意见或建议") == 1, body
    assert "已记录" in texts(any_stack.say("专员一直没打电话", who))
    t = svc.get(number)
    assert t.status == lc.IN_PROGRESS and t.followup_required
    events = [e.action for e in svc.events(number)]
    assert "rating" in events and "rating_comment" in events


def test_details_given_up_front_and_a_typed_confirmation_open_the_ticket(any_stack):
    """The issue's transcript: everything in one message, then "确认无误，提交" typed — no question asked twice."""
    who = sender()
    summary = texts(
        any_stack.say(
            "我叫李娜，手机 138 0000 1234，西安云帆生物科技有限公司，在空港新城，需要找律所做股权架构梳理，请安排一下",
            who,
        )
    )
    assert "请确认需求登记信息" in summary, summary
    assert "李娜" in summary and "13800001234" in summary and "西安云帆生物科技有限公司" in summary
    assert "超出了我的服务范围" not in summary
    fixed = texts(any_stack.say("手机号写错了，是13912345678", who))
    assert "13912345678" in fixed and "西安云帆生物科技有限公司" in fixed
    done = texts(any_stack.say("确认无误，提交", who))
    assert "工单号 QCY-" in done, done
    number = done.split("工单号 ")[1].split("。")[0]
    t = TicketService(any_stack.settings.effective_database_url).get(number)
    assert t.category == "need_professional_services" and "股权架构" in t.description


def test_unrecognised_confirmations_do_not_loop(any_stack):
    who = sender()
    any_stack.say("我叫王磊，手机13912345678，西安测试循环科技有限公司，在沣西，请帮我们登记一个融资需求", who)
    first = texts(any_stack.say("今天天气不错", who))
    second = any_stack.say("哈哈哈", who)
    assert "服务专员" in texts(second) and "还是没能识别" in texts(second), (first, second)
    assert any(b["payload"] == "/request_human" for r in second for b in r.get("buttons", []))
