"""Rasa's endpoints file, rendered from Settings (embedded defaults or the scale profile).

Rasa's own ``${VAR}`` substitution cannot switch a store's *type*, so the launcher writes
the endpoints file for the profile in use:

- embedded: SQL tracker store on var/rasa_tracker.db, Rasa's in-process lock store;
- scale (TRACKER_STORE_URL, REDIS_URL): SQL tracker store on PostgreSQL, RedisLockStore.

Usage: python -m bot.rasa_ext.endpoints [--out FILE]   (prints the YAML for the environment)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from bot.settings import Settings

# Rasa's SQL store with connections checked before use (see bot/rasa_ext/tracker_store.py).
TRACKER_STORE_CLASS = "bot.rasa_ext.tracker_store.ResilientSQLTrackerStore"
_DIALECTS = {"postgresql": "postgresql", "postgres": "postgresql", "sqlite": "sqlite"}


class ConfigError(ValueError):
    """A URL in the environment that Rasa cannot use; the message names the variable (Chinese)."""


def tracker_store(url: str) -> dict[str, Any]:
    """Rasa's SQL tracker store parameters for a SQLAlchemy-style URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    dialect = _DIALECTS.get(scheme)
    if dialect is None:
        raise ConfigError(f"TRACKER_STORE_URL 只支持 sqlite:/// 或 postgresql://，实际为 {scheme or url!r}")
    if dialect == "sqlite":
        path = url.split("///", 1)[-1] if "///" in url else ""
        if not path:
            raise ConfigError("TRACKER_STORE_URL 的 SQLite 路径为空（应为 sqlite:////绝对路径/rasa.db）")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {"type": TRACKER_STORE_CLASS, "dialect": "sqlite", "db": path}
    db = parts.path.lstrip("/")
    if not db:
        raise ConfigError("TRACKER_STORE_URL 缺少数据库名（例如 postgresql://rasa@127.0.0.1:5432/rasa）")
    store: dict[str, Any] = {
        "type": TRACKER_STORE_CLASS,
        "dialect": "postgresql",
        "url": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "db": unquote(db),
        # Rasa creates the database through this one when it is missing.
        "login_db": parse_qs(parts.query).get("login_db", ["postgres"])[0],
    }
    if parts.username:
        store["username"] = unquote(parts.username)
    if parts.password:
        store["password"] = unquote(parts.password)
    return store


def lock_store(redis_url: str, prefix: str) -> dict[str, Any]:
    """RedisLockStore parameters (Rasa takes host/port/db, not a URL)."""
    parts = urlsplit(redis_url)
    if parts.scheme not in ("redis", "rediss"):
        raise ConfigError(f"REDIS_URL 应以 redis:// 开头，实际为 {redis_url!r}")
    path = parts.path.lstrip("/")
    if path and not path.isdigit():
        raise ConfigError(f"REDIS_URL 的库号应为数字，实际为 {path!r}")
    store: dict[str, Any] = {
        "type": "redis",
        "url": parts.hostname or "127.0.0.1",
        "port": parts.port or 6379,
        "db": int(path or 0),
        # Rasa requires an alphanumeric prefix.
        "key_prefix": "".join(ch for ch in prefix if ch.isalnum()) or "yuanshang",
    }
    if parts.password:
        store["password"] = unquote(parts.password)
    if parts.username:
        store["username"] = unquote(parts.username)
    if parts.scheme == "rediss":
        store["use_ssl"] = True
    return store


def render(settings: Settings) -> dict[str, Any]:
    action: dict[str, Any] = {"url": f"{settings.actions_url}/webhook"}
    if settings.actions_token:
        # Sent by Rasa as ?token=… on every call (bot/rasa_ext/action_server.py checks it). Rasa expands
        # ${ACTIONS_TOKEN} from its environment when it reads the file, so the token is not written to disk.
        action["token"] = "${ACTIONS_TOKEN}"
    endpoints: dict[str, Any] = {
        "action_endpoint": action,
        "tracker_store": tracker_store(settings.effective_tracker_store_url),
    }
    if settings.redis_url:
        endpoints["lock_store"] = lock_store(settings.redis_url, settings.redis_prefix)
    return endpoints


def write(settings: Settings, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "# Written by bot.rasa_ext.endpoints from the environment — edit the environment, not this file.\n"
        + yaml.safe_dump(render(settings), allow_unicode=True, sort_keys=False)
    )
    path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="按环境变量生成 Rasa 的 endpoints.yml")
    ap.add_argument("--out", type=Path, help="写入此文件（默认打印）")
    args = ap.parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.out:
            write(settings, args.out)
        else:
            print(yaml.safe_dump(render(settings), allow_unicode=True, sort_keys=False), end="")
    except ConfigError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
