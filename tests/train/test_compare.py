"""The paired bootstrap that says whether an ablation difference is more than noise."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import jiwer
import numpy as np
import pytest

from streamasr.model import artifact
from streamasr.model.artifact import ModelArtifact
from train.compare import as_sent, character_edits, paired_bootstrap


@pytest.mark.parametrize(
    ("ref", "hyp"), [("the weather", "the whether"), ("go home", ""), ("stop", "stop it")]
)
def test_edits_pool_to_jiwers_cer(ref: str, hyp: str) -> None:
    expected = jiwer.cer(ref, hyp) if hyp else 1.0
    assert character_edits(ref, hyp) / len(ref) == pytest.approx(expected)


def test_interval_separates_a_real_difference_and_not_noise() -> None:
    rng = np.random.default_rng(1)
    lengths = rng.integers(20, 80, size=300)
    a = rng.binomial(lengths, 0.30)
    better = rng.binomial(lengths, 0.25)
    low, high = paired_bootstrap(a, better, lengths)
    assert high < 0 and low < -0.02  # 5 points on 300 utterances: separated
    # Two models with the same error rate: a 95% interval excludes 0 about 1 time in 20.
    separated = 0
    for seed in range(40):
        same = rng.binomial(lengths, 0.30)
        low, high = paired_bootstrap(a, same, lengths, resamples=500, seed=seed)
        separated += not low < 0 < high
    assert separated <= 6
    assert paired_bootstrap(a, a, lengths) == (0.0, 0.0)


def test_command_compares_two_models_on_real_speech(
    tmp_path: Path, tiny_artifact: ModelArtifact, speak: Callable[[str], Path]
) -> None:
    model = tmp_path / "m.streamasr"
    artifact.save(tiny_artifact, model)
    manifest = tmp_path / "m.jsonl"
    record = {"audio_filepath": str(speak("go home")), "duration": 1, "text": "go home"}
    manifest.write_text(json.dumps(record) + "\n")
    cmd = [sys.executable, "-m", "train.compare", str(model), str(model), str(manifest)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert "DIFF=+0.0000 CI95=[+0.0000,+0.0000] N=1 not separated" in out
    narrow = subprocess.run([*cmd, "--send-rate", "8000"], capture_output=True, text=True)
    assert narrow.returncode == 0 and "N=1" in narrow.stdout
    missing = subprocess.run([*cmd[:-1], str(tmp_path / "none.jsonl")], capture_output=True)
    assert missing.returncode == 2 and b"no such manifest" in missing.stderr


def test_command_leaves_out_utterances_whose_text_a_training_manifest_holds(
    tmp_path: Path, tiny_artifact: ModelArtifact, speak: Callable[[str], Path]
) -> None:
    model = tmp_path / "m.streamasr"
    artifact.save(tiny_artifact, model)
    texts = ["go home", "turn left", "go home"]
    manifest = tmp_path / "heldout.jsonl"
    manifest.write_text(
        "".join(
            json.dumps({"audio_filepath": str(speak(t)), "duration": 1, "text": t}) + "\n"
            for t in texts
        )
    )
    trained = tmp_path / "train.jsonl"
    trained.write_text(json.dumps({"audio_filepath": "x.flac", "duration": 1, "text": "go home"}))
    cmd = [sys.executable, "-m", "train.compare", str(model), str(model), str(manifest)]
    kept = subprocess.run([*cmd, "--unheard-text", str(trained)], capture_output=True, text=True)
    assert kept.returncode == 0, kept.stderr
    assert "left out 2 utterances" in kept.stdout and "N=1 " in kept.stdout
    assert "N=3 " in subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    # The first utterance is left out before --limit counts: one is still compared.
    first = subprocess.run(
        [*cmd, "--unheard-text", str(trained), "--limit", "1"], capture_output=True, text=True
    )
    assert first.returncode == 0 and "N=1 " in first.stdout, first.stderr
    trained.write_text(
        trained.read_text()
        + "\n"
        + json.dumps({"audio_filepath": "y.flac", "duration": 1, "text": "turn left"})
    )
    none_left = subprocess.run(
        [*cmd, "--unheard-text", str(trained)], capture_output=True, text=True
    )
    assert none_left.returncode == 2 and "no utterance left" in none_left.stderr


def test_sent_at_8khz_keeps_the_telephone_band_only() -> None:
    t = np.arange(16000) / 16000
    low, high = np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 6000 * t)
    sent, rate = as_sent((low + high).astype(np.float32), 16000, 8000)
    assert rate == 8000 and abs(sent.size - 8000) <= 1
    spectrum = np.abs(np.fft.rfft(sent[1000:7000] * np.hanning(6000)))
    freqs = np.fft.rfftfreq(6000, 1 / 8000)
    assert spectrum[np.argmin(np.abs(freqs - 1000))] > 1000 * spectrum[freqs > 2000].max()
    same = np.ones(10, np.float32)
    assert as_sent(same, 16000, None) == (same, 16000)
    assert as_sent(same, 16000, 16000)[1] == 16000


BUNDLED = Path(__file__).resolve().parents[2] / "streamasr" / "assets" / "default.streamasr"
# A closed vocabulary without "hello" or "world" (no <unk>: unknown words are near-impossible).
OTHER_LM = """\\data\\
ngram 1=4

\\1-grams:
-0.5\t</s>
-99\t<s>
-0.5\tgo
-0.5\thome

\\end\\
"""


@pytest.mark.needs_model
def test_command_compares_two_lms_on_one_model_in_words_and_characters(
    tmp_path: Path, speak: Callable[[str], Path]
) -> None:
    manifest = tmp_path / "m.jsonl"
    record = {"audio_filepath": str(speak("hello world")), "duration": 1, "text": "hello world"}
    manifest.write_text(json.dumps(record) + "\n")
    other = tmp_path / "other.arpa"
    other.write_text(OTHER_LM)
    cmd = [sys.executable, "-m", "train.compare", str(BUNDLED), str(BUNDLED), str(manifest)]
    run = subprocess.run([*cmd, "--decoder", "beam", "--lm-b", str(other)], capture_output=True)
    assert run.returncode == 0, run.stderr
    cer, wer = run.stdout.decode().splitlines()
    assert cer.startswith("CER_A=0.0000 ") and not cer.startswith("CER_A=0.0000 CER_B=0.0000")
    assert wer.startswith("WER_A=0.0000 WER_B=1.0000 DIFF=+1.0000") and wer.endswith("N=1 A better")
    greedy_with_lm = subprocess.run([*cmd, "--lm-b", str(other)], capture_output=True)
    assert greedy_with_lm.returncode == 2 and b"add --decoder beam" in greedy_with_lm.stderr
    bad = subprocess.run([*cmd, "--decoder", "beam", "--lm", str(manifest)], capture_output=True)
    assert bad.returncode == 2 and bad.stderr.startswith(b"compare: error:")
