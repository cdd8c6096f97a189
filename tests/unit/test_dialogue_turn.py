"""bot.dialogue.turn: what one message leads to (answer / register / hand over), without Rasa.

Most cases use a stand-in knowledge base that returns a chosen decision, so that the rules of the turn are tested
on their own; the last ones use the real knowledge base in knowledge/.
"""

from datetime import date
from pathlib import Path

import pytest

from bot.dialogue import turn
from bot.knowledge import Answer, Entry, Faq, Hit, KnowledgeService
from bot.knowledge.service import ANSWER, BEST_GUESS, OPTIONS, UNKNOWN
from bot.network import load_network

ROOT = Path(__file__).resolve().parents[2]


def _hit(faq_id: str, category: str, score: float, answer: str = "答复内容。") -> Hit:
    entry = Entry(
        id=f"e-{faq_id}",
        title="某政策",
        issuer="某部门",
        doc_number="",
        level="窗口",
        categories=[category],
        effective=date(2020, 1, 1),
        expires=None,
        source="窗口",
    )
    faq = Faq(id=faq_id, question=f"{faq_id}的问题？", variants=["x"], answer=answer, entry_id=entry.id, entry=entry)
    entry.faqs.append(faq)
    return Hit(faq=faq, entry=entry, score=score)


class StubKb:
    """Answers every question with one decision; remembers what was asked and with which context."""

    def __init__(self, decision: str, category: str = "need_qualification", answer: str = "答复内容。"):
        self.decision, self.category, self.answer = decision, category, answer
        self.asked: list[tuple[str, object]] = []

    def ask(self, text, k=5, context=None):
        self.asked.append((text, context))
        if self.decision == UNKNOWN:
            return Answer(UNKNOWN, hits=[_hit("weak", self.category, 0.05)], query=text)
        hits = [_hit("a", self.category, 0.9, self.answer), _hit("b", self.category, 0.85)]
        options = hits if self.decision == OPTIONS else hits[:1]
        return Answer(self.decision, hits=hits, options=options, query=text)


def texts(plan) -> str:
    return "\n".join(r.text for r in plan.replies)


def test_a_question_is_answered_and_never_starts_registration():
    kb = StubKb(ANSWER, answer="科技人员占比不低于10%。")
    plan = turn.plan_turn("高企认定需要什么条件", "need_qualification", [], kb=kb)
    assert "10%" in texts(plan)
    assert not plan.register and plan.handover is None
    assert plan.context and plan.context["faq_id"] == "a"
    assert plan.category == "need_qualification"


def test_a_question_nobody_can_answer_offers_registration_but_does_not_start_it():
    plan = turn.plan_turn("请问博士后工作站怎么申请设立", "need_talent_recognition", [], kb=StubKb(UNKNOWN))
    assert not plan.register and plan.unknown and plan.handover is None
    buttons = [b["payload"] for r in plan.replies for b in r.buttons]
    assert "/open_ticket" in buttons and "/request_human" in buttons


def test_a_stated_need_the_base_cannot_answer_is_registered():
    plan = turn.plan_turn("我们要找一家做电磁兼容测试的实验室合作", "need_industry_academia", [], kb=StubKb(UNKNOWN))
    assert plan.register and plan.category == "need_industry_academia"
    assert plan.description == "我们要找一家做电磁兼容测试的实验室合作"


def test_a_request_registers_after_answering_its_question_part():
    kb = StubKb(ANSWER, category="need_debt_financing", answer="知识产权质押贷款可以申请贴息。")
    plan = turn.plan_turn(
        "知识产权质押贷款有贴息吗？另外请安排专员帮我们对接一下银行", "need_debt_financing", [], kb=kb
    )
    assert plan.register and plan.category == "need_debt_financing"
    assert "贴息" in texts(plan)
    # No feedback question or registration button in the middle of a registration.
    assert all(b["payload"] != "/open_ticket" for r in plan.replies for b in r.buttons)


def test_details_given_up_front_are_kept_and_the_request_names_its_category():
    ranking = [{"name": "out_of_scope", "confidence": 0.5}, {"name": "need_professional_services", "confidence": 0.3}]
    text = "我叫李娜，手机 138 0000 1234，西安云图生物科技有限公司，在空港新城，需要找律所做股权架构梳理，请安排一下"
    plan = turn.plan_turn(text, "out_of_scope", ranking, kb=StubKb(UNKNOWN), network=load_network())
    assert plan.register and plan.category == "need_professional_services"
    slots = plan.details.as_slots()
    assert slots["enterprise_name"] == "西安云图生物科技有限公司"
    assert slots["contact_name"] == "李娜" and slots["contact_mobile"] == "13800001234"
    assert "空港" in slots["ticket_location"]


def test_a_complaint_goes_to_a_person_unless_it_is_an_answered_question():
    plan = turn.plan_turn("你们效率太低了，我要投诉", "complain", [], kb=StubKb(UNKNOWN))
    assert plan.handover == "complaint"
    plan = turn.plan_turn(
        "听说你们有个即日办，具体是什么意思", "complain", [], kb=StubKb(ANSWER, answer="即日办：需求当天受理。")
    )
    assert plan.handover is None and "当天受理" in texts(plan)


def test_asking_for_a_person_just_under_the_fallback_threshold_is_handed_over():
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.55},
        {"name": "request_human", "confidence": 0.535},
        {"name": "bot_challenge", "confidence": 0.416},
    ]
    plan = turn.plan_turn("找个真人聊聊，机器人说不清楚", "nlu_fallback", ranking, kb=StubKb(UNKNOWN))
    assert plan.handover == "request_human" and not plan.register
    # the words alone are not enough: the classifier must lean that way too
    elsewhere = [
        {"name": "nlu_fallback", "confidence": 0.55},
        {"name": "need_space", "confidence": 0.3},
        {"name": "need_training", "confidence": 0.2},
        {"name": "request_human", "confidence": 0.1},
    ]
    assert turn.plan_turn("找个真人聊聊", "nlu_fallback", elsewhere, kb=StubKb(UNKNOWN)).handover is None
    # nor are words that only look alike ("人工智能", "找人才")
    for text in ("人工智能企业有什么补贴", "怎么找人才公寓"):
        assert turn.plan_turn(text, "nlu_fallback", ranking, kb=StubKb(UNKNOWN)).handover is None


def test_second_miss_in_a_row_goes_to_a_person():
    first = turn.plan_turn("嗯那个啥", "nlu_fallback", [], kb=StubKb(UNKNOWN))
    assert first.unknown and first.handover is None and first.replies
    second = turn.plan_turn("就是那个东西", "nlu_fallback", [], kb=StubKb(UNKNOWN), previous_unknown=True)
    assert second.handover == "fallback"


def test_best_guess_and_options_are_shown_not_registered():
    plan = turn.plan_turn("研发补助资金申请需要满足哪些条件", "need_project_application", [], kb=StubKb(BEST_GUESS))
    assert plan.replies and not plan.register and plan.context
    plan = turn.plan_turn("补贴怎么弄", "need_subsidy_redemption", [], kb=StubKb(OPTIONS))
    assert plan.replies and not plan.register and plan.context is None
    assert sum(len(r.buttons) for r in plan.replies) >= 2


def test_the_previous_topic_is_passed_to_the_knowledge_base():
    kb = StubKb(ANSWER)
    ctx = turn.context_from_slot({"entry_id": "hnte-recognition", "faq_id": "x", "question": "高企认定要什么条件"})
    turn.plan_turn("那有效期多久", "need_qualification", [], kb=kb, context=ctx)
    assert kb.asked[0][1] is ctx
    assert turn.context_from_slot(None) is None and turn.context_from_slot({"entry_id": None}) is None


def test_an_empty_message_asks_the_base_nothing():
    """A category button with nothing said before it ("/need_space" from the WeChat menu) leaves no text: an empty
    question put to the base was logged in kb_queries and counted in the monthly figures."""
    kb = StubKb(UNKNOWN)
    plan = turn.plan_turn("", "need_space", [], kb=kb)
    assert kb.asked == [] and plan.asked == []
    assert plan.register and plan.category == "need_space"


@pytest.fixture(scope="module")
def real_kb():
    return KnowledgeService(ROOT / "knowledge", strict=True, background_reload=False)


def test_with_the_real_base_a_policy_question_shows_its_fact(real_kb):
    plan = turn.plan_turn("高企认定对研发费用占比有啥要求", "need_qualification", [], kb=real_kb)
    assert "5%" in texts(plan) and not plan.register


def test_with_the_real_base_a_follow_up_keeps_its_subject(real_kb):
    first = turn.plan_turn("高新技术企业认定需要什么条件", "need_qualification", [], kb=real_kb)
    ctx = turn.context_from_slot(first.context)
    follow = turn.plan_turn("那有效期多久", "need_qualification", [], kb=real_kb, context=ctx)
    assert "三年" in texts(follow), texts(follow)


def test_a_request_for_something_the_window_does_not_do_is_not_registered():
    ranking = [{"name": "out_of_scope", "confidence": 0.8}, {"name": "need_market_expansion", "confidence": 0.05}]
    plan = turn.plan_turn("帮我订一张去北京的火车票", "out_of_scope", ranking, kb=StubKb(UNKNOWN))
    assert not plan.register and plan.unknown and not plan.replies and plan.handover is None
    again = turn.plan_turn("帮我订个酒店", "out_of_scope", ranking, kb=StubKb(UNKNOWN), previous_unknown=True)
    assert again.handover is None


@pytest.mark.parametrize(
    "text, intent, confidence, topic, expected",
    [
        # The classifier was misled by the names and numbers around the need.
        (
            "我叫李娜，手机 138 0000 1234，西安云图生物科技有限公司，在空港新城，需要找律所做股权架构梳理，请安排一下",
            "need_tech_transfer",
            0.5,
            None,
            "need_professional_services",
        ),
        # One question and one request: the request's own category.
        (
            "你好，我们是西安芯动微电子有限公司，成立4年。两件事：一是想问高企认定研发费用占比要求是多少，"
            "二是想申请知识产权质押贷款，额度1000万左右，麻烦安排银行对接。联系人：胡杨，手机：13669001234",
            "need_qualification",
            0.9,
            None,
            "need_debt_financing",
        ),
        # "那帮我们办一下吧" right after an answer about 高企.
        (
            "那帮我们办一下吧，想要申报辅导",
            "need_project_application",
            0.9,
            {"category": "need_qualification"},
            "need_qualification",
        ),
        # A sure classifier on a plain request is left alone.
        ("请帮忙对接一下招聘会，我们想招20个应届生", "need_recruitment", 0.95, None, "need_recruitment"),
    ],
)
def test_the_category_of_a_request(real_kb, text, intent, confidence, topic, expected):
    plan = turn.plan_turn(text, intent, [], kb=real_kb, confidence=confidence, topic=topic)
    assert plan.register and plan.category == expected


def test_need_part_drops_contact_details_and_answered_questions():
    text = "我叫李娜，手机 138 0000 1234，西安云图生物科技有限公司，在空港新城，需要找律所做股权架构梳理，请安排一下"
    assert turn.need_part(text) == "需要找律所做股权架构梳理，请安排一下"
    assert turn.need_part("高企要什么条件？另外帮我登记融资需求", ["高企要什么条件"]) == "另外帮我登记融资需求"


def test_questions_caught_by_meta_intents_are_recognised(real_kb):
    ctx = turn.context_from_slot(turn.plan_turn("营业执照怎么办", "need_business_registration", [], kb=real_kb).context)
    assert turn.is_answerable("要什么材料", kb=real_kb, context=ctx)
    assert not turn.is_answerable("你们能帮我办什么", kb=real_kb)


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        (
            "我們公司省級的科技獎勵資金一直沒到賬，想請窗口幫忙催辦一下。聯繫人趙敏，手機18629001122",
            "need_project_application",
            "need_subsidy_redemption",
        ),
        (
            "公司想从咸阳迁到沣东新城，需要办迁移登记，帮我们安排帮办。联系人冯云",
            "need_permits",
            "need_business_registration",
        ),
        ("怎么申请补贴项目，帮我们登记一下", "need_project_application", "need_project_application"),
    ],
)
def test_unmistakable_words_and_bare_requests(real_kb, text, intent, expected):
    plan = turn.plan_turn(text, intent, [], kb=real_kb, confidence=0.9)
    assert plan.register and plan.category == expected


def test_an_out_of_scope_request_that_names_a_need_is_registered(real_kb):
    text = "我叫李娜，手机 138 0000 1234，西安云图生物科技有限公司，在空港新城，需要找律所做股权架构梳理，请安排一下"
    plan = turn.plan_turn(text, "out_of_scope", [], kb=real_kb, confidence=0.5)
    assert plan.register and plan.category == "need_professional_services"


def test_where_are_your_centres_is_a_question_not_a_capability_list(real_kb):
    assert turn.is_answerable("你们的服务中心都在哪", kb=real_kb)
    assert not turn.is_answerable("你们能办哪些事", kb=real_kb)
