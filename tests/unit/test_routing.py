"""Routing rules: the shipped routing.yml, rule precedence, staff-only categories, validation."""

from __future__ import annotations

import copy

import pytest
import yaml

from bot.network import NETWORK_FILE, Network, load_network
from bot.network.routing import ROUTING_FILE, Router, RouteResult, RoutingError, default_router, normalise_level
from bot.taxonomy import NEED_INTENTS

SUBSIDY = "need_subsidy_redemption"


@pytest.fixture(scope="module")
def net() -> Network:
    return load_network()


@pytest.fixture(scope="module")
def router(net) -> Router:
    return Router.load(network=net)


def base_rules() -> dict:
    return yaml.safe_load(ROUTING_FILE.read_text(encoding="utf-8"))


def problems_of(data, net, source="routing.yml") -> list[str]:
    with pytest.raises(RoutingError) as info:
        Router.from_data(data, net, source=source)
    return info.value.problems


# --------------------------------------------------------------------------- the shipped rules


@pytest.mark.parametrize(
    "level, window",
    [
        ("省", "window-province"),
        ("省级", "window-province"),
        ("陕西省", "window-province"),
        ("市", "window-city"),
        ("市级", "window-city"),
        ("区", "window-district"),
        ("西咸新区", "window-district"),
        (None, "window-district"),
        ("", "window-district"),  # unknown level → district window
        ("国家", "window-district"),
        ("窗口", "window-district"),
    ],
)
def test_subsidy_goes_to_the_special_window_of_its_level(router, level, window):
    result = router.route(SUBSIDY, policy_level=level)
    assert result.node_id == window
    assert "专窗" in result.rule


def test_subsidy_rule_beats_location(router):
    # Category rules come first: an enterprise in a park still goes to the special window.
    assert router.route(SUBSIDY, new_city="沣西", park="西部科技创新港", policy_level="市").node_id == "window-city"


def test_park_beats_new_city_beats_centre(router):
    assert router.route("need_space", new_city="沣西", park="西部科技创新港") == RouteResult(
        "fengxi-ws-chuangxingang", "园区企业由所在园区工作站就近服务"
    )
    r = router.route("need_space", new_city="沣西新城")
    assert (r.node_id, r.rule) == ("fengxi", "新城企业由所在新城服务中心服务")
    r = router.route("need_space")
    assert (r.node_id, r.rule) == ("centre", "其余需求由秦创原综合服务中心统筹")


@pytest.mark.parametrize("category", NEED_INTENTS)
def test_every_category_is_routed(router, category):
    assert router.route(category, new_city="空港").node_id in ("konggang", "window-district")
    assert router.route(category).node_id in ("centre", "window-district")


@pytest.mark.parametrize(
    "kwargs, node",
    [
        ({"park": "西部科技创新港"}, "fengxi-ws-chuangxingang"),  # the park alone
        ({"park": "fengxi-ws-yungu"}, "fengxi-ws-yungu"),  # a workstation id
        ({"new_city": "fengdong"}, "fengdong"),  # a centre id
        ({"new_city": "灃東新城"}, "fengdong"),  # traditional
        ({"park": "沣东新城某某科技园"}, "fengdong"),  # unknown park, but the city is named
        ({"park": "某某科技园"}, "centre"),  # nothing known
        ({"new_city": "北京"}, "centre"),
        ({"new_city": "泾河新城", "park": "信息产业园"}, "jinghe"),  # park of another city: not trusted
        ({"new_city": "泾河", "park": "地理信息产业园"}, "jinghe-ws-dili"),
    ],
)
def test_location_resolution(router, kwargs, node):
    assert router.route("need_training", **kwargs).node_id == node


def test_staff_only_default_empty(router):
    assert router.staff_only == frozenset()
    assert not any(router.is_staff_only(c) for c in NEED_INTENTS)
    assert not router.is_staff_only(None)


def test_default_router_cached():
    assert default_router() is default_router()
    assert default_router().route("need_space", park="创新港").node_id == "fengxi-ws-chuangxingang"


@pytest.mark.parametrize(
    "raw, level",
    [
        ("省级", "省"),
        ("Province", "省"),
        (" 市 ", "市"),
        ("区级", "区"),
        ("国家级", "国家"),
        (None, None),
        ("", None),
        ("乡镇", "乡镇"),
    ],
)
def test_normalise_level(raw, level):
    assert normalise_level(raw) == level


# --------------------------------------------------------------------------- rules as data


def test_staff_can_add_a_category_rule_without_code(tmp_path, net):
    text = ROUTING_FILE.read_text(encoding="utf-8")
    marker = "  - name: 园区企业由所在园区工作站就近服务"
    added = "  - name: 上市辅导由综合服务中心统筹\n    when:\n      category: [need_listing]\n    to: centre\n\n"
    path = tmp_path / "routing.yml"
    path.write_text(text.replace(marker, added + marker), encoding="utf-8")
    router = Router.load(path, network=net)
    assert router.route("need_listing", park="西部科技创新港") == RouteResult("centre", "上市辅导由综合服务中心统筹")
    # Other categories are unaffected.
    assert router.route("need_space", park="西部科技创新港").node_id == "fengxi-ws-chuangxingang"


def test_rule_order_decides(net):
    data = base_rules()
    category_rule = {"name": "上市辅导由综合服务中心统筹", "when": {"category": ["need_listing"]}, "to": "centre"}
    # Placed between the park and the new-city rule, the park rule wins for an enterprise
    # in a park, the category rule for one known only by its new city.
    late = copy.deepcopy(data)
    late["rules"].insert(2, category_rule)
    router = Router.from_data(late, net)
    assert router.route("need_listing", park="西部云谷") == RouteResult(
        "fengxi-ws-yungu", "园区企业由所在园区工作站就近服务"
    )
    assert router.route("need_listing", new_city="沣东") == RouteResult("centre", "上市辅导由综合服务中心统筹")
    assert router.route("need_training", new_city="沣东").node_id == "fengdong"
    # Placed first, it wins everywhere.
    early = copy.deepcopy(data)
    early["rules"].insert(0, category_rule)
    assert Router.from_data(early, net).route("need_listing", park="西部云谷").node_id == "centre"


def test_conditions_on_new_city_park_and_level(net):
    data = {
        "rules": [
            {
                "name": "沣西的人才需求",
                "when": {"category": ["need_talent_recognition"], "new_city": ["沣西新城"]},
                "to": "fengxi-ws-chuangxingang",
            },
            {"name": "创新港的场地", "when": {"park": ["西部科技创新港"], "category": ["need_space"]}, "to": "fengxi"},
            {
                "name": "省级政策咨询",
                "when": {"policy_level": ["省级"], "category": ["need_policy_consult"]},
                "to": "window-province",
            },
            {"name": "无园区无新城", "when": {"park": "unknown", "new_city": "unknown"}, "to": "window-city"},
            {"name": "兜底", "to": "centre"},
        ],
    }
    router = Router.from_data(data, net)
    assert router.route("need_talent_recognition", new_city="沣西").node_id == "fengxi-ws-chuangxingang"
    assert router.route("need_talent_recognition", new_city="沣东").node_id == "centre"
    assert router.route("need_space", park="交大创新港").node_id == "fengxi"
    assert router.route("need_policy_consult", new_city="沣东", policy_level="省").node_id == "window-province"
    assert router.route("need_policy_consult", new_city="沣东", policy_level="市").node_id == "centre"
    assert router.route("need_training").node_id == "window-city"


def test_unresolvable_target_falls_through(net):
    data = {
        "rules": [
            {"name": "工作站优先", "to": "park_workstation"},
            {"name": "按级别", "to": {"by_policy_level": {"省": "window-province"}}},
            {"name": "兜底", "to": "centre"},
        ]
    }
    router = Router.from_data(data, net)
    assert router.route("need_space", park="西部云谷").rule == "工作站优先"
    assert router.route("need_space", policy_level="省").rule == "按级别"
    assert router.route("need_space", policy_level="市").rule == "兜底"


def test_staff_only_categories(net):
    data = base_rules()
    data["staff_only"] = ["need_listing", "need_equity_investment"]
    router = Router.from_data(data, net)
    assert router.is_staff_only("need_listing") and router.is_staff_only("need_equity_investment")
    assert not router.is_staff_only("need_space")
    # Staff-only needs are still routed to a node.
    assert router.route("need_listing", new_city="沣西").node_id == "fengxi"


def test_inactive_node_passes_to_open_ancestor():
    data = yaml.safe_load(NETWORK_FILE.read_text(encoding="utf-8"))
    for n in data["nodes"]:
        if n["id"] in ("fengxi-ws-yungu", "window-city"):
            n["active"] = False
    net = Network.from_data(data)
    router = Router.load(network=net)
    r = router.route("need_space", park="西部云谷")
    assert (r.node_id, r.redirected_from) == ("fengxi", "fengxi-ws-yungu")
    r = router.route(SUBSIDY, policy_level="市")
    assert (r.node_id, r.redirected_from) == ("centre", "window-city")
    assert router.route("need_space", park="创新港").redirected_from is None


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "mutate, where, fragment",
    [
        (
            lambda d: d["rules"][0]["to"]["by_policy_level"].update({"省": "window-prov"}),
            "rules[0]（奖补兑现由对应级别的政策兑现专窗办理）: to.by_policy_level.省",
            "window-prov",
        ),
        (lambda d: d["rules"][0]["to"]["by_policy_level"].update({"乡": "centre"}), "to.by_policy_level.乡", "级别"),
        (lambda d: d["rules"][0]["to"].update(otherwise="nowhere"), "to.otherwise", "nowhere"),
        (lambda d: d["rules"][0]["when"].update(category=["need_subsidy"]), "when.category", "need_subsidy"),
        (lambda d: d["rules"][0]["when"].update(category="known"), "when.category", "列表"),
        (lambda d: d["rules"][1]["when"].update(park=["不存在的园区"]), "when.park", "不存在的园区"),
        (lambda d: d["rules"][2]["when"].update(new_city=["北京"]), "when.new_city", "北京"),
        (lambda d: d["rules"][2]["when"].update(policy_level=["乡"]), "when.policy_level", "乡"),
        (lambda d: d["rules"][2]["when"].update(weather="sunny"), "when.weather", "未知条件"),
        (lambda d: d["rules"][2].update(to="fengxii"), "rules[2]（新城企业由所在新城服务中心服务）: to", "fengxii"),
        (lambda d: d["rules"][2].pop("to"), "to", "缺少分派目标"),
        (lambda d: d["rules"][2].update(colour="red"), "colour", "未知字段"),
        (lambda d: d["rules"][2].update(name=d["rules"][1]["name"]), "name", "重复"),
        (lambda d: d["rules"][3].update(when={"new_city": "known"}), "when", "最后一条规则"),
        (lambda d: d["rules"].append({"name": "多余", "to": "fengxi"}), "rules[4]（多余）: when", "永远不会生效"),
        (lambda d: d.update(staff_only=["need_lunch"]), "(文件): staff_only", "need_lunch"),
        (lambda d: d.update(staff_only="need_listing"), "(文件): staff_only", "列表"),
        (lambda d: d.update(extra=1), "(文件): extra", "未知字段"),
    ],
)
def test_validation_names_file_rule_and_field(net, mutate, where, fragment):
    data = base_rules()
    mutate(data)
    problems = problems_of(data, net)
    assert any(p.startswith("routing.yml: ") and f"{where}:" in p and fragment in p for p in problems), problems


def test_validation_of_file(tmp_path, net):
    path = tmp_path / "routing.yml"
    path.write_text("rules: [\n", encoding="utf-8")
    with pytest.raises(RoutingError) as info:
        Router.load(path, network=net)
    assert str(path) in str(info.value) and "YAML" in str(info.value)
    path.write_text("rules: []\n", encoding="utf-8")
    with pytest.raises(RoutingError) as info:
        Router.load(path, network=net)
    assert f"{path}: (文件): rules:" in info.value.problems[0]
