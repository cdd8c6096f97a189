"""Staff of the window as the console knows them (domain core).

Owns: console accounts and their password policy (`bot.staff.accounts`, also the admin CLI
`python -m bot.staff`) and sign-in throttling in the database (`bot.staff.throttle`). Needs no web
framework, so the CLI works where only the database is reachable. May import: the shared kernel (bot.db,
bot.settings) and bot.network. Never rasa / rasa_sdk, the desk, the Rasa extensions, the runtime or tooling.
"""
