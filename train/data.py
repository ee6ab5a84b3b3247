"""Manifests -> normalised feature batches for CTC training.

Features are computed once per manifest with the runtime's own extractor (so training and
inference see identical frames) and cached in one directory shared by all runs
(``FEATURE_CACHE``), keyed by the manifests' content and the feature config. Batches are grouped
by length into a few padded shapes, so the jitted train step compiles a handful of times.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamasr.audio.files import read_audio
from streamasr.audio.resample import resample
from streamasr.features import mfcc
from streamasr.features.mfcc import FeatureConfig
from streamasr.features.normalize import FeatureStats, StatsAccumulator
from streamasr.vocab import encode
from train.corpus.manifest import Record, engine_of, read_manifest, resolve_audio, short_names

FEATURE_CACHE = "data/features"  # the command-line default; tests pass their own


@dataclass(frozen=True)
class FeatureSet:
    """All utterances of some manifests, features concatenated in one array."""

    frames: np.ndarray  # [total_frames, dim] float16 log-mel, not normalised
    offsets: np.ndarray  # [n + 1] int64 start of each utterance in frames
    labels: list[list[int]]  # label ids per utterance
    texts: list[str]
    voices: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def utterance(self, i: int) -> np.ndarray:
        return self.frames[self.offsets[i] : self.offsets[i + 1]]


@dataclass(frozen=True)
class Batch:
    frames: np.ndarray  # [B, T, dim] float32, normalised, zero in the padding
    frame_paddings: np.ndarray  # [B, T] float32, 1.0 where padded
    labels: np.ndarray  # [B, L] int32
    label_paddings: np.ndarray  # [B, L] float32, 1.0 where padded
    indices: np.ndarray  # [B] utterance index in the FeatureSet, -1 for filler rows


def _features_of(args: tuple[str, FeatureConfig]) -> np.ndarray:
    path, config = args
    audio = read_audio(path)
    samples = audio.samples
    if audio.sample_rate != mfcc.SAMPLE_RATE:
        samples = resample(samples, audio.sample_rate)
    return mfcc.extract_all(config, samples).astype(np.float16)


def load_features(
    manifests: Sequence[str | Path],
    config: FeatureConfig,
    cache_dir: Path,
    workers: int | None = None,
    limit: int | None = None,
    shard: tuple[int, int] = (0, 1),
    exclude_engines: Collection[str] = (),
) -> FeatureSet:
    """Featurise the manifests' audio (cached by manifest content and feature config).
    ``shard=(i, n)``: only every n-th utterance from the i-th, the share of process i of n
    in a multi-process run (each process loads and featurises its own).
    ``exclude_engines``: utterances whose voice is of these engines ("rhvoice/alan" is
    rhvoice's) are left out, before ``limit`` (as in ``readable_audio``), sharding and the
    cache key."""
    index, count = shard
    if not 0 <= index < count:
        raise ValueError(f"shard must be (index, count) with 0 <= index < count, got {shard}")
    records: list[tuple[Record, Path]] = []
    for m in manifests:
        path = Path(m)
        kept = [r for r in read_manifest(path) if engine_of(r.voice) not in exclude_engines]
        records += [(r, resolve_audio(r, path)) for r in kept[:limit]]
    records = records[index::count]
    key = hashlib.sha256(
        json.dumps([[str(p), r.text] for r, p in records] + [config.to_dict()]).encode()
    ).hexdigest()[:16]
    cache = cache_dir / f"features-{key}.npz"
    if cache.exists():
        with np.load(cache) as z:
            frames, offsets = z["frames"], z["offsets"]
    else:
        # spawn, not fork: the parent runs JAX threads, which a fork would copy mid-flight.
        spawn = multiprocessing.get_context("spawn")
        # One process per core by default, so a many-core GPU host featurises on all of them.
        # A file listed more than once (bin/train lists a corpus up to three times to weigh
        # it) is featurised once: the work, and a GPU lease's minutes, follow the audio.
        paths = [str(p) for _, p in records]
        unique = list(dict.fromkeys(paths))
        print(
            f"featurising {len(unique)} audio files for {len(paths)} utterances",
            file=sys.stderr,
            flush=True,
        )
        with ProcessPoolExecutor(workers or os.cpu_count(), mp_context=spawn) as pool:
            done = pool.map(_features_of, [(p, config) for p in unique], chunksize=16)
            by_path = dict(zip(unique, done, strict=True))
        feats = [by_path[p] for p in paths]
        offsets = np.concatenate([[0], np.cumsum([f.shape[0] for f in feats])]).astype(np.int64)
        frames = np.concatenate(feats) if feats else np.zeros((0, config.dim), np.float16)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, frames=frames, offsets=offsets)
        tmp.replace(cache)
    return FeatureSet(
        frames=frames,
        offsets=offsets,
        labels=[encode(r.text) for r, _ in records],
        texts=[r.text for r, _ in records],
        voices=[r.voice for r, _ in records],
    )


def load_named(
    manifests: Sequence[str | Path], config: FeatureConfig, cache: Path, limit: int
) -> dict[str, FeatureSet]:
    """The first ``limit`` utterances of each existing manifest, by a short name
    (``short_names``: the stem, with its folder where two stems are the same)."""
    present = [m for m in manifests if Path(m).exists()]
    return {
        name: load_features([m], config, cache, limit=limit)
        for name, m in zip(short_names(present), present, strict=True)
    }


def compute_stats(
    features: FeatureSet, total: Callable[[np.ndarray], np.ndarray] | None = None
) -> FeatureStats:
    """Mean and variance of the features; ``total`` sums the accumulated moments over the
    processes of a multi-process run (each holds its own shard), so all get the same."""
    acc = StatsAccumulator.empty(features.frames.shape[1])
    for start in range(0, features.frames.shape[0], 1_000_000):
        acc.add(features.frames[start : start + 1_000_000].astype(np.float32))
    if total is not None:
        moments = total(np.stack([np.full_like(acc.total, acc.count), acc.total, acc.total_sq]))
        acc = StatsAccumulator(int(moments[0][0]), moments[1], moments[2])
    return acc.finish()


def ctc_feasible(label: list[int], output_frames: int) -> bool:
    """CTC needs one output frame per label plus one between repeated labels."""
    repeats = sum(1 for a, b in itertools.pairwise(label) if a == b)
    return len(label) + repeats <= output_frames


def bucket_of(length: int, buckets: Sequence[int]) -> int | None:
    for b in buckets:
        if length <= b:
            return b
    return None


def usable(features: FeatureSet, buckets: Sequence[int], frames_per_step: int) -> np.ndarray:
    """Indices of utterances that fit a bucket and that CTC can align at the output rate."""
    lengths = features.lengths()
    keep = [
        i
        for i in range(len(features))
        if features.labels[i]
        and bucket_of(int(lengths[i]), buckets) is not None
        and ctc_feasible(features.labels[i], int(lengths[i]) // frames_per_step)
    ]
    return np.asarray(keep, np.int64)


def make_batch(
    features: FeatureSet,
    indices: Sequence[int],
    length: int,
    stats: FeatureStats,
    batch_size: int,
    label_capacity: int = 1,
) -> Batch:
    """Pad utterances to [batch_size, length] and labels to at least ``label_capacity``;
    rows beyond len(indices) are filler (all padding)."""
    dim = features.frames.shape[1]
    frames = np.zeros((batch_size, length, dim), np.float32)
    frame_paddings = np.ones((batch_size, length), np.float32)
    max_label = max([len(features.labels[i]) for i in indices] + [label_capacity])
    labels = np.zeros((batch_size, max_label), np.int32)
    label_paddings = np.ones((batch_size, max_label), np.float32)
    rows = np.full(batch_size, -1, np.int64)
    for row, i in enumerate(indices):
        utt = stats.apply(features.utterance(i).astype(np.float32))[:length]
        frames[row, : utt.shape[0]] = utt
        frame_paddings[row, : utt.shape[0]] = 0.0
        label = features.labels[i]
        labels[row, : len(label)] = label
        label_paddings[row, : len(label)] = 0.0
        rows[row] = i
    return Batch(frames, frame_paddings, labels, label_paddings, rows)


def group_by_bucket(
    features: FeatureSet, indices: np.ndarray, buckets: Sequence[int]
) -> dict[int, list[int]]:
    """``indices`` by length bucket, in their order (too long or unusable ones left out)."""
    lengths = features.lengths()
    by_bucket: dict[int, list[int]] = {b: [] for b in buckets}
    for i in indices.tolist():
        b = bucket_of(int(lengths[i]), buckets)
        if b is not None:
            by_bucket[b].append(i)
    return by_bucket


def rows_per_batch(bucket: int, batch_frames: int, row_multiple: int) -> int:
    """batch_frames // bucket rows, rounded down to a multiple of row_multiple (at least one)."""
    return max(row_multiple, (batch_frames // bucket) // row_multiple * row_multiple)


def batches(
    features: FeatureSet,
    indices: np.ndarray,
    buckets: Sequence[int],
    batch_frames: int,
    stats: FeatureStats,
    rng: np.random.Generator | None,
    row_multiple: int = 1,
    frames_per_step: int = 1,
) -> Iterator[Batch]:
    """One pass over ``indices`` in length-bucketed batches (shuffled when rng is given).
    Batch size per bucket is batch_frames // bucket, rounded to a multiple of row_multiple
    (the number of devices, for data parallelism). Labels are padded to the bucket's
    output length (the most CTC can align), so each bucket has one shape and the jitted
    step compiles once per bucket rather than once per distinct label length."""
    by_bucket = group_by_bucket(features, indices, buckets)
    plan: list[tuple[int, list[int]]] = []
    for bucket, members in by_bucket.items():
        size = rows_per_batch(bucket, batch_frames, row_multiple)
        order = list(members)
        if rng is not None:
            rng.shuffle(order)
        plan += [(bucket, order[s : s + size]) for s in range(0, len(order), size)]
    if rng is not None:
        rng.shuffle(plan)
    for bucket, members in plan:
        size = rows_per_batch(bucket, batch_frames, row_multiple)
        yield make_batch(features, members, bucket, stats, size, bucket // frames_per_step)


def bucket_counts(features: FeatureSet, indices: np.ndarray, buckets: Sequence[int]) -> np.ndarray:
    """How many of ``indices`` fall in each length bucket."""
    by_bucket = group_by_bucket(features, indices, buckets)
    return np.array([len(by_bucket[b]) for b in buckets], np.int64)


def process_batches(
    features: FeatureSet,
    indices: np.ndarray,
    buckets: Sequence[int],
    batch_frames: int,
    stats: FeatureStats,
    rng: np.random.Generator,
    plan_rng: np.random.Generator,
    global_counts: np.ndarray,
    process_count: int,
    row_multiple: int = 1,
    frames_per_step: int = 1,
) -> Iterator[Batch]:
    """One pass: this process's rows of each global batch, from its own shard (with one
    process: ``batches``, every row; ``plan_rng`` and ``global_counts`` are unused). Every
    process must run the same steps on the same shapes, so the plan comes from what all
    agree on: ``global_counts`` (``bucket_counts`` summed over processes) fixes each
    bucket's number of global batches, as one process holding the whole corpus would have,
    and ``plan_rng`` (seeded alike everywhere) their order. A process short of utterances
    in a bucket fills rows with padding (weight 0); one with a few too many leaves them for
    another epoch (its own shuffle, ``rng``, picks which)."""
    if process_count == 1:
        yield from batches(
            features, indices, buckets, batch_frames, stats, rng, row_multiple, frames_per_step
        )
        return
    by_bucket = group_by_bucket(features, indices, buckets)
    plan: list[tuple[int, list[int]]] = []
    for bucket, total in zip(buckets, global_counts.tolist(), strict=True):
        size = rows_per_batch(bucket, batch_frames, row_multiple)
        local = size // process_count
        order = list(by_bucket[bucket])
        rng.shuffle(order)
        plan += [(bucket, order[k * local : (k + 1) * local]) for k in range(-(-total // size))]
    for k in plan_rng.permutation(len(plan)).tolist():
        bucket, members = plan[k]
        size = rows_per_batch(bucket, batch_frames, row_multiple)
        yield make_batch(
            features, members, bucket, stats, size // process_count, bucket // frames_per_step
        )


def warp_positions(config: FeatureConfig, alpha: float) -> np.ndarray:
    """Where each log-mel band reads from to scale the spectrum's frequencies by ``alpha``.

    Band i (centre frequency f_i) takes the value found at f_i / alpha, so a formant at f
    moves to alpha * f: what a vocal tract alpha times shorter would say (VTLP, Jaitly &
    Hinton 2013). Positions are fractional band indices, clipped to the filterbank's range.
    """
    if config.n_mfcc:
        raise ValueError("frequency warping needs log-mel features (n_mfcc = 0)")
    edges = mfcc.band_edges_hz(config.n_mels, config.fmin, config.fmax)
    edges_mel = mfcc.hz_to_mel(edges)
    source_mel = mfcc.hz_to_mel(edges[1:-1] / alpha)
    position = (source_mel - edges_mel[0]) / (edges_mel[1] - edges_mel[0]) - 1.0
    clipped: np.ndarray = np.clip(position, 0.0, config.n_mels - 1.0)
    return clipped


def frequency_warp(
    batch: Batch, rng: np.random.Generator, config: FeatureConfig, max_warp: float
) -> Batch:
    """VTLP on features: every utterance's frequency axis scaled by its own random factor in
    [1 - max_warp, 1 + max_warp], so each epoch hears new speakers of the same voices."""
    frames = batch.frames.copy()
    for row in range(frames.shape[0]):
        position = warp_positions(config, float(rng.uniform(1 - max_warp, 1 + max_warp)))
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, config.n_mels - 1)
        frac = (position - low).astype(np.float32)
        frames[row] = frames[row][:, low] * (1 - frac) + frames[row][:, high] * frac
    return Batch(frames, batch.frame_paddings, batch.labels, batch.label_paddings, batch.indices)


EQ_TERMS = 4  # cosine terms of a channel curve: a level, a tilt and two broad bumps
NATS_PER_DB = float(np.log(10.0) / 10.0)  # a power gain of 1 dB moves a log-mel value this much


def channel_curve_db(n_bands: int, rng: np.random.Generator, max_db: float) -> np.ndarray:
    """A smooth random gain curve over the bands, in dB, its peak |gain| drawn in [0, max_db].

    The colouring a microphone, a loudspeaker, a room or a codec puts on speech: a sum of
    the first EQ_TERMS cosines over the band index, so it varies slowly across frequency."""
    bands = np.arange(n_bands)[None, :]
    basis = np.cos(np.pi * np.arange(EQ_TERMS)[:, None] * (bands + 0.5) / n_bands)
    curve = rng.uniform(-1.0, 1.0, EQ_TERMS) @ basis
    peak = float(np.abs(curve).max())
    out: np.ndarray = curve / max(peak, 1e-9) * rng.uniform(0.0, max_db)
    return out


def channel_eq(batch: Batch, rng: np.random.Generator, stats: FeatureStats, max_db: float) -> Batch:
    """Every utterance through its own random channel (``channel_curve_db``), constant over
    the utterance, on normalised log-mel frames; padding stays silent. Real speech reaches
    the model through microphones and codecs no synthetic voice went through."""
    frames = batch.frames.copy()
    n_bands = frames.shape[2]
    for row in range(frames.shape[0]):
        valid = batch.frame_paddings[row] == 0
        shift = channel_curve_db(n_bands, rng, max_db) * NATS_PER_DB / stats.std
        frames[row, valid] += shift.astype(np.float32)
    return Batch(frames, batch.frame_paddings, batch.labels, batch.label_paddings, batch.indices)


# What a band-limited source (a telephone, an 8 kHz file, a low-pass codec) leaves in the
# bands it does not carry: only the window's leakage from the bands it does. Measured on
# Kokoro speech through an 8 kHz round trip (soxr, as the daemon resamples an 8 kHz client)
# and on the asterisk prompts alike: a band above 4.3 kHz sits 42-46 dB (median) under the
# frame's mean power over 300-3400 Hz, 10th to 90th percentile within about +-8 dB of that.
LEAKAGE_BELOW_PASSBAND_DB = (40.0, 46.0)  # per utterance, at the band next to the cutoff
LEAKAGE_SLOPE_DB = 4.0  # further down across the cut bands, as measured
LEAKAGE_SPREAD_DB = 5.0  # per frame and band
TELEPHONE_CUTOFF_HZ = (3400.0, 4000.0)  # an 8 kHz channel: most band-limited speech
WIDER_CUTOFF_HZ = (4000.0, 7000.0)  # 11.025 kHz files, wideband codecs, cheap microphones
TELEPHONE_CUTOFF_SHARE = 0.7
LOW_CUT_HZ = (100.0, 300.0)  # a telephone's high-pass, on half the band-limited utterances


def band_limit(
    batch: Batch,
    rng: np.random.Generator,
    stats: FeatureStats,
    features: FeatureConfig,
    share: float,
) -> Batch:
    """A ``share`` of the utterances as a narrower channel passes them: the bands centred
    above a random cutoff (a telephone's 3.4-4 kHz for most), and on half of them those
    below 100-300 Hz, lose what they carried and hold only what leaks into them from the
    passband (``LEAKAGE_*``), never less than the log floor. Why: 257 of the 439 real
    recordings we evaluate on are 8 kHz telephone-band audio, and a model trained without
    this read Kokoro speech sent at 8 kHz 5 CER points worse than at full band."""
    frames = batch.frames.copy()
    centres = mfcc.band_edges_hz(features.n_mels, features.fmin, features.fmax)[1:-1]
    floor = np.log(mfcc.LOG_FLOOR)
    for row in range(frames.shape[0]):
        if rng.random() >= share:
            continue
        wide = rng.random() >= TELEPHONE_CUTOFF_SHARE
        high = centres > rng.uniform(*(WIDER_CUTOFF_HZ if wide else TELEPHONE_CUTOFF_HZ))
        low = centres < (rng.uniform(*LOW_CUT_HZ) if rng.random() < 0.5 else 0.0)
        cut = np.flatnonzero(high | low)
        valid = np.flatnonzero(batch.frame_paddings[row] == 0)
        raw = frames[row][valid] * stats.std + stats.mean  # log-mel power
        passband = raw[:, (centres > 300.0) & (centres < 3400.0)]  # never cut; as measured
        # The log of the mean passband power, per frame.
        level = np.logaddexp.reduce(passband, axis=1) - np.log(passband.shape[1])
        # Deeper the further a band lies above the cutoff (0 next to it, 1 at the top).
        n_high = int(high.sum())
        above = np.zeros(cut.size)
        above[high[cut]] = np.arange(n_high) / max(1, n_high - 1)
        below_db = rng.uniform(*LEAKAGE_BELOW_PASSBAND_DB) + LEAKAGE_SLOPE_DB * above
        noise_db = rng.normal(0.0, LEAKAGE_SPREAD_DB, (valid.size, cut.size))
        leaked = np.maximum(level[:, None] - (below_db + noise_db) * NATS_PER_DB, floor)
        frames[row][np.ix_(valid, cut)] = (leaked - stats.mean[cut]) / stats.std[cut]
    return Batch(frames, batch.frame_paddings, batch.labels, batch.label_paddings, batch.indices)


# How much of the spectral envelope a smoothed utterance keeps: the first K of the log-mel's
# DCT coefficients (of 80), K drawn per utterance. At 80 bands the harmonics of a voice's
# pitch (100-250 Hz apart: 3 to 8 bands below 1 kHz) lie at coefficients of about 20 to 50;
# the formants, what words are made of, below 12.
SMOOTH_KEEP_COEFFICIENTS = (12, 24)


def smooth_spectrum(
    batch: Batch, rng: np.random.Generator, stats: FeatureStats, share: float
) -> Batch:
    """A ``share`` of the utterances with their log-mel spectra smoothed across frequency
    (liftered: only the lowest DCT coefficients kept), so that the voice's harmonics and a
    vocoder's fine spectral texture are gone and only the envelope is left. Why: every
    training voice comes out of some synthesizer's vocoder, with pitch and fine structure
    more regular than a person's; a model that can also read the envelope alone has less
    of the engine to lean on (held-out engines, real speech)."""
    frames = batch.frames.copy()
    n_bands = frames.shape[-1]
    basis = mfcc.dct_matrix(n_bands, n_bands).astype(np.float64)  # orthonormal: inverse = T
    for row in range(frames.shape[0]):
        if rng.random() >= share:
            continue
        keep = int(rng.integers(SMOOTH_KEEP_COEFFICIENTS[0], SMOOTH_KEEP_COEFFICIENTS[1] + 1))
        valid = np.flatnonzero(batch.frame_paddings[row] == 0)
        raw = frames[row][valid] * stats.std + stats.mean  # log-mel power
        cepstrum = raw @ basis
        smooth = cepstrum[:, :keep] @ basis[:, :keep].T
        frames[row][valid] = stats.apply(smooth)
    return Batch(frames, batch.frame_paddings, batch.labels, batch.label_paddings, batch.indices)


def spec_augment(
    batch: Batch,
    rng: np.random.Generator,
    freq_masks: int,
    freq_width: int,
    time_masks: int,
    time_width: int,
) -> Batch:
    """SpecAugment-style masking: masked values become 0, the mean after normalisation."""
    frames = batch.frames.copy()
    n, _t, f = frames.shape
    valid = (1.0 - batch.frame_paddings).sum(axis=1).astype(int)
    for row in range(n):
        for _ in range(freq_masks):
            width = int(rng.integers(0, freq_width + 1))
            start = int(rng.integers(0, max(1, f - width)))
            frames[row, :, start : start + width] = 0.0
        for _ in range(time_masks):
            width = int(rng.integers(0, min(time_width, max(1, valid[row] // 10)) + 1))
            start = int(rng.integers(0, max(1, valid[row] - width)))
            frames[row, start : start + width, :] = 0.0
    return Batch(frames, batch.frame_paddings, batch.labels, batch.label_paddings, batch.indices)
