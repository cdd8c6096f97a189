"""Policy answers in the conversation: cited, recorded, with feedback stored."""

import uuid

import pytest
import requests

from bot.knowledge import log as kb_log

pytestmark = pytest.mark.e2e


def texts(replies):
    return "\n".join(r.get("text", "") for r in replies)


def test_policy_question_is_answered_with_citation_and_feedback_is_stored(any_stack):
    sender = f"kb-{uuid.uuid4().hex[:8]}"
    replies = any_stack.say("请问高新技术企业认定要满足哪些条件？", sender)
    body = texts(replies)
    assert "国科发火〔2016〕32号" in body, body
    assert "研发" in body and "60%" in body
    assert replies[-1]["text"] == "这个回答对您有帮助吗？"
    assert [b["payload"] for b in replies[-1]["buttons"][:2]] == ["/affirm", "/deny"]

    thanks = texts(any_stack.say("/affirm", sender))
    assert "感谢您的反馈" in thanks

    rows = kb_log.questions(any_stack.settings.effective_database_url, sender)
    assert len(rows) == 1
    row = rows[0]
    assert row.decision == "answer" and row.entry_id == "hnte-recognition"
    assert row.category == "need_qualification" and row.helpful is True and row.score > 0.5


def test_unhelpful_feedback_offers_a_person(any_stack):
    sender = f"kb-{uuid.uuid4().hex[:8]}"
    any_stack.say("研发费用加计扣除比例是多少", sender)
    body = texts(any_stack.say("/deny", sender))
    assert "抱歉没能帮到您" in body
    rows = kb_log.questions(any_stack.settings.effective_database_url, sender)
    assert rows and rows[-1].helpful is False


def test_plain_yes_without_an_answer_is_not_feedback(any_stack):
    sender = f"kb-{uuid.uuid4().hex[:8]}"
    any_stack.say("你好", sender)
    assert "请告诉我" in texts(any_stack.say("/affirm", sender))
    assert kb_log.questions(any_stack.settings.effective_database_url, sender) == []


def _run_action(any_stack, action, text, intent, sender):
    top = {"name": intent, "confidence": 0.9}
    parse = {"intent": top, "intent_ranking": [top], "text": text}
    payload = {
        "next_action": action,
        "sender_id": sender,
        "domain": {},
        "tracker": {
            "sender_id": sender,
            "slots": {},
            "latest_message": parse,
            "events": [{"event": "user", "text": text, "parse_data": parse}],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }
    r = requests.post(
        f"{any_stack.settings.actions_url}/webhook",
        params={"token": any_stack.settings.actions_token},
        json=payload,
        timeout=10,
    )
    r.raise_for_status()
    return r.json()


def test_need_without_a_confident_answer_names_the_category_and_starts_registration(any_stack):
    sender = f"kb-{uuid.uuid4().hex[:8]}"
    result = _run_action(any_stack, "action_handle_need", "嗯", "need_space", sender)
    text = result["responses"][0]["text"]
    assert "「场地入驻」" in text and "「科技政务」" in text and "登记" in text
    assert {"event": "followup", "name": "ticket_form"}.items() <= next(
        e for e in result["events"] if e["event"] == "followup"
    ).items()
    rows = kb_log.questions(any_stack.settings.effective_database_url, sender)
    assert [r.decision for r in rows] == ["unknown"]
