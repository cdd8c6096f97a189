"""Follow-up questions read against the previous topic (bot/knowledge/followup.py and KnowledgeService.ask)."""

from datetime import date
from pathlib import Path

import pytest

from bot.knowledge import KbContext, KnowledgeService
from bot.knowledge.followup import ELLIPTICAL, NEW_SUBJECT, STANDALONE, SubjectLexicon, predicate_of, read, subject_of
from bot.knowledge.service import ANSWER, BEST_GUESS, UNKNOWN

FIXTURE = Path(__file__).parent / "fixtures" / "kb"

LEXICON = SubjectLexicon(
    [
        "科技型中小企业",
        "高新技术企业",
        "高企",
        "高企认定",
        "专利申请",
        "专利",
        "软件著作权",
        "软著",
        "小型微利企业",
        "补贴",
        "申报材料",
        "截止时间",
        "有效期",
    ]
)


def ctx(question: str, entry_id: str = "e") -> KbContext:
    return KbContext(entry_id=entry_id, faq_id=f"{entry_id}-q", question=question)


# --------------------------------------------------------------------------- pure heuristics


def test_lexicon_keeps_topics_and_drops_terms_that_only_say_what_is_asked():
    assert "补贴" not in LEXICON.terms and "申报材料" not in LEXICON.terms
    assert "截止时间" not in LEXICON.terms and "有效期" not in LEXICON.terms
    assert LEXICON.find("高企认定要什么条件") == "高企认定"  # the longest topic term
    assert LEXICON.find("要什么材料") is None


@pytest.mark.parametrize(
    "text",
    [
        "那有效期多久",
        "要什么材料",
        "在哪里办",
        "多久能批下来",
        "需要交钱吗",
        "那申报截止时间呢",
        "怎么申请？",
        "我们这种情况能申请吗",
        "哪些行业不行？",
        "什么企业不能享受",
        "适用对象是谁",
    ],
)
def test_a_message_without_a_subject_carries_the_previous_one(text):
    reading = read(text, ctx("高企认定要什么条件"), LEXICON)
    assert reading.kind == ELLIPTICAL
    assert reading.subject == "高企认定" and reading.query.startswith("高企认定 ")


def test_the_caller_may_name_the_carried_subject():
    reading = read("要什么材料", ctx("这个怎么弄"), LEXICON, context_subject="软件著作权")
    assert reading.kind == ELLIPTICAL and reading.query == "软件著作权 要什么材料"


@pytest.mark.parametrize(
    "previous, text, query",
    [
        ("科技型中小企业怎么评价", "那高企呢", "高企怎么评价"),
        ("专利申请有补贴吗", "那商标呢", "商标有补贴吗"),
        ("软著登记要多久", "专利的话呢", "专利登记要多久"),
        ("高企认定要什么条件", "换成小型微利企业呢", "小型微利企业要什么条件"),
    ],
)
def test_a_new_subject_keeps_the_previous_predicate(previous, text, query):
    reading = read(text, ctx(previous), LEXICON)
    assert (reading.kind, reading.query) == (NEW_SUBJECT, query)


@pytest.mark.parametrize(
    "text",
    [
        "小型微利企业所得税怎么优惠",  # a full question about something else
        "高企有效期多久",  # subject and predicate: stands on its own
        "商标",  # a bare noun is a new question, not "那商标呢"
        "我们是一家做新材料的企业，想了解一下研发费用加计扣除现在的比例是多少",  # long
    ],
)
def test_full_questions_and_topic_changes_stand_alone(text):
    reading = read(text, ctx("科技型中小企业怎么评价"), LEXICON)
    assert reading.kind == STANDALONE and reading.query == text


def test_without_context_everything_stands_alone():
    assert read("那有效期多久", None, LEXICON).kind == STANDALONE
    assert read("那高企呢", KbContext(), LEXICON).kind == STANDALONE


def test_predicate_and_subject_extraction():
    assert predicate_of("科技型中小企业怎么评价？", LEXICON) == "怎么评价"
    assert predicate_of("那高企呢", LEXICON) == ""  # a follow-up has no predicate to lend
    assert subject_of("那商标呢", LEXICON) == "商标"  # unknown to the lexicon: the residue
    assert subject_of("要什么材料", LEXICON) is None


# --------------------------------------------------------------------------- in the service


@pytest.fixture(scope="module")
def service() -> KnowledgeService:
    return KnowledgeService(FIXTURE, strict=True, background_reload=False, today=lambda: date(2024, 6, 1))


def test_answer_gives_the_context_for_the_next_turn(service):
    first = service.ask("研发费用加计扣除的比例是多少")
    assert first.decision in (ANSWER, BEST_GUESS)
    assert first.context() == KbContext("rd-deduction", "rd-ratio", first.resolved)
    assert service.ask("今天天气怎么样").context() is None


def test_elliptical_follow_up_is_answered_within_the_previous_topic(service):
    first = service.ask("科技型中小企业评价要满足什么条件")
    then = service.ask("在哪里申报", context=first.context())
    assert then.reading == ELLIPTICAL and then.faq.id == "tech-sme-platform" and then.decision != UNKNOWN
    assert service.ask("在哪里申报").faq.id != "tech-sme-platform"  # on its own it means something else

    first = service.ask("人才公寓怎么申请")
    then = service.ask("一个月多少钱", context=first.context())
    assert then.faq.id == "apartment-rent" and then.decision != UNKNOWN


def test_new_subject_follow_up_keeps_the_predicate(service):
    first = service.ask("科技型中小企业评价要满足什么条件")
    then = service.ask("那高企呢", context=first.context())
    assert then.reading == NEW_SUBJECT and then.resolved == "高企要满足什么条件"
    assert then.faq.id == "hnte-conditions" and then.decision != UNKNOWN


def test_a_clear_topic_change_wins_over_the_context(service):
    first = service.ask("研发费用加计扣除的比例是多少")
    then = service.ask("人才公寓的租金是多少", context=first.context())
    assert then.reading == STANDALONE and then.faq.id == "apartment-rent"


def test_context_by_entry_only_and_stale_ids_are_harmless(service):
    then = service.ask("在哪里申报", context=KbContext(entry_id="tech-sme"))
    assert then.faq.id == "tech-sme-platform"
    gone = service.ask("在哪里申报", context=KbContext(entry_id="no-such-entry", faq_id="nope"))
    assert gone.decision in (ANSWER, BEST_GUESS, "options", UNKNOWN)  # read on its own, no error


@pytest.mark.parametrize("text", ["好的", "嗯嗯", "可以", "谢谢", "ok", "是吗"])
def test_acknowledgements_are_not_follow_up_questions(text):
    assert read(text, ctx("高企认定要什么条件"), LEXICON).kind == STANDALONE


def test_thanks_after_an_answer_does_not_repeat_the_topic(service):
    first = service.ask("研发费用加计扣除的比例是多少")
    for text in ("谢谢", "好的", "嗯"):
        assert service.ask(text, context=first.context()).reading == STANDALONE


def test_cli_search_shows_how_a_follow_up_was_read(capsys):
    from bot.knowledge.__main__ import main as cli

    assert cli(["search", "在哪里申报", "--after", "科技型中小企业评价要满足什么条件", "--dir", str(FIXTURE)]) == 0
    out = capsys.readouterr().out
    assert "上一问：科技型中小企业评价要满足什么条件" in out
    assert "按此检索：科技型中小企业评价 在哪里申报（追问（沿用上一个话题））" in out
    first_row = next(line for line in out.splitlines() if line.strip().startswith("1 "))
    assert "tech-sme-platform" in first_row


def test_a_context_without_a_subject_in_its_question_carries_the_entry_title(service):
    """ "补贴批下来了怎么领钱" names no topic term; the follow-up is looked up with the entry's title,
    not with whichever keyword of the entry happens to be a topic term (another FAQ's)."""
    entry = next(iter(service.base))
    ctx = KbContext(entry.id, entry.faqs[0].id, "这个怎么弄")
    then = service.ask("要什么材料", context=ctx)
    assert then.reading == ELLIPTICAL and then.resolved.startswith(entry.title)


def _hit(faq_id, question, score):
    from bot.knowledge.model import Faq
    from bot.knowledge.retriever import Hit

    return Hit(Faq(faq_id, question, [], "答", "e"), None, score)


def test_close_follow_up_candidates_are_told_apart_by_what_is_asked():
    from bot.knowledge.service import BEST_GUESS, OPTIONS, _by_aspect

    steps = _hit("steps", "补贴已经批下来了，怎么兑现领钱？", 0.61)
    materials = _hit("materials", "兑现奖补一般要准备哪些材料？", 0.60)
    decision, options, hits = _by_aspect([steps, materials], [steps, materials], "要什么材料")
    assert decision == BEST_GUESS and options[0] is materials and hits[0] is materials and steps in options
    # nothing asked, or both candidates ask it: the menu stays
    assert _by_aspect([steps, materials], [steps, materials], "那个呢")[0] == OPTIONS
    both = _hit("materials2", "兑现需要哪些材料和流程？", 0.60)
    assert _by_aspect([materials, both], [materials, both], "要什么材料")[0] == OPTIONS


def test_that_kexiao_follow_up_keeps_the_conditions_predicate(service):
    first = service.ask("高企认定要什么条件")
    then = service.ask("那科小呢", context=first.context())
    assert then.reading == NEW_SUBJECT and "条件" in then.faq.question


# --------------------------------------------------------------------------- not the same answer again


def _answered(faq_id: str, question: str, answer: str, score: float):
    from bot.knowledge.model import Faq
    from bot.knowledge.retriever import Hit

    return Hit(
        faq=Faq(id=faq_id, question=question, variants=[], answer=answer, entry_id="hnte"), entry=None, score=score
    )


def test_a_followup_about_something_the_last_answer_does_not_say_gets_another_answer():
    from bot.knowledge.service import _not_again

    conditions = _answered(
        "hnte-conditions", "高企认定需要满足哪些条件？", "注册成立一年以上……科技人员占比不低于10%", 0.8
    )
    apply = _answered("hnte-apply", "高企去哪里申请？", "在认定管理工作网注册登记，按要求提交申请材料……", 0.7)
    context = KbContext(entry_id="hnte", faq_id="hnte-conditions", question="高企认定需要什么条件")
    assert _not_again([conditions, apply], context, "要什么材料") == [apply]  # 材料: not in the answer
    assert _not_again([conditions, apply], context, "科技人员占比呢") == [conditions, apply]  # it is: keep
    assert _not_again([conditions, apply], context, "那呢") == [conditions, apply]  # asks nothing new
    other = KbContext(entry_id="hnte", faq_id="hnte-apply", question="高企去哪里申请")
    assert _not_again([conditions, apply], other, "要什么材料") == [conditions, apply]  # top is not the last one
    # a duration in the answer answers "多久能批下来", whatever its words
    process = _answered(
        "patent-process", "发明专利申请要走哪些流程？", "受理→初审→公布→实审→授权，一般需要2至3年。", 0.8
    )
    after = KbContext(entry_id="patent", faq_id="patent-process", question="发明专利申请要走哪些流程")
    assert _not_again([process, apply], after, "多久能批下来") == [process, apply]
