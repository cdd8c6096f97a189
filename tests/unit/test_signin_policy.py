"""The staff password policy: 12+ characters, not all digits, not the username, not a common password;
applied wherever a password is set (create, passwd; CLI and functions), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import sys

import pytest

from bot.staff import accounts as cli


@pytest.mark.parametrize(
    "password, username, message",
    [
        ("Short-2026", "", "密码至少需要 12 位"),
        ("x" * 129, "", "密码不能超过 128 位"),
        (" Leading-space-2026", "", "密码首尾不能是空格"),
        ("123456789012", "", "密码不能全是数字"),
        ("20261203202612", "", "密码不能全是数字"),
        ("abababababab", "", "密码过于简单"),
        ("zhangwei.lee", "zhangwei.lee", "密码不能与用户名相同"),
        ("Zhangwei.Lee2026!", "zhangwei.lee", "密码不能与用户名相同"),
        ("qwertyqwerty", "", "该密码过于常见"),
        ("1qaz2wsx3edc", "", "该密码过于常见"),
        ("Password2026!", "", "该密码过于常见"),  # a listed word with digits and a symbol added
        ("PASSWORD123456", "", "该密码过于常见"),
    ],
)
def test_refused_passwords(password, username, message):
    with pytest.raises(cli.StaffError) as exc:
        cli.check_password_policy(password, username)
    assert message in str(exc.value)


@pytest.mark.parametrize(
    "password", ["Qcy-console-2026", "沣西新城-服务专员-07", "correct horse battery staple", "Zhangwei.Lee2026!"]
)
def test_accepted_passwords(password):
    cli.check_password_policy(password, "li")


def test_the_bundled_list_is_there_and_lower_case():
    common = cli.common_passwords()
    assert len(common) > 19000 and "password" in common and "123456" in common
    assert all(p == p.lower() for p in list(common)[:2000])


def test_policy_applies_to_create_and_passwd(db_url, monkeypatch, capsys):
    with pytest.raises(cli.StaffError, match="密码至少需要 12 位"):
        cli.create_staff(db_url, "li", "李明", "fengxi", "staff", "Qcy-2026-x")
    with pytest.raises(cli.StaffError, match="密码不能与用户名相同"):
        cli.create_staff(db_url, "wangfang.2026", "王芳", "fengxi", "staff", "WangFang.2026")
    assert cli.list_staff(db_url) == []
    cli.create_staff(db_url, "li", "李明", "fengxi", "staff", "Qcy-2026-secret")
    before = [r.id for r in cli.list_staff(db_url)]
    for bad, message in (("12345678901234", "密码不能全是数字"), ("iloveyou1234", "该密码过于常见")):
        monkeypatch.setattr(sys, "stdin", io.StringIO(bad + "\n"))
        assert cli.main(["--db", db_url, "passwd", "--username", "li", "--password-stdin"]) == 1
        assert message in capsys.readouterr().err
    with pytest.raises(cli.StaffError, match="密码至少需要 12 位"):
        cli.set_password(db_url, "li", "12345678")
    # the old password still works: nothing was changed by the refusals
    from bot.db import read_sessions
    from bot.db.schema import Staff

    with read_sessions(db_url)() as s:
        st = s.get(Staff, before[0])
    assert cli.verify_password(st.password_hash, "Qcy-2026-secret")
