"""Start running instances of the system on free ports (tests, benchmarks, scale checks).

`start_instance` runs the processes `make run` runs — action server, Rasa, desk — for one
Settings and returns a handle that can stop or restart each process. `local_settings`
makes throw-away settings on free ports; `scaled_settings` points an instance at shared
PostgreSQL + Redis (the scale profile of docs/deploy.md).
"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Optional

import psycopg2
import requests
from sqlalchemy.engine import make_url

from bot.db import engine_for, migrate
from bot.network import sync_network
from bot.redis_client import sync_redis_for
from bot.runtime.launcher import ROLES, child_specs
from bot.runtime.supervisor import Supervisor, free_port
from bot.settings import Settings

STARTUP_TIMEOUT = 300.0


def local_settings(var_dir: Path, token: str = "local-token", **overrides) -> Settings:
    """Settings on free ports with every file under `var_dir` (the embedded profile by default)."""
    base = dataclasses.replace(Settings.from_env(), database_url="", tracker_store_url="", redis_url="")
    return dataclasses.replace(
        base,
        rasa_port=free_port(),
        actions_port=free_port(),
        desk_port=free_port(),
        rasa_token=token,
        var_dir=var_dir,
        **overrides,
    ).with_generated_secrets()


@dataclasses.dataclass
class Instance:
    """One running action server + Rasa + desk (or the subset in `roles`)."""

    settings: Settings
    model: Path
    log_dir: Path
    supervisor: Supervisor
    roles: tuple[str, ...] = ROLES

    # ---- talking to it --------------------------------------------------------------------------
    def say(self, text: str, sender: str = "e2e-user") -> list[dict]:
        r = requests.post(
            self.settings.desk_channel_url,
            headers=self.settings.desk_channel_headers,
            json={"sender": sender, "message": text},
            timeout=30,
        )
        r.raise_for_status()
        return r.json()

    def parse(self, text: str) -> dict:
        r = requests.post(
            f"{self.settings.rasa_url}/model/parse",
            params={"token": self.settings.rasa_token},
            json={"text": text},
            timeout=30,
        )
        r.raise_for_status()
        return r.json()

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-tail:]}" for p in sorted(self.log_dir.glob("*.log"))
        )

    # ---- controlling it -------------------------------------------------------------------------
    def _child(self, role: str):
        return self.supervisor.children[self.roles.index(role)]

    def kill(self, role: str) -> None:
        """Kill one process hard (SIGKILL), as a crash would."""
        child = self._child(role)
        Supervisor._signal(child, signal.SIGKILL)
        child.proc.wait(timeout=30)

    def restart(self, role: str, timeout: float = STARTUP_TIMEOUT) -> None:
        """Start a killed (or running: it is stopped first) process again and wait until healthy."""
        child = self._child(role)
        if child.proc.poll() is None:
            Supervisor._signal(child, signal.SIGTERM)
            try:
                child.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                Supervisor._signal(child, signal.SIGKILL)
                child.proc.wait(timeout=10)
        child.proc = self.supervisor.spawn(child.spec)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.proc.poll() is not None:
                raise RuntimeError(f"{child.spec.name} exited with {child.proc.returncode}:\n{self.logs()}")
            try:
                if requests.get(child.spec.health_url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{child.spec.name} not healthy after {timeout:.0f} s:\n{self.logs()}")

    def stop(self) -> None:
        self.supervisor.stop()


def start_instance(
    settings: Settings,
    model: Optional[Path],
    roles: tuple[str, ...] = ROLES,
    prepare_db: bool = True,
    timeout: float = STARTUP_TIMEOUT,
) -> Instance:
    """Migrate the service database (unless told not to), start the processes, wait until healthy."""
    settings.prepare_var_dir()  # 0700, files 0600, umask 077 for the children too
    if prepare_db:
        migrate(settings.effective_database_url)
        sync_network(settings.effective_database_url)
    specs = child_specs(settings, str(model or ""), roles)
    for role, spec in zip(roles, specs):
        spec.log_file = str(settings.var_dir / f"{role}-{settings.desk_port}.log")
    sup = Supervisor(specs, log=lambda m: None)
    inst = Instance(settings, Path(model or ""), settings.var_dir, sup, roles)
    sup.start()
    try:
        sup.wait_healthy(timeout)
    except Exception as exc:
        sup.stop()
        raise RuntimeError(f"instance did not start: {exc}\n{inst.logs()}") from exc
    return inst


# ---- the scale profile: shared PostgreSQL + Redis ---------------------------------------------------

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_DEFAULT_URL = "redis://127.0.0.1:6379/0"


def _admin(admin_url: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE) as the admin user."""
    admin = psycopg2.connect(admin_url)
    try:
        admin.autocommit = True
        admin.cursor().execute(statement)
    finally:
        admin.close()


def create_pg_database(name: str, admin_url: str = PG_ADMIN_URL, template: str = "") -> str:
    """Create a PostgreSQL database, empty or as a copy of `template` (a database nobody is connected to);
    returns its SQLAlchemy URL (psycopg2)."""
    _admin(admin_url, f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    url = make_url(admin_url).set(drivername="postgresql+psycopg2", database=name)
    return url.render_as_string(hide_password=False)


def drop_pg_database(url: str, admin_url: str = PG_ADMIN_URL) -> None:
    for immediate in (False, True):
        engine_for(url, immediate).dispose()
    _admin(admin_url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def scaled_settings(
    var_dir: Path,
    database_url: str,
    tracker_store_url: str,
    redis_url: str,
    redis_prefix: str,
    token: str = "scale-token",
    **overrides,
) -> Settings:
    """Settings of one instance of the scale profile on free ports (all instances share the stores)."""
    return local_settings(
        var_dir,
        token=token,
        database_url=database_url,
        tracker_store_url=tracker_store_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        **overrides,
    )


@dataclasses.dataclass
class Cluster:
    """Several instances sharing PostgreSQL (service DB + Rasa tracker store) and Redis."""

    instances: list[Instance]
    database_url: str
    tracker_store_url: str
    redis_url: str
    redis_prefix: str

    def __getitem__(self, i: int) -> Instance:
        return self.instances[i]

    def __len__(self) -> int:
        return len(self.instances)

    def stop(self) -> None:
        for inst in self.instances:
            inst.stop()


def start_cluster(
    var_dir: Path,
    model: Path,
    n: int = 2,
    redis_url: str = REDIS_DEFAULT_URL,
    admin_url: str = PG_ADMIN_URL,
    token: str = "scale-token",
) -> Cluster:
    """n instances (action server + Rasa + desk each) on fresh PostgreSQL databases and a fresh
    Redis key prefix, started one after another (the databases are prepared once, first).
    The caller drops the databases with `drop_cluster_databases`."""
    tag = uuid.uuid4().hex[:10]
    db = create_pg_database(f"ys_service_{tag}", admin_url)
    tracker = create_pg_database(f"ys_tracker_{tag}", admin_url)
    prefix = f"ystest{tag}"
    settings = [scaled_settings(var_dir / f"i{i}", db, tracker, redis_url, prefix, token) for i in range(n)]
    migrate(db)
    sync_network(db)
    instances: list[Instance] = []
    try:
        for s in settings:
            instances.append(start_instance(s, model, prepare_db=False))
    except Exception:
        for inst in instances:
            inst.stop()
        drop_pg_database(db, admin_url)
        drop_pg_database(tracker, admin_url)
        raise
    return Cluster(instances, db, tracker, redis_url, prefix)


def drop_cluster_databases(cluster: Cluster, admin_url: str = PG_ADMIN_URL) -> None:
    """Drop the cluster's databases and Redis keys (after `cluster.stop()`)."""
    for url in (cluster.database_url, cluster.tracker_store_url):
        drop_pg_database(url, admin_url)
    try:
        r = sync_redis_for(cluster.redis_url)
        for key in r.scan_iter(f"{cluster.redis_prefix}*"):
            r.delete(key)
    except Exception:  # noqa: BLE001 - leftover keys expire or are harmless
        pass
