"""Words people say today, from `wordfreq` (word frequencies from subtitles, news, web text,
books and Wikipedia; data CC-BY-SA 4.0), for the lexicon and the LM's unigram level.

Why: the corpus text (fortunes, the KJV Bible, a game's dialog) lacks many common modern
words ("online", "email", "okay"), and a word outside the lexicon can never be recognised by
the beam decoder. `modern_unigrams(n)` gives the `n` most frequent English words that the
model's alphabet can spell, with their probabilities renormalised over that list; the LM
(train/lm.py) mixes them into its unigrams, which also puts them in the lexicon.
`oov_rate` reports how many words of a text a vocabulary misses.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

_SPELLABLE = re.compile(r"[a-z]+(?:'[a-z]+)?")
SINGLE_LETTER_WORDS = frozenset({"a", "i"})


def spellable(word: str) -> bool:
    """A lower-case word in the model alphabet (letters, one inner apostrophe)."""
    return bool(_SPELLABLE.fullmatch(word)) and (len(word) > 1 or word in SINGLE_LETTER_WORDS)


def modern_unigrams(n: int, lang: str = "en") -> dict[str, float]:
    """The `n` most frequent spellable words of `lang` and their (renormalised) probabilities."""
    from wordfreq import top_n_list, word_frequency  # training-only dependency

    if n <= 0:
        return {}
    words: dict[str, float] = {}
    for word in top_n_list(lang, 4 * n):
        if spellable(word) and word not in words:
            words[word] = word_frequency(word, lang)
            if len(words) == n:
                break
    total = sum(words.values())
    return {w: f / total for w, f in words.items()}


def oov_rate(vocab: Collection[str], texts: Iterable[str]) -> tuple[float, int]:
    """(share of running words not in `vocab`, number of running words)."""
    words = [w for t in texts for w in t.split()]
    if not words:
        return 0.0, 0
    return sum(w not in vocab for w in words) / len(words), len(words)
