"""Channel EQ on normalised log-mel features: one smooth gain curve per utterance."""

from __future__ import annotations

import numpy as np
import pytest

from streamasr.features import mfcc
from streamasr.features.mfcc import FeatureConfig
from streamasr.features.normalize import FeatureStats
from train.__main__ import main as train_main
from train.configs.default import get_smoke_config
from train.data import NATS_PER_DB, Batch, channel_curve_db, channel_eq

BANDS = 80


def test_curves_are_bounded_smooth_seeded_and_varied() -> None:
    rng = np.random.default_rng(0)
    curves = np.stack([channel_curve_db(BANDS, rng, 6.0) for _ in range(200)])
    assert np.abs(curves).max() <= 6.0 + 1e-9
    # Smooth: four cosine terms over 80 bands cannot move more than ~0.6 dB per band at 6 dB.
    assert np.abs(np.diff(curves, axis=1)).max() < 1.0
    # Varied: peaks spread over [0, 6] dB and the shapes differ (not one tilt rescaled).
    peaks = np.abs(curves).max(axis=1)
    assert peaks.min() < 1.0 and peaks.max() > 5.0
    shapes = curves / peaks[:, None]
    assert np.corrcoef(shapes).min() < -0.5
    again = np.random.default_rng(0)
    np.testing.assert_array_equal(curves[0], channel_curve_db(BANDS, again, 6.0))


def test_a_real_filter_is_the_shift_the_features_see() -> None:
    """A gain curve applied to the waveform's spectrum shows up in log-mel as the curve
    converted to nats, which is what channel_eq adds (before normalisation's scaling)."""
    config = FeatureConfig()
    rng = np.random.default_rng(1)
    audio = rng.standard_normal(16000).astype(np.float32) * 0.1
    curve_db = channel_curve_db(config.n_mels, np.random.default_rng(2), 6.0)
    centres = mfcc.band_edges_hz(config.n_mels, config.fmin, config.fmax)[1:-1]
    freqs = np.fft.rfftfreq(len(audio), 1 / 16000)
    gain_db = np.interp(freqs, centres, curve_db)
    filtered = np.fft.irfft(np.fft.rfft(audio) * 10 ** (gain_db / 20), n=len(audio))
    before = mfcc.extract_all(config, audio).mean(axis=0)
    after = mfcc.extract_all(config, filtered.astype(np.float32)).mean(axis=0)
    inner = slice(5, config.n_mels - 5)  # the interpolated gain is exact away from the edges
    np.testing.assert_allclose((after - before)[inner], (curve_db * NATS_PER_DB)[inner], atol=0.1)


def test_each_utterance_gets_one_constant_curve_and_padding_stays_silent() -> None:
    frames = np.random.default_rng(3).standard_normal((3, 50, BANDS)).astype(np.float32)
    paddings = np.zeros((3, 50), np.float32)
    paddings[1, 30:] = 1.0
    frames[1, 30:] = 0.0
    labels, label_paddings = np.zeros((3, 4), np.int32), np.ones((3, 4), np.float32)
    batch = Batch(frames, paddings, labels, label_paddings, np.arange(3))
    stats = FeatureStats(np.zeros(BANDS, np.float32), np.full(BANDS, 2.0, np.float32))
    out = channel_eq(batch, np.random.default_rng(4), stats, 10.0)
    shift = out.frames - frames
    for row, valid in ((0, 50), (1, 30), (2, 50)):
        np.testing.assert_allclose(shift[row, :valid], shift[row, :1].repeat(valid, 0), atol=1e-5)
        assert np.abs(shift[row, 0]).max() <= 10.0 * NATS_PER_DB / 2.0 + 1e-5
    assert np.all(out.frames[1, 30:] == 0.0)
    assert not np.allclose(shift[0, 0], shift[2, 0])  # a different channel per utterance
    np.testing.assert_array_equal(frames, batch.frames)  # the input batch is not modified


def test_an_impossible_eq_is_refused_before_training(capsys: pytest.CaptureFixture[str]) -> None:
    assert train_main(["--channel-eq", "-3", "--steps", "1"]) == 2
    assert "channel_eq_db" in capsys.readouterr().err
    with pytest.raises(ValueError, match="channel_eq_db"):
        get_smoke_config().replace(channel_eq_db=50.0)
