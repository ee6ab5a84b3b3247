"""What decoders produce: words with times and confidences, partial or final."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Word:
    word: str
    start: float  # seconds from stream start
    end: float  # seconds from stream start
    conf: float  # in [0, 1], mean posterior of the word's characters

    def to_dict(self) -> dict[str, Any]:
        return {
            "word": self.word,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "conf": round(self.conf, 4),
        }


@dataclass(frozen=True)
class Alternative:
    """One of a decoder's n best finals for an utterance."""

    words: tuple[Word, ...]
    confidence: float  # its share of the probability of all the decoder's final candidates

    @property
    def text(self) -> str:
        return " ".join(w.word for w in self.words)


@dataclass(frozen=True)
class Hypothesis:
    text: str
    words: tuple[Word, ...] = field(default=())
    is_final: bool = False
    segment: int = 0  # utterance number within the stream, from 0
    stable: str = ""  # prefix of ``text`` that later frames will not change
    endpoint: bool = False  # a final produced by an endpoint rule (not end of input)
    # Finals only: the decoder's n best, best first (empty: the final is the only one). Not
    # compared: two decoders that agree on the final agree, whatever else they considered.
    alternatives: tuple[Alternative, ...] = field(default=(), compare=False)

    @staticmethod
    def final(
        words: tuple[Word, ...],
        segment: int,
        endpoint: bool,
        alternatives: tuple[Alternative, ...] = (),
    ) -> Hypothesis:
        """The final of an utterance: its text is its words, all of it stable."""
        text = " ".join(w.word for w in words)
        return Hypothesis(text, words, True, segment, text, endpoint, alternatives)
