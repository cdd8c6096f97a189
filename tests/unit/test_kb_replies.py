"""What users read when the knowledge base answers, hesitates or does not know."""
from datetime import date

import pytest

from bot import kb_replies
from bot.knowledge import KnowledgeService
from bot.knowledge.service import ANSWER, AMBIGUOUS, Answer
from bot.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def kb():
    return KnowledgeService(PROJECT_ROOT / "knowledge", strict=True, background_reload=False)


def test_answer_carries_category_citation_and_feedback_question(kb):
    ans = kb.ask("高新技术企业认定需要满足哪些条件")
    assert ans.decision == ANSWER and ans.entry.id == "hnte-recognition"
    first, second = kb_replies.render_answer(ans, "need_qualification")
    assert "「政策兑现」" in first.text and "「资质认定」" in first.text
    assert "国科发火〔2016〕32号" in first.text and "2016年" in first.text
    assert second.text == kb_replies.FEEDBACK_QUESTION
    assert [b["payload"] for b in second.buttons[:2]] == ["/affirm", "/deny"]


def test_expired_policy_is_flagged(kb):
    ans = kb.ask("小型微利企业所得税优惠")
    assert ans.entry.expires is not None
    expired = Answer(ANSWER, ans.hits, ans.options, expired=True, query=ans.query)
    text = kb_replies.render_answer(expired, None)[0].text
    assert "到期" in text and str(ans.entry.expires.year) in text
    current = Answer(ANSWER, ans.hits, ans.options, expired=False, query=ans.query)
    assert "已于" not in kb_replies.render_answer(current, None)[0].text


def test_options_offer_canonical_questions_and_a_person(kb):
    hits = kb.ask("高企").hits
    ans = Answer(AMBIGUOUS, hits, hits[:3], query="高企")
    (reply,) = kb_replies.render_options(ans, "need_qualification")
    payloads = [b["payload"] for b in reply.buttons]
    assert payloads[:3] == [h.faq.question for h in hits[:3]]
    assert payloads[-1] == "/request_human"
    assert all(len(b["title"]) <= kb_replies.MAX_BUTTON_TITLE for b in reply.buttons)


def test_unknown_says_so_and_offers_a_person():
    (reply,) = kb_replies.render_unknown("need_space")
    assert "没有找到有把握的答案" in reply.text and "「场地入驻」" in reply.text
    assert reply.buttons[0]["payload"] == "/request_human"


def test_window_topics_cite_the_window_not_a_document(kb):
    entry = kb.base.entries["window-network"]
    assert kb_replies.citation(entry).startswith("来源：")
    assert date(2024, 1, 1) <= entry.effective
