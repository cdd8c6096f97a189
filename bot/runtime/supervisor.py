"""Run several child processes as one system: all up, or all down.

`make run` starts the action server, Rasa and the desk. If any child dies
the others are stopped (a half-running system answers users wrongly), and
Ctrl-C / SIGTERM stops every child before the launcher exits.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Callable, Sequence


@dataclass
class ChildSpec:
    name: str
    argv: Sequence[str]
    health_url: str | None = None
    env: dict[str, str] | None = None
    cwd: str | None = None
    log_file: str | None = None  # None: inherit the launcher's stdout/stderr


@dataclass
class Child:
    spec: ChildSpec
    proc: subprocess.Popen = field(repr=False)


def free_port() -> int:
    """A TCP port that was free a moment ago (for tests and benchmarks)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - local URL
            return 200 <= resp.status < 300
    except Exception:
        return False


class ChildDied(RuntimeError):
    def __init__(self, name: str, code: int | None):
        super().__init__(f"{name} 意外退出（退出码 {code}）")
        self.name = name
        self.code = code


class Supervisor:
    def __init__(self, specs: Sequence[ChildSpec], log: Callable[[str], None] = print, stop_timeout: float = 10.0):
        self.specs = list(specs)
        self.children: list[Child] = []
        self.log = log
        self.stop_timeout = stop_timeout
        self._stopping = False

    def start(self) -> None:
        for spec in self.specs:
            proc = self.spawn(spec)
            self.children.append(Child(spec, proc))
            self.log(f"已启动 {spec.name}（PID {proc.pid}）")

    @staticmethod
    def spawn(spec: ChildSpec) -> subprocess.Popen:
        """Start one child in its own session (so a stop reaches its whole process group)."""
        out = open(spec.log_file, "ab") if spec.log_file else None  # noqa: SIM115
        try:
            return subprocess.Popen(
                list(spec.argv),
                env=spec.env,
                cwd=spec.cwd,
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
                start_new_session=True,
            )
        finally:
            if out:
                out.close()

    def check_alive(self) -> None:
        for child in self.children:
            code = child.proc.poll()
            if code is not None:
                raise ChildDied(child.spec.name, code)

    def wait_healthy(self, timeout: float) -> None:
        """Block until every child with a health URL answers 2xx."""
        deadline = time.monotonic() + timeout
        pending = [c for c in self.children if c.spec.health_url]
        while pending:
            self.check_alive()
            pending = [c for c in pending if not http_ok(c.spec.health_url)]
            if not pending:
                return
            if time.monotonic() > deadline:
                names = "、".join(c.spec.name for c in pending)
                raise TimeoutError(f"{names} 在 {timeout:.0f} 秒内未就绪")
            time.sleep(0.5)

    def watch(self, poll: float = 0.5) -> None:
        """Return (by raising ChildDied) as soon as one child exits."""
        while True:
            self.check_alive()
            time.sleep(poll)

    def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        running = [c for c in self.children if c.proc.poll() is None]
        for child in running:
            self._signal(child, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for child in running:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.proc.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                self._signal(child, signal.SIGKILL)
                child.proc.wait()
            self.log(f"已停止 {child.spec.name}")

    @staticmethod
    def _signal(child: Child, sig: int) -> None:
        try:
            os.killpg(child.proc.pid, sig)  # the child's whole process group
        except (ProcessLookupError, PermissionError):
            pass
