"""Rasa custom actions: a thin layer over the domain core in bot/ (the action server, rasa_sdk).

The modules read the tracker and render what bot.dialogue plans, one flow each. `actions.actions` holds the
actions whose intent is only a hint (and yes/no feedback); they hand the message to `actions.turn` (`respond`:
one message in bot mode), which may start the registration form (`actions.ticket_form`), the policy check
(`actions.policy_check`) or a handover (`actions.handover`, with the actions around one). `actions.tickets` is
我的工单, adding information and rating; `actions.verification` handles "验证" and one-time codes in any flow;
`actions.latest_message` tells a button's payload from the user's own words; `actions.services` builds the
process-wide service objects once; `actions.wording` holds every sentence and button title the actions send
(tests/unit/test_static_checks.py keeps Chinese text out of the other modules). Imports go one way (no cycles,
pyproject.toml): actions, tickets → turn → policy_check → ticket_form → handover, verification, latest_message
→ services, wording.
May import: rasa_sdk, the domain core and the shared kernel.
Never rasa (the server), the desk, the Rasa extensions, the scheduler, the runtime or tooling.
"""

from bot import logmask

# rasa_sdk configures its own log handlers; the record factory masks phone and ID numbers
# in every record whatever handler prints it (bot/logmask.py).
logmask.install()
