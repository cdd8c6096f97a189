"""Runtime settings, read from the environment (documented in README "Configuration")."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The service's own data files (network, routing, SLA, canned replies, password list, jieba lexicon);
# not Rasa's training data (data/) and not the knowledge base (knowledge/).
SERVICE_DATA_DIR = Path(__file__).resolve().parent / "service_data"

# The desk's own Rasa input channel (bot/rasa_ext/desk_channel.py): path and the header carrying the secret.
DESK_CHANNEL_PATH = "/webhooks/desk/webhook"
DESK_CHANNEL_HEADER = "X-Desk-Secret"
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"环境变量 {name} 应为整数，实际为 {raw!r}") from exc


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
    tracker_store_url: str = ""       # Rasa's tracker store; "" = SQLite file var/rasa_tracker.db
    redis_url: str = ""               # lock store, hub bridge, rate limits, WeChat caches; "" = in-process
    redis_prefix: str = "yuanshang"   # namespace of every Redis key and channel
    tracker_retention_days: int = 180 # Rasa tracker events older than this are deleted (0 = keep)
    # Personal data (bot.privacy): chat messages, transcripts, question logs, notifications are deleted and
    # contacts/tickets anonymised this many days after the last activity (0 = keep). PERSONAL_DATA_RETENTION_DAYS.
    personal_data_retention_days: int = 1095
    chat_key_idle_days: int = 30      # a web chat key unused this long expires (CHAT_KEY_IDLE_DAYS, 0 = never)
    # Reverse proxies whose X-Forwarded-For / X-Real-IP name the client (addresses or networks,
    # space or comma separated; "none" = trust no header). DESK_TRUSTED_PROXIES, default loopback.
    trusted_proxies: str = "127.0.0.0/8 ::1"
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
    file_daily_bytes: int = 200 * 1024 * 1024     # what one conversation may send in 24 hours (FILE_DAILY_MB, 0 = no cap)

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
        return replace(self, rasa_channel_secret=self.rasa_channel_secret or secrets.token_urlsafe(32),
                       actions_token=self.actions_token or secrets.token_urlsafe(32),
                       rasa_token=self.rasa_token or secrets.token_urlsafe(24))

    def internal_ports_problem(self) -> str | None:
        """Why these settings must not start (Chinese + English), or None: in the scale profile (REDIS_URL or a
        PostgreSQL tracker store) Rasa / the action server listening beyond loopback need a configured
        RASA_CHANNEL_SECRET + RASA_TOKEN / ACTIONS_TOKEN (one fixed value on every host: a token generated per
        start would lock the desks of the other hosts out of Rasa's HTTP API)."""
        if not (self.redis_url or self.tracker_store_url.startswith("postgres")):
            return None
        missing = [f"{name}（{what} 监听 {bind}）" for name, what, bind, value in (
            ("RASA_CHANNEL_SECRET", "Rasa，RASA_BIND", self.rasa_bind, self.rasa_channel_secret),
            ("RASA_TOKEN", "Rasa HTTP API，RASA_BIND", self.rasa_bind, self.rasa_token),
            ("ACTIONS_TOKEN", "动作服务器，ACTIONS_BIND", self.actions_bind, self.actions_token))
            if bind not in LOOPBACK and not value]
        if not missing:
            return None
        return ("扩容模式下 Rasa 或动作服务器监听在本机以外的地址，却没有配置访问凭据，拒绝启动："
                + "、".join(missing) + "。请在环境中设置这些变量（所有主机同一个随机长字符串，"
                "例如 openssl rand -base64 32），或让它们只监听 127.0.0.1。\n"
                "Refusing to start: in the scale profile Rasa or the action server would listen beyond loopback "
                "without credentials; set RASA_CHANNEL_SECRET, RASA_TOKEN / ACTIONS_TOKEN or bind them to 127.0.0.1.")

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
    def from_env(cls) -> "Settings":
        env = os.environ
        var_dir = Path(env.get("VAR_DIR") or PROJECT_ROOT / "var")
        kwargs = dict(
            rasa_port=_int("RASA_PORT", 5005),
            actions_port=_int("ACTIONS_PORT", 5055),
            desk_port=_int("DESK_PORT", 8080),
            host=env.get("BIND_HOST", "127.0.0.1"),
            var_dir=var_dir,
            model_dir=Path(env.get("MODEL_DIR") or PROJECT_ROOT / "models"),
            knowledge_dir=Path(env.get("KNOWLEDGE_DIR") or PROJECT_ROOT / "knowledge"),
            database_url=env.get("DATABASE_URL", ""),
            tracker_store_url=env.get("TRACKER_STORE_URL", ""),
            redis_url=env.get("REDIS_URL", ""),
            redis_prefix=env.get("REDIS_PREFIX") or "yuanshang",
            tracker_retention_days=_int("TRACKER_RETENTION_DAYS", 180),
            personal_data_retention_days=_int("PERSONAL_DATA_RETENTION_DAYS", 1095),
            chat_key_idle_days=_int("CHAT_KEY_IDLE_DAYS", 30),
            trusted_proxies=env.get("DESK_TRUSTED_PROXIES", "127.0.0.0/8 ::1"),
            rasa_bind=env.get("RASA_BIND") or "127.0.0.1",
            actions_bind=env.get("ACTIONS_BIND") or "127.0.0.1",
            rasa_channel_secret=env.get("RASA_CHANNEL_SECRET", ""),
            actions_token=env.get("ACTIONS_TOKEN", ""),
            file_max_image_bytes=_int("FILE_MAX_IMAGE_MB", 10) * 1024 * 1024,
            file_max_document_bytes=_int("FILE_MAX_DOCUMENT_MB", 20) * 1024 * 1024,
            file_daily_bytes=_int("FILE_DAILY_MB", 200) * 1024 * 1024,
        )
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
            SANIC_HOST=self.actions_bind,  # rasa_sdk's bind address (it listens on 0.0.0.0 otherwise)
            PYTHONUNBUFFERED="1",
        )
        return env
