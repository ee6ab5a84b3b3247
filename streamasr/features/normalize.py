"""Global mean/variance normalisation that travels with the model.

Statistics are accumulated once over the training corpus and stored in the artifact, so
normalising a frame never needs the future of the stream (unlike per-utterance CMVN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class FeatureStats:
    mean: FloatArray  # [dim] per-feature mean over the training corpus
    std: FloatArray  # [dim] per-feature standard deviation, floored

    def __post_init__(self) -> None:
        if self.mean.shape != self.std.shape or self.mean.ndim != 1:
            raise ValueError(f"mean {self.mean.shape} and std {self.std.shape} must be equal 1-D")
        if not np.all(self.std > 0):
            raise ValueError("std must be positive everywhere")

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @staticmethod
    def identity(dim: int) -> FeatureStats:
        return FeatureStats(np.zeros(dim, np.float32), np.ones(dim, np.float32))

    def apply(self, frames: FloatArray) -> FloatArray:
        return ((frames - self.mean) / self.std).astype(np.float32)


@dataclass
class StatsAccumulator:
    """Running sums in float64: exact enough over hundreds of hours of frames."""

    count: int
    total: npt.NDArray[np.float64]
    total_sq: npt.NDArray[np.float64]

    @staticmethod
    def empty(dim: int) -> StatsAccumulator:
        return StatsAccumulator(0, np.zeros(dim), np.zeros(dim))

    def add(self, frames: FloatArray) -> None:
        f = frames.astype(np.float64)
        self.count += f.shape[0]
        self.total += f.sum(axis=0)
        self.total_sq += (f * f).sum(axis=0)

    def finish(self, std_floor: float = 1e-3) -> FeatureStats:
        if self.count == 0:
            raise ValueError("no frames were accumulated")
        mean = self.total / self.count
        var = np.maximum(self.total_sq / self.count - mean * mean, 0.0)
        std = np.maximum(np.sqrt(var), std_floor)
        return FeatureStats(mean.astype(np.float32), std.astype(np.float32))
