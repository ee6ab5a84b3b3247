"""The compiled extractor the daemon runs: the numpy reference's features, and each row's
frames the same whatever else shares its call."""

from __future__ import annotations

import numpy as np
import pytest

from streamasr.features import compiled, mfcc

CONFIG = mfcc.FeatureConfig()


def _windows(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    # A tone sweep over noise 60 dB down: bands far below the peak test the float32 FFT.
    x = np.sin(2 * np.pi * (200 + 3000 * t) * t) + 1e-3 * rng.normal(size=t.size)
    return np.ascontiguousarray(
        mfcc.windows(mfcc.init_state(), x.astype(np.float32), CONFIG.preemphasis)[1]
    )


@pytest.mark.parametrize("config", [CONFIG, mfcc.FeatureConfig(n_mels=40, n_mfcc=13)])
def test_features_equal_the_numpy_reference(config: mfcc.FeatureConfig) -> None:
    windows = _windows(2.0)
    ours = compiled.CompiledFeatures(config)(windows)
    assert ours.shape == (windows.shape[0], config.dim) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, mfcc.frames_from_windows(config, windows), atol=2e-3)


def test_a_rows_frames_do_not_depend_on_what_shares_its_call() -> None:
    """Batching must not change a stream's features: any bucket, any neighbours."""
    extract = compiled.CompiledFeatures(CONFIG)
    windows = _windows(1.0)
    alone = extract(windows[:7])
    others = _windows(3.0, seed=1)
    for before in (0, 5, 60, 250):
        mixed = extract(np.concatenate([others[:before], windows[:7], others[before:][:40]]))
        np.testing.assert_array_equal(mixed[before : before + 7], alone)


def test_calls_larger_than_one_program_are_split() -> None:
    extract = compiled.CompiledFeatures(CONFIG)
    windows = np.tile(_windows(1.0), (90, 1))[: compiled.MAX_ROWS + 100]
    out = extract(windows)
    assert out.shape == (compiled.MAX_ROWS + 100, CONFIG.dim)
    np.testing.assert_array_equal(out[-100:], extract(windows[-100:]))


def test_no_windows_no_frames() -> None:
    out = compiled.CompiledFeatures(CONFIG)(np.zeros((0, mfcc.WINDOW_SAMPLES), np.float32))
    assert out.shape == (0, CONFIG.dim)


def test_buckets_cover_every_row_count_with_little_padding() -> None:
    for n in range(1, compiled.MAX_ROWS + 1, 37):
        size = compiled.bucket_rows(n)
        assert n <= size <= max(compiled.MIN_ROWS, int(n * 1.5) + 1)
    with pytest.raises(ValueError):
        compiled.bucket_rows(compiled.MAX_ROWS + 1)
