"""The launcher's process supervision, with real child processes."""

import sys
import time

import pytest

from bot.runtime.supervisor import ChildDied, ChildSpec, Supervisor

PY = sys.executable


def sleeper(name, seconds=60):
    return ChildSpec(name, [PY, "-c", f"import time; time.sleep({seconds})"])


def test_one_child_dying_stops_the_others():
    sup = Supervisor(
        [sleeper("a"), ChildSpec("b", [PY, "-c", "import sys; sys.exit(3)"]), sleeper("c")], log=lambda m: None
    )
    sup.start()
    try:
        with pytest.raises(ChildDied) as info:
            sup.watch(poll=0.05)
        assert info.value.name == "b" and info.value.code == 3
    finally:
        sup.stop()
    assert all(c.proc.poll() is not None for c in sup.children)


def test_stop_terminates_children_that_ignore_sigterm():
    ignore = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    )
    sup = Supervisor([ChildSpec("stubborn", [PY, "-c", ignore])], log=lambda m: None, stop_timeout=0.5)
    sup.start()
    time.sleep(0.5)
    started = time.monotonic()
    sup.stop()
    assert sup.children[0].proc.poll() is not None
    assert time.monotonic() - started < 5


def test_wait_healthy_times_out_with_the_names_of_unready_children():
    spec = sleeper("never-ready")
    spec.health_url = "http://127.0.0.1:9/healthz"
    sup = Supervisor([spec], log=lambda m: None)
    sup.start()
    try:
        with pytest.raises(TimeoutError, match="never-ready"):
            sup.wait_healthy(timeout=1.0)
    finally:
        sup.stop()
