"""Files in conversations: images and documents sent by enterprises and by staff (issue 13 item 9).

Domain core (no aiohttp, no Rasa, no bot.desk): `sniff` decides what a file is from its bytes (magic numbers,
never the name or the client's Content-Type) and whether it is accepted; `names` makes a client's file name
safe to store and show; `store` keeps files in the service database (table `attachments`, one row per file
sent, and `file_blobs`, the bytes once per SHA-256) and attaches them to the conversation's open ticket.
The desk's routes are in bot/desk/files.py; docs/files.md describes the behaviour and the rules.
"""

from bot.files.sniff import FileRefused, Limits, Sniffed, check, sniff

__all__ = ["FileRefused", "Limits", "Sniffed", "check", "sniff"]
