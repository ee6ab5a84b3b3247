"""WordNet's example sentences: evaluation text that no training corpus and no LM speaks.

Why: every other corpus speaks sentences of the training text (fortunes, the KJV, a game's
dialog): a held-out voice still reads text of the kind the model learnt, and the acoustic
model has learnt that text's words and phrases along with its voices. People say other
things. WordNet 3.0 (Debian `wordnet-base`, WordNet 3.0 licence: use for any purpose) glosses
its senses with about 42,000 short modern sentences ("take care when you cross the street"),
which text.py keeps out of the training text on purpose. `python -m train.corpus --text
wordnet` has held-out voices speak them: the same voices as the usual held-out sets, with
text the model never heard.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from pathlib import Path

import numpy as np

from train.corpus.text import source_sentences

WORDNET_DIR = Path("/usr/share/wordnet")
PARTS_OF_SPEECH = ("noun", "verb", "adj", "adv")
_EXAMPLE = re.compile(r'"([^"]+)"')


def example_passages(root: Path = WORDNET_DIR) -> Iterator[str]:
    """Every quoted example in the glosses of data.noun, data.verb, data.adj and data.adv."""
    for pos in PARTS_OF_SPEECH:
        path = root / f"data.{pos}"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: apt-get install wordnet-base")
        with path.open(encoding="latin-1") as lines:
            for line in lines:
                if line.startswith("  "):  # the licence header
                    continue
                _, _, gloss = line.partition("|")
                yield from (m.strip() for m in _EXAMPLE.findall(gloss))


def evaluation_sentences(
    seed: int, exclude: Collection[str] = (), root: Path = WORDNET_DIR
) -> list[str]:
    """The examples as the training text's rules normalise them (text.source_sentences: 3-30
    words, deduplicated), less `exclude` (the training text), in a seeded order."""
    banned = frozenset(exclude)
    sentences = [s for s in source_sentences(example_passages(root)) if s not in banned]
    order = np.random.default_rng([seed, 0x3D7E7]).permutation(len(sentences))
    return [sentences[i] for i in order]
