"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.db import engine_for
from bot.db.schema import Base


@pytest.mark.parametrize("db", ["sqlite_url", "pg_url"])
def test_migrations_match_models(db, request):
    url = request.getfixturevalue(db)
    with engine_for(url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], diff
