"""Incremental greedy CTC decoding.

Each call to ``advance`` looks only at the new frames and appends to the hypothesis, so
the cost per frame does not grow with the stream. Word times come from the frames at
which characters were emitted; a word's confidence is the mean posterior of its
characters. Finalising an utterance starts the next one cleanly while the clock keeps
counting from the start of the stream.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from streamasr.decode.endpoint import EndpointConfig
from streamasr.decode.hypothesis import Hypothesis, Word
from streamasr.decode.segmenter import Best, SegmentedDecoder, best_of, check_log_probs
from streamasr.vocab import BLANK, SYMBOLS

SPACE = SYMBOLS.index(" ")


class GreedyDecoder(SegmentedDecoder):
    """One stream's greedy decoder; feed it log-probabilities [T, V] as they arrive."""

    def __init__(self, frame_seconds: float, endpoint: EndpointConfig | None = None) -> None:
        super().__init__(frame_seconds, endpoint)
        self._start_utterance()

    def _start_utterance(self) -> None:
        self._last_symbol = BLANK
        self._words: list[Word] = []
        self._chars: list[str] = []  # the word being spelled
        self._char_conf: list[float] = []
        self._word_start = 0.0
        self._word_end = 0.0

    @property
    def decoded_anything(self) -> bool:
        return bool(self._words or self._chars)

    def advance(
        self, log_probs: npt.NDArray[np.float32], best: Best | None = None
    ) -> tuple[int, bool]:
        """Consume frames [T, V] up to and including the first at which an endpoint rule
        fires. Returns (frames consumed, endpoint fired); after an endpoint, call
        ``finalize`` and feed the rest. With ``best`` (each frame's best symbol and its
        log-prob, see ``segmenter.best_of``) the rows are not scanned at all."""
        check_log_probs(log_probs)
        best = best_of(log_probs, best)
        symbols = best[0].tolist()
        probs = np.exp(best[1]).tolist()

        def step(i: int) -> None:
            symbol = symbols[i]
            if symbol != BLANK and symbol != self._last_symbol:
                self._emit(symbol, probs[i])
            self._last_symbol = symbol

        return self.clock.run(log_probs, step, lambda: self.decoded_anything, best)

    def _emit(self, symbol: int, prob: float) -> None:
        t = self.frames * self.frame_seconds
        if symbol == SPACE:
            self._close_word()
            return
        if not self._chars:
            self._word_start = t
        self._chars.append(SYMBOLS[symbol])
        self._char_conf.append(prob)
        self._word_end = t + self.frame_seconds

    def _close_word(self) -> None:
        if self._chars:
            conf = float(np.mean(self._char_conf))
            self._words.append(Word("".join(self._chars), self._word_start, self._word_end, conf))
        self._chars = []
        self._char_conf = []

    def partial(self) -> Hypothesis:
        """The current hypothesis; the stable prefix is every word already closed by a space
        (greedy decoding never revises an emitted character)."""
        stable = " ".join(w.word for w in self._words)
        pending = "".join(self._chars)
        text = f"{stable} {pending}" if stable and pending else stable or pending
        return Hypothesis(text=text, words=tuple(self._words), segment=self.segment, stable=stable)

    def finalize(self, *, endpoint: bool = False) -> Hypothesis:
        """Close the utterance, return its final hypothesis, and start the next one."""
        self._close_word()
        result = Hypothesis.final(tuple(self._words), self.clock.next_segment(), endpoint)
        self._start_utterance()
        return result
