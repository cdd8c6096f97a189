import os

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

import contextlib
import dataclasses
import uuid

import pytest

PG_ADMIN = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PROBE_TIMEOUT = 2  # seconds; an absent service costs every test at most this, once per session


# ---- shared services: skip on a laptop without them, fail in CI --------------------------------------


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def service_absent(service: str, where: str, why: str):
    """A test needs a service that is not there: a skip on a developer's machine, a failure in CI
    (CI=true), where every test must run."""
    if in_ci():
        pytest.fail(f"{service} {where} 不可用：{why}（CI=true: tests that need it must run）", pytrace=False)
    pytest.skip(f"{service} {where} 不可用：{why}（set CI=true to make this a failure）")


def _where(url: str) -> str:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    return f"{u.hostname or '127.0.0.1'}:{u.port or ''}".rstrip(":")


_probes: dict[str, str | None] = {}  # service -> None (reachable) or why not; once per session


def _probe(service: str, url: str, check) -> None:
    if service not in _probes:
        try:
            check()
            _probes[service] = None
        except ImportError as exc:
            _probes[service] = f"driver missing ({exc})"
        except Exception as exc:  # noqa: BLE001 - any failure to talk to it means "absent"
            first_line = (str(exc).strip().splitlines() or [""])[0]
            _probes[service] = f"{type(exc).__name__}: {first_line}"
    why = _probes[service]
    if why is not None:
        service_absent(service, _where(url), why)


def require_postgresql() -> None:
    def check():
        import psycopg2

        psycopg2.connect(PG_ADMIN, connect_timeout=PROBE_TIMEOUT).close()

    _probe("PostgreSQL", PG_ADMIN, check)


def require_redis() -> None:
    def check():
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=PROBE_TIMEOUT, socket_timeout=PROBE_TIMEOUT).ping()

    _probe("Redis", REDIS_URL, check)


@dataclasses.dataclass
class PrivateRedis:
    """A redis-server of the test's own on a free port, which the test may stop and start again."""

    port: int
    proc: object = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import socket
        import subprocess
        import time

        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # listening before the test goes on
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not listen on {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def private_redis():
    """Started; stopped (if still running) afterwards. Fault tests stop and restart it."""
    import shutil

    from bot.runtime.supervisor import free_port

    if not shutil.which("redis-server"):
        service_absent("redis-server", "(本机程序)", "未安装")
    server = PrivateRedis(free_port())
    server.start()
    yield server
    server.stop()


# ---- databases ------------------------------------------------------------------------------------

# Migrating and loading the network costs ~1 s on SQLite (more on PostgreSQL) and hundreds of tests want a
# fresh database: each process migrates one template per engine once and every test gets a copy of it
# (SQLite's online backup; PostgreSQL's CREATE DATABASE … TEMPLATE). tests/unit/test_migrations.py still
# runs the migrations themselves.
_templates: dict = {}


def _prepare(url: str) -> None:
    from bot.db import engine_for, migrate
    from bot.network import sync_network

    migrate(url)
    sync_network(url)
    for immediate in (False, True):
        engine_for(url, immediate).dispose()  # no connection may stay open on a template


def _sqlite_template() -> str:
    if "sqlite" not in _templates:
        import tempfile

        folder = tempfile.mkdtemp(prefix="yuanshang-template-")
        path = os.path.join(folder, "template.db")
        _prepare(f"sqlite:///{path}")
        _templates["sqlite"] = path
    return _templates["sqlite"]


def fresh_sqlite(path) -> str:
    """A fresh, migrated SQLite database with the service network loaded (a copy of this process's template)."""
    import sqlite3

    source, target = sqlite3.connect(_sqlite_template()), sqlite3.connect(str(path))
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    os.chmod(path, 0o600)
    return f"sqlite:///{path}"


def _pg_template() -> str:
    if "postgresql" not in _templates:
        import atexit

        from bot.tooling.stack import create_pg_database, drop_pg_database

        url = create_pg_database(f"yuanshang_tmpl_{uuid.uuid4().hex[:10]}", PG_ADMIN)
        try:
            _prepare(url)
        except BaseException:
            drop_pg_database(url, PG_ADMIN)
            raise
        atexit.register(drop_pg_database, url, PG_ADMIN)
        _templates["postgresql"] = url
    return _templates["postgresql"]


@contextlib.contextmanager
def fresh_postgresql(prepare: bool = True):
    """A fresh PostgreSQL database, dropped afterwards: migrated with the service network loaded (a copy of
    this process's template), or (prepare=False) empty. Skips or fails (CI) when PostgreSQL is absent."""
    require_postgresql()
    from sqlalchemy.engine import make_url

    from bot.tooling.stack import create_pg_database, drop_pg_database

    template = make_url(_pg_template()).database if prepare else ""
    url = create_pg_database(f"yuanshang_test_{uuid.uuid4().hex[:10]}", PG_ADMIN, template=template)
    try:
        yield url
    finally:
        drop_pg_database(url, PG_ADMIN)


@pytest.fixture(scope="session")
def pg_database():
    """`fresh_postgresql` for fixtures of other scopes: `with pg_database(prepare=False) as url:`."""
    return fresh_postgresql


@pytest.fixture
def sqlite_url(tmp_path):
    """A fresh, migrated SQLite database with the service network loaded."""
    return fresh_sqlite(tmp_path / "test.db")


@pytest.fixture
def pg_url():
    """A fresh, migrated PostgreSQL database (dropped afterwards)."""
    with fresh_postgresql() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    """A fresh, migrated service database with the network loaded, once on SQLite and once on
    PostgreSQL: the suites that touch the database run on both."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@dataclasses.dataclass(frozen=True)
class RedisSpace:
    """A Redis server and a key prefix of this test's own (Settings.redis_prefix)."""

    url: str
    prefix: str

    def keys(self) -> list[str]:
        from bot.redis_client import sync_redis_for

        return sorted(sync_redis_for(self.url).scan_iter(f"{self.prefix}*"))


def delete_redis_prefix(url: str, prefix: str) -> None:
    """Delete the keys under `prefix` (never FLUSHDB: the server is shared)."""
    from bot.redis_client import sync_redis_for

    r = sync_redis_for(url)
    for key in r.scan_iter(f"{prefix}*", count=500):
        r.delete(key)


@pytest.fixture
def redis_url():
    """Redis with a fresh key prefix; the prefix's keys are deleted afterwards."""
    require_redis()
    space = RedisSpace(REDIS_URL, f"ystest{uuid.uuid4().hex[:10]}")
    try:
        yield space
    finally:
        delete_redis_prefix(space.url, space.prefix)


from pathlib import Path

from bot.rasa_ext.training import ensure_model
from bot.settings import Settings
from bot.tooling.stack import (
    Instance,
    create_pg_database,
    drop_pg_database,
    local_settings,
    scaled_settings,
    start_instance,
)

# ---- the running system: action server, Rasa server and desk on free ports ----------------------
# The model is trained once for the current inputs (or reused, see bot.rasa_ext.training); the processes are
# the same ones `make run` starts (bot.tooling.stack). Shared by tests/e2e and tests/browser.

Stack = Instance


@pytest.fixture(scope="session")
def model_file() -> Path:
    return ensure_model(Settings.from_env().model_dir)


@pytest.fixture(scope="session")
def stack(tmp_path_factory, model_file) -> Stack:
    settings = local_settings(tmp_path_factory.mktemp("var"), token="e2e-token")
    try:
        inst = start_instance(settings, model_file)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield inst
    inst.stop()


def _uses_pg_stack(item) -> bool:
    callspec = getattr(item, "callspec", None)
    return "pg_stack" in item.fixturenames or (callspec is not None and callspec.params.get("any_stack") == "scale")


_pg_stack_state = {"users_left": 0, "release": None}


@pytest.fixture(scope="session")
def pg_stack(tmp_path_factory, model_file) -> Stack:
    """One instance of the scale profile: service DB and Rasa tracker store on fresh PostgreSQL
    databases, a fresh Redis prefix (bot.tooling.stack.scaled_settings); all dropped afterwards. It is
    stopped right after the last test that uses it (not at the end of the session), so it is
    not still running while later tests start stacks of their own."""
    from bot.db import migrate
    from bot.network import sync_network

    require_postgresql()
    require_redis()
    tag = uuid.uuid4().hex[:10]
    db = create_pg_database(f"ys_e2e_service_{tag}", PG_ADMIN)
    tracker = create_pg_database(f"ys_e2e_tracker_{tag}", PG_ADMIN)
    prefix = f"ystest{tag}"
    inst = None

    def release():
        _pg_stack_state["release"] = None
        if inst is not None:
            inst.stop()
        drop_pg_database(db, PG_ADMIN)
        drop_pg_database(tracker, PG_ADMIN)
        delete_redis_prefix(REDIS_URL, prefix)

    _pg_stack_state["release"] = release
    try:
        migrate(db)
        sync_network(db)
        settings = scaled_settings(tmp_path_factory.mktemp("var-pg"), db, tracker, REDIS_URL, prefix, token="e2e-token")
        try:
            inst = start_instance(settings, model_file, prepare_db=False)
        except RuntimeError as exc:
            pytest.fail(str(exc))
        yield inst
    finally:
        if _pg_stack_state["release"] is release:
            release()


@pytest.fixture(scope="session", params=["embedded", "scale"])
def any_stack(request) -> Stack:
    """The running system twice: the embedded profile (`stack`: SQLite, no Redis) and the scale
    profile (`pg_stack`: PostgreSQL + Redis). For tests whose flow writes to the stack's database."""
    return request.getfixturevalue("stack" if request.param == "embedded" else "pg_stack")


def pytest_collection_finish(session):
    _pg_stack_state["users_left"] = sum(_uses_pg_stack(item) for item in session.items)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield
    if _uses_pg_stack(item):
        _pg_stack_state["users_left"] -= 1
        if _pg_stack_state["users_left"] <= 0 and _pg_stack_state["release"] is not None:
            _pg_stack_state["release"]()


def pytest_configure(config):
    """Staff passwords are argon2id at the library's defaults in the product (64 MiB, 3 passes: about 0.15 s a
    hash or check here), which was most of every console test's set-up. In this test process they are argon2id
    at its minimum cost; the hashes stay real argon2id, and servers started by the tests verify them by the
    parameters inside each hash. tests/unit/test_staff_cli.py checks the product's own parameters in a fresh
    interpreter."""
    from argon2 import PasswordHasher

    from bot.staff import accounts

    accounts.HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    _share_knowledge_builds()
    _count_desk_apps()


_desk_apps = [0]  # desk applications created in this process (tests/unit: only by tests marked desk)


def _count_desk_apps() -> None:
    from bot.desk import app

    real_create_app = app.create_app

    def counted_create_app(*args, **kwargs):
        _desk_apps[0] += 1
        return real_create_app(*args, **kwargs)

    app.create_app = counted_create_app


@pytest.fixture(autouse=True)
def _desk_marker_is_true(request):
    """`make test-fast` leaves out tests marked desk; a unit test that starts the desk without the marker
    would slow the fast run down unseen, so it fails here."""
    before = _desk_apps[0]
    yield
    node = request.node
    if _desk_apps[0] > before and node.get_closest_marker("unit") and not node.get_closest_marker("desk"):
        pytest.fail(
            "this test starts the desk's web application: mark its module `pytestmark = pytest.mark.desk`",
            pytrace=False,
        )


def _share_knowledge_builds() -> None:
    """Building a knowledge directory's index takes seconds (the retriever's calibration), and hundreds of
    tests build a service over the same unchanged files. In this process a build is shared by every service
    over the same directory with byte-identical files (a build is never changed after it is made); any edit
    to the files makes a new one. The last few builds are kept."""
    import hashlib
    from collections import OrderedDict

    from bot.knowledge import service

    real_build = service.build
    kept: OrderedDict = OrderedDict()

    def digest(directory) -> str:
        h = hashlib.sha256()
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                path = os.path.join(root, name)
                h.update(os.path.relpath(path, directory).encode() + b"\0")
                with open(path, "rb") as f:
                    h.update(f.read() + b"\0")
        return h.hexdigest()

    def shared_build(directory):
        key = (os.path.realpath(directory), digest(directory))
        if key not in kept:
            kept[key] = real_build(directory)
            while len(kept) > 4:
                kept.popitem(last=False)
        kept.move_to_end(key)
        return kept[key]

    service.build = shared_build


FOLDER_MARKERS = ("unit", "e2e", "scale", "browser")  # tests/<folder>/ → pytest.mark.<folder>


PG_FIXTURES = {"pg_url", "pg_database", "pg_db", "pg_stack"}
REDIS_FIXTURES = {"redis_url", "private_redis"}


def _service_markers(item) -> list[str]:
    """What a test needs beyond this process, read from its folder, fixtures and parameters: Rasa itself
    (tests/unit/rasa_ext/), a both-database test's "postgresql" variant, PostgreSQL or Redis fixtures. A test
    reaching a service another way carries the marker itself (pytestmark)."""
    found = ["rasa"] if "rasa_ext" in Path(str(item.fspath)).parts[-2:-1] else []  # tests/unit/rasa_ext/
    names = set(getattr(item, "fixturenames", ()))
    params = getattr(getattr(item, "callspec", None), "params", {})
    if names & PG_FIXTURES or "postgresql" in params.values() or params.get("any_stack") == "scale":
        found.append("postgresql")
    if names & REDIS_FIXTURES:
        found.append("redis")
    return found


def pytest_collection_modifyitems(config, items):
    """Every test is marked by its folder (`-m unit`; `-m "not browser"` …) and by the shared services it
    needs (`postgresql`, `redis`; `make test-fast` leaves those out, and `rasa` and `slow`). Browser tests
    last: Playwright's sync API keeps an event loop on the main thread for the rest of the session, which
    would break asyncio-based tests collected after it."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        marker = next((m for m in FOLDER_MARKERS if m in parts[-3:-1]), None)
        if marker:
            item.add_marker(getattr(pytest.mark, marker))
        for service in _service_markers(item):
            item.add_marker(getattr(pytest.mark, service))
    items.sort(key=lambda item: "tests/browser/" in str(item.fspath).replace("\\", "/"))


@pytest.fixture
def action_services(tmp_path, monkeypatch):
    """Custom actions called directly (tests/unit/test_actions*.py): a fresh migrated SQLite database and
    every cached service of actions.services cleared before and after, so no test sees another's database."""
    from actions import services

    url = fresh_sqlite(tmp_path / "svc.db")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    caches = [f for f in vars(services).values() if callable(getattr(f, "cache_clear", None))]
    for cached in caches:
        cached.cache_clear()
    yield url
    for cached in caches:
        cached.cache_clear()
