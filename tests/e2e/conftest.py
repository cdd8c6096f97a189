"""Session fixture: the real action server, Rasa server and desk on free ports.

The model is trained once for the current inputs (or reused: see bot.training)
and the three processes are the same ones `make run` starts.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import requests

from bot.db import migrate
from bot.network import sync_network
from bot.launcher import child_specs
from bot.settings import Settings
from bot.supervisor import Supervisor, free_port
from bot.training import ensure_model


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
