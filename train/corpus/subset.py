"""The short and spelled utterances of a manifest, written as a manifest of their own so that a
training run can list it again and give them more weight.

Why: words said alone and spelled letters are a small share of the corpus text (about 12% of
its utterances with their augmented copies, 4% of its audio, since they are short), and
a model that saw each lone letter a few times still reads "m" as "av". Listing a manifest
twice is how a run weighs a corpus (`bin/train`); this gives the same lever for these
utterances without a second corpus.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from train.corpus.manifest import Record, read_manifest, total_hours, write_manifest
from train.corpus.short import WORD_COUNT_WEIGHTS

MAX_SHORT_WORDS = len(WORD_COUNT_WEIGHTS)  # as long as short.py's longest phrases


def is_short_or_spelled(text: str, max_words: int = MAX_SHORT_WORDS) -> bool:
    """A phrase of at most `max_words` words, or one whose words are mostly single letters
    (a spelled code or word: "c l o u d", "cloud c l o u d")."""
    words = text.split()
    if not words:
        return False
    letters = sum(len(w) == 1 for w in words)
    return len(words) <= max_words or letters * 2 >= len(words)


def short_or_spelled(records: list[Record], max_words: int = MAX_SHORT_WORDS) -> list[Record]:
    return [r for r in records if is_short_or_spelled(r.text, max_words)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.corpus.subset", description=__doc__)
    p.add_argument("manifest", type=Path, help="a corpus manifest (JSONL)")
    p.add_argument(
        "--out", type=Path, required=True, help="the subset, beside the manifest (paths stay valid)"
    )
    p.add_argument("--max-words", type=int, default=MAX_SHORT_WORDS, help="%(default)s")
    args = p.parse_args(argv)
    if args.out.resolve().parent != args.manifest.resolve().parent:
        p.error("--out must be in the manifest's folder: its audio paths are relative to it")
    records = read_manifest(args.manifest)
    chosen = short_or_spelled(records, args.max_words)
    write_manifest(args.out, chosen)
    print(
        f"{args.out}: {len(chosen)} of {len(records)} utterances, {total_hours(chosen):.2f} h",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
