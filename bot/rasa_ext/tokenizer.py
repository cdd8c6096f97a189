"""Jieba tokenizer that normalises first and never emits blank tokens.

Rasa's stock JiebaTokenizer tokenises the raw text: traditional characters,
full-width letters and emoji become features of their own, and spaces in
mixed Chinese/English text come out as whitespace tokens (rasa issue #7910),
which pollute features and break entity tagging. Here every message is run
through `bot.text.normalise_aligned` (length-preserving, so token offsets
still index the original text) and blank/punctuation-only tokens are dropped.
"""

from __future__ import annotations

import unicodedata
from typing import List, Text

import jieba
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message

from bot.text import normalise_aligned


def _is_noise(word: str) -> bool:
    """True for tokens made only of whitespace, punctuation or symbols."""
    return all(ch.isspace() or unicodedata.category(ch)[0] in "PSZ" for ch in word)


def tokenize_text(text: str) -> List[Token]:
    """Tokenise text the way the NLU pipeline does (usable without a model)."""
    norm = normalise_aligned(text or "")
    return [Token(word, start) for word, start, _end in jieba.tokenize(norm) if not _is_noise(word)]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class NormalisingJiebaTokenizer(JiebaTokenizer):
    """JiebaTokenizer + shared normalisation + no whitespace/punctuation tokens."""

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        tokens = tokenize_text(message.get(attribute))
        if not tokens:
            # Rasa featurizers expect at least one token per message.
            text = message.get(attribute) or ""
            tokens = [Token(normalise_aligned(text).strip() or text or " ", 0)]
        return self._apply_token_pattern(tokens)
