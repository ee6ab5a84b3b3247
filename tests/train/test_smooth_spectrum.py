"""Spectral smoothing on normalised log-mel features: a voice's harmonics go, its envelope
stays."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from streamasr.features import mfcc
from tests.train.feature_batches import CONFIG, STATS, batch_of
from train.data import smooth_spectrum


def _voiced_speech(speak: Callable[[str], Path]) -> np.ndarray:
    audio, rate = sf.read(speak("a rainy morning in may"), dtype="float32")
    assert rate == 22050
    samples = np.interp(np.arange(0, audio.size, rate / 16000), np.arange(audio.size), audio)
    return mfcc.extract_all(CONFIG, samples.astype(np.float32))


def _ripple(raw: np.ndarray) -> float:
    """Mean squared band-to-band second difference below 1 kHz: the harmonics' comb."""
    low = raw[:, : int(np.searchsorted(mfcc.band_edges_hz(80, 20, 7600)[1:-1], 1000.0))]
    return float(np.mean(np.diff(low, 2, axis=1) ** 2))


def test_harmonics_go_and_the_envelope_stays(speak: Callable[[str], Path]) -> None:
    raw = _voiced_speech(speak)
    loud = raw.mean(axis=1) > np.percentile(raw.mean(axis=1), 50)  # the voiced half
    frames = STATS.apply(raw)[None]
    out = smooth_spectrum(batch_of(frames, np.zeros(frames.shape[:2], np.float32)),
                          np.random.default_rng(0), STATS, 1.0)  # fmt: skip
    smoothed = out.frames[0] * STATS.std + STATS.mean
    assert _ripple(smoothed[loud]) < 0.2 * _ripple(raw[loud])
    # The envelope: means over eight-band groups move by well under the ripple's size.
    groups = lambda x: x.reshape(x.shape[0], 10, 8).mean(axis=2)  # noqa: E731
    assert np.abs(groups(smoothed[loud]) - groups(raw[loud])).mean() < 0.5


def test_a_share_of_utterances_and_never_the_padding() -> None:
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(200, 30, CONFIG.n_mels)).astype(np.float32)
    paddings = np.zeros((200, 30), np.float32)
    paddings[:, 20:] = 1.0
    out = smooth_spectrum(batch_of(frames, paddings), np.random.default_rng(1), STATS, 0.3)
    changed = np.any(out.frames != frames, axis=(1, 2))
    assert 40 <= changed.sum() <= 80
    np.testing.assert_array_equal(out.frames[:, 20:], frames[:, 20:])
    same = smooth_spectrum(batch_of(frames, paddings), np.random.default_rng(1), STATS, 0.0)
    np.testing.assert_array_equal(same.frames, frames)
