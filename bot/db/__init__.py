"""Database access: engine creation and schema migrations (shared kernel: imports nothing else of bot/).

SQLite (WAL, foreign keys, busy timeout) on one machine, PostgreSQL when the
system scales out; the same SQLAlchemy 2.0-style code runs on 1.4 (pinned by
Rasa) and on both databases. Schema changes go through Alembic only.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def private_file(path: Path) -> None:
    """A database file readable by its owner only (0600; SQLite gives its -wal/-shm the same mode);
    a directory created for it is 0700."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)
    for extra in ("-wal", "-shm"):
        try:
            os.chmod(path.with_name(path.name + extra), 0o600)
        except FileNotFoundError:  # absent, or SQLite removed it meanwhile (the last connection closed)
            pass


def make_engine(url: str, immediate: bool = False) -> Engine:
    """Engine for `url`. On SQLite, `immediate` makes every transaction BEGIN IMMEDIATE.

    SQLite upgrades a deferred transaction's read lock to a write lock lazily
    and fails at once (no busy wait) when another writer got there first; write
    transactions therefore take the write lock up front and queue on busy_timeout.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:":
            private_file(Path(path))
        engine = create_engine(url, future=True, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, future=True, pool_pre_ping=True)


@lru_cache(maxsize=16)
def engine_for(url: str, immediate: bool = False) -> Engine:
    """One engine (connection pool) per URL and mode per process."""
    return make_engine(url, immediate)


def dialect_insert(s: Session, table):
    """The INSERT of this session's dialect (PostgreSQL or SQLite), which has on_conflict_do_nothing/-update:
    the one place that chooses between the two."""
    return (pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert)(table)


def sessions(url: str) -> sessionmaker:
    """Sessions for work that writes (SQLite: serialised with BEGIN IMMEDIATE)."""
    return sessionmaker(engine_for(url, True), class_=Session, future=True, expire_on_commit=False)


def read_sessions(url: str) -> sessionmaker:
    """Sessions for reads (reports, listings): never block writers on SQLite WAL."""
    return sessionmaker(engine_for(url, False), class_=Session, future=True, expire_on_commit=False)


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (idempotent)."""
    from alembic import command  # lazy: alembic adds 0.15 s to every import of bot.db; only migrate() needs it
    from alembic.config import Config  # lazy: alembic, as above

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    with engine_for(url, True).begin() as conn:
        if conn.dialect.name == "postgresql":
            # Several instances starting at once: one migrates, the others wait and find it done.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7240211)")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
