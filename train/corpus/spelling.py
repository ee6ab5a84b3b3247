"""Spelled letters: sentences that spell words and codes letter by letter, and what a voice is
told to say for them.

Why: people spell names, codes and acronyms ("j o h n", "f b i") and say single letters, and the
packaged text has almost none (normalize.py rejects written acronyms, which do not say how they
are read). A model that never heard a letter name written as its letter writes what it hears:
"bee" for "b". The label writes each letter as itself; the engine is given the letter's name
(`spoken_form`), because engines read a lone "a", "i" or "o" as the word, not the letter.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence

import numpy as np

# Names written as words every engine reads as the letter (spot-checked: one voice per engine,
# read back by Whisper, which wrote most runs as letters).
LETTER_NAMES = {
    "a": "ay",
    "b": "bee",
    "c": "see",
    "d": "dee",
    "e": "ee",
    "f": "ef",
    "g": "gee",
    "h": "aitch",
    "i": "eye",
    "j": "jay",
    "k": "kay",
    "l": "el",
    "m": "em",
    "n": "en",
    "o": "oh",
    "p": "pee",
    "q": "cue",
    "r": "ar",
    "s": "ess",
    "t": "tee",
    "u": "you",
    "v": "vee",
    "w": "double you",
    "x": "ex",
    "y": "why",
    "z": "zee",
}
BRITISH_Z = "zed"
# Letters that are also words: a lone one is the word; inside a spelled run, the letter.
WORDLIKE_LETTERS = frozenset("aio")
LETTERS = tuple(sorted(LETTER_NAMES))
NAMEABLE_ALONE = tuple(c for c in LETTERS if c not in WORDLIKE_LETTERS)


def _is_spelled_run(run: Sequence[str]) -> bool:
    return len(run) >= 2 and any(t not in WORDLIKE_LETTERS for t in run)


def spoken_form(text: str) -> str:
    """What an engine is given to say the normalised `text`: single letters become their names
    (a spelled run of two or more, or a lone letter that is not also a word); the rest is
    unchanged. "z" is "zee" or "zed", by a hash of the text, so both are heard."""
    tokens = text.split()
    z = BRITISH_Z if zlib.crc32(text.encode()) % 2 else LETTER_NAMES["z"]
    out: list[str] = []
    i = 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and len(tokens[j]) == 1 and tokens[j] in LETTER_NAMES:
            j += 1
        if j == i:
            out.append(tokens[i])
            i += 1
            continue
        run = tokens[i:j]
        spelled = _is_spelled_run(run)
        for t in run:
            if spelled or t not in WORDLIKE_LETTERS:
                out.append(z if t == "z" else LETTER_NAMES[t])
            else:
                out.append(t)
        i = j
    return " ".join(out)


def spellable_words(sentences: Iterable[str], min_len: int = 3, max_len: int = 9) -> list[str]:
    """Distinct words of `sentences` worth spelling (letters only), sorted."""
    words = {w for s in sentences for w in s.split() if min_len <= len(w) <= max_len}
    return sorted(w for w in words if w.isalpha())


def spelled_sentence(rng: np.random.Generator, words: Sequence[str]) -> str:
    """One normalised sentence with letters in it, in one of the ways people say them."""
    kind = rng.random()
    word = words[int(rng.integers(len(words)))] if words else "spell"
    if kind < 0.35:  # a code or acronym: random letters
        n = int(rng.integers(2, 8))
        return " ".join(LETTERS[int(i)] for i in rng.integers(len(LETTERS), size=n))
    if kind < 0.55:  # a word, then its spelling
        return f"{word} {' '.join(word)}"
    if kind < 0.7:  # a spelling alone
        return " ".join(word)
    letter = NAMEABLE_ALONE[int(rng.integers(len(NAMEABLE_ALONE)))]
    if kind < 0.85:  # a lone letter, as spoken to a spelling game or a form
        return letter
    starting = [w for w in words if w.startswith(letter)]
    if kind < 0.93 and starting:  # "b as in boy"
        return f"{letter} as in {starting[int(rng.integers(len(starting)))]}"
    return f"the letter {letter}"


_DOTTED_CAPITALS = re.compile(r"\b[A-Z](?:[.\-]\s?[A-Z]\b)+\.?")
_CAPITALS = re.compile(r"\b[A-Z]{2,7}\b")
_SAID_AS_WORDS = frozenset({"OK", "AM", "PM"})


def spell_capitals(raw: str) -> str:
    """A recogniser's raw transcript with letter sequences written apart: "FBI", "F.B.I." and
    "B-E-E" become "F B I" and "B E E", so that normalising keeps them (normalize.py rejects a
    written acronym) and scores them against a spelled reference. Whisper writes sentence case,
    so a run of two to seven capitals is letters, even when it is all there is ("VW XYZ")."""
    raw = _DOTTED_CAPITALS.sub(lambda m: " ".join(re.findall("[A-Z]", m.group())) + " ", raw)
    return _CAPITALS.sub(
        lambda m: m.group() if m.group() in _SAID_AS_WORDS else " ".join(m.group()), raw
    )
