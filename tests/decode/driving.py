"""Driving a decoder over log-probs the way the engine does, for the decoder tests."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from streamasr.decode.factory import Decoder
from streamasr.decode.hypothesis import Hypothesis


def finals_in_chunks(
    decoder: Decoder, log_probs: npt.NDArray[np.float32], step: int
) -> list[Hypothesis]:
    """Feed ``log_probs`` in chunks of ``step`` frames, finalising at every endpoint as the
    engine does, then flush: every final, the last one included."""
    out: list[Hypothesis] = []
    for start in range(0, log_probs.shape[0], step):
        chunk = log_probs[start : start + step]
        done = 0
        while done < chunk.shape[0]:
            consumed, endpoint = decoder.advance(chunk[done:])
            done += consumed
            if endpoint:
                out.append(decoder.finalize(endpoint=True))
    return [*out, decoder.finalize()]
