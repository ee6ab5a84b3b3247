"""The bookkeeping every streaming decoder shares: the clock, the utterance (segment)
number, and the endpoint rules.

A decoder is a search, log-probabilities in and prefixes out; ``Segmenter.run`` drives it
frame by frame over a chunk, keeps the stream's clock (frames since stream start, so word
times keep counting across utterances), tracks the trailing silence (frames whose best
symbol is the blank, as in ``endpoint.is_endpoint``), and stops the chunk at the first
frame where an endpoint rule fires. Every decoder that uses it cuts utterances at the same
frames, whatever it searches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from streamasr.decode.endpoint import EndpointConfig, is_endpoint
from streamasr.vocab import BLANK, SYMBOLS

# A chunk's best symbol per frame and that symbol's log-prob ([T] ints, [T] floats), when
# the caller has them already: the batched step computes them for every stream in one call.
Best = tuple[npt.NDArray[np.integer[Any]], npt.NDArray[np.floating[Any]]]


def check_log_probs(log_probs: npt.NDArray[np.float32]) -> None:
    """ValueError unless ``log_probs`` is [T, V] over the model's vocabulary."""
    if log_probs.ndim != 2 or log_probs.shape[1] != len(SYMBOLS):
        raise ValueError(f"expected log-probs [T, {len(SYMBOLS)}], got {log_probs.shape}")


def best_of(log_probs: npt.NDArray[np.float32], best: Best | None = None) -> Best:
    """Each frame's best symbol (ties: the lowest id) and its log-prob: ``best`` when given
    (checked against the frames), else computed from ``log_probs``."""
    if best is None:
        ids = np.argmax(log_probs, axis=1)
        return ids, log_probs[np.arange(ids.size), ids]
    frames = log_probs.shape[0]
    if best[0].shape != (frames,) or best[1].shape != (frames,):
        raise ValueError(f"best symbols must be [{frames}], got {best[0].shape}, {best[1].shape}")
    return best


class Segmenter:
    """One stream's clock and endpointing; the decoder that owns it supplies the search."""

    def __init__(self, frame_seconds: float, endpoint: EndpointConfig | None = None) -> None:
        if not frame_seconds > 0:
            raise ValueError(f"frame_seconds must be positive, got {frame_seconds}")
        self.frame_seconds = frame_seconds
        self.endpoint = endpoint or EndpointConfig()
        self.frames = 0  # output frames seen since stream start
        self.segment = 0  # number of the current utterance, from 0
        self._begin()

    def _begin(self) -> None:
        self._utterance_start = self.frames
        self._last_symbol = BLANK  # best symbol of the previous frame
        self._last_emission = self.frames  # frame index after the last emitted symbol

    def run(
        self,
        log_probs: npt.NDArray[np.float32],
        step: Callable[[int], None],
        decoded_anything: Callable[[], bool],
        best: Best | None = None,
    ) -> tuple[int, bool]:
        """Call ``step(i)`` for each frame i of ``log_probs`` [T, V] (while it runs,
        ``frames`` is that frame's index from stream start), up to and including the first
        frame at which an endpoint rule fires. Returns (frames consumed, endpoint fired).
        ``best``: the frames' best symbols, if the caller has them (see ``best_of``)."""
        check_log_probs(log_probs)
        symbols = best_of(log_probs, best)[0].tolist()
        for i, symbol in enumerate(symbols):
            step(i)
            if symbol != BLANK and symbol != self._last_symbol:
                self._last_emission = self.frames + 1
            self._last_symbol = symbol
            self.frames += 1
            if is_endpoint(
                self.endpoint,
                (self.frames - self._utterance_start) * self.frame_seconds,
                (self.frames - self._last_emission) * self.frame_seconds,
                decoded_anything(),
            ):
                return i + 1, True
        return len(symbols), False

    def next_segment(self) -> int:
        """Close the current utterance: returns its number and starts the next one."""
        closed = self.segment
        self.segment += 1
        self._begin()
        return closed


class SegmentedDecoder:
    """The clock side of the Decoder protocol, for every decoder a Segmenter drives: a
    subclass supplies the search (``advance``, ``partial``, ``finalize``)."""

    def __init__(self, frame_seconds: float, endpoint: EndpointConfig | None = None) -> None:
        self.clock = Segmenter(frame_seconds, endpoint)
        self.frame_seconds = frame_seconds
        self.endpoint = self.clock.endpoint

    @property
    def frames(self) -> int:
        """Output frames seen since stream start."""
        return self.clock.frames

    @property
    def segment(self) -> int:
        """Number of the current utterance, from 0."""
        return self.clock.segment
