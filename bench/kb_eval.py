"""Knowledge-base retrieval evaluation: our retriever + decision rule vs. a BM25 baseline.

    python bench/kb_eval.py                 # DEV and TEST
    python bench/kb_eval.py --set dev       # only DEV
    python bench/kb_eval.py --set dev --errors   # also list DEV misses (DEV only)

Question sets (tests/eval/kb_dev.yml, kb_test.yml): `questions: [{q, expected,
also?}]`; `expected` is a FAQ id or null (the base does not cover it) and a hit
is correct when its FAQ id is `expected` or in `also`. TEST is held out: this
script prints only aggregate figures for it, never its questions.

Figures, per set:
- top-1 / top-3 / MRR over the answerable questions (MRR: 1/rank of the first
  correct FAQ within the top 10, else 0);
- no-answer precision: of the questions the system declines (decision
  "unknown"), the share whose expected is null; no-answer recall: of the
  expected-null questions, the share declined;
- answer precision: when the decision is "answer", the share whose top hit is
  correct (a direct answer to an uncovered question counts as wrong);
- the share of each decision (answer / ambiguous / unknown).

BASELINE: jieba with its default dictionary only (a fresh jieba.Tokenizer, no
user dictionary, no synonyms, no normalisation beyond dropping tokens without
any letter, digit or CJK character) + Okapi BM25 (k1=1.5, b=0.75, idf
ln(1 + (N - df + 0.5) / (df + 0.5))) over one document per FAQ: its question and
variants. No fuzzy matching, no calibration. It answers when its top BM25
score reaches a threshold and declines otherwise (it has no "ambiguous"); the
threshold is chosen on DEV only, maximising the F1 of no-answer precision and
recall (ties: the higher answer precision, then the lower threshold), and
reused unchanged for TEST.

Independent of Rasa: only bot.knowledge (jieba, rapidfuzz, numpy) is imported.
"""
from __future__ import annotations

import argparse
import logging
import math
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
    ranked: list[str]     # FAQ ids, best first (up to TOP_K)
    decision: str         # "answer" | "ambiguous" | "unknown"


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

    return {
        "n": n,
        "answerable": na,
        "top1": share(sum(r == 1 for r in ranks), na),
        "top3": share(sum(1 <= r <= 3 for r in ranks), na),
        "mrr": share(sum(1 / r for r in ranks if r), na),
        "na_prec": share(sum(not q.answerable for q in declined), len(declined)),
        "na_rec": share(sum(o.decision == "unknown" for _, o in nulls), len(nulls)),
        "ans_prec": share(sum(bool(o.ranked) and o.ranked[0] in q.gold for q, o in answered),
                          len(answered)),
        "answer": share(decisions["answer"], n),
        "ambiguous": share(decisions["ambiguous"], n),
        "unknown": share(decisions["unknown"], n),
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
        self.service = KnowledgeService(directory, strict=True, background_reload=False,
                                        check_interval=1e9)
        self.build_s = time.perf_counter() - started

    def run(self, questions: Sequence[Question]) -> list[Outcome]:
        out = []
        for q in questions:
            a = self.service.ask(q.q, k=TOP_K)
            out.append(Outcome([h.faq.id for h in a.hits], a.decision))
        return out


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
        return [Outcome([fid for _, fid in r],
                        "answer" if r and r[0][0] >= threshold else "unknown") for r in raw]

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

COLUMNS = [("n", "n", "{:d}"), ("answerable", "ans", "{:d}"), ("top1", "top-1", "{:.3f}"),
           ("top3", "top-3", "{:.3f}"), ("mrr", "MRR", "{:.3f}"), ("na_prec", "NA-P", "{:.3f}"),
           ("na_rec", "NA-R", "{:.3f}"), ("ans_prec", "ans-P", "{:.3f}"),
           ("answer", "%ans", "{:.2f}"), ("ambiguous", "%amb", "{:.2f}"), ("unknown", "%unk", "{:.2f}")]


def fmt(value, spec: str) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "—"
    return spec.format(value)


def print_table(rows: list[tuple[str, str, dict]]) -> None:
    head = f"{'set':<9} {'system':<9}" + "".join(f"{label:>7}" for _, label, _ in COLUMNS)
    print(head)
    print("-" * len(head))
    for set_name, system, m in rows:
        print(f"{set_name:<9} {system:<9}" + "".join(f"{fmt(m[key], spec):>7}" for key, _, spec in COLUMNS))


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
        wrong = (q.answerable and top not in q.gold) or (not q.answerable and o.decision != "unknown") \
            or (q.answerable and o.decision == "unknown")
        if wrong:
            gold = "/".join(sorted(q.gold)) or "null"
            print(f"  [{o.decision[:3]}] {q.q}\n        gold={gold}  got={o.ranked[:3]}")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=("dev", "test", "both"), default="both")
    parser.add_argument("--dir", type=Path, default=KNOWLEDGE, help="knowledge directory")
    parser.add_argument("--errors", action="store_true", help="list DEV misses (never TEST)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

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
    print(f"baseline: jieba default dict + BM25 k1={BASE_K1} b={BASE_B}; "
          f"no-answer threshold (top BM25 score, chosen on DEV by no-answer F1) = {threshold:.3f}")
    print("columns: top-1/top-3/MRR over answerable; NA-P/NA-R = no-answer precision/recall; "
          "ans-P = precision of direct answers; %ans/%amb/%unk = share of each decision\n")
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
    for name in names:
        qs = questions[name]
        print(f"{name}: {verbatim_count(qs, kb)} of {len(qs)} questions appear verbatim among the "
              "base's questions/variants (after normalisation)")
    if args.errors and dev_outcomes is not None:
        print_errors(questions["dev"], dev_outcomes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
