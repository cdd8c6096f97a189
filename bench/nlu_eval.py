"""Held-out NLU evaluation: our pipeline vs. a TF-IDF + logistic-regression baseline.

Prints accuracy, macro-F1, per-intent F1, the most confused pairs, and a
fallback-threshold table (coverage vs. accuracy of accepted predictions)
from which config.yml's FallbackClassifier threshold is chosen.

    make eval                 # trains the model first if data/config changed
    python bench/nlu_eval.py --heldout tests/eval/nlu_heldout.yml
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bot.taxonomy import NEED_INTENTS  # noqa: E402
from bot.text import normalise  # noqa: E402


def load_examples(path: Path) -> list[tuple[str, str]]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [(m.get("text"), m.get("intent")) for m in data.intent_examples]


def f1_report(gold: list[str], pred: list[str]) -> dict:
    labels = sorted(set(gold))
    per = {}
    for lab in labels:
        tp = sum(1 for g, p in zip(gold, pred) if g == lab and p == lab)
        fp = sum(1 for g, p in zip(gold, pred) if g != lab and p == lab)
        fn = sum(1 for g, p in zip(gold, pred) if g == lab and p != lab)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        per[lab] = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    acc = sum(g == p for g, p in zip(gold, pred)) / len(gold)
    return {"accuracy": acc, "macro_f1": sum(per.values()) / len(per), "per_intent": per}


def confused_pairs(gold, pred, n=10):
    return Counter((g, p) for g, p in zip(gold, pred) if g != p).most_common(n)


def print_report(title: str, gold, pred) -> dict:
    rep = f1_report(gold, pred)
    print(f"\n=== {title} ===")
    print(f"accuracy {rep['accuracy']:.3f}   macro-F1 {rep['macro_f1']:.3f}   (n={len(gold)})")
    needs = [rep["per_intent"][i] for i in NEED_INTENTS if i in rep["per_intent"]]
    if needs:
        print(f"need categories: macro-F1 {sum(needs) / len(needs):.3f}, lowest {min(needs):.3f}")
    return rep


def baseline_predict(train, test) -> list[str]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    x = vec.fit_transform([t for t, _ in train])
    clf = LogisticRegression(max_iter=2000, C=10.0)
    clf.fit(x, [i for _, i in train])
    return list(clf.predict(vec.transform([t for t, _ in test])))


async def rasa_predict(model: Path, texts: list[str]) -> list[tuple[str, float]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    out = []
    for t in texts:
        parsed = await agent.parse_message(t)
        # Ignore the fallback label here: the threshold table below evaluates it.
        ranking = [r for r in parsed.get("intent_ranking", []) if r["name"] != "nlu_fallback"]
        top = ranking[0] if ranking else {"name": parsed["intent"]["name"], "confidence": 0.0}
        out.append((top["name"], float(top["confidence"])))
    return out


def threshold_table(gold, scored) -> None:
    print("\nFallback threshold table (held-out): share kept, accuracy of kept, errors kept")
    for th in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8):
        kept = [(g, p) for g, (p, c) in zip(gold, scored) if c >= th]
        acc = sum(g == p for g, p in kept) / len(kept) if kept else 0.0
        wrong = sum(g != p for g, p in kept)
        print(f"  {th:.2f}: kept {len(kept) / len(gold):.3f}  acc {acc:.3f}  wrong-kept {wrong}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--heldout", default=str(ROOT / "tests/eval/nlu_heldout.yml"))
    ap.add_argument("--train", default=str(ROOT / "data/nlu"))
    ap.add_argument("--model", default=None, help="model file (default: trained for current inputs)")
    args = ap.parse_args()
    from rasa.utils.log_utils import configure_structlog

    logging.disable(logging.WARNING)
    configure_structlog(logging.WARNING)

    train = load_examples(Path(args.train))
    test = load_examples(Path(args.heldout))
    seen = {normalise(t) for t, _ in train}
    leaked = [t for t, _ in test if normalise(t) in seen]
    print(
        f"training examples {len(train)}, held-out examples {len(test)}, held-out texts also in training: {len(leaked)}"
    )
    if leaked:
        print("  leaked:", leaked[:10])

    if args.model:
        model = Path(args.model)
    else:
        from bot.rasa_ext.training import ensure_model
        from bot.settings import Settings

        model = ensure_model(Settings.from_env().model_dir)

    gold = [i for _, i in test]
    scored = asyncio.run(rasa_predict(model, [t for t, _ in test]))
    ours = [p for p, _ in scored]
    rep = print_report(f"Rasa pipeline ({model.name})", gold, ours)
    base = baseline_predict(train, test)
    brep = print_report("Baseline: TF-IDF (char 1-3) + logistic regression", gold, base)

    # Short keyword messages ("高企认定") written independently can coincide with training lines;
    # the same figures without them show how the models do on wording they never saw.
    fresh = [i for i, (t, _) in enumerate(test) if normalise(t) not in seen]
    print_report(
        f"Rasa pipeline, held-out texts not in training (n={len(fresh)})",
        [gold[i] for i in fresh],
        [ours[i] for i in fresh],
    )
    print_report(
        f"Baseline, held-out texts not in training (n={len(fresh)})", [gold[i] for i in fresh], [base[i] for i in fresh]
    )

    print("\nper-intent F1 (pipeline / baseline):")
    for lab in sorted(rep["per_intent"], key=lambda k: rep["per_intent"][k]):
        print(f"  {lab:<28} {rep['per_intent'][lab]:.3f} / {brep['per_intent'][lab]:.3f}")
    print("\nmost confused pairs (gold → predicted, count):")
    for (g, p), n in confused_pairs(gold, ours):
        print(f"  {g} → {p}: {n}")
    threshold_table(gold, scored)
    return 0


if __name__ == "__main__":
    sys.exit(main())
