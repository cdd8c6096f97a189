"""The window's 1+5+N service network, loaded from bot/service_data/network.yml.

1 comprehensive centre (秦创原综合服务中心, the root), 5 new-city centres, N park
workstations, plus the province/city/district policy-redemption special windows.
The YAML file is the source of truth: `load_network` validates it (every problem
is reported as "<file>: <where>: <field>: <problem>"), `sync_network` copies it
into the service_nodes table (upsert, never delete), and the `Network` object
answers the tree questions the rest of the system asks:

- console scoping: `descendants(id)` / `scope(id)` — a workstation sees itself,
  a new-city centre also its workstations, the comprehensive centre everything;
- SLA escalation: `parent(id)` / `ancestors(id)`;
- routing: `find_park(text)` / `find_new_city(text)` recognise a location typed
  by a user ("沣西", "灃西新城", "西部科技创新港", …).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

import yaml

from bot.settings import SERVICE_DATA_DIR
from bot.text import normalise

NETWORK_FILE = SERVICE_DATA_DIR / "network.yml"

CENTRE = "centre"
NEW_CITY = "new_city"
WORKSTATION = "workstation"
SPECIAL_WINDOW = "special_window"
KINDS = (CENTRE, NEW_CITY, WORKSTATION, SPECIAL_WINDOW)
KIND_LABELS = {CENTRE: "综合服务中心", NEW_CITY: "新城服务中心", WORKSTATION: "园区工作站",
               SPECIAL_WINDOW: "政策兑现专窗"}
LEVELS = ("省", "市", "区")

# Which kinds of node may be the parent of which.
ALLOWED_PARENTS: dict[str, tuple[str, ...]] = {
    CENTRE: (),
    NEW_CITY: (CENTRE,),
    WORKSTATION: (NEW_CITY, CENTRE),
    SPECIAL_WINDOW: (CENTRE,),
}

FIELDS = ("id", "name", "kind", "parent", "new_city", "park", "level", "address", "aliases", "active")
ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")

# Prefixes and suffixes people leave out when naming a park ("沣西新城信息产业园" → "信息产业园").
_REGION_PREFIXES = ("陕西省", "陕西", "西安市", "咸阳市", "西咸新区", "西咸")
_NODE_SUFFIXES = ("工作站", "服务中心")
_MIN_DERIVED_KEY = 3
_NON_WORD = re.compile(r"[\W_]+")


class NetworkError(Exception):
    """network.yml failed validation; `problems` lists every problem found."""

    def __init__(self, problems: list[str] | str):
        if isinstance(problems, str):
            problems = [problems]
        self.problems: list[str] = list(problems)
        header = f"服务网络配置校验未通过，共 {len(self.problems)} 个问题："
        super().__init__("\n".join([header, *("  " + p for p in self.problems)]))


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    kind: str
    parent: Optional[str] = None
    new_city: Optional[str] = None      # short name: 沣东 / 沣西 / 秦汉 / 空港 / 泾河
    park: Optional[str] = None
    level: Optional[str] = None         # 省 / 市 / 区 for special windows
    address: Optional[str] = None
    aliases: tuple[str, ...] = ()
    active: bool = True


def match_key(text: str) -> str:
    """The form names are compared in: simplified, lower-case, no spaces or punctuation."""
    return _NON_WORD.sub("", normalise(text or ""))


def _strip_affixes(key: str, city_keys: Iterable[str]) -> set[str]:
    """Shorter forms of a park/workstation name that people also use."""
    out = {key}
    changed = True
    while changed:
        changed = False
        for k in list(out):
            for suffix in _NODE_SUFFIXES:
                if k.endswith(suffix) and len(k) > len(suffix):
                    new = k[: -len(suffix)]
                    if new not in out:
                        out.add(new)
                        changed = True
            for prefix in (*_REGION_PREFIXES, *city_keys):
                p = match_key(prefix)
                if p and k.startswith(p) and len(k) > len(p):
                    new = k[len(p):]
                    if new not in out:
                        out.add(new)
                        changed = True
    return out


class Network:
    """The validated network (use `load_network` or `Network.from_data` to build one)."""

    def __init__(self, nodes: Iterable[Node], source: str = ""):
        self.source = source
        self._nodes: dict[str, Node] = {n.id: n for n in nodes}
        self._children: dict[str, list[str]] = {nid: [] for nid in self._nodes}
        for n in self._nodes.values():
            if n.parent is not None:
                self._children[n.parent].append(n.id)
        roots = [n for n in self._nodes.values() if n.kind == CENTRE]
        self._centre = roots[0] if roots else None
        self._build_match_keys()

    # ---- construction -----------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | str | None = None) -> "Network":
        path = Path(path) if path is not None else NETWORK_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise NetworkError(f"{path}: 无法读取文件：{exc.strerror or exc}") from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"第{mark.line + 1}行" if mark is not None else "(文件)"
            raise NetworkError(f"{path}: {where}: YAML 格式错误：{getattr(exc, 'problem', exc)}") from exc
        return cls.from_data(data, source=str(path))

    @classmethod
    def from_data(cls, data: Any, source: str = "network.yml") -> "Network":
        return cls(_validate(data, source), source=source)

    # ---- lookups ----------------------------------------------------------------------------------

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes.values())

    def __len__(self) -> int:
        return len(self._nodes)

    @property
    def centre(self) -> Node:
        assert self._centre is not None  # guaranteed by validation
        return self._centre

    def node(self, node_id: str) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise KeyError(f"服务网络中没有节点“{node_id}”") from None

    def get(self, node_id: Optional[str]) -> Optional[Node]:
        return self._nodes.get(node_id) if node_id else None

    def nodes(self, kind: Optional[str] = None) -> list[Node]:
        return [n for n in self._nodes.values() if kind is None or n.kind == kind]

    def new_cities(self) -> list[Node]:
        """The new-city service centres, in file order."""
        return self.nodes(NEW_CITY)

    def parks(self, new_city: Optional[str] = None) -> list[Node]:
        """The park workstations (optionally of one new city, by short name or centre id)."""
        if new_city is None:
            return self.nodes(WORKSTATION)
        city = self.get(new_city) if new_city in self._nodes else self.new_city_centre(new_city)
        name = city.new_city if city is not None else new_city
        return [n for n in self.nodes(WORKSTATION) if n.new_city == name]

    def special_windows(self) -> list[Node]:
        return self.nodes(SPECIAL_WINDOW)

    def special_window(self, level: str) -> Optional[Node]:
        for n in self.special_windows():
            if n.level == level:
                return n
        return None

    def new_city_centre(self, new_city: Optional[str]) -> Optional[Node]:
        """The centre of a new city given by its short name (沣西) or a longer form (沣西新城)."""
        if not new_city:
            return None
        if new_city in self._nodes and self._nodes[new_city].kind == NEW_CITY:
            return self._nodes[new_city]
        key = match_key(new_city)
        for n in self.new_cities():
            if key in self._city_exact[n.id]:
                return n
        return None

    # ---- tree -------------------------------------------------------------------------------------

    def parent(self, node_id: str) -> Optional[Node]:
        """The node one level up (where an overdue ticket escalates), None for the centre."""
        p = self.node(node_id).parent
        return self._nodes[p] if p else None

    def ancestors(self, node_id: str) -> list[Node]:
        """Parent first, up to and including the comprehensive centre."""
        out: list[Node] = []
        current = self.parent(node_id)
        while current is not None:
            out.append(current)
            current = self.parent(current.id)
        return out

    def children(self, node_id: str) -> list[Node]:
        self.node(node_id)
        return [self._nodes[c] for c in self._children[node_id]]

    def descendants(self, node_id: str, include_self: bool = True) -> list[Node]:
        """The subtree below a node in pre-order — by default including the node itself,
        which is what a staff member of that node may see in the console."""
        start = self.node(node_id)
        out: list[Node] = [start] if include_self else []
        stack = list(reversed(self._children[node_id]))
        while stack:
            nid = stack.pop()
            out.append(self._nodes[nid])
            stack.extend(reversed(self._children[nid]))
        return out

    def scope(self, node_id: str) -> frozenset[str]:
        """Ids of the nodes whose tickets a member of `node_id` may see."""
        return frozenset(n.id for n in self.descendants(node_id))

    def new_city_of(self, node_id: str) -> Optional[Node]:
        """The new-city centre a node belongs to (itself for a new-city centre)."""
        for n in [self.node(node_id), *self.ancestors(node_id)]:
            if n.kind == NEW_CITY:
                return n
        n = self.node(node_id)
        return self.new_city_centre(n.new_city) if n.new_city else None

    def topological(self) -> list[Node]:
        """All nodes, every parent before its children."""
        return self.descendants(self.centre.id)  # validation puts every node under the centre

    # ---- free-text locations ----------------------------------------------------------------------

    def _build_match_keys(self) -> None:
        # Exact names of each new city: 沣西, 沣西新城, 沣西新城服务中心, aliases.
        self._city_exact: dict[str, set[str]] = {}
        for n in self.new_cities():
            keys = {match_key(k) for k in (n.new_city or "", n.name, *n.aliases)}
            keys |= {match_key(n.new_city + "新城")} if n.new_city else set()
            self._city_exact[n.id] = {k for k in keys if k}
        city_keys = sorted({k for ks in self._city_exact.values() for k in ks}, key=len, reverse=True)
        self._city_keys: list[tuple[str, str]] = sorted(
            ((k, nid) for nid, ks in self._city_exact.items() for k in ks), key=lambda kv: -len(kv[0]))

        # Park keys: explicit ones (park, name, aliases) and derived shorter forms; a derived
        # form shared by two workstations is ambiguous and dropped.
        explicit: dict[str, str] = {}
        derived: dict[str, set[str]] = {}
        for n in self.parks():
            for raw in (n.park or "", n.name, *n.aliases):
                key = match_key(raw)
                if not key:
                    continue
                explicit.setdefault(key, n.id)
                for short in _strip_affixes(key, city_keys):
                    if (short != key and len(short) >= _MIN_DERIVED_KEY
                            and not short.startswith(("新城", "新区"))):
                        derived.setdefault(short, set()).add(n.id)
        keys = dict(explicit)
        for short, owners in derived.items():
            if short not in keys and len(owners) == 1 and short not in city_keys:
                keys[short] = next(iter(owners))
        self._park_keys: list[tuple[str, str]] = sorted(keys.items(), key=lambda kv: -len(kv[0]))

    def _park_scores(self, text: Optional[str]) -> dict[str, int]:
        """Workstation id → length of the longest of its names found in `text`."""
        if not text:
            return {}
        stripped = text.strip().lower()
        if stripped in self._nodes and self._nodes[stripped].kind == WORKSTATION:
            return {stripped: len(stripped)}
        t = match_key(text)
        if not t:
            return {}
        scores: dict[str, int] = {}
        for key, nid in self._park_keys:
            if key in t:
                scores[nid] = max(scores.get(nid, 0), len(key))
        if not scores and len(t) >= _MIN_DERIVED_KEY and all(t != k for k, _ in self._city_keys):
            # The user typed part of a name ("科技创新港", "数字经济"): what it is part of.
            for key, nid in self._park_keys:
                if t in key:
                    scores[nid] = len(t)
        return scores

    def match_parks(self, text: Optional[str]) -> list[Node]:
        """Workstations whose park is named in `text`, most specific (longest name) first."""
        scores = self._park_scores(text)
        return [self._nodes[nid] for nid in sorted(scores, key=lambda nid: -scores[nid])]

    def find_park(self, text: Optional[str]) -> Optional[Node]:
        """The workstation of the park named in `text`, or None if none or ambiguous."""
        scores = self._park_scores(text)
        named = self._named_cities(text)
        if len(named) == 1:
            # "泾河新城的信息产业园": only parks of the new city the user named count.
            city = self._nodes[next(iter(named))].new_city
            scores = {nid: s for nid, s in scores.items() if self._nodes[nid].new_city == city}
        if not scores:
            return None
        top = max(scores.values())
        winners = [nid for nid, score in scores.items() if score == top]
        return self._nodes[winners[0]] if len(winners) == 1 else None

    def _named_cities(self, text: Optional[str]) -> set[str]:
        """Ids of the new-city centres whose names occur in `text`."""
        t = match_key(text or "")
        return {nid for key, nid in self._city_keys if key in t} if t else set()

    def find_new_city(self, text: Optional[str]) -> Optional[Node]:
        """The new-city centre of the location in `text` ("沣西", "沣西新城", "灃西", or a park
        such as "西部科技创新港"); None if none or several different new cities are named."""
        if not text:
            return None
        stripped = text.strip().lower()
        if stripped in self._nodes:
            return self.new_city_of(stripped)
        hits = self._named_cities(text)
        park = self.find_park(text)
        park_city = self.new_city_of(park.id) if park is not None else None
        if len(hits) == 1:
            return self._nodes[next(iter(hits))]
        if not hits:
            return park_city
        if park_city is not None and park_city.id in hits:
            return park_city
        return None


# ---- validation ---------------------------------------------------------------------------------

def _validate(data: Any, source: str) -> list[Node]:
    problems: list[str] = []

    def err(where: str, fld: str, msg: str) -> None:
        problems.append(f"{source}: {where}: {fld}: {msg}")

    if not isinstance(data, dict):
        raise NetworkError(f"{source}: (文件): 顶层应为包含 nodes 列表的映射")
    for key in data:
        if key not in ("version", "nodes"):
            err("(文件)", str(key), "未知字段（可用字段：version、nodes）")
    if data.get("version", 1) != 1:
        err("(文件)", "version", f"不支持的版本 {data.get('version')!r}，应为 1")
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise NetworkError(problems + [f"{source}: (文件): nodes: 缺少节点列表或列表为空"])

    nodes: list[Node] = []
    where_of: dict[str, str] = {}
    bad_level: set[Any] = set()     # reported already: no second "level missing"
    for i, raw in enumerate(raw_nodes):
        where = f"nodes[{i}]"
        if not isinstance(raw, dict):
            err(where, "(条目)", "每个节点应为一个映射（id、name、kind …）")
            continue
        nid = raw.get("id")
        if isinstance(nid, str) and nid:
            where = f"nodes[{i}]（{nid}）"
        for key in raw:
            if key not in FIELDS:
                err(where, str(key), f"未知字段（可用字段：{'、'.join(FIELDS)}）")
        ok = True
        if not isinstance(nid, str) or not nid:
            err(where, "id", "缺少节点编号")
            ok = False
        elif not ID_PATTERN.match(nid):
            err(where, "id", f"“{nid}”无效：只能用小写字母、数字和“-”，不超过64个字符")
            ok = False
        elif nid in where_of:
            err(where, "id", f"编号“{nid}”重复（已在 {where_of[nid]} 使用）")
            ok = False
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            err(where, "name", "缺少名称")
            ok = False
        kind = raw.get("kind")
        if kind not in KINDS:
            err(where, "kind", f"“{kind}”无效，应为 {' / '.join(KINDS)} 之一")
            ok = False

        def opt_str(fld: str, max_len: int) -> Optional[str]:
            value = raw.get(fld)
            if value is None:
                return None
            if not isinstance(value, str) or not value.strip():
                err(where, fld, "应为非空文字")
                return None
            if len(value.strip()) > max_len:
                err(where, fld, f"过长（最多{max_len}个字符）")
            return value.strip()

        parent = raw.get("parent")
        if parent is not None and not isinstance(parent, str):
            err(where, "parent", "应为上级节点的编号")
            parent = None
        new_city = opt_str("new_city", 16)
        park = opt_str("park", 128)
        address = opt_str("address", 256)
        level = raw.get("level")
        if level is not None and level not in LEVELS:
            err(where, "level", f"“{level}”无效，应为 {' / '.join(LEVELS)} 之一")
            bad_level.add(nid)
            level = None
        aliases = raw.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            err(where, "aliases", "应为非空文字的列表")
            aliases = []
        active = raw.get("active", True)
        if not isinstance(active, bool):
            err(where, "active", "应为 true 或 false")
            active = True
        if not ok:
            continue
        where_of[nid] = where
        nodes.append(Node(id=nid, name=name.strip(), kind=kind, parent=parent, new_city=new_city,
                          park=park, level=level, address=address,
                          aliases=tuple(a.strip() for a in aliases), active=active))

    by_id = {n.id: n for n in nodes}

    # The root.
    centres = [n for n in nodes if n.kind == CENTRE]
    if not centres:
        err("(文件)", "kind", "缺少综合服务中心（需要一个 kind: centre 的节点）")
    for extra in centres[1:]:
        err(where_of[extra.id], "kind", f"只能有一个综合服务中心（已有“{centres[0].id}”）")

    # Parents.
    for n in nodes:
        where = where_of[n.id]
        if n.kind == CENTRE:
            if n.parent is not None:
                err(where, "parent", "综合服务中心是根节点，不能有上级")
            continue
        if n.parent is None:
            err(where, "parent", f"缺少上级节点（{KIND_LABELS.get(n.kind, n.kind)}应挂在"
                                 f"{' 或 '.join(KIND_LABELS[k] for k in ALLOWED_PARENTS.get(n.kind, ()))}下）")
            continue
        parent = by_id.get(n.parent)
        if parent is None:
            err(where, "parent", f"未知的上级节点“{n.parent}”")
        elif n.parent == n.id:
            err(where, "parent", "不能以自己为上级")
        elif parent.kind not in ALLOWED_PARENTS.get(n.kind, ()):
            allowed = " 或 ".join(KIND_LABELS[k] for k in ALLOWED_PARENTS.get(n.kind, ()))
            err(where, "parent", f"{KIND_LABELS[n.kind]}的上级应为{allowed}，"
                                 f"“{n.parent}”是{KIND_LABELS[parent.kind]}")

    # Cycles (reported once each, starting from the smallest id in the cycle).
    reported: set[frozenset[str]] = set()
    for n in nodes:
        path: list[str] = []
        current: Optional[Node] = n
        while current is not None and current.id not in path:
            path.append(current.id)
            current = by_id.get(current.parent) if current.parent else None
        if current is not None:  # walked back into the path: a cycle
            cycle = path[path.index(current.id):]
            members = frozenset(cycle)
            if members not in reported:
                reported.add(members)
                start = cycle.index(min(cycle))
                ring = cycle[start:] + cycle[:start] + [min(cycle)]
                err(where_of[min(cycle)], "parent", f"上级关系形成环：{' → '.join(ring)}")

    # New cities, parks, levels.
    city_names: dict[str, str] = {}
    for n in nodes:
        if n.kind == NEW_CITY:
            if not n.new_city:
                err(where_of[n.id], "new_city", "新城服务中心需要填写所属新城（如 沣西）")
            elif n.new_city in city_names:
                err(where_of[n.id], "new_city", f"新城“{n.new_city}”已由“{city_names[n.new_city]}”负责")
            else:
                city_names[n.new_city] = n.id
    resolved: list[Node] = []
    for n in nodes:
        where = where_of[n.id]
        parent = by_id.get(n.parent) if n.parent else None
        if n.kind == WORKSTATION:
            if not n.park:
                err(where, "park", "园区工作站需要填写所服务的园区（park）")
            if parent is not None and parent.kind == NEW_CITY:
                if n.new_city is None:
                    n = replace(n, new_city=parent.new_city)
                elif n.new_city != parent.new_city:
                    err(where, "new_city", f"“{n.new_city}”与上级“{parent.id}”的新城“{parent.new_city}”不一致")
            elif n.new_city is not None and n.new_city not in city_names:
                err(where, "new_city", f"未知的新城“{n.new_city}”（已有：{'、'.join(city_names) or '无'}）")
        else:
            if n.park is not None:
                err(where, "park", "只有园区工作站（workstation）填写 park")
            if n.kind != NEW_CITY and n.new_city is not None:
                err(where, "new_city", "只有新城服务中心和园区工作站填写 new_city")
        if n.kind == SPECIAL_WINDOW:
            if n.level is None and n.id not in bad_level:
                err(where, "level", f"政策兑现专窗需要填写级别（{' / '.join(LEVELS)}）")
        elif n.level is not None:
            err(where, "level", "只有政策兑现专窗（special_window）填写 level")
        resolved.append(n)

    levels: dict[str, str] = {}
    for n in resolved:
        if n.kind == SPECIAL_WINDOW and n.level:
            if n.level in levels:
                err(where_of[n.id], "level", f"{n.level}级专窗重复（已有“{levels[n.level]}”）")
            else:
                levels[n.level] = n.id

    # Names that recognise a location must point to one node only.
    owners: dict[str, str] = {}
    for n in resolved:
        if n.kind == WORKSTATION:
            fields = [("park", n.park)] + [("aliases", a) for a in n.aliases]
        elif n.kind == NEW_CITY:
            fields = [("new_city", n.new_city)] + [("aliases", a) for a in n.aliases]
        else:
            continue
        mine: set[str] = set()
        for fld, raw in fields:
            key = match_key(raw or "")
            if not key or key in mine:
                continue
            mine.add(key)
            if key in owners and owners[key] != n.id:
                err(where_of[n.id], fld, f"“{raw}”已用于节点“{owners[key]}”，无法区分")
            else:
                owners[key] = n.id

    if problems:
        raise NetworkError(problems)
    return resolved


def load_network(path: Path | str | None = None) -> Network:
    """Load and validate network.yml (bot/service_data/network.yml by default)."""
    return Network.load(path)


@lru_cache(maxsize=1)
def default_network() -> Network:
    """The network of bot/service_data/network.yml, loaded once per process."""
    return Network.load(NETWORK_FILE)


# ---- database ------------------------------------------------------------------------------------

@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deactivated)

    def summary(self) -> str:
        return (f"服务网络同步：新增 {len(self.created)}，更新 {len(self.updated)}，"
                f"停用 {len(self.deactivated)}，未变 {self.unchanged}")


def _values(node: Node) -> dict[str, Any]:
    return {
        "name": node.name, "kind": node.kind, "parent_id": node.parent, "new_city": node.new_city,
        "park": node.park, "level": node.level, "address": node.address, "active": node.active,
    }


def _sync(session, network: Network) -> SyncResult:
    from sqlalchemy import select

    from bot.db.schema import ServiceNode

    result = SyncResult()
    existing = {row.id: row for row in session.scalars(select(ServiceNode))}
    for node in network.topological():  # parents exist before their children point at them
        values = _values(node)
        row = existing.get(node.id)
        if row is None:
            session.add(ServiceNode(id=node.id, **values))
            result.created.append(node.id)
        else:
            changed = {k: v for k, v in values.items() if getattr(row, k) != v}
            if changed:
                for k, v in changed.items():
                    setattr(row, k, v)
                result.updated.append(node.id)
            else:
                result.unchanged += 1
        session.flush()
    for node_id, row in existing.items():
        if node_id not in network and row.active:
            row.active = False          # removed from the file: keep the row (tickets point at it)
            result.deactivated.append(node_id)
    session.flush()
    return result


def sync_network(db_url: str, network: Optional[Network] = None) -> SyncResult:
    """Upsert the network into service_nodes (idempotent; never deletes: nodes no longer in
    the file are deactivated). The database must be migrated already."""
    from sqlalchemy.exc import IntegrityError

    from bot.db import sessions

    network = network if network is not None else load_network()
    factory = sessions(db_url)
    for attempt in (1, 2):
        try:
            with factory() as session, session.begin():
                return _sync(session, network)
        except IntegrityError:
            # Another instance inserted the same nodes at the same moment: run once more.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
