"""Closed internal ports (issue 16 item 2), against the real stack (action server, Rasa, desk of `make run`):
Rasa's only channel is the desk's, behind a shared secret; the stock REST channel is off; the action server
answers nothing but /health without its token. The scale-profile start refusal is checked on the settings."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import uuid

import pytest
import requests

from bot.settings import DESK_CHANNEL_HEADER, PROJECT_ROOT, Settings


def _sender() -> str:
    return f"ports-{uuid.uuid4().hex[:12]}"


def _user_texts(stack, sender: str) -> list[str]:
    tracker = requests.get(
        f"{stack.settings.rasa_url}/conversations/{sender}/tracker",
        params={"token": stack.settings.rasa_token},
        timeout=10,
    )
    tracker.raise_for_status()
    return [e.get("text") for e in tracker.json()["events"] if e.get("event") == "user"]


@pytest.mark.parametrize(
    "headers",
    [{}, {DESK_CHANNEL_HEADER: "wrong"}, {DESK_CHANNEL_HEADER: ""}],
    ids=["no secret", "wrong secret", "empty secret"],
)
def test_the_desk_channel_refuses_a_message_without_the_secret_and_rasa_never_sees_it(stack, headers):
    sender = _sender()
    r = requests.post(
        stack.settings.desk_channel_url, headers=headers, json={"sender": sender, "message": "你好"}, timeout=30
    )
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "unauthorised"
    assert _user_texts(stack, sender) == []


def test_the_desk_channel_with_the_secret_reaches_the_tracker(stack):
    sender = _sender()
    r = requests.post(
        stack.settings.desk_channel_url,
        headers=stack.settings.desk_channel_headers,
        json={"sender": sender, "message": "你好"},
        timeout=30,
    )
    assert r.status_code == 200 and r.json(), r.text
    assert _user_texts(stack, sender) == ["你好"]


def test_the_stock_rest_channel_is_off(stack):
    sender = _sender()
    r = requests.post(
        f"{stack.settings.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": "你好"}, timeout=30
    )
    assert r.status_code == 404
    assert _user_texts(stack, sender) == []


def _action_call(sender: str) -> dict:
    parse = {
        "text": "你好",
        "intent": {"name": "greet", "confidence": 1.0},
        "intent_ranking": [{"name": "greet", "confidence": 1.0}],
        "entities": [],
    }
    return {
        "next_action": "action_capabilities",
        "sender_id": sender,
        "domain": {},
        "tracker": {
            "sender_id": sender,
            "slots": {},
            "latest_message": parse,
            "events": [{"event": "user", "text": "你好", "parse_data": parse}],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


@pytest.mark.parametrize(
    "params", [{}, {"token": "wrong"}, {"token": ""}], ids=["no token", "wrong token", "empty token"]
)
def test_the_action_server_refuses_calls_without_its_token(stack, params):
    url = stack.settings.actions_url
    r = requests.post(f"{url}/webhook", params=params, json=_action_call(_sender()), timeout=10)
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "unauthorised"
    assert requests.get(f"{url}/actions", params=params, timeout=10).status_code == 401


def test_the_action_server_runs_actions_with_its_token_and_health_is_open(stack):
    url = stack.settings.actions_url
    r = requests.post(
        f"{url}/webhook", params={"token": stack.settings.actions_token}, json=_action_call(_sender()), timeout=10
    )
    assert r.status_code == 200, r.text
    assert r.json()["responses"], r.text
    assert requests.get(f"{url}/health", timeout=10).status_code == 200


def test_generated_secrets_are_random_and_configured_ones_are_kept():
    a, b = Settings().with_generated_secrets(), Settings().with_generated_secrets()
    assert a.rasa_channel_secret and a.actions_token and a.rasa_channel_secret != b.rasa_channel_secret
    kept = dataclasses.replace(Settings(), rasa_channel_secret="c", actions_token="t").with_generated_secrets()
    assert (kept.rasa_channel_secret, kept.actions_token) == ("c", "t")


# ---- the scale profile refuses to start with open ports ------------------------------------------------------

SCALE = dict(redis_url="redis://127.0.0.1:6379/0")


@pytest.mark.parametrize(
    "profile", [SCALE, dict(tracker_store_url="postgresql://rasa@10.0.0.20/rasa")], ids=["redis", "postgresql tracker"]
)
@pytest.mark.parametrize(
    "open_,missing",
    [
        (dict(rasa_bind="0.0.0.0"), "RASA_CHANNEL_SECRET"),
        (dict(actions_bind="10.0.0.11"), "ACTIONS_TOKEN"),
        (dict(rasa_bind="0.0.0.0", rasa_channel_secret="s"), "RASA_TOKEN"),  # the desks of other hosts need it too
    ],
)
def test_scale_profile_beyond_loopback_without_credentials_is_refused(profile, open_, missing):
    problem = dataclasses.replace(Settings(), **profile, **open_).internal_ports_problem()
    assert problem and missing in problem and "拒绝启动" in problem and "Refusing to start" in problem


@pytest.mark.parametrize(
    "settings",
    [
        dict(rasa_bind="0.0.0.0", actions_bind="0.0.0.0"),  # embedded profile
        dict(**SCALE),  # scale, loopback
        dict(**SCALE, rasa_bind="::1", actions_bind="localhost"),
        dict(
            **SCALE,
            rasa_bind="0.0.0.0",
            actions_bind="10.0.0.11",
            rasa_channel_secret="s",
            actions_token="t",
            rasa_token="r",
        ),
    ],
    ids=["embedded", "scale loopback", "scale ipv6 loopback", "scale with credentials"],
)
def test_allowed_profiles_start(settings):
    assert dataclasses.replace(Settings(), **settings).internal_ports_problem() is None


def test_the_desk_process_exits_with_the_message(tmp_path):
    env = {
        **Settings().child_env(),
        "VAR_DIR": str(tmp_path),
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "RASA_BIND": "0.0.0.0",
        "RASA_CHANNEL_SECRET": "",
        "ACTIONS_TOKEN": "",
        "DATABASE_URL": "",
        "TRACKER_STORE_URL": "",
    }
    r = subprocess.run(
        [sys.executable, "-m", "bot.desk"], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 2
    assert "RASA_CHANNEL_SECRET" in r.stderr and "拒绝启动" in r.stderr


def test_the_launcher_exits_with_the_message(tmp_path):
    env = {
        **Settings().child_env(),
        "VAR_DIR": str(tmp_path),
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "ACTIONS_BIND": "0.0.0.0",
        "RASA_CHANNEL_SECRET": "",
        "ACTIONS_TOKEN": "",
        "DATABASE_URL": "",
        "TRACKER_STORE_URL": "",
    }
    r = subprocess.run(
        [sys.executable, "-m", "bot.runtime.launcher"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert "ACTIONS_TOKEN" in r.stderr and "拒绝启动" in r.stderr
    assert not list(tmp_path.iterdir())  # refused before anything was migrated or started
