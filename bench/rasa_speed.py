"""Speed of the assistant: startup, /model/parse and REST-turn latency, Rasa RSS.

    make bench            (or: python bench/rasa_speed.py -n 200)

Starts the same processes as `make run` on free ports, then measures
sequential requests with messages from the held-out set (real Chinese text).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

from bot.rasa_ext.training import ensure_model  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.tooling.stack import local_settings, start_instance  # noqa: E402


def messages() -> list[str]:
    data = yaml.safe_load((ROOT / "tests/eval/nlu_heldout.yml").read_text(encoding="utf-8"))
    out = []
    for block in data["nlu"]:
        out += [l[2:].strip() for l in block["examples"].splitlines() if l.startswith("- ")]
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants (MB), from /proc."""
    total = 0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(next(l.split()[1] for l in status.splitlines() if l.startswith("VmRSS")))
            for t in Path(f"/proc/{p}/task").iterdir():
                pids += [int(c) for c in (t / "children").read_text().split()]
        except (FileNotFoundError, StopIteration, ProcessLookupError):
            continue
    return total / 1024


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=200, help="requests per measurement")
    args = ap.parse_args()
    model = ensure_model(Settings.from_env().model_dir)
    var = Path(tempfile.mkdtemp(prefix="bench-"))
    t0 = time.perf_counter()
    # A throw-away database and tracker store under `var`, never the real ones.
    inst = start_instance(local_settings(var, token="bench"), model)
    s = inst.settings
    try:
        startup = time.perf_counter() - t0
        msgs = messages()
        texts = [msgs[i % len(msgs)] for i in range(args.n)]
        http = requests.Session()
        http.post(f"{s.rasa_url}/model/parse", params={"token": s.rasa_token}, json={"text": "你好"})

        parse = []
        for t in texts:
            a = time.perf_counter()
            http.post(f"{s.rasa_url}/model/parse", params={"token": s.rasa_token}, json={"text": t}).raise_for_status()
            parse.append((time.perf_counter() - a) * 1000)
        turn = []
        for i, t in enumerate(texts):
            a = time.perf_counter()
            http.post(
                s.desk_channel_url, headers=s.desk_channel_headers, json={"sender": f"bench-{i % 20}", "message": t}
            ).raise_for_status()
            turn.append((time.perf_counter() - a) * 1000)
        rasa_pid = inst.supervisor.children[1].proc.pid
        print(f"model {model.name}; {args.n} sequential requests each")
        print(f"startup (spawn → action server, Rasa and desk healthy): {startup:.1f} s")
        print(f"/model/parse   p50 {statistics.median(parse):.1f} ms   p95 {pct(parse, 95):.1f} ms")
        print(f"REST turn      p50 {statistics.median(turn):.1f} ms   p95 {pct(turn, 95):.1f} ms")
        print(f"Rasa server RSS: {rss_mb(rasa_pid):.0f} MB")
    finally:
        inst.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
