"""What the trained-model tests say, and how close the transcript must come."""

from __future__ import annotations

import jiwer

SPOKEN = "the weather is nice today"
# The bundled model spells by sound on unseen audio: over 40 alignments of the espeak-ng
# sentence, greedy reads 16-24% ("the wether is niceter day" 20%), beam + LM 8-32% ("the
# weather is nice" 24%; the previous model's beam reached 32% on 5 of them, this one on 2).
# No transcript, or one of the wrong sentence, is far above this.
MAX_CER = 0.3


def assert_heard(text: str, spoken: str = SPOKEN, context: str = "") -> None:
    """The recognized text is the spoken sentence, up to MAX_CER character errors; `context`
    (what led to the text) goes into the failure message."""
    cer = jiwer.cer(spoken, text.strip()) if text.strip() else 1.0
    assert cer <= MAX_CER, f"heard {text!r} for {spoken!r}: CER {cer:.0%}{context}"
