"""One stream's path from raw samples to model-ready frames.

resample -> chunked features -> global normalisation -> frames grouped into whole model
steps (``frames_per_step`` each). The remainder waits for the next chunk, so however the
audio is cut, the model sees the same frames.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from streamasr.audio.resample import StreamResampler
from streamasr.features import mfcc
from streamasr.features.normalize import FeatureStats

FloatArray = npt.NDArray[np.float32]


class Frontend:
    def __init__(
        self,
        features: mfcc.FeatureConfig,
        stats: FeatureStats,
        frames_per_step: int,
        sample_rate: int = mfcc.SAMPLE_RATE,
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
        self.input_samples += int(np.asarray(samples).size)
        return self._frames_from(self.resampler.push(samples))

    def flush(self) -> FloatArray:
        """End of input: drain the resampler, pad so every sample lands in a frame, and pad
        the last partial step with mean frames (zeros after normalisation)."""
        tail = self.resampler.flush()
        frames = self._frames_from(tail)
        pad = mfcc.samples_to_flush(self._extractor)
        if pad:
            frames = np.concatenate([frames, self._frames_from(np.zeros(pad, np.float32))])
        leftover = self._frames.shape[0]
        if leftover:
            filler = np.zeros((self.frames_per_step - leftover, self.features.dim), np.float32)
            frames = np.concatenate([frames, self._frames, filler])
            self._frames = self._frames[:0]
        return frames

    def _frames_from(self, samples_16k: FloatArray) -> FloatArray:
        self._extractor, new = mfcc.extract(self.features, self._extractor, samples_16k)
        pending = np.concatenate([self._frames, self.stats.apply(new)])
        usable = pending.shape[0] - pending.shape[0] % self.frames_per_step
        self._frames = pending[usable:]
        return pending[:usable]
