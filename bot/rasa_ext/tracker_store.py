"""Rasa's SQL tracker store, with connections checked before use (the scale profile's store).

Rasa wraps every tracker store in a FailSafeTrackerStore: when a read fails it carries on
with an *empty* tracker, so a conversation mid-form would silently start over. After a
PostgreSQL restart every pooled connection is dead, and the first read on each would do
exactly that. `pool_pre_ping` replaces a dead connection before it is used instead.
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
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
