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

import dataclasses
from pathlib import Path

import requests

from bot.db import migrate
from bot.launcher import child_specs
from bot.network import sync_network
from bot.settings import Settings
from bot.supervisor import Supervisor, free_port
from bot.training import ensure_model

# ---- the running system: action server, Rasa server and desk on free ports ----------------------
# The model is trained once for the current inputs (or reused, see bot.training); the processes are
# the same ones `make run` starts. Shared by tests/e2e and tests/browser.


@dataclasses.dataclass
class Stack:
    settings: Settings
    model: Path
    log_dir: Path

    def say(self, text: str, sender: str = "e2e-user") -> list[dict]:
        r = requests.post(f"{self.settings.rasa_url}/webhooks/rest/webhook",
                          json={"sender": sender, "message": text}, timeout=30)
        r.raise_for_status()
        return r.json()

    def parse(self, text: str) -> dict:
        r = requests.post(f"{self.settings.rasa_url}/model/parse",
                          params={"token": self.settings.rasa_token}, json={"text": text}, timeout=30)
        r.raise_for_status()
        return r.json()


@pytest.fixture(scope="session")
def model_file() -> Path:
    return ensure_model(Settings.from_env().model_dir)


@pytest.fixture(scope="session")
def stack(tmp_path_factory, model_file) -> Stack:
    var = tmp_path_factory.mktemp("var")
    settings = dataclasses.replace(
        Settings.from_env(), rasa_port=free_port(), actions_port=free_port(),
        desk_port=free_port(), rasa_token="e2e-token", var_dir=var, database_url="",
    )
    migrate(settings.effective_database_url)
    sync_network(settings.effective_database_url)
    specs = child_specs(settings, str(model_file))
    for spec in specs:
        spec.log_file = str(var / f"{spec.argv[2].replace('.', '_')}.log")
    sup = Supervisor(specs, log=lambda m: None)
    sup.start()
    try:
        sup.wait_healthy(timeout=300)
    except Exception:
        sup.stop()
        logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in var.glob("*.log"))
        pytest.fail(f"stack did not start:\n{logs}")
    yield Stack(settings, model_file, var)
    sup.stop()


def pytest_collection_modifyitems(config, items):
    """Browser tests last: Playwright's sync API keeps an event loop on the main thread for the
    rest of the session, which would break asyncio-based tests collected after it."""
    items.sort(key=lambda item: "tests/browser/" in str(item.fspath).replace("\\", "/"))
