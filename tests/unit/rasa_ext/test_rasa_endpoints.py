"""Rasa's endpoints for each profile, loaded by Rasa's own factories (a wrong type would make
Rasa fall back to an in-memory store without failing, so the tests check the class)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
import yaml

from bot.rasa_ext import endpoints as re_
from bot.settings import Settings


def settings(tmp_path, **kw) -> Settings:
    return dataclasses.replace(Settings(), var_dir=tmp_path, actions_port=5999, **kw)


def test_embedded_profile_is_sqlite_and_no_lock_store(tmp_path):
    e = re_.render(settings(tmp_path))
    assert e["action_endpoint"] == {"url": "http://127.0.0.1:5999/webhook"}
    assert e["tracker_store"] == {
        "type": re_.TRACKER_STORE_CLASS,
        "dialect": "sqlite",
        "db": str(tmp_path / "rasa_tracker.db"),
    }
    assert "lock_store" not in e


def test_action_endpoint_token_is_read_from_the_environment_not_written(tmp_path, monkeypatch):
    """Rasa expands ${ACTIONS_TOKEN} when it reads the file; the token itself is not on disk."""
    from rasa.utils.endpoints import read_endpoint_config

    path = re_.write(settings(tmp_path, actions_token="s3cret"), tmp_path / "e.yml")
    assert "s3cret" not in path.read_text()
    monkeypatch.setenv("ACTIONS_TOKEN", "s3cret")
    assert read_endpoint_config(str(path), "action_endpoint").token == "s3cret"


def test_scale_profile(tmp_path):
    e = re_.render(
        settings(
            tmp_path,
            tracker_store_url="postgresql+psycopg2://rasa:p%40ss@db.example:6543/rasa",
            redis_url="redis://:secret@cache.example:6380/2",
            redis_prefix="ys-prod",
        )
    )
    assert e["tracker_store"] == {
        "type": re_.TRACKER_STORE_CLASS,
        "dialect": "postgresql",
        "url": "db.example",
        "port": 6543,
        "db": "rasa",
        "login_db": "postgres",
        "username": "rasa",
        "password": "p@ss",
    }
    assert e["lock_store"] == {
        "type": "redis",
        "url": "cache.example",
        "port": 6380,
        "db": 2,
        "key_prefix": "ysprod",
        "password": "secret",
    }


@pytest.mark.parametrize(
    "field,value,words",
    [
        ("tracker_store_url", "mysql://x@h/db", "TRACKER_STORE_URL"),
        ("tracker_store_url", "postgresql://x@h", "数据库名"),
        ("redis_url", "http://h:6379", "REDIS_URL"),
        ("redis_url", "redis://h:6379/abc", "库号"),
    ],
)
def test_bad_urls_name_the_variable(tmp_path, field, value, words):
    with pytest.raises(re_.ConfigError, match=words):
        re_.render(settings(tmp_path, **{field: value}))


def test_launcher_refuses_a_bad_url_before_starting_anything(monkeypatch, capsys):
    from bot.runtime import launcher

    monkeypatch.setenv("REDIS_URL", "http://nope")
    assert launcher.main([]) == 2
    assert "REDIS_URL" in capsys.readouterr().err


def test_rasa_loads_the_resilient_store_and_the_redis_lock_store(tmp_path, pg_database, redis_url):
    from rasa.core.lock_store import LockStore, RedisLockStore
    from rasa.core.tracker_store import TrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    from bot.rasa_ext.tracker_store import ResilientSQLTrackerStore

    with pg_database(prepare=False) as tracker_url:
        path = re_.write(
            settings(tmp_path, tracker_store_url=tracker_url, redis_url=redis_url.url, redis_prefix=redis_url.prefix),
            tmp_path / "endpoints.yml",
        )
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
        store = TrackerStore.create(EndpointConfig.from_dict(cfg["tracker_store"]), Domain.empty())
        inner = getattr(store, "_tracker_store", store)
        assert isinstance(inner, ResilientSQLTrackerStore)
        assert inner.engine.pool._pre_ping

        tracker = DialogueStateTracker("s1", [])
        tracker.update(UserUttered("你好"))
        asyncio.run(store.save(tracker))
        again = asyncio.run(store.retrieve("s1"))
        assert again.latest_message.text == "你好"
        inner.engine.dispose()

        lock = LockStore.create(EndpointConfig.from_dict(cfg["lock_store"]))
        assert isinstance(lock, RedisLockStore)
        lock.save_lock(lock.create_lock("s1"))
        assert any(k.startswith(f"{redis_url.prefix}") for k in redis_url.keys())


def test_the_embedded_tracker_store_writes_sqlite_in_wal_mode(tmp_path):
    """Rasa saves the tracker inside its event loop after every message: a full fsync per commit (SQLite's
    default rollback journal) held the loop ~10 ms a turn; WAL + synchronous=NORMAL does not."""
    from rasa.core.tracker_store import TrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    path = re_.write(settings(tmp_path), tmp_path / "endpoints.yml")
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    store = TrackerStore.create(EndpointConfig.from_dict(cfg["tracker_store"]), Domain.empty())
    inner = getattr(store, "_tracker_store", store)
    tracker = DialogueStateTracker("s1", [])
    tracker.update(UserUttered("你好"))
    asyncio.run(store.save(tracker))
    assert asyncio.run(store.retrieve("s1")).latest_message.text == "你好"
    with inner.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    inner.engine.dispose()
