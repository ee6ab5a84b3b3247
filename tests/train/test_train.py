"""One-step-scale training smoke test on real synthesized speech, with resume and export."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from streamasr.engine.recognizer import Recognizer
from streamasr.engine.stream import Stream
from streamasr.model import artifact
from train import data
from train.configs.default import get_smoke_config
from train.train import collapse, learning_rate, train_and_evaluate

SENTENCES = ["one two three", "hello there", "good morning to you", "stop", "go left", "yes no"]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    lines = []
    for i, text in enumerate(SENTENCES):
        wav = folder / f"{i}.wav"
        subprocess.run(["espeak-ng", "-w", str(wav), text], check=True)
        lines.append(json.dumps({"audio_filepath": wav.name, "duration": 1.0, "text": text}))
    path = folder / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_training_runs_resumes_and_exports_a_loadable_model(manifest: Path, tmp_path: Path) -> None:
    config = get_smoke_config().replace(
        train_manifests=(str(manifest),), valid_manifests=(str(manifest),)
    )
    model = train_and_evaluate(config, tmp_path)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    evals = [r for r in log if r["kind"] == "eval"]
    assert evals and evals[-1]["train/cer"] >= 0
    assert (tmp_path / "curves.png").stat().st_size > 1000
    assert model.info and model.info["steps"] == config.num_steps

    # Resuming with a larger budget continues from the checkpoint, not from scratch.
    more = train_and_evaluate(config.replace(num_steps=6), tmp_path)
    assert more.info and more.info["steps"] == config.num_steps  # schedule fixed at first run
    out = tmp_path / "model.streamasr"
    artifact.save(model, out)
    loaded = artifact.load(out)
    stream = Stream(Recognizer(loaded), 22050)
    stream.accept(np.zeros(4000, np.float32))
    assert stream.finish()[-1].is_final


def test_batches_pad_mask_and_respect_the_frame_budget(manifest: Path, tmp_path: Path) -> None:
    config = get_smoke_config()
    features = data.load_features([manifest], config.features, tmp_path)
    assert len(features) == len(SENTENCES)
    stats = data.compute_stats(features)
    keep = data.usable(features, config.length_buckets, config.model.frames_per_step)
    seen = []
    for batch in data.batches(
        features, keep, config.length_buckets, config.batch_frames, stats, np.random.default_rng(0)
    ):
        b, t, _ = batch.frames.shape
        assert b * t <= max(config.batch_frames, t)
        for row, i in enumerate(batch.indices.tolist()):
            if i < 0:
                assert batch.frame_paddings[row].all()
                continue
            seen.append(i)
            n = features.lengths()[i]
            assert batch.frame_paddings[row, :n].sum() == 0 and batch.frame_paddings[row, n:].all()
            assert not batch.frames[row, n:].any()
            assert batch.label_paddings[row].sum() == batch.labels.shape[1] - len(
                features.labels[i]
            )
    assert sorted(seen) == sorted(keep.tolist())
    # The cache is used on the second call.
    again = data.load_features([manifest], config.features, tmp_path)
    np.testing.assert_array_equal(again.frames, features.frames)


def test_ctc_feasibility_counts_repeats() -> None:
    assert data.ctc_feasible([1, 2, 3], 3)
    assert not data.ctc_feasible([1, 1, 2], 3)
    assert data.ctc_feasible([1, 1, 2], 4)


def test_schedule_warms_up_then_decays() -> None:
    config = get_smoke_config().replace(warmup_steps=10, peak_learning_rate=1.0)
    lrs = [learning_rate(config, s, 100) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a < b for a, b in itertools.pairwise(lrs[:10])), "warmup rises"
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:])), "then it only decays"
    assert lrs[-1] == pytest.approx(config.final_learning_rate_fraction, abs=0.01)


def test_collapse_is_greedy_ctc() -> None:
    from streamasr.vocab import SYMBOLS

    ids = [0, SYMBOLS.index("a"), SYMBOLS.index("a"), 0, SYMBOLS.index("a"), SYMBOLS.index(" ")]
    assert collapse(np.array(ids)) == "aa"
