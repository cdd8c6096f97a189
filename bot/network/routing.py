"""Which node of the 1+5+N network handles a need: rules from bot/service_data/routing.yml.

The rules are data so that staff can change routing without code. They are
tried in order and the first one that matches and can name a node decides; the
last rule is unconditional, so every need lands somewhere. See the header of
routing.yml for the rule format.

    router = Router.load()
    router.route("need_subsidy_redemption", policy_level="省")   # → window-province
    router.route("need_space", park="西部科技创新港")              # → fengxi-ws-chuangxingang
    router.route("need_training", new_city="沣东新城")             # → fengdong
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from bot.network import Network, Node, default_network, match_key
from bot.problems import ProblemsError, read_yaml
from bot.settings import SERVICE_DATA_DIR
from bot.taxonomy import BY_INTENT

ROUTING_FILE = SERVICE_DATA_DIR / "routing.yml"

PARK_WORKSTATION = "park_workstation"
NEW_CITY_CENTRE = "new_city_centre"
DYNAMIC_TARGETS = (PARK_WORKSTATION, NEW_CITY_CENTRE)
KNOWN, UNKNOWN = "known", "unknown"

POLICY_LEVELS = ("国家", "省", "市", "区")
_LEVEL_SYNONYMS = {
    "国家": "国家",
    "国家级": "国家",
    "中央": "国家",
    "national": "国家",
    "省": "省",
    "省级": "省",
    "陕西省": "省",
    "陕西": "省",
    "province": "省",
    "provincial": "省",
    "市": "市",
    "市级": "市",
    "西安市": "市",
    "city": "市",
    "municipal": "市",
    "区": "区",
    "区级": "区",
    "新区": "区",
    "西咸新区": "区",
    "西咸": "区",
    "新区级": "区",
    "district": "区",
}

RULE_FIELDS = ("name", "when", "to", "note")
CONDITIONS = ("category", "new_city", "park", "policy_level")


class RoutingError(ProblemsError):
    """routing.yml failed validation; `problems` lists every problem found."""

    TITLE = "分派规则校验未通过"


@dataclass(frozen=True)
class RouteResult:
    node_id: str
    rule: str  # name of the rule that decided
    redirected_from: Optional[str] = None  # the rule's target, when it was inactive


def normalise_level(level: Optional[str]) -> Optional[str]:
    """省级 / 陕西省 / province → 省 …; None for empty; unknown words stay as typed."""
    if level is None:
        return None
    key = match_key(str(level))
    if not key:
        return None
    return _LEVEL_SYNONYMS.get(key, str(level).strip())


@dataclass(frozen=True)
class Condition:
    """known / unknown / one of `values` (canonical: intent ids, new-city names, workstation ids, levels)."""

    mode: str  # known / unknown / any_of
    values: frozenset[str] = frozenset()

    def holds(self, value: Optional[str]) -> bool:
        if self.mode == KNOWN:
            return value is not None
        if self.mode == UNKNOWN:
            return value is None
        return value in self.values


@dataclass(frozen=True)
class Rule:
    name: str
    conditions: tuple[tuple[str, Condition], ...]  # (field, condition)
    target: Optional[str] = None  # node id or a dynamic target
    by_level: tuple[tuple[str, str], ...] = ()  # (level, node id)
    otherwise: Optional[str] = None

    @property
    def unconditional(self) -> bool:
        return not self.conditions

    def matches(self, facts: dict[str, Optional[str]]) -> bool:
        return all(cond.holds(facts.get(fld)) for fld, cond in self.conditions)

    def resolve(self, facts: dict[str, Optional[str]]) -> Optional[str]:
        if self.by_level:
            return dict(self.by_level).get(facts.get("policy_level") or "", self.otherwise)
        if self.target == PARK_WORKSTATION:
            return facts.get("park")
        if self.target == NEW_CITY_CENTRE:
            return facts.get("new_city_node")
        return self.target


class Router:
    def __init__(self, rules: tuple[Rule, ...], staff_only: frozenset[str], network: Network, source: str = ""):
        self.rules = rules
        self.staff_only = staff_only
        self.network = network
        self.source = source

    # ---- construction -----------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | str | None = None, network: Optional[Network] = None) -> "Router":
        path = Path(path) if path is not None else ROUTING_FILE
        network = network if network is not None else default_network()
        data = read_yaml(path, RoutingError)
        return cls.from_data(data, network, source=str(path))

    @classmethod
    def from_data(cls, data: Any, network: Network, source: str = "routing.yml") -> "Router":
        rules, staff_only = _validate(data, network, source)
        return cls(rules, staff_only, network, source)

    # ---- queries ----------------------------------------------------------------------------------

    def is_staff_only(self, category: Optional[str]) -> bool:
        """Whether needs of this category go straight to staff (no bot handling)."""
        return category in self.staff_only

    def resolve_location(
        self, new_city: Optional[str] = None, park: Optional[str] = None
    ) -> tuple[Optional[Node], Optional[Node]]:
        """(new-city centre, workstation) for the location an enterprise gave, either may be None.

        The park is more specific: without a new city it implies one; when both are
        given but disagree, only a park of the named new city is accepted."""
        net = self.network
        park_node = net.find_park(park) if park else None
        if new_city:
            city_node = net.find_new_city(new_city)
        elif park_node is not None:
            city_node = net.new_city_of(park_node.id)
        else:
            city_node = net.find_new_city(park) if park else None
        if park_node is not None and city_node is not None:
            park_city = net.new_city_of(park_node.id)
            if park_city is not None and park_city.id != city_node.id:
                same_city = [n for n in net.match_parks(park) if n.new_city == city_node.new_city]
                park_node = same_city[0] if len(same_city) == 1 else None
        return city_node, park_node

    def route(
        self,
        category: Optional[str],
        new_city: Optional[str] = None,
        park: Optional[str] = None,
        policy_level: Optional[str] = None,
    ) -> RouteResult:
        """The node that handles a need of `category` from an enterprise at this location.

        `new_city` and `park` may be free text ("沣西新城", "西部科技创新港") or node ids;
        `policy_level` is 国家/省/市/区 or a synonym (省级, 西咸新区 …)."""
        city_node, park_node = self.resolve_location(new_city, park)
        facts: dict[str, Optional[str]] = {
            "category": category,
            "new_city": city_node.new_city if city_node is not None else None,
            "new_city_node": city_node.id if city_node is not None else None,
            "park": park_node.id if park_node is not None else None,
            "policy_level": normalise_level(policy_level),
        }
        for rule in self.rules:
            if not rule.matches(facts):
                continue
            target = rule.resolve(facts)
            if target is None:
                continue
            node_id = self._open_node(target)
            return RouteResult(node_id, rule.name, target if node_id != target else None)
        # Unreachable: validation requires an unconditional last rule with a fixed node.
        raise RoutingError(f"{self.source}: rules: 没有规则命中（最后一条规则应无条件）")

    def _open_node(self, node_id: str) -> str:
        """The node itself if active, else its nearest active ancestor (the centre as a last resort)."""
        net = self.network
        for node in [net.node(node_id), *net.ancestors(node_id)]:
            if node.active:
                return node.id
        return net.centre.id


# ---- validation ---------------------------------------------------------------------------------


def _validate(data: Any, network: Network, source: str) -> tuple[tuple[Rule, ...], frozenset[str]]:
    problems: list[str] = []

    def err(where: str, fld: str, msg: str) -> None:
        problems.append(f"{source}: {where}: {fld}: {msg}")

    if not isinstance(data, dict):
        raise RoutingError(f"{source}: (文件): 顶层应为包含 rules 列表的映射")
    for key in data:
        if key not in ("version", "staff_only", "rules"):
            err("(文件)", str(key), "未知字段（可用字段：version、staff_only、rules）")
    if data.get("version", 1) != 1:
        err("(文件)", "version", f"不支持的版本 {data.get('version')!r}，应为 1")

    staff_only: set[str] = set()
    raw_staff = data.get("staff_only") or []
    if not isinstance(raw_staff, list):
        err("(文件)", "staff_only", "应为需求类别编号的列表，如 [need_listing]，没有则写 []")
    else:
        for cat in raw_staff:
            if cat not in BY_INTENT:
                err("(文件)", "staff_only", f"未知的需求类别“{cat}”")
            else:
                staff_only.add(cat)

    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RoutingError(problems + [f"{source}: (文件): rules: 缺少规则列表或列表为空"])

    def node_ref(where: str, fld: str, value: Any) -> Optional[str]:
        if not isinstance(value, str) or value not in network:
            err(where, fld, f"未知的服务节点“{value}”（见 {network.source or 'network.yml'}）")
            return None
        return value

    rules: list[Rule] = []
    names: dict[str, str] = {}
    catch_all_at: Optional[str] = None
    for i, raw in enumerate(raw_rules):
        where = f"rules[{i}]"
        if not isinstance(raw, dict):
            err(where, "(条目)", "每条规则应为一个映射（name、when、to）")
            continue
        name = raw.get("name")
        if isinstance(name, str) and name.strip():
            name = name.strip()
            where = f"rules[{i}]（{name}）"
            if name in names:
                err(where, "name", f"规则名称重复（已在 {names[name]} 使用）")
            names[name] = where
        else:
            err(where, "name", "缺少规则名称")
            name = f"rules[{i}]"
        for key in raw:
            if key not in RULE_FIELDS:
                err(where, str(key), f"未知字段（可用字段：{'、'.join(RULE_FIELDS)}）")
        if catch_all_at is not None:
            err(where, "when", f"此规则在无条件规则 {catch_all_at} 之后，永远不会生效")

        conditions: list[tuple[str, Condition]] = []
        when = raw.get("when")
        if when is not None and not isinstance(when, dict):
            err(where, "when", "应为条件的映射，如 {category: [need_listing]}")
            when = {}
        for fld, value in (when or {}).items():
            cond = _condition(fld, value, network, lambda f, m: err(where, f"when.{f}", m))
            if cond is not None:
                conditions.append((fld, cond))

        target: Optional[str] = None
        by_level: list[tuple[str, str]] = []
        otherwise: Optional[str] = None
        to = raw.get("to")
        if to is None:
            err(where, "to", "缺少分派目标（节点编号、park_workstation、new_city_centre 或 by_policy_level）")
        elif isinstance(to, str):
            target = to if to in DYNAMIC_TARGETS else node_ref(where, "to", to)
        elif isinstance(to, dict):
            for key in to:
                if key not in ("by_policy_level", "otherwise"):
                    err(where, f"to.{key}", "未知字段（可用字段：by_policy_level、otherwise）")
            table = to.get("by_policy_level")
            if not isinstance(table, dict) or not table:
                err(where, "to.by_policy_level", "应为“级别: 节点编号”的映射，如 {省: window-province}")
            else:
                for level, node_id in table.items():
                    canon = normalise_level(str(level))
                    if canon not in POLICY_LEVELS:
                        err(
                            where,
                            f"to.by_policy_level.{level}",
                            f"未知的政策级别，应为 {' / '.join(POLICY_LEVELS)} 之一",
                        )
                    elif node_ref(where, f"to.by_policy_level.{level}", node_id):
                        by_level.append((canon, node_id))
            if "otherwise" in to:
                otherwise = node_ref(where, "to.otherwise", to["otherwise"])
        else:
            err(where, "to", "应为节点编号或 by_policy_level 映射")

        rule = Rule(
            name=name, conditions=tuple(conditions), target=target, by_level=tuple(by_level), otherwise=otherwise
        )
        fixed = (rule.target is not None and rule.target not in DYNAMIC_TARGETS) or (
            bool(rule.by_level) and rule.otherwise is not None
        )
        if rule.unconditional and fixed and catch_all_at is None:
            catch_all_at = where
        rules.append(rule)

    if catch_all_at is None:
        err(
            f"rules[{len(raw_rules) - 1}]",
            "when",
            "最后一条规则应没有 when 并指向固定节点（如 to: centre），保证每个需求都有承办节点",
        )
    if problems:
        raise RoutingError(problems)
    return tuple(rules), frozenset(staff_only)


def _condition(fld: str, value: Any, network: Network, err) -> Optional[Condition]:
    if fld not in CONDITIONS:
        err(fld, f"未知条件（可用条件：{'、'.join(CONDITIONS)}）")
        return None
    if value in (KNOWN, UNKNOWN):
        if fld == "category":
            err(fld, "category 应为需求类别编号的列表")
            return None
        return Condition(value)
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        err(fld, "应为 known、unknown 或一个非空列表")
        return None
    canon: set[str] = set()
    for v in values:
        v = str(v)
        if fld == "category":
            if v not in BY_INTENT:
                err(fld, f"未知的需求类别“{v}”")
            else:
                canon.add(v)
        elif fld == "new_city":
            node = network.new_city_centre(v) or network.find_new_city(v)
            if node is None or node.new_city is None:
                err(fld, f"未知的新城“{v}”")
            else:
                canon.add(node.new_city)
        elif fld == "park":
            node = network.find_park(v)
            if node is None:
                err(fld, f"未知或无法唯一确定的园区“{v}”")
            else:
                canon.add(node.id)
        else:  # policy_level
            level = normalise_level(v)
            if level not in POLICY_LEVELS:
                err(fld, f"未知的政策级别“{v}”，应为 {' / '.join(POLICY_LEVELS)} 之一")
            else:
                canon.add(level)
    return Condition("any_of", frozenset(canon))


@lru_cache(maxsize=1)
def default_router() -> Router:
    """The router of bot/service_data/routing.yml over the default network, loaded once per process."""
    return Router.load()
