"""Settings as the given environment variables would make them, for tests that configure a desk by its
variables (RATE_LIMIT_CHAT="3/60", DESK_SCHEDULER="0", WECHAT_MP_TOKEN=…) without touching os.environ:
the values go through the same parser as in production (bot.settings.Settings.from_env)."""

from __future__ import annotations

import dataclasses

from bot.settings import Settings


def with_env(settings: Settings, **env: str) -> Settings:
    """`settings` with every field that the variables `env` set differently from an empty environment."""
    base, parsed = Settings.from_env({}), Settings.from_env(env)
    changed = {
        f.name: getattr(parsed, f.name)
        for f in dataclasses.fields(Settings)
        if getattr(parsed, f.name) != getattr(base, f.name)
    }
    return dataclasses.replace(settings, **changed)
