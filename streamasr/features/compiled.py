"""The features of many windows in one compiled call: what the daemon runs every round.

The same arithmetic as ``mfcc.frames_from_windows`` (Hamming window, 512-point power
spectrum, mel filterbank, log, optional DCT), but as one XLA program in float32, where
numpy's FFT works in float64 and every step is a separate pass over memory. With the
cheaper framing in ``mfcc.windows`` it halved the engine's CPU per stream
(``bin/bench engine``, docs/performance.md). Row counts are padded to a few
bucket sizes and split into calls of at most ``MAX_ROWS``, so a handful of compiled
shapes serve every round. Results agree with the numpy reference to float32 rounding
(``tests/features/test_compiled.py``); each stream's frames do not depend on which other
streams share its call, because every row is computed on its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt

from streamasr.features import mfcc

FloatArray = npt.NDArray[np.float32]

MIN_ROWS = 64
MAX_ROWS = 8192  # rows per call: larger rounds take several calls of this size


def row_buckets() -> Iterator[int]:
    """The padded row counts: MIN_ROWS to MAX_ROWS, two per octave (at most ~1.5x padding)."""
    size = MIN_ROWS
    while size < MAX_ROWS:
        yield size
        yield size * 3 // 2
        size *= 2
    yield MAX_ROWS


_BUCKETS = tuple(row_buckets())


def bucket_rows(n: int) -> int:
    """The smallest bucket that holds n rows (n <= MAX_ROWS)."""
    for size in _BUCKETS:
        if n <= size:
            return size
    raise ValueError(f"{n} rows exceed one call's {MAX_ROWS}")


def _program(config: mfcc.FeatureConfig) -> Callable[[FloatArray], jax.Array]:
    window = jnp.asarray(mfcc.HAMMING)
    full_bank = mfcc.mel_filterbank(config.n_mels, config.fmin, config.fmax)
    # Only the FFT bins some filter reads enter the product (those past fmax do not).
    used = np.flatnonzero(full_bank.any(axis=1))
    lo, hi = int(used[0]), int(used[-1]) + 1
    bank = jnp.asarray(full_bank[lo:hi])
    dct = jnp.asarray(mfcc.dct_matrix(config.n_mels, config.n_mfcc)) if config.n_mfcc else None

    def features(windows: FloatArray) -> jax.Array:
        spectrum = jnp.fft.rfft(windows * window, n=mfcc.N_FFT, axis=-1)[:, lo:hi]
        power = spectrum.real**2 + spectrum.imag**2
        out = jnp.log(jnp.maximum(power @ bank, mfcc.LOG_FLOOR))
        return out if dct is None else out @ dct

    return jax.jit(features)


class CompiledFeatures:
    """``features(windows) -> frames``: [n, WINDOW_SAMPLES] pre-emphasised windows ->
    [n, config.dim] log-mel (or MFCC) frames, as ``mfcc.frames_from_windows`` computes."""

    def __init__(self, config: mfcc.FeatureConfig) -> None:
        self.config = config
        self._run = _program(config)

    def __call__(self, windows: FloatArray) -> FloatArray:
        n = windows.shape[0]
        if n == 0:
            return np.zeros((0, self.config.dim), np.float32)
        parts = [self._call(windows[i : i + MAX_ROWS]) for i in range(0, n, MAX_ROWS)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _call(self, windows: FloatArray) -> FloatArray:
        n = windows.shape[0]
        padded = np.zeros((bucket_rows(n), mfcc.WINDOW_SAMPLES), np.float32)
        padded[:n] = windows
        return np.asarray(self._run(padded))[:n]

    def warm_up(self, max_rows: int = MAX_ROWS) -> None:
        """Compile every bucket up to max_rows, so that no round waits for the compiler."""
        for size in _BUCKETS:
            self._run(np.zeros((size, mfcc.WINDOW_SAMPLES), np.float32)).block_until_ready()
            if size >= max_rows:
                break


@functools.lru_cache(maxsize=8)
def for_config(config: mfcc.FeatureConfig) -> CompiledFeatures:
    """The one compiled extractor of these features: every stream of a model shares it."""
    return CompiledFeatures(config)
