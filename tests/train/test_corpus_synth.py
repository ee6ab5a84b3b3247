"""The corpus generator: a deterministic plan, resumable runs, failures that drop one utterance."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from train.corpus.__main__ import main, parse_args
from train.corpus.manifest import read_manifest, resolve_audio
from train.corpus.plan import SPLITS, CorpusConfig, plan
from train.corpus.synth import generate, sentences_for, trim_silence
from train.corpus.voices import SAMPLE_RATE, Voice

VOICES = [
    Voice("espeak/en-us+m3", "espeak", "en-us+m3", False),
    Voice("espeak/en-gb+f2", "espeak", "en-gb+f2", False),
    Voice("mbrola/mb-us1", "mbrola", "mb-us1", False),
    Voice("espeak/en-gb-scotland+f4", "espeak", "en-gb-scotland+f4", True),
]
NUMBERS = ("one", "two", "three", "four", "five", "six", "seven")
SENTENCES = [f"this is sentence number {w}" for w in NUMBERS]
SENTENCES += ["a short test", "another small example here", "the end is near now"]


def config(out: Path, **kw: object) -> CorpusConfig:
    base: dict[str, object] = dict(
        out=out, seed=3, train_sentences=5, heldout_sentences=2, seen_sentences=2, workers=1
    )
    base.update(kw)
    return CorpusConfig(**base)  # type: ignore[arg-type]


def test_plan_is_deterministic_and_seeded(tmp_path: Path) -> None:
    a = plan(SENTENCES, VOICES, config(tmp_path))
    assert a == plan(SENTENCES, VOICES, config(tmp_path))
    assert a != plan(SENTENCES, VOICES, config(tmp_path, seed=4))


def test_plan_splits_sentences_and_voices(tmp_path: Path) -> None:
    jobs = plan(SENTENCES, VOICES, config(tmp_path, train_sentences=40))  # train cycles
    texts = {s: {j.text for j in jobs if j.split == s} for s in SPLITS}
    assert not texts["train"] & texts["valid_heldout_voices"]
    assert not texts["train"] & texts["valid_seen_voices"]
    heldout = {v.name for v in VOICES if v.heldout}
    for j in jobs:
        assert (j.voice in heldout) == (j.split == "valid_heldout_voices")
    counts = {s: sum(j.split == s for j in jobs) for s in SPLITS}
    assert counts == {"train": 40, "valid_heldout_voices": 2, "valid_seen_voices": 2}


def test_plan_by_hours_is_a_prefix_of_a_longer_plan(tmp_path: Path) -> None:
    short = plan(SENTENCES * 50, VOICES, config(tmp_path, train_sentences=None, train_hours=0.05))
    long = plan(SENTENCES * 50, VOICES, config(tmp_path, train_sentences=None, train_hours=0.1))
    assert 0 < len(short) < len(long) and long[: len(short)] == short


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"train_sentences": None}, "exactly one"),
        ({"train_hours": 1.0}, "exactly one"),
        ({"workers": 0}, "workers"),
        ({"engines": ("nosuch",)}, "unknown engines"),
        ({"augmented_copies": -1}, "augmented_copies"),
    ],
)
def test_bad_config_is_refused(tmp_path: Path, kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config(tmp_path, **kw).validate()


def test_cli_refuses_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--out", "x", "--sentences", "5", "--workers", "0"])
    assert "workers" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--out", "x"])  # neither --hours nor --sentences


def test_cli_says_in_one_line_why_a_corpus_cannot_be_planned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    heldout_only = [v for v in VOICES if v.heldout]  # e.g. --engines silero with --sentences 1
    monkeypatch.setattr("train.corpus.__main__.installed_voices", lambda engines: heldout_only)
    monkeypatch.setattr("train.corpus.__main__.sentences_for", lambda out, seed, build: SENTENCES)
    out = tmp_path / "corpus"
    assert main(["--out", str(out), "--sentences", "1", "--heldout", "1", "--seen", "0"]) == 2
    assert capsys.readouterr().err.strip() == (
        "python -m train.corpus: error: no training voices installed "
        "(a held-out engine such as piper or silero never trains)"
    )
    assert not (out / "audio").exists()


def test_trim_silence_keeps_margin() -> None:
    x = np.zeros(SAMPLE_RATE * 3, dtype=np.float32)
    x[SAMPLE_RATE : 2 * SAMPLE_RATE] = 0.5
    y = trim_silence(x, keep_s=0.2)
    assert abs(len(y) / SAMPLE_RATE - 1.4) < 0.02


def _snapshot(out: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(out)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted((out / "audio").rglob("*.flac"))
    }


@pytest.mark.usefixtures("needs_espeak")
def test_generate_then_resume_after_interruption(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    cfg = config(out, workers=2)
    generate(cfg, VOICES, SENTENCES, progress=False)
    manifests = {s: (out / f"{s}.jsonl").read_text() for s in SPLITS}
    full = _snapshot(out)
    assert len(full) == 5 * 2 + 2 + 2  # train clean + augmented, two validation splits

    for split in SPLITS:
        for r in read_manifest(out / f"{split}.jsonl"):
            info = sf.info(str(resolve_audio(r, out / f"{split}.jsonl")))
            assert info.samplerate == SAMPLE_RATE and info.subtype == "PCM_16"
            assert abs(info.duration - r.duration) < 0.01
            assert (r.augment is not None) == r.audio_filepath.endswith("-aug1.flac")

    # Simulate a run stopped part-way: manifests not yet written, the last utterances missing,
    # one utterance with its clean file but not its augmented copy, a stray temporary file.
    for split in SPLITS:
        (out / f"{split}.jsonl").unlink()
    removed = [
        "audio/train/000/train-000004.flac",
        "audio/train/000/train-000004-aug1.flac",
        "audio/train/000/train-000003-aug1.flac",  # its clean file stays
        "audio/valid_seen_voices/000/valid_seen_voices-000001.flac",
    ]
    for rel in removed:
        (out / rel).unlink()
        stem = (out / rel).name.split("-aug")[0].removesuffix(".flac")
        (out / rel).with_name(stem + ".jsonl").unlink(missing_ok=True)
    (out / "audio" / "train" / "000" / ".train-000000.flac.123.tmp").write_bytes(b"partial")
    kept = {k: v for k, v in full.items() if k not in removed}

    summary = generate(cfg, VOICES, SENTENCES, progress=False)
    assert summary.written == len(removed)
    after = _snapshot(out)
    for rel, (mtime, data) in kept.items():
        assert after[rel] == (mtime, data), f"{rel} was rewritten"
    for rel in removed:
        assert after[rel][1] == full[rel][1], f"{rel} differs: the plan is not deterministic"
    assert {s: (out / f"{s}.jsonl").read_text() for s in SPLITS} == manifests

    # A finished corpus is left alone.
    assert generate(cfg, VOICES, SENTENCES, progress=False).written == 0


@pytest.mark.usefixtures("needs_espeak")
def test_engine_failure_drops_only_that_utterance(tmp_path: Path) -> None:
    broken = Voice("espeak/broken", "espeak", "nosuch-voice", False)
    cfg = config(tmp_path, train_sentences=6, augmented_copies=0, heldout_sentences=0)
    summary = generate(cfg, [VOICES[0], broken], SENTENCES, progress=False)
    train = read_manifest(tmp_path / "train.jsonl")
    assert summary.failures and all(f.count("espeak/broken") == 1 for f in summary.failures)
    assert len(train) + sum("train-" in f for f in summary.failures) == 6
    assert {r.voice for r in train} == {"espeak/en-us+m3"}
    assert (tmp_path / "failures.txt").read_text().count("\n") == len(summary.failures)
    # Writing the finished manifests leaves the synthesising run's record of what failed.
    record = {f: (tmp_path / f).read_text() for f in ("failures.txt", "summary.json")}
    listed = generate(replace(cfg, finished_only=True), [VOICES[0], broken], SENTENCES, False)
    assert not listed.failures and read_manifest(tmp_path / "train.jsonl") == train
    assert {f: (tmp_path / f).read_text() for f in record} == record


@pytest.mark.usefixtures("needs_espeak")
def test_a_resumed_run_remakes_utterances_whose_voice_changed(tmp_path: Path) -> None:
    """Installing another voice re-plans some utterances onto it: those are made again with
    it (never kept under the old voice's audio); the others are kept."""
    out = tmp_path / "corpus"
    cfg = config(out, train_sentences=6, augmented_copies=1, heldout_sentences=0)
    generate(cfg, VOICES[:1], SENTENCES, progress=False)
    before = _snapshot(out)
    more = [*VOICES[:1], Voice("espeak/en-gb+f2", "espeak", "en-gb+f2", False)]
    generate(cfg, more, SENTENCES, progress=False)
    after = _snapshot(out)
    records = read_manifest(out / "train.jsonl") + read_manifest(out / "valid_seen_voices.jsonl")
    moved = [r for r in records if r.voice == "espeak/en-gb+f2"]
    assert moved and len(moved) < len(records)
    for r in records:
        changed = after[r.audio_filepath][1] != before[r.audio_filepath][1]
        assert changed == (r.voice == "espeak/en-gb+f2"), r.audio_filepath


def test_the_sentence_list_follows_the_current_text_rules_on_a_resumed_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A list kept from before a normalisation rule changed is replaced, and the change is
    reported: a resumed run must never label new audio by the old rules."""
    rules = {"today": "to day"}

    def build(seed: int) -> list[str]:
        return [f"{rules['today']} is the day", "nothing changes here"]

    first = sentences_for(tmp_path, 0, build)
    assert first == ["to day is the day", "nothing changes here"]
    rules["today"] = "today"
    with caplog.at_level(logging.WARNING):
        second = sentences_for(tmp_path, 0, build)
    assert second == ["today is the day", "nothing changes here"]
    kept = (tmp_path / "sentences-seed0.txt").read_text(encoding="utf-8").splitlines()
    assert kept == second
    assert "1 of 2 sentences differ" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert sentences_for(tmp_path, 0, build) == second
    assert caplog.text == ""


@pytest.mark.usefixtures("needs_espeak")
def test_finished_only_writes_what_a_stopped_run_made_and_synthesises_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "corpus"
    generate(config(out, train_sentences=3), VOICES, SENTENCES, progress=False)
    (out / "audio" / "train" / "000" / "train-000001.jsonl").unlink()  # stopped mid-utterance

    def no_noises() -> list[np.ndarray]:
        raise AssertionError("nothing is augmented, so no noise recording is read")

    monkeypatch.setattr("train.corpus.synth.load_noises", no_noises)
    summary = generate(
        config(out, train_sentences=5, finished_only=True), VOICES, SENTENCES, progress=False
    )
    assert summary.written == 0 and not summary.failures
    train = read_manifest(out / "train.jsonl")
    assert sorted({Path(r.audio_filepath).name.split("-aug")[0][:12] for r in train}) == [
        "train-000000",
        "train-000002",
    ]
    assert not (out / "audio" / "train" / "000" / "train-000003.flac").exists()
    assert len(read_manifest(out / "valid_seen_voices.jsonl")) == 2


def test_an_evaluation_corpus_of_held_out_voices_alone_plans_only_them(tmp_path: Path) -> None:
    heldout_only = [v for v in VOICES if v.heldout]
    jobs = plan(SENTENCES, heldout_only, config(tmp_path, train_sentences=0, seen_sentences=0))
    assert [j.split for j in jobs] == ["valid_heldout_voices"] * 2
    for nothing_to_train_with in (
        config(tmp_path, train_sentences=1, seen_sentences=0),
        config(tmp_path, train_sentences=0, seen_sentences=1),
    ):
        with pytest.raises(ValueError, match="no training voices"):
            plan(SENTENCES, heldout_only, nothing_to_train_with)
    trained_only = [v for v in VOICES if not v.heldout]
    with pytest.raises(ValueError, match="no held-out voices"):
        plan(SENTENCES, trained_only, config(tmp_path, train_sentences=0, seen_sentences=0))


def test_wordnet_text_is_spoken_only_by_evaluation_sets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--text wordnet plans its sentences (through its own builder), and never trains."""
    for trains in (["--sentences", "1"], ["--hours", "1"]):
        with pytest.raises(SystemExit):
            parse_args(["--out", "x", "--text", "wordnet", *trains])
        assert "never trains" in capsys.readouterr().err
    config_ = parse_args(["--out", "x", "--text", "wordnet", "--sentences", "0", "--seen", "2"])
    assert config_.text == "wordnet"
    built: list[str] = []
    monkeypatch.setattr(
        "train.corpus.__main__.TEXT_BUILDERS",
        {"corpus": lambda seed: SENTENCES, "wordnet": lambda seed: built.append("wn") or WORDNET},
    )
    monkeypatch.setattr("train.corpus.__main__.installed_voices", lambda engines: VOICES)
    spoken: list[str] = []

    class Planned:
        def __init__(self, config: CorpusConfig, voices: list[Voice], sentences: list[str]):
            spoken.extend(j.text for j in plan(sentences, voices, config))

        def to_dict(self, voices: object, sentences: object) -> dict[str, int]:
            return {"utterances": len(spoken)}

    monkeypatch.setattr("train.corpus.__main__.generate", Planned)
    argv = ["--out", str(tmp_path), "--text", "wordnet", "--sentences", "0", "--heldout", "2"]
    assert main([*argv, "--seen", "2"]) == 0
    assert built == ["wn"]
    assert spoken == WORDNET[:4]  # two held-out, two seen voices' sentences; nothing trains


WORDNET = ["take care when you cross the street", "she turned the pages", "a real woman"]
WORDNET += ["the cattle thief has a price on his head", "charitable to the poor"]
