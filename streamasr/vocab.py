"""The output alphabet of every streamasr model: CTC blank, space, apostrophe, a-z."""

from __future__ import annotations

BLANK = 0
# Index 0 is the CTC blank; the rest are the characters the model spells with.
CHARS: tuple[str, ...] = (" ", "'", *"abcdefghijklmnopqrstuvwxyz")
SYMBOLS: tuple[str, ...] = ("<blank>", *CHARS)
VOCAB_SIZE = len(SYMBOLS)
_INDEX = {c: i for i, c in enumerate(SYMBOLS) if i != BLANK}


def encode(text: str) -> list[int]:
    """Map normalised text to label ids; raises ValueError naming the first bad character."""
    try:
        return [_INDEX[c] for c in text]
    except KeyError as e:
        raise ValueError(f"character {e.args[0]!r} is not in the model alphabet") from e


def decode(ids: list[int]) -> str:
    """Map label ids (no blanks) back to text."""
    return "".join(SYMBOLS[i] for i in ids)
