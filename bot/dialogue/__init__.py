"""Conversation helpers shared by every channel: pure logic, no desk or Rasa imports.

This package owns the reading of what enterprise users type in a WeChat-style chat and what
the assistant does with it: `details` pulls the details a user volunteers (company, contact
name, mobile, credit code, new city / park, company figures) out of any free message, `speech`
recognises what a message does (affirm, refuse, cancel, answer "none", ask, request help,
correct a field, follow up on the previous topic) and reads details to do so (callers hand its
`is_reply` to `details.extract` for bare answers), `options` maps typed text to the buttons
just shown and `turn` plans the reply to one message. It exists so that the Rasa actions never
ask for something twice and never loop on an answer a person would understand. Everything here
is regular-expression and string work over `bot.text.normalise`, fast enough for every message;
it imports neither rasa / rasa_sdk nor the desk, so it is unit-tested on its own. May import: bot.knowledge,
bot.network, bot.tickets.credit_code and the shared kernel. `needs` holds what the assistant says when it
recognises a need category.
"""
