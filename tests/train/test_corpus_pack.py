from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from streamasr.audio.files import read_audio
from streamasr.audio.resample import resample
from streamasr.features import mfcc
from streamasr.features.mfcc import FeatureConfig
from train.corpus.manifest import Record, read_manifest, resolve_audio, write_manifest
from train.corpus.pack import chosen, main, opus_level

SENTENCE = "the birch canoe slid on the smooth planks, glue the sheet to the dark blue background"


def test_packed_speech_reads_back_as_the_same_features_at_a_tenth_of_the_size(
    tmp_path: Path, speak: Callable[[str], Path]
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    wav = speak(SENTENCE)  # 22.05 kHz: packing resamples to the model's 16 kHz
    original = read_audio(wav)
    records = [Record(str(wav), original.duration, SENTENCE, "espeak/en", "noise=pink@20dB")]
    write_manifest(corpus / "train.jsonl", records)
    assert (
        main([str(corpus / "train.jsonl"), "--out", str(tmp_path / "packed"), "--kbps", "16"]) == 0
    )

    manifest = tmp_path / "packed" / "corpus" / "train.jsonl"
    [packed] = read_manifest(manifest)
    assert packed.audio_filepath == "audio/train/000000.opus"  # relative: the folder can move
    assert (packed.text, packed.voice, packed.augment) == (SENTENCE, "espeak/en", "noise=pink@20dB")
    audio = read_audio(resolve_audio(packed, manifest))
    assert audio.sample_rate == mfcc.SAMPLE_RATE
    assert abs(audio.duration - original.duration) < 0.03
    kbps = resolve_audio(packed, manifest).stat().st_size * 8 / audio.duration / 1000
    assert 8 < kbps < 24  # about the asked 16 kbit/s, against the 22.05 kHz WAV's 353
    # What training sees: the log-mel frames of the packed audio follow the original's.
    config = FeatureConfig()
    before = mfcc.extract_all(config, resample(original.samples, original.sample_rate))
    after = mfcc.extract_all(config, audio.samples)
    n = min(len(before), len(after))
    speech = before[:n].mean(axis=1) > np.percentile(before[:n].mean(axis=1), 30)
    correlation = np.corrcoef(before[:n][speech].ravel(), after[:n][speech].ravel())[0, 1]
    assert correlation > 0.95


def test_a_second_run_keeps_what_is_packed(tmp_path: Path, speak: Callable[[str], Path]) -> None:
    wav = speak("one two three")
    write_manifest(tmp_path / "c" / "train.jsonl", [Record(str(wav), 1.0, "one two three", "e")])
    args = [str(tmp_path / "c" / "train.jsonl"), "--out", str(tmp_path / "p")]
    main(args)
    opus = tmp_path / "p" / "c" / "audio" / "train" / "000000.opus"
    opus.write_bytes(b"kept")  # a stand-in: a re-encode would overwrite it
    main(args)
    assert opus.read_bytes() == b"kept"


def test_hours_cap_draws_across_the_manifest_in_its_order() -> None:
    records = [Record(f"{i}.flac", 36.0, str(i), "v") for i in range(100)]  # 1 h in all
    picked = chosen(records, 0.25, seed=0)
    assert len(picked) == 25
    numbers = [int(r.text) for r in picked]
    assert numbers == sorted(numbers)
    assert numbers[-1] - numbers[0] > 50  # from all of it, not its head
    assert chosen(records, 0.25, seed=0) == picked
    assert chosen(records, None, seed=0) == records


@pytest.mark.parametrize("kbps", [4.0, 300.0])
def test_bitrates_libsndfile_cannot_encode_are_refused(kbps: float) -> None:
    with pytest.raises(ValueError, match="6 to 256"):
        opus_level(kbps)


def test_two_manifests_that_would_collide_are_refused(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        write_manifest(tmp_path / folder / "x" / "train.jsonl", [])
    with pytest.raises(SystemExit):
        main(
            [
                str(tmp_path / "a" / "x" / "train.jsonl"),
                str(tmp_path / "b" / "x" / "train.jsonl"),
                "--out",
                str(tmp_path / "p"),
            ]
        )


def test_a_missing_audio_file_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_manifest(tmp_path / "c" / "train.jsonl", [Record("gone.flac", 1.0, "a", "e")])
    assert main([str(tmp_path / "c" / "train.jsonl"), "--out", str(tmp_path / "p")]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("pack: error: ") and "gone.flac: no such file" in line
