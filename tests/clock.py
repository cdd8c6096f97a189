"""One settable clock for the code that takes a `clock` (a callable returning "now"): schedulers, SLA,
sign-in throttling, the console, rate limits. Tests move it instead of sleeping."""

from __future__ import annotations

from datetime import timedelta
from typing import Any


class Clock:
    def __init__(self, now: Any):
        self.now = now

    def __call__(self) -> Any:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)
