"""What users read when the knowledge base answers, guesses, offers a choice or does not know."""

from datetime import date

import pytest

from bot.knowledge import Entry, Faq, Hit, KnowledgeService
from bot.knowledge import replies as kb_replies
from bot.knowledge.model import Check, Window
from bot.knowledge.replies import layout, render
from bot.knowledge.service import ANSWER, BEST_GUESS, OPTIONS, UNKNOWN, Answer
from bot.settings import PROJECT_ROOT

CONDITIONS = (
    "按《高新技术企业认定管理办法》，需要同时满足：①注册成立一年以上；②拥有核心知识产权；"
    "③科技人员占比不低于10%。想先做个自评，可以把企业情况发给我。"
)


VERIFIED = [Check(url="https://example.gov.cn/x", on=date(2026, 12, 1), confirms=("effective", "expires"))]


def entry(**kw) -> Entry:
    base = dict(
        id="hnte",
        title="高新技术企业认定条件",
        issuer="科技部 财政部 国家税务总局",
        doc_number="国科发火〔2016〕32号",
        level="国家",
        categories=["need_qualification"],
        effective=date(2016, 1, 29),
        expires=None,
        source="《高新技术企业认定管理办法》（国科发火〔2016〕32号） https://example.gov.cn/x",
        checked=VERIFIED,
    )
    base.update(kw)
    return Entry(**base)


def hit(
    faq_id: str,
    question: str,
    answer: str = "答案。",
    score: float = 0.9,
    e: Entry | None = None,
    next_step: str = "",
    window: Window | None = None,
) -> Hit:
    e = e or entry()
    return Hit(
        faq=Faq(
            id=faq_id,
            question=question,
            variants=["v"],
            answer=answer,
            entry_id=e.id,
            entry=e,
            next_step=next_step,
            window=window,
        ),
        entry=e,
        score=score,
    )


def answer_of(decision: str, *hits: Hit, options=None, query="问题", expired=False) -> Answer:
    return Answer(decision, list(hits), list(options if options is not None else hits), expired, query)


def payloads(reply) -> list[str]:
    return [b["payload"] for b in reply.buttons]


@pytest.fixture(scope="module")
def kb():
    return KnowledgeService(PROJECT_ROOT / "knowledge", strict=True, background_reload=False)


# --------------------------------------------------------------------------- ANSWER


def test_answer_leads_with_the_answer_and_cites_once():
    a = answer_of(
        ANSWER,
        hit("c", "认定高新技术企业需要满足哪些条件？", CONDITIONS),
        hit("v", "高新技术企业资格有效期多久？", score=0.3),
    )
    first, more, feedback = render(a)
    assert first.text.startswith("按《高新技术企业认定管理办法》")  # no "您咨询的是…" preamble
    assert "您咨询的是" not in first.text and "我理解您问的是" not in first.text
    assert first.text.count("国科发火〔2016〕32号") == 1 + CONDITIONS.count("国科发火")
    assert "依据：《高新技术企业认定管理办法》（国科发火〔2016〕32号），2016年1月29日起施行" in first.text
    assert "http" not in first.text  # no URL dump
    assert more.text == kb_replies.ALTERNATIVES_TEXT and payloads(more) == ["高新技术企业资格有效期多久？"]
    assert feedback.text == kb_replies.FEEDBACK_QUESTION
    assert payloads(feedback) == ["/affirm", "/deny", "/open_ticket"]


def test_answer_lists_are_laid_out_one_item_per_line():
    text = render(answer_of(ANSWER, hit("c", "条件？", CONDITIONS)))[0].text
    assert "需要同时满足：\n① 注册成立一年以上\n② 拥有核心知识产权\n③ 科技人员占比不低于10%\n\n想先做个自评" in text


def test_alternatives_are_at_most_two_canonical_questions():
    hits = [
        hit("a", "问题甲？"),
        hit("b", "问题乙？", score=0.5),
        hit("c", "问题丙？", score=0.4),
        hit("d", "问题丁？", score=0.3),
    ]
    replies = render(answer_of(ANSWER, *hits))
    more = next(r for r in replies if r.text == kb_replies.ALTERNATIVES_TEXT)
    assert payloads(more) == ["问题乙？", "问题丙？"]
    assert all(len(b["title"]) <= kb_replies.MAX_BUTTON_TITLE for b in more.buttons)


def test_answer_without_alternatives_has_no_empty_menu():
    replies = render(answer_of(ANSWER, hit("a", "问题甲？")))
    assert [r.text for r in replies][1:] == [kb_replies.FEEDBACK_QUESTION]


def test_expired_policy_is_flagged():
    e = entry(expires=date(2023, 12, 31))
    text = render(answer_of(ANSWER, hit("a", "问题？", e=e), expired=True))[0].text
    assert "已于2023年12月31日到期" in text
    assert "到期" not in render(answer_of(ANSWER, hit("a", "问题？", e=e)))[0].text
    assert "到期" in render(answer_of(ANSWER, hit("a", "问题？", e=e)), today=date(2024, 3, 1))[0].text


def test_expired_policy_states_no_figures_and_points_to_its_successor():
    new = entry(
        id="rent-2024",
        title="科技企业房租补贴（2024版）",
        effective=date(2024, 1, 1),
        source="《房租补贴办法》（示例〔2024〕1号）",
        doc_number="",
    )
    new.faqs = [
        Faq(
            id="rent-2024-how",
            question="2024版房租补贴怎么申请？",
            variants=["v"],
            answer="新答案。",
            entry_id=new.id,
            entry=new,
            next_step="在这里登记需求。",
        )
    ]
    old = entry(
        id="rent-2021",
        title="科技企业房租减免（2021版）",
        expires=date(2021, 12, 31),
        superseded_by="rent-2024",
        successor=new,
    )
    replies = render(answer_of(ANSWER, hit("a", "房租减免怎么申请？", "按每平方米20元补贴。", e=old), expired=True))
    first = replies[0]
    assert "已于2021年12月31日到期" in first.text and "20元" not in first.text  # no figure stated as current
    assert "「科技企业房租补贴（2024版）」" in first.text
    assert first.text.split("\n\n")[-1].startswith("下一步：")
    assert payloads(first) == ["2024版房租补贴怎么申请？"]  # a click asks the successor
    assert replies[-1].text == kb_replies.FEEDBACK_QUESTION
    # replaced without an end date (superseded_by only): same, without a date
    replaced = entry(id="rent-2022", title="房租减免（2022版）", superseded_by="rent-2024", successor=new)
    text = render(answer_of(ANSWER, hit("b", "问题？", "按每平方米20元。", e=replaced)))[0].text
    assert "已被新的规定取代" in text and "20元" not in text


def test_expired_policy_without_successor_routes_to_staff():
    old = entry(expires=date(2021, 12, 31))
    (reply,) = render(answer_of(ANSWER, hit("a", "问题？", "15%的税率。", e=old)), today=date(2026, 12, 3))
    assert "已于2021年12月31日到期" in reply.text and "15%" not in reply.text
    assert "服务专员" in reply.text and reply.text.split("\n\n")[-1].startswith("下一步：")
    assert payloads(reply) == ["/open_ticket", "/request_human"]


def test_next_step_is_the_last_paragraph_after_the_citation():
    first = render(
        answer_of(ANSWER, hit("a", "问题？", "答案。", next_step="在认定管理工作网提交，也可以在这里登记需求。"))
    )[0]
    paragraphs = first.text.split("\n\n")
    assert paragraphs[-2].startswith("依据：")
    assert paragraphs[-1] == "下一步：在认定管理工作网提交，也可以在这里登记需求。"
    # the entry's next step when the FAQ has none
    e = entry(next_step="向主管税务机关咨询或拨打12366。")
    assert render(answer_of(ANSWER, hit("a", "问题？", e=e)))[0].text.endswith(
        "下一步：向主管税务机关咨询或拨打12366。"
    )


@pytest.mark.parametrize(
    "window, today, expected",
    [
        (
            Window(note="省科技厅当年通知", months=(3, 4, 5)),
            date(2026, 12, 3),
            "申报时间：往年一般在每年3–5月（以省科技厅当年通知为准）。",
        ),
        (
            Window(note="省科技厅当年通知", months=(4, 9)),
            date(2026, 12, 3),
            "申报时间：往年一般在每年4、9月（以省科技厅当年通知为准）。",
        ),
        (
            Window(note="通知", opens=date(2026, 3, 1), closes=date(2026, 4, 30)),
            date(2026, 2, 1),
            "申报时间：2026年3月1日至2026年4月30日（尚未开始，以通知为准）。",
        ),
        (
            Window(note="通知", opens=date(2026, 3, 1), closes=date(2026, 4, 30)),
            date(2026, 4, 30),
            "申报时间：2026年3月1日至2026年4月30日，目前正在受理（以通知为准）。",
        ),
        (
            Window(note="通知", opens=date(2026, 3, 1), closes=date(2026, 4, 30)),
            date(2026, 5, 1),
            "申报时间：已知最近一批已于2026年4月30日截止，下一批以通知为准。",
        ),
        (Window(note="省工信厅当年通知"), date(2026, 12, 3), "申报时间：以省工信厅当年通知为准。"),
    ],
)
def test_window_says_when_applications_are_taken(window, today, expected):
    text = render(answer_of(ANSWER, hit("a", "怎么申报？", "答案。", window=window)), today=today)[0].text
    paragraphs = text.split("\n\n")
    assert paragraphs[1] == expected and paragraphs[2].startswith("依据：")


def test_every_real_answer_ends_with_its_next_step(kb):
    for faq in kb.base.faqs.values():
        a = Answer(ANSWER, [Hit(faq=faq, entry=faq.entry, score=0.9)], [], False, faq.question)
        text = render(a, date(2026, 12, 3))[0].text
        assert faq.next and text.endswith(f"下一步：{faq.next}"), faq.id


# --------------------------------------------------------------------------- citation


def test_window_topics_cite_the_window():
    e = entry(level="窗口", issuer="秦创原总窗口", doc_number="", effective=date(2024, 1, 1), source="服务体系标准")
    assert kb_replies.citation(e) == "来源：秦创原总窗口"


def test_unverified_effective_date_is_not_printed():
    e = entry(
        doc_number="",
        effective=date(2024, 1, 1),
        checked=[],
        source="陕西省瞪羚企业认定相关办法及年度申报通知（以省科技主管部门当年发布版本为准）",
    )
    line = kb_replies.citation(e)
    assert line == "依据：陕西省瞪羚企业认定相关办法及年度申报通知"
    assert "2024" not in line
    # a date a checked source confirms is printed, 1 January included (many tax notices start then) …
    real = entry(
        doc_number="财政部 税务总局公告2023年第7号",
        effective=date(2023, 1, 1),
        source="《关于进一步完善研发费用税前加计扣除政策的公告》（财政部 税务总局公告2023年第7号）",
    )
    assert kb_replies.citation(real) == (
        "依据：《关于进一步完善研发费用税前加计扣除政策的公告》（财政部 税务总局公告2023年第7号），2023年1月1日起施行"
    )
    # … a 文号 alone does not make a date verified, and no date at all prints none
    assert "起施行" not in kb_replies.citation(entry(checked=[]))
    assert "起施行" not in kb_replies.citation(entry(effective=None))


def test_real_base_citations_are_short_and_never_show_placeholder_dates(kb):
    for e in kb.base:
        line = kb_replies.citation(e)
        assert "http" not in line and len(line) <= 120, line
        if e.level == "窗口":
            assert line == "来源：秦创原总窗口"
        if kb_replies.placeholder_date(e):
            assert "起施行" not in line


# --------------------------------------------------------------------------- BEST_GUESS / OPTIONS / UNKNOWN


def test_best_guess_says_how_the_question_was_understood():
    a = answer_of(
        BEST_GUESS,
        hit("a", "高新技术企业去哪里申请？", "在认定管理工作网上申报。"),
        hit("b", "认定高新技术企业需要满足哪些条件？", score=0.5),
    )
    first, more, feedback = render(a)
    assert first.text.startswith("我理解您问的是「高新技术企业去哪里申请」：\n在认定管理工作网上申报。")
    assert payloads(more) == ["认定高新技术企业需要满足哪些条件？"]
    assert "/open_ticket" in payloads(feedback)


def test_options_offer_two_or_more_faqs_and_a_person():
    a = answer_of(OPTIONS, hit("a", "问题甲？", score=0.61), hit("b", "问题乙？", score=0.6))
    (reply,) = render(a)
    assert reply.text == "您想了解的是下面哪一项？（回复序号即可）"
    assert payloads(reply) == ["问题甲？", "问题乙？", "/request_human"]


def test_never_a_one_item_menu():
    one = hit("a", "问题甲？", "甲的答案。", score=0.6)
    replies = render(answer_of(OPTIONS, one, options=[one]))
    assert replies[0].text.startswith("我理解您问的是「问题甲」：\n甲的答案。")
    assert all(r.text != kb_replies.OPTIONS_TEXT for r in replies)
    # two FAQs with the same question are one option too
    twin = hit("b", "问题甲？", score=0.59)
    assert render(answer_of(OPTIONS, one, twin))[0].text.startswith("我理解您问的是")


def test_unknown_says_so_and_offers_registration_and_a_person():
    (reply,) = render(answer_of(UNKNOWN))
    assert reply.text.startswith("这个问题知识库里暂时没有确切答案")
    assert reply.buttons == [{"title": "登记需求，专员跟进", "payload": "/open_ticket"}, kb_replies.HUMAN_BUTTON]
    (named,) = render(answer_of(UNKNOWN), intent="need_space")
    assert "「场地入驻」" in named.text  # the category helps here
    assert kb_replies.render_unknown()[0].buttons == reply.buttons


def test_english_question_gets_an_english_lead():
    a = answer_of(
        ANSWER,
        hit("a", "软件著作权怎么登记？", "由中国版权保护中心办理。"),
        query="How do we register a software copyright?",
    )
    assert render(a)[0].text.startswith(kb_replies.ENGLISH_LEAD + "\n由中国版权保护中心办理。")
    assert render(answer_of(UNKNOWN, query="What is the weather like?"))[0].text.startswith("Sorry")


def test_real_answer_end_to_end(kb):
    a = kb.ask("高新技术企业认定需要满足哪些条件")
    assert a.decision in (ANSWER, BEST_GUESS) and a.faq.id == "hnte-recognition-conditions"
    first = render(a)[0].text
    assert "\n①" in first and "\n②" in first and "国科发火〔2016〕32号" in first
    assert "您咨询的是" not in first


# --------------------------------------------------------------------------- layout


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "材料有：（1）申请表；（2）营业执照；（3）批复文件。准备好后提交。",
            "材料有：\n（1） 申请表\n（2） 营业执照\n（3） 批复文件\n\n准备好后提交。",
        ),
        ("步骤：1、网上申报；2、专家评审；3、公示。", "步骤：\n1. 网上申报\n2. 专家评审\n3. 公示"),
        (
            "主要条件包括：境内注册；学历员工占50%以上；离岸外包收入不低于35%。认定由省科技厅负责。",
            "主要条件包括：\n· 境内注册\n· 学历员工占50%以上\n· 离岸外包收入不低于35%\n\n认定由省科技厅负责。",
        ),
        ("基本流程是：查询→分类→提交申请→审查。", "基本流程是：\n1. 查询\n2. 分类\n3. 提交申请\n4. 审查"),
    ],
)
def test_enumerations_become_lines(text, expected):
    assert layout(text) == expected


def test_ordinary_prose_stays_prose_and_the_closing_offer_gets_its_own_paragraph():
    text = "减按15%征收企业所得税；职工教育经费按8%扣除。这项政策在全国实施。窗口可以帮您对照条件。"
    assert layout(text) == "减按15%征收企业所得税；职工教育经费按8%扣除。这项政策在全国实施。\n\n窗口可以帮您对照条件。"
    assert layout("第一行\n第二行") == "第一行\n第二行"  # already laid out by staff
    assert layout("2021年1月1日起施行。") == "2021年1月1日起施行。"


def test_a_reference_to_earlier_items_is_not_part_of_the_list():
    text = "满足前面①至④项的企业，符合下列任意一项即可：①有高企证书；②有省级研发机构。填报时提供证明。"
    assert layout(text) == (
        "满足前面①至④项的企业，符合下列任意一项即可：\n① 有高企证书\n② 有省级研发机构\n\n填报时提供证明。"
    )


def test_numbers_that_are_not_a_list_are_left_alone():
    text = "自申请日起3年内可以请求实审，1、2个月内会收到通知。"
    assert layout(text) == text
