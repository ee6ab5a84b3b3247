"""Real-corpus loaders on tiny fixtures in the published LibriSpeech and Common Voice layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from train.corpus.loaders import common_voice, librispeech


def tone(path: Path, seconds: float, rate: int) -> None:
    """A short test signal; the loaders read layout and transcripts, not speech."""
    t = np.arange(int(seconds * rate)) / rate
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), 0.1 * np.sin(2 * np.pi * 220 * t), rate)


def test_librispeech_layout(tmp_path: Path) -> None:
    chapter = tmp_path / "dev-clean" / "84" / "121123"
    chapter.mkdir(parents=True)
    (chapter / "84-121123.trans.txt").write_text(
        "84-121123-0000 GO DO YOU HEAR\n"
        "84-121123-0001 BUT IN LESS THAN FIVE MINUTES THE STAIRCASE GROANED\n"
        "84-121123-0002 THIS ONE HAS NO AUDIO FILE\n"
    )
    tone(chapter / "84-121123-0000.flac", 1.5, 16000)
    tone(chapter / "84-121123-0001.flac", 2.0, 16000)
    loaded = librispeech(tmp_path / "dev-clean")
    assert loaded.skipped == 1
    assert [r.text for r in loaded.records] == [
        "go do you hear",
        "but in less than five minutes the staircase groaned",
    ]
    assert [round(r.duration, 2) for r in loaded.records] == [1.5, 2.0]
    assert {r.voice for r in loaded.records} == {"librispeech/84"}
    assert all(Path(r.audio_filepath).is_absolute() for r in loaded.records)


def test_librispeech_missing_dir(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        librispeech(tmp_path / "nope")


def test_common_voice_tsv(tmp_path: Path) -> None:
    ext = "mp3" if "MP3" in sf.available_formats() else "wav"
    tone(tmp_path / "clips" / f"common_voice_en_1.{ext}", 1.0, 48000)
    tone(tmp_path / "clips" / f"common_voice_en_2.{ext}", 2.0, 48000)
    tone(tmp_path / "clips" / f"common_voice_en_3.{ext}", 1.0, 48000)
    (tmp_path / "dev.tsv").write_text(
        "client_id\tpath\tsentence\tup_votes\tdown_votes\n"
        f"abcdef0123456789\tcommon_voice_en_1.{ext}\tIt's 5 o'clock, \"Bob\"!\t2\t0\n"
        f"ffff\tcommon_voice_en_2.{ext}\tThe café opened in 1999.\t2\t0\n"
        f"ffff\tcommon_voice_en_3.{ext}\tЭто не английский.\t2\t0\n"
        f"ffff\tmissing.{ext}\tNo audio here.\t2\t0\n"
    )
    loaded = common_voice(tmp_path / "dev.tsv")
    assert [r.text for r in loaded.records] == [
        "it's five o'clock bob",
        "the cafe opened in nineteen ninety nine",
    ]
    assert loaded.skipped == 2
    assert loaded.records[0].voice == "commonvoice/abcdef012345"
    assert abs(loaded.records[1].duration - 2.0) < 0.1


def test_common_voice_needs_columns(tmp_path: Path) -> None:
    (tmp_path / "x.tsv").write_text("client_id\tfile\n")
    with pytest.raises(ValueError, match="missing columns"):
        common_voice(tmp_path / "x.tsv")
