"""python -m bot.staff: create / passwd / list / unlock on a real database, Chinese messages."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db import read_sessions, sessions
from bot.db.schema import ConsoleAudit, Staff, StaffSession, utcnow
from bot.staff import accounts as cli
from bot.staff import throttle as login_throttle

ROOT = Path(__file__).resolve().parents[2]


def run(db, *args, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return cli.main(["--db", db, *args])


def row(db, username):
    with read_sessions(db)() as s:
        return s.scalars(select(Staff).where(Staff.username == username)).first()


def test_create_with_password_from_stdin(db_url, monkeypatch, capsys):
    code = run(
        db_url,
        "create",
        "--username",
        "li",
        "--name",
        "李明",
        "--node",
        "fengxi",
        "--role",
        "staff",
        "--password-stdin",
        stdin="Qcy-2026-secret\n",
        monkeypatch=monkeypatch,
    )
    out = capsys.readouterr().out
    assert code == 0 and "已创建账号 li（李明，工作人员，节点 fengxi）" in out
    st = row(db_url, "li")
    assert st.display_name == "李明" and st.node_id == "fengxi" and st.role == "staff" and st.active
    assert st.password_hash.startswith("$argon2id$") and "Qcy-2026-secret" not in st.password_hash
    assert cli.verify_password(st.password_hash, "Qcy-2026-secret")
    assert not cli.verify_password(st.password_hash, "Qcy-2026-secreT")


def test_create_asks_twice_with_getpass(db_url, monkeypatch, capsys):
    answers = iter(["Lead-pass-2026", "Lead-pass-2026"])
    prompts = []
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt: (prompts.append(prompt), next(answers))[1])
    assert run(db_url, "create", "--username", "Zhang", "--name", "张伟", "--node", "centre", "--role", "lead") == 0
    assert prompts == ["请输入密码：", "请再次输入密码："]
    assert row(db_url, "zhang").role == "lead"  # usernames are stored lower-case

    answers = iter(["Admin-pass-2026", "Admin-pass-2027"])
    assert run(db_url, "create", "--username", "wang", "--name", "王芳", "--node", "centre", "--role", "admin") == 1
    assert "两次输入的密码不一致" in capsys.readouterr().err
    assert row(db_url, "wang") is None


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["--node", "xianyang"], "Qcy-2026-secret", "服务网络中没有节点“xianyang”"),
        (["--node", "fengxi"], "short1", "密码至少需要 12 位"),
        (["--node", "fengxi"], "aaaaaaaaaaaa", "密码过于简单"),
        (["--node", "fengxi"], "123456789012", "密码不能全是数字"),
        (["--node", "fengxi"], "qwertyqwerty", "该密码过于常见"),
        (["--node", "fengxi"], "Password2026!", "该密码过于常见"),
    ],
)
def test_create_refuses_bad_input(db_url, monkeypatch, capsys, args, stdin, message):
    code = run(
        db_url,
        "create",
        "--username",
        "li",
        "--name",
        "李明",
        *args,
        "--password-stdin",
        stdin=stdin + "\n",
        monkeypatch=monkeypatch,
    )
    assert code == 1 and message in capsys.readouterr().err
    assert row(db_url, "li") is None


def test_unknown_node_is_refused_before_the_password_is_asked(db_url, monkeypatch, capsys):
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt: pytest.fail("password asked"))
    assert run(db_url, "create", "--username", "li", "--name", "李明", "--node", "nowhere") == 1
    assert "节点编号见 bot/service_data/network.yml" in capsys.readouterr().err


def test_duplicate_and_invalid_usernames(db_url, monkeypatch, capsys):
    cli.create_staff(db_url, "li", "李明", "fengxi", "staff", "Qcy-2026-secret")
    assert (
        run(
            db_url,
            "create",
            "--username",
            "LI",
            "--name",
            "李明二",
            "--node",
            "fengxi",
            "--password-stdin",
            stdin="Qcy-2026-secret\n",
            monkeypatch=monkeypatch,
        )
        == 1
    )
    assert "用户名“li”已存在" in capsys.readouterr().err
    assert (
        run(
            db_url,
            "create",
            "--username",
            "李明",
            "--name",
            "李明",
            "--node",
            "fengxi",
            "--password-stdin",
            stdin="Qcy-2026-secret\n",
            monkeypatch=monkeypatch,
        )
        == 1
    )
    assert "用户名应为" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # roles are a fixed choice
        run(db_url, "create", "--username", "x1", "--name", "X", "--node", "fengxi", "--role", "root")
    assert exc.value.code == 2


def test_passwd_ends_sessions_and_unlock_clears_the_lock(db_url, monkeypatch, capsys):
    info = cli.create_staff(db_url, "li", "李明", "fengxi", "staff", "Qcy-2026-secret")
    with sessions(db_url).begin() as s:
        s.add(StaffSession(id="x" * 64, staff_id=info.id, csrf_token="c", expires_at=utcnow() + timedelta(hours=8)))
    now = utcnow()
    for i in range(login_throttle.PAIR_MAX):  # five counted attempts from one address: paused there
        assert login_throttle.count_attempt(db_url, "li", "198.51.100.4", now + timedelta(seconds=10 * i)).allowed
    assert not login_throttle.count_attempt(db_url, "li", "198.51.100.4", now + timedelta(minutes=1)).allowed

    assert run(db_url, "list") == 0
    out = capsys.readouterr().out
    assert "li" in out and "李明" in out and "198.51.100.4 暂停登录至" in out

    assert run(db_url, "unlock", "--username", "li") == 0
    assert "已解除 li 的登录暂停" in capsys.readouterr().out
    assert login_throttle.count_attempt(db_url, "li", "198.51.100.4", now + timedelta(minutes=1)).allowed
    assert run(db_url, "list") == 0 and "暂停登录至" not in capsys.readouterr().out

    assert (
        run(db_url, "passwd", "--username", "li", "--password-stdin", stdin="New-pass-2026\n", monkeypatch=monkeypatch)
        == 0
    )
    assert "已重设 li 的密码" in capsys.readouterr().out
    st = row(db_url, "li")
    assert cli.verify_password(st.password_hash, "New-pass-2026")
    assert not cli.verify_password(st.password_hash, "Qcy-2026-secret")
    with read_sessions(db_url)() as s:
        assert s.scalars(select(StaffSession)).first() is None

    with read_sessions(db_url)() as s:
        actions = [a.action for a in s.scalars(select(ConsoleAudit).order_by(ConsoleAudit.id))]
    assert actions == ["staff_create", "staff_unlock", "staff_passwd"]

    assert run(db_url, "unlock", "--username", "nobody") == 1
    assert "没有用户名为“nobody”的工作人员" in capsys.readouterr().err


def test_list_filters_by_node(db_url, capsys):
    cli.create_staff(db_url, "li", "李明", "fengxi", "staff", "Qcy-2026-secret")
    cli.create_staff(db_url, "zhao", "赵磊", "fengdong", "lead", "Qcy-2026-secret")
    assert run(db_url, "list", "--node", "fengdong") == 0
    out = capsys.readouterr().out
    assert "zhao" in out and "节点负责人" in out and "li " not in out


def test_unreachable_database_is_a_clear_error(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'empty.db'}"  # exists but was never migrated
    assert cli.main(["--db", url, "list"]) == 1
    assert "无法访问数据库" in capsys.readouterr().err


def test_module_entry_point(db_url):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.staff",
            "--db",
            db_url,
            "create",
            "--username",
            "sun",
            "--name",
            "孙丽",
            "--node",
            "fengxi-ws-xinxi",
            "--password-stdin",
        ],
        input="Qcy-2026-secret\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "已创建账号 sun（孙丽，工作人员，节点 fengxi-ws-xinxi）" in proc.stdout
    with read_sessions(db_url)() as s:
        audit = s.scalars(select(ConsoleAudit)).one()  # account changes are audited too
    assert audit.action == "staff_create" and audit.actor.startswith("cli") and audit.detail.startswith("sun")


def test_the_product_hashes_with_argon2id_at_the_library_defaults():
    """The tests hash at argon2's minimum cost (tests/conftest.py); the product itself must not."""
    code = "from bot.staff.accounts import hash_password; print(hash_password('Qcy-2026-secret'))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), out.stdout
