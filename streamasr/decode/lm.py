"""A word n-gram language model read from an ARPA file (plain or gzipped), scored with backoff.

Scores are natural logs. A state is the tuple of preceding words the model can still use:
after each word it is cut to the longest suffix that is a context in the model (as KenLM
minimises its states), so equal histories share cache entries.
"""

from __future__ import annotations

import gzip
import math
import re
from collections.abc import Iterable
from pathlib import Path

BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
LN10 = math.log(10.0)
_CACHE_LIMIT = 200_000  # (state, word) entries kept before the score cache is cleared
_UNK_FLOOR = -99.0 * LN10  # an ARPA file with no <unk>: unknown words are (almost) impossible

State = tuple[str, ...]


class ArpaError(ValueError):
    """The file is not a readable ARPA language model."""


class NgramLM:
    """Backoff n-gram model: ``score(state, word) -> (log p, next state)``."""

    def __init__(
        self, order: int, logprob: dict[State, float], backoff: dict[State, float]
    ) -> None:
        if order < 1 or not any(len(g) == 1 for g in logprob):
            raise ArpaError("a language model needs at least its unigrams")
        self.order = order
        self._logprob = logprob  # natural log p(w|h) keyed by h + (w,)
        self._backoff = backoff  # natural log backoff weight keyed by context h
        self._unk = logprob.get((UNK,), _UNK_FLOOR)
        self.vocab = frozenset(g[0] for g in logprob if len(g) == 1) - {BOS, EOS, UNK}
        self._cache: dict[tuple[State, str], tuple[float, State]] = {}

    def start(self) -> State:
        """The state at the start of a sentence."""
        return (BOS,) if (BOS,) in self._backoff else ()

    def score(self, state: State, word: str) -> tuple[float, State]:
        """log p(word | state) and the state after it; unknown words score as ``<unk>``."""
        key = (state, word)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        logp = self._logp(state, word)
        history = (*state, word)[-(self.order - 1) :] if self.order > 1 else ()
        while history and history not in self._backoff:
            history = history[1:]
        self._cache[key] = (logp, history)
        return logp, history

    def end(self, state: State) -> float:
        """log p(</s> | state)."""
        return self.score(state, EOS)[0]

    def _logp(self, context: State, word: str) -> float:
        if (word,) not in self._logprob:
            word = UNK  # unknown words are scored as <unk> (after the same history)
        weight = 0.0
        while True:
            logp = self._logprob.get((*context, word))
            if logp is not None:
                return weight + logp
            if not context:
                return weight + self._unk
            weight += self._backoff.get(context, 0.0)
            context = context[1:]

    def sentence_logprob(self, words: list[str]) -> float:
        """Natural-log probability of a whole sentence, ``</s>`` included."""
        state = self.start()
        total = 0.0
        for w in words:
            logp, state = self.score(state, w)
            total += logp
        return total + self.end(state)


_COUNT = re.compile(r"^ngram\s+(\d+)\s*=\s*(\d+)\s*$")
_SECTION = re.compile(r"^\\(\d+)-grams:\s*$")


def load_arpa(path: str | Path) -> NgramLM:
    """Read an ARPA file (``.gz`` is decompressed); raises ArpaError on a malformed file."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            gzipped = f.read(2) == b"\x1f\x8b"
        if gzipped:
            with gzip.open(path, "rt", encoding="utf-8") as text:
                return _parse(text, str(path))
        with path.open(encoding="utf-8") as text:
            return _parse(text, str(path))
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise ArpaError(f"cannot read language model {path}: {e}") from e


def _parse(lines: Iterable[str], name: str) -> NgramLM:
    logprob: dict[State, float] = {}
    backoff: dict[State, float] = {}
    declared: dict[int, int] = {}
    section = 0  # 0: before \data\, -1: in \data\, n: in the n-grams section
    seen_end = False
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        if line == "\\data\\":
            section = -1
            continue
        if line == "\\end\\":
            seen_end = True
            break
        m = _SECTION.match(line)
        if m:
            section = int(m.group(1))
            if section not in declared:
                raise ArpaError(f"{name}:{lineno}: section {section} not declared in \\data\\")
            continue
        if section == -1:
            m = _COUNT.match(line)
            if not m:
                raise ArpaError(f"{name}:{lineno}: expected 'ngram N=count', got {line[:40]!r}")
            declared[int(m.group(1))] = int(m.group(2))
            continue
        if section <= 0:
            raise ArpaError(f"{name}:{lineno}: text outside any section: {line[:40]!r}")
        fields = line.split()
        n = section
        if len(fields) not in (n + 1, n + 2):
            raise ArpaError(f"{name}:{lineno}: expected {n}-gram line, got {line[:60]!r}")
        try:
            p = float(fields[0]) * LN10
            gram = tuple(fields[1 : n + 1])
            logprob[gram] = p
            if len(fields) == n + 2:
                backoff[gram] = float(fields[n + 1]) * LN10
        except ValueError as e:
            raise ArpaError(f"{name}:{lineno}: bad number in {line[:60]!r}") from e
    if not seen_end:
        raise ArpaError(f"{name}: no \\end\\ marker (truncated or not an ARPA file)")
    if not declared:
        raise ArpaError(f"{name}: no \\data\\ header")
    for n, count in declared.items():
        found = sum(1 for g in logprob if len(g) == n)
        if found != count:
            raise ArpaError(f"{name}: header declares {count} {n}-grams, found {found}")
    return NgramLM(max(declared), logprob, backoff)
