"""Conversation-level evaluation: does an enterprise get what it came for (the fact, the ticket, the person)?

    python bench/eval_dialogue.py                       # starts the whole stack on free ports (bot.tooling.stack)
    python bench/eval_dialogue.py --desk http://127.0.0.1:8080 --db sqlite:///var/yuanshang.db
    python bench/eval_dialogue.py --tag fast --json var/eval_dialogue.json
    python bench/eval_dialogue.py --only qa-hnte-tax-rate,tk-correction-mobile

Every scenario of tests/eval/dialogue_scenarios.yml (held out: written independently of the training
data and the knowledge base's variants) is played in a fresh web chat conversation through the desk's
HTTP chat API, as a browser without a WebSocket does it: POST /api/chat/session for the conversation id
and its key, POST /api/chat/message with the key in X-Chat-Key for every turn, GET /api/chat/history
for everything stored in the conversation (bot replies with their buttons, system notices, messages
pushed later such as rating requests). A scripted number ("1") is typed as text, like a WeChat user
answering numbered options: mapping it onto a button is the desk's job, not the runner's.

Staff steps ({staff: resolve} / {staff: end}) are done in the console over HTTP as a signed-in member of
staff (an account the runner creates or resets in the service database).

After the conversation the outcome is read from the service database — tickets (created in the
conversation, or added to an open one by it), their enterprise, contact and node, ratings, handovers and
the conversation's mode — and every expectation of the scenario is checked. The report gives the task
success (share of scenarios whose every expectation holds), the same by tag, the mean number of user
turns to a ticket, and every failure with its transcript. The exit code is 0 whenever the evaluation ran
(failures are measurements); non-zero only when the system could not be started or reached.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import os
import re
import secrets
import sys
import tempfile
import threading
import time
import unicodedata
import uuid
from pathlib import Path
from typing import Any, Optional

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

from sqlalchemy import select  # noqa: E402

from bot.db import read_sessions  # noqa: E402
from bot.db.schema import (
    Contact,
    Conversation,
    Enterprise,
    Handover,
    Rating,
    Ticket,  # noqa: E402
    TicketEvent,
)

SCENARIOS = ROOT / "tests/eval/dialogue_scenarios.yml"
EXPECT_KEYS = {"facts", "ticket", "no_ticket", "handover", "max_turns_to_ticket", "not_contains", "rating", "answered"}
TICKET_KEYS = {"category", "node", "mobile", "company", "description_contains"}
STAFF_STEPS = {"resolve", "end"}
TURN_TIMEOUT = 60.0  # seconds for one chat turn (the desk answers once the bot has)
ASYNC_WAIT = 12.0  # seconds to wait for a message pushed after a staff step (notifier: every 5 s)
STAFF_USERNAME = "eval.dialogue"


class StackError(RuntimeError):
    """The system could not be started or reached: the evaluation did not run."""


# ---- scenarios ------------------------------------------------------------------------------------


@dataclasses.dataclass
class Scenario:
    id: str
    description: str
    tags: list[str]
    turns: list[Any]  # str (the user types it) or {"staff": "resolve" | "end"}
    expect: dict[str, Any]

    @property
    def user_turns(self) -> int:
        return sum(isinstance(t, str) for t in self.turns)

    @property
    def staff_steps(self) -> bool:
        return any(isinstance(t, dict) for t in self.turns)


def _validate(raw: dict, where: str) -> Scenario:
    """A scenario as the file states it; a malformed one is an error naming the scenario and field."""
    sid = raw.get("id")
    if not isinstance(sid, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", sid):
        raise ValueError(f"{where}: id missing or not lower-case letters, digits and '-'")
    turns = raw.get("turns")
    if not isinstance(turns, list) or not 1 <= len(turns) <= 12:
        raise ValueError(f"{sid}: turns must be a list of 1–12 items")
    for t in turns:
        ok = (isinstance(t, str) and t.strip()) or (
            isinstance(t, dict) and set(t) == {"staff"} and t["staff"] in STAFF_STEPS
        )
        if not ok:
            raise ValueError(f"{sid}: a turn must be text or {{staff: resolve|end}}, not {t!r}")
    expect = raw.get("expect") or {}
    unknown = set(expect) - EXPECT_KEYS
    if unknown:
        raise ValueError(f"{sid}: unknown expectation(s) {sorted(unknown)}")
    for group in expect.get("facts") or []:
        if not isinstance(group, list) or not group or not all(isinstance(a, str) and a for a in group):
            raise ValueError(f"{sid}: facts must be a list of non-empty lists of strings")
    if "ticket" in expect:
        t = expect["ticket"]
        if not isinstance(t, dict) or "category" not in t or set(t) - TICKET_KEYS:
            raise ValueError(f"{sid}: ticket needs a category and only {sorted(TICKET_KEYS)}")
        if expect.get("no_ticket"):
            raise ValueError(f"{sid}: ticket and no_ticket contradict each other")
    if "max_turns_to_ticket" in expect and "ticket" not in expect:
        raise ValueError(f"{sid}: max_turns_to_ticket needs a ticket expectation")
    tags = raw.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(x, str) for x in tags):
        raise ValueError(f"{sid}: tags must be a list of strings")
    return Scenario(sid, str(raw.get("description") or ""), tags, turns, expect)


def load_scenarios(
    path: Path = SCENARIOS, only: Optional[list[str]] = None, tag: Optional[str] = None
) -> list[Scenario]:
    """The scenarios of the file (validated), optionally only some ids or one tag, in file order."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    scenarios = [_validate(raw, f"{path} #{i + 1}") for i, raw in enumerate(data.get("scenarios") or [])]
    ids = [s.id for s in scenarios]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"duplicate scenario ids: {dup}")
    if only:
        missing = sorted(set(only) - set(ids))
        if missing:
            raise ValueError(f"no such scenario: {missing}")
        scenarios = [s for s in scenarios if s.id in only]
    if tag:
        scenarios = [s for s in scenarios if tag in s.tags]
    return scenarios


# ---- the web chat, as a client ---------------------------------------------------------------------


class ChatClient:
    """One web chat conversation: the session key, one POST per turn, the stored history."""

    def __init__(self, desk: str, http: Optional[requests.Session] = None):
        self.desk = desk.rstrip("/")
        self.http = http or requests.Session()
        self.cid = ""
        self.key = ""
        self.seen = 0  # highest message id read from the history

    def open(self) -> "ChatClient":
        r = self._request("POST", "/api/chat/session", json={})
        data = r.json()
        self.cid, self.key = data["conversation_id"], data["key"]
        return self

    def _request(self, method: str, path: str, **kw) -> requests.Response:
        for _ in range(5):
            try:
                r = self.http.request(method, f"{self.desk}{path}", timeout=TURN_TIMEOUT, **kw)
            except requests.RequestException as exc:
                raise StackError(f"the desk at {self.desk} cannot be reached: {exc}") from exc
            if r.status_code == 429:  # rate limited: wait as told, like the browser's outbox
                time.sleep(min(30.0, float(r.headers.get("Retry-After") or 2)))
                continue
            if r.status_code >= 500:
                raise StackError(f"{method} {path}: HTTP {r.status_code} {r.text[:200]}")
            r.raise_for_status()
            return r
        raise StackError(f"{method} {path}: still rate limited after 5 tries")

    def send(self, text: str) -> list[dict]:
        """One turn; returns the replies the desk gave to it."""
        r = self._request(
            "POST",
            "/api/chat/message",
            headers={"X-Chat-Key": self.key},
            json={"conversation_id": self.cid, "text": text, "client_msg_id": uuid.uuid4().hex},
        )
        return r.json().get("replies") or []

    def new_messages(self) -> list[dict]:
        """Everything stored in the conversation since the last call (what the chat page shows)."""
        out: list[dict] = []
        while True:
            r = self._request(
                "GET",
                "/api/chat/history",
                headers={"X-Chat-Key": self.key},
                params={"conversation_id": self.cid, "after": self.seen},
            )
            data = r.json()
            for m in data.get("messages") or []:
                self.seen = max(self.seen, int(m["id"]))
                out.append(m)
            if not data.get("more"):
                return out

    def mode(self) -> str:
        r = self._request(
            "GET",
            "/api/chat/history",
            headers={"X-Chat-Key": self.key},
            params={"conversation_id": self.cid, "after": 2**62},
        )
        return r.json().get("mode") or "bot"


class StaffConsole:
    """A member of staff signed in to the console (cookie session + CSRF token), for staff steps."""

    def __init__(self, desk: str, db_url: str, username: str = STAFF_USERNAME):
        self.desk, self.db_url, self.username = desk.rstrip("/"), db_url, username
        self.http = requests.Session()
        self.csrf = ""
        self.lock = threading.Lock()
        self.ready = False

    def _account(self) -> str:
        """Create (or reset the password of) a lead of the comprehensive centre: sees every node."""
        from bot.staff.accounts import StaffError, create_staff, set_password

        password = "Eval-" + secrets.token_urlsafe(12)
        try:
            create_staff(self.db_url, self.username, "对话评测", "centre", "lead", password)
        except StaffError:
            set_password(self.db_url, self.username, password)
        return password

    def login(self) -> None:
        password = self._account()
        page = self.http.get(f"{self.desk}/console/login", timeout=30).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        if token is None:
            raise StackError("console login page has no CSRF token")
        r = self.http.post(
            f"{self.desk}/console/login",
            allow_redirects=False,
            timeout=30,
            data={"username": self.username, "password": password, "csrf_token": token.group(1), "next": "/console/"},
        )
        if r.status_code != 302:
            raise StackError(f"console login failed: HTTP {r.status_code}")
        page = self.http.get(f"{self.desk}/console/", timeout=30).text
        meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
        if meta is None:
            raise StackError("console page has no CSRF token")
        self.csrf = meta.group(1)
        self.ready = True

    def _post(self, path: str, data: dict) -> Optional[str]:
        """None when done, else the console's message (a failed staff step)."""
        r = self.http.post(
            f"{self.desk}{path}",
            data=data,
            timeout=30,
            headers={"X-CSRF-Token": self.csrf, "Accept": "application/json"},
        )
        try:
            body = r.json()
        except ValueError:
            return f"HTTP {r.status_code}"
        return None if r.status_code == 200 and body.get("ok") else f"HTTP {r.status_code}: {body.get('message')}"

    def step(self, action: str, cid: str) -> Optional[str]:
        with self.lock:
            if not self.ready:
                self.login()
            if action == "resolve":
                tickets = conversation_tickets(self.db_url, cid)
                if not tickets:
                    return "no ticket in this conversation to resolve"
                # 办结 as staff do it: a result the enterprise is told, then the confirmation step
                return self._post(
                    f"/console/tickets/{tickets[-1]['number']}/close",
                    {"result": "已为贵企业办理完毕，相关材料已按要求提交。", "confirm": "1"},
                )
            if action == "end":
                quoted = requests.utils.quote(cid, safe="")
                why = self._post(f"/console/conversations/{quoted}/claim", {})
                return why or self._post(f"/console/conversations/{quoted}/end", {})
        return f"unknown staff step {action}"


# ---- the outcome in the service database ----------------------------------------------------------


def _digits(text: Optional[str]) -> str:
    t = unicodedata.normalize("NFKC", text or "")
    d = re.sub(r"\D", "", t)
    return d[2:] if len(d) == 13 and d.startswith("86") else d


def _norm(text: Optional[str]) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).lower()


def conversation_tickets(db_url: str, cid: str) -> list[dict]:
    """Tickets opened in the conversation, or open ones it added its need to (oldest first)."""
    with read_sessions(db_url)() as s:
        ids = set(s.scalars(select(Ticket.id).where(Ticket.conversation_id == cid)))
        ids |= set(
            s.scalars(
                select(TicketEvent.ticket_id).where(
                    TicketEvent.actor == f"user:{cid}", TicketEvent.action.in_(("created", "add_info"))
                )
            )
        )
        if not ids:
            return []
        rows = s.execute(
            select(
                Ticket.id,
                Ticket.number,
                Ticket.category,
                Ticket.node_id,
                Ticket.description,
                Ticket.status,
                Ticket.conversation_id,
                Enterprise.name,
                Contact.mobile,
                Contact.name,
            )
            .join(Enterprise, Ticket.enterprise_id == Enterprise.id)
            .outerjoin(Contact, Ticket.contact_id == Contact.id)
            .where(Ticket.id.in_(ids))
            .order_by(Ticket.id)
        ).all()
        out = []
        for tid, number, category, node, description, status, conv, company, mobile, contact in rows:
            scores = list(s.scalars(select(Rating.score).where(Rating.ticket_id == tid).order_by(Rating.id)))
            out.append(
                {
                    "number": number,
                    "category": category,
                    "node": node,
                    "company": company,
                    "mobile": mobile,
                    "contact": contact,
                    "description": description,
                    "status": status,
                    "linked": conv != cid,
                    "ratings": scores,
                }
            )
        return out


def conversation_handovers(db_url: str, cid: str) -> tuple[list[dict], str]:
    with read_sessions(db_url)() as s:
        rows = s.scalars(select(Handover).where(Handover.conversation_id == cid).order_by(Handover.id)).all()
        conv = s.get(Conversation, cid)
        handovers = [
            {
                "id": h.id,
                "reason": h.reason,
                "node": h.node_id,
                "ended": h.ended_at is not None,
                "claimed": h.claimed_by is not None,
            }
            for h in rows
        ]
        return handovers, (conv.mode if conv else "bot")


# ---- playing and checking -------------------------------------------------------------------------


@dataclasses.dataclass
class Line:
    step: int  # index into scenario.turns the line belongs to
    who: str  # user / bot / system / staff / step
    text: str
    buttons: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Result:
    scenario: Scenario
    conversation_id: str = ""
    lines: list[Line] = dataclasses.field(default_factory=list)
    tickets: list[dict] = dataclasses.field(default_factory=list)
    handovers: list[dict] = dataclasses.field(default_factory=list)
    mode: str = "bot"
    ticket_turn: Optional[int] = None  # user turn (1-based) after which a ticket first existed
    failures: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures

    def bot_text(self) -> str:
        parts = []
        for line in self.lines:
            if line.who in ("bot", "system", "staff"):
                parts.append(line.text)
                parts.extend(line.buttons)
        return _norm_keep_space("\n".join(parts))


def _norm_keep_space(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "")


def _who(m: dict) -> str:
    if m.get("direction") == "in":
        return "user"
    author = m.get("author") or ""
    return "staff" if author.startswith("staff:") else ("system" if author == "system" else "bot")


def _record(result: Result, step: int, messages: list[dict]) -> None:
    for m in messages:
        if m.get("internal"):
            continue
        who = _who(m)
        if who == "user":
            continue  # the runner logs what it typed itself
        buttons = [b.get("title") or "" for b in (m.get("buttons") or []) if isinstance(b, dict)]
        result.lines.append(Line(step, who, m.get("text") or "", buttons))


def play(
    desk: str,
    db_url: str,
    scenario: Scenario,
    console: Optional[StaffConsole] = None,
    http: Optional[requests.Session] = None,
) -> Result:
    """Play one scenario in a fresh conversation, read the outcome, check every expectation."""
    t0 = time.monotonic()
    result = Result(scenario)
    chat = ChatClient(desk, http).open()
    result.conversation_id = chat.cid
    user_turn = 0
    for step, turn in enumerate(scenario.turns):
        if isinstance(turn, str):
            user_turn += 1
            result.lines.append(Line(step, "user", turn))
            chat.send(turn)
            _record(result, step, chat.new_messages())
            if result.ticket_turn is None and conversation_tickets(db_url, chat.cid):
                result.ticket_turn = user_turn
            continue
        action = turn["staff"]
        result.lines.append(Line(step, "step", f"（工作人员操作：{action}）"))
        if console is None:
            result.failures.append(f"staff step {action}: no staff console available")
            continue
        try:
            why = console.step(action, chat.cid)
        except (StackError, requests.RequestException) as exc:
            why = f"console unavailable: {exc}"
        if why:
            result.lines.append(Line(step, "step", f"（工作人员操作失败：{why}）"))
            result.failures.append(f"staff step {action} failed: {why}")
            continue
        deadline = time.monotonic() + ASYNC_WAIT  # a pushed message (rating request, bot's return)
        got: list[dict] = []
        while time.monotonic() < deadline:
            got = [m for m in chat.new_messages() if m.get("direction") == "out"]
            if got:
                break
            time.sleep(0.5)
        _record(result, step, got)
    _record(result, len(scenario.turns) - 1, chat.new_messages())
    result.tickets = conversation_tickets(db_url, chat.cid)
    result.handovers, result.mode = conversation_handovers(db_url, chat.cid)
    result.failures += check(scenario, result)
    result.seconds = time.monotonic() - t0
    return result


def check(scenario: Scenario, r: Result) -> list[str]:
    """Which expectations do not hold (empty: the user got what they came for)."""
    e = scenario.expect
    fails: list[str] = []
    text = r.bot_text()
    for group in e.get("facts") or []:
        if not any(unicodedata.normalize("NFKC", alt) in text for alt in group):
            fails.append(f"facts: none of {group} appears in any reply")
    for bad in e.get("not_contains") or []:
        if unicodedata.normalize("NFKC", bad) in text:
            fails.append(f"not_contains: a reply contains {bad!r}")
    if e.get("answered", True):
        for step, turn in enumerate(scenario.turns):
            if isinstance(turn, str) and not any(
                l.step == step and l.who in ("bot", "system", "staff") for l in r.lines
            ):
                fails.append(f"answered: no reply to user turn {turn!r}")
    n = len(r.tickets)
    if e.get("no_ticket") and n:
        fails.append(
            f"no_ticket: {n} ticket(s) opened: " + "; ".join(f"{t['number']} {t['category']}" for t in r.tickets)
        )
    want = e.get("ticket")
    if want:
        if n != 1:
            fails.append(
                f"ticket: expected exactly one ticket, found {n}"
                + ("" if not n else ": " + "; ".join(f"{t['number']} {t['category']}" for t in r.tickets))
            )
        if n >= 1:
            t = r.tickets[-1]
            if t["category"] != want["category"]:
                fails.append(f"ticket.category: {t['category']} (expected {want['category']})")
            if want.get("node") and t["node"] != want["node"]:
                fails.append(f"ticket.node: {t['node']} (expected {want['node']})")
            if want.get("mobile") and _digits(t["mobile"]) != _digits(str(want["mobile"])):
                fails.append(f"ticket.mobile: {t['mobile']} (expected {want['mobile']})")
            if want.get("company") and _norm(t["company"]) != _norm(want["company"]):
                fails.append(f"ticket.company: {t['company']!r} (expected {want['company']!r})")
            if want.get("description_contains") and _norm(want["description_contains"]) not in _norm(t["description"]):
                fails.append(
                    f"ticket.description does not contain {want['description_contains']!r}: {t['description'][:120]!r}"
                )
    limit = e.get("max_turns_to_ticket")
    if limit is not None and (r.ticket_turn is None or r.ticket_turn > limit):
        fails.append(f"max_turns_to_ticket: ticket after turn {r.ticket_turn} (at most {limit})")
    if "handover" in e:
        open_now = r.mode in ("waiting", "staff") or any(not h["ended"] for h in r.handovers)
        if e["handover"] and not open_now:
            fails.append(
                f"handover: the conversation is not with staff at the end (mode {r.mode}, "
                f"{len(r.handovers)} handover(s))"
            )
        if not e["handover"] and r.handovers:
            fails.append("handover: handed to staff (" + ", ".join(h["reason"] for h in r.handovers) + ")")
    if "rating" in e:
        scores = [s for t in r.tickets for s in t["ratings"]]
        if e["rating"] not in scores:
            fails.append(f"rating: ticket ratings {scores} (expected {e['rating']})")
    return fails


# ---- running all and reporting --------------------------------------------------------------------


def run_all(desk: str, db_url: str, scenarios: list[Scenario], jobs: int = 2, progress=None) -> list[Result]:
    """Play the scenarios (several at once with jobs > 1); results in scenario order."""
    console = StaffConsole(desk, db_url) if any(s.staff_steps for s in scenarios) else None
    local = threading.local()

    def one(s: Scenario) -> Result:
        if not hasattr(local, "http"):
            local.http = requests.Session()
        res = play(desk, db_url, s, console, local.http)
        if progress:
            progress(res)
        return res

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, scenarios))


def summary(results: list[Result]) -> dict:
    tags: dict[str, list[int]] = {}
    for r in results:
        for t in r.scenario.tags:
            tags.setdefault(t, [0, 0])
            tags[t][0] += 1
            tags[t][1] += r.passed
    turns = [r.ticket_turn for r in results if "ticket" in r.scenario.expect and r.ticket_turn is not None]
    expected_tickets = sum("ticket" in r.scenario.expect for r in results)
    passed = sum(r.passed for r in results)
    return {
        "scenarios": len(results),
        "passed": passed,
        "task_success": round(passed / len(results), 4) if results else 0.0,
        "by_tag": {t: {"n": n, "passed": p, "rate": round(p / n, 4)} for t, (n, p) in sorted(tags.items())},
        "tickets_expected": expected_tickets,
        "tickets_reached": len(turns),
        "mean_turns_to_ticket": round(sum(turns) / len(turns), 2) if turns else None,
        "failed": [r.scenario.id for r in results if not r.passed],
    }


def transcript(r: Result) -> str:
    out = []
    for line in r.lines:
        label = {"user": "用户", "bot": "管家", "system": "系统", "staff": "专员", "step": "    "}[line.who]
        text = line.text.replace("\n", "\n        ")
        out.append(f"  {label}：{text}")
        if line.buttons:
            out.append("        [按钮] " + " | ".join(f"{i}. {b}" for i, b in enumerate(line.buttons, 1)))
    return "\n".join(out)


def format_failure(r: Result) -> str:
    s = r.scenario
    lines = [f"=== {s.id}  [{', '.join(s.tags)}]  conversation {r.conversation_id}", f"    {s.description}"]
    lines += [f"  ✗ {f}" for f in r.failures]
    lines.append(transcript(r))
    if r.tickets:
        lines.append(
            "  tickets: "
            + "; ".join(
                f"{t['number']} {t['category']} @{t['node']} {t['company']} {t['mobile']}"
                + (" (linked)" if t["linked"] else "")
                for t in r.tickets
            )
        )
    if r.handovers:
        lines.append(
            "  handovers: "
            + "; ".join(f"#{h['id']} {h['reason']}" + (" ended" if h["ended"] else "") for h in r.handovers)
            + f"; mode {r.mode}"
        )
    return "\n".join(lines)


def report(results: list[Result]) -> str:
    sm = summary(results)
    out = []
    failed = [r for r in results if not r.passed]
    if failed:
        out.append("FAILURES\n")
        out += [format_failure(r) + "\n" for r in failed]
    out.append("BY TAG")
    width = max((len(t) for t in sm["by_tag"]), default=4)
    for t, v in sm["by_tag"].items():
        out.append(f"  {t:<{width}}  {v['passed']:>3}/{v['n']:<3}  {100 * v['rate']:5.1f} %")
    out.append("")
    out.append(f"task success: {sm['passed']}/{sm['scenarios']} = {100 * sm['task_success']:.1f} %")
    mt = sm["mean_turns_to_ticket"]
    out.append(
        f"tickets reached: {sm['tickets_reached']}/{sm['tickets_expected']} scenarios that expect one; "
        f"mean user turns to the ticket: {mt if mt is not None else '—'}"
    )
    if sm["failed"]:
        out.append("failed: " + ", ".join(sm["failed"]))
    return "\n".join(out)


def to_json(results: list[Result]) -> dict:
    return {
        "summary": summary(results),
        "results": [
            {
                "id": r.scenario.id,
                "tags": r.scenario.tags,
                "passed": r.passed,
                "failures": r.failures,
                "conversation_id": r.conversation_id,
                "ticket_turn": r.ticket_turn,
                "tickets": r.tickets,
                "handovers": r.handovers,
                "mode": r.mode,
                "seconds": round(r.seconds, 2),
                "transcript": [dataclasses.asdict(l) for l in r.lines],
            }
            for r in results
        ],
    }


# ---- the system under test -------------------------------------------------------------------------


def start_stack(var_dir: Path):
    """The whole stack on free ports with its own SQLite database (the model trained if needed)."""
    from bot.rasa_ext.training import ensure_model
    from bot.settings import Settings
    from bot.tooling.stack import local_settings, start_instance

    model = ensure_model(Settings.from_env().model_dir)
    settings = local_settings(var_dir, token=secrets.token_urlsafe(16))
    return start_instance(settings, model)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--desk", help="a running desk, e.g. http://127.0.0.1:8080 (default: start the stack)")
    ap.add_argument("--db", help="its service database URL (required with --desk)")
    ap.add_argument("--scenarios", type=Path, default=SCENARIOS)
    ap.add_argument("--only", help="comma-separated scenario ids")
    ap.add_argument("--tag", help="only scenarios with this tag (e.g. fast)")
    ap.add_argument("--jobs", type=int, default=2, help="conversations played at once (default 2)")
    ap.add_argument("--json", type=Path, help="write results and transcripts here")
    ap.add_argument("--quiet", action="store_true", help="no progress line per scenario")
    args = ap.parse_args(argv)
    if bool(args.desk) != bool(args.db):
        ap.error("--desk and --db go together")
    try:
        scenarios = load_scenarios(args.scenarios, [x for x in (args.only or "").split(",") if x] or None, args.tag)
    except (OSError, ValueError) as exc:
        print(f"scenario file: {exc}", file=sys.stderr)
        return 2
    if not scenarios:
        print("no scenario selected", file=sys.stderr)
        return 2

    inst = None
    tmp = None
    try:
        if args.desk:
            desk, db = args.desk, args.db
            try:
                requests.get(f"{desk.rstrip('/')}/healthz", timeout=10).raise_for_status()
            except requests.RequestException as exc:
                raise StackError(f"the desk at {desk} is not healthy: {exc}") from exc
        else:
            tmp = tempfile.TemporaryDirectory(prefix="eval-dialogue-")
            print("starting action server, Rasa and desk …", file=sys.stderr)
            try:
                inst = start_stack(Path(tmp.name))
            except Exception as exc:  # noqa: BLE001 - any failure to start means "could not run"
                raise StackError(f"the stack did not start: {exc}") from exc
            desk, db = inst.settings.desk_url, inst.settings.effective_database_url
        print(f"{len(scenarios)} scenarios against {desk}", file=sys.stderr)

        def progress(r: Result) -> None:
            if not args.quiet:
                mark = "ok  " if r.passed else "FAIL"
                print(f"  {mark} {r.scenario.id} ({r.seconds:.1f} s)", file=sys.stderr, flush=True)

        t0 = time.monotonic()
        results = run_all(desk, db, scenarios, args.jobs, progress)
        print(report(results))
        print(f"({time.monotonic() - t0:.0f} s)")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(
                json.dumps(to_json(results), ensure_ascii=False, indent=1, default=str), encoding="utf-8"
            )
        return 0
    except StackError as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 2
    finally:
        if inst is not None:
            inst.stop()
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
