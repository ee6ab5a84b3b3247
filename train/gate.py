"""The intelligibility gate: keep only the TTS speech that a recogniser trained on people can read.

Why: a blended Kokoro speaker, a Piper noise setting or an espeak-ng variant can come out
garbled; training on speech whose words cannot be heard teaches the model the wrong thing.
Whisper base (train/whisper.py) transcribes a sample of every voice's clean utterances:

- a voice whose sampled WER (pooled over its samples) exceeds `max_voice_wer` is dropped whole;
- a sampled utterance whose own WER exceeds `max_utterance_wer` is dropped (with its augmented
  copies), even when its voice passes.

    python -m train.gate data/neural --per-voice 2

writes `train.gated.jsonl` (the training manifest less what was dropped) and `gate.json`
(per-voice WER and per-engine counts of voices, utterances and hours dropped) into the corpus
directory. Transcripts are cached in `gate-transcripts.jsonl`, so a re-run after the corpus grew
only transcribes the new samples.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np

from train.corpus.manifest import (
    Record,
    atomic_write_text,
    engine_of,
    read_manifest,
    resolve_audio,
    write_manifest,
)

MAX_VOICE_WER = 0.35  # a voice read back worse than this is not speech to learn from
MAX_UTTERANCE_WER = 0.5  # nor is one utterance read back worse than this
PER_VOICE = 2  # clean utterances sampled per voice


@dataclass(frozen=True)
class GateConfig:
    per_voice: int = PER_VOICE  # clean utterances transcribed per voice
    max_voice_wer: float = MAX_VOICE_WER  # drop a voice above this pooled WER
    max_utterance_wer: float = MAX_UTTERANCE_WER  # drop a sampled utterance above this WER

    def __post_init__(self) -> None:
        if self.per_voice < 1:
            raise ValueError(f"per_voice must be >= 1, got {self.per_voice}")
        for name in ("max_voice_wer", "max_utterance_wer"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


def sample(records: Sequence[Record], per_voice: int) -> list[Record]:
    """The first `per_voice` clean utterances of each voice, in manifest order."""
    taken: dict[str, int] = defaultdict(int)
    out = []
    for r in records:
        if r.augment is None and taken[r.voice] < per_voice:
            taken[r.voice] += 1
            out.append(r)
    return out


def utterance_key(record: Record) -> str:
    """What identifies an utterance and all its augmented copies: the clean file's stem."""
    stem = Path(record.audio_filepath).name.split(".")[0]
    return stem.split("-aug")[0]


@dataclass(frozen=True)
class Verdict:
    voice_wer: dict[str, float]  # pooled WER of each sampled voice
    dropped_voices: frozenset[str]
    dropped_utterances: frozenset[str]  # utterance_key of sampled utterances above the limit


def judge(sampled: Sequence[Record], hypotheses: Sequence[str], config: GateConfig) -> Verdict:
    """Decide from the sampled references and Whisper's hypotheses (pure)."""
    refs: dict[str, list[str]] = defaultdict(list)
    hyps: dict[str, list[str]] = defaultdict(list)
    bad: set[str] = set()
    for record, hyp in zip(sampled, hypotheses, strict=True):
        refs[record.voice].append(record.text)
        hyps[record.voice].append(hyp)
        if float(jiwer.wer(record.text, hyp)) > config.max_utterance_wer:
            bad.add(utterance_key(record))
    voice_wer = {v: float(jiwer.wer(refs[v], hyps[v])) for v in refs}
    dropped = frozenset(v for v, w in voice_wer.items() if w > config.max_voice_wer)
    return Verdict(voice_wer, dropped, frozenset(bad))


def keep(records: Sequence[Record], verdict: Verdict) -> list[Record]:
    return [
        r
        for r in records
        if r.voice not in verdict.dropped_voices
        and utterance_key(r) not in verdict.dropped_utterances
    ]


def summary(
    records: Sequence[Record], kept: Sequence[Record], verdict: Verdict
) -> dict[str, object]:
    """Per engine: voices judged and dropped, utterances and hours before and after."""
    kept_ids = {id(r) for r in kept}
    engines: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for v, wer in verdict.voice_wer.items():
        e = engines[engine_of(v)]
        e["voices_judged"] += 1
        e["voices_dropped"] += v in verdict.dropped_voices
        e["sampled_wer_sum"] += wer
    for r in records:
        e = engines[engine_of(r.voice)]
        e["utterances"] += 1
        e["hours"] += r.duration / 3600
        if id(r) not in kept_ids:
            e["utterances_dropped"] += 1
            e["hours_dropped"] += r.duration / 3600
    out: dict[str, object] = {}
    for name, e in sorted(engines.items()):
        judged = e.get("voices_judged", 0)
        out[name] = {
            "voices_judged": int(judged),
            "voices_dropped": int(e.get("voices_dropped", 0)),
            "mean_voice_wer": round(e.get("sampled_wer_sum", 0) / judged, 4) if judged else None,
            "utterances": int(e.get("utterances", 0)),
            "utterances_dropped": int(e.get("utterances_dropped", 0)),
            "hours": round(e.get("hours", 0), 3),
            "hours_dropped": round(e.get("hours_dropped", 0), 3),
        }
    return out


def transcribe_cached(
    manifest: Path,
    records: Sequence[Record],
    transcribe: Callable[[np.ndarray, int], str],
    cache: Path,
) -> list[str]:
    """Whisper's text for each record, reading and extending the cache of earlier runs."""
    from streamasr.audio.files import read_audio

    known: dict[str, str] = {}
    if cache.exists():
        for line in cache.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            known[entry["audio_filepath"]] = entry["hypothesis"]
    out = []
    with cache.open("a", encoding="utf-8") as log:
        for r in records:
            if r.audio_filepath not in known:
                audio = read_audio(resolve_audio(r, manifest))
                known[r.audio_filepath] = transcribe(audio.samples, audio.sample_rate)
                entry = {"audio_filepath": r.audio_filepath, "hypothesis": known[r.audio_filepath]}
                log.write(json.dumps(entry) + "\n")
                log.flush()
            out.append(known[r.audio_filepath])
    return out


def run(
    corpus: Path, config: GateConfig, transcribe: Callable[[np.ndarray, int], str]
) -> dict[str, object]:
    manifest = corpus / "train.jsonl"
    records = list(read_manifest(manifest))
    sampled = sample(records, config.per_voice)
    hyps = transcribe_cached(manifest, sampled, transcribe, corpus / "gate-transcripts.jsonl")
    verdict = judge(sampled, hyps, config)
    kept = keep(records, verdict)
    write_manifest(corpus / "train.gated.jsonl", kept)
    report: dict[str, object] = {
        "config": config.__dict__,
        "engines": summary(records, kept, verdict),
        "dropped_voices": {
            v: round(verdict.voice_wer[v], 4) for v in sorted(verdict.dropped_voices)
        },
        "voice_wer": {v: round(w, 4) for v, w in sorted(verdict.voice_wer.items())},
    }
    atomic_write_text(corpus / "gate.json", json.dumps(report, indent=1) + "\n")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.gate", description=__doc__.split("\n")[0])
    p.add_argument("corpus", type=Path, help="corpus directory (with train.jsonl)")
    p.add_argument("--per-voice", type=int, default=PER_VOICE, help="utterances per voice")
    p.add_argument("--max-voice-wer", type=float, default=MAX_VOICE_WER, help="voice limit")
    p.add_argument("--max-utterance-wer", type=float, default=MAX_UTTERANCE_WER)
    p.add_argument("--threads", type=int, default=1, help="CPU threads for Whisper")
    args = p.parse_args(argv)
    if not (args.corpus / "train.jsonl").is_file():
        print(f"gate: error: no {args.corpus / 'train.jsonl'}", file=sys.stderr)
        return 2
    try:
        config = GateConfig(args.per_voice, args.max_voice_wer, args.max_utterance_wer)
    except ValueError as e:
        p.error(str(e))
    from train.whisper import transcriber

    report = run(args.corpus, config, transcriber(args.threads))
    print(json.dumps({k: v for k, v in report.items() if k != "voice_wer"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
