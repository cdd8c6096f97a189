"""Rasa's SQL tracker store, with connections checked before use (the scale profile's store).

Rasa wraps every tracker store in a FailSafeTrackerStore: when a read fails it carries on
with an *empty* tracker, so a conversation mid-form would silently start over. After a
PostgreSQL restart every pooled connection is dead, and the first read on each would do
exactly that. `pool_pre_ping` replaces a dead connection before it is used instead.

On SQLite (the embedded profile) the store writes in WAL mode with synchronous=NORMAL: Rasa saves the
tracker synchronously inside its event loop after every message, and SQLite's default rollback journal
with a full fsync per commit held the loop ~10 ms per turn on this hardware (0.1 ms in WAL). NORMAL can
lose the last commits on a power cut (never on a process crash); the desk's own database keeps every
message, and docs/deploy.md names PostgreSQL for installations that need more.

Loaded by Rasa from endpoints (type: bot.rasa_ext.tracker_store.ResilientSQLTrackerStore).
"""

from __future__ import annotations

from typing import Any, Optional

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs


class ResilientSQLTrackerStore(SQLTrackerStore):
    def __init__(self, domain: Optional[Any] = None, host: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(domain=domain, host=host, **kwargs)
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")  # the retention job writes to the same file
    cur.close()
