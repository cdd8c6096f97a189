"""bot.rasa_ext.main's compiled action-response validation behaves exactly like Rasa's own."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from bot.rasa_ext import main as rasa_main

VALID = [
    {"events": [], "responses": []},
    {
        "events": [{"event": "slot", "name": "kb_context", "value": {"entry_id": "hnte-recognition"}}],
        "responses": [{"text": "高企认定需要满足八项条件", "buttons": [{"title": "办理", "payload": "/open_ticket"}]}],
    },
    {"events": [{"event": "followup", "name": "ticket_form"}], "responses": [{"response": "utter_ask_contact_mobile"}]},
]
INVALID = [
    {"events": [{"name": "kb_context"}], "responses": []},  # an event without its type
    {"events": "slot", "responses": []},
    {"events": [{"event": 3}], "responses": []},
]


@pytest.fixture
def compiled(monkeypatch):
    original = RemoteAction._validate_action_result
    monkeypatch.setattr(RemoteAction, "_validate_action_result", original)  # restored after the test
    rasa_main.compile_action_response_schema()
    assert RemoteAction._validate_action_result is not original
    return original


@pytest.mark.parametrize("result", VALID)
def test_valid_responses_pass_as_with_rasa(compiled, result):
    action = RemoteAction("action_x", None)
    assert compiled(action, result) is True
    assert action._validate_action_result(result) is True


@pytest.mark.parametrize("result", INVALID)
def test_invalid_responses_fail_with_rasas_message(compiled, result):
    action = RemoteAction("action_x", None)
    with pytest.raises(ValidationError) as theirs:
        compiled(action, result)
    with pytest.raises(ValidationError) as ours:
        action._validate_action_result(result)
    assert ours.value.message == theirs.value.message
    assert "Failed to validate Action server response" in ours.value.message


def test_the_schema_is_checked_once(compiled, monkeypatch):
    from jsonschema.validators import validator_for

    checks = []
    cls = validator_for(RemoteAction.action_response_format_spec())
    monkeypatch.setattr(cls, "check_schema", classmethod(lambda c, s: checks.append(s)))
    rasa_main._response_validator.cache_clear()
    action = RemoteAction("action_x", None)
    for result in VALID * 5:
        action._validate_action_result(result)
    assert len(checks) == 1
