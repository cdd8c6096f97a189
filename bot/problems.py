"""Validation that reports every problem at once: the data files staff edit (network, routing, knowledge, policy
rules) are checked whole, and one run lists all that is wrong — "<file>: <field>: <problem>" per line — instead of
stopping at the first. One exception shape for all of them, so callers (start-up checks, `validate` commands,
the console's editor) read `problems` the same way."""

from __future__ import annotations


class ProblemsError(Exception):
    """Every problem found; subclasses name what failed (`TITLE`)."""

    TITLE = "校验未通过"

    def __init__(self, problems: list[str] | str):
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        header = f"{self.TITLE}，共 {len(self.problems)} 个问题："
        super().__init__("\n".join([header, *("  " + p for p in self.problems)]))
