"""The intelligibility gate: which voices and utterances it drops, and its per-engine report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from train.corpus.manifest import Record, read_manifest, write_manifest
from train.gate import GateConfig, judge, keep, run, sample, utterance_key


def rec(voice: str, index: int, text: str = "the cat sat on the mat", aug: int = 0) -> Record:
    stem = f"train/000/train-{index:06d}"
    path = f"audio/{stem}-aug{aug}.flac" if aug else f"audio/{stem}.flac"
    return Record(path, 1.0, text, voice, f"noise@{aug}" if aug else None)


def test_sample_takes_the_first_clean_utterances_of_each_voice() -> None:
    records = [rec("a/x", 0), rec("a/x", 0, aug=1), rec("a/x", 1), rec("a/x", 2), rec("b/y", 3)]
    assert sample(records, 2) == [records[0], records[2], records[4]]


def test_utterance_key_ties_copies_to_their_clean_file() -> None:
    assert utterance_key(rec("a/x", 7)) == utterance_key(rec("a/x", 7, aug=2))
    assert utterance_key(rec("a/x", 7)) != utterance_key(rec("a/x", 8))


def test_garbled_voice_is_dropped_whole_and_bad_utterances_alone() -> None:
    records = [
        rec("kokoro/good", 0),
        rec("kokoro/good", 0, aug=1),
        rec("kokoro/good", 1),
        rec("kokoro/good", 2),  # not sampled: kept
        rec("kokoro/bad", 3),
        rec("kokoro/bad", 4),
    ]
    sampled = sample(records, 2)
    hyps = ["the cat sat on a hat mop bin", "the cat sat on the mat", "garbled", "noise noise"]
    verdict = judge(sampled, hyps, GateConfig(per_voice=2))
    assert verdict.dropped_voices == {"kokoro/bad"}
    # Utterance 0 is too bad (4 of 6 words wrong) though its voice passes (pooled 4/12).
    assert verdict.dropped_utterances == {utterance_key(records[0])} | {
        utterance_key(r) for r in records[4:]
    }
    assert keep(records, verdict) == [records[2], records[3]]


def test_a_perfect_voice_keeps_everything() -> None:
    records = [rec("piper/joe", i) for i in range(3)]
    verdict = judge(records, [r.text for r in records], GateConfig())
    assert keep(records, verdict) == records and verdict.voice_wer == {"piper/joe": 0.0}


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="per_voice"):
        GateConfig(per_voice=0)
    with pytest.raises(ValueError, match="max_voice_wer"):
        GateConfig(max_voice_wer=-0.1)


def test_run_writes_the_gated_manifest_and_caches_transcripts(tmp_path: Path) -> None:
    records = [rec("kokoro/a", 0), rec("kokoro/a", 0, aug=1), rec("espeak/b", 1)]
    for r in records:
        (tmp_path / r.audio_filepath).parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(tmp_path / r.audio_filepath), np.zeros(1600), 16000)
    write_manifest(tmp_path / "train.jsonl", records)
    heard: list[int] = []

    def whisper(samples: np.ndarray, rate: int) -> str:
        heard.append(len(samples))
        return "the cat sat on the mat" if len(heard) == 1 else "something else entirely"

    report = run(tmp_path, GateConfig(per_voice=1), whisper)
    assert read_manifest(tmp_path / "train.gated.jsonl") == records[:2]
    engines = report["engines"]
    assert isinstance(engines, dict)
    assert engines["espeak"]["voices_dropped"] == 1 and engines["kokoro"]["voices_dropped"] == 0
    assert json.loads((tmp_path / "gate.json").read_text())["dropped_voices"] == {"espeak/b": 1.0}
    run(tmp_path, GateConfig(per_voice=1), whisper)  # a re-run reads the cache
    assert len(heard) == 2
