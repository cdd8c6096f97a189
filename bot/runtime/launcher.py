"""`make run`: train if needed, start action server, Rasa and desk, print the URLs.

Usage: python -m bot.runtime.launcher
"""

from __future__ import annotations

import argparse
import signal
import sys

from bot.db import migrate
from bot.network import sync_network
from bot.rasa_ext import endpoints as rasa_endpoints
from bot.rasa_ext.training import ensure_model
from bot.runtime.supervisor import ChildDied, ChildSpec, Supervisor
from bot.settings import PROJECT_ROOT, Settings

STARTUP_TIMEOUT = 300.0


ROLES = ("actions", "rasa", "desk")


def child_specs(settings: Settings, model: str, only: tuple[str, ...] = ROLES) -> list[ChildSpec]:
    """The processes of one instance; `only` picks some (a scaled host may run fewer)."""
    py = sys.executable
    env = settings.child_env()
    root = str(PROJECT_ROOT)
    endpoints = rasa_endpoints.write(settings, settings.var_dir / f"endpoints-{settings.rasa_port}.yml")
    specs = [
        ChildSpec(
            "动作服务器 (action server)",
            [py, "-m", "bot.rasa_ext.action_server", "--actions", "actions", "--port", str(settings.actions_port)],
            health_url=f"{settings.actions_url}/health",
            env=env,
            cwd=root,
        ),
        ChildSpec(
            "Rasa 服务器",
            [
                py,
                "-m",
                "bot.rasa_ext.main",
                "run",
                "--model",
                model,
                "--enable-api",
                "--auth-token",
                settings.rasa_token,
                "--port",
                str(settings.rasa_port),
                "--interface",
                settings.rasa_bind,
                "--endpoints",
                str(endpoints),
                "--credentials",
                "credentials.yml",
            ],
            health_url=f"{settings.rasa_url}/status?token={settings.rasa_token}",
            env=env,
            cwd=root,
        ),
        ChildSpec(
            "服务台 (desk)",
            [py, "-m", "bot.desk"],
            health_url=f"{settings.desk_url}/healthz",
            env=env,
            cwd=root,
        ),
    ]
    return [spec for role, spec in zip(ROLES, specs) if role in only]


def _roles(value: str) -> tuple[str, ...]:
    roles = tuple(r.strip() for r in value.split(",") if r.strip())
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise argparse.ArgumentTypeError(f"--only 可选 {','.join(ROLES)}，实际为 {value!r}")
    return roles


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="启动原上管家全部服务（按需训练模型）")
    ap.add_argument(
        "--only",
        type=_roles,
        default=ROLES,
        help="只启动其中几个：actions,rasa,desk（扩容部署时每台主机可不同，见 docs/deploy.md）",
    )
    args = ap.parse_args(argv)

    try:
        settings = Settings.from_env()
        problem = settings.internal_ports_problem()
        if problem:
            print(f"错误：{problem}", file=sys.stderr)
            return 2
        # One random channel secret / action-server token per start unless configured (all children get it).
        settings = settings.with_generated_secrets()
        rasa_endpoints.render(settings)
    except rasa_endpoints.ConfigError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    settings.prepare_var_dir()  # 0700, files 0600, umask 077 for the children too
    migrate(settings.effective_database_url)
    sync_network(settings.effective_database_url)
    model = ensure_model(settings.model_dir) if "rasa" in args.only else ""

    sup = Supervisor(child_specs(settings, str(model), args.only))

    def on_signal(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        sup.start()
        sup.wait_healthy(STARTUP_TIMEOUT)
        print(
            "\n原上管家已启动：\n"
            f"  企业聊天页            {settings.desk_url}/\n"
            f"  服务台工作台          {settings.desk_url}/console/  (账号：make staff U=… N=… NODE=centre ROLE=admin)\n"
            f"  微信公众号 / 企业微信 {settings.desk_url}/wechat/mp 、/wechat/work（配置见 README）\n"
            f"  健康检查              {settings.desk_url}/healthz\n"
            f"  Rasa 服务器           {settings.rasa_url}/  (服务台渠道 /webhooks/desk/webhook 需 RASA_CHANNEL_SECRET，HTTP API 令牌见 RASA_TOKEN)\n"
            f"  动作服务器            {settings.actions_url}/health\n"
            "按 Ctrl-C 停止全部服务。\n",
            flush=True,
        )
        sup.watch()
    except KeyboardInterrupt:
        print("\n收到停止信号，正在停止全部服务…", flush=True)
        sup.stop()
        return 0
    except (ChildDied, TimeoutError) as exc:
        print(f"\n错误：{exc}。正在停止其余服务…", file=sys.stderr, flush=True)
        sup.stop()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
