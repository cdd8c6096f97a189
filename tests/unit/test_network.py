"""The 1+5+N network: the shipped network.yml, validation, tree helpers, location matching, DB sync."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from bot.db import migrate, sessions
from bot.db.schema import ServiceNode
from bot.network import NETWORK_FILE, Network, NetworkError, default_network, load_network, sync_network

NEW_CITY_IDS = {"fengdong": "沣东", "fengxi": "沣西", "qinhan": "秦汉", "konggang": "空港", "jinghe": "泾河"}


@pytest.fixture(scope="module")
def net() -> Network:
    return load_network()


def small_data() -> dict:
    """A minimal valid network: centre, one window, two new cities, three workstations."""
    return {
        "version": 1,
        "nodes": [
            {"id": "centre", "name": "秦创原综合服务中心", "kind": "centre"},
            {"id": "window-province", "name": "省级专窗", "kind": "special_window", "parent": "centre", "level": "省"},
            {
                "id": "fengxi",
                "name": "沣西新城服务中心",
                "kind": "new_city",
                "parent": "centre",
                "new_city": "沣西",
                "aliases": ["沣西新城"],
            },
            {"id": "fengdong", "name": "沣东新城服务中心", "kind": "new_city", "parent": "centre", "new_city": "沣东"},
            {
                "id": "fengxi-ws-a",
                "name": "A园工作站",
                "kind": "workstation",
                "parent": "fengxi",
                "new_city": "沣西",
                "park": "沣西新城A产业园",
            },
            {
                "id": "fengxi-ws-b",
                "name": "B园工作站",
                "kind": "workstation",
                "parent": "fengxi",
                "park": "沣西新城B产业园",
            },
            {
                "id": "fengdong-ws-c",
                "name": "C园工作站",
                "kind": "workstation",
                "parent": "fengdong",
                "new_city": "沣东",
                "park": "沣东新城C产业园",
            },
        ],
    }


def problems_of(data: dict, source: str = "net.yml") -> list[str]:
    with pytest.raises(NetworkError) as info:
        Network.from_data(data, source=source)
    return info.value.problems


def node_entry(data: dict, node_id: str) -> dict:
    return next(n for n in data["nodes"] if n["id"] == node_id)


# --------------------------------------------------------------------------- the shipped file


def test_shipped_network_is_1_plus_5_plus_n(net):
    assert net.centre.id == "centre" and net.centre.name == "秦创原综合服务中心"
    assert net.centre.parent is None
    cities = net.new_cities()
    assert {c.id: c.new_city for c in cities} == NEW_CITY_IDS
    for c in cities:
        assert c.parent == "centre"
        assert c.name == f"{c.new_city}新城服务中心"
    parks = net.parks()
    assert 15 <= len(parks) <= 30
    for city_id, short in NEW_CITY_IDS.items():
        mine = net.parks(short)
        assert len(mine) >= 3, short
        assert mine == net.parks(city_id)
        for ws in mine:
            assert ws.id.startswith(f"{city_id}-ws-")
            assert ws.parent == city_id and ws.new_city == short and ws.park
    assert len({p.park for p in parks}) == len(parks)
    assert "中国西部科技创新港" in {p.park for p in net.parks("沣西")}


def test_special_windows(net):
    windows = {w.id: w for w in net.special_windows()}
    assert {k: w.level for k, w in windows.items()} == {
        "window-province": "省",
        "window-city": "市",
        "window-district": "区",
    }
    for w in windows.values():
        assert w.kind == "special_window" and w.parent == "centre"
    assert net.special_window("市").id == "window-city"
    assert net.special_window("国家") is None


def test_default_network_is_cached_and_same_as_file(net):
    assert default_network() is default_network()
    assert [n.id for n in default_network()] == [n.id for n in net]
    assert NETWORK_FILE.name == "network.yml" and NETWORK_FILE.parent.name == "service_data"


# --------------------------------------------------------------------------- tree helpers


def test_scoping_by_descendants(net):
    # A workstation sees itself only.
    assert [n.id for n in net.descendants("fengxi-ws-chuangxingang")] == ["fengxi-ws-chuangxingang"]
    assert net.scope("fengxi-ws-chuangxingang") == {"fengxi-ws-chuangxingang"}
    # A new-city centre sees itself and its workstations, not other cities'.
    fengxi = net.scope("fengxi")
    assert fengxi == {"fengxi"} | {w.id for w in net.parks("沣西")}
    assert not fengxi & net.scope("fengdong")
    # The comprehensive centre sees everything.
    assert net.scope("centre") == {n.id for n in net}
    # Pre-order, the node first; without itself on request.
    assert net.descendants("fengxi")[0].id == "fengxi"
    assert "fengxi" not in {n.id for n in net.descendants("fengxi", include_self=False)}


def test_parent_ancestors_children(net):
    assert net.parent("centre") is None
    assert net.parent("fengxi").id == "centre"
    assert net.parent("fengxi-ws-yungu").id == "fengxi"
    assert [n.id for n in net.ancestors("fengxi-ws-yungu")] == ["fengxi", "centre"]
    assert net.ancestors("centre") == []
    kids = {n.id for n in net.children("centre")}
    assert kids == set(NEW_CITY_IDS) | {"window-province", "window-city", "window-district"}
    assert net.children("fengxi-ws-yungu") == []
    assert net.new_city_of("fengxi-ws-yungu").id == "fengxi"
    assert net.new_city_of("fengxi").id == "fengxi"
    assert net.new_city_of("window-city") is None
    with pytest.raises(KeyError):
        net.node("nowhere")
    assert net.get("nowhere") is None and "fengxi" in net


def test_topological_order_puts_parents_first(net):
    seen: set[str] = set()
    for n in net.topological():
        assert n.parent is None or n.parent in seen
        seen.add(n.id)
    assert seen == {n.id for n in net}


# --------------------------------------------------------------------------- free-text locations


@pytest.mark.parametrize(
    "text, city",
    [
        ("沣西", "fengxi"),
        ("沣西新城", "fengxi"),
        ("西咸新区沣西新城", "fengxi"),
        ("灃西新城", "fengxi"),  # traditional
        ("我们公司在 灃東新城", "fengdong"),
        ("秦漢新城", "qinhan"),
        ("涇河", "jinghe"),
        ("空港新城", "konggang"),
        ("fengxi", "fengxi"),  # node id
        ("西部科技创新港", "fengxi"),  # via the park
        ("我们在交大创新港办公", "fengxi"),
        ("空港综保区", "konggang"),
        ("沣西新城信息产业园", "fengxi"),
    ],
)
def test_find_new_city(net, text, city):
    assert net.find_new_city(text).id == city


@pytest.mark.parametrize("text", ["", None, "西安市未央区", "北京", "从沣东搬到沣西", "西咸新区"])
def test_find_new_city_none_or_ambiguous(net, text):
    assert net.find_new_city(text) is None


@pytest.mark.parametrize(
    "text, park",
    [
        ("西部科技创新港", "fengxi-ws-chuangxingang"),
        ("中国西部科技创新港", "fengxi-ws-chuangxingang"),
        ("科技创新港", "fengxi-ws-chuangxingang"),
        ("中國西部科技創新港", "fengxi-ws-chuangxingang"),  # traditional
        ("我们在西安交大创新港二号楼", "fengxi-ws-chuangxingang"),
        ("沣西新城信息产业园", "fengxi-ws-xinxi"),
        ("信息产业园", "fengxi-ws-xinxi"),
        ("地理信息产业园", "jinghe-ws-dili"),  # longer name beats 信息产业园
        ("泾河新城地理信息产业园工作站", "jinghe-ws-dili"),
        ("统筹科技资源改革示范基地", "fengdong-ws-tongchou"),
        ("統籌科技資源改革示範基地", "fengdong-ws-tongchou"),
        ("西咸新区沣西新城西部云谷", "fengxi-ws-yungu"),
        ("空港新城临空产业园", "konggang-ws-linkong"),
        ("数字经济", "fengdong-ws-shuzi"),  # part of a name
        ("fengxi-ws-yungu", "fengxi-ws-yungu"),  # node id
    ],
)
def test_find_park(net, text, park):
    assert net.find_park(text).id == park


@pytest.mark.parametrize(
    "text",
    [
        "",
        None,
        "沣西",
        "沣西新城",  # a new city is not a park
        "产业园",  # many parks
        "泾河新城的信息产业园",  # 信息产业园 is in 沣西, not 泾河
        "某某科技园",
    ],
)
def test_find_park_none(net, text):
    assert net.find_park(text) is None


def test_match_parks_lists_candidates(net):
    ids = [n.id for n in net.match_parks("产业园")]
    assert len(ids) > 3
    assert [n.id for n in net.match_parks("地理信息产业园")][:2] == ["jinghe-ws-dili", "fengxi-ws-xinxi"]


def test_new_city_centre_by_name_or_id(net):
    assert net.new_city_centre("沣西").id == "fengxi"
    assert net.new_city_centre("沣西新城").id == "fengxi"
    assert net.new_city_centre("fengxi").id == "fengxi"
    assert net.new_city_centre("西安") is None
    assert net.new_city_centre(None) is None


# --------------------------------------------------------------------------- validation


def test_small_network_is_valid_and_inherits_new_city():
    net = Network.from_data(small_data())
    assert net.node("fengxi-ws-b").new_city == "沣西"
    assert net.find_park("B产业园").id == "fengxi-ws-b"


def test_unknown_parent_names_file_and_field():
    data = small_data()
    node_entry(data, "fengxi-ws-a")["parent"] = "fengxii"
    problems = problems_of(data)
    assert any(p.startswith("net.yml: nodes[4]（fengxi-ws-a）: parent:") and "fengxii" in p for p in problems), problems


def test_duplicate_id():
    data = small_data()
    data["nodes"].append(dict(node_entry(data, "fengxi-ws-a"), park="另一个园"))
    problems = problems_of(data)
    assert any("nodes[7]" in p and ": id:" in p and "重复" in p and "nodes[4]" in p for p in problems), problems


def test_cycle_is_reported():
    data = small_data()
    # Two new-city centres pointing at each other: a cycle (and a kind problem).
    node_entry(data, "fengxi")["parent"] = "fengdong"
    node_entry(data, "fengdong")["parent"] = "fengxi"
    problems = problems_of(data)
    cycles = [p for p in problems if "形成环" in p]
    assert len(cycles) == 1, problems
    assert ": parent:" in cycles[0] and "fengdong → fengxi → fengdong" in cycles[0]


def test_missing_centre():
    data = small_data()
    data["nodes"] = [n for n in data["nodes"] if n["kind"] != "centre"]
    problems = problems_of(data)
    assert any("缺少综合服务中心" in p and ": kind:" in p for p in problems)
    assert any("未知的上级节点“centre”" in p for p in problems)


def test_second_centre_and_centre_with_parent():
    data = small_data()
    data["nodes"].append({"id": "centre2", "name": "第二中心", "kind": "centre", "parent": "centre"})
    problems = problems_of(data)
    assert any("centre2" in p and "只能有一个综合服务中心" in p for p in problems)
    assert any("centre2" in p and "根节点" in p for p in problems)


@pytest.mark.parametrize(
    "mutate, field, fragment",
    [
        (lambda d: node_entry(d, "fengxi-ws-a").update(kind="station"), "kind", "station"),
        (lambda d: node_entry(d, "fengxi-ws-a").pop("park"), "park", "园区"),
        (lambda d: node_entry(d, "window-province").pop("level"), "level", "级别"),
        (lambda d: node_entry(d, "window-province").update(level="县"), "level", "县"),
        (lambda d: node_entry(d, "fengxi").update(level="区"), "level", "special_window"),
        (lambda d: node_entry(d, "fengxi-ws-a").update(colour="red"), "colour", "未知字段"),
        (lambda d: node_entry(d, "fengxi-ws-a").update(id="Fengxi WS"), "id", "小写字母"),
        (lambda d: node_entry(d, "fengxi-ws-a").update(new_city="沣东"), "new_city", "不一致"),
        (lambda d: node_entry(d, "fengxi-ws-a").update(parent="window-province"), "parent", "政策兑现专窗"),
        (lambda d: node_entry(d, "fengxi").update(parent="fengdong"), "parent", "新城服务中心的上级"),
        (lambda d: node_entry(d, "fengxi-ws-b").update(aliases=["沣西新城A产业园"]), "aliases", "无法区分"),
        (lambda d: node_entry(d, "fengdong").update(new_city="沣西"), "new_city", "已由"),
        (lambda d: node_entry(d, "fengxi").pop("new_city"), "new_city", "所属新城"),
        (lambda d: node_entry(d, "fengxi-ws-a").update(active="yes"), "active", "true 或 false"),
        (lambda d: node_entry(d, "fengxi-ws-a").pop("name"), "name", "缺少名称"),
    ],
)
def test_node_field_problems(mutate, field, fragment):
    data = small_data()
    mutate(data)
    problems = problems_of(data)
    assert any(f": {field}:" in p and fragment in p and p.startswith("net.yml: ") for p in problems), problems


def test_all_problems_reported_at_once():
    data = small_data()
    node_entry(data, "fengxi-ws-a")["parent"] = "nowhere"
    node_entry(data, "window-province")["level"] = "县"
    node_entry(data, "fengdong-ws-c")["kind"] = "kiosk"
    with pytest.raises(NetworkError) as info:
        Network.from_data(data, source="net.yml")
    assert len(info.value.problems) == 3
    assert "共 3 个问题" in str(info.value)


@pytest.mark.parametrize(
    "data, fragment",
    [
        ([], "顶层"),
        ({"nodes": []}, "nodes"),
        ({"nodes": ["centre"]}, "映射"),
        ({"version": 2, "nodes": small_data()["nodes"]}, "version"),
    ],
)
def test_file_level_problems(data, fragment):
    assert any(fragment in p for p in problems_of(data))


def test_load_reports_path_for_yaml_errors(tmp_path):
    bad = tmp_path / "network.yml"
    bad.write_text("nodes:\n  - id: centre\n   name: x\n", encoding="utf-8")
    with pytest.raises(NetworkError) as info:
        load_network(bad)
    assert str(bad) in info.value.problems[0] and "YAML" in info.value.problems[0]
    with pytest.raises(NetworkError) as info:
        load_network(tmp_path / "missing.yml")
    assert "missing.yml" in str(info.value)


def test_load_reports_path_for_field_errors(tmp_path):
    data = small_data()
    node_entry(data, "fengxi-ws-a")["parent"] = "nowhere"
    path = tmp_path / "network.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(NetworkError) as info:
        load_network(path)
    assert info.value.problems[0].startswith(f"{path}: nodes[4]（fengxi-ws-a）: parent:")


# --------------------------------------------------------------------------- database sync


def _rows(url: str) -> dict[str, ServiceNode]:
    with sessions(url)() as session:
        return {r.id: r for r in session.scalars(select(ServiceNode))}


def test_sync_into_sqlite_is_idempotent_and_never_deletes(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'net.db'}"
    migrate(url)
    net = load_network()

    first = sync_network(url, net)
    assert sorted(first.created) == sorted(n.id for n in net) and not first.updated
    rows = _rows(url)
    assert len(rows) == len(net)
    ws = rows["fengxi-ws-chuangxingang"]
    assert (ws.kind, ws.parent_id, ws.new_city, ws.park, ws.active) == (
        "workstation",
        "fengxi",
        "沣西",
        "中国西部科技创新港",
        True,
    )
    assert rows["window-city"].level == "市" and rows["centre"].parent_id is None

    again = sync_network(url, net)
    assert not again.changed and again.unchanged == len(net)

    # Remove one workstation, rename another, add a new city branch with a workstation
    # and move an existing workstation under the new node.
    data = yaml.safe_load(NETWORK_FILE.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["nodes"] = [n for n in data["nodes"] if n["id"] != "qinhan-ws-wenchuang"]
    node_entry(data, "fengxi-ws-yungu")["name"] = "西部云谷园区工作站"
    node_entry(data, "fengxi-ws-yungu")["address"] = "西部云谷一期"
    data["nodes"].append(
        {
            "id": "fengdong-ws-new",
            "name": "新园工作站",
            "kind": "workstation",
            "parent": "fengdong",
            "park": "沣东新城新园",
        }
    )
    changed = Network.from_data(data)
    result = sync_network(url, changed)
    assert result.created == ["fengdong-ws-new"]
    assert result.updated == ["fengxi-ws-yungu"]
    assert result.deactivated == ["qinhan-ws-wenchuang"]
    rows = _rows(url)
    assert rows["qinhan-ws-wenchuang"].active is False  # kept, only deactivated
    assert rows["fengxi-ws-yungu"].name == "西部云谷园区工作站"
    assert rows["fengxi-ws-yungu"].address == "西部云谷一期"
    assert rows["fengdong-ws-new"].new_city == "沣东"

    # Idempotent again, and restoring the original file reactivates the node.
    assert not sync_network(url, changed).changed
    restored = sync_network(url, net)
    assert "qinhan-ws-wenchuang" in restored.updated and "fengxi-ws-yungu" in restored.updated
    assert restored.deactivated == ["fengdong-ws-new"]
    rows = _rows(url)
    assert rows["qinhan-ws-wenchuang"].active is True
    with sessions(url)() as session:
        assert session.scalar(select(func.count()).select_from(ServiceNode)) == len(net) + 1


def test_sync_handles_new_parent_for_existing_node(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'net2.db'}"
    migrate(url)
    sync_network(url, Network.from_data(small_data()))
    data = small_data()
    data["nodes"].insert(
        2, {"id": "qinhan", "name": "秦汉新城服务中心", "kind": "new_city", "parent": "centre", "new_city": "秦汉"}
    )
    node_entry(data, "fengdong-ws-c").update(parent="qinhan", new_city="秦汉", park="秦汉新城C产业园")
    result = sync_network(url, Network.from_data(data))  # FK: qinhan must exist before the update
    assert result.created == ["qinhan"] and result.updated == ["fengdong-ws-c"]
    assert _rows(url)["fengdong-ws-c"].parent_id == "qinhan"
    assert "同步" in result.summary()
