"""一企一档 figures: the latest policy-check figures of an enterprise, with when/where each came from.

Only a *verified* contact's chat (contacts.verified_at, issue 16) writes or reads an enterprise's figures: a
chat identity that merely typed a company name must neither change the enterprise's record nor see its figures.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import select

from bot.db import read_sessions, sessions
from bot.db.schema import Contact, EnterpriseFigures

__all__ = ["verified_enterprise", "load", "save"]


def verified_enterprise(db_url: str, sender_id: str) -> Optional[int]:
    """The enterprise this chat identity is a verified contact of, else None."""
    with read_sessions(db_url)() as s:
        c = s.scalars(select(Contact).where(Contact.sender_id == sender_id)).first()
        return c.enterprise_id if c is not None and c.verified_at is not None else None


def load(db_url: str, enterprise_id: int) -> tuple[dict, dict]:
    """(figures, sources) saved for the enterprise; empty dicts when none."""
    with read_sessions(db_url)() as s:
        row = s.get(EnterpriseFigures, enterprise_id)
        if row is None:
            return {}, {}
        return json.loads(row.figures or "{}"), json.loads(row.sources or "{}")


def save(db_url: str, enterprise_id: int, figures: dict, *, via: str, by: str, at: Optional[datetime] = None) -> dict:
    """Merge `figures` into the enterprise's saved ones; each figure whose value changed (or is new) gets
    {"at", "via", "by"} in sources. Returns the saved figures."""
    at = at or datetime.now(timezone.utc)
    with sessions(db_url)() as s, s.begin():
        row = s.get(EnterpriseFigures, enterprise_id, with_for_update=True)
        old = json.loads(row.figures) if row is not None else {}
        src = json.loads(row.sources) if row is not None else {}
        merged = dict(old)
        for key, value in figures.items():
            if value is None:
                continue
            if old.get(key) != value or key not in src:
                src[key] = {"at": at.isoformat(), "via": via, "by": by}
            merged[key] = value
        if row is None:
            row = EnterpriseFigures(enterprise_id=enterprise_id, figures="{}", sources="{}")
            s.add(row)
        row.figures = json.dumps(merged, ensure_ascii=False, sort_keys=True)
        row.sources = json.dumps(src, ensure_ascii=False, sort_keys=True)
        row.updated_at = at
        return merged
