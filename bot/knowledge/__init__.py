"""Policy knowledge base: YAML entries, validation, retrieval and the answering service.

Importable without Rasa so that actions, the desk, the CLI and tests share it.
"""
from .followup import KbContext
from .loader import load_base
from .model import Entry, Faq, KnowledgeBase, KnowledgeError
from .retriever import Hit, Retriever
from .service import ANSWER, BEST_GUESS, OPTIONS, UNKNOWN, Answer, KnowledgeService

__all__ = [
    "load_base", "KnowledgeBase", "Entry", "Faq", "KnowledgeError",
    "Retriever", "Hit", "KnowledgeService", "Answer", "KbContext",
    "ANSWER", "BEST_GUESS", "OPTIONS", "UNKNOWN",
]
