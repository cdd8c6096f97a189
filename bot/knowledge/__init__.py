"""Policy knowledge base: YAML entries, validation, retrieval and the answering service (domain core).

Owns: loading and validating knowledge/ (`loader`, `model`, `audit`, `english`), retrieval (`retriever`), the
reply policy and follow-ups (`service`, `followup`), how an answer is shown in the chat (`replies`) and the
record of questions and feedback (`log`, table kb_queries). May import: the shared kernel (bot.text,
bot.taxonomy, bot.settings, bot.db). Never rasa / rasa_sdk, the desk, the Rasa extensions, the scheduler, the
runtime or tooling — so actions, the desk, the CLI and tests share it.
"""

from .followup import KbContext
from .loader import load_base
from .model import Entry, Faq, KnowledgeBase, KnowledgeError
from .retriever import Hit, Retriever
from .service import ANSWER, BEST_GUESS, OPTIONS, UNKNOWN, Answer, KnowledgeService

__all__ = [
    "load_base",
    "KnowledgeBase",
    "Entry",
    "Faq",
    "KnowledgeError",
    "Retriever",
    "Hit",
    "KnowledgeService",
    "Answer",
    "KbContext",
    "ANSWER",
    "BEST_GUESS",
    "OPTIONS",
    "UNKNOWN",
]
