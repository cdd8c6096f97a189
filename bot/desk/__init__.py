"""The desk: the aiohttp front door (web chat, WeChat callbacks, staff console, reports)."""
