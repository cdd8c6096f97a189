"""Load: simulated enterprises hold scripted 10-turn conversations through the desk's web chat API.

    make bench-load                 (= python bench/load.py --profile both --enterprises 200)
    python bench/load.py --profile embedded --enterprises 50 --concurrency 10 --think-time 1
    python bench/load.py --desk-url http://127.0.0.1:8000 --database-url sqlite:///var/yuanshang.db

Starts the system itself, as `make run` would, for each profile:
  embedded — one instance (action server + Rasa + desk) on SQLite, in-process everything;
  scale    — two instances on fresh PostgreSQL databases and a Redis key prefix (dropped after);
             each enterprise's turns alternate between the two desks.
or talks to desks already running (--desk-url, repeatable; --database-url for the checks).

Each enterprise (bench/loadlib.py) asks a policy question, states a need with its company
name and 统一社会信用代码, fills in the ticket form the bot asks for, asks another question,
asks for 「我的工单」 and finally 「转人工」. Prints throughput, turn latency p50/p95/p99,
errors by kind, then checks the service database: every message stored once and answered,
exactly one ticket per scripted need, one handover per conversation. Exit code 1 on any FAIL.

Simulated enterprises come from distinct addresses (X-Forwarded-For; the started desks trust
the local proxy), as real ones would — the per-address rate limit is not what is measured.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

import loadlib  # noqa: E402
from bot.settings import Settings  # noqa: E402


def preflight(rasa_url: str, token: str, ents) -> tuple[int, list[str]]:
    """How many scripted needs the model classifies as scripted (so NLU misses are not
    mistaken for load errors); the messages it does not."""
    bad = []
    for e in ents:
        r = requests.post(f"{rasa_url}/model/parse", params={"token": token}, json={"text": e.need}, timeout=30)
        r.raise_for_status()
        got = r.json()["intent"]["name"]
        if got != e.category:
            bad.append(f"{e.need[-20:]} → {got} (scripted {e.category})")
    return len(ents) - len(bad), bad


def warm_up(desks: list[str]) -> None:
    """One question per desk, so the first measured turns do not pay for lazy loading."""
    for d in desks:
        s = requests.post(f"{d}/api/chat/session", timeout=30).json()
        requests.post(f"{d}/api/chat/message", headers={"X-Chat-Key": s["key"]}, timeout=120,
                      json={"conversation_id": s["conversation_id"], "text": "高企认定需要什么条件",
                            "client_msg_id": f"warmup-{time.time_ns()}"})


def report(profile: str, args, result: loadlib.RunResult, checks: list[loadlib.Check],
           extra: str = "") -> dict:
    s = loadlib.summary(result)
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(s["errors_by_kind"].items())) or "none"
    print(f"\n== profile {profile}{extra}")
    print(f"enterprises        {s['enterprises']}")
    print(f"concurrency        {s['concurrency']} enterprises talking at once, think time {args.think_time:g} s")
    print(f"wall time          {s['wall_s']:.1f} s")
    print(f"turns              {s['turns']}  ({s['turns'] / max(1, s['enterprises']):.1f} per enterprise)")
    print(f"throughput         {s['throughput']:.2f} turns/s")
    print(f"turn latency       p50 {s['p50']:.0f} ms   p95 {s['p95']:.0f} ms   p99 {s['p99']:.0f} ms   "
          f"mean {s['mean']:.0f} ms")
    print(f"errors             {s['errors']}  ({kinds})")
    print(f"429 retries        {s['rate_limited_retries']}")
    print(f"clarifications     {s['clarified']}  (need not understood at first; the enterprise clicked its category)")
    print("checks (service database):")
    for c in checks:
        print(f"  {'PASS' if c.ok else 'FAIL'}  {c.name}: {c.detail}")
    s.update(profile=profile, checks_ok=all(c.ok for c in checks))
    return s


def run_against(desks: list[str], db_url: str, args, profile: str, extra: str = "",
                rasa: tuple[str, str] | None = None) -> dict:
    """Play the enterprises against `desks`; check `db_url`. `rasa` = (url, token) for the preflight."""
    ents = loadlib.enterprises(args.enterprises, args.seed, loadlib.enterprise_names(db_url))
    if rasa is not None:
        ok, bad = preflight(*rasa, ents)
        print(f"{profile}: scripted needs the model classifies as scripted: {ok}/{len(ents)}"
              + "".join(f"\n  NLU: {b}" for b in bad[:5]))
    warm_up(desks)
    result = asyncio.run(loadlib.run(desks, ents, args.concurrency, args.think_time))
    checks = loadlib.check(db_url, result.transcripts, since=result.started_at)
    return report(profile, args, result, checks, extra)


def run_embedded(args, model: Path, var: Path) -> dict:
    from bot.stack import local_settings, start_instance

    settings = local_settings(var / "embedded", token="load-token")
    started = time.perf_counter()
    inst = start_instance(settings, model)
    try:
        print(f"\nembedded: 1 instance up in {time.perf_counter() - started:.0f} s")
        return run_against([settings.desk_url], settings.effective_database_url, args, "embedded",
                           " (1 instance: action server + Rasa + desk; SQLite; no Redis)",
                           (settings.rasa_url, settings.rasa_token))
    finally:
        inst.stop()


def run_scale(args, model: Path, var: Path) -> dict:
    from bot.stack import drop_cluster_databases, start_cluster

    started = time.perf_counter()
    cluster = start_cluster(var / "scale", model, n=2)
    try:
        print(f"\nscale: 2 instances up in {time.perf_counter() - started:.0f} s")
        first = cluster[0].settings
        return run_against([inst.settings.desk_url for inst in cluster.instances], cluster.database_url, args,
                           "scale", " (2 instances; PostgreSQL service DB + tracker store; Redis; turns alternate desks)",
                           (first.rasa_url, first.rasa_token))
    finally:
        cluster.stop()
        drop_cluster_databases(cluster)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=("embedded", "scale", "both"), default="both")
    ap.add_argument("--enterprises", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=20, help="enterprises talking at once (default 20)")
    ap.add_argument("--think-time", type=float, default=0.0,
                    help="mean seconds an enterprise waits between turns (0.5–1.5 × this; default 0)")
    ap.add_argument("--seed", type=int, default=None,
                    help="which enterprises and wordings (default 2026 on the fresh databases this script "
                         "starts; a new one per run against --desk-url, whose database keeps earlier runs)")
    ap.add_argument("--desk-url", action="append", default=[],
                    help="talk to running desk(s) instead of starting the system (repeat for several)")
    ap.add_argument("--database-url", default="", help="with --desk-url: their service database (for the checks)")
    args = ap.parse_args(argv)
    if args.seed is None:
        args.seed = time.time_ns() % 10 ** 9 if args.desk_url else 2026

    print(f"bench/load.py  {datetime.datetime.now().isoformat(timespec='minutes')}  "
          f"{os.cpu_count()} CPUs  enterprises {args.enterprises}  concurrency {args.concurrency}  "
          f"think time {args.think_time:g} s  seed {args.seed}")
    results = []
    if args.desk_url:
        db = args.database_url or Settings.from_env().effective_database_url
        results.append(run_against([u.rstrip("/") for u in args.desk_url], db, args, "running",
                                   f" ({len(args.desk_url)} desk(s) at {', '.join(args.desk_url)})"))
    else:
        from bot.training import ensure_model

        # Each simulated enterprise has its own address (X-Forwarded-For from this local "proxy").
        os.environ.setdefault("DESK_TRUSTED_PROXIES", "127.0.0.1/32 ::1/128")
        model = ensure_model(Settings.from_env().model_dir)
        profiles = ("embedded", "scale") if args.profile == "both" else (args.profile,)
        with tempfile.TemporaryDirectory(prefix="ys-load-") as tmp:
            for p in profiles:
                run = run_embedded if p == "embedded" else run_scale
                results.append(run(args, model, Path(tmp)))

    print("\n| profile | enterprises | concurrency | wall s | turns | turns/s | p50 ms | p95 ms | p99 ms | errors | checks |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for s in results:
        print(f"| {s['profile']} | {s['enterprises']} | {s['concurrency']} | {s['wall_s']:.0f} | {s['turns']} | "
              f"{s['throughput']:.2f} | {s['p50']:.0f} | {s['p95']:.0f} | {s['p99']:.0f} | {s['errors']} | "
              f"{'PASS' if s['checks_ok'] else 'FAIL'} |")
    return 0 if all(s["checks_ok"] for s in results) else 1


if __name__ == "__main__":
    sys.exit(main())
