"""Runtime settings, read from the environment (documented in README "Configuration").

The one place that reads the environment: `Settings.from_env()` reads every variable once, and everything
else receives the Settings object (the desk holds it under SETTINGS_KEY; the action server, the scheduler
and the command lines build their own). tests/unit/test_static_checks.py fails when another module reads
os.environ / os.getenv (launch code that hands an environment to child processes excepted).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Optional

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The service's own data files (network, routing, SLA, canned replies, password list, jieba lexicon);
# not Rasa's training data (data/) and not the knowledge base (knowledge/).
SERVICE_DATA_DIR = Path(__file__).resolve().parent / "service_data"

# The desk's own Rasa input channel (bot/rasa_ext/desk_channel.py): path and the header carrying the secret.
DESK_CHANNEL_PATH = "/webhooks/desk/webhook"
DESK_CHANNEL_HEADER = "X-Desk-Secret"
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"环境变量 {name} 应为整数，实际为 {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SystemExit(f"环境变量 {name} 应为数字，实际为 {raw!r}") from exc


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise SystemExit(f"环境变量 {name} 应为 1 或 0（开 / 关），实际为 {raw!r}")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(env: Mapping[str, str]) -> str:
    raw = (env.get("LOG_LEVEL") or "").strip().upper() or "INFO"
    raw = "WARNING" if raw == "WARN" else raw
    if raw not in LOG_LEVELS:
        raise SystemExit(f"环境变量 LOG_LEVEL 应为 {'、'.join(LOG_LEVELS)} 之一，实际为 {raw!r}")
    return raw


Rate = tuple[int, float]  # at most `count` events per `seconds` (count 0 = no limit), see bot/desk/ratelimit.py


def parse_rate(raw: str, default: Rate) -> Rate:
    """'20/60' → (20, 60.0); '' → the default; 'off' or '0' → (0, 0.0), no limit. ValueError names the problem."""
    raw = (raw or "").strip().lower()
    if not raw:
        return int(default[0]), float(default[1])
    if raw in ("off", "0", "none"):
        return 0, 0.0
    count, sep, seconds = raw.partition("/")
    try:
        limit, window = int(count), float(seconds) if sep else 60.0
    except ValueError:
        raise ValueError(f"限流设置 {raw!r} 无效，应为“次数/秒数”，例如 20/60") from None
    if limit < 0 or window <= 0:
        raise ValueError(f"限流设置 {raw!r} 无效，次数和秒数须为正数")
    return limit, window


def _rate(env: Mapping[str, str], name: str, default: Rate) -> Rate:
    try:
        return parse_rate(env.get(name) or "", default)
    except ValueError as exc:
        raise SystemExit(f"环境变量 {name}：{exc}") from None


def format_rate(rate: Rate) -> str:
    """The RATE_LIMIT_* text of a rate ('off' when it is no limit)."""
    count, seconds = rate
    return "off" if count <= 0 or seconds <= 0 else f"{count}/{seconds:g}"


PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """`path` created 0700 (existing contents tightened to 0600/0700); umask 077 for this process."""
    os.umask(PRIVATE_UMASK)
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    for root, dirs, files in os.walk(path):
        for d in dirs:
            p = Path(root, d)
            if not p.is_symlink():
                os.chmod(p, 0o700)
        for f in files:
            p = Path(root, f)
            if not p.is_symlink():
                os.chmod(p, 0o600)
    return path


def _reach(bind: str) -> str:
    """The address to connect to a server listening on `bind` (a wildcard is reached on loopback)."""
    return "127.0.0.1" if bind in ("", "0.0.0.0", "::", "[::]") else bind


@dataclass(frozen=True)
class WeChatSettings:
    """WeChat Official Account (WECHAT_MP_*) and WeCom application (WECOM_*), README "WeChat Official Account
    and WeCom" / docs/wechat.md. Whether a channel is complete (AES key, AppID, corp id) is checked by
    bot.desk.wechat.channel.WeChatConfig.from_settings, which names the missing variable."""

    mp_token: str = field(default="", repr=False)  # WECHAT_MP_TOKEN: turns /wechat/mp on
    mp_aes_key: str = field(default="", repr=False)  # WECHAT_MP_AES_KEY
    mp_appid: str = ""  # WECHAT_MP_APPID
    mp_secret: str = field(default="", repr=False)  # WECHAT_MP_SECRET
    api_base: str = "https://api.weixin.qq.com"  # WECHAT_API_BASE
    wecom_token: str = field(default="", repr=False)  # WECOM_TOKEN (+ WECOM_AES_KEY + WECOM_CORPID: /wechat/work)
    wecom_aes_key: str = field(default="", repr=False)  # WECOM_AES_KEY
    wecom_corpid: str = ""  # WECOM_CORPID
    wecom_secret: str = field(default="", repr=False)  # WECOM_SECRET
    wecom_agent_id: str = ""  # WECOM_AGENT_ID
    wecom_api_base: str = "https://qyapi.weixin.qq.com"  # WECOM_API_BASE
    reply_budget: float = 4.0  # WECHAT_REPLY_BUDGET: seconds before answering "success" and pushing instead
    timestamp_window: int = 300  # WECHAT_TIMESTAMP_WINDOW: seconds a callback's timestamp may be off

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "WeChatSettings":
        def get(name: str) -> str:
            return (env.get(name) or "").strip()

        return cls(
            mp_token=get("WECHAT_MP_TOKEN"),
            mp_aes_key=get("WECHAT_MP_AES_KEY"),
            mp_appid=get("WECHAT_MP_APPID"),
            mp_secret=get("WECHAT_MP_SECRET"),
            api_base=get("WECHAT_API_BASE") or cls.api_base,
            wecom_token=get("WECOM_TOKEN"),
            wecom_aes_key=get("WECOM_AES_KEY"),
            wecom_corpid=get("WECOM_CORPID"),
            wecom_secret=get("WECOM_SECRET"),
            wecom_agent_id=get("WECOM_AGENT_ID"),
            wecom_api_base=get("WECOM_API_BASE") or cls.wecom_api_base,
            reply_budget=_float(env, "WECHAT_REPLY_BUDGET", cls.reply_budget),
            timestamp_window=_int(env, "WECHAT_TIMESTAMP_WINDOW", cls.timestamp_window),
        )

    def env(self) -> dict[str, str]:
        return {
            "WECHAT_MP_TOKEN": self.mp_token,
            "WECHAT_MP_AES_KEY": self.mp_aes_key,
            "WECHAT_MP_APPID": self.mp_appid,
            "WECHAT_MP_SECRET": self.mp_secret,
            "WECHAT_API_BASE": self.api_base,
            "WECOM_TOKEN": self.wecom_token,
            "WECOM_AES_KEY": self.wecom_aes_key,
            "WECOM_CORPID": self.wecom_corpid,
            "WECOM_SECRET": self.wecom_secret,
            "WECOM_AGENT_ID": self.wecom_agent_id,
            "WECOM_API_BASE": self.wecom_api_base,
            "WECHAT_REPLY_BUDGET": f"{self.reply_budget:g}",
            "WECHAT_TIMESTAMP_WINDOW": str(self.timestamp_window),
        }


@dataclass(frozen=True)
class SmsSettings:
    """One-time codes by SMS (bot/tickets/sms.py, docs/identity.md); provider "" = no SMS (staff confirm)."""

    provider: str = ""  # SMS_PROVIDER: "" or "aliyun"
    access_key_id: str = field(default="", repr=False)  # ALIYUN_SMS_ACCESS_KEY_ID
    access_key_secret: str = field(default="", repr=False)  # ALIYUN_SMS_ACCESS_KEY_SECRET
    sign_name: str = ""  # ALIYUN_SMS_SIGN_NAME
    template_code: str = ""  # ALIYUN_SMS_TEMPLATE_CODE
    endpoint: str = "https://dysmsapi.aliyuncs.com/"  # ALIYUN_SMS_ENDPOINT

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "SmsSettings":
        def get(name: str) -> str:
            return (env.get(name) or "").strip()

        return cls(
            provider=get("SMS_PROVIDER").lower(),
            access_key_id=get("ALIYUN_SMS_ACCESS_KEY_ID"),
            access_key_secret=get("ALIYUN_SMS_ACCESS_KEY_SECRET"),
            sign_name=get("ALIYUN_SMS_SIGN_NAME"),
            template_code=get("ALIYUN_SMS_TEMPLATE_CODE"),
            endpoint=get("ALIYUN_SMS_ENDPOINT") or cls.endpoint,
        )

    def env(self) -> dict[str, str]:
        return {
            "SMS_PROVIDER": self.provider,
            "ALIYUN_SMS_ACCESS_KEY_ID": self.access_key_id,
            "ALIYUN_SMS_ACCESS_KEY_SECRET": self.access_key_secret,
            "ALIYUN_SMS_SIGN_NAME": self.sign_name,
            "ALIYUN_SMS_TEMPLATE_CODE": self.template_code,
            "ALIYUN_SMS_ENDPOINT": self.endpoint,
        }


DEFAULT_TRUSTED_PROXIES = "127.0.0.0/8 ::1"  # a reverse proxy on the same host (BIND_HOST=127.0.0.1)


@dataclass(frozen=True)
class Settings:
    rasa_port: int = 5005
    actions_port: int = 5055
    desk_port: int = 8080
    host: str = "127.0.0.1"
    # Rasa's HTTP API token (the desk reads trackers with it). "" = generated per start by the launcher
    # (with_generated_secrets); desks on other hosts of the scale profile need the one value: RASA_TOKEN.
    rasa_token: str = ""
    var_dir: Path = PROJECT_ROOT / "var"
    model_dir: Path = PROJECT_ROOT / "models"
    knowledge_dir: Path = PROJECT_ROOT / "knowledge"
    database_url: str = ""
    # Scale profile (docs/deploy.md): empty = embedded defaults on one machine.
    tracker_store_url: str = ""  # Rasa's tracker store; "" = SQLite file var/rasa_tracker.db
    redis_url: str = ""  # lock store, hub bridge, rate limits, WeChat caches; "" = in-process
    redis_prefix: str = "yuanshang"  # namespace of every Redis key and channel
    tracker_retention_days: int = 180  # Rasa tracker events older than this are deleted (0 = keep)
    # Personal data (bot.privacy): chat messages, transcripts, question logs, notifications are deleted and
    # contacts/tickets anonymised this many days after the last activity (0 = keep). PERSONAL_DATA_RETENTION_DAYS.
    personal_data_retention_days: int = 1095
    chat_key_idle_days: int = 30  # a web chat key unused this long expires (CHAT_KEY_IDLE_DAYS, 0 = never)
    # Reverse proxies whose X-Forwarded-For / X-Real-IP name the client (addresses or networks,
    # space or comma separated; "none" = trust no header). DESK_TRUSTED_PROXIES, default loopback.
    trusted_proxies: str = DEFAULT_TRUSTED_PROXIES
    # Closed internal ports: Rasa and the action server listen on loopback unless told otherwise; the desk's
    # Rasa channel needs RASA_CHANNEL_SECRET, every action-server call ACTIONS_TOKEN ("" = the launcher
    # generates one per start, see with_generated_secrets; the scale profile beyond loopback needs them set).
    rasa_bind: str = "127.0.0.1"
    actions_bind: str = "127.0.0.1"
    rasa_channel_secret: str = ""
    actions_token: str = ""
    # Files in conversations (bot/files, docs/files.md): the largest image / document accepted, in bytes.
    # FILE_MAX_IMAGE_MB / FILE_MAX_DOCUMENT_MB.
    file_max_image_bytes: int = 10 * 1024 * 1024
    file_max_document_bytes: int = 20 * 1024 * 1024
    file_daily_bytes: int = 200 * 1024 * 1024  # what one conversation may send in 24 hours (FILE_DAILY_MB, 0 = no cap)
    # The desk: sites that may embed the web chat and /figures (CSP frame-ancestors sources, space separated;
    # DESK_FRAME_ANCESTORS, checked by bot/desk/chat.py: an invalid source means 'self'), the console cookie
    # marked Secure behind a TLS proxy (CONSOLE_SECURE_COOKIE), the scheduler loop in this desk (DESK_SCHEDULER).
    frame_ancestors: str = "'self'"
    console_secure_cookie: bool = False
    desk_scheduler: bool = True
    log_level: str = "INFO"  # the desk's and the action server's (LOG_LEVEL)
    # Per-sender limits of the desk (bot/desk/ratelimit.py), (count, seconds), count 0 = no limit;
    # RATE_LIMIT_CHAT, _CHAT_IP, _SESSION_IP, _WECHAT, _LOGIN_IP, _FILE_IP, _POLICY_IP as "count/seconds" or "off".
    rate_limit_chat: Rate = (20, 60.0)  # web chat messages per conversation
    rate_limit_chat_ip: Rate = (60, 60.0)  # web chat messages per client address
    rate_limit_session_ip: Rate = (300, 600.0)  # new web conversations per client address
    rate_limit_wechat: Rate = (20, 60.0)  # WeChat / WeCom messages per user
    rate_limit_login_ip: Rate = (10, 900.0)  # failed console sign-ins per client address
    rate_limit_file_ip: Rate = (60, 3600.0)  # web chat files per client address
    rate_limit_policy_ip: Rate = (60, 60.0)  # POST /api/policy-check per client address
    wechat: WeChatSettings = field(default_factory=WeChatSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)

    @property
    def rasa_url(self) -> str:
        return f"http://{_reach(self.rasa_bind)}:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://{_reach(self.actions_bind)}:{self.actions_port}"

    @property
    def desk_channel_url(self) -> str:
        return f"{self.rasa_url}{DESK_CHANNEL_PATH}"

    @property
    def desk_channel_headers(self) -> dict[str, str]:
        return {DESK_CHANNEL_HEADER: self.rasa_channel_secret}

    def with_generated_secrets(self) -> "Settings":
        """These settings with a random channel secret / action-server token where none is configured."""
        return replace(
            self,
            rasa_channel_secret=self.rasa_channel_secret or secrets.token_urlsafe(32),
            actions_token=self.actions_token or secrets.token_urlsafe(32),
            rasa_token=self.rasa_token or secrets.token_urlsafe(24),
        )

    def internal_ports_problem(self) -> str | None:
        """Why these settings must not start (Chinese + English), or None: in the scale profile (REDIS_URL or a
        PostgreSQL tracker store) Rasa / the action server listening beyond loopback need a configured
        RASA_CHANNEL_SECRET + RASA_TOKEN / ACTIONS_TOKEN (one fixed value on every host: a token generated per
        start would lock the desks of the other hosts out of Rasa's HTTP API)."""
        if not (self.redis_url or self.tracker_store_url.startswith("postgres")):
            return None
        missing = [
            f"{name}（{what} 监听 {bind}）"
            for name, what, bind, value in (
                ("RASA_CHANNEL_SECRET", "Rasa，RASA_BIND", self.rasa_bind, self.rasa_channel_secret),
                ("RASA_TOKEN", "Rasa HTTP API，RASA_BIND", self.rasa_bind, self.rasa_token),
                ("ACTIONS_TOKEN", "动作服务器，ACTIONS_BIND", self.actions_bind, self.actions_token),
            )
            if bind not in LOOPBACK and not value
        ]
        if not missing:
            return None
        return (
            "扩容模式下 Rasa 或动作服务器监听在本机以外的地址，却没有配置访问凭据，拒绝启动："
            + "、".join(missing)
            + "。请在环境中设置这些变量（所有主机同一个随机长字符串，"
            "例如 openssl rand -base64 32），或让它们只监听 127.0.0.1。\n"
            "Refusing to start: in the scale profile Rasa or the action server would listen beyond loopback "
            "without credentials; set RASA_CHANNEL_SECRET, RASA_TOKEN / ACTIONS_TOKEN or bind them to 127.0.0.1."
        )

    @property
    def desk_url(self) -> str:
        return f"http://{self.host}:{self.desk_port}"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'yuanshang.db'}"

    @property
    def effective_tracker_store_url(self) -> str:
        return self.tracker_store_url or f"sqlite:///{self.var_dir / 'rasa_tracker.db'}"

    @property
    def scaled(self) -> bool:
        """True when Redis is configured: several instances may share the databases."""
        return bool(self.redis_url)

    def prepare_var_dir(self) -> Path:
        """var/ private to the service's user: umask 077 for this process and its children, the directory
        0700, what is already in it 0600 (files) / 0700 (directories): databases, secrets, reports, logs."""
        return private_dir(self.var_dir)

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> "Settings":
        """Every variable read once from `env` (default: this process's environment); a malformed value
        stops the process with a Chinese message naming the variable (SystemExit)."""
        env = os.environ if env is None else env
        var_dir = Path(env.get("VAR_DIR") or PROJECT_ROOT / "var")
        kwargs: dict[str, Any] = dict(
            rasa_port=_int(env, "RASA_PORT", 5005),
            actions_port=_int(env, "ACTIONS_PORT", 5055),
            desk_port=_int(env, "DESK_PORT", 8080),
            host=env.get("BIND_HOST", "127.0.0.1"),
            var_dir=var_dir,
            model_dir=Path(env.get("MODEL_DIR") or PROJECT_ROOT / "models"),
            knowledge_dir=Path(env.get("KNOWLEDGE_DIR") or PROJECT_ROOT / "knowledge"),
            database_url=env.get("DATABASE_URL", ""),
            tracker_store_url=env.get("TRACKER_STORE_URL", ""),
            redis_url=env.get("REDIS_URL", ""),
            redis_prefix=env.get("REDIS_PREFIX") or "yuanshang",
            tracker_retention_days=_int(env, "TRACKER_RETENTION_DAYS", 180),
            personal_data_retention_days=_int(env, "PERSONAL_DATA_RETENTION_DAYS", 1095),
            chat_key_idle_days=_int(env, "CHAT_KEY_IDLE_DAYS", 30),
            trusted_proxies=env.get("DESK_TRUSTED_PROXIES", DEFAULT_TRUSTED_PROXIES),
            rasa_bind=env.get("RASA_BIND") or "127.0.0.1",
            actions_bind=env.get("ACTIONS_BIND") or "127.0.0.1",
            rasa_channel_secret=env.get("RASA_CHANNEL_SECRET", ""),
            actions_token=env.get("ACTIONS_TOKEN", ""),
            file_max_image_bytes=_int(env, "FILE_MAX_IMAGE_MB", 10) * 1024 * 1024,
            file_max_document_bytes=_int(env, "FILE_MAX_DOCUMENT_MB", 20) * 1024 * 1024,
            file_daily_bytes=_int(env, "FILE_DAILY_MB", 200) * 1024 * 1024,
            frame_ancestors=(env.get("DESK_FRAME_ANCESTORS") or "").strip() or "'self'",
            console_secure_cookie=_bool(env, "CONSOLE_SECURE_COOKIE", False),
            desk_scheduler=_bool(env, "DESK_SCHEDULER", True),
            log_level=_log_level(env),
            wechat=WeChatSettings.from_env(env),
            sms=SmsSettings.from_env(env),
        )
        for f in RATE_FIELDS:
            kwargs[f] = _rate(env, f.upper(), getattr(cls, f))
        kwargs["rasa_token"] = env.get("RASA_TOKEN", "")
        return cls(**kwargs)

    def child_env(self) -> dict[str, str]:
        """Environment passed to every child process so they agree on ports and paths."""
        env = dict(os.environ)
        env.update(
            RASA_PORT=str(self.rasa_port),
            ACTIONS_PORT=str(self.actions_port),
            DESK_PORT=str(self.desk_port),
            RASA_TOKEN=self.rasa_token,
            VAR_DIR=str(self.var_dir),
            MODEL_DIR=str(self.model_dir),
            KNOWLEDGE_DIR=str(self.knowledge_dir),
            DATABASE_URL=self.effective_database_url,
            TRACKER_STORE_URL=self.effective_tracker_store_url,
            REDIS_URL=self.redis_url,
            REDIS_PREFIX=self.redis_prefix,
            TRACKER_RETENTION_DAYS=str(self.tracker_retention_days),
            PERSONAL_DATA_RETENTION_DAYS=str(self.personal_data_retention_days),
            CHAT_KEY_IDLE_DAYS=str(self.chat_key_idle_days),
            ACTION_ENDPOINT_URL=f"{self.actions_url}/webhook",
            RASA_BIND=self.rasa_bind,
            ACTIONS_BIND=self.actions_bind,
            RASA_CHANNEL_SECRET=self.rasa_channel_secret,
            ACTIONS_TOKEN=self.actions_token,
            FILE_MAX_IMAGE_MB=str(self.file_max_image_bytes // (1024 * 1024)),
            FILE_MAX_DOCUMENT_MB=str(self.file_max_document_bytes // (1024 * 1024)),
            FILE_DAILY_MB=str(self.file_daily_bytes // (1024 * 1024)),
            DESK_TRUSTED_PROXIES=self.trusted_proxies,
            DESK_FRAME_ANCESTORS=self.frame_ancestors,
            CONSOLE_SECURE_COOKIE="1" if self.console_secure_cookie else "0",
            DESK_SCHEDULER="1" if self.desk_scheduler else "0",
            LOG_LEVEL=self.log_level,
            **{f.upper(): format_rate(getattr(self, f)) for f in RATE_FIELDS},
            **self.wechat.env(),
            **self.sms.env(),
            SANIC_HOST=self.actions_bind,  # rasa_sdk's bind address (it listens on 0.0.0.0 otherwise)
            PYTHONUNBUFFERED="1",
        )
        return env


RATE_FIELDS = (
    "rate_limit_chat",
    "rate_limit_chat_ip",
    "rate_limit_session_ip",
    "rate_limit_wechat",
    "rate_limit_login_ip",
    "rate_limit_file_ip",
    "rate_limit_policy_ip",
)
