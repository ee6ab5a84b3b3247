"""The beam search's prefixes: a tree of nodes, each the parent prefix plus one symbol,
and the chain of closed words they share. Extending a prefix is O(1) and never re-reads
the text; the words of a prefix are read back only when a result is asked for."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from streamasr.decode.hypothesis import Word
from streamasr.decode.lexicon import Phrase
from streamasr.decode.lm import State


class WordLink:
    """A closed word and the closed words before it (shared between prefixes). The Word
    itself is built when first asked for: most links die in the beam unread."""

    __slots__ = ("_word", "confs", "end", "prev", "seconds", "start", "text")

    def __init__(
        self,
        text: str,
        start: int,
        end: int,
        confs: tuple[float, ...],
        seconds: float,
        prev: WordLink | None,
    ) -> None:
        self.text = text
        self.start = start  # frame of the first character
        self.end = end  # frame of the last character
        self.confs = confs
        self.seconds = seconds  # per frame
        self.prev = prev
        self._word: Word | None = None

    @property
    def word(self) -> Word:
        if self._word is None:
            fs = self.seconds
            conf = float(np.mean(self.confs))
            self._word = Word(self.text, self.start * fs, self.end * fs + fs, conf)
        return self._word


class Prefix:
    """One prefix of the beam: the parent prefix plus one symbol."""

    __slots__ = (
        "closed",
        "confs",
        "end",
        "lm",
        "parent",
        "phrase",
        "score",
        "start",
        "symbol",
        "word",
    )

    def __init__(
        self,
        parent: Prefix | None,
        symbol: int,
        word: str,
        start: int,
        end: int,
        confs: tuple[float, ...],
        closed: WordLink | None,
        lm: State,
        phrase: Phrase,
        score: float,
    ) -> None:
        self.parent = parent  # only while the parent is in the beam (for merging)
        self.symbol = symbol  # last symbol emitted (BLANK for the empty prefix)
        self.word = word  # characters since the last space
        self.start = start  # frame of the word's first character
        self.end = end  # frame of the word's last character
        self.confs = confs  # posterior of each character of ``word``
        self.closed = closed  # closed words, last first
        self.lm = lm  # LM state after the closed words
        self.phrase = phrase  # phrase-list state after the closed words
        self.score = score  # sum of word-level scores so far (LM, bonuses, penalties)


def words_of(link: WordLink | None) -> list[Word]:
    out = []
    while link is not None:
        out.append(link.word)
        link = link.prev
    out.reverse()
    return out


def texts_of(link: WordLink | None) -> list[str]:
    out = []
    while link is not None:
        out.append(link.text)
        link = link.prev
    out.reverse()
    return out


def common_words(chains: Iterable[list[str]]) -> list[str]:
    """The longest run of leading words that all ``chains`` share."""
    it = iter(chains)
    common = next(it, [])
    for chain in it:
        n = 0
        for a, b in zip(common, chain, strict=False):
            if a != b:
                break
            n += 1
        common = common[:n]
    return common
