"""What the trained-model tests say, and how close the transcript must come."""

from __future__ import annotations

import jiwer

SPOKEN = "the weather is nice today"
# The bundled model spells by sound on unseen audio: greedy "the wether is niceter day" is 20%,
# beam + LM "the whether is nicest" 28% (2026-12-02, espeak-ng). No transcript, or one of the
# wrong sentence, is far above this.
MAX_CER = 0.3


def assert_heard(text: str, spoken: str = SPOKEN, context: str = "") -> None:
    """The recognized text is the spoken sentence, up to MAX_CER character errors; `context`
    (what led to the text) goes into the failure message."""
    cer = jiwer.cer(spoken, text.strip()) if text.strip() else 1.0
    assert cer <= MAX_CER, f"heard {text!r} for {spoken!r}: CER {cer:.0%}{context}"
