from __future__ import annotations

import librosa
import numpy as np
import pytest

from streamasr.audio.resample import resample
from streamasr.features import mfcc
from streamasr.features.mfcc import HOP_SAMPLES, WINDOW_SAMPLES, FeatureConfig


def chunked(config: FeatureConfig, signal: np.ndarray, sizes: list[int]) -> np.ndarray:
    state = mfcc.init_state()
    out = []
    start = 0
    i = 0
    while start < signal.size:
        size = sizes[i % len(sizes)]
        state, frames = mfcc.extract(config, state, signal[start : start + size])
        out.append(frames)
        start += size
        i += 1
    return np.concatenate(out)


@pytest.fixture(scope="module")
def signal(speech: tuple[np.ndarray, int]) -> np.ndarray:
    return resample(*speech)[:24_000]


@pytest.mark.parametrize("config", [FeatureConfig(), FeatureConfig(n_mels=40, n_mfcc=13)])
def test_streaming_equals_offline_for_random_chunkings(
    config: FeatureConfig, signal: np.ndarray
) -> None:
    offline = mfcc.extract_all(config, signal)
    assert offline.shape == (1 + (signal.size - WINDOW_SAMPLES) // HOP_SAMPLES, config.dim)
    rng = np.random.default_rng(0)
    for sizes in ([1], [HOP_SAMPLES], [WINDOW_SAMPLES + 1], list(rng.integers(1, 2000, 50))):
        # rtol as well: c0 of an MFCC is in the hundreds, where one float32 ulp is 3e-5 and
        # numpy's FFT may round differently for different batch sizes.
        np.testing.assert_allclose(chunked(config, signal, sizes), offline, atol=1e-5, rtol=1e-6)


def test_one_sample_chunks_equal_offline(signal: np.ndarray) -> None:
    short = signal[:3000]
    config = FeatureConfig()
    np.testing.assert_allclose(
        chunked(config, short, [1]), mfcc.extract_all(config, short), atol=1e-5, rtol=0
    )


def test_frame_is_emitted_as_soon_as_its_window_is_complete() -> None:
    config = FeatureConfig()
    state, frames = mfcc.extract(config, mfcc.init_state(), np.ones(WINDOW_SAMPLES - 1))
    assert frames.shape[0] == 0
    state, frames = mfcc.extract(config, state, np.ones(1))
    assert frames.shape[0] == 1
    state, frames = mfcc.extract(config, state, np.ones(HOP_SAMPLES - 1))
    assert frames.shape[0] == 0
    _, frames = mfcc.extract(config, state, np.ones(1))
    assert frames.shape[0] == 1


def test_log_mel_agrees_with_librosa(signal: np.ndarray) -> None:
    """Configured the same way (HTK mels, Hamming window, no centring, power spectrum),
    librosa's log-mel and ours agree to 1e-3 in log units where the energy is not tiny."""
    config = FeatureConfig(n_mels=40, preemphasis=0.0, fmin=20.0, fmax=7600.0)
    ours = mfcc.extract_all(config, signal)
    # librosa centres the 400-sample window in its 512-sample frame; padding the signal by
    # the 56-sample offset on both sides makes its frames cover exactly our windows.
    offset = (512 - WINDOW_SAMPLES) // 2
    mel = librosa.feature.melspectrogram(
        y=np.pad(signal.astype(np.float64), offset),
        sr=16000,
        n_fft=512,
        win_length=WINDOW_SAMPLES,
        hop_length=HOP_SAMPLES,
        window=np.hamming(WINDOW_SAMPLES),  # symmetric, as ours (librosa defaults to periodic)
        center=False,
        power=2.0,
        n_mels=40,
        fmin=20.0,
        fmax=7600.0,
        htk=True,
        norm=None,
    ).T
    theirs = np.log(np.maximum(mel, mfcc.LOG_FLOOR))
    assert ours.shape == theirs.shape
    loud = theirs > np.log(1e-6)
    assert loud.mean() > 0.5
    np.testing.assert_allclose(ours[loud], theirs[loud], atol=1e-3)


def test_mfcc_agrees_with_librosa_dct(signal: np.ndarray) -> None:
    config = FeatureConfig(n_mels=40, n_mfcc=13, preemphasis=0.0)
    log_mel = mfcc.extract_all(FeatureConfig(n_mels=40, preemphasis=0.0), signal)
    ours = mfcc.extract_all(config, signal)
    theirs = librosa.feature.mfcc(S=log_mel.T, n_mfcc=13, dct_type=2, norm="ortho").T
    np.testing.assert_allclose(ours, theirs, atol=1e-3)


def test_preemphasis_carries_across_chunks() -> None:
    config = FeatureConfig(preemphasis=0.97)
    x = np.linspace(-1, 1, 1000).astype(np.float32)
    whole = mfcc.extract_all(config, x)
    state, a = mfcc.extract(config, mfcc.init_state(), x[:401])
    _, b = mfcc.extract(config, state, x[401:])
    np.testing.assert_allclose(np.concatenate([a, b]), whole, atol=1e-5)


def test_flush_covers_every_sample() -> None:
    config = FeatureConfig()

    def flush_after(n: int) -> int:
        state, _ = mfcc.extract(config, mfcc.init_state(), np.ones(n))
        return mfcc.samples_to_flush(state)

    assert mfcc.samples_to_flush(mfcc.init_state()) == 0
    assert flush_after(100) == WINDOW_SAMPLES - 100  # no frame yet: pad to one window
    assert flush_after(WINDOW_SAMPLES) == 0  # the first window covers all of it
    # 500 samples: frame 0 covers 0..399, so 400..499 need frame 1 (160..559): 60 zeros.
    assert flush_after(500) == 60
    assert flush_after(WINDOW_SAMPLES + HOP_SAMPLES) == 0


@pytest.mark.parametrize(
    "kwargs", [{"n_mels": 0}, {"n_mfcc": 81}, {"preemphasis": 1.0}, {"fmin": 9000.0}]
)
def test_bad_config_is_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FeatureConfig(**kwargs)  # type: ignore[arg-type]
