"""Latency of POST /api/policy-check (政策体检) under 100 concurrent requests.

    python bench/policy_check_api.py [-n 3000] [-c 100]

Starts the desk alone (`python -m bot.desk`, its own process; Rasa and the action server are
not needed by this API) on a free port with a fresh SQLite database in a temporary VAR_DIR,
then keeps `-c` requests in flight from one aiohttp client until `-n` requests have been
answered. The bodies rotate through realistic profiles (full figures, the chat's partial
figures, a young company, a large one) and one bad request in ten (400). Requests come from
loopback without X-Forwarded-For, so the per-address limit does not apply (as for any local
tool). Prints p50 / p95 / p99 / max latency, throughput and status counts.

Client and desk share this machine's cores, so the figures are an upper bound for a server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Iterator, Optional

import aiohttp
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PATH = "/api/policy-check"
BODIES = [
    {
        "registered_on": "2021-03-01",
        "employees": 50,
        "tech_staff": 9,
        "revenue": [15_000_000, 18_000_000, 20_000_000],
        "rd_expense": [1_000_000, 1_500_000, 3_000_000],
        "rd_domestic_share": 1,
        "hightech_revenue_share": 0.8,
        "total_assets": 30_000_000,
        "taxable_income": 1_500_000,
        "ip": {"invention_patents": 1, "software_copyrights": 5},
        "industry": "软件和信息技术服务业",
    },
    {"employees": 60, "tech_staff": 9, "revenue": [15_000_000], "rd_expense": [2_000_000]},
    {
        "registered_on": "2025-06-01",
        "employees": 12,
        "tech_staff": 6,
        "revenue": [3_000_000],
        "rd_expense": [600_000],
        "ip": {"software_copyrights": 2},
        "industry": "集成电路设计",
    },
    {
        "registered_on": "2010-01-01",
        "employees": 800,
        "tech_staff": 120,
        "revenue": [300_000_000, 320_000_000, 350_000_000],
        "rd_expense": [9_000_000, 10_000_000, 11_000_000],
        "total_assets": 500_000_000,
        "taxable_income": 20_000_000,
        "industry": "批发和零售业",
    },
    {"employees": 50},
    {"taxable_income": 2_000_000, "employees": 80, "total_assets": 30_000_000},
    {"revenue": [1, 2], "rd_expense": [1, 2], "ip": {"utility_models": 3}},
    {"registered_on": "2024-05-01", "revenue": [20_000_000, 30_000_000], "rd_expense": [1_000_000, 1_500_000]},
    {"hightech_revenue_share": 0.7, "rd_domestic_share": 0.9, "employees": 200, "tech_staff": 30},
    {"employees": -1},  # bad request: 400
]


def _free_port() -> int:
    from bot.runtime.supervisor import free_port

    return free_port()


@contextlib.contextmanager
def desk_process(var_dir: Path, database_url: Optional[str] = None, timeout: float = 60.0, **env: str) -> Iterator[str]:
    """`python -m bot.desk` on a free port, Rasa and the action server on a closed port; yields its base
    URL and stops it (SIGTERM, then SIGKILL) afterwards. Without `database_url`, a fresh migrated SQLite
    database in `var_dir`."""
    var_dir.mkdir(parents=True, exist_ok=True)
    if not database_url:
        from bot.db import migrate
        from bot.network import sync_network

        database_url = f"sqlite:///{var_dir / 'policy-bench.db'}"
        migrate(database_url)
        sync_network(database_url)
    port, closed = _free_port(), _free_port()
    child_env = {
        **os.environ,
        "DESK_PORT": str(port),
        "RASA_PORT": str(closed),
        "ACTIONS_PORT": str(closed),
        "RASA_TOKEN": "bench",
        "VAR_DIR": str(var_dir),
        "DATABASE_URL": database_url,
        "DESK_SCHEDULER": "0",
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": "",
        "BIND_HOST": "127.0.0.1",
        **env,
    }
    log = open(var_dir / f"desk-{port}.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.desk"], cwd=ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"desk exited with {proc.returncode}: "
                    + (var_dir / f"desk-{port}.log").read_text(errors="replace")[-2000:]
                )
            try:
                if requests.post(base + PATH, json={}, timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"desk not answering after {timeout:.0f} s")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


async def load(base: str, total: int, concurrency: int) -> tuple[list[float], Counter, float]:
    latencies: list[float] = []
    statuses: Counter = Counter()
    next_index = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal next_index
        while next_index < total:
            i = next_index
            next_index += 1
            started = time.perf_counter()
            async with session.post(base + PATH, json=BODIES[i % len(BODIES)]) as resp:
                await resp.read()
                statuses[resp.status] += 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def one(body: dict) -> None:
            async with session.post(base + PATH, json=body) as resp:
                await resp.read()

        await asyncio.gather(*(one(b) for b in BODIES * 10))  # warm-up, connections opened
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, statuses, elapsed


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3000, help="requests to answer (default 3000)")
    parser.add_argument("-c", type=int, default=100, help="requests in flight (default 100)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="policy-bench-") as tmp:
        with desk_process(Path(tmp)) as base:
            latencies, statuses, elapsed = asyncio.run(load(base, args.n, args.c))
    ms = [x * 1000 for x in latencies]
    print(
        f"POST {PATH}: {len(ms)} requests, {args.c} in flight, one desk process "
        f"({platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPU cores shared "
        f"with the client)"
    )
    print(f"  status: {dict(sorted(statuses.items()))}")
    print(
        f"  latency ms: p50 {statistics.median(ms):.1f}  p95 {percentile(ms, 95):.1f}  "
        f"p99 {percentile(ms, 99):.1f}  max {max(ms):.1f}"
    )
    print(f"  throughput: {len(ms) / elapsed:.0f} requests/s")
    return 0 if set(statuses) <= {200, 400} else 1


if __name__ == "__main__":
    sys.exit(main())
