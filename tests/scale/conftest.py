"""Several instances of the whole system on shared PostgreSQL and Redis (the scale profile).

PostgreSQL and Redis are part of the scale profile: on a laptop without them these tests
skip with the reason; under CI (CI=true) that is a failure (tests/conftest.py).
"""

from __future__ import annotations

import pytest

from bot.tooling.stack import drop_cluster_databases, start_cluster
from tests.conftest import PG_ADMIN, REDIS_URL, require_postgresql, require_redis


@pytest.fixture(scope="session")
def cluster(tmp_path_factory, model_file):
    """Two action servers, two Rasa servers and two desks sharing PostgreSQL and Redis."""
    require_postgresql()
    require_redis()
    try:
        c = start_cluster(tmp_path_factory.mktemp("cluster"), model_file, n=2, redis_url=REDIS_URL, admin_url=PG_ADMIN)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield c
    c.stop()
    drop_cluster_databases(c, PG_ADMIN)
