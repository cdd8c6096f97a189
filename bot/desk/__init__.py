"""The desk: the aiohttp front door (web chat, WeChat callbacks, staff console, reports).

Owns: the message path from a channel to Rasa and back (`messages`: the message store; `gateway`: turn lock,
Rasa client, turn logic, retries, handover operations; `keys`: the application keys), the channels (`chat` web
chat, `wechat` WeChat OA / WeCom), the staff console (`console`), live updates (`hub`, `hub_bridge`), rate
limits (`ratelimit`), notifications (`notifier`) and the policy-check API (`policy_check`). Talks to Rasa over
HTTP only. May import: the domain core, the scheduler and the shared kernel. Never rasa / rasa_sdk, the Rasa
extensions, the runtime or tooling.
"""
