"""Scripted enterprise conversations through the desk's web chat API, and the database checks after.

Used by bench/load.py (the load benchmark) and tests/e2e/test_load_script.py (which proves
the checks can fail). Bot-independent except for reading the service database: a
simulated enterprise talks only HTTP to one or more desks, as the web chat page does.

One conversation (up to 10 turns; fewer when the bot does not ask again what the need message already said):
  a policy question → the need, with the company and its 统一社会信用代码 → (the
  「登记需求」 button, if the bot answers instead of opening the form) → the ticket form,
  answering whichever field the bot asks for → a second question (if the turn budget
  allows) → 「我的工单」 → 「转人工」.
Wording is drawn per enterprise from pools checked against the trained model, so the
NLU sees natural variety but the script stays on track unless the system misbehaves.

Checks read the database the desks share: every message sent is stored exactly once as
an inbound message of its conversation and answered; exactly one ticket per scripted
need (category, enterprise, code in the description, contact mobile); one handover per
conversation, linked to that ticket.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import random
import re
import statistics
import time
import uuid
from collections import Counter
from typing import Optional, Sequence

import aiohttp

from bot.tickets.credit_code import generate as generate_credit_code

TURNS = 10
HTTP_TIMEOUT = 90.0  # one turn, end to end (Rasa saturated: seconds, not minutes)
BUSY_WAIT = 90.0  # after the busy notice: how long to wait for the real answer
MAX_429_RETRIES = 5

# ---- what enterprises say -------------------------------------------------------------------------
# Every item was tried against the trained model: questions get a knowledge-base answer (or its
# options), needs get the category next to them — also with the company and code in front, which
# bench/load.py re-checks before each run (`preflight`).

QUESTIONS = (
    "高企认定需要什么条件",
    "高新技术企业认定有哪些硬性要求？",
    "申请高企对研发费用占比有什么要求",
    "研发费用加计扣除比例是多少",
    "研发费用加计扣除怎么申报享受",
    "人才公寓怎么申请",
    "人才公寓申请需要什么条件",
    "科技型中小企业评价有什么条件",
    "专精特新中小企业怎么认定",
    "创业担保贷款额度最多多少",
    "小微企业有哪些税收优惠",
    "瞪羚企业认定标准是什么",
    "知识产权质押融资怎么办理",
    "外籍人才来华工作许可怎么办",
    "企业技术中心认定需要什么条件",
    "高校毕业生见习补贴怎么申请",
    "首台套重大技术装备有什么支持政策",
    "设备器具一次性税前扣除是什么政策",
    "公司跨区迁址需要办理哪些手续",
    "环评类别怎么判断",
    "施工许可证怎么办理",
    "北交所上市需要什么条件",
    "技术先进型服务企业有什么优惠",
    "吸纳就业社保补贴申请条件是什么",
    "创业培训有补贴吗",
    "高企认定后每年还要报什么材料",
    "新公司注册需要准备哪些材料",
    "政府引导基金怎么申请投资",
)

NEEDS = (  # (what the enterprise needs, the category the ticket must get)
    ("我们想在沣西找一个500平米左右的实验室场地", "need_space"),
    ("想申请知识产权质押贷款，额度500万左右", "need_debt_financing"),
    ("想找投资机构做A轮融资，大概3000万", "need_equity_investment"),
    ("我们要办理公司名称变更登记", "need_business_registration"),
    ("想找高校合作做一个联合研发项目", "need_industry_academia"),
    ("想给员工申请人才公寓，大概5个人", "need_talent_living"),
    ("想参加明年的海外展会拓展市场", "need_market_expansion"),
    ("需要找一家会计师事务所做年度审计", "need_professional_services"),
    ("想申报省级重点研发计划项目", "need_project_application"),
    ("想办理辐射安全许可证", "need_permits"),
    ("想申请认定高层次人才", "need_talent_recognition"),
)

INTROS = (
    "我们是{name}，统一社会信用代码{code}，",
    "您好，我司{name}（信用代码{code}），",
    "{name}，统一社会信用代码：{code}。",
    "你好，我们公司叫{name}，社会信用代码{code}，",
)
OPEN_TICKET = (
    ("/open_ticket", "登记需求，专员跟进"),
    ("帮我登记一下需求", None),
    ("麻烦登记一下，让工作人员联系我", None),
    ("/open_ticket", "登记需求，专员跟进"),
    ("请安排专员对接", None),
)
CONFIRM = (("确认提交", "确认提交"), ("确认", None), ("没问题", None), ("确认提交", "确认提交"))
STATUS = ("我的工单", "查一下我的工单", "我提交的需求办到哪了", "看看我的工单", "帮我查一下工单进度")
HANDOVER = ("转人工", "人工服务", "我要找人工", "帮我转人工", "找你们工作人员")
CONTACTS = (
    "王经理",
    "李明",
    "张女士",
    "刘工",
    "陈总",
    "赵磊",
    "孙小姐",
    "周建国",
    "吴主任",
    "郑丽",
    "杨先生",
    "黄海",
    "何经理",
    "马晓东",
    "林女士",
    "高工",
)
LOCATIONS = (
    ("沣西新城", "沣西"),
    ("沣东新城", "沣东"),
    ("秦汉新城", "秦汉"),
    ("空港新城", "空港"),
    ("泾河新城", "泾河"),
    ("西部云谷", "沣西"),
    ("秦汉新城生物医药产业园", "秦汉"),
    ("空港新城综合保税区", "空港"),
    ("泾河新城地理信息产业园", "泾河"),
    ("沣东自贸产业园", "沣东"),
    ("无", None),
)
NAME_HEADS = (
    "秦创",
    "长安",
    "丝路",
    "曲江",
    "渭水",
    "华岳",
    "终南",
    "灞河",
    "雁塔",
    "未央",
    "汉唐",
    "大秦",
    "关中",
    "骊山",
    "云峰",
    "启明",
    "星河",
    "睿达",
    "恒通",
    "博远",
    "中科",
    "凌云",
    "宏图",
    "嘉禾",
)
NAME_MIDS = (
    "智芯",
    "光电",
    "微纳",
    "数联",
    "云图",
    "新材",
    "生科",
    "航宇",
    "精工",
    "储能",
    "医疗",
    "信安",
    "环保",
    "农科",
    "动力",
    "软件",
)
NAME_TAILS = ("科技有限公司", "技术有限公司", "智能科技有限公司", "信息技术有限公司", "股份有限公司")
MOBILE_PREFIXES = ("139", "138", "137", "136", "135", "158", "159", "186", "187", "188", "199", "177", "152", "181")


@dataclasses.dataclass(frozen=True)
class Enterprise:
    """One simulated enterprise and everything it will say."""

    index: int
    name: str
    credit_code: str
    mobile: str  # canonical 11 digits (what the ticket must hold)
    mobile_typed: str  # as the user types it
    contact: str
    location: str
    questions: tuple[str, str]
    need: str  # the message that states the need (with name and code)
    category: str
    open_ticket: tuple[str, Optional[str]]
    confirm: tuple[str, Optional[str]]
    status: str
    handover: str
    address: str  # X-Forwarded-For: each enterprise from its own network


def enterprises(n: int, seed: int = 2026, taken: frozenset = frozenset()) -> list[Enterprise]:
    """n enterprises with distinct names, credit codes and mobiles (deterministic for a seed);
    names in `taken` (enterprises the database already has) are not used."""
    rng = random.Random(seed)
    names: set[str] = set(taken)
    codes: set[str] = set()
    mobiles: set[str] = set()
    out = []
    for i in range(n):
        heads = 1
        while True:
            name = "西安" + "".join(rng.sample(NAME_HEADS, heads)) + rng.choice(NAME_MIDS) + rng.choice(NAME_TAILS)
            if name not in names:
                break
            heads = min(heads + 1, 3)
        names.add(name)
        code = generate_credit_code(rng, division=rng.choice(("611100", "610100", "610400", "611102")))
        while code in codes:
            code = generate_credit_code(rng)
        codes.add(code)
        mobile = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        while mobile in mobiles:
            mobile = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        mobiles.add(mobile)
        typed = rng.choice(
            (
                mobile,
                f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}",
                f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}",
                f"+86 {mobile}",
            )
        )
        need, category = NEEDS[i % len(NEEDS)] if i < len(NEEDS) else rng.choice(NEEDS)
        q1, q2 = rng.sample(QUESTIONS, 2)
        out.append(
            Enterprise(
                index=i,
                name=name,
                credit_code=code,
                mobile=mobile,
                mobile_typed=typed,
                contact=rng.choice(CONTACTS),
                location=rng.choice(LOCATIONS)[0],
                questions=(q1, q2),
                need=rng.choice(INTROS).format(name=name, code=code) + need,
                category=category,
                open_ticket=rng.choice(OPEN_TICKET),
                confirm=rng.choice(CONFIRM),
                status=rng.choice(STATUS),
                handover=rng.choice(HANDOVER),
                address=f"10.{20 + i // 65536}.{i // 256 % 256}.{i % 256 + 1}",
            )
        )
    return out


# ---- what the bot says: which form field it asks for, and whether the script is on track -----------

SLOT_PROMPTS = (  # (field, a phrase only that prompt contains) — domain.yml utter_ask_*, action_ask_ticket_confirm
    ("ticket_confirm", "请确认需求登记信息"),
    ("enterprise_name", "企业全称"),
    ("contact_name", "请问怎么称呼"),
    ("contact_mobile", "手机号"),
    ("ticket_location", "哪个新城或园区"),
    ("need_description", "描述您的需求"),
)
TICKET_NUMBER = re.compile(r"工单号\s*(QCY-\d{8}-\d{4,})")
BUSY = "系统繁忙"
FALLBACK_HINTS = ("没太理解", "暂时没能处理好")
HANDOVER_NOTICE = re.compile(
    r"服务专员（.+?）将在约\d+分钟内回复您|现在是非工作时间，服务专员将于"
)  # bot.handover.notice_for


def joined(replies: Sequence[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def asked_slot(replies: Sequence[dict]) -> Optional[str]:
    """The form field the bot's last prompt asks for (None: not in the form)."""
    for r in reversed(replies):
        text = r.get("text") or ""
        for slot, phrase in SLOT_PROMPTS:
            if phrase in text:
                return slot
    return None


def payloads(replies: Sequence[dict]) -> list[str]:
    return [b.get("payload") or "" for r in replies for b in (r.get("buttons") or [])]


# ---- one client: HTTP to the desks ----------------------------------------------------------------


@dataclasses.dataclass
class Turn:
    kind: str  # question / need / open / form:<slot> / status / handover
    text: str
    client_msg_id: str
    desk: int
    latency: float = 0.0  # seconds, the HTTP exchange (including waits after a 429)
    replies: list = dataclasses.field(default_factory=list)
    error: Optional[str] = None
    rate_limited: int = 0


@dataclasses.dataclass
class Transcript:
    enterprise: Enterprise
    conversation_id: str = ""
    key: str = ""
    turns: list[Turn] = dataclasses.field(default_factory=list)
    ticket_number: Optional[str] = None
    clarified: int = 0  # the need was not understood at first; a category button was clicked
    failed: Optional[str] = None  # the conversation could not go on (why)


class ChatClient:
    """One enterprise's browser: a conversation id + key, messages posted to the desks in turn."""

    def __init__(self, http: aiohttp.ClientSession, desks: Sequence[str], ent: Enterprise):
        self.http, self.desks, self.ent = http, list(desks), ent
        self.headers = {"X-Forwarded-For": ent.address}
        self.transcript = Transcript(ent)

    def desk_for(self, turn_no: int) -> int:
        """Round-robin per turn, offset per enterprise, so every desk sees every conversation."""
        return (self.ent.index + turn_no) % len(self.desks)

    async def open(self) -> None:
        url = self.desks[self.desk_for(0)] + "/api/chat/session"
        for attempt in range(MAX_429_RETRIES + 1):
            async with self.http.post(url, headers=self.headers) as r:
                if r.status == 429 and attempt < MAX_429_RETRIES:
                    await asyncio.sleep(_retry_after(r))
                    continue
                if r.status != 200:
                    raise RuntimeError(f"session: HTTP {r.status}")
                data = await r.json()
                break
        self.transcript.conversation_id, self.transcript.key = data["conversation_id"], data["key"]

    async def say(self, kind: str, text: str, title: Optional[str] = None) -> Turn:
        t = self.transcript
        turn = Turn(kind, text, uuid.uuid4().hex, self.desk_for(len(t.turns) + 1))
        t.turns.append(turn)
        body = {"conversation_id": t.conversation_id, "text": text, "client_msg_id": turn.client_msg_id}
        if title:
            body["title"] = title
        headers = {**self.headers, "X-Chat-Key": t.key}
        started = time.perf_counter()
        try:
            for attempt in range(MAX_429_RETRIES + 1):
                async with self.http.post(self.desks[turn.desk] + "/api/chat/message", json=body, headers=headers) as r:
                    if r.status == 429 and attempt < MAX_429_RETRIES:
                        turn.rate_limited += 1
                        await asyncio.sleep(_retry_after(r))
                        continue
                    if r.status != 200:
                        turn.error = f"http_{r.status}"
                        return turn
                    data = await r.json()
                    break
        except asyncio.TimeoutError:
            turn.error = "timeout"
            return turn
        except aiohttp.ClientError as exc:
            turn.error = f"connection:{type(exc).__name__}"
            return turn
        finally:
            turn.latency = time.perf_counter() - started
        turn.replies = list(data.get("replies") or [])
        if any(BUSY in (m.get("text") or "") for m in turn.replies):
            turn.error = "busy_notice"  # the desk gave up waiting for Rasa: wait for the real answer
            turn.replies = await self._later_replies(data["message"]["id"])
        elif not turn.replies:
            turn.error = "no_reply"
        return turn

    async def _later_replies(self, after_id: int) -> list[dict]:
        """Bot messages stored after `after_id` (the answer a retry delivers after a busy notice)."""
        t = self.transcript
        deadline = time.monotonic() + BUSY_WAIT
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            async with self.http.get(
                self.desks[0] + "/api/chat/history",
                params={"conversation_id": t.conversation_id, "after": str(after_id)},
                headers={**self.headers, "X-Chat-Key": t.key},
            ) as r:
                if r.status != 200:
                    continue
                got = [m for m in (await r.json()).get("messages", []) if m.get("author") == "bot"]
            if got:
                await asyncio.sleep(1.0)  # the rest of a multi-message answer
                async with self.http.get(
                    self.desks[0] + "/api/chat/history",
                    params={"conversation_id": t.conversation_id, "after": str(after_id)},
                    headers={**self.headers, "X-Chat-Key": t.key},
                ) as r:
                    return [m for m in (await r.json()).get("messages", []) if m.get("author") == "bot"]
        return []


def _retry_after(resp: aiohttp.ClientResponse) -> float:
    try:
        return min(60.0, max(0.5, float(resp.headers.get("Retry-After", "1"))))
    except ValueError:
        return 1.0


def _off_track(turn: Turn, what: str) -> None:
    if turn.error is None:
        turn.error = f"off_track:{what}"


async def converse(client: ChatClient, think_time: float = 0.0, rng: Optional[random.Random] = None) -> Transcript:
    """Play one enterprise's conversation, following the bot's actual prompts."""
    ent, t = client.ent, client.transcript
    rng = rng or random.Random(ent.index)

    async def pause() -> None:
        if think_time > 0:
            await asyncio.sleep(think_time * rng.uniform(0.5, 1.5))

    async def question(text: str) -> None:
        turn = await client.say("question", text)
        if turn.error is None:
            body = joined(turn.replies)
            if asked_slot(turn.replies):
                _off_track(turn, "form_started_on_question")
            elif any(h in body for h in FALLBACK_HINTS):
                _off_track(turn, "question_not_understood")
            elif HANDOVER_NOTICE.search(body):
                _off_track(turn, "handover_on_question")

    try:
        await client.open()
    except Exception as exc:  # noqa: BLE001 - counted; the conversation cannot start
        t.failed = f"session:{type(exc).__name__}:{exc}"
        return t
    await question(ent.questions[0])
    await pause()
    turn = await client.say("need", ent.need)
    slot = asked_slot(turn.replies)
    offered = {b.get("payload"): b.get("title") for r in turn.replies for b in (r.get("buttons") or [])}
    if turn.error is None and slot is None and f"/{ent.category}" in offered and "/open_ticket" not in offered:
        # Not understood; the bot offers categories: click the scripted one, as a user would.
        t.clarified += 1
        await pause()
        turn = await client.say("clarify", f"/{ent.category}", offered[f"/{ent.category}"])
        slot = asked_slot(turn.replies)
    if turn.error is None and slot is None:
        if "/open_ticket" not in payloads(turn.replies):
            _off_track(turn, "no_ticket_offer")
        await pause()
        text, title = ent.open_ticket
        turn = await client.say("open", text, title)
        slot = asked_slot(turn.replies)
        if turn.error is None and slot is None:
            _off_track(turn, "form_not_started")
    answers = {
        "enterprise_name": (ent.name, None),
        "contact_name": (ent.contact, None),
        "contact_mobile": (ent.mobile_typed, None),
        "ticket_location": (ent.location, None),
        "need_description": (ent.need, None),
        "ticket_confirm": ent.confirm,
    }
    asked: Counter = Counter()
    while slot is not None:
        asked[slot] += 1
        if asked[slot] > 2:  # the bot keeps asking the same thing: off track
            _off_track(turn, f"slot_repeated:{slot}")
            break
        await pause()
        text, title = answers[slot]
        turn = await client.say(f"form:{slot}", text, title)
        if slot == "ticket_confirm":
            m = TICKET_NUMBER.search(joined(turn.replies))
            if m:
                t.ticket_number = m.group(1)
            elif turn.error is None:
                _off_track(turn, "ticket_not_created")
            break
        slot = asked_slot(turn.replies)
        if slot is None and turn.error is None:
            _off_track(turn, "form_left")
    if len(t.turns) < TURNS - 2:
        await pause()
        await question(ent.questions[1])
    await pause()
    turn = await client.say("status", ent.status)
    if turn.error is None and (t.ticket_number or "—") not in joined(turn.replies):
        _off_track(turn, "ticket_not_in_status")
    await pause()
    turn = await client.say("handover", ent.handover)
    if turn.error is None and not HANDOVER_NOTICE.search(joined(turn.replies)):
        _off_track(turn, "no_handover")
    return t


# ---- the run --------------------------------------------------------------------------------------


@dataclasses.dataclass
class RunResult:
    transcripts: list[Transcript]
    wall: float
    concurrency: int
    started_at: Optional[datetime.datetime] = None  # UTC, for `check(since=…)`

    @property
    def turns(self) -> list[Turn]:
        return [turn for t in self.transcripts for turn in t.turns]

    def errors(self) -> Counter:
        c = Counter(
            turn.error.split(":")[0] if not turn.error.startswith("off_track") else turn.error
            for turn in self.turns
            if turn.error
        )
        c.update(f"conversation_failed:{t.failed.split(':')[0]}" for t in self.transcripts if t.failed)
        return c


async def run(
    desks: Sequence[str],
    ents: Sequence[Enterprise],
    concurrency: int = 20,
    think_time: float = 0.0,
    timeout: float = HTTP_TIMEOUT,
) -> RunResult:
    """All enterprises, at most `concurrency` talking at once; each conversation in order."""
    sem = asyncio.Semaphore(concurrency)
    conn = aiohttp.TCPConnector(limit=max(10, concurrency * 2))
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=timeout)) as http:

        async def one(ent: Enterprise) -> Transcript:
            async with sem:
                client = ChatClient(http, desks, ent)
                try:
                    return await converse(client, think_time)
                except Exception as exc:  # noqa: BLE001 - a bug in the script must not hide the others
                    client.transcript.failed = f"script:{type(exc).__name__}:{exc}"
                    return client.transcript

        started_at = datetime.datetime.now(datetime.timezone.utc)
        started = time.perf_counter()
        transcripts = await asyncio.gather(*(one(e) for e in ents))
        wall = time.perf_counter() - started
    return RunResult(list(transcripts), wall, concurrency, started_at)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def summary(result: RunResult) -> dict:
    turns = result.turns
    lat = [t.latency * 1000 for t in turns if t.error is None or t.error.startswith("off_track")]
    return {
        "enterprises": len(result.transcripts),
        "concurrency": result.concurrency,
        "wall_s": result.wall,
        "turns": len(turns),
        "throughput": len(turns) / result.wall if result.wall else 0.0,
        "p50": percentile(lat, 50),
        "p95": percentile(lat, 95),
        "p99": percentile(lat, 99),
        "mean": statistics.fmean(lat) if lat else float("nan"),
        "errors": sum(1 for t in turns if t.error) + sum(1 for t in result.transcripts if t.failed),
        "errors_by_kind": dict(result.errors()),
        "rate_limited_retries": sum(t.rate_limited for t in turns),
        "tickets_seen": sum(1 for t in result.transcripts if t.ticket_number),
        "clarified": sum(t.clarified for t in result.transcripts),
    }


# ---- checks against the service database ----------------------------------------------------------


@dataclasses.dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


def enterprise_names(db_url: str) -> frozenset:
    """Names of the enterprises the service database already knows (earlier runs, real data)."""
    from sqlalchemy import select

    from bot.db import read_sessions
    from bot.db.schema import Enterprise as EntRow

    with read_sessions(db_url)() as s:
        return frozenset(s.scalars(select(EntRow.name)))


def check(db_url: str, transcripts: Sequence[Transcript], since=None, show: int = 5) -> list[Check]:
    """Read the service database and compare it with what the script sent and expected.

    `since` (UTC): tickets of the same enterprise names filed from then on count as duplicates
    even under another conversation (earlier runs against the same database do not)."""
    from sqlalchemy import func, select, true

    from bot.db import read_sessions
    from bot.db.schema import Contact, Handover, Message, Ticket
    from bot.db.schema import Enterprise as EntRow

    convs = [t for t in transcripts if t.conversation_id]
    ids = [t.conversation_id for t in convs]
    inbound: dict[str, list] = {cid: [] for cid in ids}
    replies_to: Counter = Counter()
    tickets: dict[str, list] = {cid: [] for cid in ids}
    handovers: dict[str, list] = {cid: [] for cid in ids}
    with read_sessions(db_url)() as s:
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            for m in s.scalars(select(Message).where(Message.conversation_id.in_(chunk), Message.direction == "in")):
                inbound[m.conversation_id].append(m)
            for reply_to, n in s.execute(
                select(Message.reply_to, func.count())
                .where(Message.conversation_id.in_(chunk), Message.direction == "out", Message.reply_to.is_not(None))
                .group_by(Message.reply_to)
            ):
                replies_to[reply_to] = n
            for row in s.execute(
                select(
                    Ticket.id,
                    Ticket.number,
                    Ticket.category,
                    Ticket.description,
                    Ticket.conversation_id,
                    EntRow.name.label("enterprise"),
                    Contact.mobile,
                )
                .join(EntRow, Ticket.enterprise_id == EntRow.id)
                .join(Contact, Ticket.contact_id == Contact.id, isouter=True)
                .where(Ticket.conversation_id.in_(chunk))
            ):
                tickets[row.conversation_id].append(row)
            for h in s.scalars(select(Handover).where(Handover.conversation_id.in_(chunk))):
                handovers[h.conversation_id].append(h)

    def result(name: str, problems: list[str], total: int) -> Check:
        if not problems:
            return Check(name, True, f"{total} checked")
        more = f" (+{len(problems) - show} more)" if len(problems) > show else ""
        return Check(name, False, f"{len(problems)} of {total}: " + "; ".join(problems[:show]) + more)

    out = []
    # 1. every message sent is stored exactly once, in its conversation, with its text; nothing else
    problems, total = [], 0
    for t in convs:
        stored = Counter(m.client_msg_id for m in inbound[t.conversation_id])
        by_cmid = {m.client_msg_id: m for m in inbound[t.conversation_id]}
        sent = {turn.client_msg_id for turn in t.turns}
        for turn in t.turns:
            total += 1
            n = stored.get(turn.client_msg_id, 0)
            if n != 1:
                problems.append(f"{t.conversation_id[:8]} turn '{turn.text[:12]}' stored {n}×")
            elif by_cmid[turn.client_msg_id].text != turn.text:
                problems.append(f"{t.conversation_id[:8]} turn '{turn.text[:12]}' stored with other text")
        extra = [m for m in inbound[t.conversation_id] if m.client_msg_id not in sent]
        if extra:
            problems.append(f"{t.conversation_id[:8]}: {len(extra)} inbound message(s) nobody sent")
    out.append(result("every message stored exactly once", problems, total))

    # 2. every inbound message answered (bot replied, or handed to staff) — none pending
    problems, states = [], Counter()
    for t in convs:
        for m in inbound[t.conversation_id]:
            states[m.state] += 1
            if m.state not in ("answered", "forwarded"):
                problems.append(f"message {m.id} '{(m.text or '')[:12]}' {m.state}")
            elif m.state == "answered" and not replies_to.get(m.id):
                problems.append(f"message {m.id} '{(m.text or '')[:12]}' answered without a stored reply")
    out.append(result("every message answered", problems, sum(states.values())))
    out[-1].detail += "  states: " + ", ".join(f"{k}={v}" for k, v in sorted(states.items()))

    # 3. exactly one ticket per scripted need, with the enterprise's details
    problems = []
    for t in convs:
        ent, rows = t.enterprise, tickets[t.conversation_id]
        if len(rows) != 1:
            problems.append(f"{ent.name}: {len(rows)} tickets")
            continue
        tk = rows[0]
        wrong = [
            what
            for what, bad in (
                ("category", tk.category != ent.category),
                ("enterprise", tk.enterprise != ent.name),
                ("credit code", ent.credit_code not in (tk.description or "")),
                ("mobile", tk.mobile != ent.mobile),
                ("number", t.ticket_number is not None and tk.number != t.ticket_number),
            )
            if bad
        ]
        if wrong:
            problems.append(f"{ent.name}: wrong {', '.join(wrong)} ({tk.number} {tk.category})")
    with read_sessions(db_url)() as s:  # a duplicate filed under another conversation counts too
        names = sorted({t.enterprise.name for t in convs})
        per_name = Counter()
        for i in range(0, len(names), 500):
            per_name.update(
                dict(
                    s.execute(
                        select(EntRow.name, func.count(Ticket.id))
                        .join(Ticket, Ticket.enterprise_id == EntRow.id)
                        .where(
                            EntRow.name.in_(names[i : i + 500]),
                            Ticket.created_at >= since if since is not None else true(),
                        )
                        .group_by(EntRow.name)
                    ).all()
                )
            )
    problems += [f"{name}: {n} tickets for the enterprise" for name, n in sorted(per_name.items()) if n > 1]
    out.append(result("exactly one ticket per scripted need", problems, len(convs)))

    # 4. one handover per conversation, linked to that ticket
    problems = []
    for t in convs:
        hs = handovers[t.conversation_id]
        if len(hs) != 1:
            problems.append(f"{t.enterprise.name}: {len(hs)} handovers")
        elif tickets[t.conversation_id] and hs[0].ticket_id != tickets[t.conversation_id][0].id:
            problems.append(f"{t.enterprise.name}: handover not linked to its ticket")
    out.append(result("one handover per conversation", problems, len(convs)))

    # 5. every enterprise's conversation happened at all
    failed = [f"#{t.enterprise.index}: {t.failed}" for t in transcripts if t.failed or not t.conversation_id]
    out.append(result("every conversation ran to the end", failed, len(transcripts)))
    return out
