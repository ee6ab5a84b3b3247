from __future__ import annotations

import numpy as np
import pytest

from streamasr.features.normalize import FeatureStats, StatsAccumulator


def test_accumulated_stats_match_numpy_and_normalise_to_unit_variance() -> None:
    rng = np.random.default_rng(1)
    chunks = [rng.normal(3.0, 2.0, (n, 5)).astype(np.float32) for n in (10, 200, 37)]
    acc = StatsAccumulator.empty(5)
    for c in chunks:
        acc.add(c)
    stats = acc.finish()
    everything = np.concatenate(chunks)
    np.testing.assert_allclose(stats.mean, everything.mean(0), rtol=1e-5)
    np.testing.assert_allclose(stats.std, everything.std(0), rtol=1e-4)
    normalised = stats.apply(everything)
    np.testing.assert_allclose(normalised.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(normalised.std(0), 1, atol=1e-4)


def test_normalising_a_frame_does_not_depend_on_other_frames() -> None:
    stats = FeatureStats(np.ones(3, np.float32), np.full(3, 2.0, np.float32))
    frames = np.arange(12, dtype=np.float32).reshape(4, 3)
    whole = stats.apply(frames)
    one_by_one = np.concatenate([stats.apply(frames[i : i + 1]) for i in range(4)])
    np.testing.assert_array_equal(whole, one_by_one)


def test_invalid_stats_are_rejected() -> None:
    with pytest.raises(ValueError):
        FeatureStats(np.zeros(3, np.float32), np.zeros(3, np.float32))
    with pytest.raises(ValueError):
        StatsAccumulator.empty(3).finish()
