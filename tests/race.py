"""`race`: several instances of something started together on threads, for the tests that check a job runs
exactly once however many schedulers (or tracker-store cleaners, policy pushers…) start at the same moment.

It was written for tests/unit/test_scheduler.py, and the policy-push and Rasa retention tests imported it from
there, which tied test files to each other (test modules don't import each other). It lives here once, next to
tests/clock.py.
"""

from __future__ import annotations

import threading


def race(n: int, make, run) -> list:
    """`n` schedulers (`make(i)`) started together on threads, each calling `run(scheduler)`;
    all their results. Any exception in a thread fails the test."""
    barrier = threading.Barrier(n)
    results, errors = [], []

    def instance(i):
        try:
            sched = make(i)
            barrier.wait()
            results.extend(run(sched))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=instance, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return results
