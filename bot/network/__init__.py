"""The window's 1+5+N service network and which node handles a need (domain core).

Owns: the network model loaded from bot/service_data/network.yml (centre, new-city centres, park
workstations, 专窗), its validation and its copy in the database (`sync_network`), and the routing rules of
bot/service_data/routing.yml (`bot.network.routing`). May import: the shared kernel (bot.settings, bot.text,
bot.taxonomy, bot.db). Never rasa / rasa_sdk, the desk, the Rasa extensions, the runtime or tooling.

    from bot.network import default_network, sync_network
"""
from bot.network.model import (CENTRE, KIND_LABELS, KINDS, LEVELS, NETWORK_FILE, NEW_CITY, SPECIAL_WINDOW,
                               WORKSTATION, Network, NetworkError, Node, SyncResult, default_network, load_network,
                               match_key, sync_network)

__all__ = ["CENTRE", "KIND_LABELS", "KINDS", "LEVELS", "NETWORK_FILE", "NEW_CITY", "SPECIAL_WINDOW", "WORKSTATION",
           "Network", "NetworkError", "Node", "SyncResult", "default_network", "load_network", "match_key",
           "sync_network"]
