"""Reading audio files (WAV, FLAC, OGG, ... via soundfile/libsndfile)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soundfile as sf


class AudioFileError(ValueError):
    """An audio file that cannot be recognized; the message says why, in one line."""


@dataclass(frozen=True)
class Audio:
    samples: npt.NDArray[np.float32]  # [n] mono, float in [-1, 1]
    sample_rate: int

    @property
    def duration(self) -> float:
        return self.samples.size / self.sample_rate


def read_audio(path: str | os.PathLike[str]) -> Audio:
    """Read a mono audio file at its native rate. Multi-channel and empty files are errors:
    silently mixing channels down could hide a wrong file."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise AudioFileError(f"{name}: no such file")
    if os.path.isdir(name):
        raise AudioFileError(f"{name}: is a directory, not an audio file")
    try:
        data, rate = sf.read(name, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise AudioFileError(f"{name}: unreadable audio ({e})") from e
    if data.shape[1] != 1:
        raise AudioFileError(f"{name}: has {data.shape[1]} channels; streamasr needs mono audio")
    if data.shape[0] == 0:
        raise AudioFileError(f"{name}: contains no audio samples")
    return Audio(np.ascontiguousarray(data[:, 0]), int(rate))
