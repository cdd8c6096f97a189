"""Fixtures for the custom-action unit tests (tests/unit/actions): real services, no Rasa server.

Every test gets a fresh migrated SQLite database with the service network (`action_services` in
tests/conftest.py) and cleared service caches. The knowledge base in knowledge/ is the real one, built once per
session (an index build costs seconds) and handed to the actions through `actions.services.knowledge`.
The only fake is the SMS gateway (an external network service).
"""

from __future__ import annotations

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from bot.settings import PROJECT_ROOT


@pytest.fixture(scope="session")
def knowledge_base():
    """The real knowledge base (knowledge/), loaded once for the whole session."""
    from bot.knowledge import KnowledgeService

    return KnowledgeService(PROJECT_ROOT / "knowledge", strict=True, background_reload=False)


@pytest.fixture(autouse=True)
def services(action_services, knowledge_base, monkeypatch):
    """The action server's services over this test's database; the session's knowledge base."""
    from actions import services as action_services_module

    monkeypatch.delenv("SMS_PROVIDER", raising=False)
    monkeypatch.setattr(action_services_module, "knowledge", lambda: knowledge_base)
    return action_services_module


@pytest.fixture
def db(services):
    """The test's service database URL (what the actions write to)."""
    return services.db_url()


@pytest.fixture(scope="session")
def domain():
    """The bot's domain (domain.yml): form validation actions read their forms' required slots from it."""
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))


@pytest.fixture
def dispatcher():
    return CollectingDispatcher()


class FakeSms:
    """The SMS gateway (an external service): records what would have been sent."""

    name = "fake"

    def __init__(self):
        self.sent: list[tuple[str, str]] = []

    def send_code(self, mobile: str, code: str) -> None:
        self.sent.append((mobile, code))


@pytest.fixture
def sms(services, monkeypatch):
    """The identity service with a fake SMS gateway; `sms.sent` holds the (mobile, code) pairs."""
    from bot.tickets.identity import IdentityService

    fake = FakeSms()
    ids = IdentityService(services.db_url(), sms=fake)
    monkeypatch.setattr(services, "identity", lambda: ids)
    return fake
