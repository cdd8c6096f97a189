"""The network's copy in the database: `sync_network` upserts network.yml into service_nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.db import sessions
from bot.db.schema import ServiceNode
from bot.network.model import Network, load_network
from bot.network.nodes import Node


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
        return (
            f"服务网络同步：新增 {len(self.created)}，更新 {len(self.updated)}，"
            f"停用 {len(self.deactivated)}，未变 {self.unchanged}"
        )


def _values(node: Node) -> dict[str, Any]:
    return {
        "name": node.name,
        "kind": node.kind,
        "parent_id": node.parent,
        "new_city": node.new_city,
        "park": node.park,
        "level": node.level,
        "address": node.address,
        "active": node.active,
    }


def _sync(session, network: Network) -> SyncResult:
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
            row.active = False  # removed from the file: keep the row (tickets point at it)
            result.deactivated.append(node_id)
    session.flush()
    return result


def sync_network(db_url: str, network: Optional[Network] = None) -> SyncResult:
    """Upsert the network into service_nodes (idempotent; never deletes: nodes no longer in
    the file are deactivated). The database must be migrated already."""
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
