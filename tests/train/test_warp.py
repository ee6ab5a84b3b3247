"""VTLP on log-mel features: formants move by the drawn factor, nothing else changes."""

from __future__ import annotations

import numpy as np
import pytest

from streamasr.features import mfcc
from streamasr.features.mfcc import FeatureConfig
from train.__main__ import main as train_main
from train.configs.default import get_smoke_config
from train.data import Batch, frequency_warp, warp_positions

CONFIG = FeatureConfig()
CENTRES = mfcc.band_edges_hz(CONFIG.n_mels, CONFIG.fmin, CONFIG.fmax)[1:-1]


def bump(band: int) -> np.ndarray:
    """A log-mel frame with one formant-like peak centred on `band`."""
    bands = np.arange(CONFIG.n_mels)
    return np.exp(-0.5 * ((bands - band) / 1.5) ** 2).astype(np.float32)


def warped(frame: np.ndarray, alpha: float) -> np.ndarray:
    position = warp_positions(CONFIG, alpha)
    return np.interp(position, np.arange(CONFIG.n_mels), frame)


def test_no_warp_is_the_identity() -> None:
    np.testing.assert_allclose(warp_positions(CONFIG, 1.0), np.arange(CONFIG.n_mels), atol=1e-9)


@pytest.mark.parametrize("alpha", [0.9, 1.1, 1.2])
@pytest.mark.parametrize("band", [20, 40, 60])
def test_a_formant_moves_to_alpha_times_its_frequency(band: int, alpha: float) -> None:
    peak = int(np.argmax(warped(bump(band), alpha)))
    expected = int(np.argmin(np.abs(CENTRES - alpha * CENTRES[band])))
    assert expected != band  # the warp is large enough to move it
    assert abs(peak - expected) <= 1


def test_batch_rows_get_their_own_factor_and_padding_stays_silent() -> None:
    frames = np.stack([np.tile(bump(40), (10, 1))] * 4)
    frames[:, 7:] = 0.0  # padding
    paddings = np.zeros((4, 10), np.float32)
    paddings[:, 7:] = 1.0
    batch = Batch(frames, paddings, np.ones((4, 3), np.int32), np.zeros((4, 3)), np.arange(4))
    out = frequency_warp(batch, np.random.default_rng(0), CONFIG, 0.2)
    peaks = {int(np.argmax(out.frames[row, 0])) for row in range(4)}
    assert len(peaks) > 1  # four rows, not one shared factor
    assert np.all(out.frames[:, 7:] == 0.0)
    assert out.frame_paddings is batch.frame_paddings and out.labels is batch.labels
    np.testing.assert_array_equal(batch.frames, frames)  # the input is not modified
    again = frequency_warp(batch, np.random.default_rng(0), CONFIG, 0.2)
    np.testing.assert_array_equal(out.frames, again.frames)  # seeded


def test_mfcc_features_cannot_be_warped() -> None:
    with pytest.raises(ValueError, match="log-mel"):
        warp_positions(FeatureConfig(n_mfcc=13), 1.1)


def test_an_impossible_warp_is_refused_before_training(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(ValueError, match="vtlp"):
        get_smoke_config().replace(vtlp=0.7)
    assert train_main(["--vtlp", "0.7", "--steps", "1"]) == 2
    assert "vtlp must be in [0, 0.5), got 0.7" in capsys.readouterr().err
