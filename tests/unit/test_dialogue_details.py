"""Details volunteered in one free message (bot.dialogue.details), on lines real users type."""

import pytest

from bot.dialogue.details import Details, extract, parse_amount
from bot.dialogue.speech import is_reply
from bot.network import load_network
from bot.tickets import credit_code


@pytest.fixture(scope="module")
def net():
    return load_network()


def _valid_code() -> str:
    body = "91610131MA6TG1L5"
    body += credit_code.org_check_digit(body[8:16])
    return body + credit_code.check_digit(body)


# ---- the whole message ---------------------------------------------------------------------------------


def test_one_message_with_everything(net):
    d = extract(
        "我叫李娜，手机 138 0000 1234，西安云图生物科技有限公司，在空港新城，需要找律所做股权架构梳理，请安排一下", net
    )
    assert (d.company, d.contact_name, d.mobile, d.new_city, d.park) == (
        "西安云图生物科技有限公司",
        "李娜",
        "13800001234",
        "空港",
        None,
    )
    assert d.as_slots() == {
        "enterprise_name": "西安云图生物科技有限公司",
        "contact_name": "李娜",
        "contact_mobile": "13800001234",
        "ticket_location": "空港新城",
    }


def test_traditional_full_width_and_emoji(net):
    d = extract("您好😊 我叫張偉，手機：１３９１２３４５６７８，西安雲圖生物科技有限公司，在灃西新城", net)
    assert (d.company, d.contact_name, d.mobile, d.new_city) == (
        "西安云图生物科技有限公司",
        "张伟",
        "13912345678",
        "沣西",
    )


def test_nothing_in_a_plain_question(net):
    d = extract("高企认定需要什么条件？", net)
    assert d == Details() and d.as_slots() == {}


def test_empty():
    assert extract("") == Details()
    assert extract("   ") == Details()


# ---- mobile -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "手机13912345678",
        "手机号是13912345678",
        "13912345678",
        "电话：139-1234-5678",
        "+86 139 1234 5678",
        "我的手机号139 1234 5678，谢谢",
        "手機號碼 １３９１２３４５６７８",
        "0086 13912345678",
        "8613912345678",
        "联系方式13912345678（微信同号）",
        "call me at 139 1234 5678",
        "王磊13912345678",
    ],
)
def test_mobile_inside_a_sentence(text):
    d = extract(text)
    assert d.mobile == "13912345678" and d.mobile_invalid is None


@pytest.mark.parametrize(
    "text",
    [
        "138 0000 1234",
        "138-0000-1234",
        "+86 13800001234",
        "１３８００００１２３４",
        "1380 000 1234",
        "（+86）13800001234",
    ],
)
def test_mobile_formats(text):
    assert extract(text).mobile == "13800001234"


@pytest.mark.parametrize(
    "text,invalid",
    [
        ("手机1391234567", "1391234567"),  # one digit short
        ("手机号是139123456789", "139123456789"),
        ("电话029-88881234", "02988881234"),  # a landline where a mobile was asked
        ("12912345678", "12912345678"),  # no such mobile prefix
    ],
)
def test_number_meant_as_mobile_but_invalid(text, invalid):
    d = extract(text)
    assert d.mobile is None and d.mobile_invalid == invalid


def test_bare_wrong_number_when_the_mobile_was_asked():
    assert extract("88881234", expecting="contact_mobile").mobile_invalid == "88881234"
    assert extract("88881234").mobile_invalid is None


@pytest.mark.parametrize(
    "text",
    [
        "员工60人，营收2000万元",
        "2019年成立",
        "营收10000000000元",
        "工单 QCY-20261201-0001",
        "QQ号码12345678",
        "2026-12-01上午",
        "身份证号610102199001011234",
    ],
)
def test_other_numbers_are_not_mobiles(text):
    d = extract(text)
    assert d.mobile is None and d.mobile_invalid is None


# ---- contact name -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,name",
    [
        ("我叫王磊", "王磊"),  # the bug: the whole sentence was stored as the name
        ("联系人：张伟", "张伟"),
        ("我是张经理", "张经理"),
        ("找王磊就行", "王磊"),
        ("我是李娜", "李娜"),
        ("我叫李娜，手机13800001234", "李娜"),
        ("我叫王磊手机13912345678", "王磊"),
        ("联系人是欧阳娜娜", "欧阳娜娜"),
        ("姓名：刘洋", "刘洋"),
        ("我是西安云图的李娜", "李娜"),
        ("我是王总", "王总"),
        ("您好，我是陈静，想咨询一下高企", "陈静"),
        ("我叫諸葛明", "诸葛明"),
        ("联系人 赵老师 电话13800001234", "赵老师"),
        ("请找刘经理对接", "刘经理"),
        ("Hi, my name is Tom Li, mobile 13800001234", "Tom Li"),
        ("叫我小王就行", "小王"),
        ("联系人不是我，是我们的李经理", "李经理"),
    ],
)
def test_contact_name(text, name):
    assert extract(text).contact_name == name


@pytest.mark.parametrize(
    "text",
    [
        "我们是西安云图生物科技有限公司",
        "我是老板",
        "我是经理",
        "我是公司负责人",
        "我是来咨询的",
        "我是做软件的",
        "我们公司在沣西",
        "我是高新区的企业",
        "我们需要找律所",
        "我是秦汉新城的企业",
        "联系我们",
        "我是财务",
        "联系人改一下",
        "我是王总的秘书",
        "我叫什么名字不重要",
    ],
)
def test_no_contact_name_from_ordinary_words(text):
    assert extract(text).contact_name is None


@pytest.mark.parametrize(
    "text,name",
    [
        ("李娜", "李娜"),
        ("王经理", "王经理"),
        ("张伟 13800001234", "张伟"),
        ("欧阳修", "欧阳修"),
        ("王总", "王总"),
        ("Tom Li", "Tom Li"),
        ("我叫李娜", "李娜"),
        ("李娜。", "李娜"),
        ("李娜吧", "李娜"),
        ("找王经理就行", "王经理"),
    ],
)
def test_bare_name_when_the_name_was_asked(text, name):
    assert extract(text, expecting="contact_name", is_reply=is_reply).contact_name == name


@pytest.mark.parametrize("text", ["李娜", "王经理"])
def test_bare_name_needs_the_question(text):
    assert extract(text).contact_name is None


@pytest.mark.parametrize("text", ["好的", "不知道", "没有", "高企", "公司", "ok", "什么意思"])
def test_bare_answers_that_are_not_names(text):
    assert extract(text, expecting="contact_name", is_reply=is_reply).contact_name is None


def test_surname_only_rule():
    # A bare surname is kept (we cannot know 先生 or 女士); a full name given as well wins.
    assert extract("我姓李").contact_name == "李"
    assert extract("免贵姓欧阳").contact_name == "欧阳"
    assert extract("我姓李，叫李娜").contact_name == "李娜"
    assert extract("我姓好").contact_name is None


# ---- company ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,company",
    [
        ("西安云图生物科技有限公司", "西安云图生物科技有限公司"),
        ("我们是西安云图生物科技有限公司", "西安云图生物科技有限公司"),
        ("我们公司叫西安秦岭数据有限公司", "西安秦岭数据有限公司"),
        ("公司名称是陕西华晨新材料股份有限公司", "陕西华晨新材料股份有限公司"),
        ("我在西安市某某检测中心上班", "西安市某某检测中心"),
        ("云图生物科技（西安）有限公司", "云图生物科技(西安)有限公司"),
        ("西安ABC智能科技有限公司的李娜", "西安ABC智能科技有限公司"),
        ("华为技术有限公司", "华为技术有限公司"),
        ("陕西秦创投资合伙企业（有限合伙）", "陕西秦创投资合伙企业(有限合伙)"),
        ("西安光机所下属的西安光谷研究院", "西安光谷研究院"),
        ("我们是陕西某某律师事务所", "陕西某某律师事务所"),
        ("公司：西安雲圖生物科技有限公司", "西安云图生物科技有限公司"),
        ("西安在线教育科技有限公司", "西安在线教育科技有限公司"),
        ("我在西安天和科技有限公司上班", "西安天和科技有限公司"),
        ("对接人是李娜，公司是西安云图有限公司", "西安云图有限公司"),
        ("陕西延长石油（集团）有限责任公司", "陕西延长石油(集团)有限责任公司"),
    ],
)
def test_company(text, company):
    assert extract(text).company == company


@pytest.mark.parametrize(
    "text",
    [
        "帮我们找一家做股权架构的律所，公司规模50人",  # "公司" of the need is not a company name
        "需要对接投资公司",
        "我们公司想申请高企",
        "我们公司在沣西",
        "能推荐一家会计师事务所吗",
        "找一家担保公司",
        "有限公司怎么注册",
        "秦创原综合服务中心在哪里",
        "我们想和西安某某有限公司合作",
        "帮我们对接西安某某律师事务所",
        "我们想找西安交通大学的技术转移中心",
        "委托西安某某知识产权代理有限公司",
        "我们要在空港新城建厂房，需要办理哪些手续",
        "我们是中心城区的企业",
    ],
)
def test_no_company_in_a_need(text):
    assert extract(text).company is None


def test_company_not_the_whole_sentence():
    d = extract("你好我们是一家做芯片设计的企业名字叫西安芯动科技有限公司想问一下高企怎么申报")
    assert d.company == "西安芯动科技有限公司"


def test_company_name_too_long_is_not_taken():
    assert extract("这" * 45 + "有限公司").company is None


@pytest.mark.parametrize(
    "text,company",
    [
        ("云图生物", "云图生物"),
        ("我们公司叫云图生物", "云图生物"),
        ("是云图生物，我叫李娜", "云图生物"),
        ("秦岭数据。", "秦岭数据"),
    ],
)
def test_bare_company_when_the_company_was_asked(text, company):
    assert extract(text, expecting="enterprise_name", is_reply=is_reply).company == company


@pytest.mark.parametrize("text", ["好的", "不知道", "我们是做软件开发的", "高企需要什么条件", "没有", "取消"])
def test_bare_answers_that_are_not_companies(text):
    assert extract(text, expecting="enterprise_name", is_reply=is_reply).company is None


def test_bare_company_needs_the_question():
    assert extract("云图生物").company is None


def test_bare_company_or_english_name_needs_a_reply_test():
    # Without speech's is_reply details cannot tell "好的" or "ok" from a name, so it takes neither kind.
    assert extract("云图生物", expecting="enterprise_name").company is None
    assert extract("Tom Li", expecting="contact_name").contact_name is None
    assert extract("李娜", expecting="contact_name").contact_name == "李娜"  # a Chinese name is told by its surname


def test_names_and_places_are_not_taken_from_company_names(net):
    d = extract("我们是西安沣东王磊科技有限公司", net)
    assert d.company == "西安沣东王磊科技有限公司"
    assert d.contact_name is None and d.new_city is None


# ---- location -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,city",
    [
        ("我们在空港新城", "空港"),
        ("沣西", "沣西"),
        ("灃東新城", "沣东"),
        ("公司在秦汉", "秦汉"),
        ("泾河新城的企业", "泾河"),
    ],
)
def test_new_city_without_a_network(text, city):
    d = extract(text)
    assert d.new_city == city and d.park is None
    assert d.as_slots()["ticket_location"] == f"{city}新城"


def test_two_cities_are_ambiguous():
    assert extract("沣东或者沣西都行").new_city is None


def test_a_city_the_user_is_not_in(net):
    assert extract("我们不在沣西，在沣东").new_city == "沣东"
    assert extract("我们不在沣西，在沣东", net).new_city == "沣东"


@pytest.mark.parametrize(
    "text,park,city",
    [
        ("我们在西部科技创新港", "中国西部科技创新港", "沣西"),
        ("在交大创新港", "中国西部科技创新港", "沣西"),
        ("空港综保区", "空港新城综合保税区", "空港"),
        ("我们在泾河新城的地理信息产业园", "泾河新城地理信息产业园", "泾河"),
    ],
)
def test_park_with_the_network(net, text, park, city):
    d = extract(text, net)
    assert (d.park, d.new_city) == (park, city)
    assert d.as_slots()["ticket_location"] == park


def test_bare_partial_park_name_when_location_was_asked(net):
    assert extract("科技创新港", net, expecting="ticket_location").park == "中国西部科技创新港"
    assert extract("空港", net, expecting="ticket_location").as_slots()["ticket_location"] == "空港新城"


def test_without_network_parks_are_not_known():
    d = extract("我们在西部科技创新港")
    assert d.park is None and d.new_city is None


# ---- credit code --------------------------------------------------------------------------------------


def test_credit_code_only_when_valid():
    code = _valid_code()
    assert credit_code.is_valid(code)
    assert extract(f"统一社会信用代码{code}").credit_code == code
    assert extract(f"信用代码：{code.lower()}，手机13912345678").credit_code == code
    broken = code[:-1] + ("0" if code[-1] != "0" else "1")
    assert extract(f"信用代码{broken}").credit_code is None


def test_credit_code_full_width_and_spaced_when_asked():
    code = _valid_code()
    full = "".join(chr(ord(c) + 0xFEE0) for c in code)
    assert extract(full).credit_code == code
    spaced = " ".join(code[i : i + 4] for i in range(0, 18, 4))
    assert extract(spaced, expecting="credit_code").credit_code == code


def test_credit_code_digits_are_not_a_mobile():
    d = extract(f"代码{_valid_code()}")
    assert d.mobile is None and d.mobile_invalid is None


# ---- figures ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("50个人", {"employees": 50}),
        ("员工60人", {"employees": 60}),
        ("60人，其中研发9个", {"employees": 60, "tech_staff": 9}),
        ("科技人员12人", {"tech_staff": 12}),
        ("营收两千万", {"revenue": 2e7}),
        ("销售收入1500万元", {"revenue": 1.5e7}),
        ("年收入2.3亿", {"revenue": 2.3e8}),
        ("营业额八百万", {"revenue": 8e6}),
        ("研发三百万", {"rd_expense": 3e6}),
        ("研发投入大概两百万", {"rd_expense": 2e6}),
        ("研发费用300万", {"rd_expense": 3e6}),
        ("2019年成立", {"founded_year": 2019}),
        ("成立三年", {"years_since_founding": 3}),
        ("公司成立了5年", {"years_since_founding": 5}),
        ("去年成立的", {"years_since_founding": 1}),
        ("3个发明专利", {"invention_patents": 3}),
        ("实用新型8项", {"utility_models": 8}),
        ("5个软著", {"software_copyrights": 5}),
        ("软件著作权12个", {"software_copyrights": 12}),
        ("我们有几百万营收", {}),
    ],
)
def test_figures(text, expected):
    assert extract(text).figures == expected


def test_figures_full_width_and_traditional():
    assert extract("員工６０人，營收兩千萬").figures == {"employees": 60, "revenue": 2e7}


def test_figures_in_one_long_message():
    d = extract(
        "我们公司叫西安秦岭数据有限公司，2019年成立，员工60人，其中研发9个，去年营收两千万，研发投入大概两百万，"
        "有3个发明专利、10个实用新型和5个软著，手机13912345678"
    )
    assert d.figures == {
        "employees": 60,
        "tech_staff": 9,
        "revenue": 2e7,
        "rd_expense": 2e6,
        "founded_year": 2019,
        "invention_patents": 3,
        "utility_models": 10,
        "software_copyrights": 5,
    }
    assert d.company == "西安秦岭数据有限公司" and d.mobile == "13912345678"


def test_mobile_and_scale_do_not_become_figures():
    d = extract("手机13912345678，公司规模50人")
    assert d.figures == {"employees": 50}


# ---- amounts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,value",
    [
        ("两千万", 2e7),
        ("一千五百万", 1.5e7),
        ("三百万", 3e6),
        ("2.3亿", 2.3e8),
        ("八百万", 8e6),
        ("1.5万", 15000),
        ("1500万元", 1.5e7),
        ("1,500万", 1.5e7),
        ("两个亿", 2e8),
        ("一亿两千万", 1.2e8),
        ("1亿2千万", 1.2e8),
        ("三千多万", 3e7),
        ("两万五", 25000),
        ("一千五", 1500),
        ("三万八", 38000),
        ("一百零五", 105),
        ("十二万", 120000),
        ("二十五", 25),
        ("十", 10),
        ("五十", 50),
        ("一万零五百", 10500),
        ("二点五万", 25000),
        ("零点五亿", 5e7),
        ("百万", 1e6),
        ("5w", 50000),
        ("500k", 500000),
        ("０.５亿", 5e7),
        ("2019", 2019),
        ("一亿五", 1.5e8),
        ("营收大概两千万左右", 2e7),
        ("研发投入大概两百万", 2e6),
        ("贰佰万", 2e6),
        ("壹仟伍佰万元", 1.5e7),
        ("12.5万元", 125000),
        ("1500余万", 1.5e7),
        ("两百多万", 2e6),
        ("0", 0.0),
        ("十五", 15),
        ("一百二十万", 1.2e6),
        ("二零一九", 2019),
        ("1 500万", 1.5e7),
        ("三百六", 360),
    ],
)
def test_parse_amount(text, value):
    assert parse_amount(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "没有", "几百万", "十几万", "数千万", "万元", "营收还不清楚"])
def test_parse_amount_none(text):
    assert parse_amount(text) is None


@pytest.mark.parametrize(
    "text, name",
    [
        ("我是财务刘芳", "刘芳"),
        ("我是人事张伟", "张伟"),
        ("我是人事部的张伟，手机13912345678", "张伟"),
    ],
)
def test_a_role_between_the_cue_and_the_name_is_skipped(text, name):
    assert extract(text, expecting="contact_name").contact_name == name


def test_a_leading_company_word_is_not_part_of_the_name():
    assert extract("公司西安微纳光电科技有限公司").company == "西安微纳光电科技有限公司"


@pytest.mark.parametrize(
    "text, level",
    [
        ("市级的研发补助一直没到账", "市"),
        ("省級獎補什麼時候兌現", "省"),
        ("区里的扶持资金怎么领", "区"),
        ("新区的补贴到账了吗", "区"),
        ("我们在西咸新区，补贴没到账", None),
        ("省里和市里的都没到", None),
    ],
)
def test_the_level_of_a_policy_is_read_for_the_redemption_window(text, level):
    assert extract(text).policy_level == level


def test_a_registered_company_name_beats_a_loose_one(net):
    d = extract(
        "轻资产公司，没抵押物，想贷款300万。西安云途物流科技有限公司，航空物流园，联系人袁野，电话15353001234", net
    )
    assert d.company == "西安云途物流科技有限公司" and d.contact_name == "袁野"


@pytest.mark.parametrize(
    "text",
    [
        "陕西天工精密机械股份有限公司，不在园区，联系人郑刚 13119876543",
        "西安知源软件有限公司，联系人秦岚，13227001234，不在任何园区",
        "我们没有入驻园区",
    ],
)
def test_not_in_a_park_is_an_answer_to_the_location_question(text, net):
    assert extract(text, net).as_slots()["ticket_location"] == "无"


def test_an_english_given_name_after_the_contact_cue():
    assert extract("联系人 Kevin 林，13636366789").contact_name == "Kevin 林"
    assert extract("我是 OK 提交").contact_name is None
