"""The answering service: a loaded base + retriever, a decision, and hot reload.

Staff edit knowledge/ while the action server runs; the service notices
changes (at most one directory scan per second) and swaps in the new base
only if it validates, so a typo in one file never takes answers offline.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, Optional

from .loader import load_base
from .model import Entry, Faq, KnowledgeBase
from .retriever import MAX_QUERY_CHARS, Hit, Retriever

log = logging.getLogger(__name__)

# Thresholds on the calibrated score (Hit.score ≈ probability that the FAQ
# answers the question; see Retriever._calibrate). Chosen on the base's own
# self-check, never on evaluation data. Re-checked after the retriever's
# features changed (evidence gated by `rel`, padded and topic-swapped
# self-check queries), on the 216-FAQ base with 2,583 variants, replaying the
# calibration's own held-out queries through decide():
# - ANSWER_THRESHOLD 0.5: near-duplicates (a variant with a typo, a dropped or
#   swapped character or polite filler) are answered 93 % of the time, all
#   correctly; unseen paraphrases (a variant held out of its FAQ, a fifth of
#   them padded with the asker's situation) are answered 40 % of the time with
#   93 % precision — the rest get options (35 %) or are handed over (24 %).
# - SUGGEST_THRESHOLD 0.2: questions about a subject the base never mentions
#   (a variant with its topic words swapped for ordinary unrelated words) are
#   handed over 88 % of the time and answered 2 %; questions whose FAQ was
#   removed while its sibling FAQs stay (the hardest case) are handed over
#   38 %, get options 42 % and a wrong direct answer 20 %.
# - AMBIGUITY_MARGIN 0.15: sibling FAQs of one policy often score within a
#   few points of each other; within 0.15 the model cannot tell them apart,
#   so the user picks.
# The fitted model and these shares move with the base; `python -m
# bot.knowledge validate` prints the calibration, bench/kb_eval.py the
# decisions on the evaluation questions.
ANSWER_THRESHOLD = 0.5
SUGGEST_THRESHOLD = 0.2
AMBIGUITY_MARGIN = 0.15
MAX_OPTIONS = 3
CHECK_INTERVAL = 1.0  # seconds between directory scans
RELOAD_MARKER = ".reload"  # touched by `python -m bot.knowledge reload`

ANSWER, AMBIGUOUS, UNKNOWN = "answer", "ambiguous", "unknown"


@dataclass
class Answer:
    """What the knowledge base has to say about one message.

    decision: "answer" (hits[0] answers it), "ambiguous" (offer `options`, best
    first) or "unknown" (nothing confident: hand over or ask to rephrase).
    hits: the ranked FAQs (also for "unknown", for logging); options: what to
    show the user (the answer itself, or the choices).
    expired: the top hit's policy has passed its expiry date; say so.
    """

    decision: str
    hits: list[Hit] = field(default_factory=list)
    options: list[Hit] = field(default_factory=list)
    expired: bool = False
    query: str = ""

    @property
    def top(self) -> Optional[Hit]:
        return self.hits[0] if self.hits else None

    @property
    def faq(self) -> Optional[Faq]:
        return self.hits[0].faq if self.hits else None

    @property
    def entry(self) -> Optional[Entry]:
        return self.hits[0].entry if self.hits else None

    @property
    def score(self) -> float:
        return self.hits[0].score if self.hits else 0.0


def decide(hits: list[Hit], answer_threshold: float = ANSWER_THRESHOLD,
           ambiguity_margin: float = AMBIGUITY_MARGIN,
           suggest_threshold: float = SUGGEST_THRESHOLD) -> tuple[str, list[Hit]]:
    """Pick the decision and the options to offer from ranked hits."""
    if not hits or hits[0].score < suggest_threshold:
        return UNKNOWN, []
    top = hits[0]
    close = [h for h in hits[1:]
             if h.score >= suggest_threshold and top.score - h.score <= ambiguity_margin]
    if top.score >= answer_threshold and not close:
        return ANSWER, [top]
    # Medium confidence, or several FAQs about equally likely: let the user pick.
    return AMBIGUOUS, [top, *close][:MAX_OPTIONS]


def directory_signature(directory: Path) -> tuple:
    """Names, mtimes and sizes of every file under the directory (incl. .reload)."""
    items = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in files:
            path = os.path.join(root, name)
            try:
                st = os.stat(path)
            except OSError:  # deleted between listing and stat
                continue
            items.append((os.path.relpath(path, directory), st.st_mtime_ns, st.st_size))
    return tuple(sorted(items))


class KnowledgeService:
    """Thread-safe question answering over a knowledge directory with hot reload."""

    def __init__(self, directory: str | Path, answer_threshold: float = ANSWER_THRESHOLD,
                 ambiguity_margin: float = AMBIGUITY_MARGIN,
                 suggest_threshold: float = SUGGEST_THRESHOLD, *,
                 check_interval: float = CHECK_INTERVAL,
                 today: Callable[[], date] = date.today,
                 clock: Callable[[], float] = time.monotonic,
                 strict: bool = False, background_reload: bool = True):
        """Load the base now.

        With strict=False (the default for servers) an invalid base at start-up
        is logged and the service answers "unknown" until the files are fixed;
        strict=True raises KnowledgeError instead (CLI, tests).
        With background_reload (default) a detected change is loaded in a
        thread while the old base keeps answering, so no user waits for an
        index build; tests pass False to make reloads synchronous.
        """
        self.directory = Path(directory)
        self.answer_threshold = answer_threshold
        self.ambiguity_margin = ambiguity_margin
        self.suggest_threshold = suggest_threshold
        self.check_interval = check_interval
        self.background_reload = background_reload
        self._thread: Optional[threading.Thread] = None
        self._today = today
        self._clock = clock
        self._reload_lock = threading.Lock()
        self._state: tuple[Optional[KnowledgeBase], Optional[Retriever]] = (None, None)
        self._signature: tuple = ()
        self._failed_signature: Optional[tuple] = None
        self._last_check = clock()
        self.last_error: Optional[str] = None
        self.loaded_at: Optional[float] = None
        self._check_lock = threading.Lock()
        signature = directory_signature(self.directory)
        try:
            self._load(signature)
        except Exception as exc:  # noqa: BLE001 - a server must come up even with a broken base
            if strict:
                raise
            self._fail(signature, exc)

    # ---- state

    @property
    def base(self) -> Optional[KnowledgeBase]:
        return self._state[0]

    @property
    def retriever(self) -> Optional[Retriever]:
        return self._state[1]

    def _load(self, signature: tuple) -> None:
        kb = load_base(self.directory)
        retriever = Retriever(kb)
        self._state = (kb, retriever)  # one assignment: readers see old or new, never a mix
        self._signature = signature
        self._failed_signature = None
        self.last_error = None
        self.loaded_at = time.time()
        log.info("知识库已加载：%s；%s", kb.summary(), retriever.calibration.describe())
        for warning in kb.warnings:
            log.warning("知识库提示：%s", warning)

    def _fail(self, signature: tuple, exc: Exception) -> None:
        self._failed_signature = signature
        self.last_error = str(exc)
        if self.base is None:
            log.error("知识库加载失败，暂时无法自动答复：\n%s", exc)
        else:
            log.error("知识库重新加载失败，继续使用上一版本：\n%s", exc)

    def _reload_to(self, signature: tuple) -> bool:
        with self._reload_lock:
            try:
                self._load(signature)
                return True
            except Exception as exc:  # noqa: BLE001 - any failure keeps the old base
                self._fail(signature, exc)
                return False

    def _changed(self) -> Optional[tuple]:
        signature = directory_signature(self.directory)
        if signature == self._signature or signature == self._failed_signature:
            return None
        return signature

    def reload(self, force: bool = False) -> bool:
        """Reload now if files changed (or always with force). True when a new base is in use."""
        signature = directory_signature(self.directory) if force else self._changed()
        return signature is not None and self._reload_to(signature)

    def wait_for_reload(self, timeout: Optional[float] = None) -> None:
        """Block until a background reload, if any, has finished."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _maybe_reload(self) -> None:
        now = self._clock()
        if now - self._last_check < self.check_interval:
            return
        if not self._check_lock.acquire(blocking=False):
            return  # another request is checking right now
        try:
            self._last_check = now
            if self._thread is not None and self._thread.is_alive():
                return  # a reload is running; the next check looks again
            signature = self._changed()
            if signature is None:
                return
            if self.background_reload:
                self._thread = threading.Thread(target=self._reload_to, args=(signature,),
                                                name="knowledge-reload", daemon=True)
                self._thread.start()
            else:
                self._reload_to(signature)
        finally:
            self._check_lock.release()

    # ---- answering

    def ask(self, text: Optional[str], k: int = 5) -> Answer:
        """Answer one message; never raises (errors are logged and read as "unknown")."""
        query = (text or "")[:MAX_QUERY_CHARS]
        try:
            self._maybe_reload()
        except Exception:  # noqa: BLE001
            log.exception("知识库变更检查失败")
        retriever = self._state[1]
        if retriever is None or not query.strip():
            return Answer(UNKNOWN, query=query)
        try:
            hits = retriever.search(query, k=max(k, MAX_OPTIONS))
        except Exception:  # noqa: BLE001
            log.exception("知识库检索出错：%r", query[:100])
            return Answer(UNKNOWN, query=query)
        decision, options = decide(hits, self.answer_threshold, self.ambiguity_margin,
                                   self.suggest_threshold)
        expired = bool(hits) and hits[0].entry is not None and hits[0].entry.is_expired(self._today())
        return Answer(decision, hits[:k], options, expired, query)
