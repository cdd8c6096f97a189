"""Several instances of the whole system on shared PostgreSQL and Redis (the scale profile).

PostgreSQL and Redis are part of the scale profile: on a laptop without them these tests
skip with the reason; under CI (CI=true) that is a failure.
"""
from __future__ import annotations

import os
import socket

import pytest

from bot.stack import drop_cluster_databases, start_cluster

PG = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)


def _reachable(addr: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(addr, timeout=1):
            return True
    except OSError:
        return False


def require(name: str, addr: tuple[str, int]) -> None:
    if _reachable(addr):
        return
    reason = f"{name} {addr[0]}:{addr[1]} 不可用：扩容场景测试需要它"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason + "（CI=true：不允许跳过）")
    pytest.skip(reason + "（本机跳过；CI=true 时为失败）")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory, model_file):
    """Two action servers, two Rasa servers and two desks sharing PostgreSQL and Redis."""
    require("PostgreSQL", PG)
    require("Redis", REDIS)
    try:
        c = start_cluster(tmp_path_factory.mktemp("cluster"), model_file, n=2)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield c
    c.stop()
    drop_cluster_databases(c)
