"""Tracked tickets: the window's 即日办、日调度、周推进、月总结 in software (domain core).

Owns: the ticket lifecycle (`lifecycle`), working-time deadlines (`sla`, bot/service_data/sla.yml), the only
writer of tickets (`service.TicketService`), the chat's ticket wording (`chat`), history labels (`history`),
canned replies with variables (`canned`) and 统一社会信用代码 validation (`credit_code`). May import: the
shared kernel (bot.db, bot.settings, bot.text, bot.taxonomy) and bot.network. Never rasa / rasa_sdk, the desk,
the Rasa extensions, the scheduler, the runtime or tooling.
"""
