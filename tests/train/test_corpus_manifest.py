"""Manifest records survive a JSONL round trip; relative paths resolve beside the manifest."""

from __future__ import annotations

import json
from pathlib import Path

from train.corpus.manifest import Record, read_manifest, resolve_audio, write_manifest


def test_round_trip_and_optional_augment(tmp_path: Path) -> None:
    records = [
        Record("audio/a.flac", 1.23456, "hello there", "espeak/en-us+m3"),
        Record("/abs/b.flac", 2.0, "it's fine", "pico/en-US", "speed=1.050;gain=-3.0dB"),
    ]
    path = tmp_path / "m.jsonl"
    assert write_manifest(path, records) == 2
    first = json.loads(path.read_text().splitlines()[0])
    assert set(first) == {"audio_filepath", "duration", "text", "voice"}
    back = read_manifest(path)
    assert back[1] == records[1]
    assert back[0].duration == 1.235
    assert resolve_audio(back[0], path) == tmp_path / "audio" / "a.flac"
    assert resolve_audio(back[1], path) == Path("/abs/b.flac")
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_short_names_keep_same_stems_apart() -> None:
    from train.corpus.manifest import short_names

    paths = ["data/corpus/valid_heldout_voices.jsonl", "data/neural/valid_heldout_voices.jsonl"]
    assert short_names([*paths, "data/dev_real.jsonl"]) == [
        "corpus/valid_heldout_voices",
        "neural/valid_heldout_voices",
        "dev_real",
    ]


def test_readable_audio_keeps_only_the_engines_asked_for(tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    from train.corpus.manifest import readable_audio

    voices = ["rhvoice/alan", "espeak/en-us+m3", "pico/en-GB", "rhvoice/slt", "dev_real"]
    records = []
    for i, voice in enumerate(voices):
        sf.write(tmp_path / f"{i}.wav", np.zeros(160, np.float32), 16000)
        records.append(Record(f"{i}.wav", 0.01, f"utterance {i}", voice))
    path = tmp_path / "m.jsonl"
    write_manifest(path, records)
    picked = [r.voice for r, _ in readable_audio(path, engines={"rhvoice", "pico"})]
    assert picked == ["rhvoice/alan", "pico/en-GB", "rhvoice/slt"]
    # The limit counts the engines' utterances, not the manifest's first lines.
    assert [r.voice for r, _ in readable_audio(path, 2, engines={"rhvoice"})] == [
        "rhvoice/alan",
        "rhvoice/slt",
    ]
    assert len(list(readable_audio(path))) == len(voices)
