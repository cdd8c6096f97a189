"""Nodes of the 1+5+N network: kinds, levels, the node record and the form names are compared in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional

from bot.problems import ProblemsError
from bot.text import normalise

CENTRE = "centre"
NEW_CITY = "new_city"
WORKSTATION = "workstation"
SPECIAL_WINDOW = "special_window"
KINDS = (CENTRE, NEW_CITY, WORKSTATION, SPECIAL_WINDOW)
KIND_LABELS = {
    CENTRE: "综合服务中心",
    NEW_CITY: "新城服务中心",
    WORKSTATION: "园区工作站",
    SPECIAL_WINDOW: "政策兑现专窗",
}
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


class NetworkError(ProblemsError):
    """network.yml failed validation; `problems` lists every problem found."""

    TITLE = "服务网络配置校验未通过"


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    kind: str
    parent: Optional[str] = None
    new_city: Optional[str] = None  # short name: 沣东 / 沣西 / 秦汉 / 空港 / 泾河
    park: Optional[str] = None
    level: Optional[str] = None  # 省 / 市 / 区 for special windows
    address: Optional[str] = None
    aliases: tuple[str, ...] = ()
    active: bool = True


def match_key(text: str) -> str:
    """The form names are compared in: simplified, lower-case, no spaces or punctuation."""
    return _NON_WORD.sub("", normalise(text or ""))


def _strip_affixes(key: str, city_keys: Iterable[str]) -> set[str]:
    """Shorter forms of a park/workstation name that people also use. `city_keys` are match keys already;
    the prefixes are keyed once here, not once per candidate (that made loading the network 0.2 s)."""
    prefixes = [p for p in (*(match_key(r) for r in _REGION_PREFIXES), *city_keys) if p]
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
            for p in prefixes:
                if k.startswith(p) and len(k) > len(p):
                    new = k[len(p) :]
                    if new not in out:
                        out.add(new)
                        changed = True
    return out
