"""Rasa custom actions: a thin layer over the domain core in bot/ (the action server, rasa_sdk).

`actions.actions`, `actions.ticket_form` (registration), `actions.tickets` (我的工单, adding information,
rating) and `actions.policy_check` read the tracker and render what bot.dialogue plans; `actions.handover`
hands a conversation to staff (and holds the actions around a handover); `actions.latest_message` tells a
button's payload from the user's own words; `actions.verification` handles "验证" and one-time codes in any
flow; `actions.services` builds the process-wide service objects once; `actions.wording` holds every sentence
and button title the actions send (tests/unit/test_static_checks.py keeps Chinese text out of the other
modules).
May import: rasa_sdk, the domain core and the shared kernel.
Never rasa (the server), the desk, the Rasa extensions, the scheduler, the runtime or tooling.
"""

from bot import logmask

# rasa_sdk configures its own log handlers; the record factory masks phone and ID numbers
# in every record whatever handler prints it (bot/logmask.py).
logmask.install()
