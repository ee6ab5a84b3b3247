"""One stream, start to finish: frontend -> step -> decoder (greedy unless given another).

Used by the CLI and by evaluation, so offline figures come from the very code path the
daemon runs (the daemon batches the step across streams but shares everything else).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from streamasr.constants import SAMPLE_RATE
from streamasr.decode.factory import Decoder
from streamasr.decode.greedy import GreedyDecoder
from streamasr.decode.hypothesis import Hypothesis
from streamasr.decode.segmenter import Best
from streamasr.engine.frontend import Frontend
from streamasr.engine.recognizer import Recognizer


class Stream:
    def __init__(
        self,
        recognizer: Recognizer,
        sample_rate: int = SAMPLE_RATE,
        decoder: Decoder | None = None,
    ) -> None:
        self.recognizer = recognizer
        art = recognizer.artifact
        self.frontend = Frontend(art.features, art.stats, recognizer.frames_per_step, sample_rate)
        self.decoder: Decoder = decoder or GreedyDecoder(
            recognizer.frame_seconds, recognizer.endpoint
        )
        self._state = recognizer.init_state(1)
        self.finished = False

    def accept(self, samples: npt.NDArray[np.float32]) -> list[Hypothesis]:
        """Feed float samples at the stream's rate. Returns the finals of every utterance
        an endpoint closed, then the current partial."""
        if self.finished:
            raise RuntimeError("stream already finished")
        finals = self._decode(self.frontend.push(samples))
        return [*finals, self.decoder.partial()]

    def finish(self) -> list[Hypothesis]:
        """End of input: returns the remaining finals; the last one is the end-of-input final."""
        if self.finished:
            raise RuntimeError("stream already finished")
        finals = self._decode(self.frontend.flush())
        self.finished = True
        return [*finals, self.decoder.finalize()]

    def force_final(self) -> Hypothesis:
        """Close the current utterance now (push-to-talk release) and go on streaming."""
        return self.decoder.finalize()

    def _decode(self, frames: npt.NDArray[np.float32]) -> list[Hypothesis]:
        if frames.shape[0] == 0:
            return []
        log_probs, self._state = self.recognizer.run(self._state, frames[None])
        return decode_frames(self.decoder, log_probs[0])


def decode_frames(
    decoder: Decoder, log_probs: npt.NDArray[np.float32], best: Best | None = None
) -> list[Hypothesis]:
    """Feed frames to a decoder, finalising at each endpoint; returns those finals.
    ``best``: the frames' best symbols and their log-probs, if computed already."""
    finals = []
    start = 0
    while start < log_probs.shape[0]:
        rest = None if best is None else (best[0][start:], best[1][start:])
        consumed, endpoint = decoder.advance(log_probs[start:], rest)
        start += consumed
        if endpoint:
            finals.append(decoder.finalize(endpoint=True))
    return finals
