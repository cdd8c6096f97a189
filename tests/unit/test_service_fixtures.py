"""The test suite's own contract for shared services (tests/conftest.py): a test that needs
PostgreSQL or Redis skips with the reason on a developer's machine without them, and fails in
CI (CI=true); a Redis test gets a key prefix of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLOSED = "127.0.0.1:1"  # nothing listens on port 1


def test_redis_space_is_a_prefix_of_its_own(redis_url):
    from bot.redis_client import sync_redis_for

    r = sync_redis_for(redis_url.url)
    r.set(f"{redis_url.prefix}:a", "1", ex=60)
    r.set(f"{redis_url.prefix}:b", "2", ex=60)
    assert redis_url.keys() == [f"{redis_url.prefix}:a", f"{redis_url.prefix}:b"]


def run_pytest(*args: str, ci: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(TEST_PG_ADMIN_URL=f"postgresql://postgres@{CLOSED}/postgres", TEST_REDIS_URL=f"redis://{CLOSED}/0")
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def summary(out: str) -> str:
    return out.strip().splitlines()[-1]


@pytest.mark.slow
def test_absent_services_skip_locally_and_fail_in_ci():
    tests = (
        "tests/unit/test_migrations.py",
        f"{Path(__file__).relative_to(ROOT)}::test_redis_space_is_a_prefix_of_its_own",
    )
    local = run_pytest(*tests, ci=False)
    assert local.returncode == 0, local.stdout[-3000:]
    assert re.search(r"\b1 passed, 2 skipped\b", summary(local.stdout)), local.stdout[-3000:]
    assert f"PostgreSQL {CLOSED} 不可用" in local.stdout and f"Redis {CLOSED} 不可用" in local.stdout
    assert "set CI=true" in local.stdout

    ci = run_pytest(*tests, ci=True)
    assert ci.returncode == 1, ci.stdout[-3000:]
    assert "1 passed" in summary(ci.stdout) and "skipped" not in summary(ci.stdout), ci.stdout[-3000:]
    assert f"PostgreSQL {CLOSED} 不可用" in ci.stdout and f"Redis {CLOSED} 不可用" in ci.stdout
