"""Augmentation invariants: lengths, achieved SNR, telephone band, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from train.corpus import augment as A

SR = A.SAMPLE_RATE


def harmonic(f0: float, seconds: float = 1.0) -> np.ndarray:
    """A voiced-like signal: harmonics of f0 up to 4 kHz with falling amplitude."""
    t = np.arange(int(seconds * SR)) / SR
    k = np.arange(1, int(4000 / f0))[:, None]
    x = np.sum(np.sin(2 * np.pi * k * f0 * t) / k, axis=0)
    return np.asarray(0.3 * x / np.max(np.abs(x)), dtype=np.float32)


def f0_of(x: np.ndarray) -> float:
    """Fundamental frequency (60-400 Hz): the first autocorrelation peak near the maximum."""
    x = x[SR // 10 : -SR // 10] - np.mean(x)
    n = 4000
    lags = np.arange(SR // 400, SR // 60 + 1)
    ac = np.array([np.dot(x[:n], x[lag : lag + n]) for lag in lags])
    above = np.flatnonzero(ac > 0.9 * ac.max())
    first = above[0]
    while first + 1 < len(ac) and ac[first + 1] > ac[first]:
        first += 1  # climb to the top of the first peak
    return SR / float(lags[first])


def band_energy(x: np.ndarray, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / SR)
    return float(spec[(f >= lo) & (f < hi)].sum())


@pytest.mark.parametrize("factor", [0.9, 1.0, 1.1])
def test_speed_and_tempo_lengths(factor: float) -> None:
    x = harmonic(150)
    assert len(A.speed(x, factor)) == round(len(x) / factor)
    assert len(A.tempo(x, factor)) == round(len(x) / factor)


def test_speed_moves_pitch_tempo_keeps_it() -> None:
    x = harmonic(150)
    assert f0_of(A.speed(x, 1.1)) == pytest.approx(165, rel=0.03)
    assert f0_of(A.tempo(x, 1.1)) == pytest.approx(150, rel=0.03)


def test_pitch_shift_keeps_length_and_moves_f0() -> None:
    x = harmonic(150)
    y = A.pitch_shift(x, 3.0)
    assert len(y) == len(x)
    assert f0_of(y) == pytest.approx(150 * 2 ** (3 / 12), rel=0.03)


def test_formant_shift_keeps_length_and_pitch_moves_spectrum_up() -> None:
    x = harmonic(150)
    y = A.formant_shift(x, 1.12)
    assert len(y) == len(x)
    assert f0_of(y) == pytest.approx(150, rel=0.03)
    centroid = [
        float(np.sum(np.fft.rfftfreq(len(s), 1 / SR) * np.abs(np.fft.rfft(s)) ** 2))
        / float(np.sum(np.abs(np.fft.rfft(s)) ** 2))
        for s in (x, y)
    ]
    assert centroid[1] > centroid[0] * 1.03


@pytest.mark.parametrize("color", ["white", "pink", "brown", "recorded"])
@pytest.mark.parametrize("snr_db", [5.0, 17.5, 30.0])
def test_add_noise_achieves_snr(color: str, snr_db: float) -> None:
    rng = np.random.default_rng(0)
    x = harmonic(120, 2.0)
    if color == "recorded":
        noise = A.noise_excerpt(rng.standard_normal(3000).astype(np.float32), len(x), rng)
    else:
        noise = A.colored_noise(len(x), rng, A.NOISE_COLORS[color])
    y = A.add_noise(x, noise, snr_db)
    achieved = 10 * np.log10(A.power(x) / A.power(y - x))
    assert abs(achieved - snr_db) < 0.5


def test_colored_noise_slopes() -> None:
    rng = np.random.default_rng(1)
    for color, more_low in (("white", False), ("pink", True), ("brown", True)):
        n = A.colored_noise(SR * 2, rng, A.NOISE_COLORS[color])
        ratio = band_energy(n, 100, 1000) / band_energy(n, 1000, 1900)  # equal widths
        assert (ratio > 3) is more_low, color


@pytest.mark.parametrize("mu_law", [False, True])
def test_telephone_removes_energy_above_4k(mu_law: bool) -> None:
    x = A.colored_noise(SR, np.random.default_rng(2), 0.0) * 0.1
    y = A.telephone(x, use_mu_law=mu_law)
    assert len(y) == len(x)
    assert band_energy(y, 4000, 8000) < 1e-3 * band_energy(x, 4000, 8000)
    assert band_energy(y, 500, 3000) > 0.3 * band_energy(x, 500, 3000)
    assert band_energy(y, 0, 150) < 0.05 * band_energy(x, 0, 150)


def test_reverb_keeps_length_and_power_and_decays() -> None:
    rng = np.random.default_rng(3)
    rir = A.room_impulse_response(rng, rt60=0.5, drr_db=5.0)
    assert rir[0] == 1.0
    tail = rir[int(0.4 * SR) :]
    head = rir[1 : int(0.1 * SR)]
    assert np.sum(tail**2) < 0.05 * np.sum(head**2)
    x = harmonic(150)
    y = A.reverberate(x, rir)
    assert len(y) == len(x)
    assert A.power(y) == pytest.approx(A.power(x), rel=1e-3)


def test_gain_and_limit() -> None:
    x = harmonic(150)
    assert np.max(np.abs(A.gain(x, 6.0))) == pytest.approx(np.max(np.abs(x)) * 10**0.3, 1e-5)
    assert np.max(np.abs(A.limit(x * 10))) == pytest.approx(0.99, 1e-5)
    np.testing.assert_array_equal(A.limit(x), x)


def test_random_chain_is_deterministic_and_safe() -> None:
    x = harmonic(150, 1.5)
    noise = [A.colored_noise(5000, np.random.default_rng(4), 1.0)]
    for seed in range(12):
        y1, steps1 = A.random_chain(x, np.random.default_rng(seed), noise)
        y2, steps2 = A.random_chain(x, np.random.default_rng(seed), noise)
        np.testing.assert_array_equal(y1, y2)
        assert steps1 == steps2 and steps1
        assert y1.dtype == np.float32 and np.all(np.isfinite(y1))
        assert np.max(np.abs(y1)) <= 0.99 + 1e-6
        assert 0.85 * len(x) < len(y1) < 1.15 * len(x)


def test_bad_parameters_are_refused() -> None:
    x = harmonic(150)
    with pytest.raises(ValueError, match="speed factor"):
        A.speed(x, 0.0)
    with pytest.raises(ValueError, match="formant factor"):
        A.formant_shift(x, 3.0)
    with pytest.raises(ValueError, match="noise has"):
        A.add_noise(x, x[:10], 10.0)
