"""The window's 1+5+N service network and which node handles a need (domain core).

Owns: the nodes (`nodes`: kinds, levels, the node record, name matching), the validated network and its tree
questions (`model`, from bot/service_data/network.yml), the validator reporting every problem of the file
(`validation`), its copy in the database (`sync`) and the routing rules of bot/service_data/routing.yml
(`routing`). May import: the shared kernel (bot.settings, bot.text, bot.taxonomy, bot.db). Never rasa /
rasa_sdk, the desk, the Rasa extensions, the scheduler, the runtime or tooling.

    from bot.network import default_network, sync_network
"""

from bot.network.model import NETWORK_FILE, Network, default_network, load_network
from bot.network.nodes import (
    CENTRE,
    KIND_LABELS,
    KINDS,
    LEVELS,
    NEW_CITY,
    SPECIAL_WINDOW,
    WORKSTATION,
    NetworkError,
    Node,
    match_key,
)
from bot.network.sync import SyncResult, sync_network

__all__ = [
    "CENTRE",
    "KIND_LABELS",
    "KINDS",
    "LEVELS",
    "NETWORK_FILE",
    "NEW_CITY",
    "SPECIAL_WINDOW",
    "WORKSTATION",
    "Network",
    "NetworkError",
    "Node",
    "SyncResult",
    "default_network",
    "load_network",
    "match_key",
    "sync_network",
]
