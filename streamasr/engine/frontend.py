"""One stream's path from raw samples to model-ready frames.

resample -> chunked features -> global normalisation -> frames grouped into whole model
steps (``frames_per_step`` each). The remainder waits for the next chunk, so however the
audio is cut, the model sees the same frames.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from streamasr.audio.resample import StreamResampler
from streamasr.constants import SAMPLE_RATE
from streamasr.features import compiled, mfcc
from streamasr.features.normalize import FeatureStats

FloatArray = npt.NDArray[np.float32]


class Frontend:
    def __init__(
        self,
        features: mfcc.FeatureConfig,
        stats: FeatureStats,
        frames_per_step: int,
        sample_rate: int = SAMPLE_RATE,
    ) -> None:
        if stats.dim != features.dim:
            raise ValueError(f"statistics have dim {stats.dim}, features {features.dim}")
        self.features = features
        self.stats = stats
        self.frames_per_step = frames_per_step
        self.resampler = StreamResampler(sample_rate)
        self._extractor = mfcc.init_state()
        self._frames = np.zeros((0, features.dim), np.float32)
        self.input_samples = 0  # samples received at the client's rate

    def push(self, samples: FloatArray) -> FloatArray:
        """Accept samples at the stream's rate; return normalised frames [k * fps, dim]."""
        return self.take(self._features(self.windows(samples)))

    def flush(self) -> FloatArray:
        """End of input: every remaining sample lands in a frame, and the last partial step
        is padded with mean frames (zeros after normalisation)."""
        return self.take(self._features(self.flush_windows()), final=True)

    # The two halves of push/flush, for callers that compute the features of many streams
    # in one call (compiled.for_config) between them: windows -> features -> take.
    def windows(self, samples: FloatArray) -> FloatArray:
        """Accept samples at the stream's rate; return the windows of the new frames."""
        self.input_samples += int(np.asarray(samples).size)
        return self._windows_of(self.resampler.push(samples))

    def flush_windows(self) -> FloatArray:
        """End of input: drain the resampler and pad with zeros so that every sample lies in
        a window; return the windows of the last frames."""
        tail = self._windows_of(self.resampler.flush())
        pad = mfcc.samples_to_flush(self._extractor)
        if not pad:
            return tail
        return np.concatenate([tail, self._windows_of(np.zeros(pad, np.float32))])

    def take(self, features: FloatArray, final: bool = False) -> FloatArray:
        """Raw features of this stream's new frames -> normalised frames in whole model steps
        (the remainder waits for the next call; ``final`` pads it with mean frames)."""
        pending = np.concatenate([self._frames, self.stats.apply(features)])
        if final and pending.shape[0] % self.frames_per_step:
            short = self.frames_per_step - pending.shape[0] % self.frames_per_step
            pending = np.concatenate([pending, np.zeros((short, self.features.dim), np.float32)])
        usable = pending.shape[0] - pending.shape[0] % self.frames_per_step
        self._frames = pending[usable:]
        return pending[:usable]

    def _windows_of(self, samples_16k: FloatArray) -> FloatArray:
        self._extractor, framed = mfcc.windows(
            self._extractor, samples_16k, self.features.preemphasis
        )
        return framed

    def _features(self, framed: FloatArray) -> FloatArray:
        # The compiled extractor the batcher runs for many streams at once, so a stream
        # alone (offline, microphone) sees exactly the frames it would see in a batch.
        return compiled.for_config(self.features)(framed)
