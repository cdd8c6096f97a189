"""Chinese conversations through the real Rasa REST channel and HTTP API."""

import uuid

import pytest
import requests

pytestmark = pytest.mark.e2e


def texts(replies):
    return "\n".join(r.get("text", "") for r in replies)


def new_sender():
    return f"e2e-{uuid.uuid4().hex[:8]}"


def test_greeting_says_what_the_assistant_can_do(stack):
    replies = stack.say("你好", new_sender())
    body = texts(replies)
    assert "原上管家" in body and "政策" in body
    assert any(r.get("buttons") for r in replies)


@pytest.mark.parametrize(
    "message, intent",
    [
        ("我们公司想申请知识产权质押贷款，找哪家银行", "need_debt_financing"),
        ("发明专利申请流程是怎样的", "need_intellectual_property"),
        ("去年的研发补贴什么时候到账啊", "need_subsidy_redemption"),
        ("人才公寓怎么申请？", "need_talent_living"),
        ("我们准备上科创板，需要辅导", "need_listing"),
        ("高新技術企業認定要準備什麼", "need_qualification"),
        ("想找个 law firm 帮我们看合同", "need_professional_services"),
    ],
)
def test_a_need_is_answered_or_registered_under_its_category(stack, message, intent):
    """Whatever the reply (answer, best guess, registration), it is not the fallback, and the category the
    conversation is about — the one a ticket or a handover would carry — is the need's own."""
    who = new_sender()
    body = texts(stack.say(message, who))
    assert body.strip() and "没太理解" not in body, body
    tracker = requests.get(
        f"{stack.settings.rasa_url}/conversations/{who}/tracker",
        params={"token": stack.settings.rasa_token},
        timeout=10,
    ).json()
    assert tracker["slots"]["ticket_category"] == intent


@pytest.mark.parametrize(
    "message, intent",
    [
        ("你是机器人吗", "bot_challenge"),
        ("转人工", "request_human"),
        ("谢谢啦！", "thank"),
        ("我提交的需求办到哪一步了", "ask_ticket_status"),
        ("今天西安天气怎么样", "out_of_scope"),
        ("專精特新小巨人怎麼認定", "need_qualification"),
        ("HR问一下社保补贴怎么领", "need_recruitment"),
    ],
)
def test_model_parse_intents(stack, message, intent):
    assert stack.parse(message)["intent"]["name"] == intent


def test_http_api_requires_the_token(stack):
    url = f"{stack.settings.rasa_url}/model/parse"
    assert requests.post(url, json={"text": "你好"}, timeout=10).status_code == 401
    assert requests.post(url, params={"token": "wrong"}, json={"text": "你好"}, timeout=10).status_code == 401


def test_out_of_scope_is_polite_and_says_what_it_can_do(stack):
    body = texts(stack.say("帮我订一张去北京的火车票", new_sender()))
    assert "抱歉" in body and "政策" in body
    assert "企业全称" not in body  # "帮我…" out of scope is no request to register


def test_two_misses_in_a_row_offer_a_person_then_hand_over(stack):
    sender = new_sender()
    first = stack.say("/nlu_fallback", sender)
    buttons = [b for r in first for b in r.get("buttons", [])]
    assert any(b["payload"] == "/request_human" for b in buttons), first
    assert any(b["payload"] == "/open_ticket" for b in buttons), first
    second = stack.say("/nlu_fallback", sender)
    assert "服务专员" in texts(second)
    assert any((r.get("custom") or {}).get("handover") for r in second), second
    tracker = requests.get(
        f"{stack.settings.rasa_url}/conversations/{sender}/tracker",
        params={"token": stack.settings.rasa_token},
        timeout=10,
    ).json()
    assert tracker["paused"] is True


def _run(stack, action, text, ranking):
    payload = {
        "next_action": action,
        "sender_id": new_sender(),
        "tracker": {
            "sender_id": "x",
            "slots": {},
            "events": [
                {"event": "user", "text": text, "parse_data": {"intent": ranking[0], "intent_ranking": ranking}},
            ],
            "latest_message": {"text": text, "intent": ranking[0], "intent_ranking": ranking},
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
        "domain": {},
    }
    r = requests.post(
        f"{stack.settings.actions_url}/webhook",
        params={"token": stack.settings.actions_token},
        json=payload,
        timeout=10,
    )
    r.raise_for_status()
    return r.json()


def test_a_question_the_classifier_missed_is_still_answered_from_the_knowledge_base(stack):
    """The issue's case: a fallback used to show a menu of categories although the base had the answer."""
    ranking = [{"name": "nlu_fallback", "confidence": 0.45}, {"name": "need_policy_consult", "confidence": 0.30}]
    result = _run(stack, "action_nlu_fallback", "高新技术企业的企业所得税优惠税率是多少", ranking)
    body = texts(result["responses"])
    assert "15%" in body, body
    assert not any(e.get("name") == "ticket_form" for e in result["events"])


def test_a_question_about_the_window_is_not_a_complaint(stack):
    ranking = [{"name": "complain", "confidence": 0.6}]
    result = _run(stack, "action_complain", "听说你们有个即日办，具体是什么意思", ranking)
    body = texts(result["responses"])
    assert "即日办" in body and "受理" in body, body
    assert not any(e.get("event") == "pause" for e in result["events"])


def test_empty_huge_and_emoji_messages_get_an_answer(stack):
    for msg in ["😀😀😀", "？？？", "专利" * 3000]:
        replies = stack.say(msg, new_sender())
        assert replies and texts(replies).strip(), msg


def test_desk_health_is_ok_when_rasa_and_actions_answer(stack):
    r = requests.get(f"{stack.settings.desk_url}/healthz", timeout=10)
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "rasa": "ok", "actions": "ok"}
