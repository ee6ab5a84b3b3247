"""Waveform augmentation for 16 kHz float32 speech: pure numpy (+ soxr for resampling).

Why: synthetic voices are clean, steady and few; real input is none of these. Each function
perturbs one property that differs between TTS and real speech (speaking rate, pitch, vocal-tract
length, room, noise, level, telephone channel) and takes its randomness only from the `rng`
argument (or from explicit parameters), so a corpus is reproducible from its seed.
`random_chain` applies a random subset and says what it did, for the manifest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import soxr

from streamasr.constants import SAMPLE_RATE

TELEPHONE_RATE = 8_000
TELEPHONE_BAND_HZ = (300.0, 3400.0)
MU = 255.0

Wave = np.ndarray  # float32, mono, 16 kHz


def _f32(x: np.ndarray) -> Wave:
    return np.ascontiguousarray(x, dtype=np.float32)


def _fit(x: np.ndarray, n: int) -> Wave:
    """Trim or zero-pad to exactly n samples."""
    return _f32(x[:n] if len(x) >= n else np.pad(x, (0, n - len(x))))


def power(x: np.ndarray) -> float:
    """Mean square."""
    return float(np.mean(np.square(x, dtype=np.float64))) if len(x) else 0.0


def speed(wave: Wave, factor: float) -> Wave:
    """Play `factor` times faster (tempo and pitch together), as Kaldi's speed perturbation.

    The output has round(len / factor) samples.
    """
    if factor <= 0:
        raise ValueError(f"speed factor must be positive, got {factor}")
    out = soxr.resample(_f32(wave), SAMPLE_RATE, SAMPLE_RATE / factor)
    return _fit(out, round(len(wave) / factor))


def tempo(wave: Wave, factor: float, frame: int = 480, tolerance: int = 160) -> Wave:
    """Change the speaking rate by `factor` keeping the pitch (WSOLA), round(len / factor) long.

    `frame` (30 ms) is the overlap-add window; `tolerance` (10 ms) how far each analysis frame
    may move to stay in phase with the previous one.
    """
    if factor <= 0:
        raise ValueError(f"tempo factor must be positive, got {factor}")
    x = _f32(wave)
    n_out = round(len(x) / factor)
    hop = frame // 2
    window = np.hanning(frame + 2)[1:-1].astype(np.float32)  # sums to ~1 at 50% overlap
    padded = np.pad(x, (tolerance + frame, tolerance + 2 * frame + int(factor * hop) + 1))
    base = tolerance + frame  # index of x[0] in padded
    out = np.zeros(n_out + 2 * frame, dtype=np.float32)
    norm = np.zeros_like(out)
    prev = base  # start of the previous analysis frame in padded
    for k in range(n_out // hop + 2):
        ideal = base + round(k * hop * factor)
        if k == 0:
            pos = ideal
        else:
            # The natural continuation of the previous frame; find the best-matching candidate.
            target = padded[prev + hop : prev + hop + frame]
            lo = max(0, ideal - tolerance)
            region = padded[lo : ideal + tolerance + frame]
            corr = np.correlate(region, target, mode="valid")
            pos = lo + int(np.argmax(corr))
        out[k * hop : k * hop + frame] += padded[pos : pos + frame] * window
        norm[k * hop : k * hop + frame] += window
        prev = pos
    return _fit(out / np.maximum(norm, 1e-3), n_out)


def pitch_shift(wave: Wave, semitones: float) -> Wave:
    """Shift pitch (and formants) by `semitones`, keeping the length: tempo, then speed."""
    ratio = 2.0 ** (semitones / 12.0)
    return _fit(speed(tempo(wave, 1.0 / ratio), ratio), len(wave))


def _stft(x: Wave, n_fft: int, hop: int) -> np.ndarray:
    window = np.hanning(n_fft).astype(np.float32)
    padded = np.pad(x, (n_fft, n_fft + hop))
    n_frames = (len(padded) - n_fft) // hop + 1
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    return np.fft.rfft(padded[idx] * window, axis=1)


def _istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> Wave:
    window = np.hanning(n_fft).astype(np.float32)
    frames = np.fft.irfft(spec, n=n_fft, axis=1) * window
    total = hop * (len(frames) - 1) + n_fft
    out = np.zeros(total)
    norm = np.zeros(total)
    for i, frame in enumerate(frames):
        out[i * hop : i * hop + n_fft] += frame
        norm[i * hop : i * hop + n_fft] += window**2
    out = out / np.maximum(norm, 1e-6)
    return _f32(out[n_fft : n_fft + length])


def formant_shift(wave: Wave, alpha: float, n_fft: int = 512, lifter: int = 40) -> Wave:
    """Vocal-tract-length-like warp: move the spectral envelope by `alpha`, keep pitch and length.

    The envelope is the cepstrally smoothed log spectrum (first `lifter` quefrencies); each frame
    is multiplied by envelope(f / alpha) / envelope(f), so formants move to alpha * f while the
    harmonics (the pitch) stay where they were. alpha > 1 sounds like a shorter vocal tract.
    """
    if not 0.5 < alpha < 2.0:
        raise ValueError(f"formant factor must be within (0.5, 2), got {alpha}")
    x = _f32(wave)
    hop = n_fft // 4
    spec = _stft(x, n_fft, hop)
    log_mag = np.log(np.abs(spec) + 1e-7)
    cep = np.fft.irfft(log_mag, n=n_fft, axis=1)
    cep[:, lifter : n_fft - lifter + 1] = 0.0
    envelope = np.fft.rfft(cep, axis=1).real
    bins = np.arange(envelope.shape[1], dtype=np.float64)
    source = np.clip(bins / alpha, 0, bins[-1])
    warped = np.stack([np.interp(source, bins, env) for env in envelope])
    gain = np.exp(np.clip(warped - envelope, -6.0, 6.0))
    return _istft(spec * gain, n_fft, hop, len(x))


def colored_noise(n: int, rng: np.random.Generator, exponent: float) -> Wave:
    """Noise with power spectrum 1/f**exponent: 0 white, 1 pink, 2 brown; unit power."""
    spectrum = np.fft.rfft(rng.standard_normal(n + 1))
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = f[1] if len(f) > 1 else 1.0
    noise = np.fft.irfft(spectrum / f ** (exponent / 2.0), n=n + 1)[:n]
    noise = noise - noise.mean()
    return _f32(noise / np.sqrt(max(power(noise), 1e-20)))


def noise_excerpt(recording: Wave, n: int, rng: np.random.Generator) -> Wave:
    """n samples of a (looped) noise recording from a random offset."""
    if len(recording) == 0:
        raise ValueError("empty noise recording")
    reps = -(-(n + len(recording)) // len(recording))
    start = int(rng.integers(len(recording)))
    return _f32(np.tile(recording, reps)[start : start + n])


def add_noise(wave: Wave, noise: Wave, snr_db: float) -> Wave:
    """Add `noise` (same length) scaled so that power(wave) / power(added) = snr_db."""
    if len(noise) != len(wave):
        raise ValueError(f"noise has {len(noise)} samples, speech {len(wave)}")
    p_speech, p_noise = power(wave), power(noise)
    if p_speech == 0.0 or p_noise == 0.0:
        return _f32(wave)
    scale = np.sqrt(p_speech / (p_noise * 10.0 ** (snr_db / 10.0)))
    return _f32(wave + scale * noise)


def room_impulse_response(
    rng: np.random.Generator, rt60: float, drr_db: float, n_reflections: int = 8
) -> np.ndarray:
    """A synthetic room: direct path, early reflections (1-30 ms) and a diffuse tail whose
    level decays by 60 dB in `rt60` seconds; `drr_db` is the direct-to-reverberant ratio."""
    if rt60 <= 0:
        raise ValueError(f"rt60 must be positive, got {rt60}")
    n = max(int(min(1.5 * rt60, 1.2) * SAMPLE_RATE), 64)
    t = np.arange(n) / SAMPLE_RATE
    decay = np.exp(-3.0 * np.log(10.0) * t / rt60)  # amplitude: -60 dB at rt60
    reverb = rng.standard_normal(n) * decay
    onset = int(0.005 * SAMPLE_RATE)
    reverb[:onset] *= np.linspace(0.0, 1.0, onset)
    delays = rng.integers(int(0.001 * SAMPLE_RATE), int(0.03 * SAMPLE_RATE), n_reflections)
    for delay in delays:
        reverb[delay] += rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 1.0) * decay[delay] * 8.0
    reverb *= np.sqrt(10.0 ** (-drr_db / 10.0) / max(float(np.sum(reverb**2)), 1e-20))
    reverb[0] = 1.0
    return np.asarray(reverb, dtype=np.float64)


def reverberate(wave: Wave, rir: np.ndarray) -> Wave:
    """Convolve with `rir` (FFT), keep the length and the speech power."""
    x = _f32(wave)
    size = 1 << int(np.ceil(np.log2(len(x) + len(rir))))
    wet = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(rir, size), size)[: len(x)]
    p_wet = power(wet)
    return _f32(wet * np.sqrt(power(x) / p_wet)) if p_wet > 0 else x


def gain(wave: Wave, db: float) -> Wave:
    """Scale by `db` decibels (no clipping here: see `limit`)."""
    return _f32(wave * 10.0 ** (db / 20.0))


def limit(wave: Wave, peak: float = 0.99) -> Wave:
    """Scale down (never up) so that the peak is at most `peak`."""
    top = float(np.max(np.abs(wave))) if len(wave) else 0.0
    return _f32(wave * (peak / top)) if top > peak else _f32(wave)


def _band_limit(x: np.ndarray, rate: int, low: float, high: float, taper: float = 100.0) -> Wave:
    """Zero-phase band-pass in the frequency domain with raised-cosine edges `taper` Hz wide."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1.0 / rate)
    rise = np.clip((f - (low - taper / 2)) / taper, 0.0, 1.0)
    fall = np.clip(((high + taper / 2) - f) / taper, 0.0, 1.0)
    mask = 0.5 - 0.5 * np.cos(np.pi * np.minimum(rise, fall))
    return _f32(np.fft.irfft(spec * mask, n=len(x)))


def mu_law(x: np.ndarray, bits: int = 8) -> Wave:
    """G.711-style mu-law round trip: compress, quantise to `bits`, expand."""
    levels = 2 ** (bits - 1)
    y = np.sign(x) * np.log1p(MU * np.minimum(np.abs(x), 1.0)) / np.log1p(MU)
    y = np.round(y * levels) / levels
    return _f32(np.sign(y) * np.expm1(np.abs(y) * np.log1p(MU)) / MU)


def telephone(wave: Wave, use_mu_law: bool = True) -> Wave:
    """Narrowband channel round trip: 16 k -> 8 k, 300-3400 Hz band, mu-law, -> 16 k."""
    x = soxr.resample(_f32(wave), SAMPLE_RATE, TELEPHONE_RATE)
    x = _band_limit(x, TELEPHONE_RATE, *TELEPHONE_BAND_HZ)
    if use_mu_law:
        x = mu_law(limit(x))
    return _fit(soxr.resample(x, TELEPHONE_RATE, SAMPLE_RATE), len(wave))


NOISE_COLORS = {"white": 0.0, "pink": 1.0, "brown": 2.0}


def random_chain(
    wave: Wave, rng: np.random.Generator, noises: Sequence[Wave] = ()
) -> tuple[Wave, list[str]]:
    """Apply a random subset (at least one) of the augmentations; returns (wave, descriptions).

    `noises` are optional noise recordings at 16 kHz to draw from besides generated noise.
    """
    steps: list[str] = []
    x = _f32(wave)
    while not steps:
        if rng.random() < 0.45:
            f = float(rng.uniform(0.9, 1.1))
            use_speed = bool(rng.random() < 0.6)
            x = speed(x, f) if use_speed else tempo(x, f)
            steps.append(f"{'speed' if use_speed else 'tempo'}={f:.3f}")
        if rng.random() < 0.25:
            semitones = float(rng.uniform(-3.0, 3.0))
            x = pitch_shift(x, semitones)
            steps.append(f"pitch={semitones:+.2f}st")
        if rng.random() < 0.3:
            alpha = float(rng.uniform(0.88, 1.14))
            x = formant_shift(x, alpha)
            steps.append(f"formant={alpha:.3f}")
        if rng.random() < 0.35:
            rt60, drr = float(rng.uniform(0.15, 0.8)), float(rng.uniform(0.0, 15.0))
            x = reverberate(x, room_impulse_response(rng, rt60, drr))
            steps.append(f"reverb=rt60:{rt60:.2f}s,drr:{drr:.1f}dB")
        if rng.random() < 0.5:
            snr = float(rng.uniform(5.0, 30.0))
            kinds = [*NOISE_COLORS, *(f"recorded{i}" for i in range(len(noises)))]
            kind = kinds[int(rng.integers(len(kinds)))]
            if kind in NOISE_COLORS:
                noise = colored_noise(len(x), rng, NOISE_COLORS[kind])
            else:
                noise = noise_excerpt(noises[int(kind.removeprefix("recorded"))], len(x), rng)
            x = add_noise(x, noise, snr)
            steps.append(f"noise={kind}@{snr:.1f}dB")
        if rng.random() < 0.15:
            use_mu = bool(rng.random() < 0.5)
            x = telephone(x, use_mu_law=use_mu)
            steps.append("telephone+mulaw" if use_mu else "telephone")
        if rng.random() < 0.5:
            db = float(rng.uniform(-12.0, 6.0))
            x = gain(x, db)
            steps.append(f"gain={db:+.1f}dB")
    return limit(x), steps
