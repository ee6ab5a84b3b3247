"""Band limiting on normalised log-mel features: what a telephone leaves of full-band speech."""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from streamasr.features import mfcc
from tests.train.feature_batches import CONFIG, STATS, batch_of
from train.__main__ import main as train_main
from train.configs.default import get_smoke_config
from train.data import NATS_PER_DB, band_limit

CENTRES = mfcc.band_edges_hz(CONFIG.n_mels, CONFIG.fmin, CONFIG.fmax)[1:-1]


def test_the_cut_bands_hold_what_an_8khz_round_trip_leaves() -> None:
    """Bands above 7 kHz are cut whatever the draw; what they hold is within 10 dB of what
    a real 8 kHz round trip (soxr, as the daemon resamples) leaves there, far from the
    full-band values."""
    audio = (np.random.default_rng(0).standard_normal(32000) * 0.1).astype(np.float32)
    full = mfcc.extract_all(CONFIG, audio)
    narrow = soxr.resample(soxr.resample(audio, 16000, 8000), 8000, 16000).astype(np.float32)
    real = mfcc.extract_all(CONFIG, narrow)[: full.shape[0]].mean(axis=0)
    frames = np.stack([STATS.apply(full)] * 8)
    out = band_limit(batch_of(frames, np.zeros(frames.shape[:2], np.float32)),
                     np.random.default_rng(1), STATS, CONFIG, 1.0)  # fmt: skip
    top = CENTRES > 7000.0
    for row in range(8):
        emulated = (out.frames[row] * STATS.std + STATS.mean).mean(axis=0)
        gap_db = (emulated - real)[top] / NATS_PER_DB
        assert np.abs(gap_db).max() < 10.0, gap_db
    assert ((full.mean(axis=0) - real)[top] / NATS_PER_DB).min() > 30.0  # a real cut is deep


def test_passband_padding_and_share() -> None:
    rng = np.random.default_rng(2)
    frames = rng.standard_normal((64, 40, CONFIG.n_mels)).astype(np.float32)
    paddings = np.zeros((64, 40), np.float32)
    paddings[3, 25:] = 1.0
    frames[3, 25:] = 0.0
    batch = batch_of(frames, paddings)
    np.testing.assert_array_equal(band_limit(batch, rng, STATS, CONFIG, 0.0).frames, frames)
    out = band_limit(batch, np.random.default_rng(3), STATS, CONFIG, 1.0).frames
    np.testing.assert_array_equal(frames, batch.frames)  # the input batch is not modified
    passband = (CENTRES > 300.0) & (CENTRES < 3400.0)
    np.testing.assert_array_equal(out[:, :, passband], frames[:, :, passband])
    assert np.all(out[3, 25:] == 0.0)  # padding stays silent
    assert np.all(out[:, :25, -1] != frames[:, :25, -1])  # every utterance cut at the top
    floor = (np.log(mfcc.LOG_FLOOR) - STATS.mean) / STATS.std
    assert np.all(out >= np.minimum(frames, floor) - 1e-5)
    # Most cutoffs are a telephone's: the band at 5 kHz is cut in most utterances, not all.
    at_5k = int(np.argmin(np.abs(CENTRES - 5000.0)))
    changed = np.mean(np.any(out[:, :, at_5k] != frames[:, :, at_5k], axis=1))
    assert 0.6 < changed < 1.0
    half = band_limit(batch, np.random.default_rng(4), STATS, CONFIG, 0.5).frames
    assert 0.25 < np.mean(np.any(half != frames, axis=(1, 2))) < 0.75


def test_an_impossible_share_is_refused_before_training(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert train_main(["--band-limit", "-0.1", "--steps", "1"]) == 2
    assert "band_limit" in capsys.readouterr().err
    with pytest.raises(ValueError, match="band_limit"):
        get_smoke_config().replace(band_limit=1.5)
