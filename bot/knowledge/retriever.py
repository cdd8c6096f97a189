"""FAQ retrieval: BM25F over jieba terms + character bigrams + fuzzy matching,
combined into one calibrated score.

Why this shape:
- Enterprises ask with abbreviations (高企, 科小, 软著), typos and traditional
  characters. Normalisation (bot/text.py) and synonym canonicalisation make the
  wording uniform; jieba terms give precise lexical matches; character bigrams
  and rapidfuzz keep typo'd questions matchable.
- People pad questions with their own situation ("我们是做新材料的，去年营收
  三千万，…"). Query-side measures (what share of the message the FAQ
  explains) drop for such messages although the FAQ fits, so a FAQ-side
  measure (`overlap`: what share of the closest question/variant the message
  contains) is scored next to them, and the calibration sees padded queries.
- Raw BM25 values are not comparable across queries, so the service could not
  pick a threshold on them. The components are therefore combined by a
  logistic model fitted on the knowledge base itself (held-out variants,
  held-out FAQs, perturbed and padded variants; see Retriever._calibrate),
  which makes `Hit.score` an estimate of "this FAQ answers the question".
- The index is a set of flat numpy arrays (CSR postings by term id) built with
  vectorised operations, and only postings of the query's terms are touched;
  fuzzy scoring runs on a capped candidate set. A query costs a few
  milliseconds at 10,000 FAQs and the index stays small at 100,000.
"""

from __future__ import annotations

import ctypes
import logging
import random
import re
import threading
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Literal, Optional, Sequence

import jieba
import numpy as np
from rapidfuzz import fuzz, process

from bot.settings import SERVICE_DATA_DIR
from bot.text import normalise, normalise_aligned

from .english import PhraseTable
from .model import Entry, Faq, KnowledgeBase

log = logging.getLogger(__name__)

USERDICT = SERVICE_DATA_DIR / "lexicon" / "userdict.txt"

# Okapi BM25 parameters (the usual defaults; FAQ fields are short so b matters little).
K1 = 1.2
B = 0.75
# BM25F field weights: the canonical question is written most carefully, so it
# counts a little more; the entry's title and keywords are shared by all of its
# FAQs and cannot tell siblings apart, so they count less; the answer is long
# and only hints at the topic, but it is often the only thing that separates
# sibling FAQs (+4 points of leave-one-out top-1 on the seed base at 0.6).
FIELD_WEIGHTS = {"question": 1.5, "variants": 1.0, "faq_keywords": 1.0, "title": 0.5, "keywords": 0.5, "answer": 0.6}
FIELDS = tuple(FIELD_WEIGHTS)

# Coverage only counts what the question side states: answers are long and
# share generic words with almost any message.
COVERAGE_FIELDS = ("question", "variants", "faq_keywords", "title", "keywords")

BM25_CANDIDATES = 50  # top FAQs by BM25 that get fuzzy scoring
BIGRAM_CANDIDATES = 30  # plus top FAQs by bigram overlap (catches typos BM25 misses)
MAX_QUERY_CHARS = 2000  # longer input is truncated before analysis
MAX_FUZZY_CHARS = 200  # fuzzy matching cost grows with length; questions are short
MAX_QUERY_TERMS = 128
MAX_SUBWORD_TOKEN = 16  # tokens longer than this are not scanned for sub-words
MAX_CALIBRATION_QUERIES = 1500
CALIBRATION_CANDIDATES = (15, 10)  # top by BM25, top by bigrams, per self-check query
NEGATIVES_PER_QUERY = 5  # hard negatives per leave-one-out query (≈ the hits a user sees)
ABSENT_QUERY_SHARE = 0.25  # leave-one-FAQ-out queries per leave-one-variant-out query
PERTURBED_QUERY_SHARE = 0.5  # perturbed-variant queries per leave-one-variant-out query
# Held-out (variant or FAQ) queries also asked padded with the asker's situation.
# A trade-off, read off the self-check (fresh held-out queries, 216-FAQ base):
# share 0 / 0.25 / 0.5 hands over 60 / 43 / 35 % of padded paraphrases, but also
# answers 24 / 28 / 31 % of questions whose own FAQ is missing with a sibling
# and hands over 92 / 88 / 83 % of topic-swapped ones; 0.25 takes most of the
# gain for a third of the cost.
PADDED_QUERY_SHARE = 0.25
FOREIGN_QUERY_SHARE = 0.25  # topic-swapped queries per leave-one-variant-out query
_FILLERS = ("请问", "你好，", "想问一下", "麻烦问下", "您好，请问")
# How enterprises pad a question with their own situation. Only used to make
# calibration queries look like real messages; the words are deliberately
# generic (industries, head count, revenue) and mostly unknown to the base.
_PAD_PREFIXES = (
    "我们是做{i}的，",
    "我们公司主要做{i}，",
    "我们是一家{i}企业，",
    "我们{i}行业的，",
    "我们公司{n}人，",
    "我们去年营收{n}万，",
    "我们是{i}方向的初创公司，",
)
_PAD_SUFFIXES = ("，我们是做{i}的", "，我们公司{n}人", "，我们去年营收{n}万", "，我们做{i}")
_INDUSTRIES = (
    "新材料",
    "生物医药",
    "集成电路",
    "人工智能",
    "新能源汽车",
    "航空航天",
    "智能制造",
    "工业软件",
    "医疗器械",
    "环保设备",
    "农业科技",
    "电子信息",
    "增材制造",
    "精密仪器",
    "文化创意",
    "物联网",
    "储能",
    "机器人",
    "卫星导航",
    "食品加工",
)

# coverage: share of the query's idf mass found in the FAQ's question-side fields
# bm25:     BM25F score divided by its upper bound for this query
# bigram:   share of the query's character-bigram idf mass found in the FAQ (typos)
# fuzzy:    best rapidfuzz ratio against the question or a variant
# exact:    fuzzy ** 4 — near-exact matches deserve near-certainty, which a
#           linear term in fuzzy cannot express next to paraphrases
# overlap:  best share of one question/variant's idf mass that the query contains:
#           stays high when the message adds context around a known question
# rel:      bm25 relative to the best candidate's (1 for the leader).
#
# The score is a logistic model of the evidence features *times rel*:
#   logit = Σ w_k · feature_k · rel + bias     (k = coverage … overlap)
# so evidence counts fully for the leader and proportionally less for FAQs far
# behind it. Sibling FAQs of one policy that tie stay close (the user picks),
# and a query that matches nothing well stays low however clearly one FAQ
# leads a weak field. This generalises the former `lead` feature (rel ×
# coverage, next to the raw features): with the product as one more additive
# feature the fit drove the weights of coverage, bm25, bigram and fuzzy to 0
# (they were negative given the product), so only fuzzy⁴ and the product
# carried the score. Gating every feature keeps them all usable.
FEATURES = ("coverage", "bm25", "bigram", "fuzzy", "exact", "overlap", "rel")
EVIDENCE = FEATURES[:-1]  # the features that carry a weight (each times rel)
# Prior for the calibration, used as-is when the base is too small to fit and as
# the centre of the L2 penalty otherwise. Chosen by hand so that a near-exact
# question scores ≈ 0.99, half the words matching ≈ 0.1, unrelated < 0.01.
PRIOR_WEIGHTS = np.array([2.5, 2.0, 2.0, 2.0, 3.0, 1.5])
PRIOR_BIAS = -7.0
L2_WEIGHTS = 2.0
L2_BIAS = 0.5
MIN_CALIBRATION_POSITIVES = 30

# Words that carry no topic: particles, pronouns, politeness, "company". Question
# words are kept: they are what tells sibling FAQs apart — 什么 (what), 怎么
# (how), 哪里 (where), 多少 (how much), 什么时候 (when), 多久 (how long).
# (什么/怎么 and their colloquial forms used to be stop words; keeping them
# lifted the leave-one-variant-out top-1 on the base by about a point.)
STOP_WORDS = frozenset(
    """
    的 地 得 了 着 过 吗 呢 吧 啊 呀 嘛 么 哦 喔 哈 呗 啦 嗯 哎 诶 噢 是 在 和 与 及 或 跟 同 而 并
    我 你 您 他 她 它 咱 我们 你们 他们 咱们 我司 本公司 贵司 公司 这 那 这个 那个 这些 那些
    请 请问 问 问下 问一下 问问 想问 咨询 一下 一个 个 些 下
    就 都 也 还 又 再 才 把 被 给 对 从 向 让 于 以 由 有 现在 目前 已经 关于 就是 还是 或者 以及
    然后 那么 这么 一般 具体 相关 有关 方面 情况 问题 您好 你好 麻烦 谢谢 感谢 了解 知道 告诉 帮忙
    """.split()
)

# Colloquial interrogatives, canonicalised like synonym groups (first = canonical)
# unless knowledge/synonyms.yml already has the term.
_INTERROGATIVES = (
    ("什么", "啥"),
    ("怎么", "咋", "如何", "怎样", "怎么样", "咋样", "咋整"),
    ("怎么办", "咋办"),
    ("什么样", "啥样"),
    ("为什么", "为啥", "咋回事"),
    ("什么时候", "啥时候", "何时", "几时"),
    ("哪里", "哪儿", "什么地方", "啥地方"),
)

# Quotes, book-title marks and brackets are dropped so that 专精特新“小巨人” and
# 首台（套） read as 专精特新小巨人 and 首台套.
_DROP_CHARS = str.maketrans("", "", "“”‘’\"'《》〈〉「」『』【】()（）[]")
_WORDLIKE = re.compile(r"\w")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# jieba's own block pattern (jieba.re_han_default): it cuts each such run separately
_JIEBA_BLOCK = re.compile("([\u4e00-\u9fd5a-zA-Z0-9+#&\\._%\\-]+)", re.U)
BUILD_DOC_CACHE = 1_000  # per-FAQ statistics kept from the build for the calibration
MAX_DOC_CACHE = 5_000  # … and re-analysed ones kept during it (all dropped after)
MAX_CUT_CACHE = 20_000  # blocks cached while answering (≈ 6 MB)
BUILD_CUT_CACHE = 300_000  # while indexing: answers share many clauses; dropped afterwards
_ALL_CJK = re.compile(r"^[\u4e00-\u9fff]+$")
FOREIGN_MIN_FREQ = 500  # jieba dictionary frequency: ordinary, not obscure, words
_foreign_cache: Optional[tuple] = None


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


_char_map: dict[str, str] = {}
_WS_RUN = re.compile(r"\s+")


def _fast_normalise(text: str) -> str:
    """bot.text.normalise, without its phrase-level traditional→simplified pass
    when no character of the text is traditional (almost always: the base is
    written in simplified Chinese). That pass is pure Python and was a third of
    the index build time; each character's mapping is cached instead.
    """
    out = []
    for ch in text:
        mapped = _char_map.get(ch)
        if mapped is None:
            mapped = normalise_aligned(ch)
            if len(_char_map) < 100_000:
                _char_map[ch] = mapped
        if mapped != ch and _CJK.match(ch):
            return normalise(text)  # a traditional character: convert by phrase
        out.append(mapped)
    return _WS_RUN.sub(" ", "".join(out)).strip()


def clean_text(text: str) -> str:
    """Shared normalisation plus removal of quotes and brackets."""
    return _fast_normalise(text or "").translate(_DROP_CHARS)


@dataclass
class Analysis:
    """A text as the retriever sees it."""

    tokens: list[str]  # content tokens after synonym canonicalisation
    terms: list[str]  # tokens + dictionary sub-words (what BM25 matches), with repeats
    compact: str  # tokens joined: what fuzzy and bigram matching compare
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
        for group in _INTERROGATIVES:  # after synonyms.yml: staff's groups take precedence
            for term in group:
                if term not in self.canon:
                    self.canon[term] = group[0]
                    if len(term) > 1 and not self.tk.FREQ.get(term):
                        self.tk.add_word(term)
        self._max_term = max((len(t) for t in self.canon), default=0)
        self._surface: dict[str, str] = {}
        self._subwords: dict[str, tuple[str, ...]] = {}
        self._cut_cache: dict[str, list[str]] = {}
        self.cut_cache_limit = MAX_CUT_CACHE

    def _cut(self, text: str) -> list[str]:
        # HMM off: unknown words split into single characters the same way in
        # documents and queries instead of being merged differently by context.
        # jieba segments each run of _JIEBA_BLOCK characters on its own, so
        # cutting the runs one by one gives the same tokens; runs recur a lot
        # (boilerplate clauses in answers, synonyms, common questions) and are
        # cached, which halves the index build time.
        out: list[str] = []
        cache = self._cut_cache
        for k, part in enumerate(_JIEBA_BLOCK.split(text)):
            if not part:
                continue
            if k % 2:  # a block (split() puts the captured runs at odd positions)
                tokens = cache.get(part)
                if tokens is None:
                    tokens = self.tk.lcut(part, HMM=False)
                    if len(cache) < self.cut_cache_limit:
                        cache[part] = tokens
                out.extend(tokens)
            else:
                out.extend(self.tk.lcut(part, HMM=False))
        return out

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
                    piece = token[i : i + size]
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
    return frozenset(compact[i : i + 2] for i in range(len(compact) - 1))


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
    source: str = "prior"  # "fitted" or "prior" (base too small to fit)
    queries: int = 0  # self-supervised queries used for the fit
    positives: int = 0
    negatives: int = 0
    top1: float = float("nan")  # share of held-out variants whose own FAQ ranks first

    def logit(self, features: np.ndarray) -> np.ndarray:
        """Logits for rows of FEATURES (the evidence columns gated by the last, rel)."""
        return gate(features) @ self.weights + self.bias

    def describe(self) -> str:
        ws = "，".join(f"{n}={w:.2f}" for n, w in zip(EVIDENCE, self.weights)) + "（均乘以 rel）"
        if self.source != "fitted":
            return f"校准：使用先验参数（样本不足）；{ws}，偏置={self.bias:.2f}"
        return (
            f"校准：{self.queries} 条自检问题，正例 {self.positives}、负例 {self.negatives}；"
            f"留一 Top-1 命中率 {self.top1:.1%}；{ws}，偏置={self.bias:.2f}"
        )


def gate(features: np.ndarray) -> np.ndarray:
    """The model's inputs: each evidence feature times rel (see FEATURES)."""
    return features[:, :-1] * features[:, -1:]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


def fit_logistic(
    X: np.ndarray, y: np.ndarray, prior_w: np.ndarray, prior_b: float, l2_w: float = L2_WEIGHTS, l2_b: float = L2_BIAS
) -> tuple[np.ndarray, float]:
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
        return text[:i] + rng.choice(chars) + text[i + 1 :]
    if kind == 1 and n >= 5:  # one character missing
        i = rng.randrange(n)
        return text[:i] + text[i + 1 :]
    if kind == 2 and n >= 4:  # two neighbours swapped
        i = rng.randrange(n - 1)
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return rng.choice(_FILLERS) + text + rng.choice(("？", "呢？", "啊", ""))


def _pad(text: str, rng: random.Random) -> str:
    """A question with the asker's situation around it (see _PAD_PREFIXES)."""
    fill = {"i": rng.choice(_INDUSTRIES), "n": rng.choice((30, 50, 120, 300, 800, 2000, 5000))}
    if rng.random() < 0.6:
        return rng.choice(_PAD_PREFIXES).format(**fill) + text
    return text.rstrip("？?。") + rng.choice(_PAD_SUFFIXES).format(**fill)


# --------------------------------------------------------------------------- index


def _release_free_memory() -> None:
    """Hand memory freed after a build back to the OS (glibc only; a no-op elsewhere).

    Indexing allocates millions of short-lived objects between long-lived ones;
    glibc keeps the freed pages, which at 10,000 FAQs more than doubled the
    process's resident size after a (re)load.
    """
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL("libc.so.6")
            _libc.malloc_trim
        except (OSError, AttributeError):
            _libc = False
    if _libc:
        _libc.malloc_trim(0)


_libc: Optional[ctypes.CDLL | Literal[False]] = None  # None: not looked up yet; False: no glibc


@dataclass
class _Doc:
    """Per-FAQ field statistics, rebuilt on demand so leave-one-out can remove one variant."""

    field_counts: dict[str, Counter]
    field_lens: dict[str, int]
    variant_terms: list[Counter]
    variant_bigrams: list[frozenset]
    bigram_counts: Counter  # in how many of the FAQ's texts each bigram occurs
    compacts: list[str]  # question + variants, analysed
    sentence_terms: list[list[str]]  # question + variants: their distinct terms


@dataclass
class _Query:
    analysis: Analysis
    terms: list[str]
    ids: np.ndarray  # term ids in the index, -1 for words the base does not use
    idf: np.ndarray
    idf_sum: float
    bigrams: list[str]
    bigram_ids: np.ndarray
    bidf: np.ndarray
    bidf_sum: float
    compact: str


def _csr(keys: np.ndarray, n_rows: int, n_cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort (row * n_cols + col) keys; return row pointers, columns and the sort order."""
    order = np.argsort(keys, kind="stable")
    rows = keys[order] // n_cols
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=ptr[1:])
    return ptr, (keys[order] % n_cols).astype(np.int32), order


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, e) for each pair, vectorised."""
    lens = ends - starts
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(lens) - lens
    return np.repeat(starts - offsets, lens) + np.arange(total)


class Retriever:
    """Ranks the FAQs of a KnowledgeBase for a free-text question."""

    keep_calibration_rows = False  # diagnostics: keep the self-check rows after fitting

    def __init__(self, kb: KnowledgeBase, *, calibrate: bool = True, seed: int = 20240601):
        self.kb = kb
        self.analyzer = Analyzer(kb.synonyms)
        self.english = PhraseTable(list(getattr(kb, "english", []) or []))
        self.faqs: list[Faq] = list(kb.faqs.values())
        self._shared: dict[str, tuple[Analysis, list[Analysis]]] = {}
        self._doc_cache: dict[int, _Doc] = {}
        self.analyzer.cut_cache_limit = BUILD_CUT_CACHE
        try:
            self._build()
            self.calibration = Calibration(PRIOR_WEIGHTS.copy(), PRIOR_BIAS)
            if calibrate:  # re-analyses FAQs for leave-one-out: the cut cache still helps
                self.calibration = self._calibrate(seed)
        finally:
            # The answers' clauses are not what users type: give the memory back.
            self._doc_cache.clear()
            self.analyzer._cut_cache.clear()
            self.analyzer.cut_cache_limit = MAX_CUT_CACHE
            _release_free_memory()

    # ---- build

    def _analyse_faq(self, faq: Faq) -> _Doc:
        """Everything the index needs from one FAQ (deterministic, so it can be redone)."""
        an = self.analyzer
        entry = faq.entry
        q = an.analyse(faq.question)
        variants = [an.analyse(v) for v in faq.variants]
        keywords: list[Analysis]
        if entry is None:
            title, keywords = Analysis([], [], "", frozenset()), []
        else:
            shared = self._shared.get(entry.id)
            if shared is None:
                shared = (an.analyse(entry.title), [an.analyse(k) for k in entry.keywords])
                self._shared[entry.id] = shared
            title, keywords = shared
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
        return _Doc(
            field_counts=fields,
            field_lens={f: sum(c.values()) for f, c in fields.items()},
            variant_terms=[Counter(v.terms) for v in variants],
            variant_bigrams=[v.bigrams for v in variants],
            bigram_counts=bigram_counts,
            compacts=[q.compact, *(v.compact for v in variants)],
            sentence_terms=[list(dict.fromkeys(a.terms)) for a in (q, *variants)],
        )

    def _doc(self, i: int) -> _Doc:
        """FAQ i's statistics (re-analysed: the index keeps only flat arrays)."""
        doc = self._doc_cache.get(i)
        if doc is None:
            doc = self._analyse_faq(self.faqs[i])
            if len(self._doc_cache) < MAX_DOC_CACHE:
                self._doc_cache[i] = doc
        return doc

    def _build(self) -> None:
        n = len(self.faqs)
        nf = len(FIELDS)
        vocab: dict[str, int] = {}
        bvocab: dict[str, int] = {}
        # One row per (FAQ, field, term): compact typed arrays, not Python objects.
        r_key, r_cnt = array("q"), array("f")  # key = faq * nf + field
        r_term = array("i")
        b_faq, b_gram = array("i"), array("i")  # (FAQ, bigram) pairs, distinct
        s_term, s_len = array("i"), array("i")  # sentence → its distinct terms
        sent_compacts: list[str] = []
        sent_offsets = [0]
        for i, faq in enumerate(self.faqs):
            doc = self._analyse_faq(faq)
            if i < BUILD_DOC_CACHE:  # small bases: calibration needs every FAQ's statistics
                self._doc_cache[i] = doc
            for f, name in enumerate(FIELDS):
                for t, c in doc.field_counts[name].items():
                    r_key.append(i * nf + f)
                    r_term.append(vocab.setdefault(t, len(vocab)))
                    r_cnt.append(c)
            for g in doc.bigram_counts:
                b_faq.append(i)
                b_gram.append(bvocab.setdefault(g, len(bvocab)))
            for terms in doc.sentence_terms:
                s_term.extend(vocab.setdefault(t, len(vocab)) for t in terms)
                s_len.append(len(terms))
            sent_compacts.extend(c[:MAX_FUZZY_CHARS] for c in doc.compacts)
            sent_offsets.append(len(sent_compacts))
        self._shared.clear()
        self._vocab, self._bvocab = vocab, bvocab
        self._sent_compacts = np.array(sent_compacts, dtype=object)  # fancy-indexable
        self._sent_offsets = np.array(sent_offsets, dtype=np.int64)
        v, nb = len(vocab), len(bvocab)

        key = np.frombuffer(r_key, dtype=np.int64)
        term = np.frombuffer(r_term, dtype=np.int32).astype(np.int64)
        cnt = np.frombuffer(r_cnt, dtype=np.float32).astype(np.float64)
        faq_of, field_of = key // nf, key % nf
        lens = np.bincount(key, weights=cnt, minlength=n * nf).reshape(n, nf) if n else np.zeros((0, nf))
        self._avg_len = lens.mean(axis=0) if n else np.zeros(nf)
        avg = np.where(self._avg_len > 0, self._avg_len, 1.0)
        weights = np.array([FIELD_WEIGHTS[f] for f in FIELDS])
        # BM25F pseudo term frequency: field-weighted, length-normalised per field
        norm = 1 - B + B * lens / avg
        tf_part = weights[field_of] * cnt / norm[faq_of, field_of]
        covered = np.isin(field_of, [FIELDS.index(f) for f in COVERAGE_FIELDS]).astype(np.float64)
        pair = term * max(n, 1) + faq_of  # (term, FAQ)
        upair, inverse = np.unique(pair, return_inverse=True)
        tf = np.bincount(inverse, weights=tf_part)
        asked = np.bincount(inverse, weights=covered) > 0
        p_term = upair // max(n, 1)
        self._df = np.bincount(p_term, minlength=v)
        self._idf = self._idf_of(self._df)
        self._p_ptr = np.zeros(v + 1, dtype=np.int64)
        np.cumsum(self._df, out=self._p_ptr[1:])
        self._p_doc = (upair % max(n, 1)).astype(np.int32)  # upair is sorted by term
        self._p_imp = (self._idf[p_term] * tf * (K1 + 1) / (tf + K1)).astype(np.float32)
        self._p_asked = asked
        del key, term, cnt, faq_of, field_of, tf_part, covered, pair, upair, inverse, tf, asked, p_term

        bkey = np.frombuffer(b_gram, dtype=np.int32).astype(np.int64) * max(n, 1) + np.frombuffer(b_faq, dtype=np.int32)
        self._b_ptr, self._b_doc, _ = _csr(bkey, nb, max(n, 1))
        self._bdf = np.diff(self._b_ptr)
        self._bidf = self._idf_of(self._bdf)

        self._s_term = np.frombuffer(s_term, dtype=np.int32).copy()
        s_len_a = np.frombuffer(s_len, dtype=np.int32)
        self._s_ptr = np.zeros(len(s_len_a) + 1, dtype=np.int64)
        np.cumsum(s_len_a, out=self._s_ptr[1:])
        self._s_len = s_len_a.astype(np.int64)
        sent_of = np.repeat(np.arange(len(s_len_a)), s_len_a)
        self._s_mass = np.bincount(sent_of, weights=self._idf[self._s_term], minlength=len(s_len_a))

    def _tf_tilde(self, counts: dict[str, Counter], lens: dict[str, int]) -> dict[str, float]:
        """BM25F pseudo term frequency of one FAQ (as in _build), for leave-one-out."""
        out: dict[str, float] = {}
        for f, name in enumerate(FIELDS):
            avg = self._avg_len[f]
            if not avg or not counts[name]:
                continue
            norm = 1 - B + B * lens[name] / avg
            for t, tf in counts[name].items():
                out[t] = out.get(t, 0.0) + FIELD_WEIGHTS[name] * tf / norm
        return out

    # ---- query

    def _idf_of(self, df):
        n = len(self.faqs)
        return np.log(1 + (n - np.asarray(df, dtype=np.float64) + 0.5) / (np.asarray(df) + 0.5))

    def _query(self, text: str, held_out: Optional[tuple[int, Optional[int]]] = None) -> Optional[_Query]:
        """Analyse a query and weight its terms by idf.

        held_out=(faq, variant) computes idf as if that variant were not in the
        base, (faq, None) as if the whole FAQ were not: a word only the held-out
        text uses is then unknown, exactly as for a real unseen question.
        """
        text = self.translate((text or "")[:MAX_QUERY_CHARS])
        a = self.analyzer.analyse(text)
        if not a.terms:
            return None
        terms = list(dict.fromkeys(a.terms))[:MAX_QUERY_TERMS]
        compact = a.compact[:MAX_FUZZY_CHARS]
        bigrams = list(bigrams_of(compact))
        ids = np.array([self._vocab.get(t, -1) for t in terms], dtype=np.int64)
        bids = np.array([self._bvocab.get(g, -1) for g in bigrams], dtype=np.int64)
        df = np.where(ids >= 0, self._df[np.maximum(ids, 0)] if len(self._df) else 0, 0)
        bdf = np.where(bids >= 0, self._bdf[np.maximum(bids, 0)] if len(self._bdf) else 0, 0)
        if held_out is not None:
            d, v = self._doc(held_out[0]), held_out[1]
            if v is None:
                gone = {t for c in d.field_counts.values() for t in c}
                gone_bigrams = set(d.bigram_counts)
            else:
                own = d.variant_terms[v]
                gone = {
                    t for t in own if all(c[t] == (own[t] if f == "variants" else 0) for f, c in d.field_counts.items())
                }
                gone_bigrams = {g for g in d.variant_bigrams[v] if d.bigram_counts[g] == 1}
            df = df - np.array([t in gone for t in terms], dtype=np.int64)
            bdf = bdf - np.array([g in gone_bigrams for g in bigrams], dtype=np.int64)
            ids = np.where(df > 0, ids, -1)
            bids = np.where(bdf > 0, bids, -1)
        # _idf_of(0) is the idf of an unknown word
        idf = self._idf_of(df)
        bidf = self._idf_of(bdf)
        return _Query(a, terms, ids, idf, float(idf.sum()), bigrams, bids, bidf, float(bidf.sum()) or 1.0, compact)

    def _accumulate(self, q: _Query) -> tuple[np.ndarray, np.ndarray]:
        """BM25 and matched-bigram mass for every FAQ, via the query terms' postings only."""
        n = len(self.faqs)
        # float32: half the memory traffic in the scans and top-k selections over all FAQs
        bm = np.zeros(n, dtype=np.float32)
        big = np.zeros(n, dtype=np.float32)
        ptr, docs, imps = self._p_ptr, self._p_doc, self._p_imp
        for t in q.ids.tolist():
            if t >= 0:
                s, e = ptr[t], ptr[t + 1]
                bm[docs[s:e]] += imps[s:e]
        bptr, bdocs = self._b_ptr, self._b_doc
        for g, w in zip(q.bigram_ids.tolist(), q.bidf.tolist()):
            if g >= 0:
                big[bdocs[bptr[g] : bptr[g + 1]]] += w
        return bm, big

    def _coverage(self, q: _Query, cands: np.ndarray) -> np.ndarray:
        """Query idf mass each candidate states on its question side (sorted-postings lookup)."""
        cov = np.zeros(len(cands))
        if len(cands) == 0:
            return cov
        ptr, docs, asked = self._p_ptr, self._p_doc, self._p_asked
        for t, w in zip(q.ids.tolist(), q.idf.tolist()):
            if t < 0:
                continue
            s, e = ptr[t], ptr[t + 1]
            pos = s + np.minimum(np.searchsorted(docs[s:e], cands), e - s - 1)
            cov[(docs[pos] == cands) & asked[pos]] += w
        return cov

    def _candidates(
        self, bm: np.ndarray, big: np.ndarray, k_bm: int = BM25_CANDIDATES, k_big: int = BIGRAM_CANDIDATES
    ) -> np.ndarray:
        def top(arr: np.ndarray, k: int) -> np.ndarray:
            nz = np.flatnonzero(arr > 0)
            if len(nz) > k:
                nz = nz[np.argpartition(-arr[nz], k - 1)[:k]]
            return nz

        return np.union1d(top(bm, k_bm), top(big, k_big))

    def _ratios(self, q: _Query, sentences: np.ndarray) -> np.ndarray:
        """rapidfuzz ratio (0..1) of the query against each given question/variant."""
        choices = self._sent_compacts[sentences].tolist()
        return process.cdist([q.compact], choices, scorer=fuzz.ratio, dtype=np.float64)[0] / 100.0

    def _overlaps(self, q: _Query, sentences: np.ndarray) -> np.ndarray:
        """Share of each given question/variant's idf mass that the query contains."""
        idx = _ranges(self._s_ptr[sentences], self._s_ptr[sentences + 1])
        known = q.ids[q.ids >= 0]
        terms = self._s_term[idx]
        hit = np.isin(terms, known) * self._idf[terms]
        owner = np.repeat(np.arange(len(sentences)), self._s_len[sentences])
        matched = np.bincount(owner, weights=hit, minlength=len(sentences))
        mass = self._s_mass[sentences]
        return np.divide(matched, mass, out=np.zeros(len(sentences)), where=mass > 0)

    def _features(self, q: _Query, cands: np.ndarray, bm: np.ndarray, big: np.ndarray) -> np.ndarray:
        """All features but `rel` for the candidate FAQs (rows follow `cands`)."""
        if len(cands) == 0:
            return np.zeros((0, len(FEATURES) - 1))
        starts = self._sent_offsets[cands]
        ends = self._sent_offsets[cands + 1]
        sentences = _ranges(starts, ends)
        bounds = np.concatenate([[0], np.cumsum(ends - starts)[:-1]])
        fuzzy = np.maximum.reduceat(self._ratios(q, sentences), bounds)
        overlap = np.maximum.reduceat(self._overlaps(q, sentences), bounds)
        X = np.column_stack(
            [
                self._coverage(q, cands) / q.idf_sum,
                bm[cands].astype(np.float64) / (q.idf_sum * (K1 + 1)),
                big[cands].astype(np.float64) / q.bidf_sum,
                fuzzy,
                fuzzy**4,
                overlap,
            ]
        )
        return np.clip(X, 0.0, 1.0, out=X)  # shares: only rounding can push them past 1

    @staticmethod
    def _with_rel(X: np.ndarray) -> np.ndarray:
        """Append the `rel` feature, computed over all candidates of one query."""
        # column 1 is the normalised BM25, column 2 the bigram share (see FEATURES);
        # when no word matched at all (a typo in every word), bigrams rank instead
        rel = np.zeros(len(X))
        for col in (1, 2):
            top = X[:, col].max() if len(X) else 0.0
            if top > 0:
                rel = X[:, col] / top
                break
        return np.column_stack([X, rel])

    def search(self, text: str, k: int = 5) -> list[Hit]:
        """The k best FAQs for `text`, best first; [] when nothing matches at all."""
        if not self.faqs:
            return []
        q = self._query(text)
        if q is None:
            return []
        bm, big = self._accumulate(q)
        cands = self._candidates(bm, big)
        if len(cands) == 0:
            return []
        X = self._with_rel(self._features(q, cands, bm, big))
        logits = self.calibration.logit(X)
        scores = _sigmoid(logits)
        order = np.lexsort((-bm[cands], -scores))[: max(k, 0)]
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
                        first, second = sorted((faq.id, hit.faq.id))
                        pairs.setdefault((first, second), (faq, hit.faq, sentence))
        return list(pairs.values())

    def topic_terms(self, faq: Faq) -> frozenset:
        """The terms a FAQ states its topic with (question, variants, keywords, entry title and
        keywords): what a follow-up's new subject must be found in. Cached per FAQ."""
        cache = self.__dict__.setdefault("_topic_cache", {})
        terms = cache.get(faq.id)
        if terms is None:
            texts = [*faq.sentences, *faq.keywords]
            if faq.entry is not None:
                texts += [faq.entry.title, *faq.entry.keywords]
            terms = frozenset(t for text in texts for t in self.analyzer.analyse(text).terms)
            if len(cache) < 200_000:
                cache[faq.id] = terms
        return terms

    def topic_terms_of(self, text: Optional[str]) -> frozenset:
        """The content tokens of a subject as the index reads them (synonyms canonicalised)."""
        return frozenset(self.analyzer.analyse(self.translate(text or "")).tokens)

    def translate(self, text: str) -> str:
        """English phrases in a query replaced by the base's Chinese terms (knowledge/english.yml).

        Words the index uses as they are (IPO, PCT, "work permit") stay next to
        their translation; see bot/knowledge/english.py.
        """
        if not text or not self.english:
            return text or ""
        vocab, canon = self._vocab, self.analyzer.canon
        return self.english.translate(text, known=lambda w: w in vocab and w not in canon)

    def explain(self, text: str) -> dict:
        """How the retriever reads a text (for the CLI and debugging)."""
        a = self.analyzer.analyse(self.translate((text or "")[:MAX_QUERY_CHARS]))
        return {"tokens": a.tokens, "terms": list(dict.fromkeys(a.terms)), "compact": a.compact}

    # ---- calibration

    def _features_without_variant(self, q: _Query, i: int, v: int) -> np.ndarray:
        """Features of FAQ i for query q as if its variant v were not in the base."""
        d = self._doc(i)
        counts = dict(d.field_counts)
        counts["variants"] = d.field_counts["variants"] - d.variant_terms[v]
        lens = dict(d.field_lens)
        lens["variants"] = sum(counts["variants"].values())
        tf = self._tf_tilde(counts, lens)
        bm = cov = 0.0
        for t, w in zip(q.terms, q.idf):
            x = tf.get(t)
            if x:
                idf = float(self._idf[self._vocab[t]])
                bm += idf * x * (K1 + 1) / (x + K1)
                if any(counts[f].get(t) for f in COVERAGE_FIELDS):
                    cov += w
        bcounts = d.bigram_counts - Counter(d.variant_bigrams[v])
        big = sum(w for g, w in zip(q.bigrams, q.bidf) if bcounts.get(g))
        start, end = self._sent_offsets[i], self._sent_offsets[i + 1]
        rest = np.array([j for j in range(start, end) if j != start + 1 + v], dtype=np.int64)
        fuzzy = self._ratios(q, rest).max()
        overlap = self._overlaps(q, rest).max()
        return np.array([cov / q.idf_sum, bm / (q.idf_sum * (K1 + 1)), big / q.bidf_sum, fuzzy, fuzzy**4, overlap])

    def _foreign_words(self) -> list[str]:
        """Common dictionary words the base never uses: replacement topics for _swap_topic."""
        global _foreign_cache
        tk = self.analyzer.tk
        if _foreign_cache is None or _foreign_cache[0] is not _base():
            words = [
                w
                for w, f in tk.FREQ.items()
                if f >= FOREIGN_MIN_FREQ
                and 2 <= len(w) <= 4
                and _ALL_CJK.match(w)
                and w not in tk.user_word_tag_tab
                and w not in STOP_WORDS
            ]
            _foreign_cache = (_base(), sorted(words))
        return [w for w in _foreign_cache[1] if w not in self._vocab and w not in self.analyzer.canon]

    def _swap_topic(self, text: str, rng: random.Random, words: Sequence[str]) -> Optional[str]:
        """`text` with its most specific words (40–90 % of its idf mass) replaced."""
        an = self.analyzer
        tokens = an._cut(clean_text(text))
        content = [k for k, tok in enumerate(tokens) if _WORDLIKE.search(tok) and tok not in STOP_WORDS]
        if not content:
            return None
        unknown = float(self._idf_of(0))

        def weight(tok: str) -> float:
            tid = self._vocab.get(an.canonical_surface(tok), -1)
            return float(self._idf[tid]) if tid >= 0 else unknown

        mass = {k: weight(tokens[k]) for k in content}
        total, target, done = sum(mass.values()), rng.uniform(0.4, 0.9), 0.0
        for k in sorted(content, key=lambda k: -mass[k]):
            if done >= target * total:
                break
            tokens[k] = rng.choice(words)
            done += mass[k]
        return "".join(tokens)

    def _calibrate(self, seed: int) -> Calibration:
        """Fit the score on the base itself; no evaluation data is used.

        Five kinds of self-supervised queries:
        - leave-one-variant-out: a variant asks for its own FAQ, from which that
          variant is removed (positive) against the best-ranked other FAQs
          (negatives) — teaches what a right answer looks like;
        - leave-one-FAQ-out: a FAQ's question asked with that whole FAQ removed,
          so every candidate is wrong — teaches that being the best of a weak
          field is not enough (questions the base does not cover);
        - perturbed variants (a typo, a dropped or swapped character, polite
          filler) against the full base — teaches that a near-exact match is a
          confident answer, which leave-one-out alone never shows;
        - padded: some of the held-out queries of the first two kinds again,
          with the asker's situation around them ("我们是做储能的，…") —
          teaches that unmatched context words are not evidence either way,
          in both the covered and the uncovered case;
        - topic-swapped: a variant whose main topic words are replaced by
          ordinary words the base never uses ("高企认定要什么条件" →
          "水库认定要什么条件"), against the full base — teaches that a
          familiar question shape about an unknown subject is not covered
          (other agencies' procedures, everyday topics).
        """
        rng = random.Random(seed)
        loo = [(i, v) for i, faq in enumerate(self.faqs) for v in range(len(faq.variants))]
        if len(loo) > MAX_CALIBRATION_QUERIES:
            loo = rng.sample(loo, MAX_CALIBRATION_QUERIES)
        absent = [(i, -1) for i in range(len(self.faqs))]
        limit = int(len(loo) * ABSENT_QUERY_SHARE)
        if len(absent) > limit:
            absent = rng.sample(absent, limit)
        chars = sorted({c for i, _ in loo for text in self.faqs[i].sentences for c in text if _CJK.match(c)})
        perturbed = [
            (i, v, _perturb(self.faqs[i].variants[v], rng, chars))
            for i, v in rng.sample(loo, int(len(loo) * PERTURBED_QUERY_SHARE))
        ]
        jobs = (
            [("loo", i, v, self.faqs[i].variants[v]) for i, v in loo]
            + [("absent", i, -1, self.faqs[i].question) for i, _ in absent]
            + [("perturbed", i, v, text) for i, v, text in perturbed]
        )
        jobs += [
            (kind, i, v, _pad(text, rng))
            for kind, i, v, text in jobs
            if kind != "perturbed" and rng.random() < PADDED_QUERY_SHARE
        ]
        words = self._foreign_words()
        if words:
            for i, v in rng.sample(loo, int(len(loo) * FOREIGN_QUERY_SHARE)):
                text = self._swap_topic(self.faqs[i].variants[v], rng, words)
                if text:
                    jobs.append(("foreign", i, v, text))
        rows, labels, groups = [], [], []
        prior = Calibration(PRIOR_WEIGHTS.copy(), PRIOR_BIAS)
        for gi, (kind, i, v, text) in enumerate(jobs):
            q = self._query(text, held_out={"loo": (i, v), "absent": (i, None)}.get(kind))
            if q is None:
                continue
            bm, big = self._accumulate(q)
            # fewer candidates than a search: only the best few become negatives,
            # and they (and the BM25 leader that `rel` divides by) are among these
            cands = self._candidates(bm, big, *CALIBRATION_CANDIDATES)
            if kind == "perturbed" and i not in cands:
                cands = np.union1d(cands, [i])
            own = np.flatnonzero(cands == i) if kind != "foreign" else np.zeros(0, dtype=np.int64)
            X = self._features(q, cands, bm, big)
            if kind == "loo":
                X = np.delete(X, own, axis=0)
                X = np.vstack([self._features_without_variant(q, i, v)[None, :], X])
            elif kind == "perturbed":
                X = np.vstack([X[own], np.delete(X, own, axis=0)])
            else:
                X = np.delete(X, own, axis=0)
            X = self._with_rel(X)
            if kind not in ("absent", "foreign"):
                rows.append(X[0])
                labels.append(1.0)
                groups.append(gi)
                X = X[1:]
            for j in np.argsort(-prior.logit(X))[:NEGATIVES_PER_QUERY]:
                rows.append(X[j])
                labels.append(0.0)
                groups.append(gi)
        self._doc_cache.clear()
        y = np.array(labels)
        n_pos = int(y.sum())
        n_neg = len(y) - n_pos
        if n_pos < MIN_CALIBRATION_POSITIVES or n_neg == 0:
            return Calibration(PRIOR_WEIGHTS.copy(), PRIOR_BIAS, "prior", n_pos, n_pos, n_neg)
        X = np.vstack(rows)
        if self.keep_calibration_rows:
            self.calibration_rows = (X, y, np.array(groups), [jobs[g][0] for g in groups])
        # Platt's smoothed targets keep the fit from becoming over-confident.
        target = np.where(y > 0, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
        w, b = fit_logistic(gate(X), target, PRIOR_WEIGHTS, PRIOR_BIAS)
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
