"""Policy knowledge base: YAML entries, validation, retrieval and the answering service.

Importable without Rasa so that actions, the desk, the CLI and tests share it.
"""
from .loader import load_base
from .model import Entry, Faq, KnowledgeBase, KnowledgeError
from .retriever import Hit, Retriever
from .service import Answer, KnowledgeService

__all__ = [
    "load_base", "KnowledgeBase", "Entry", "Faq", "KnowledgeError",
    "Retriever", "Hit", "KnowledgeService", "Answer",
]
