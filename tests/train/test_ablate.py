"""The ablation harness's own parts: step timing of a saved model and the report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from streamasr.model import artifact
from streamasr.model.artifact import ModelArtifact
from train.ablate import (
    SUMMARY,
    VARIANTS,
    Row,
    measure_step,
    pretraining_minutes,
    run_variant,
    training_minutes,
    write_report,
)


@pytest.mark.slow  # times a compiled step in a subprocess
def test_step_timing_of_a_saved_model(tmp_path: Path, tiny_artifact: ModelArtifact) -> None:
    path = tmp_path / "m.streamasr"
    artifact.save(tiny_artifact, path)
    rtf, streams, parameters = measure_step(path)
    assert 0 < rtf < 1 and streams > 1
    assert parameters == sum(
        int(x.size) for x in __import__("jax").tree_util.tree_leaves(tiny_artifact.params)
    )


def test_report_table_and_curves(tmp_path: Path) -> None:
    png = tmp_path / "curves.png"
    png.write_bytes(b"\x89PNG fake")
    log = tmp_path / "log.jsonl"  # beside the curves, as the trainer writes them
    losses = [{"kind": "train", "step": 50 * i, "loss_per_char": 3 - 0.2 * i} for i in range(10)]
    log.write_text("".join(json.dumps(r) + "\n" for r in [*losses, {"kind": "eval", "time": 90.0}]))
    pretrained = tmp_path / "pretrained.jsonl"
    pretrained.write_text(
        "".join(json.dumps(r) + "\n" for r in [
            {"kind": "pretrain", "step": 50, "time": 60.0, "reconstruction_mse": 0.5},
            {"kind": "pretrain", "step": 100, "time": 180.0, "reconstruction_mse": 0.4},
            {"kind": "eval", "time": 240.0},
        ])
    )  # fmt: skip
    assert pretraining_minutes(log) == 0.0
    rows = [
        Row("GRU", 2_500_000, training_minutes(log), pretraining_minutes(log),
            (0.5, 0.2), (0.9, 0.4), 0.01, 700, str(png)),
        Row("AE", 2_000_000, training_minutes(pretrained), pretraining_minutes(pretrained),
            (0.4, 0.1), (0.8, 0.3), 0.02, 600, str(tmp_path / "none.png")),
    ]  # fmt: skip
    report = tmp_path / "docs" / "architectures.md"
    report.parent.mkdir()
    write_report(rows, 1000, report)
    text = report.read_text()
    assert "| GRU | 2.50 M | 2 | 50.0% | 20.0% | 90.0% | 40.0% | 0.0100 | 700 |" in text
    assert (
        "| AE | 2.00 M | 4 + 3 pretraining | 40.0% | 10.0% | 80.0% | 30.0% | 0.0200 | 600 |" in text
    )
    assert "1000 steps" in text
    overlay = report.parent / "architectures" / "losses.png"
    assert "![losses](architectures/losses.png)" in text
    assert overlay.read_bytes()[:4] == b"\x89PNG" and overlay.stat().st_size > 5000
    # A discussion written under the table survives the next run, once, before the curves.
    discussion = "## What the figures say\n\nGRU wins.\n"
    report.write_text(text.replace("## Curves", discussion + "\n## Curves"))
    write_report(rows[:1], 1000, report)
    write_report(rows, 1000, report)
    again = report.read_text()
    assert again.count("GRU wins.") == 1 and again.count("## Curves") == 1
    assert again.index("| AE |") < again.index("GRU wins.") < again.index("## Curves")
    assert (report.parent / "architectures" / "gru.png").read_bytes() == png.read_bytes()


def test_every_variant_names_known_flags() -> None:
    from train.__main__ import main

    assert SUMMARY.search("WER=0.5000 CER=0.2500 N=18")
    for flags in VARIANTS.values():
        with pytest.raises(SystemExit) as done:  # --help after the flags: parsed, not run
            main([*flags, "--help"])
        assert done.value.code == 0


def test_a_finished_variant_keeps_its_scores_and_is_timed_again(
    tmp_path: Path, tiny_artifact: ModelArtifact, speak: Callable[[str], Path]
) -> None:
    workdir = tmp_path / "variant"
    workdir.mkdir()
    artifact.save(tiny_artifact, workdir / "model.streamasr")  # trained: not retrained
    (workdir / "log.jsonl").write_text(json.dumps({"kind": "eval", "time": 120.0}) + "\n")
    manifest = tmp_path / "m.jsonl"
    record = {"audio_filepath": str(speak("go home")), "duration": 1, "text": "go home"}
    manifest.write_text(json.dumps({**record, "voice": "espeak"}) + "\n")

    first = run_variant("tiny", (), workdir, 10, str(manifest), str(manifest), None)
    assert first.train_minutes == 2.0 and first.pretrain_minutes == 0.0
    assert first.rtf_batch1 > 0 and first.streams_per_core > 1
    assert first.heldout[1] >= 0 and first.heldout == first.real  # same manifest, same model
    # Mark the kept scores: a second run reports them instead of evaluating again...
    scores = json.loads((workdir / "scores.json").read_text())
    (workdir / "scores.json").write_text(json.dumps({**scores, "heldout": [0.25, 0.125]}))
    again = run_variant("tiny", (), workdir, 10, str(manifest), str(manifest), None)
    assert again.heldout == (0.25, 0.125) and again.real == first.real
    # ...unless it is asked about other data.
    other = run_variant("tiny", (), workdir, 10, str(manifest), str(manifest), 1)
    assert other.heldout == first.heldout
