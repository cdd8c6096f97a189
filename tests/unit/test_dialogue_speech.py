"""What a typed message does (bot.dialogue.speech), on lines real users type: traditional characters,
full-width punctuation, emoji, English. Each list names the bug or rule it guards."""

import time

import pytest

from bot.dialogue import speech

# ---- affirmation --------------------------------------------------------------------------------------

# The confirmation step looped forever on these (only a short exact list was accepted).
AFFIRMATIONS = [
    "确认无误，提交",
    "对，没问题",
    "行",
    "没问题，提交吧",
    "确认",
    "好的提交",
    "OK",
    "👌",
    "嗯对",
    "确认提交",
    "是的",
    "好的",
    "好",
    "可以",
    "没问题",
    "嗯嗯",
    "ok的",
    "Ok~",
    "好的好的",
    "对的对的",
    "確認無誤！",
    "沒問題，提交吧",
    "好的，謝謝",
    "是的，谢谢",
    "好嘞",
    "行吧",
    "可以的",
    "嗯",
    "👍",
    "✅",
    "嗯嗯👍",
    "好的👌",
    "yes",
    "Yes please",
    "confirm",
    "sounds good",
    "looks good, submit",
    "以上信息都正确",
    "信息无误，请提交",
    "没问题的，麻烦尽快安排，谢谢",
    "对，就这样提交吧",
    "没毛病",
    "不用改了，提交",
    "不需要修改，直接提交",
    "确定",
    "确定提交",
    "同意",
    "提交",
    "可以，提交吧，辛苦了",
    "ＯＫ",
    "好的，麻烦了",
    "核对过了，没问题",
    "对的，都没问题",
    "嗯，确认",
    "好滴",
    "是滴",
    "就这些",
    "提交吧，没别的了",
    "好的收到",
    "嗯，好的，那就这样吧，谢谢你",
    "确认，不用改",
    "没错，是这个号",
]
NOT_AFFIRMATIONS = [
    "不对，手机号错了",  # a negation and a correction
    "好的，手机号改成13912345678",  # a correction
    "对，但是公司名写错了",
    "可以吗？",
    "对吗",
    "是不是要提交了？",
    "确认什么？",
    "好的，我们在沣西",  # new details: the summary must change first
    "好的，不过手机号要改一下",
    "算了",
    "取消",
    "不用了",
    "先不提交",
    "等一下",
    "稍等，我看看",
    "不是",
    "不",
    "no",
    "❌",
    "👎",
    "不行",
    "有误",
    "我们是软件公司",
    "高企需要什么条件",
    "",
    "   ",
    "修改手机号",
    "好的，顺便问一下高企有效期多久？",
    # A yes-word in front of a deferral submitted the ticket: "let me think about it" is no confirmation.
    "嗯，我再考虑一下",
    "嗯……我再想想",
    "好的，我考虑考虑",
    "好的，我回头问问老板再说",
    "行，我先跟同事商量一下",
    "好的，晚点再说",
    "ok, let me think about it",
]


@pytest.mark.parametrize("text", AFFIRMATIONS)
def test_affirmation_of_any_length(text):
    assert speech.is_affirmation(text)


@pytest.mark.parametrize("text", NOT_AFFIRMATIONS)
def test_not_an_affirmation(text):
    assert not speech.is_affirmation(text)


NEGATIONS = [
    "不对",
    "不是",
    "不",
    "否",
    "错了",
    "不对，手机号错了",
    "no",
    "Nope",
    "❌",
    "不行",
    "不可以",
    "有误",
    "不同意",
    "不要",
    "没有",
    "不用了",
    "不對",
    "信息有误",
    "wrong",
    "not correct",
]
NOT_NEGATIONS = [
    "没问题",
    "不错",
    "确认无误",
    "好的",
    "是不是要交材料",
    "有没有补贴",
    "不知道",
    "不清楚",
    "非常好",
    "不好意思，想问一下",
    "对",
    "没毛病",
    "无异议",
    "ok",
    "",
]


@pytest.mark.parametrize("text", NEGATIONS)
def test_negation(text):
    assert speech.is_negation(text)


@pytest.mark.parametrize("text", NOT_NEGATIONS)
def test_not_a_negation(text):
    assert not speech.is_negation(text)


# ---- cancel / none ------------------------------------------------------------------------------------

CANCELS = [
    "取消",
    "算了，先不办了",
    "不用登记了",
    "取消吧",
    "算了吧",
    "不办了",
    "不用了，谢谢",
    "不要了",
    "退出",
    "先不登记了",
    "暂时不需要了",
    "以后再说吧",
    "取消登記",
    "算了算了",
    "我不想登记了",
    "暂时不办",
    "cancel",
    "Never mind",
    "不用了🙏",
    "那就先不办了，谢谢",
    "能取消吗",
]
NOT_CANCELS = [
    "高企资格被取消了怎么办",
    "取消资格后还能再申请吗",
    "我算了一下营收大概两千万",
    "不用改了，提交",
    "不需要修改",
    "确认",
    "没有",
    "怎么取消工单？",
    "不用了解这么多",
    "好的",
]


@pytest.mark.parametrize("text", CANCELS)
def test_cancel_of_any_length(text):
    assert speech.is_cancel(text)


@pytest.mark.parametrize("text", NOT_CANCELS)
def test_not_a_cancel(text):
    assert not speech.is_cancel(text)


NONE_ANSWERS = [
    "无",
    "没有",
    "不在园区",
    "不清楚",
    "不知道",
    "都不是",
    "暂无",
    "我们不在任何园区里",
    "没有，谢谢",
    "-",
    "跳过",
    "目前还没有",
    "不太清楚",
    "不知道哎",
    "不在園區",
    "无。",
    "none",
    "N/A",
    "还没注册",
    "不在园区内",
]
NOT_NONE_ANSWERS = [
    "沣西",
    "西部科技创新港",
    "有",
    "我们在空港新城",
    "确认",
    "没有问题",
    "无误",
    "",
    "不清楚怎么申报高企",
]


@pytest.mark.parametrize("text", NONE_ANSWERS)
def test_none_answer(text):
    assert speech.is_none_answer(text)


@pytest.mark.parametrize("text", NOT_NONE_ANSWERS)
def test_not_a_none_answer(text):
    assert not speech.is_none_answer(text)


# ---- requests -----------------------------------------------------------------------------------------

REQUESTS = [
    "帮我办一下",
    "希望有人协助",
    "请安排专员对接",
    "帮忙登记一下",
    "办理一下",
    "麻烦对接一下律所",
    "请安排一下",
    "我要登记需求",
    "能帮我们联系投资机构吗",
    "帮我们对接一家律所",
    "请尽快安排人联系我",
    "麻烦帮我登记一下",
    "可以帮我们找一家做股权架构的律所吗",
    "希望窗口能协助对接银行",
    "需要有人上门指导",
    "能否安排专人对接",
    "帮我申请一下这个补贴",
    "请帮我们企业申报高企",
    "我想预约上门服务",
    "给我打个电话吧",
    "麻烦联系我一下",
    "帮忙对接一下投资机构，谢谢",
    "我们需要对接投资机构",
    "请你们尽快处理",
    "幫我辦一下",
    "請安排專員對接🙏",
    "能不能派个人过来看看",
    "希望有人帮忙梳理一下股权架构",
    "我要办理高企认定",
    "登记一下吧",
    "高企认定需要什么条件？能帮我们申报吗",
    "帮我们找个靠谱的知识产权代理",
    "Please help me register this need",
    "can you arrange someone to contact us?",
    "麻烦安排一位老师对接",
    "想找人帮我们写项目申报书",
    "帮帮我",
    "求助，公司资金链断了",
    "我们需要做高企认定，麻烦安排人对接",
    "可以给我们推荐几家投资机构吗",
    "帮我预约一下明天去窗口",
]
NOT_REQUESTS = [
    "高企认定需要什么条件",
    "专利申请有补贴吗",
    "怎么申报",
    "在哪里办理",
    "需要准备什么材料",
    "办理需要多久",
    "怎么登记需求",
    "高企有效期多久",
    "你们窗口周末上班吗",
    "科小怎么认定",
    "研发费用加计扣除怎么算",
    "谢谢你们帮忙",
    "你们能帮企业做什么",
    "请问高企申报流程是什么",
    "帮我查一下高企的条件",
    "好的",
    "确认",
    "我叫王磊",
    "我们是软件公司",
    "想了解一下人才政策",
    "需要办理什么手续",
    "怎么联系你们",
    "有没有融资方面的政策",
    "How do I apply for the subsidy?",
    "我们公司有50个人",
    "咨询一下知识产权质押",
    "申报高企要交多少钱",
    "请问在哪里办",
    "办理一下需要什么材料",
    "谢谢帮忙",
    "能不能办理营业执照",
    "申请专利怎么收费",
    "我想找一下高企的政策文件",
    "公司想找投资机构融资吗",
]


def test_request_lists_are_large_enough():
    assert len(REQUESTS) >= 30 and len(NOT_REQUESTS) >= 30


@pytest.mark.parametrize("text", REQUESTS)
def test_request(text):
    assert speech.is_request(text)


@pytest.mark.parametrize("text", NOT_REQUESTS)
def test_not_a_request(text):
    assert not speech.is_request(text)


# ---- questions ----------------------------------------------------------------------------------------

QUESTIONS = [
    "行不？",
    "好不",
    "你们窗口周末上班吗",
    "在哪里办",
    "how long does it take?",
    "高企认定需要什么条件",
    "专利申请有补贴吗",
    "怎么申报",
    "要什么材料",
    "多久能批下来",
    "需要多少钱",
    "那高企呢",
    "请问科小怎么认定",
    "有没有补贴",
    "高企有效期幾年？",
    "What documents do I need",
    "可以线上办理吗",
    "是不是要先注册",
    "我想了解一下人才政策",
    "能帮我们联系投资机构吗",
    "研发费用怎么加计扣除",
    "谁负责审核",
]
NOT_QUESTIONS = [
    "不",
    "可不",
    "好的",
    "确认无误",
    "我叫王磊",
    "帮我办一下",
    "没什么问题",
    "我们是做软件的",
    "谢谢",
    "👌",
    "我们公司在沣西",
    "什么都可以",
    "",
    "OK thanks",
]


@pytest.mark.parametrize("text", QUESTIONS)
def test_question(text):
    assert speech.is_question(text)


@pytest.mark.parametrize("text", NOT_QUESTIONS)
def test_not_a_question(text):
    assert not speech.is_question(text)


# ---- question parts ----------------------------------------------------------------------------------


def test_question_parts_split_sentences_and_connectors():
    parts = speech.question_parts("你好！高企认定需要什么条件？另外，专利申请有补贴吗？还有，你们窗口周末上班吗")
    assert parts == ["高企认定需要什么条件", "专利申请有补贴吗", "你们窗口周末上班吗"]


def test_question_parts_drop_statements_and_keep_context_in_the_sentence():
    parts = speech.question_parts("我们是一家软件公司。我们是软件企业，想申请高企，需要什么条件？谢谢！")
    assert parts == ["我们是软件企业，想申请高企，需要什么条件"]


def test_question_parts_leave_the_companys_figures_out_of_the_search_words():
    parts = speech.question_parts(
        "我们是做医疗器械的，成立三年了，去年营收2000万，研发投入300万，员工50人，小型微利企业的条件是什么？"
    )
    assert parts == ["我们是做医疗器械的，小型微利企业的条件是什么"]


def test_question_parts_read_an_ask_intro_clause_as_the_context_of_the_next():
    assert speech.question_parts("想问一下我们公司要评科小，需要准备哪些材料") == ["我们公司要评科小，需要准备哪些材料"]
    assert speech.question_parts("请问专利申请有补贴吗") == ["专利申请有补贴吗"]  # a question of its own stays one


def test_question_parts_give_elliptical_questions_the_topic():
    parts = speech.question_parts("高企认定需要什么条件？有效期多久？")
    assert parts == ["高企认定需要什么条件", "高企有效期多久"]


def test_question_parts_new_subject_reuses_the_previous_question():
    parts = speech.question_parts("高企需要什么条件？那科小呢？")
    assert parts == ["高企需要什么条件", "科小需要什么条件"]


def test_question_parts_lines_traditional_and_by_the_way():
    parts = speech.question_parts("專利申請有補貼嗎\n顺便问一下 研发费用加计扣除怎么申报")
    assert parts == ["专利申请有补贴吗", "研发费用加计扣除怎么申报"]


def test_question_parts_topic_from_a_statement_before():
    assert speech.question_parts("我们想申请高企。需要准备什么材料，在哪里办？") == [
        "高企需要准备什么材料",
        "高企在哪里办",
    ]
    assert speech.question_parts("帮我办一下高企认定，顺便问一下有效期多久") == ["高企有效期多久"]
    assert speech.question_parts("人才补贴能拿多少钱，什么时候发放") == ["人才补贴能拿多少钱", "人才补贴什么时候发放"]


def test_question_parts_numbered_list_after_请问():
    assert speech.question_parts("请问：1. 高企认定条件 2. 需要哪些材料") == ["高企认定条件", "高企需要哪些材料"]


def test_question_parts_strip_the_asking_words_and_keep_english():
    assert speech.question_parts("想了解一下知识产权质押融资") == ["知识产权质押融资"]
    assert speech.question_parts("How long does it take? And where do I apply?") == [
        "how long does it take",
        "where do i apply",
    ]
    long = (
        "您好！我们是一家做软件的小微企业，想问下高企申报需要什么条件？有效期多久？另外研发费用加计扣除怎么操作？谢谢"
    )
    assert speech.question_parts(long) == [
        "我们是一家做软件的小微企业，高企申报需要什么条件",
        "高企有效期多久",
        "研发费用加计扣除怎么操作",
    ]


def test_question_parts_empty_and_no_question():
    assert speech.question_parts("") == []
    assert speech.question_parts("好的，谢谢！我们是软件公司。") == []


def test_question_parts_single_question_unchanged():
    assert speech.question_parts("怎么申报？") == ["怎么申报"]


# ---- corrections -------------------------------------------------------------------------------------

CORRECTIONS = [
    # the bug: "公司" inside the new description overwrote the company name
    (
        "需求描述改成：帮我们找一家做股权架构的律所，公司规模50人",
        ("need_description", "帮我们找一家做股权架构的律所，公司规模50人"),
    ),
    ("手机号写错了，是13912345678", ("contact_mobile", "13912345678")),
    ("公司名改成西安某某科技有限公司", ("enterprise_name", "西安某某科技有限公司")),
    ("电话应该是139 1234 5678", ("contact_mobile", "13912345678")),
    ("电话应该是139…", ("contact_mobile", "139…")),
    ("联系人换成李娜", ("contact_name", "李娜")),
    ("地址不对，我们在沣西", ("ticket_location", "沣西")),
    ("园区改成西部科技创新港", ("ticket_location", "西部科技创新港")),
    ("修改手机号", ("contact_mobile", None)),
    ("修改联系人", ("contact_name", None)),
    ("修改企业名称", ("enterprise_name", None)),
    ("修改所在园区/新城", ("ticket_location", None)),
    ("修改需求描述", ("need_description", None)),
    ("修改统一社会信用代码", ("credit_code", None)),
    ("不对，手机号错了", ("contact_mobile", None)),
    ("手机号不对，应该是13912345678", ("contact_mobile", "13912345678")),
    ("帮我把手机号改成13912345678", ("contact_mobile", "13912345678")),
    ("把联系人改为张伟", ("contact_name", "张伟")),
    ("名字错了，我叫李娜", ("contact_name", "李娜")),
    ("公司名称写错了 应该是西安云图生物科技有限公司", ("enterprise_name", "西安云图生物科技有限公司")),
    ("不对，应该是13912345678", ("contact_mobile", "13912345678")),
    ("错了，我们在空港新城", ("ticket_location", "空港新城")),
    ("手机：13912345678", ("contact_mobile", "13912345678")),
    ("手机号是13912345678", ("contact_mobile", "13912345678")),
    ("修改手机号为13912345678", ("contact_mobile", "13912345678")),
    ("改一下公司名称，西安秦岭数据有限公司", ("enterprise_name", "西安秦岭数据有限公司")),
    ("需求改一下", ("need_description", None)),
    ("手機號寫錯了，是１３９１２３４５６７８", ("contact_mobile", "13912345678")),
    ("信用代码填错了", ("credit_code", None)),
    ("不是王磊，是李娜", ("contact_name", "李娜")),
    ("联系人不是我，是我们的李经理", ("contact_name", "李经理")),
    ("园区选错了，是创新港", ("ticket_location", "创新港")),
    ("把公司名称改为西安云图生物科技有限公司", ("enterprise_name", "西安云图生物科技有限公司")),
    ("手机号换成138 1234 5678吧", ("contact_mobile", "13812345678")),
    ("公司名称有误，正确的是陕西华晨新材料股份有限公司", ("enterprise_name", "陕西华晨新材料股份有限公司")),
    ("联系人改一下", ("contact_name", None)),
    ("联系人换成李娜吧", ("contact_name", "李娜")),
    ("换个联系人", ("contact_name", None)),
    ("联系人：李娜", ("contact_name", "李娜")),
]
NOT_CORRECTIONS = [
    "修改",
    "需求再补充一下：还需要做知识产权布局",
    "确认无误，提交",
    "好的",
    "不对",
    "错了",
    "我们公司想修改章程，需要什么手续",
    "高企需要什么条件",
    "取消",
    "我可能理解错了，高企有效期多久",
    "没问题",
    "",
]


@pytest.mark.parametrize("text,expected", CORRECTIONS)
def test_correction(text, expected):
    assert speech.correction(text) == expected


@pytest.mark.parametrize("text", NOT_CORRECTIONS)
def test_not_a_correction(text):
    assert speech.correction(text) is None


# ---- follow-ups --------------------------------------------------------------------------------------

FOLLOWUPS = [
    "那高企呢",
    "那有效期多久",
    "要什么材料",
    "在哪里办",
    "那科小呢",
    "那商标呢",
    "多久能批下来",
    "需要多少钱",
    "那高企的呢",
    "商标呢？",
    "那怎么申请",
    "有补贴吗",
    "那有效期呢",
    "那專利呢",
    "需要什么条件？",
]
NOT_FOLLOWUPS = [
    "高企认定需要什么条件",
    "你们窗口周末上班吗",
    "专利申请有补贴吗",
    "好的",
    "我叫王磊",
    "帮我办一下",
    "研发费用加计扣除怎么申报",
    "我们公司在沣西",
    "",
]


@pytest.mark.parametrize("text", FOLLOWUPS)
def test_followup(text):
    assert speech.is_followup(text)


@pytest.mark.parametrize("text", NOT_FOLLOWUPS)
def test_not_a_followup(text):
    assert not speech.is_followup(text)


@pytest.mark.parametrize(
    "text,subject",
    [
        ("那高企呢", "高企"),
        ("那商标呢", "商标"),
        ("那科小呢", "科小"),
        ("商标呢？", "商标"),
        ("那高企的呢", "高企"),
        ("那如果是专精特新呢", "专精特新"),
        ("那專利呢", "专利"),
        ("那小巨人的条件呢", "小巨人"),
        ("然后呢", None),
        ("那我呢", None),
        ("那要是没有专利呢", None),
        ("那有效期呢", None),
        ("要什么材料", None),
        ("在哪里办", None),
        ("那怎么办呢", None),
        ("好的", None),
        ("", None),
    ],
)
def test_followup_subject(text, subject):
    assert speech.followup_subject(text) == subject


def test_functions_are_fast():
    lines = AFFIRMATIONS + NOT_AFFIRMATIONS + REQUESTS + NOT_REQUESTS
    start = time.perf_counter()
    for line in lines:
        speech.is_affirmation(line), speech.is_request(line), speech.is_question(line), speech.correction(line)
    per_line = (time.perf_counter() - start) / len(lines)
    assert per_line < 0.01
