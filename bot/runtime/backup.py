"""Backups of the service database and Rasa's tracker store, and their restore.

    python -m bot.runtime.backup backup  [--to DIR]                 # default var/backups/<UTC time>/
    python -m bot.runtime.backup restore --from DIR [--db URL] [--tracker URL] [--yes]

SQLite: the online backup API (a consistent copy while the desk and Rasa keep writing; WAL included).
PostgreSQL: ``pg_dump -Fc`` (one consistent snapshot per database), restored with ``pg_restore``.
Each backup directory is 0700, its files 0600, with a manifest.json (what, when, SHA-256 of each file).
A restore refuses to overwrite a database that already has tables unless given --yes. Databases from
--db/--tracker, else DATABASE_URL/TRACKER_STORE_URL, else var/yuanshang.db and var/rasa_tracker.db.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from bot.db import engine_for, private_file
from bot.logmask import mask
from bot.settings import Settings, private_dir

NAMES = ("service", "tracker")


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message is Chinese."""


def _sqlite_path(url: str) -> Optional[Path]:
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1].split("?", 1)[0]
    if not path or path == ":memory:":
        raise BackupError(f"无法备份内存数据库：{url}")
    return Path(path)


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as pg_dump/pg_restore take it (postgresql://…, no driver name)."""
    u = make_url(url).set(drivername="postgresql")
    return u.render_as_string(hide_password=False)


def _pg_tool(tool: str) -> str:
    exe = shutil.which(tool)
    if not exe:
        raise BackupError(f"找不到 {tool}：请安装 PostgreSQL 客户端（Debian: apt-get install postgresql-client）")
    return exe


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BackupError(f"{Path(cmd[0]).name} 失败：{mask(proc.stderr.strip())[:2000]}")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def backup_one(url: str, dest: Path, name: str) -> Optional[Path]:
    """One database into `dest`; None when a SQLite file does not exist yet (e.g. Rasa never started)."""
    path = _sqlite_path(url)
    if path is not None:
        if not path.exists():
            return None
        out = dest / f"{name}.db"
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        dst = sqlite3.connect(out)
        try:
            src.backup(dst)  # online backup API: consistent while others write
        finally:
            dst.close()
            src.close()
        os.chmod(out, 0o600)
        return out
    out = dest / f"{name}.dump"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    _run([_pg_tool("pg_dump"), "-Fc", "--no-owner", "--no-acl", "-f", str(out), "-d", libpq_url(url)])
    os.chmod(out, 0o600)
    return out


def backup(db_url: str, tracker_url: str, dest: Path) -> dict:
    """Both databases into the directory `dest` (created 0700); returns the manifest."""
    private_dir(dest)
    manifest = {"created_at": datetime.now(timezone.utc).isoformat(), "files": {}}
    for name, url in zip(NAMES, (db_url, tracker_url)):
        out = backup_one(url, dest, name)
        if out is not None:
            manifest["files"][name] = {
                "file": out.name,
                "sha256": _sha256(out),
                "kind": "sqlite" if out.suffix == ".db" else "pg_dump",
            }
    mf = dest / "manifest.json"
    fd = os.open(mf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=2)
    return manifest


def _has_tables(url: str) -> bool:
    path = _sqlite_path(url)
    if path is not None and (not path.exists() or path.stat().st_size == 0):
        return False
    return bool(inspect(engine_for(url)).get_table_names())


def restore_one(entry: dict, src_dir: Path, url: str, overwrite: bool = False) -> None:
    src = src_dir / entry["file"]
    if not src.exists():
        raise BackupError(f"备份文件不存在：{src}")
    if _sha256(src) != entry["sha256"]:
        raise BackupError(f"备份文件已损坏（校验值不符）：{src}")
    if not overwrite and _has_tables(url):
        raise BackupError(f"目标数据库已有数据，未恢复（确认覆盖请加 --yes）：{make_url(url).render_as_string()}")
    path = _sqlite_path(url)
    if entry["kind"] == "sqlite":
        if path is None:
            raise BackupError("SQLite 备份只能恢复到 SQLite 数据库（sqlite:///路径）")
        for immediate in (False, True):
            engine_for(url, immediate).dispose()
        private_file(path)
        src_conn = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        dst_conn = sqlite3.connect(path, timeout=30)
        try:
            src_conn.backup(dst_conn)
        finally:
            dst_conn.close()
            src_conn.close()
        return
    if path is not None:
        raise BackupError("pg_dump 备份只能恢复到 PostgreSQL 数据库")
    _run(
        [
            _pg_tool("pg_restore"),
            "--no-owner",
            "--no-acl",
            "--clean",
            "--if-exists",
            "--exit-on-error",
            "-d",
            libpq_url(url),
            str(src),
        ]
    )


def restore(src_dir: Path, db_url: str, tracker_url: str, overwrite: bool = False) -> list[str]:
    manifest_file = Path(src_dir) / "manifest.json"
    if not manifest_file.exists():
        raise BackupError(f"不是备份目录（缺少 manifest.json）：{src_dir}")
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    done = []
    for name, url in zip(NAMES, (db_url, tracker_url)):
        entry = manifest["files"].get(name)
        if entry:
            restore_one(entry, Path(src_dir), url, overwrite)
            done.append(name)
    return done


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bot.runtime.backup", description="备份与恢复服务数据库和对话记录库")
    sub = ap.add_subparsers(dest="command", metavar="命令")
    b = sub.add_parser("backup", help="在线备份（服务运行中即可执行）")
    r = sub.add_parser("restore", help="从备份目录恢复")
    b.add_argument("--to", type=Path, default=None, help="备份目录（默认 var/backups/<UTC 时间>）")
    r.add_argument("--from", dest="src", type=Path, required=True, help="备份目录（含 manifest.json）")
    r.add_argument("--yes", action="store_true", help="目标数据库已有数据时仍然覆盖")
    for p in (b, r):
        p.add_argument("--db", default=None, help="服务数据库 URL（默认 DATABASE_URL，否则 var/yuanshang.db）")
        p.add_argument(
            "--tracker", default=None, help="Rasa 对话记录库 URL（默认 TRACKER_STORE_URL，否则 var/rasa_tracker.db）"
        )
    args = ap.parse_args(argv)
    if args.command is None:
        ap.print_help(sys.stderr)
        return 2
    settings = Settings.from_env()
    db_url = args.db or settings.effective_database_url
    tracker_url = args.tracker or settings.effective_tracker_store_url
    try:
        if args.command == "backup":
            dest = args.to or settings.var_dir / "backups" / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            manifest = backup(db_url, tracker_url, dest)
            print(f"已备份到 {dest}：{'、'.join(manifest['files']) or '（无数据库文件）'}")
            return 0
        done = restore(args.src, db_url, tracker_url, overwrite=args.yes)
        print(f"已恢复：{'、'.join(done) or '（备份中没有数据库）'}")
        return 0
    except BackupError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
