from __future__ import annotations

import numpy as np
import pytest

from streamasr.audio.resample import StreamResampler, check_rate, resample
from streamasr.features.mfcc import SAMPLE_RATE


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 48000, 16000])
def test_chunked_resampling_equals_whole_and_keeps_duration(rate: int) -> None:
    rng = np.random.default_rng(rate)
    x = rng.normal(0, 0.1, rate).astype(np.float32)  # one second
    whole = resample(x, rate)
    r = StreamResampler(rate)
    pieces = [r.push(x[i : i + 333]) for i in range(0, x.size, 333)] + [r.flush()]
    np.testing.assert_allclose(np.concatenate(pieces), whole, atol=1e-6)
    assert abs(whole.size - SAMPLE_RATE) <= 1


def test_telephone_rate_tone_keeps_its_frequency() -> None:
    t = np.arange(8000) / 8000
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    out = resample(tone, 8000)
    spectrum = np.abs(np.fft.rfft(out[1000:-1000]))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / (out.size - 2000)
    assert abs(peak_hz - 440) < 3


@pytest.mark.parametrize("rate", [0, -8000, 100, 10_000_000, 8000.5, float("nan"), "8000", True])
def test_absurd_rates_are_rejected(rate: object) -> None:
    with pytest.raises(ValueError):
        check_rate(rate)  # type: ignore[arg-type]
