"""一企一档: the enterprise file — profile, membership in the service network, list, export.

Domain core (imports neither rasa nor bot.desk); the console pages are bot/desk/console/enterprises.py.

Which nodes an enterprise belongs to (`membership.enterprise_nodes`), and so which staff may see and edit
its file: the *home node* of its recorded place — the park workstation its park resolves to, else the
new-city centre of its new city, else the comprehensive centre (the same resolution the ticket router
uses, bot/network/routing.py `resolve_location`) — plus every node that holds one of its tickets
(tickets.node_id, after escalation or transfer too) or recorded a visit to it (visits.node_id). A member
of staff sees an enterprise when any of these nodes is in their scope (their node and the nodes below it;
admins and the centre see all). Why: the park or new city is where the enterprise is served by default,
and a node that handles its needs or visits it is serving it too and needs its file. Conversations follow
their tickets and are not a membership of their own (an unverified chat must not pull a company's file
into another node's view).

Modules: `profile` (editable fields, certifications, validation, audited edits), `membership` (the rule
above, in bulk), `file` (everything about one enterprise), `listing` (filtered list and xlsx export).
"""
