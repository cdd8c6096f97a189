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

from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from bot.network.nodes import (
    _MIN_DERIVED_KEY,
    CENTRE,
    NEW_CITY,
    SPECIAL_WINDOW,
    WORKSTATION,
    NetworkError,
    Node,
    _strip_affixes,
    match_key,
)
from bot.network.validation import validate
from bot.problems import read_yaml
from bot.settings import SERVICE_DATA_DIR

NETWORK_FILE = SERVICE_DATA_DIR / "network.yml"


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
        data = read_yaml(path, NetworkError)
        return cls.from_data(data, source=str(path))

    @classmethod
    def from_data(cls, data: Any, source: str = "network.yml") -> "Network":
        return cls(validate(data, source), source=source)

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
            ((k, nid) for nid, ks in self._city_exact.items() for k in ks), key=lambda kv: -len(kv[0])
        )

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
                    if short != key and len(short) >= _MIN_DERIVED_KEY and not short.startswith(("新城", "新区")):
                        derived.setdefault(short, set()).add(n.id)
        park_keys = dict(explicit)
        for short, owners in derived.items():
            if short not in park_keys and len(owners) == 1 and short not in city_keys:
                park_keys[short] = next(iter(owners))
        self._park_keys: list[tuple[str, str]] = sorted(park_keys.items(), key=lambda kv: -len(kv[0]))

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


def load_network(path: Path | str | None = None) -> Network:
    """Load and validate network.yml (bot/service_data/network.yml by default)."""
    return Network.load(path)


@lru_cache(maxsize=1)
def default_network() -> Network:
    """The network of bot/service_data/network.yml, loaded once per process."""
    return Network.load(NETWORK_FILE)
