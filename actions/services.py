"""Process-wide service objects for the action server (built once, on first use)."""

from __future__ import annotations

from functools import lru_cache

from bot.knowledge import KnowledgeService
from bot.network import load_network
from bot.settings import Settings
from bot.tickets import sms
from bot.tickets.identity import IdentityService
from bot.tickets.service import TicketService


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


@lru_cache(maxsize=1)
def knowledge() -> KnowledgeService:
    """The knowledge base; reloads itself when files under knowledge/ change."""
    return KnowledgeService(settings().knowledge_dir)


def db_url() -> str:
    return settings().effective_database_url


@lru_cache(maxsize=1)
def network():
    """The 1+5+N service network from bot/service_data/network.yml."""

    return load_network()


@lru_cache(maxsize=1)
def tickets():

    return TicketService(db_url())


@lru_cache(maxsize=1)
def identity():
    """Verifying chat identities as enterprise contacts; SMS codes when a provider is configured (SMS_PROVIDER)."""

    return IdentityService(db_url(), sms=sms.from_settings(settings().sms))
