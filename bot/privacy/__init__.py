"""Personal information (个人信息保护法): what the service holds about a person, for how long, and erasure.

Domain core: imports the shared kernel (bot.db, bot.settings, bot.logmask) only — never Rasa, the desk,
the scheduler or the runtime. The scheduler runs `retention.purge` as its job ``personal_data_retention``
(exactly once per day); `python -m bot.privacy` exports and erases one person's data; the console's
admin page (bot/desk/console/privacy.py) does the same from a browser. Every export and erasure is
written to the console audit.

Personal data and where it lives:
- contacts (name, mobile, chat identity), tickets (free-text description, the user's own ticket events,
  rating comments), chat messages, handover transcripts and profile snapshots, question logs
  (kb_queries), notifications to a conversation, Rasa's tracker events of the conversation, files sent in a
  conversation or attached to the person's tickets (bot.files: exported with their content, erased with their bytes).
What stays after retention or erasure: the ticket record (number, category, node, dates, status,
staff work) with its personal fields anonymised, the audit trail of staff actions.
"""
