import pytest

from bot.dialogue import needs
from bot.taxonomy import CATEGORIES, META_INTENTS, NEED_INTENTS, SERVICE_CONTENTS


def test_taxonomy_has_19_categories_under_five_contents():
    assert len(CATEGORIES) == 19 and len(set(NEED_INTENTS)) == 19
    assert {c.content for c in CATEGORIES} == set(SERVICE_CONTENTS)
    assert len(META_INTENTS) == 12


@pytest.mark.parametrize("cat", CATEGORIES, ids=lambda c: c.intent)
def test_acknowledgement_names_category_and_content(cat):
    text = needs.acknowledge(cat.intent)
    assert f"「{cat.name}」" in text and f"「{cat.content}」" in text


def test_fallback_choices_pick_top_two_need_categories():
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": "greet", "confidence": 0.3},
        {"name": "need_space", "confidence": 0.2},
        {"name": "need_permits", "confidence": 0.1},
        {"name": "need_listing", "confidence": 0.05},
    ]
    assert needs.fallback_choices(ranking) == ["need_space", "need_permits"]
    assert needs.fallback_choices([]) == []
