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

Typed = clicked (--typed-share, default 0.5): that share of the enterprises types instead of
clicking — a button's number ("2") or its words ("登记需求，专员跟进"), 「确认无误，提交」 at the
form's summary, 「手机号是139…」 for the mobile. The desk maps numbers and words to the button
(bot.dialogue.options); free wording like 「确认无误，提交」 is the NLU's and the form's job. A typed
turn that does not get where the click would have is counted ("typed misses", by kind) and the
enterprise then clicks, so one miss does not spoil the database checks of the whole run.

Simulated enterprises come from distinct addresses (X-Forwarded-For; the started desks trust
the local proxy), as real ones would — the per-address rate limit is not what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Optional

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

import loadlib  # noqa: E402

from bot import clock  # noqa: E402
from bot.settings import Settings  # noqa: E402

# ---- typed variants: the same conversations, typed instead of clicked --------------------------------

TYPED_CONFIRM = ("确认无误，提交", "{number}", "确认提交")  # at the summary: free words, the number, the words


class TypingClient(loadlib.ChatClient):
    """An enterprise that types where the script clicks: the button's number or its words.

    Each typed turn is checked against what the click would have achieved (the form started,
    the next field asked, the ticket filed); if it did not get there, the miss is counted on the
    transcript (`typed`, `typed_miss`) and the click follows, so the conversation stays on track."""

    def __init__(self, http, desks, ent: loadlib.Enterprise):
        super().__init__(http, desks, ent)
        self.buttons: list[dict] = []
        self.transcript.typed = Counter()  # kind → typed turns
        self.transcript.typed_miss = Counter()  # kind → typed turns that did not do what a click does

    def _typed(self, kind: str, text: str, title: Optional[str]) -> Optional[str]:
        choices = [b for b in self.buttons if b.get("payload")]
        number = next((str(i) for i, b in enumerate(choices, 1) if b.get("payload") == text), None)
        variant = (self.ent.index // 2 + len(self.transcript.turns)) % 3
        if kind == "form:ticket_confirm":
            typed = TYPED_CONFIRM[variant]
            return typed.format(number=number) if "{number}" not in typed or number else "确认提交"
        if title is None:
            return None  # already typed by the script
        if number is not None and variant != 2:
            return number
        return title

    async def say(self, kind: str, text: str, title: Optional[str] = None) -> loadlib.Turn:
        typed = self._typed(kind, text, title)
        if typed is None or typed == text and title is None:
            turn = await super().say(kind, text, title)
        else:
            self.transcript.typed[kind] += 1
            turn = await super().say(kind, typed)
            if turn.error is None and not _achieved(kind, turn):
                self.transcript.typed_miss[kind] += 1
                self.buttons = [b for r in turn.replies for b in (r.get("buttons") or [])] or self.buttons
                if kind == "form:ticket_confirm":
                    text, title = "确认提交", "确认提交"  # the button
                turn = await super().say(kind, text, title)
        if kind == "form:contact_mobile" and text.startswith("手机号是"):
            self.transcript.typed[kind] += 1
            if turn.error is None and loadlib.asked_slot(turn.replies) == "contact_mobile":
                self.transcript.typed_miss[kind] += 1  # "手机号是139…" not understood: the bare number
                turn = await super().say(kind, self.ent.mobile)
        self.buttons = [b for r in turn.replies for b in (r.get("buttons") or [])]
        return turn


def _achieved(kind: str, turn: loadlib.Turn) -> bool:
    """Whether a typed turn got where the click would have."""
    slot = loadlib.asked_slot(turn.replies)
    if kind == "form:ticket_confirm":
        return bool(loadlib.TICKET_NUMBER.search(loadlib.joined(turn.replies)))
    if kind == "open":
        return slot is not None
    if kind == "clarify":
        return slot is not None or "/open_ticket" in loadlib.payloads(turn.replies)
    if kind.startswith("form:"):
        return slot != kind[5:]
    return True


def typed_enterprises(ents: list, share: float) -> list:
    """Every enterprise whose turn it is (by index, spread evenly) types: its mobile as 「手机号是…」."""
    out = []
    TYPING.clear()
    for e in ents:
        if share > 0 and int((e.index + 1) * share) != int(e.index * share):
            e = dataclasses.replace(e, mobile_typed=f"手机号是{e.mobile}")
            TYPING.add(e.index)
        out.append(e)
    return out


TYPING: set[int] = set()  # indexes of the enterprises that type (typed_enterprises fills it)
_CLICKING = loadlib.ChatClient


def script_client(http, desks, ent: loadlib.Enterprise) -> loadlib.ChatClient:
    """The client loadlib.run creates for each enterprise: a typing one or a clicking one."""
    return TypingClient(http, desks, ent) if ent.index in TYPING else _CLICKING(http, desks, ent)


def typed_summary(result: loadlib.RunResult) -> str:
    typed, miss = Counter(), Counter()
    for t in result.transcripts:
        typed.update(getattr(t, "typed", Counter()))
        miss.update(getattr(t, "typed_miss", Counter()))
    if not typed:
        return "none"
    parts = [f"{k} {miss[k]}/{typed[k]}" for k in sorted(typed)]
    return f"{sum(miss.values())} of {sum(typed.values())} typed turns missed ({', '.join(parts)})"


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
        requests.post(
            f"{d}/api/chat/message",
            headers={"X-Chat-Key": s["key"]},
            timeout=120,
            json={
                "conversation_id": s["conversation_id"],
                "text": "高企认定需要什么条件",
                "client_msg_id": f"warmup-{time.time_ns()}",
            },
        )


def report(profile: str, args, result: loadlib.RunResult, checks: list[loadlib.Check], extra: str = "") -> dict:
    s = loadlib.summary(result)
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(s["errors_by_kind"].items())) or "none"
    print(f"\n== profile {profile}{extra}")
    print(f"enterprises        {s['enterprises']}")
    print(f"concurrency        {s['concurrency']} enterprises talking at once, think time {args.think_time:g} s")
    print(f"wall time          {s['wall_s']:.1f} s")
    print(f"turns              {s['turns']}  ({s['turns'] / max(1, s['enterprises']):.1f} per enterprise)")
    print(f"throughput         {s['throughput']:.2f} turns/s")
    print(
        f"turn latency       p50 {s['p50']:.0f} ms   p95 {s['p95']:.0f} ms   p99 {s['p99']:.0f} ms   "
        f"mean {s['mean']:.0f} ms"
    )
    print(f"errors             {s['errors']}  ({kinds})")
    print(f"429 retries        {s['rate_limited_retries']}")
    print(f"clarifications     {s['clarified']}  (need not understood at first; the enterprise clicked its category)")
    typists = sum(1 for t in result.transcripts if hasattr(t, "typed"))
    print(f"typed instead of clicked  {typists} enterprises; typed misses: {typed_summary(result)}")
    print("checks (service database):")
    for c in checks:
        print(f"  {'PASS' if c.ok else 'FAIL'}  {c.name}: {c.detail}")
    s.update(profile=profile, checks_ok=all(c.ok for c in checks))
    return s


def run_against(
    desks: list[str], db_url: str, args, profile: str, extra: str = "", rasa: tuple[str, str] | None = None
) -> dict:
    """Play the enterprises against `desks`; check `db_url`. `rasa` = (url, token) for the preflight."""
    ents = typed_enterprises(
        loadlib.enterprises(args.enterprises, args.seed, loadlib.enterprise_names(db_url)), args.typed_share
    )
    if rasa is not None:
        ok, bad = preflight(*rasa, ents)
        print(
            f"{profile}: scripted needs the model classifies as scripted: {ok}/{len(ents)}"
            + "".join(f"\n  NLU: {b}" for b in bad[:5])
        )
    warm_up(desks)
    result = asyncio.run(loadlib.run(desks, ents, args.concurrency, args.think_time))
    checks = loadlib.check(db_url, result.transcripts, since=result.started_at)
    return report(profile, args, result, checks, extra)


def run_embedded(args, model: Path, var: Path) -> dict:
    from bot.tooling.stack import local_settings, start_instance

    settings = local_settings(var / "embedded", token="load-token")
    started = time.perf_counter()
    inst = start_instance(settings, model)
    try:
        print(f"\nembedded: 1 instance up in {time.perf_counter() - started:.0f} s")
        return run_against(
            [settings.desk_url],
            settings.effective_database_url,
            args,
            "embedded",
            " (1 instance: action server + Rasa + desk; SQLite; no Redis)",
            (settings.rasa_url, settings.rasa_token),
        )
    finally:
        inst.stop()


def run_scale(args, model: Path, var: Path) -> dict:
    from bot.tooling.stack import drop_cluster_databases, start_cluster

    started = time.perf_counter()
    cluster = start_cluster(var / "scale", model, n=2)
    try:
        print(f"\nscale: 2 instances up in {time.perf_counter() - started:.0f} s")
        first = cluster[0].settings
        return run_against(
            [inst.settings.desk_url for inst in cluster.instances],
            cluster.database_url,
            args,
            "scale",
            " (2 instances; PostgreSQL service DB + tracker store; Redis; turns alternate desks)",
            (first.rasa_url, first.rasa_token),
        )
    finally:
        cluster.stop()
        drop_cluster_databases(cluster)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=("embedded", "scale", "both"), default="both")
    ap.add_argument("--enterprises", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=20, help="enterprises talking at once (default 20)")
    ap.add_argument(
        "--think-time",
        type=float,
        default=0.0,
        help="mean seconds an enterprise waits between turns (0.5–1.5 × this; default 0)",
    )
    ap.add_argument(
        "--seed",
        type=int,
        default=None,
        help="which enterprises and wordings (default 2026 on the fresh databases this script "
        "starts; a new one per run against --desk-url, whose database keeps earlier runs)",
    )
    ap.add_argument(
        "--typed-share",
        type=float,
        default=0.5,
        help="share of the enterprises that type numbers / option words instead of clicking (0–1)",
    )
    ap.add_argument(
        "--desk-url",
        action="append",
        default=[],
        help="talk to running desk(s) instead of starting the system (repeat for several)",
    )
    ap.add_argument("--database-url", default="", help="with --desk-url: their service database (for the checks)")
    args = ap.parse_args(argv)
    if not 0 <= args.typed_share <= 1:
        ap.error("--typed-share must be between 0 and 1")
    loadlib.ChatClient = script_client  # loadlib.run builds each enterprise's client by this name
    if args.seed is None:
        args.seed = time.time_ns() % 10**9 if args.desk_url else 2026

    print(
        f"bench/load.py  {clock.now().isoformat(timespec='minutes')}  "
        f"{os.cpu_count()} CPUs  enterprises {args.enterprises}  concurrency {args.concurrency}  "
        f"think time {args.think_time:g} s  seed {args.seed}"
    )
    results = []
    if args.desk_url:
        db = args.database_url or Settings.from_env().effective_database_url
        results.append(
            run_against(
                [u.rstrip("/") for u in args.desk_url],
                db,
                args,
                "running",
                f" ({len(args.desk_url)} desk(s) at {', '.join(args.desk_url)})",
            )
        )
    else:
        from bot.rasa_ext.training import ensure_model

        # Each simulated enterprise has its own address (X-Forwarded-For from this local "proxy").
        os.environ.setdefault("DESK_TRUSTED_PROXIES", "127.0.0.1/32 ::1/128")
        model = ensure_model(Settings.from_env().model_dir)
        profiles = ("embedded", "scale") if args.profile == "both" else (args.profile,)
        with tempfile.TemporaryDirectory(prefix="ys-load-") as tmp:
            for p in profiles:
                run = run_embedded if p == "embedded" else run_scale
                results.append(run(args, model, Path(tmp)))

    print(
        "\n| profile | enterprises | concurrency | wall s | turns | turns/s | p50 ms | p95 ms | p99 ms | errors | checks |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for s in results:
        print(
            f"| {s['profile']} | {s['enterprises']} | {s['concurrency']} | {s['wall_s']:.0f} | {s['turns']} | "
            f"{s['throughput']:.2f} | {s['p50']:.0f} | {s['p95']:.0f} | {s['p99']:.0f} | {s['errors']} | "
            f"{'PASS' if s['checks_ok'] else 'FAIL'} |"
        )
    return 0 if all(s["checks_ok"] for s in results) else 1


if __name__ == "__main__":
    sys.exit(main())
