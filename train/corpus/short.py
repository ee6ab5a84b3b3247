"""Short utterances: a word or a few alone, as people give commands, answers and names.

Why: the packaged text gives sentences of 3 to 30 words. A word said alone has its full stress
and silence on both sides, and a model that never heard one inserts letters around it (the
bundled model read the real dev set's single words at 78% CER, mostly insertions). The words
come from wordfreq's most frequent English words (train/modern_words.py), so they are also
the words people say today that the old text lacks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SHORT_VOCABULARY = 10_000  # the most frequent spellable words the phrases draw on
WORD_COUNT_WEIGHTS = (0.6, 0.25, 0.15)  # phrases of one, two and three words


def short_phrase(rng: np.random.Generator, words: Sequence[str]) -> str:
    """One to three words drawn uniformly from `words` (which must not be empty)."""
    n = 1 + int(rng.choice(len(WORD_COUNT_WEIGHTS), p=WORD_COUNT_WEIGHTS))
    return " ".join(words[int(i)] for i in rng.integers(len(words), size=n))


def frequent_words(n: int = SHORT_VOCABULARY) -> list[str]:
    """The `n` most frequent spellable English words, most frequent first (needs wordfreq)."""
    from train.modern_words import modern_unigrams

    return list(modern_unigrams(n))
