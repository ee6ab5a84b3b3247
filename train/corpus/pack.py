"""Corpora packed small enough to carry to a training machine elsewhere: each utterance
re-encoded as Ogg Opus at a speech bitrate, under a copy of its manifest.

Why: a GPU machine lent for minutes cannot make its own corpus (the TTS engines, their voices
and hours of CPU), and what travels to one is capped (64 MiB for this workplace's device
tool). The corpus's 16 kHz FLAC is about 150 kbit/s; Opus at 16 kbit/s carries nine times the
hours, and a speech codec's losses are a channel like those real callers bring. libsndfile
writes and reads Ogg Opus, so training reads a packed manifest like any other
(streamasr.audio.files); paths stay relative, so the folder can move.

    python -m train.corpus.pack data/neural/train.jsonl data/corpus/train.jsonl \
        --out pack --kbps 16 --hours 2
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from streamasr.audio.files import read_audio
from streamasr.features.mfcc import SAMPLE_RATE
from train.corpus.manifest import (
    Record,
    read_manifest,
    resolve_audio,
    total_hours,
    write_manifest,
)
from train.corpus.voices import to_16k

# libsndfile's Opus encoder takes a "compression level" in [0, 1], not a bitrate: it encodes
# at 6 kbit/s + (1 - level) x 250 kbit/s (read off its output: level 0.9 gives 31 kbit/s).
OPUS_MIN_BPS, OPUS_SPAN_BPS = 6_000, 250_000


def opus_level(kbps: float) -> float:
    """The compression level at which libsndfile encodes Opus at about ``kbps`` kbit/s."""
    level = 1.0 - (kbps * 1000 - OPUS_MIN_BPS) / OPUS_SPAN_BPS
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"Opus bitrate must be 6 to 256 kbit/s, got {kbps}")
    return level


def chosen(records: list[Record], hours: float | None, seed: int) -> list[Record]:
    """At most ``hours`` of the records, drawn at random (a manifest's head is often a few
    voices or its shortest texts), in manifest order; all of them without a cap."""
    if hours is None:
        return records
    order = np.random.default_rng(seed).permutation(len(records))
    total, keep = 0.0, []
    for i in order.tolist():
        if total + records[i].duration > hours * 3600:
            continue
        total += records[i].duration
        keep.append(i)
    return [records[i] for i in sorted(keep)]


def _encode(job: tuple[str, str, float]) -> None:
    source, target, level = job
    audio = read_audio(source)
    tmp = Path(target).with_suffix(".tmp")
    sf.write(
        tmp,
        to_16k(audio.samples, audio.sample_rate),
        SAMPLE_RATE,
        format="OGG",
        subtype="OPUS",
        compression_level=level,
    )
    tmp.replace(target)


def pack(
    manifest: Path, out: Path, kbps: float, hours: float | None, workers: int, seed: int = 0
) -> tuple[Path, int, float]:
    """Pack one manifest into ``out/<its folder>/<its name>``: (the new manifest, utterances,
    hours). Files already packed are kept, so a stopped run resumes."""
    level = opus_level(kbps)
    records = chosen(read_manifest(manifest), hours, seed)
    folder = out / manifest.parent.name
    audio_dir = folder / "audio" / manifest.stem
    audio_dir.mkdir(parents=True, exist_ok=True)
    packed, jobs = [], []
    for n, record in enumerate(records):
        name = f"{n:06d}.opus"
        target = audio_dir / name
        if not target.exists():
            jobs.append((str(resolve_audio(record, manifest)), str(target), level))
        relative = f"audio/{manifest.stem}/{name}"
        packed.append(Record(relative, record.duration, record.text, record.voice, record.augment))
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_encode, jobs, chunksize=32))
    path = folder / manifest.name
    write_manifest(path, packed)
    return path, len(packed), total_hours(packed)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.corpus.pack", description=__doc__)
    p.add_argument("manifests", type=Path, nargs="+", help="corpus manifests (JSONL)")
    p.add_argument("--out", type=Path, required=True, help="the packed corpora's folder")
    p.add_argument("--kbps", type=float, default=16.0, help="Opus bitrate (default %(default)s)")
    p.add_argument("--hours", type=float, help="at most this much of each manifest, at random")
    p.add_argument("--workers", type=int, default=2, help="encoder processes (%(default)s)")
    p.add_argument("--seed", type=int, default=0, help="of the random choice (%(default)s)")
    args = p.parse_args(argv)
    names = [m.parent.name + "/" + m.name for m in args.manifests]
    if len(set(names)) != len(names):
        p.error("two manifests would pack to the same place: " + ", ".join(names))
    for manifest in args.manifests:
        try:
            path, count, hours = pack(
                manifest, args.out, args.kbps, args.hours, args.workers, args.seed
            )
        except (OSError, ValueError) as e:  # a missing manifest, unreadable audio, a bad bitrate
            print(f"pack: error: {manifest}: {e}", file=sys.stderr)
            return 2
        size = sum(f.stat().st_size for f in path.parent.rglob("*.opus")) / 1e6
        print(
            f"{path}: {count} utterances, {hours:.2f} h; {size:.1f} MB in its folder",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
