"""原上管家 (Yuanshang Butler): the product, by concern. Layers, top to bottom (`lint-imports` checks them):

- `bot.tooling`   demo data, whole stacks for tests and benches (imports anything; nothing imports it)
- `bot.runtime`   `make run`: launcher and process supervisor
- `bot.desk`      aiohttp front door: gateway, web chat, console, WeChat, notifier, policy-check API
- `bot.scheduler` scheduled jobs (日调度、周推进、月总结, SLA sweep, tracker retention)
- `bot.rasa_ext`  everything that plugs into or drives Rasa (the only bot/ package importing rasa)
- domain core     `bot.dialogue`, `bot.knowledge`, `bot.tickets`, `bot.network`, `bot.handover`, `bot.staff`,
                  `bot.visits`, `bot.policy`, `bot.reports`, `bot.privacy`: import neither rasa / rasa_sdk nor
                  anything above
- shared kernel   `bot.settings`, `bot.text`, `bot.taxonomy`, `bot.logmask`, `bot.redis_client`, `bot.templating`,
                  `bot.db`

`actions/` (the Rasa action server) sits beside the desk and uses the core. Data files of the service live in
bot/service_data/ (not Rasa's training data/ and not the knowledge base knowledge/).
"""
