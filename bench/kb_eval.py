"""Knowledge-base retrieval evaluation: our retriever + decision rule vs. a BM25 baseline.

    python bench/kb_eval.py                 # DEV and TEST
    python bench/kb_eval.py --set dev       # only DEV
    python bench/kb_eval.py --set dev --errors   # also list DEV misses (DEV only)
    python bench/kb_eval.py --fit           # re-fit the reply policy on half of DEV, check on the other

Question sets (tests/eval/kb_dev.yml, kb_test.yml): `questions: [{q, expected,
also?}]`; `expected` is a FAQ id or null (the base does not cover it) and a hit
is correct when its FAQ id is `expected` or in `also`. TEST is held out: this
script prints only aggregate figures for it, never its questions.
Follow-ups (tests/eval/kb_followups.yml): two-turn pairs, scored on the second
turn with and without the first as context.

Figures, per set — retrieval:
- top-1 / top-3 / MRR over the answerable questions (MRR: 1/rank of the first
  correct FAQ within the top 10, else 0);
- no-answer precision: of the questions the system declines (decision
  "unknown"), the share whose expected is null; no-answer recall: of the
  expected-null questions, the share declined;
- answer precision: when the decision is "answer", the share whose top hit is
  correct (a direct answer to an uncovered question counts as wrong);
- the share of each decision (answer / best guess / options / unknown).
Reply policy, as the user sees it:
- for each decision its share and precision (answer, best guess: the FAQ shown
  is correct; options: the first option is, and any option is; unknown: the
  question is expected null);
- key fact shown: of the answerable questions, the share whose reply (answer,
  best guess or FIRST option) is the expected FAQ's answer;
- null safe: of the expected-null questions, the share that get no direct
  (confident) answer; confident wrong: of all questions, the share answered
  directly with a wrong FAQ (an uncovered question answered counts as wrong).

BASELINE: jieba with its default dictionary only (a fresh jieba.Tokenizer, no
user dictionary, no synonyms, no normalisation beyond dropping tokens without
any letter, digit or CJK character) + Okapi BM25 (k1=1.5, b=0.75, idf
ln(1 + (N - df + 0.5) / (df + 0.5))) over one document per FAQ: its question and
variants. No fuzzy matching, no calibration. It answers when its top BM25
score reaches a threshold and declines otherwise (no best guess, no options); the
threshold is chosen on DEV only, maximising the F1 of no-answer precision and
recall (ties: the higher answer precision, then the lower threshold), and
reused unchanged for TEST.

Independent of Rasa: only bot.knowledge (jieba, rapidfuzz, numpy) is imported.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.knowledge import KnowledgeService, load_base  # noqa: E402

SETS = {"dev": ROOT / "tests" / "eval" / "kb_dev.yml", "test": ROOT / "tests" / "eval" / "kb_test.yml"}
FOLLOWUPS = ROOT / "tests" / "eval" / "kb_followups.yml"
FIT_SEED = 20261202  # the DEV fit/check split for --fit
KNOWLEDGE = ROOT / "knowledge"
TOP_K = 10
BASE_K1, BASE_B = 1.5, 0.75
_WORDLIKE = re.compile(r"\w")


@dataclass
class Question:
    q: str
    gold: frozenset[str]  # empty: the base does not cover it (expected null)

    @property
    def answerable(self) -> bool:
        return bool(self.gold)


@dataclass
class Outcome:
    ranked: list[str]  # FAQ ids, best first (up to TOP_K)
    decision: str  # "answer" | "best_guess" | "options" | "unknown"
    shown: tuple[str, ...] = ()  # FAQ ids shown: the answer (+ alternatives) or the options


def load_questions(path: Path) -> list[Question]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = []
    for item in data.get("questions") or []:
        gold = set(item.get("also") or [])
        if item.get("expected"):
            gold.add(item["expected"])
        out.append(Question(str(item["q"]), frozenset(gold)))
    return out


# --------------------------------------------------------------------------- metrics


def metrics(questions: Sequence[Question], outcomes: Sequence[Outcome]) -> dict:
    ans = [(q, o) for q, o in zip(questions, outcomes) if q.answerable]
    ranks = []
    for q, o in ans:
        rank = next((r for r, fid in enumerate(o.ranked[:TOP_K], 1) if fid in q.gold), 0)
        ranks.append(rank)
    na = len(ans)
    declined = [q for q, o in zip(questions, outcomes) if o.decision == "unknown"]
    nulls = [(q, o) for q, o in zip(questions, outcomes) if not q.answerable]
    answered = [(q, o) for q, o in zip(questions, outcomes) if o.decision == "answer"]
    decisions = Counter(o.decision for o in outcomes)
    n = len(questions)

    def share(a: int, b: int) -> float:
        return a / b if b else float("nan")

    def first_ok(q: Question, o: Outcome) -> bool:
        first = o.shown[0] if o.shown else (o.ranked[0] if o.ranked else None)
        return o.decision != "unknown" and first in q.gold

    def of(decision: str) -> list[tuple[Question, Outcome]]:
        return [(q, o) for q, o in zip(questions, outcomes) if o.decision == decision]

    return {
        "n": n,
        "answerable": na,
        "top1": share(sum(r == 1 for r in ranks), na),
        "top3": share(sum(1 <= r <= 3 for r in ranks), na),
        "mrr": share(sum(1 / r for r in ranks if r), na),
        "na_prec": share(sum(not q.answerable for q in declined), len(declined)),
        "na_rec": share(sum(o.decision == "unknown" for _, o in nulls), len(nulls)),
        "ans_prec": share(sum(bool(o.ranked) and o.ranked[0] in q.gold for q, o in answered), len(answered)),
        "answer": share(decisions["answer"], n),
        "best_guess": share(decisions["best_guess"], n),
        "options": share(decisions["options"], n),
        "unknown": share(decisions["unknown"], n),
        "bg_prec": share(sum(first_ok(q, o) for q, o in of("best_guess")), decisions["best_guess"]),
        "opt_prec": share(sum(first_ok(q, o) for q, o in of("options")), decisions["options"]),
        "opt_any": share(sum(bool(set(o.shown) & q.gold) for q, o in of("options")), decisions["options"]),
        "key_fact": share(sum(first_ok(q, o) for q, o in ans), na),
        "null_safe": share(sum(o.decision != "answer" for _, o in nulls), len(nulls)),
        "conf_wrong": share(sum(not (bool(o.ranked) and o.ranked[0] in q.gold) for q, o in answered), n),
    }


def f1(p: float, r: float) -> float:
    if math.isnan(p) or math.isnan(r) or p + r == 0:
        return 0.0
    return 2 * p * r / (p + r)


# --------------------------------------------------------------------------- our system


class Ours:
    name = "ours"

    def __init__(self, directory: Path):
        started = time.perf_counter()
        self.service = KnowledgeService(directory, strict=True, background_reload=False, check_interval=1e9)
        self.build_s = time.perf_counter() - started

    def run(self, questions: Sequence[Question]) -> list[Outcome]:
        out = []
        for q in questions:
            a = self.service.ask(q.q, k=TOP_K)
            out.append(outcome_of(a))
        return out

    def hits(self, questions: Sequence[Question]) -> list[list]:
        return [self.service.ask(q.q, k=TOP_K).hits for q in questions]


def outcome_of(a) -> Outcome:
    return Outcome([h.faq.id for h in a.hits], a.decision, tuple(h.faq.id for h in a.options))


# --------------------------------------------------------------------------- baseline


class Bm25Baseline:
    """Plain jieba (default dictionary) + Okapi BM25 over question + variants per FAQ."""

    name = "baseline"

    def __init__(self, directory: Path, k1: float = BASE_K1, b: float = BASE_B):
        import jieba

        started = time.perf_counter()
        jieba.setLogLevel(logging.WARNING)
        self.tk = jieba.Tokenizer()  # fresh: default dictionary, no user dictionary
        self.tk.initialize()
        kb = load_base(directory)
        self.ids = list(kb.faqs)
        docs = [self.tokens(" ".join(f.sentences)) for f in kb.faqs.values()]
        self.tf = [Counter(d) for d in docs]
        self.len = [len(d) for d in docs]
        n = len(docs)
        self.avgdl = sum(self.len) / n if n else 0.0
        df = Counter(t for d in self.tf for t in d)
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.post: dict[str, list[int]] = {}
        for i, d in enumerate(self.tf):
            for t in d:
                self.post.setdefault(t, []).append(i)
        self.k1, self.b = k1, b
        self.threshold = 0.0
        self.build_s = time.perf_counter() - started

    def tokens(self, text: str) -> list[str]:
        return [t for t in self.tk.lcut(text) if _WORDLIKE.search(t)]

    def scores(self, text: str) -> list[tuple[float, str]]:
        acc: dict[int, float] = {}
        for t in set(self.tokens(text)):
            idf = self.idf.get(t)
            if idf is None:
                continue
            for i in self.post[t]:
                tf = self.tf[i][t]
                norm = self.k1 * (1 - self.b + self.b * self.len[i] / self.avgdl)
                acc[i] = acc.get(i, 0.0) + idf * tf * (self.k1 + 1) / (tf + norm)
        ranked = sorted(acc.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_K]
        return [(s, self.ids[i]) for i, s in ranked]

    def raw(self, questions: Sequence[Question]) -> list[list[tuple[float, str]]]:
        return [self.scores(q.q) for q in questions]

    def outcomes(self, raw: list[list[tuple[float, str]]], threshold: float) -> list[Outcome]:
        return [
            Outcome(
                [fid for _, fid in r],
                "answer" if r and r[0][0] >= threshold else "unknown",
                tuple(fid for _, fid in r[:1]),
            )
            for r in raw
        ]

    def choose_threshold(self, questions: Sequence[Question]) -> float:
        """The no-answer threshold that maximises no-answer F1 on these (DEV) questions."""
        raw = self.raw(questions)
        tops = sorted({r[0][0] for r in raw if r})
        candidates = [0.0] + [(a + b) / 2 for a, b in zip(tops, tops[1:])] + [tops[-1] + 1e-6 if tops else 1.0]
        best: Optional[tuple] = None
        for t in candidates:
            m = metrics(questions, self.outcomes(raw, t))
            ap = 0.0 if math.isnan(m["ans_prec"]) else m["ans_prec"]
            key = (f1(m["na_prec"], m["na_rec"]), ap, -t)
            if best is None or key > best[0]:
                best = (key, t)
        self.threshold = best[1]
        return self.threshold

    def run(self, questions: Sequence[Question]) -> list[Outcome]:
        return self.outcomes(self.raw(questions), self.threshold)


# --------------------------------------------------------------------------- report

COLUMNS = [
    ("n", "n", "{:d}"),
    ("answerable", "ans", "{:d}"),
    ("top1", "top-1", "{:.3f}"),
    ("top3", "top-3", "{:.3f}"),
    ("mrr", "MRR", "{:.3f}"),
    ("na_prec", "NA-P", "{:.3f}"),
    ("na_rec", "NA-R", "{:.3f}"),
    ("ans_prec", "ans-P", "{:.3f}"),
    ("answer", "%ans", "{:.2f}"),
    ("best_guess", "%bg", "{:.2f}"),
    ("options", "%opt", "{:.2f}"),
    ("unknown", "%unk", "{:.2f}"),
]
POLICY_COLUMNS = [
    ("n", "n", "{:d}"),
    ("answer", "%ans", "{:.2f}"),
    ("ans_prec", "P", "{:.3f}"),
    ("best_guess", "%bg", "{:.2f}"),
    ("bg_prec", "P", "{:.3f}"),
    ("options", "%opt", "{:.2f}"),
    ("opt_prec", "P1st", "{:.3f}"),
    ("opt_any", "Pany", "{:.3f}"),
    ("unknown", "%unk", "{:.2f}"),
    ("na_prec", "P", "{:.3f}"),
    ("key_fact", "KEY", "{:.3f}"),
    ("null_safe", "NULLOK", "{:.3f}"),
    ("conf_wrong", "CONFWR", "{:.3f}"),
]


def fmt(value, spec: str) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "—"
    return spec.format(value)


def print_table(rows: list[tuple[str, str, dict]], columns=COLUMNS) -> None:
    head = f"{'set':<9} {'system':<9}" + "".join(f"{label:>7}" for _, label, _ in columns)
    print(head)
    print("-" * len(head))
    for set_name, system, m in rows:
        print(f"{set_name:<9} {system:<9}" + "".join(f"{fmt(m[key], spec):>7}" for key, _, spec in columns))


def verbatim(questions: Sequence[Question], kb) -> list[bool]:
    """Which questions appear word for word (after normalisation, ignoring
    punctuation and spaces) among the base's questions and variants. Short
    questions can coincide with a variant written independently; those are
    easy, so figures are also printed without them (rows marked "-new")."""
    from bot.text import normalise

    def key(text: str) -> str:
        return re.sub(r"[\W_]+", "", normalise(text))

    sentences = {key(s) for faq in kb.faqs.values() for s in faq.sentences}
    return [key(q.q) in sentences for q in questions]


def verbatim_count(questions: Sequence[Question], kb) -> int:
    return sum(verbatim(questions, kb))


def print_errors(questions: Sequence[Question], outcomes: Sequence[Outcome]) -> None:
    print("\nDEV misses (ours): decision, gold, ranked top-3")
    for q, o in zip(questions, outcomes):
        top = o.ranked[0] if o.ranked else None
        wrong = (
            (q.answerable and top not in q.gold)
            or (not q.answerable and o.decision != "unknown")
            or (q.answerable and o.decision == "unknown")
        )
        if wrong:
            gold = "/".join(sorted(q.gold)) or "null"
            print(f"  [{o.decision[:3]}] {q.q}\n        gold={gold}  got={o.ranked[:3]}")


# --------------------------------------------------------------------------- reply policy fit


def split_dev(questions: Sequence[Question], seed: int = FIT_SEED) -> tuple[list[Question], list[Question]]:
    """DEV cut into a fit half and a check half by a fixed seed (same halves every run)."""
    order = list(range(len(questions)))
    random.Random(seed).shuffle(order)
    half = len(order) // 2
    return [questions[i] for i in sorted(order[:half])], [questions[i] for i in sorted(order[half:])]


def _grid(lo: float, hi: float, step: float) -> list[float]:
    return [round(lo + i * step, 4) for i in range(int(round((hi - lo) / step)) + 1)]


def fit_policy(questions: Sequence[Question], hit_lists: Sequence[list], max_conf_wrong: float = 0.02):
    """Grid-search (unknown_threshold, answer_threshold, answer_margin, options_margin, sure_threshold).

    Value of a setting, summed over the questions: +1 for an answerable
    question whose reply shows the right FAQ first (answer, best guess or
    first option), +0.5 for an uncovered question declined ("unknown": a
    best guess on it is labelled as a guess, so declining matters less than
    finding), +0.2 more when a right FAQ comes as a direct answer (no hedge),
    -5 for a direct answer that is wrong (a confident wrong answer costs more
    than many hedges), +0.1 per menu that offers the right FAQ when the top
    one is wrong, -0.05 per menu whose top FAQ was right anyway. Settings
    with more than `max_conf_wrong` of the questions answered wrongly are
    out, and so are answer thresholds below 0.5: the score is a calibrated
    probability, and a direct answer that the model itself rates less likely
    right than wrong is not "confident" (half of DEV has few wrong answers to
    learn that from). Among the settings of the best value the safe end of
    the plateau is taken, since the costs are lopsided: the highest answer
    threshold and margin (fewer confident answers), the lowest unknown
    threshold ("unknown" only when nothing relevant is found), the median
    options margin, the highest near-certain threshold.
    """
    from bot.knowledge.service import decide, distinct

    rows = [(q, distinct(h)) for q, h in zip(questions, hit_lists)]
    n = len(rows)
    tops = [
        (
            q,
            h[0].score if h else 0.0,
            (h[0].faq.id in q.gold) if h else False,
            h[0].score - (h[1].score if len(h) > 1 else 0.0) if h else 0.0,
            h,
        )
        for q, h in rows
    ]
    best_key, ties = None, []
    sures = [*_grid(0.80, 0.95, 0.05), 1.01]  # 1.01: no near-certain rule
    for tu in _grid(0.05, 0.40, 0.01):
        served = 0.0
        for q, s1, ok, _, _ in tops:
            served += float(s1 >= tu and ok) if q.answerable else 0.5 * (s1 < tu)
        for mo in _grid(0.0, 0.2, 0.02):
            # per question: is some other FAQ close (a menu), and is the menu worth it
            close_of, menu_value = [], []
            for q, s1, ok, margin, h in tops:
                close = [x for x in h[1:] if x.score >= tu and s1 - x.score < mo]
                close_of.append(bool(close))
                offered = {h[0].faq.id, *(x.faq.id for x in close[:2])} if h else set()
                menu_value.append(0.1 if (not ok and offered & q.gold) else (-0.05 if ok else 0.0))
            for ta in _grid(0.50, 0.95, 0.05):
                for ma in _grid(0.0, 0.5, 0.05):
                    for sure in sures:
                        conf_wrong = correct_ans = 0
                        helpful = 0.0
                        for k, (q, s1, ok, margin, _) in enumerate(tops):
                            if s1 < tu:
                                continue
                            clear = s1 >= ta and margin >= ma
                            if not clear and close_of[k]:
                                helpful += menu_value[k]
                            elif clear or s1 >= max(sure, ta):
                                correct_ans += ok
                                conf_wrong += not ok
                        if conf_wrong > max_conf_wrong * n:
                            continue
                        key = round(served + 0.2 * correct_ans - 5 * conf_wrong + helpful, 6)
                        if best_key is None or key > best_key:
                            best_key, ties = key, [(tu, ta, ma, mo, sure)]
                        elif key == best_key:
                            ties.append((tu, ta, ma, mo, sure))
    safe = (
        min(t[0] for t in ties),
        max(t[1] for t in ties),
        max(t[2] for t in ties),
        sorted(t[3] for t in ties)[len(ties) // 2],
        max(t[4] for t in ties),
    )
    scale = (0.35, 0.45, 0.5, 0.2, 0.21)  # grid widths: distances in comparable units
    chosen = min(ties, key=lambda t: sum(abs(a - b) / w for a, b, w in zip(t, safe, scale)))
    # the figures of the chosen setting, through the real decide()
    check = [decide(h, chosen[1], chosen[2], chosen[0], chosen[3], chosen[4]) for _, h in rows]
    assert all(d in ("answer", "best_guess", "options", "unknown") for d, _ in check)
    return chosen, best_key, len(ties)


def policy_outcomes(hit_lists: Sequence[list], params: tuple) -> list[Outcome]:
    from bot.knowledge.service import decide

    tu, ta, ma, mo, sure = params
    out = []
    for h in hit_lists:
        d, options = decide(h, ta, ma, tu, mo, sure)
        out.append(Outcome([x.faq.id for x in h], d, tuple(x.faq.id for x in options)))
    return out


def run_fit(ours: "Ours") -> None:
    from bot.knowledge import service as svc

    dev = load_questions(SETS["dev"])
    fit, check = split_dev(dev)
    fit_hits, check_hits = ours.hits(fit), ours.hits(check)
    params, key, n_ties = fit_policy(fit, fit_hits)
    current = (svc.UNKNOWN_THRESHOLD, svc.ANSWER_THRESHOLD, svc.ANSWER_MARGIN, svc.OPTIONS_MARGIN, svc.SURE_THRESHOLD)
    print(f"DEV split by seed {FIT_SEED}: fit {len(fit)} questions, check {len(check)}")
    print(
        f"fitted: UNKNOWN_THRESHOLD={params[0]} ANSWER_THRESHOLD={params[1]} ANSWER_MARGIN={params[2]} "
        f"OPTIONS_MARGIN={params[3]} SURE_THRESHOLD={params[4]}  (value {key:.2f} on {len(fit)} questions; {n_ties} tying settings)"
    )
    print(
        f"in service.py: UNKNOWN_THRESHOLD={current[0]} ANSWER_THRESHOLD={current[1]} "
        f"ANSWER_MARGIN={current[2]} OPTIONS_MARGIN={current[3]} SURE_THRESHOLD={current[4]}\n"
    )
    swapped, _, _ = fit_policy(check, check_hits)
    print(
        f"stability: the same fit on the check half instead gives UNKNOWN_THRESHOLD={swapped[0]} "
        f"ANSWER_THRESHOLD={swapped[1]} ANSWER_MARGIN={swapped[2]} OPTIONS_MARGIN={swapped[3]} "
        f"SURE_THRESHOLD={swapped[4]}\n"
    )
    rows = []
    for label, p in (("fitted", params), ("service", current)):
        rows.append(("dev-fit", label, metrics(fit, policy_outcomes(fit_hits, p))))
        rows.append(("dev-check", label, metrics(check, policy_outcomes(check_hits, p))))
    print_table(rows, POLICY_COLUMNS)


# --------------------------------------------------------------------------- follow-ups


@dataclass
class Pair:
    kind: str
    first: str
    then: str
    gold: frozenset[str]


def load_pairs(path: Path = FOLLOWUPS) -> list[Pair]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = []
    for item in data.get("pairs") or []:
        gold = set(item.get("also") or [])
        gold.add(item["expected"])
        out.append(Pair(str(item.get("kind", "")), str(item["first"]), str(item["then"]), frozenset(gold)))
    return out


def run_followups(ours: "Ours", pairs: Sequence[Pair], show_errors: bool = False) -> dict:
    """Second-turn accuracy with the first turn as context, and without it (as before)."""
    from bot.knowledge import KbContext

    service = ours.service
    per_kind: dict[str, list[tuple[bool, bool]]] = {}
    misses = []
    for p in pairs:
        first = service.ask(p.first)
        context = first.context()
        if context is None and first.top is not None:  # a menu: the user picks the first option
            context = KbContext(first.entry.id, first.faq.id, first.resolved or p.first)
        with_ctx = service.ask(p.then, context=context)
        alone = service.ask(p.then)
        ok = with_ctx.decision != "unknown" and bool(with_ctx.options) and with_ctx.options[0].faq.id in p.gold
        ok_alone = alone.decision != "unknown" and bool(alone.options) and alone.options[0].faq.id in p.gold
        per_kind.setdefault(p.kind, []).append((ok, ok_alone))
        if not ok:
            misses.append((p, with_ctx))
    print(f"{'follow-ups':<14}{'n':>4}{'with context':>14}{'without':>10}")
    total = [r for rs in per_kind.values() for r in rs]
    for kind, rs in [*sorted(per_kind.items()), ("all", total)]:
        print(f"{kind:<14}{len(rs):>4}{sum(a for a, _ in rs) / len(rs):>14.3f}{sum(b for _, b in rs) / len(rs):>10.3f}")
    if show_errors:
        for p, a in misses:
            got = a.options[0].faq.id if a.options else None
            print(
                f"  miss [{p.kind}] {p.first} → {p.then}: read as {a.reading} «{a.resolved}» "
                f"→ {a.decision} {got}; gold {sorted(p.gold)}"
            )
    return {
        "n": len(total),
        "with": sum(a for a, _ in total) / len(total),
        "without": sum(b for _, b in total) / len(total),
    }


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=("dev", "test", "both"), default="both")
    parser.add_argument("--dir", type=Path, default=KNOWLEDGE, help="knowledge directory")
    parser.add_argument("--errors", action="store_true", help="list DEV and follow-up misses (never TEST)")
    parser.add_argument(
        "--fit",
        action="store_true",
        help="re-fit the reply policy on half of DEV and print both halves (TEST untouched)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("jieba").setLevel(logging.WARNING)
    if args.fit:
        run_fit(Ours(args.dir))
        return 0

    names = ["dev", "test"] if args.set == "both" else [args.set]
    questions = {name: load_questions(SETS[name]) for name in names}
    ours = Ours(args.dir)
    base = Bm25Baseline(args.dir)
    # The baseline threshold always comes from DEV, also when only TEST is printed.
    dev_q = questions.get("dev") or load_questions(SETS["dev"])
    threshold = base.choose_threshold(dev_q)

    kb = ours.service.base
    print(f"knowledge base: {kb.summary()}")
    print(f"ours: {ours.service.retriever.calibration.describe()}  (built in {ours.build_s:.1f} s)")
    print(
        f"baseline: jieba default dict + BM25 k1={BASE_K1} b={BASE_B}; "
        f"no-answer threshold (top BM25 score, chosen on DEV by no-answer F1) = {threshold:.3f}"
    )
    print(
        "columns: top-1/top-3/MRR over answerable; NA-P/NA-R = no-answer precision/recall; "
        "ans-P = precision of direct answers; %ans/%bg/%opt/%unk = share of each decision "
        "(answer / best guess / options / unknown)\n"
    )
    rows = []
    dev_outcomes = None
    for name in names:
        qs = questions[name]
        o = ours.run(qs)
        if name == "dev":
            dev_outcomes = o
        rows.append((name, "ours", metrics(qs, o)))
        rows.append((name, "baseline", metrics(qs, base.run(qs))))
        new = [q for q, seen in zip(qs, verbatim(qs, ours.service.base)) if not seen]
        rows.append((f"{name}-new", "ours", metrics(new, ours.run(new))))
        rows.append((f"{name}-new", "baseline", metrics(new, base.run(new))))
    print_table(rows)
    print(
        "\nreply policy (ours): share of each decision and its precision (P1st/Pany: first/any option right); "
        "KEY = key fact shown (answerable), NULLOK = uncovered questions not answered directly, "
        "CONFWR = share of all questions answered directly and wrongly"
    )
    policy_rows = [(name, "ours", m) for name, system, m in rows if system == "ours"]
    print_table(policy_rows, POLICY_COLUMNS)
    print()
    run_followups(ours, load_pairs(), show_errors=args.errors)
    print()
    for name in names:
        qs = questions[name]
        print(
            f"{name}: {verbatim_count(qs, kb)} of {len(qs)} questions appear verbatim among the "
            "base's questions/variants (after normalisation)"
        )
    if args.errors and dev_outcomes is not None:
        print_errors(questions["dev"], dev_outcomes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
