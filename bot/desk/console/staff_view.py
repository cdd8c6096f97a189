"""The signed-in member of staff as the console sees them: `StaffView`, and `staff_view()` that builds one.

Every console handler, page and database read takes a StaffView: who is acting (`actor` in the audit trail),
their role, and which service nodes they may see and act on (their own node and the nodes below it; the whole
network for admins and the comprehensive centre's staff). auth builds one from the session cookie; it lives
apart from auth so that store, which filters every read by its scope and which auth builds on, can name it
without importing sign-in (that import made a cycle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from bot.db.schema import Staff
from bot.network import default_network


@dataclass(frozen=True)
class StaffView:
    """Who is signed in, and which service nodes they may see and act on."""

    id: int
    username: str
    display_name: str
    node_id: str
    role: str
    scope: frozenset  # node ids (own node and the nodes below it; all for admins)
    all_nodes: bool  # sees the whole network (admins, staff of the comprehensive centre)
    session_id: str
    csrf_token: str

    @property
    def actor(self) -> str:
        return f"staff:{self.username}"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_lead(self) -> bool:
        return self.role in ("lead", "admin")

    def sees(self, node_id: Optional[str]) -> bool:
        """May act on things at `node_id`; unrouted things (None) belong to the comprehensive centre."""
        if self.all_nodes:
            return True
        if node_id is None:
            node_id = default_network().centre.id
        return node_id in self.scope

    def node_filter(self) -> Optional[set]:
        """Node ids for queries, or None for no restriction."""
        return None if self.all_nodes else set(self.scope)


def staff_view(staff: Staff, session_id: str, csrf_token: str) -> StaffView:

    network = default_network()
    if staff.role == "admin":
        scope = frozenset(n.id for n in network)
        everything = True
    else:
        scope = network.scope(staff.node_id) if staff.node_id in network else frozenset({staff.node_id})
        everything = network.centre.id in scope
    return StaffView(
        staff.id,
        staff.username,
        staff.display_name,
        staff.node_id,
        staff.role,
        scope,
        everything,
        session_id,
        csrf_token,
    )
