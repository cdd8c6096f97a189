"""Everything that plugs into or drives Rasa: the only package of bot/ that imports rasa.

Owns: the NLU tokenizer component (`tokenizer`, named in config.yml), the tracker store that checks its
connections (`tracker_store`, named in the rendered endpoints), the endpoints file rendered from Settings
(`endpoints`), training only when the model's inputs changed (`training`), Rasa's entry point with log
masking (`main`) and the retention of Rasa's tracker events (`retention`). May import: rasa and the shared
kernel (bot.settings, bot.text, bot.logmask). Never the domain core, the desk, the runtime or tooling.
"""
