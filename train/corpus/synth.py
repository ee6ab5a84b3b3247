"""Generate the synthetic corpus: plan utterances, synthesise them in worker processes, write
16 kHz 16-bit FLAC and JSONL manifests.

Why a plan: every utterance (its split, sentence, voice, prosody and augmentation seed) is a pure
function of the run seed and its index, so a corpus is reproducible and a stopped run resumes by
skipping the audio files that already exist; files are written to a temporary name and renamed,
so an existing file is a complete one. Engine failures drop one utterance, never the run.

Splits (sentences are disjoint between them):
- train: training voices, clean + `augmented_copies` augmented copies of each utterance;
- valid_heldout_voices: held-out voices (voices.HELDOUT), clean, unseen sentences;
- valid_seen_voices: training voices, clean, unseen sentences.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from streamasr.constants import HOP_SAMPLES
from train.corpus import augment
from train.corpus.manifest import Record, atomic_write_text, total_hours, write_manifest
from train.corpus.plan import PLANNED_SILENCE_S, SPLITS, CorpusConfig, Job, job_rng, plan
from train.corpus.text import build_sentences, text_stats
from train.corpus.voices import (
    SAMPLE_RATE,
    SynthesisError,
    Voice,
    to_16k,
)
from train.corpus.wordnet import evaluation_sentences

log = logging.getLogger(__name__)

MAX_SECONDS = 16.0  # longer utterances are dropped
MIN_SECONDS = 0.4  # shorter ones too (a failed or empty synthesis)
SILENCE_PEAK = 1e-3  # peak below this: synthesis produced silence
TRIM_DB = -45.0  # frames this far below the peak count as silence when trimming
KEEP_SILENCE_S = PLANNED_SILENCE_S  # silence left at each end after trimming
PEAK = 0.89  # clean utterances are peak-normalised to -1 dBFS
# Non-speech recordings in Debian packages, used as background noise when present.
NOISE_RECORDINGS = (
    Path("/usr/share/sounds/alsa/Noise.wav"),
    *(Path(f"/usr/share/games/fillets-ng/sound/share/sp-bubles_{i:02d}.ogg") for i in range(6)),
)


def trim_silence(wave: np.ndarray, keep_s: float = KEEP_SILENCE_S) -> np.ndarray:
    """Cut leading and trailing silence (TRIM_DB below the peak), leaving `keep_s` at each end."""
    hop = HOP_SAMPLES
    n = len(wave) // hop
    if n == 0:
        return wave
    energy = np.sqrt(np.mean(wave[: n * hop].reshape(n, hop) ** 2, axis=1))
    loud = np.flatnonzero(energy > energy.max() * 10 ** (TRIM_DB / 20))
    keep = int(keep_s * SAMPLE_RATE)
    start = max(0, int(loud[0]) * hop - keep)
    end = min(len(wave), (int(loud[-1]) + 1) * hop + keep)
    return wave[start:end]


def audio_duration(path: Path) -> float | None:
    """Duration of a complete 16 kHz audio file, or None if missing or unreadable."""
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError):
        return None
    if info.samplerate != SAMPLE_RATE or info.frames <= 0:
        return None
    return float(info.duration)


def write_flac(path: Path, wave: np.ndarray) -> None:
    """16-bit FLAC, written to a temporary name and renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    sf.write(str(tmp), np.clip(wave, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16", format="FLAC")
    os.replace(tmp, path)


def clean_audio(voice: Voice, job: Job) -> np.ndarray:
    """Synthesise, trim and peak-normalise one utterance; SynthesisError when unusable."""
    wave = voice.synthesize(job.text, job.prosody)
    if len(wave) == 0 or float(np.max(np.abs(wave))) < SILENCE_PEAK:
        raise SynthesisError(f"{voice.name}: synthesis produced silence")
    wave = trim_silence(wave)
    seconds = len(wave) / SAMPLE_RATE
    if seconds > MAX_SECONDS:
        raise SynthesisError(f"{voice.name}: too long ({seconds:.1f} s)")
    if seconds < MIN_SECONDS:
        raise SynthesisError(f"{voice.name}: too short ({seconds:.2f} s)")
    return (wave * (PEAK / float(np.max(np.abs(wave))))).astype(np.float32)


@dataclass(frozen=True)
class Outcome:
    job: Job
    records: tuple[Record, ...] = ()  # the clean record first, then augmented copies
    error: str | None = None  # why (part of) the utterance was dropped
    written: int = 0  # audio files written by this run


def _cached_records(sidecar: Path, out: Path) -> tuple[Record, ...] | None:
    """The records of a finished utterance, if its sidecar and all its audio files are intact."""
    try:
        records = tuple(Record.from_json(line) for line in sidecar.read_text().splitlines())
    except (OSError, ValueError, KeyError):
        return None
    if records and all(audio_duration(out / r.audio_filepath) for r in records):
        return records
    return None


def _sidecar(out: Path, job: Job) -> Path:
    """`<stem>.jsonl`: the records of a finished utterance, written last."""
    base = out / "audio" / job.stem
    return base.with_name(base.name + ".jsonl")


def _finished(out: Path, job: Job) -> bool:
    """The utterance is made, with this job's voice and text."""
    cached = _cached_records(_sidecar(out, job), out)
    return cached is not None and (cached[0].voice, cached[0].text) == (job.voice, job.text)


def run_job(job: Job, out: Path, voice: Voice, noises: Sequence[np.ndarray]) -> Outcome:
    """Make (or find) the clean file and its augmented copies. Never raises for engine trouble.

    A sidecar `<stem>.jsonl` with the utterance's records is written last: it marks the
    utterance finished. Audio files already on disk are kept, never rewritten.
    """
    base = out / "audio" / job.stem
    sidecar = _sidecar(out, job)
    cached = _cached_records(sidecar, out)
    if cached is not None and (cached[0].voice, cached[0].text) == (job.voice, job.text):
        return Outcome(job, cached)
    if cached is not None:
        # The plan changed under a finished utterance (another voice was installed, or the
        # text was re-normalised): its audio says something else now, so make it again.
        for record in cached:
            (out / record.audio_filepath).unlink(missing_ok=True)
        sidecar.unlink()
    clean_path = base.with_name(base.name + ".flac")
    written = 0
    try:
        if audio_duration(clean_path) is None:
            write_flac(clean_path, clean_audio(voice, job))
            written += 1
        # Augment the 16-bit audio on disk, so that a resumed run makes the very same copies.
        wave = sf.read(str(clean_path), dtype="float32")[0]
        duration = len(wave) / SAMPLE_RATE
        records = [Record(str(clean_path.relative_to(out)), duration, job.text, voice.name)]
        for k in range(1, job.copies + 1):
            copy, steps = augment.random_chain(
                wave, job_rng(job.seed, job.split, job.index, k), noises
            )
            path = base.with_name(f"{base.name}-aug{k}.flac")
            if audio_duration(path) is None:
                write_flac(path, copy)
                written += 1
            rel = str(path.relative_to(out))
            desc = ";".join(steps)
            records.append(Record(rel, len(copy) / SAMPLE_RATE, job.text, voice.name, desc))
        atomic_write_text(sidecar, "".join(r.to_json() + "\n" for r in records))
        return Outcome(job, tuple(records), None, written)
    except (SynthesisError, OSError, RuntimeError, ValueError) as e:
        return Outcome(job, (), str(e), written)


def load_noises(paths: Iterable[Path] = NOISE_RECORDINGS) -> list[np.ndarray]:
    """The noise recordings that exist here, as float32 16 kHz mono."""
    out: list[np.ndarray] = []
    for path in paths:
        try:
            audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
        except (OSError, RuntimeError, sf.LibsndfileError):
            continue
        if len(audio) > 0:
            out.append(to_16k(audio.mean(axis=1), rate))
    return out


@dataclass(frozen=True)
class _WorkerState:
    out: Path
    voices: Mapping[str, Voice]
    noises: Sequence[np.ndarray]


_WORKER: list[_WorkerState] = []  # the state of this (worker) process, set by _init_worker


def _init_worker(state: _WorkerState) -> None:
    _WORKER[:] = [state]


def _work(job: Job) -> Outcome:
    state = _WORKER[0]
    try:
        return run_job(job, state.out, state.voices[job.voice], state.noises)
    except Exception as e:  # one bad utterance must not stop the run
        log.exception("utterance %s failed", job.stem)
        return Outcome(job, (), f"unexpected {type(e).__name__}: {e}")


def run_jobs(
    jobs: Sequence[Job],
    out: Path,
    voices: Sequence[Voice],
    workers: int,
    noises: Sequence[np.ndarray] = (),
    progress: bool = True,
) -> Iterator[Outcome]:
    """Outcomes of all jobs (in completion order), in `workers` processes."""
    args = (_WorkerState(out, {v.name: v for v in voices}, list(noises)),)
    bar = tqdm(total=len(jobs), unit="utt", disable=not progress, smoothing=0.05)
    try:
        if workers == 1:
            _init_worker(*args)
            outcomes: Iterable[Outcome] = map(_work, jobs)
            yield from _with_bar(outcomes, bar)
        else:
            # spawn, not fork: a parent that has imported jax runs threads that a fork
            # would copy mid-flight (a deadlock risk, and a warning in the test suite).
            ctx = mp.get_context("spawn")
            with ctx.Pool(workers, initializer=_init_worker, initargs=args) as pool:
                yield from _with_bar(pool.imap_unordered(_work, jobs, chunksize=4), bar)
    finally:
        bar.close()


def _with_bar(outcomes: Iterable[Outcome], bar: tqdm) -> Iterator[Outcome]:
    for outcome in outcomes:
        bar.update(1)
        yield outcome


@dataclass
class Summary:
    seconds: float = 0.0  # wall time of this run
    written: int = 0  # audio files written by this run
    failures: list[str] = field(default_factory=list)  # "stem voice: reason"
    records: dict[str, list[Record]] = field(default_factory=dict)  # per split

    def to_dict(self, voices: Sequence[Voice], sentences: Sequence[str]) -> dict[str, object]:
        def per_engine(recs: Iterable[Record]) -> dict[str, int]:
            names = {r.voice for r in recs}
            return dict(sorted(Counter(n.split("/")[0] for n in names).items()))

        stats = text_stats(sentences)
        return {
            "wall_seconds": round(self.seconds, 1),
            "audio_files_written": self.written,
            "failures": len(self.failures),
            "text": asdict(stats),
            "splits": {
                split: {
                    "utterances": len(recs),
                    "clean_utterances": sum(r.augment is None for r in recs),
                    "hours": round(total_hours(recs), 3),
                    "clean_hours": round(total_hours(r for r in recs if r.augment is None), 3),
                    "voices": len({r.voice for r in recs}),
                    "voices_per_engine": per_engine(recs),
                }
                for split, recs in self.records.items()
            },
            "heldout_voices": sorted(v.name for v in voices if v.heldout),
        }


def wordnet_sentences(seed: int) -> list[str]:
    """WordNet's examples less every sentence of the training text as seed 0 builds it. Every
    seed orders the same packaged sentences; only the generated letters and short phrases
    differ by seed, and a chance match of one of those is harmless to an evaluation."""
    return evaluation_sentences(seed, exclude=build_sentences(0))


# One builder per CorpusConfig.text.
TEXT_BUILDERS: Mapping[str, Callable[[int], list[str]]] = {
    "corpus": build_sentences,
    "wordnet": wordnet_sentences,
}


def sentences_for(
    out: Path, seed: int, build: Callable[[int], list[str]] = build_sentences
) -> list[str]:
    """The run's sentences as the current text rules and installed packages give them, kept in
    `out` (the LM reads them there).

    They are rebuilt on every run (10 s) rather than read back: a list kept from before a
    normalisation rule changed would label new audio by the old rules. When the kept list
    differs, the difference is logged, and the utterances whose text moved are made again.
    """
    path = out / f"sentences-seed{seed}.txt"
    sentences = build(seed)
    kept = path.read_text(encoding="utf-8").splitlines() if path.exists() else None
    if kept == sentences:
        return sentences
    if kept is not None:
        # Position by position: the seeded mix reorders everything after the first change.
        pairs = zip(kept, sentences, strict=False)
        moved = sum(a != b for a, b in pairs) + abs(len(kept) - len(sentences))
        log.warning(
            "%s is stale (text rules or packaged text changed): %d of %d sentences differ; "
            "utterances whose text changed are made again",
            path,
            moved,
            len(sentences),
        )
    atomic_write_text(path, "".join(s + "\n" for s in sentences))
    return sentences


def generate(
    config: CorpusConfig,
    voices: Sequence[Voice],
    sentences: Sequence[str],
    progress: bool = True,
) -> Summary:
    """Plan, synthesise (skipping finished utterances) and write the manifests of `config.out`."""
    config.validate()
    start = time.monotonic()
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    jobs = plan(sentences, voices, config)
    if config.finished_only:
        jobs = [j for j in jobs if _finished(out, j)]
    summary = Summary(records={split: [] for split in SPLITS})
    done: dict[tuple[str, int], tuple[Record, ...]] = {}
    # Finished utterances are only listed: nothing is augmented, so no noise is read.
    noises = load_noises() if config.augmented_copies and not config.finished_only else []
    for outcome in run_jobs(jobs, out, voices, config.workers, noises, progress):
        summary.written += outcome.written
        if outcome.error is not None:
            job = outcome.job
            # An engine's own error names the voice already; an I/O error does not.
            named = outcome.error.startswith(f"{job.voice}:")
            error = outcome.error if named else f"{job.voice}: {outcome.error}"
            summary.failures.append(f"{job.stem} {error}")
            log.warning("dropped %s: %s", job.stem, error)
        done[(outcome.job.split, outcome.job.index)] = outcome.records
    for (split, _), finished in sorted(done.items()):
        summary.records[split].extend(finished)
    for split, records in summary.records.items():
        write_manifest(out / f"{split}.jsonl", records)
    summary.seconds = time.monotonic() - start
    if config.finished_only:
        return summary  # failures.txt and summary.json stay the synthesising run's record
    atomic_write_text(out / "failures.txt", "".join(f + "\n" for f in sorted(summary.failures)))
    catalogue = [asdict(v) for v in voices]
    atomic_write_text(out / "voices.json", json.dumps(catalogue, indent=1) + "\n")
    atomic_write_text(
        out / "summary.json", json.dumps(summary.to_dict(voices, sentences), indent=1) + "\n"
    )
    return summary
