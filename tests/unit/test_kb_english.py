"""English questions and English words inside Chinese ones (knowledge/english.yml, bot/knowledge/english.py)."""

import shutil
from pathlib import Path

import pytest

from bot.knowledge import KnowledgeError, KnowledgeService, load_base
from bot.knowledge.english import PhraseTable, is_mostly_english
from bot.knowledge.service import UNKNOWN
from bot.settings import PROJECT_ROOT

FIXTURE = Path(__file__).parent / "fixtures" / "kb"


@pytest.fixture(scope="module")
def table() -> PhraseTable:
    kb = load_base(PROJECT_ROOT / "knowledge")
    assert len(kb.english) >= 60
    return PhraseTable(kb.english)


@pytest.mark.parametrize(
    "english, chinese",
    [
        ("high-tech enterprise", "高新技术企业"),
        ("high tech enterprise", "高新技术企业"),
        ("HNTE", "高新技术企业"),
        ("tech SME", "科技型中小企业"),
        ("patent", "专利"),
        ("invention patent", "发明专利"),
        ("trademark", "商标"),
        ("software copyright", "软件著作权"),
        ("R&D", "研发"),
        ("super deduction", "研发费用加计扣除"),
        ("talent apartment", "人才公寓"),
        ("housing subsidy", "住房补贴"),
        ("hukou", "落户"),
        ("venture capital", "风险投资"),
        ("VC", "风险投资"),
        ("angel investor", "天使投资"),
        ("IPO", "上市"),
        ("listing", "上市"),
        ("STAR market", "科创板"),
        ("loan", "贷款"),
        ("subsidy", "补贴"),
        ("incubator", "孵化器"),
        ("office space", "办公室"),
        ("register a company", "注册公司"),
        ("how long", "多久"),
        ("how much", "多少"),
        ("conditions", "条件"),
        ("requirements", "条件"),
        ("eligibility", "条件"),
        ("materials", "材料"),
        ("documents", "材料"),
        ("apply", "申请"),
        ("application", "申请"),
        ("where", "哪里"),
        ("deadline", "截止时间"),
    ],
)
def test_required_phrases_translate(table, english, chinese):
    assert table.translate(english) == chinese
    assert table.translate(english.upper()) == chinese  # case does not matter


def test_longest_phrase_wins_and_words_match_whole(table):
    assert table.translate("invention patent application") == "发明专利 申请"
    assert table.translate("hip ship") == "hip ship"  # "ip" inside words is left alone
    assert table.translate("hightech enterprise") == "高新技术企业"


def test_function_words_are_dropped_and_unknown_words_kept(table):
    out = table.translate("We want to apply for a software copyright, how long does it take?")
    assert out == "申请 软件著作权 , 多久 ?"
    assert "shenzhen" in table.translate("hukou in Shenzhen")  # an unknown place still counts


def test_english_inside_chinese(table):
    assert table.translate("我们想报HNTE要什么条件") == "我们想报 高新技术企业 要什么条件"
    assert table.translate("高企认定要多久") == "高企认定要多久"  # no Latin letters: unchanged


def test_words_the_index_knows_are_kept_next_to_the_translation():
    t = PhraseTable([(("work permit",), "外国人工作许可")])
    assert t.translate("work permit", known=lambda w: w in {"work", "permit"}) == "work permit 外国人工作许可"
    assert t.translate("work permit") == "外国人工作许可"


def test_mostly_english():
    assert is_mostly_english("How long does it take?")
    assert not is_mostly_english("我们想报HNTE要什么条件")
    assert not is_mostly_english("ok")


def test_english_questions_find_their_faq():
    service = KnowledgeService(PROJECT_ROOT / "knowledge", strict=True, background_reload=False)
    for question, faq_id in [
        ("We want to apply for a software copyright, how long does it take?", "software-copyright-how"),
        ("What is the R&D super deduction ratio?", "rd-super-deduction-ratio"),
        ("How can my employee get a Xi'an hukou?", "talent-hukou-how"),
        ("What are the requirements for high-tech enterprise recognition?", "hnte-recognition-conditions"),
    ]:
        answer = service.ask(question)
        assert answer.decision != UNKNOWN and answer.faq.id == faq_id, question
    assert service.ask("What's the weather like today?").decision == UNKNOWN


# --------------------------------------------------------------------------- validation


@pytest.fixture
def kbdir(tmp_path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(FIXTURE, target)
    return target


def test_table_is_loaded_with_the_base_and_used_by_the_retriever(kbdir):
    (kbdir / "english.yml").write_text("- zh: 人才公寓\n  en: [talent apartment, talent housing]\n", encoding="utf-8")
    kb = load_base(kbdir)
    assert kb.english == [(("talent apartment", "talent housing"), "人才公寓")]
    service = KnowledgeService(kbdir, strict=True, background_reload=False)
    assert service.ask("How do I apply for a talent apartment?").faq.id == "apartment-apply"


def test_every_problem_in_the_table_is_named(kbdir):
    (kbdir / "english.yml").write_text(
        "- zh: 专利\n  en: [patent]\n"
        "- zh: 商标\n  en: [patent, trademark]\n"  # a phrase in two items
        "- zh: trademark\n  en: [brand]\n"  # zh must be Chinese
        "- zh: 软著\n  en: [软件著作权]\n"  # en must be English
        "- zh: 孵化器\n"  # no en
        "- zh: 专利\n  en: [x]\n  fr: [brevet]\n",  # unknown field
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeError) as info:
        load_base(kbdir)
    problems = "\n".join(info.value.problems)
    for where in (
        "english.yml: [1].en[0]",
        "english.yml: [2].zh",
        "english.yml: [3].en[0]",
        "english.yml: [4].en",
        "english.yml: [5].fr",
    ):
        assert where in problems, problems


def test_broken_yaml_is_reported(kbdir):
    (kbdir / "english.yml").write_text("- zh: [unclosed\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as info:
        load_base(kbdir)
    assert "english.yml: (文件)" in info.value.problems[0]
