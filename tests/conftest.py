import os

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

import uuid

import pytest

PG_ADMIN = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def sqlite_url(tmp_path):
    """A fresh, migrated SQLite database with the service network loaded."""
    from bot.db import migrate
    from bot.network import sync_network

    url = f"sqlite:///{tmp_path / 'test.db'}"
    migrate(url)
    sync_network(url)
    return url


@pytest.fixture
def pg_url():
    """A fresh, migrated PostgreSQL database (dropped afterwards)."""
    psycopg2 = pytest.importorskip("psycopg2")
    from bot.db import engine_for, migrate
    from bot.network import sync_network

    name = f"yuanshang_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg2.connect(PG_ADMIN)
    except psycopg2.OperationalError as exc:  # the machine's PostgreSQL is part of the setup
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN}: {exc}")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    try:
        migrate(url)
        sync_network(url)
        yield url
    finally:
        for immediate in (False, True):
            engine_for(url, immediate).dispose()
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

from pathlib import Path

from bot.settings import Settings
from bot.stack import Instance, local_settings, start_instance
from bot.training import ensure_model

# ---- the running system: action server, Rasa server and desk on free ports ----------------------
# The model is trained once for the current inputs (or reused, see bot.training); the processes are
# the same ones `make run` starts (bot.stack). Shared by tests/e2e and tests/browser.

Stack = Instance


@pytest.fixture(scope="session")
def model_file() -> Path:
    return ensure_model(Settings.from_env().model_dir)


@pytest.fixture(scope="session")
def stack(tmp_path_factory, model_file) -> Stack:
    settings = local_settings(tmp_path_factory.mktemp("var"), token="e2e-token")
    try:
        inst = start_instance(settings, model_file)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield inst
    inst.stop()


def pytest_collection_modifyitems(config, items):
    """Browser tests last: Playwright's sync API keeps an event loop on the main thread for the
    rest of the session, which would break asyncio-based tests collected after it."""
    items.sort(key=lambda item: "tests/browser/" in str(item.fspath).replace("\\", "/"))
