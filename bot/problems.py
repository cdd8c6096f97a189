"""Validation that reports every problem at once: the data files staff edit (network, routing, knowledge, policy
rules) are checked whole, and one run lists all that is wrong — "<file>: <field>: <problem>" per line — instead of
stopping at the first. One exception shape for all of them, so callers (start-up checks, `validate` commands,
the console's editor) read `problems` the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class ProblemsError(Exception):
    """Every problem found; subclasses name what failed (`TITLE`)."""

    TITLE = "校验未通过"

    def __init__(self, problems: list[str] | str):
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        header = f"{self.TITLE}，共 {len(self.problems)} 个问题："
        super().__init__("\n".join([header, *("  " + p for p in self.problems)]))


def read_yaml(path: str | Path, error: type[Exception]) -> Any:
    """The parsed YAML of a data file. A file that cannot be read or parsed raises `error` with one message
    shape for every data file — "<file>: 无法读取文件：…" or "<file>: 第N行: YAML 格式错误：…" — so staff who
    broke a file read where, whichever file it is."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: 无法读取文件：{exc.strerror or exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第{mark.line + 1}行" if mark is not None else "(文件)"
        raise error(f"{path}: {where}: YAML 格式错误：{getattr(exc, 'problem', None) or exc}") from exc
