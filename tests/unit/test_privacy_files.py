"""Files in var/: the directory 0700, databases, logs, reports and secrets 0600 (issue 16, item 4)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from bot.db import make_engine, migrate
from bot.settings import Settings, private_dir


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def keep_umask():
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def test_a_new_sqlite_database_is_0600_in_a_0700_directory(tmp_path, keep_umask):
    os.umask(0o022)  # the usual umask: files would be 0644
    db = tmp_path / "var" / "yuanshang.db"
    url = f"sqlite:///{db}"
    migrate(url)
    assert mode(db.parent) == 0o700
    assert mode(db) == 0o600
    engine = make_engine(url)
    with engine.begin() as conn:  # an open connection keeps the WAL file
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        wal = db.with_name(db.name + "-wal")
        assert wal.exists() and mode(wal) == 0o600  # SQLite gives the WAL the database's mode
    engine.dispose()


def test_an_existing_world_readable_database_is_tightened(tmp_path, keep_umask):
    db = tmp_path / "old.db"
    db.write_bytes(b"")
    os.chmod(db, 0o644)
    make_engine(f"sqlite:///{db}").dispose()
    assert mode(db) == 0o600


def test_prepare_var_dir_tightens_what_is_there_and_sets_the_umask(tmp_path, keep_umask):
    os.umask(0o022)
    var = tmp_path / "var"
    (var / "reports").mkdir(parents=True)
    for name in ("yuanshang.db", "rasa_tracker.db", "desk-8080.log", "reports/2026-11.html"):
        (var / name).write_text("x")
        os.chmod(var / name, 0o644)
    os.chmod(var, 0o755)
    os.chmod(var / "reports", 0o755)
    Settings(var_dir=var).prepare_var_dir()
    assert mode(var) == 0o700 and mode(var / "reports") == 0o700
    for name in ("yuanshang.db", "rasa_tracker.db", "desk-8080.log", "reports/2026-11.html"):
        assert mode(var / name) == 0o600, name
    new = var / "secret.txt"
    new.write_text("s")  # created after: the umask applies (children inherit it)
    assert mode(new) == 0o600
    out = subprocess.run(
        [sys.executable, "-c", "import os; print(oct(os.umask(0)))"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "0o77"


def test_private_dir_creates_0700(tmp_path, keep_umask):
    p = private_dir(tmp_path / "a" / "var")
    assert mode(p) == 0o700
