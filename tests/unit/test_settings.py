"""The one settings object: every variable parsed once by Settings.from_env, a bad value named in Chinese,
and child_env handing the same settings to the child processes."""

from __future__ import annotations

import dataclasses

import pytest

from bot.settings import RATE_FIELDS, Settings, format_rate, parse_rate


def test_defaults_are_the_embedded_setup():
    s = Settings.from_env({})
    assert s == dataclasses.replace(Settings(), var_dir=s.var_dir)  # the dataclass defaults, nothing else
    assert s.desk_scheduler and not s.console_secure_cookie and s.log_level == "INFO"
    assert s.frame_ancestors == "'self'" and s.trusted_proxies == "127.0.0.0/8 ::1"
    assert s.rate_limit_chat == (20, 60.0) and s.rate_limit_policy_ip == (60, 60.0)
    assert s.wechat.mp_token == "" and s.sms.provider == ""


def test_switches_rates_and_the_log_level_are_parsed():
    s = Settings.from_env(
        {
            "DESK_SCHEDULER": "0",
            "CONSOLE_SECURE_COOKIE": "Yes",
            "LOG_LEVEL": "warn",
            "RATE_LIMIT_CHAT": "3/30",
            "RATE_LIMIT_LOGIN_IP": "off",
            "DESK_TRUSTED_PROXIES": "none",
            "DESK_FRAME_ANCESTORS": "  'self' https://www.example.gov.cn ",
            "WECHAT_MP_TOKEN": " s3cr3t-mp ",
            "WECHAT_REPLY_BUDGET": "0.3",
            "SMS_PROVIDER": "Aliyun",
        }
    )
    assert not s.desk_scheduler and s.console_secure_cookie and s.log_level == "WARNING"
    assert s.rate_limit_chat == (3, 30.0) and s.rate_limit_login_ip == (0, 0.0) and s.trusted_proxies == "none"
    assert s.frame_ancestors == "'self' https://www.example.gov.cn"
    assert s.wechat.mp_token == "s3cr3t-mp" and s.wechat.reply_budget == 0.3 and s.sms.provider == "aliyun"
    assert "s3cr3t" not in repr(s)  # secrets stay out of logs of the settings


@pytest.mark.parametrize(
    "var, value, message",
    [
        ("DESK_SCHEDULER", "nein", "环境变量 DESK_SCHEDULER 应为 1 或 0"),
        ("CONSOLE_SECURE_COOKIE", "secure", "环境变量 CONSOLE_SECURE_COOKIE 应为 1 或 0"),
        ("LOG_LEVEL", "loud", "环境变量 LOG_LEVEL 应为 DEBUG"),
        ("RATE_LIMIT_CHAT", "lots", "环境变量 RATE_LIMIT_CHAT：限流设置 'lots' 无效"),
        ("RATE_LIMIT_POLICY_IP", "5/0", "环境变量 RATE_LIMIT_POLICY_IP：限流设置 '5/0' 无效"),
        ("WECHAT_TIMESTAMP_WINDOW", "5min", "环境变量 WECHAT_TIMESTAMP_WINDOW 应为整数"),
        ("WECHAT_REPLY_BUDGET", "soon", "环境变量 WECHAT_REPLY_BUDGET 应为数字"),
        ("DESK_PORT", "80a", "环境变量 DESK_PORT 应为整数"),
    ],
)
def test_a_bad_value_stops_the_start_naming_the_variable(var, value, message):
    with pytest.raises(SystemExit, match=message):
        Settings.from_env({var: value})


def test_rates_read_and_written_alike():
    assert parse_rate("", (20, 60)) == (20, 60.0) and parse_rate("5", (20, 60)) == (5, 60.0)
    for raw in ("20/60", "off", "1/0.5", "100/3600"):
        assert parse_rate(format_rate(parse_rate(raw, (1, 1))), (1, 1)) == parse_rate(raw, (1, 1))


def test_child_processes_get_the_same_settings():
    s = Settings.from_env(
        {
            "DESK_SCHEDULER": "0",
            "CONSOLE_SECURE_COOKIE": "1",
            "LOG_LEVEL": "DEBUG",
            "RATE_LIMIT_WECHAT": "2/60",
            "RATE_LIMIT_FILE_IP": "off",
            "DESK_FRAME_ANCESTORS": "https://a.example",
            "WECHAT_MP_TOKEN": "t",
            "WECOM_AGENT_ID": "1000002",
            "WECHAT_TIMESTAMP_WINDOW": "0",
            "SMS_PROVIDER": "aliyun",
            "ALIYUN_SMS_SIGN_NAME": "秦创原总窗口",
        }
    )
    child = Settings.from_env(s.child_env())
    expected = dataclasses.replace(
        s, database_url=s.effective_database_url, tracker_store_url=s.effective_tracker_store_url
    )
    assert child == expected
    assert {f.upper() for f in RATE_FIELDS} <= set(s.child_env())
