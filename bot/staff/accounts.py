"""Staff accounts of the console: password hashing (argon2id) and the admin CLI.

    python -m bot.staff create --username li --name 李明 --node fengxi --role staff
    python -m bot.staff passwd --username li
    python -m bot.staff list [--node fengxi]
    python -m bot.staff unlock --username li
    python -m bot.staff disable --username li      (enable: sign-in allowed again)

Passwords are read twice with getpass (or once from stdin with --password-stdin, for
scripts). Only argon2id hashes are stored. The password policy: 12 to 128 characters, not
all digits, not the username, not on the bundled list of common passwords
(bot/service_data/common_passwords.txt.gz, also with trailing digits and symbols removed), not
mostly one character. A disabled account cannot sign in and its open sessions end. This module needs no web framework, so the
CLI works on a machine where only the database is reachable.
"""

from __future__ import annotations

import argparse
import getpass
import gzip
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from bot import clock
from bot.db import read_sessions, sessions
from bot.db.schema import ConsoleAudit, ServiceNode, Staff, StaffSession, utcnow
from bot.network import default_network
from bot.settings import SERVICE_DATA_DIR, Settings
from bot.staff.throttle import clear_account, paused_addresses

ROLES = ("staff", "lead", "admin")
ROLE_LABELS = {"staff": "工作人员", "lead": "节点负责人", "admin": "管理员"}
MIN_PASSWORD = 12
MAX_PASSWORD = 128
COMMON_PASSWORDS = SERVICE_DATA_DIR / "common_passwords.txt.gz"
_TRAILING = re.compile(r"[\W\d_]+$")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")

HASHER = PasswordHasher()  # argon2id, library defaults (time 3, memory 64 MiB, 4 lanes)


class StaffError(ValueError):
    """A request the staff administration refuses; the message is for the operator."""


# ---- passwords ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def common_passwords() -> frozenset:
    """The bundled list of common passwords (lower case); see bot/service_data/common_passwords.md."""
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as f:
        return frozenset(line.strip() for line in f if line.strip())


def is_common_password(password: str) -> bool:
    """On the list as it is, or once trailing digits and symbols are removed ("Password2026!")."""
    low = password.strip().lower()
    common = common_passwords()
    stem = _TRAILING.sub("", low)
    return low in common or (len(stem) >= 4 and stem in common)


def check_password_policy(password: str, username: str = "") -> None:
    """StaffError (a message for the operator) unless `password` may be used."""
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"密码至少需要 {MIN_PASSWORD} 位。")
    if len(password) > MAX_PASSWORD:
        raise StaffError(f"密码不能超过 {MAX_PASSWORD} 位。")
    if password.strip() != password:
        raise StaffError("密码首尾不能是空格。")
    if password.isdigit():
        raise StaffError("密码不能全是数字，请混合使用字母、数字和符号。")
    if len(set(password)) < 4:
        raise StaffError("密码过于简单，请混合使用字母、数字和符号。")
    name = normalise_username(username)
    if name and (password.lower() == name or _TRAILING.sub("", password.lower()) == name):
        raise StaffError("密码不能与用户名相同。")
    if is_common_password(password):
        raise StaffError("该密码过于常见，容易被猜中，请换一个。")


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(password_hash: Optional[str], password: str) -> bool:
    """True if `password` matches; never raises for a malformed or missing hash."""
    if not password_hash:
        dummy_verify(password)
        return False
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return HASHER.hash("no-such-user-placeholder")


def dummy_verify(password: str) -> None:
    """Spend the same time as a real check, so unknown usernames cannot be told apart by timing."""
    try:
        HASHER.verify(_dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        pass


def needs_rehash(password_hash: str) -> bool:
    try:
        return HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


# ---- accounts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffInfo:
    id: int
    username: str
    display_name: str
    node_id: str
    role: str
    active: bool
    failed_logins: int
    locked_until: Optional[datetime]


def _info(s: Staff) -> StaffInfo:
    return StaffInfo(
        s.id, s.username, s.display_name, s.node_id, s.role, bool(s.active), s.failed_logins or 0, s.locked_until
    )


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def _validate_node(node_id: str) -> None:
    network = default_network()
    if node_id not in network:
        known = "、".join(n.id for n in network.nodes() if n.kind in ("centre", "new_city"))
        raise StaffError(f"服务网络中没有节点“{node_id}”。节点编号见 bot/service_data/network.yml，例如：{known}")


def create_staff(db_url: str, username: str, display_name: str, node_id: str, role: str, password: str) -> StaffInfo:
    username = normalise_username(username)
    if not USERNAME.match(username):
        raise StaffError("用户名应为 2–32 位小写字母、数字或 . _ -，并以字母或数字开头。")
    display_name = (display_name or "").strip()
    if not display_name or len(display_name) > 64:
        raise StaffError("请填写姓名（不超过 64 个字）。")
    if role not in ROLES:
        raise StaffError(f"角色应为 {' / '.join(ROLES)}（{'、'.join(ROLE_LABELS.values())}）之一。")
    _validate_node(node_id)
    check_password_policy(password, username)
    password_hash = hash_password(password)
    with sessions(db_url).begin() as s:
        if s.get(ServiceNode, node_id) is None:
            raise StaffError(f"数据库中还没有节点“{node_id}”，请先启动一次系统（make run）以同步服务网络。")
        if s.scalars(select(Staff).where(Staff.username == username)).first() is not None:
            raise StaffError(f"用户名“{username}”已存在。")
        staff = Staff(
            username=username,
            display_name=display_name,
            node_id=node_id,
            role=role,
            password_hash=password_hash,
            active=True,
            failed_logins=0,
        )
        s.add(staff)
        s.flush()
        _audit(s, "staff_create", username, f"{role} @ {node_id}")
        return _info(staff)


def _operator() -> str:
    """Who ran the command (the OS account), for the audit trail."""
    try:
        return f"cli:{getpass.getuser()}"[:128]
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "cli"


def _audit(
    s, action: str, username: str, detail: str | None = None, actor: str | None = None, ip: str | None = None
) -> None:
    s.add(
        ConsoleAudit(
            at=utcnow(),
            actor=(actor or _operator())[:128],
            action=action,
            ip=ip,
            detail=f"{username}" + (f"：{detail}" if detail else ""),
        )
    )


def _get(s, username: str) -> Staff:
    staff = s.scalars(select(Staff).where(Staff.username == normalise_username(username))).first()
    if staff is None:
        raise StaffError(f"没有用户名为“{normalise_username(username)}”的工作人员。")
    return staff


def set_password(db_url: str, username: str, password: str) -> StaffInfo:
    """New password; every open console session of the account is ended."""
    check_password_policy(password, username)
    password_hash = hash_password(password)
    with sessions(db_url).begin() as s:
        staff = _get(s, username)
        staff.password_hash = password_hash
        staff.failed_logins = 0
        staff.locked_until = None
        s.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id))
        _audit(s, "staff_passwd", staff.username)
        return _info(staff)


def unlock(db_url: str, username: str, actor: str | None = None, ip: str | None = None) -> StaffInfo:
    """Lift every sign-in pause and delay of the account (all addresses)."""
    with sessions(db_url).begin() as s:
        staff = _get(s, username)
        staff.failed_logins = 0
        staff.locked_until = None
        cleared = clear_account(s, staff.username)
        _audit(s, "staff_unlock", staff.username, f"{cleared} 个计数已清除" if cleared else None, actor, ip)
        return _info(staff)


def set_active(db_url: str, username: str, active: bool, actor: str | None = None, ip: str | None = None) -> StaffInfo:
    """Disable (no sign-in; every open session ends at once) or enable an account again."""
    with sessions(db_url).begin() as s:
        staff = _get(s, username)
        staff.active = bool(active)
        ended = 0
        if not active:
            ended = s.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id)).rowcount or 0
        _audit(
            s,
            "staff_enable" if active else "staff_disable",
            staff.username,
            None if active else f"结束会话 {ended} 个",
            actor,
            ip,
        )
        return _info(staff)


def paused(db_url: str, username: str, now: datetime | None = None) -> list[tuple[str, datetime]]:
    """(address, until) where sign-in to `username` is paused after repeated failures."""
    with read_sessions(db_url)() as s:
        return paused_addresses(s, normalise_username(username), now or utcnow())


def list_staff(db_url: str, node_id: Optional[str] = None) -> list[StaffInfo]:
    with read_sessions(db_url)() as s:
        q = select(Staff).order_by(Staff.node_id, Staff.username)
        if node_id:
            q = q.where(Staff.node_id == node_id)
        return [_info(x) for x in s.scalars(q)]


# ---- command line -------------------------------------------------------------------------------


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    first = getpass.getpass("请输入密码：")
    second = getpass.getpass("请再次输入密码：")
    if first != second:
        raise StaffError("两次输入的密码不一致。")
    return first


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot.staff", description="工作台账号管理")
    p.add_argument("--db", default=None, help="数据库 URL（默认取环境变量 DATABASE_URL，否则 var/yuanshang.db）")
    sub = p.add_subparsers(dest="command", metavar="命令")
    c = sub.add_parser("create", help="新建账号")
    c.add_argument("--username", required=True, help="登录用户名（小写字母、数字）")
    c.add_argument("--name", required=True, help="姓名")
    c.add_argument("--node", required=True, help="所属服务节点编号，如 fengxi、centre")
    c.add_argument(
        "--role", default="staff", choices=ROLES, help="角色：staff 工作人员 / lead 节点负责人 / admin 管理员"
    )
    c.add_argument("--password-stdin", action="store_true", help="从标准输入读取密码（一行）")
    w = sub.add_parser("passwd", help="重设密码（并使该账号已登录的会话失效）")
    w.add_argument("--username", required=True)
    w.add_argument("--password-stdin", action="store_true", help="从标准输入读取密码（一行）")
    ls = sub.add_parser("list", help="列出账号")
    ls.add_argument("--node", default=None, help="只列出某个节点的账号")
    u = sub.add_parser("unlock", help="解除登录暂停（所有地址）")
    u.add_argument("--username", required=True)
    d = sub.add_parser("disable", help="停用账号（不能登录，已登录的会话立即退出）")
    d.add_argument("--username", required=True)
    en = sub.add_parser("enable", help="重新启用已停用的账号")
    en.add_argument("--username", required=True)
    return p


def _default_db() -> str:
    return Settings.from_env().effective_database_url


def _fmt_time(dt: Optional[datetime]) -> str:
    return clock.local(dt).strftime("%m-%d %H:%M") if dt else ""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return 2
    db_url = args.db or _default_db()
    try:
        if args.command == "create":
            _validate_node(args.node)  # before asking for a password
            password = _read_password(args.password_stdin)
            info = create_staff(db_url, args.username, args.name, args.node, args.role, password)
            print(f"已创建账号 {info.username}（{info.display_name}，{ROLE_LABELS[info.role]}，节点 {info.node_id}）。")
        elif args.command == "passwd":
            password = _read_password(args.password_stdin)
            info = set_password(db_url, args.username, password)
            print(f"已重设 {info.username} 的密码，该账号已登录的会话均已退出。")
        elif args.command == "unlock":
            info = unlock(db_url, args.username)
            print(f"已解除 {info.username} 的登录暂停。")
        elif args.command == "disable":
            info = set_active(db_url, args.username, False)
            print(f"已停用账号 {info.username}，该账号已登录的会话均已退出。")
        elif args.command == "enable":
            info = set_active(db_url, args.username, True)
            print(f"已重新启用账号 {info.username}。")
        elif args.command == "list":
            rows = list_staff(db_url, args.node)
            if not rows:
                print("没有账号。")
            for r in rows:
                state = "停用" if not r.active else ""
                pauses = paused(db_url, r.username)
                if pauses:
                    state = (state + " " if state else "") + "、".join(
                        f"{addr} 暂停登录至 {_fmt_time(until)}" for addr, until in pauses
                    )
                print(f"{r.username:<16}{r.display_name:<10}{ROLE_LABELS.get(r.role, r.role):<8}{r.node_id:<28}{state}")
    except StaffError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\n已取消。", file=sys.stderr)
        return 130
    except Exception as exc:  # database unreachable, not migrated, …
        if isinstance(exc, SQLAlchemyError):
            print(
                f"错误：无法访问数据库（{db_url.split('@')[-1]}），请确认地址正确并已完成迁移。"
                f"\n详情：{exc.__class__.__name__}: {str(exc).splitlines()[0]}",
                file=sys.stderr,
            )
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
