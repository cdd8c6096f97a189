"""FAQ retrieval: BM25F over jieba terms + character bigrams + fuzzy matching,
combined into one calibrated score.

Why this shape:
- Enterprises ask with abbreviations (高企, 科小, 软著), typos and traditional
  characters. Normalisation (bot/text.py) and synonym canonicalisation make the
  wording uniform; jieba terms give precise lexical matches; character bigrams
  and rapidfuzz keep typo'd questions matchable.
- Raw BM25 values are not comparable across queries, so the service could not
  pick a threshold on them. The components are therefore combined by a
  logistic model fitted on the knowledge base itself (held-out variants,
  held-out FAQs and perturbed variants; see Retriever._calibrate), which makes
  `Hit.score` an estimate of "this FAQ answers the question".
- Only postings of the query's terms are touched and fuzzy scoring runs on a
  capped candidate set, so a query costs a few milliseconds at 10,000 FAQs.
"""
from __future__ import annotations

import logging
import math
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

import jieba
import numpy as np
from rapidfuzz import fuzz, process

from bot.text import normalise

from .model import Entry, Faq, KnowledgeBase

log = logging.getLogger(__name__)

USERDICT = Path(__file__).resolve().parent.parent / "lexicon" / "userdict.txt"

# Okapi BM25 parameters (the usual defaults; FAQ fields are short so b matters little).
K1 = 1.2
B = 0.75
# BM25F field weights: the canonical question is written most carefully, so it
# counts a little more; the entry's title and keywords are shared by all of its
# FAQs and cannot tell siblings apart, so they count less; the answer is long
# and only hints at the topic, but it is often the only thing that separates
# sibling FAQs (+4 points of leave-one-out top-1 on the seed base at 0.6).
FIELD_WEIGHTS = {"question": 1.5, "variants": 1.0, "faq_keywords": 1.0,
                 "title": 0.5, "keywords": 0.5, "answer": 0.6}

# Coverage only counts what the question side states: answers are long and
# share generic words with almost any message.
COVERAGE_FIELDS = ("question", "variants", "faq_keywords", "title", "keywords")

BM25_CANDIDATES = 50     # top FAQs by BM25 that get fuzzy scoring
BIGRAM_CANDIDATES = 30   # plus top FAQs by bigram overlap (catches typos BM25 misses)
MAX_QUERY_CHARS = 2000   # longer input is truncated before analysis
MAX_FUZZY_CHARS = 200    # fuzzy matching cost grows with length; questions are short
MAX_QUERY_TERMS = 128
MAX_SUBWORD_TOKEN = 16   # tokens longer than this are not scanned for sub-words
MAX_CALIBRATION_QUERIES = 1500
NEGATIVES_PER_QUERY = 5  # hard negatives per leave-one-out query (≈ the hits a user sees)
ABSENT_QUERY_SHARE = 0.25     # leave-one-FAQ-out queries per leave-one-variant-out query
PERTURBED_QUERY_SHARE = 0.5   # perturbed-variant queries per leave-one-variant-out query
_FILLERS = ("请问", "你好，", "想问一下", "麻烦问下", "您好，请问")

# coverage: share of the query's idf mass found anywhere in the FAQ
# bm25:     BM25F score divided by its upper bound for this query
# bigram:   share of the query's character-bigram idf mass found in the FAQ (typos)
# fuzzy:    best rapidfuzz ratio against the question or a variant
# exact:    fuzzy ** 4 — near-exact matches deserve near-certainty, which a
#           linear term in fuzzy cannot express next to paraphrases
# lead:     bm25 relative to the best candidate's, times coverage: sibling FAQs of
#           one policy often tie, and a tie must not look like a confident answer;
#           the coverage factor keeps the leader of a field of weak matches weak
FEATURES = ("coverage", "bm25", "bigram", "fuzzy", "exact", "lead")
# Prior for the calibration, used as-is when the base is too small to fit and as
# the centre of the L2 penalty otherwise. Chosen by hand so that a near-exact
# question scores ≈ 0.99, half the words matching ≈ 0.2, unrelated < 0.01.
PRIOR_WEIGHTS = np.array([2.5, 2.0, 2.0, 2.0, 3.0, 1.5])
PRIOR_BIAS = -7.0
L2_WEIGHTS = 2.0
L2_BIAS = 0.5
MIN_CALIBRATION_POSITIVES = 30

# Words that carry no topic: particles, pronouns, politeness, "company". Question
# words that tell sibling FAQs apart (哪里 where, 多少 how much, 什么时候 when,
# 多久 how long) are deliberately kept.
STOP_WORDS = frozenset(
    """
    的 地 得 了 着 过 吗 呢 吧 啊 呀 嘛 么 哦 喔 哈 呗 啦 嗯 哎 诶 噢 是 在 和 与 及 或 跟 同 而 并
    我 你 您 他 她 它 咱 我们 你们 他们 咱们 我司 本公司 贵司 公司 这 那 这个 那个 这些 那些
    怎么 怎么样 怎样 如何 咋 咋样 什么 啥 请 请问 问 问下 问一下 问问 想问 咨询 一下 一个 个 些 下
    就 都 也 还 又 再 才 把 被 给 对 从 向 让 于 以 由 有 现在 目前 已经 关于 就是 还是 或者 以及
    然后 那么 这么 一般 具体 相关 有关 方面 情况 问题 您好 你好 麻烦 谢谢 感谢 了解 知道 告诉 帮忙
    """.split()
)

# Quotes, book-title marks and brackets are dropped so that 专精特新“小巨人” and
# 首台（套） read as 专精特新小巨人 and 首台套.
_DROP_CHARS = str.maketrans("", "", "“”‘’\"'《》〈〉「」『』【】()（）[]")
_WORDLIKE = re.compile(r"\w")
_CJK = re.compile(r"[\u4e00-\u9fff]")


# --------------------------------------------------------------------------- tokenizer

_base_lock = threading.Lock()
_base_tokenizer: Optional[jieba.Tokenizer] = None
_base_userdict_sig: object = None


def _userdict_signature() -> object:
    try:
        st = USERDICT.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _base() -> jieba.Tokenizer:
    """A private jieba tokenizer with the project's user dictionary.

    Private so that the words the retriever adds (synonym terms) never change
    how the NLU pipeline, which uses the global jieba, segments messages.
    Rebuilt when userdict.txt changes so a reload picks up new words.
    """
    global _base_tokenizer, _base_userdict_sig
    sig = _userdict_signature()
    with _base_lock:
        if _base_tokenizer is None or sig != _base_userdict_sig:
            tk = jieba.Tokenizer()
            tk.initialize()
            if sig is not None:
                try:
                    tk.load_userdict(str(USERDICT))
                except Exception as exc:  # a malformed line must not take retrieval down
                    log.warning("jieba 用户词典加载失败 %s: %s", USERDICT, exc)
            _base_tokenizer, _base_userdict_sig = tk, sig
        return _base_tokenizer


def _clone(base: jieba.Tokenizer) -> jieba.Tokenizer:
    """Copy a tokenizer's dictionary (≈ 20 ms) instead of re-reading it (≈ 700 ms)."""
    tk = jieba.Tokenizer(base.dictionary)
    tk.FREQ = dict(base.FREQ)
    tk.total = base.total
    tk.user_word_tag_tab = dict(base.user_word_tag_tab)
    tk.initialized = True
    return tk


def clean_text(text: str) -> str:
    """Shared normalisation plus removal of quotes and brackets."""
    return normalise(text or "").translate(_DROP_CHARS)


@dataclass
class Analysis:
    """A text as the retriever sees it."""

    tokens: list[str]        # content tokens after synonym canonicalisation
    terms: list[str]         # tokens + dictionary sub-words (what BM25 matches), with repeats
    compact: str             # tokens joined: what fuzzy and bigram matching compare
    bigrams: frozenset[str]


class Analyzer:
    """Tokenise, drop stop words, canonicalise synonyms, expand sub-words.

    Synonyms are applied per jieba token (not by substring replacement) so that
    高企 inside 提高企业 is left alone; a token that changes is segmented again,
    which makes 高企认定 and 高新技术企业认定 produce exactly the same terms.
    """

    def __init__(self, synonym_groups: Iterable[Sequence[str]] = ()):
        self.tk = _clone(_base())
        self.canon: dict[str, str] = {}
        for group in synonym_groups:
            cleaned = [clean_text(t).replace(" ", "") for t in group]
            cleaned = [t for t in cleaned if t]
            if len(cleaned) < 2:
                continue
            for term in cleaned:
                self.canon.setdefault(term, cleaned[0])
                # Latin-only terms (ipo, pe) are not added: jieba would then cut
                # them out of longer words ("hope" → "ho" + "pe").
                if _CJK.search(term) and not self.tk.FREQ.get(term):
                    self.tk.add_word(term)
        self._max_term = max((len(t) for t in self.canon), default=0)
        self._surface: dict[str, str] = {}
        self._subwords: dict[str, tuple[str, ...]] = {}

    def _cut(self, text: str) -> list[str]:
        # HMM off: unknown words split into single characters the same way in
        # documents and queries instead of being merged differently by context.
        return self.tk.lcut(text, HMM=False)

    def canonical_surface(self, token: str) -> str:
        """The token with synonym terms (whole or inside it) replaced by canonical terms."""
        cached = self._surface.get(token)
        if cached is not None:
            return cached
        if token in self.canon:
            out = self.canon[token]
        elif len(token) < 3 or not self._max_term:
            out = token
        else:
            parts, i, n = [], 0, len(token)
            while i < n:
                for size in range(min(self._max_term, n - i), 1, -1):
                    piece = token[i:i + size]
                    # only Chinese pieces: "pe" must not fire inside "hope"
                    if piece in self.canon and size < n and _CJK.search(piece):
                        parts.append(self.canon[piece])
                        i += size
                        break
                else:
                    parts.append(token[i])
                    i += 1
            out = "".join(parts)
        if len(self._surface) < 200_000:
            self._surface[token] = out
        return out

    def subwords(self, token: str) -> tuple[str, ...]:
        """Dictionary words inside a long token (like jieba's search mode, all lengths)."""
        cached = self._subwords.get(token)
        if cached is not None:
            return cached
        out: list[str] = []
        n = len(token)
        if 3 <= n <= MAX_SUBWORD_TOKEN and _CJK.search(token):
            freq = self.tk.FREQ
            for i in range(n):
                for j in range(i + 2, min(n, i + 8) + 1):
                    if j - i == n:
                        continue
                    piece = token[i:j]
                    if freq.get(piece) and piece not in STOP_WORDS:
                        out.append(piece)
        result = tuple(out)
        if len(self._subwords) < 200_000:
            self._subwords[token] = result
        return result

    def analyse(self, text: str) -> Analysis:
        cleaned = clean_text(text)
        if not cleaned:
            return Analysis([], [], "", frozenset())
        first = self._cut(cleaned)
        parts, changed = [], False
        for tok in first:
            if not _WORDLIKE.search(tok):
                continue
            surface = self.canonical_surface(tok)
            changed |= surface != tok
            parts.append(surface)
        tokens = self._cut(" ".join(parts)) if changed else parts
        tokens = [t for t in tokens if _WORDLIKE.search(t) and t not in STOP_WORDS]
        terms: list[str] = []
        for tok in tokens:
            terms.append(tok)
            terms.extend(self.subwords(tok))
        compact = "".join(tokens)
        return Analysis(tokens, terms, compact, bigrams_of(compact))


def bigrams_of(compact: str) -> frozenset[str]:
    if len(compact) < 2:
        return frozenset([compact]) if compact else frozenset()
    return frozenset(compact[i:i + 2] for i in range(len(compact) - 1))


# --------------------------------------------------------------------------- results

@dataclass
class Hit:
    """One ranked FAQ. `score` is calibrated in [0, 1]; `components` are for debugging."""

    faq: Faq
    entry: Entry
    score: float
    components: dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:  # compact: a Faq repr would print the whole answer
        return f"Hit({self.faq.id!r}, score={self.score:.3f})"


@dataclass
class Calibration:
    """The fitted logistic model and how well it separates on the base itself."""

    weights: np.ndarray
    bias: float
    source: str = "prior"        # "fitted" or "prior" (base too small to fit)
    queries: int = 0             # self-supervised queries used for the fit
    positives: int = 0
    negatives: int = 0
    top1: float = float("nan")   # share of held-out variants whose own FAQ ranks first

    def logit(self, features: np.ndarray) -> np.ndarray:
        return features @ self.weights + self.bias

    def describe(self) -> str:
        ws = "，".join(f"{n}={w:.2f}" for n, w in zip(FEATURES, self.weights))
        if self.source != "fitted":
            return f"校准：使用先验参数（样本不足）；{ws}，偏置={self.bias:.2f}"
        return (f"校准：{self.queries} 条自检问题，正例 {self.positives}、负例 {self.negatives}；"
                f"留一 Top-1 命中率 {self.top1:.1%}；{ws}，偏置={self.bias:.2f}")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


def fit_logistic(X: np.ndarray, y: np.ndarray, prior_w: np.ndarray, prior_b: float,
                 l2_w: float = L2_WEIGHTS, l2_b: float = L2_BIAS) -> tuple[np.ndarray, float]:
    """Platt-style logistic fit (damped Newton), L2-shrunk towards the prior.

    Feature weights are kept ≥ 0 (a better match must never lower the score):
    a weight that goes negative is pinned at 0 and the rest refitted.
    """
    n, d = X.shape
    Xb = np.hstack([X, np.ones((n, 1))])
    centre = np.append(prior_w, prior_b).astype(float)
    reg = np.append(np.full(d, l2_w), l2_b)

    def objective(theta: np.ndarray) -> float:
        z = Xb @ theta
        # log(1 + e^z) - y z, computed stably
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * np.sum(reg * (theta - centre) ** 2))

    theta = centre.copy()
    free = np.ones(d + 1, dtype=bool)
    for _ in range(d + 1):
        theta[~free] = 0.0
        current = objective(theta)
        for _ in range(100):
            p = _sigmoid(Xb @ theta)
            grad = Xb.T @ (p - y) + reg * (theta - centre)
            hess = (Xb * (p * (1 - p))[:, None]).T @ Xb + np.diag(reg)
            idx = np.flatnonzero(free)
            step = np.zeros(d + 1)
            step[idx] = np.linalg.solve(hess[np.ix_(idx, idx)], grad[idx])
            t = 1.0
            while t > 1e-6:  # halve until the objective does not increase
                candidate = theta - t * step
                value = objective(candidate)
                if value <= current:
                    break
                t /= 2
            else:
                break
            theta, improvement, current = candidate, current - value, value
            if improvement < 1e-9 * max(1.0, abs(current)):
                break
        negative = [j for j in range(d) if free[j] and theta[j] < 0]
        if not negative:
            break
        free[negative] = False
    theta[:d][~free[:d]] = 0.0
    return theta[:d], float(theta[d])


def _perturb(text: str, rng: random.Random, chars: Sequence[str]) -> str:
    """A near-duplicate of a variant, the way people mistype or pad a question."""
    kind = rng.randrange(4)
    n = len(text)
    if kind == 0 and n >= 4 and chars:  # one wrong character (typo / wrong homophone)
        i = rng.randrange(n)
        return text[:i] + rng.choice(chars) + text[i + 1:]
    if kind == 1 and n >= 5:  # one character missing
        i = rng.randrange(n)
        return text[:i] + text[i + 1:]
    if kind == 2 and n >= 4:  # two neighbours swapped
        i = rng.randrange(n - 1)
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return rng.choice(_FILLERS) + text + rng.choice(("？", "呢？", "啊", ""))


# --------------------------------------------------------------------------- index

@dataclass
class _Doc:
    """Per-FAQ field statistics, kept so leave-one-out can remove one variant."""

    field_counts: dict[str, Counter]
    field_lens: dict[str, int]
    variant_terms: list[Counter]
    variant_bigrams: list[frozenset]
    bigram_counts: Counter            # in how many of the FAQ's texts each bigram occurs
    compacts: list[str]               # question + variants, analysed


@dataclass
class _Query:
    analysis: Analysis
    terms: list[str]
    idf: np.ndarray
    idf_sum: float
    bigrams: list[str]
    bidf: np.ndarray
    bidf_sum: float
    compact: str


class Retriever:
    """Ranks the FAQs of a KnowledgeBase for a free-text question."""

    def __init__(self, kb: KnowledgeBase, *, calibrate: bool = True, seed: int = 20240601):
        self.kb = kb
        self.analyzer = Analyzer(kb.synonyms)
        self.faqs: list[Faq] = list(kb.faqs.values())
        self._build()
        self.calibration = Calibration(PRIOR_WEIGHTS.copy(), PRIOR_BIAS)
        if calibrate:
            self.calibration = self._calibrate(seed)

    # ---- build

    def _build(self) -> None:
        an = self.analyzer
        n = len(self.faqs)
        self._docs: list[_Doc] = []
        sent_compacts: list[str] = []
        sent_offsets = [0]
        shared: dict[str, tuple[Analysis, list[Analysis]]] = {}  # per entry: title, keywords
        empty = Analysis([], [], "", frozenset())
        for faq in self.faqs:
            entry = faq.entry
            q = an.analyse(faq.question)
            variants = [an.analyse(v) for v in faq.variants]
            if entry is None:
                title, keywords = empty, []
            else:
                if entry.id not in shared:
                    shared[entry.id] = (an.analyse(entry.title), [an.analyse(k) for k in entry.keywords])
                title, keywords = shared[entry.id]
            faq_keywords = [an.analyse(k) for k in faq.keywords]
            fields = {
                "question": Counter(q.terms),
                "variants": Counter(t for v in variants for t in v.terms),
                "faq_keywords": Counter(t for k in faq_keywords for t in k.terms),
                "title": Counter(title.terms),
                "keywords": Counter(t for k in keywords for t in k.terms),
                "answer": Counter(an.analyse(faq.answer).terms),
            }
            bigram_counts: Counter = Counter()
            for a in [q, *variants, *faq_keywords, title, *keywords]:
                bigram_counts.update(a.bigrams)
            compacts = [q.compact, *(v.compact for v in variants)]
            self._docs.append(_Doc(
                field_counts=fields,
                field_lens={f: sum(c.values()) for f, c in fields.items()},
                variant_terms=[Counter(v.terms) for v in variants],
                variant_bigrams=[v.bigrams for v in variants],
                bigram_counts=bigram_counts,
                compacts=compacts,
            ))
            sent_compacts.extend(c[:MAX_FUZZY_CHARS] for c in compacts)
            sent_offsets.append(len(sent_compacts))
        self._sent_compacts = sent_compacts
        self._sent_offsets = np.array(sent_offsets, dtype=np.int64)

        self._avg_len = {
            f: (sum(d.field_lens[f] for d in self._docs) / n if n else 0.0) for f in FIELD_WEIGHTS
        }
        df: Counter = Counter()
        bdf: Counter = Counter()
        for d in self._docs:
            df.update(set().union(*(c.keys() for c in d.field_counts.values())))
            bdf.update(d.bigram_counts.keys())
        self._df, self._bdf = df, bdf
        self._idf = {t: self._idf_of(c) for t, c in df.items()}
        self._bidf = {g: self._idf_of(c) for g, c in bdf.items()}

        postings: dict[str, tuple[list[int], list[float], list[bool]]] = {}
        for i, d in enumerate(self._docs):
            for t, tf in self._tf_tilde(d.field_counts, d.field_lens).items():
                ids, imps, asked = postings.setdefault(t, ([], [], []))
                ids.append(i)
                imps.append(self._idf[t] * tf * (K1 + 1) / (tf + K1))
                asked.append(any(t in d.field_counts[f] for f in COVERAGE_FIELDS))
        self._postings = {t: (np.array(ids, dtype=np.int32), np.array(imps), np.array(asked, dtype=float))
                          for t, (ids, imps, asked) in postings.items()}
        bpost: dict[str, list[int]] = {}
        for i, d in enumerate(self._docs):
            for g in d.bigram_counts:
                bpost.setdefault(g, []).append(i)
        self._bpostings = {g: np.array(ids, dtype=np.int32) for g, ids in bpost.items()}

    def _tf_tilde(self, counts: dict[str, Counter], lens: dict[str, int]) -> dict[str, float]:
        """BM25F pseudo term frequency: field-weighted, length-normalised per field."""
        out: dict[str, float] = {}
        for f, weight in FIELD_WEIGHTS.items():
            avg = self._avg_len[f]
            if not avg or not counts[f]:
                continue
            norm = 1 - B + B * lens[f] / avg
            for t, tf in counts[f].items():
                out[t] = out.get(t, 0.0) + weight * tf / norm
        return out

    # ---- query

    def _idf_of(self, df: int) -> float:
        n = len(self.faqs)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def _query(self, text: str, held_out: Optional[tuple[int, Optional[int]]] = None
               ) -> Optional[_Query]:
        """Analyse a query and weight its terms by idf.

        held_out=(faq, variant) computes idf as if that variant were not in the
        base, (faq, None) as if the whole FAQ were not: a word only the held-out
        text uses is then unknown, exactly as for a real unseen question.
        """
        text = (text or "")[:MAX_QUERY_CHARS]
        a = self.analyzer.analyse(text)
        if not a.terms:
            return None
        terms = list(dict.fromkeys(a.terms))[:MAX_QUERY_TERMS]
        compact = a.compact[:MAX_FUZZY_CHARS]
        bigrams = list(bigrams_of(compact))
        gone: set[str] = set()
        gone_bigrams: set[str] = set()
        if held_out is not None:
            d, v = self._docs[held_out[0]], held_out[1]
            if v is None:
                gone = {t for c in d.field_counts.values() for t in c}
                gone_bigrams = set(d.bigram_counts)
            else:
                own = d.variant_terms[v]
                gone = {t for t in own
                        if all(c[t] == (own[t] if f == "variants" else 0)
                               for f, c in d.field_counts.items())}
                gone_bigrams = {g for g in d.variant_bigrams[v] if d.bigram_counts[g] == 1}
        # _idf_of(0) is the idf of an unknown word
        idf = np.array([self._idf_of(self._df.get(t, 0) - (t in gone)) for t in terms])
        bidf = np.array([self._idf_of(self._bdf.get(g, 0) - (g in gone_bigrams)) for g in bigrams])
        return _Query(a, terms, idf, float(idf.sum()), bigrams, bidf,
                      float(bidf.sum()) or 1.0, compact)

    def _accumulate(self, q: _Query) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """BM25, matched-idf mass and matched-bigram mass for every FAQ, via postings only."""
        n = len(self.faqs)
        bm = np.zeros(n)
        cov = np.zeros(n)
        big = np.zeros(n)
        for t, w in zip(q.terms, q.idf):
            post = self._postings.get(t)
            if post is not None:
                bm[post[0]] += post[1]
                cov[post[0]] += w * post[2]
        for g, w in zip(q.bigrams, q.bidf):
            ids = self._bpostings.get(g)
            if ids is not None:
                big[ids] += w
        return bm, cov, big

    def _candidates(self, bm: np.ndarray, big: np.ndarray) -> np.ndarray:
        def top(arr: np.ndarray, k: int) -> np.ndarray:
            nz = np.flatnonzero(arr > 0)
            if len(nz) > k:
                nz = nz[np.argpartition(-arr[nz], k - 1)[:k]]
            return nz
        return np.union1d(top(bm, BM25_CANDIDATES), top(big, BIGRAM_CANDIDATES))

    def _ratios(self, q: _Query, sentences: np.ndarray) -> np.ndarray:
        """rapidfuzz ratio (0..1) of the query against each given question/variant."""
        choices = [self._sent_compacts[j] for j in sentences]
        return process.cdist([q.compact], choices, scorer=fuzz.ratio, dtype=np.float64)[0] / 100.0

    def _features(self, q: _Query, cands: np.ndarray, bm: np.ndarray, cov: np.ndarray,
                  big: np.ndarray) -> np.ndarray:
        """All features but `lead` for the candidate FAQs (rows follow `cands`)."""
        if len(cands) == 0:
            return np.zeros((0, len(FEATURES) - 1))
        starts = self._sent_offsets[cands]
        ends = self._sent_offsets[cands + 1]
        sentences = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)])
        bounds = np.concatenate([[0], np.cumsum(ends - starts)[:-1]])
        fuzzy = np.maximum.reduceat(self._ratios(q, sentences), bounds)
        return np.column_stack([
            cov[cands] / q.idf_sum,
            bm[cands] / (q.idf_sum * (K1 + 1)),
            big[cands] / q.bidf_sum,
            fuzzy,
            fuzzy ** 4,
        ])

    @staticmethod
    def _with_lead(X: np.ndarray) -> np.ndarray:
        """Append the `lead` feature, computed over all candidates of one query."""
        # column 0 is coverage, column 1 the normalised BM25 (see FEATURES)
        top = X[:, 1].max() if len(X) else 0.0
        lead = X[:, 1] / top * X[:, 0] if top > 0 else np.zeros(len(X))
        return np.column_stack([X, lead])

    def search(self, text: str, k: int = 5) -> list[Hit]:
        """The k best FAQs for `text`, best first; [] when nothing matches at all."""
        if not self.faqs:
            return []
        q = self._query(text)
        if q is None:
            return []
        bm, cov, big = self._accumulate(q)
        cands = self._candidates(bm, big)
        if len(cands) == 0:
            return []
        X = self._with_lead(self._features(q, cands, bm, cov, big))
        logits = self.calibration.logit(X)
        scores = _sigmoid(logits)
        order = np.lexsort((-bm[cands], -scores))[:max(k, 0)]
        hits = []
        for j in order:
            faq = self.faqs[cands[j]]
            comps = {name: float(X[j, c]) for c, name in enumerate(FEATURES)}
            comps["bm25_raw"] = float(bm[cands[j]])
            comps["logit"] = float(logits[j])
            hits.append(Hit(faq=faq, entry=faq.entry, score=float(scores[j]), components=comps))
        return hits

    def near_duplicates(self, min_ratio: float = 0.9) -> list[tuple[Faq, Faq, str]]:
        """Pairs of FAQs where a question/variant of one is (almost) a question of the
        other: retrieval cannot tell them apart, so staff should merge or reword them."""
        pairs: dict[tuple[str, str], tuple[Faq, Faq, str]] = {}
        for faq in self.faqs:
            for sentence in faq.sentences:
                for hit in self.search(sentence, k=3):
                    if hit.faq is not faq and hit.components["fuzzy"] >= min_ratio:
                        key = tuple(sorted((faq.id, hit.faq.id)))
                        pairs.setdefault(key, (faq, hit.faq, sentence))
        return list(pairs.values())

    def explain(self, text: str) -> dict:
        """How the retriever reads a text (for the CLI and debugging)."""
        a = self.analyzer.analyse((text or "")[:MAX_QUERY_CHARS])
        return {"tokens": a.tokens, "terms": list(dict.fromkeys(a.terms)), "compact": a.compact}

    # ---- calibration

    def _features_without_variant(self, q: _Query, i: int, v: int) -> np.ndarray:
        """Features of FAQ i for query q as if its variant v were not in the base."""
        d = self._docs[i]
        counts = dict(d.field_counts)
        counts["variants"] = d.field_counts["variants"] - d.variant_terms[v]
        lens = dict(d.field_lens)
        lens["variants"] = sum(counts["variants"].values())
        tf = self._tf_tilde(counts, lens)
        bm = cov = 0.0
        for t, w in zip(q.terms, q.idf):
            x = tf.get(t)
            if x:
                bm += w * x * (K1 + 1) / (x + K1)
                if any(counts[f].get(t) for f in COVERAGE_FIELDS):
                    cov += w
        bcounts = d.bigram_counts - Counter(d.variant_bigrams[v])
        big = sum(w for g, w in zip(q.bigrams, q.bidf) if bcounts.get(g))
        start, end = self._sent_offsets[i], self._sent_offsets[i + 1]
        rest = np.array([j for j in range(start, end) if j != start + 1 + v])
        fuzzy = self._ratios(q, rest).max()
        return np.array([cov / q.idf_sum, bm / (q.idf_sum * (K1 + 1)), big / q.bidf_sum,
                         fuzzy, fuzzy ** 4])

    def _calibrate(self, seed: int) -> Calibration:
        """Fit the score on the base itself; no evaluation data is used.

        Three kinds of self-supervised queries:
        - leave-one-variant-out: a variant asks for its own FAQ, from which that
          variant is removed (positive) against the best-ranked other FAQs
          (negatives) — teaches what a right answer looks like;
        - leave-one-FAQ-out: a FAQ's question asked with that whole FAQ removed,
          so every candidate is wrong — teaches that being the best of a weak
          field is not enough (questions the base does not cover);
        - perturbed variants (a typo, a dropped or swapped character, polite
          filler) against the full base — teaches that a near-exact match is a
          confident answer, which leave-one-out alone never shows.
        """
        rng = random.Random(seed)
        loo = [(i, v) for i, faq in enumerate(self.faqs) for v in range(len(faq.variants))]
        if len(loo) > MAX_CALIBRATION_QUERIES:
            loo = rng.sample(loo, MAX_CALIBRATION_QUERIES)
        absent = [(i, -1) for i in range(len(self.faqs))]
        limit = int(len(loo) * ABSENT_QUERY_SHARE)
        if len(absent) > limit:
            absent = rng.sample(absent, limit)
        chars = sorted({c for faq in self.faqs for text in faq.sentences for c in text
                        if _CJK.match(c)})
        perturbed = [(i, v, _perturb(self.faqs[i].variants[v], rng, chars))
                     for i, v in rng.sample(loo, int(len(loo) * PERTURBED_QUERY_SHARE))]
        jobs = ([("loo", i, v, self.faqs[i].variants[v]) for i, v in loo]
                + [("absent", i, -1, self.faqs[i].question) for i, _ in absent]
                + [("perturbed", i, v, text) for i, v, text in perturbed])
        rows, labels, groups = [], [], []
        prior = Calibration(PRIOR_WEIGHTS.copy(), PRIOR_BIAS)
        for gi, (kind, i, v, text) in enumerate(jobs):
            q = self._query(text, held_out={"loo": (i, v), "absent": (i, None)}.get(kind))
            if q is None:
                continue
            bm, cov, big = self._accumulate(q)
            cands = self._candidates(bm, big)
            if kind == "perturbed" and i not in cands:
                cands = np.union1d(cands, [i])
            own = np.flatnonzero(cands == i)
            X = self._features(q, cands, bm, cov, big)
            if kind == "loo":
                X = np.delete(X, own, axis=0)
                X = np.vstack([self._features_without_variant(q, i, v)[None, :], X])
            elif kind == "perturbed":
                X = np.vstack([X[own], np.delete(X, own, axis=0)])
            else:
                X = np.delete(X, own, axis=0)
            X = self._with_lead(X)
            if kind != "absent":
                rows.append(X[0])
                labels.append(1.0)
                groups.append(gi)
                X = X[1:]
            for j in np.argsort(-prior.logit(X))[:NEGATIVES_PER_QUERY]:
                rows.append(X[j])
                labels.append(0.0)
                groups.append(gi)
        y = np.array(labels)
        n_pos = int(y.sum())
        n_neg = len(y) - n_pos
        if n_pos < MIN_CALIBRATION_POSITIVES or n_neg == 0:
            return Calibration(PRIOR_WEIGHTS.copy(), PRIOR_BIAS, "prior", n_pos, n_pos, n_neg)
        X = np.vstack(rows)
        # Platt's smoothed targets keep the fit from becoming over-confident.
        target = np.where(y > 0, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
        w, b = fit_logistic(X, target, PRIOR_WEIGHTS, PRIOR_BIAS)
        cal = Calibration(w, b, "fitted", len(jobs), n_pos, n_neg)
        # Self-check: how often a held-out variant's own FAQ outranks every other candidate.
        logit = cal.logit(X)
        g = np.array(groups)
        wins = total = 0
        for gid in np.unique(g[(y > 0) & (g < len(loo))]):
            mask = g == gid
            ls, ys = logit[mask], y[mask]
            total += 1
            wins += int(ls[ys > 0][0] > ls[ys == 0].max()) if (ys == 0).any() else 1
        cal.top1 = wins / total if total else float("nan")
        return cal
