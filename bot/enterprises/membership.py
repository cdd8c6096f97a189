"""Which service nodes an enterprise belongs to (the rule is in the package docstring), in bulk.

nodes = enterprise_nodes(session, [3, 4])      # {3: {"fengxi-ws-xinxi", "fengdong"}, 4: {"centre"}}
visible(nodes[3], staff_scope)                 # any of them in the scope (None: sees everything)
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from typing import Iterable, Optional

from sqlalchemy import select

from bot.db.schema import Enterprise, Ticket, Visit
from bot.network.routing import default_router

CHUNK = 500


@lru_cache(maxsize=1)
def _router():
    return default_router()


@lru_cache(maxsize=4096)
def home_node(new_city: Optional[str], park: Optional[str]) -> str:
    """The node of a recorded place: its park's workstation, else its new city's centre, else the centre."""
    router = _router()
    city, ws = router.resolve_location(new_city or None, park or None)
    if ws is not None:
        return ws.id
    if city is not None:
        return city.id
    return router.network.centre.id


def enterprise_nodes(s, enterprise_ids: Iterable[int]) -> dict[int, set[str]]:
    """enterprise id → its nodes: home node, ticket nodes, visit nodes (unknown ids are left out)."""
    ids = sorted(set(enterprise_ids))
    out: dict[int, set[str]] = defaultdict(set)
    for i in range(0, len(ids), CHUNK):
        part = ids[i : i + CHUNK]
        for eid, city, park in s.execute(
            select(Enterprise.id, Enterprise.new_city, Enterprise.park).where(Enterprise.id.in_(part))
        ):
            out[eid].add(home_node(city, park))
        for eid, node in s.execute(
            select(Ticket.enterprise_id, Ticket.node_id).distinct().where(Ticket.enterprise_id.in_(part))
        ):
            if eid in out:
                out[eid].add(node)
        for eid, node in s.execute(
            select(Visit.enterprise_id, Visit.node_id).distinct().where(Visit.enterprise_id.in_(part))
        ):
            if eid in out:
                out[eid].add(node)
    return dict(out)


def all_enterprise_nodes(s) -> dict[int, set[str]]:
    """The same for every enterprise (the list and the export filter on it)."""
    out: dict[int, set[str]] = defaultdict(set)
    for eid, city, park in s.execute(select(Enterprise.id, Enterprise.new_city, Enterprise.park)):
        out[eid].add(home_node(city, park))
    for eid, node in s.execute(select(Ticket.enterprise_id, Ticket.node_id).distinct()):
        out[eid].add(node)
    for eid, node in s.execute(select(Visit.enterprise_id, Visit.node_id).distinct()):
        out[eid].add(node)
    return dict(out)


def visible(nodes: Iterable[str], scope: Optional[set]) -> bool:
    """`scope` None: the whole network (admins, the centre)."""
    return scope is None or any(n in scope for n in nodes)


__all__ = ["home_node", "enterprise_nodes", "all_enterprise_nodes", "visible"]
