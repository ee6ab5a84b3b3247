"""One stream's front end: samples in any chunks -> the same normalised frames, in whole
model steps, the last step padded with mean frames."""

from __future__ import annotations

import numpy as np
import pytest

from streamasr.constants import HOP_SAMPLES, SAMPLE_RATE
from streamasr.engine.frontend import Frontend
from streamasr.features.mfcc import FeatureConfig
from streamasr.features.normalize import FeatureStats

FEATURES = FeatureConfig(n_mels=20)
FPS = 4  # frames per model step


def stats(dim: int = 20) -> FeatureStats:
    rng = np.random.default_rng(1)
    return FeatureStats(
        rng.normal(-5, 1, dim).astype(np.float32), rng.uniform(1, 3, dim).astype(np.float32)
    )


def noise(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.1, n).astype(np.float32)


def all_frames(frontend: Frontend, samples: np.ndarray, cuts: list[int]) -> np.ndarray:
    pieces = [frontend.push(part) for part in np.split(samples, cuts)]
    return np.concatenate([*pieces, frontend.flush()])


def test_frames_are_the_same_however_the_audio_is_cut() -> None:
    samples = noise(SAMPLE_RATE)
    whole = all_frames(Frontend(FEATURES, stats(), FPS), samples, [])
    rng = np.random.default_rng(2)
    cuts = sorted(rng.choice(samples.size, 40, replace=False).tolist())
    chunked = all_frames(Frontend(FEATURES, stats(), FPS), samples, cuts)
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-5)


def test_output_comes_in_whole_steps_and_every_sample_lies_in_a_frame() -> None:
    frontend = Frontend(FEATURES, stats(), FPS)
    samples = noise(SAMPLE_RATE // 2 + 77)  # not a whole number of hops
    pushed = [frontend.push(part) for part in np.array_split(samples, 7)]
    pushed.append(frontend.flush())
    assert all(p.shape[0] % FPS == 0 for p in pushed), [p.shape[0] for p in pushed]
    total = np.concatenate(pushed)
    assert total.shape[1] == FEATURES.dim
    needed = -(-samples.size // HOP_SAMPLES)  # frames that the samples' hops start
    assert needed <= total.shape[0] < needed + FPS + 3
    assert frontend.flush().shape[0] == 0  # nothing left over


def test_flush_pads_the_last_step_with_zeros_after_normalisation() -> None:
    frontend = Frontend(FEATURES, stats(), FPS)
    pushed = frontend.push(noise(SAMPLE_RATE // 10))
    flushed = frontend.flush()
    assert flushed.shape[0] == FPS  # one partial step, completed
    assert np.all(pushed != 0)
    padding = np.all(flushed == 0, axis=1)
    assert padding.any() and not padding.all()
    assert padding[-1] and not padding[0]  # padding only at the end


def test_take_normalises_with_the_models_statistics() -> None:
    s = stats()
    frontend = Frontend(FEATURES, s, FPS)
    raw = np.random.default_rng(3).normal(-5, 2, (FPS * 2 + 1, FEATURES.dim)).astype(np.float32)
    out = frontend.take(raw)
    assert out.shape == (FPS * 2, FEATURES.dim)  # the odd frame waits for the next call
    np.testing.assert_allclose(out, (raw[: FPS * 2] - s.mean) / s.std, rtol=1e-6)
    rest = frontend.take(np.zeros((0, FEATURES.dim), np.float32), final=True)
    np.testing.assert_allclose(rest[0], (raw[-1] - s.mean) / s.std, rtol=1e-6)
    assert np.all(rest[1:] == 0)


def test_other_rates_are_resampled_and_counted_at_the_clients_rate() -> None:
    at16k = Frontend(FEATURES, stats(), FPS)
    at8k = Frontend(FEATURES, stats(), FPS, sample_rate=8000)
    n16 = np.concatenate([at16k.push(noise(SAMPLE_RATE)), at16k.flush()]).shape[0]
    n8 = np.concatenate([at8k.push(noise(8000)), at8k.flush()]).shape[0]
    assert at8k.input_samples == 8000 and at16k.input_samples == SAMPLE_RATE
    assert abs(n8 - n16) <= FPS  # one second of audio is one second of frames


def test_statistics_of_another_size_are_refused() -> None:
    with pytest.raises(ValueError, match="dim 13"):
        Frontend(FEATURES, stats(13), FPS)
