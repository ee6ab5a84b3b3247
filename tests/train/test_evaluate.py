"""bin/eval's engine: streaming transcription of a manifest, scored with jiwer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from streamasr.model import artifact
from streamasr.model.artifact import ModelArtifact
from train.evaluate import Scored, rates


def test_rates_are_word_and_character_error_rates() -> None:
    rows = [Scored("v", "hello world", "hello word", 1.0, 0.1), Scored("v", "yes", "yes", 1.0, 0.1)]
    wer, cer = rates(rows)
    assert wer == pytest.approx(1 / 3)
    assert cer == pytest.approx(1 / 14)


@pytest.mark.slow  # espeak-ng in a subprocess
def test_eval_command_prints_per_voice_figures_and_the_summary_line(
    tmp_path: Path, tiny_artifact: ModelArtifact
) -> None:
    model = tmp_path / "m.streamasr"
    artifact.save(tiny_artifact, model)
    manifest = tmp_path / "m.jsonl"
    lines = []
    for i, text in enumerate(["go home", "call mom"]):
        subprocess.run(["espeak-ng", "-w", str(tmp_path / f"{i}.wav"), text], check=True)
        lines.append(json.dumps({"audio_filepath": f"{i}.wav", "duration": 1, "text": text,
                                 "voice": f"espeak{i}"}))  # fmt: skip
    manifest.write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "train.evaluate",
            str(manifest),
            "--model",
            str(model),
            "--per-voice",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert any(line.strip().startswith("espeak0") for line in out)
    last = out[-1].split()
    assert [field.split("=")[0] for field in last] == ["WER", "CER", "N"]
    assert last[2] == "N=2"
    assert float(last[1].split("=")[1]) >= 0

    missing = subprocess.run(
        [sys.executable, "-m", "train.evaluate", str(tmp_path / "nope.jsonl")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "no such manifest" in missing.stderr

    one = subprocess.run(
        [sys.executable, "-m", "train.evaluate", str(manifest), "--model", str(model),
         "--per-voice", "--engines", "espeak1,pico"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert one.returncode == 0, one.stderr
    assert one.stdout.splitlines()[-1].endswith("N=1")
    assert not any(line.strip().startswith("espeak0") for line in one.stdout.splitlines())


@pytest.mark.slow  # espeak-ng, Whisper and PocketSphinx in a subprocess
def test_models_decoders_and_peers_score_the_same_utterances(
    tmp_path: Path, tiny_artifact: ModelArtifact
) -> None:
    model, other = tmp_path / "m.streamasr", tmp_path / "n.streamasr"
    artifact.save(tiny_artifact, model)
    artifact.save(tiny_artifact, other)
    manifest = tmp_path / "m.jsonl"
    lines = []
    texts = ["open the door please", "the weather is nice today"]
    for i, text in enumerate(texts):
        subprocess.run(["espeak-ng", "-w", str(tmp_path / f"{i}.wav"), text], check=True)
        lines.append(json.dumps({"audio_filepath": f"{i}.wav", "duration": 1, "text": text,
                                 "voice": f"espeak/v{i}"}))  # fmt: skip
    manifest.write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "train.evaluate", str(manifest), "--model", str(model),
         "--model", str(other), "--decoders", "greedy,beam", "--compare", "whisper",
         "--compare-pocketsphinx", "--per-engine", "--lm", "none"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    systems = [line.split()[0] for line in out if " n=2 " in line and not line.startswith(" ")]
    assert systems == [
        "streamasr:m:greedy",
        "streamasr:m:beam",
        "streamasr:n:greedy",
        "streamasr:n:beam",
        "whisper",
        "pocketsphinx",
    ]
    # Each system's per-engine line sits under that system's line, not under the one before.
    for i, line in enumerate(out):
        if " n=2 " in line and not line.startswith(" "):
            assert out[i + 1].startswith("  espeak "), out
    cer = {
        line.split()[0]: float(line.split("CER=")[1].split("%")[0])
        for line in out
        if " n=2 " in line and not line.startswith(" ")
    }
    # A recogniser trained on people reads espeak-ng's sentences (Whisper base: 22% CER);
    # an untrained tiny model reads nothing.
    assert cer["whisper"] < 40 < cer["streamasr:m:greedy"]


@pytest.mark.slow  # espeak-ng and the bundled model in a subprocess
def test_a_phrase_list_limits_what_the_bundled_model_can_hear(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    lines = []
    for i, text in enumerate(["front left", "front left"]):
        subprocess.run(["espeak-ng", "-w", str(tmp_path / f"{i}.wav"), text], check=True)
        lines.append(json.dumps({"audio_filepath": f"{i}.wav", "duration": 1, "text": text,
                                 "voice": "espeak/en"}))  # fmt: skip
    manifest.write_text("\n".join(lines) + "\n")

    def hypotheses(*extra: str) -> tuple[int, list[str], str]:
        run = subprocess.run(
            [sys.executable, "-m", "train.evaluate", str(manifest), "--show", "2", *extra],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        hyps = [
            line.split("HYP:", 1)[1].strip() for line in run.stdout.splitlines() if "HYP:" in line
        ]
        return run.returncode, hyps, run.stderr

    code, free, err = hypotheses()
    assert code == 0, err
    assert all("front" in h for h in free)  # heard unrestricted
    grammar = tmp_path / "grammar.txt"
    grammar.write_text("# the only things this client says\nrear right\n\nback\n")
    code, held, err = hypotheses("--phrase-list", str(grammar))
    assert code == 0, err
    assert held and all(h in ("", "rear right", "back") for h in held)
    code, _, err = hypotheses("--phrase-list", str(grammar), "--decoder", "greedy")
    assert code == 2 and "needs the beam decoder" in err
    (tmp_path / "empty.txt").write_text("# nothing\n")
    code, _, err = hypotheses("--phrase-list", str(tmp_path / "empty.txt"))
    assert code == 2 and "holds no phrases" in err
