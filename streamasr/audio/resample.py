"""Streaming resampling of any input rate to the model's 16 kHz.

Uses python-soxr (libsoxr's high-quality polyphase resampler): well kept, fast, and its
``ResampleStream`` carries filter state across chunks, so a stream resampled chunk by chunk
equals the whole signal resampled at once. 8 kHz telephone audio is the common case.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

from streamasr.constants import SAMPLE_RATE

MIN_RATE = 4_000
MAX_RATE = 192_000

FloatArray = npt.NDArray[np.float32]


def check_rate(rate: float) -> int:
    """Validate a client-supplied sample rate; returns it as an int."""
    if not isinstance(rate, int | float) or isinstance(rate, bool) or rate != rate:
        raise ValueError(f"sample rate must be a number, got {rate!r}")
    if not MIN_RATE <= rate <= MAX_RATE or int(rate) != rate:
        raise ValueError(
            f"sample rate must be a whole number of Hz in [{MIN_RATE}, {MAX_RATE}], got {rate}"
        )
    return int(rate)


class StreamResampler:
    """Chunks at ``in_rate`` in, chunks at 16 kHz out; ``flush`` drains the filter at the end."""

    def __init__(self, in_rate: float) -> None:
        self.in_rate = check_rate(in_rate)
        self._stream = (
            None
            if self.in_rate == SAMPLE_RATE
            else soxr.ResampleStream(self.in_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        )

    def push(self, samples: FloatArray) -> FloatArray:
        x = np.ascontiguousarray(samples, dtype=np.float32)
        if self._stream is None:
            return x
        out: FloatArray = self._stream.resample_chunk(x)
        return out

    def flush(self) -> FloatArray:
        if self._stream is None:
            return np.zeros(0, np.float32)
        out: FloatArray = self._stream.resample_chunk(np.zeros(0, np.float32), last=True)
        return out


def resample(samples: FloatArray, in_rate: float) -> FloatArray:
    """Whole-signal resampling to 16 kHz."""
    r = StreamResampler(in_rate)
    return np.concatenate([r.push(samples), r.flush()])
