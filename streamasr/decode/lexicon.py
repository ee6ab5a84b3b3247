"""Word lists for the beam search: a lexicon (which spellings are words) and phrase lists.

A ``Lexicon`` answers, character by character, whether a partial word can still become a
known word (its prefix set is the trie flattened into a set: one hash lookup per character).
A ``PhraseList`` is a trie over words: from the words of a phrase matched so far, which words
may come next.
"""

from __future__ import annotations

from collections.abc import Iterable

from streamasr.vocab import CHARS

_ALPHABET = frozenset(CHARS) - {" "}

Phrase = tuple[str, ...]


def normalise_phrase(text: str) -> Phrase:
    """Lower-case words of a phrase; raises ValueError on characters the model cannot spell."""
    words = tuple(text.lower().split())
    for w in words:
        bad = set(w) - _ALPHABET
        if bad:
            raise ValueError(
                f"phrase {text!r} has characters the model cannot spell: {sorted(bad)}"
            )
    return words


class Lexicon:
    """A set of words and of all their prefixes."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = frozenset(w for w in words if w)
        self.prefixes = frozenset(w[:i] for w in self.words for i in range(1, len(w) + 1))

    def __contains__(self, word: object) -> bool:
        return word in self.words

    def __len__(self) -> int:
        return len(self.words)

    def is_prefix(self, partial: str) -> bool:
        """True when ``partial`` can still be completed to a word ("" always can)."""
        return not partial or partial in self.prefixes

    def extended(self, words: Iterable[str]) -> Lexicon:
        """This lexicon plus ``words``."""
        extra = frozenset(words) - self.words
        return self if not extra else Lexicon(self.words | extra)


VOSK_UNK = "[unk]"  # in a vosk grammar: "anything else may be said"


class PhraseList:
    """Phrases as a word trie. A state is the tuple of words of the phrase matched so far;
    ``()`` is "between phrases". Vosk's ``"[unk]"`` entry is not a phrase: it only sets
    ``has_unk`` (a client that sends it expects other speech to stay possible)."""

    def __init__(self, phrases: Iterable[str]) -> None:
        texts = list(phrases)
        self.has_unk = any(t.strip().lower() == VOSK_UNK for t in texts)
        kept = (t for t in texts if t.strip().lower() != VOSK_UNK)
        self.phrases = tuple(p for p in (normalise_phrase(t) for t in kept) if p)
        self.complete = frozenset(self.phrases)
        nexts: dict[Phrase, set[str]] = {}
        for p in self.phrases:
            for i in range(len(p)):
                nexts.setdefault(p[:i], set()).add(p[i])
        self._next = {k: frozenset(v) for k, v in nexts.items()}
        self.words = frozenset(w for p in self.phrases for w in p)
        self._char_prefixes: dict[Phrase, frozenset[str]] = {}

    def __bool__(self) -> bool:
        return bool(self.phrases)

    def allowed(self, state: Phrase) -> frozenset[str]:
        """Words that may follow ``state`` while staying inside the phrase list."""
        out = self._next.get(state, frozenset())
        if state in self.complete and state:
            out = out | self._next.get((), frozenset())
        return out

    def step(self, state: Phrase, word: str) -> Phrase | None:
        """The state after ``word``, or None when it leaves the phrase list. A completed
        phrase that cannot continue returns to ``()``."""
        if word not in self.allowed(state):
            return None
        nxt = (*state, word)
        if nxt in self._next:
            return nxt  # a phrase can continue (and, if complete, also restart)
        if nxt in self.complete:
            return ()
        return self.step((), word)  # a new phrase starts after a completed one

    def boost_step(self, state: Phrase, word: str) -> tuple[Phrase, bool]:
        """For boosting: the state after ``word`` and whether it matched a phrase word;
        a word that breaks a phrase may start another one."""
        nxt = self.step(state, word)
        if nxt is None and state:
            nxt = self.step((), word)
        return (nxt, True) if nxt is not None else ((), False)

    def can_end(self, state: Phrase) -> bool:
        return state == () or state in self.complete

    def char_prefixes(self, state: Phrase) -> frozenset[str]:
        """Every non-empty prefix of the words allowed after ``state`` (cached)."""
        hit = self._char_prefixes.get(state)
        if hit is None:
            hit = frozenset(w[:i] for w in self.allowed(state) for i in range(1, len(w) + 1))
            self._char_prefixes[state] = hit
        return hit
