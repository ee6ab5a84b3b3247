"""The CLI as a user runs it: a real process, real files, one clear line per error."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from streamasr.model import artifact
from streamasr.model.artifact import ModelArtifact

pytestmark = pytest.mark.slow  # subprocesses, a browser or PulseAudio


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamasr.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory, tiny_artifact: ModelArtifact) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.streamasr"
    artifact.save(tiny_artifact, path)
    return path


def test_transcribe_json_and_partials(model_file: Path, speak: Callable[[str], Path]) -> None:
    wav = speak("good morning")
    result = run_cli("transcribe", "--model", str(model_file), "--json", str(wav), str(wav))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2 and lines[0] == lines[1]
    assert lines[0]["file"] == str(wav)
    duration = sf.info(str(wav)).duration
    for word in lines[0]["words"]:
        assert set(word) == {"word", "start", "end", "conf"}
        assert 0 <= word["start"] < word["end"] <= duration + 0.1
        assert 0 <= word["conf"] <= 1
    assert lines[0]["text"] == " ".join(w["word"] for w in lines[0]["words"])

    streamed = run_cli("transcribe", "--model", str(model_file), "--partials", "--json", str(wav))
    assert streamed.returncode == 0, streamed.stderr
    events = [json.loads(line) for line in streamed.stdout.splitlines()]
    partials = [e["partial"] for e in events if "partial" in e]
    assert len(partials) >= 2, "partials should evolve as the file streams in"
    assert events[-1]["text"] == lines[0]["text"]


@pytest.mark.parametrize(
    "make_file,message",
    [
        (lambda d: d / "missing.wav", "no such file"),
        (lambda d: (d / "junk.wav").write_bytes(b"xx") and d / "junk.wav", "unreadable audio"),
        (
            lambda d: sf.write(d / "st.wav", np.zeros((10, 2)), 8000) or d / "st.wav",
            "2 channels",
        ),
        (lambda d: sf.write(d / "e.wav", np.zeros(0), 8000) or d / "e.wav", "no audio"),
    ],
)
def test_bad_files_give_one_clear_line_and_nonzero_exit(
    tmp_path: Path,
    model_file: Path,
    make_file: Callable[[Path], Path],
    message: str,
) -> None:
    result = run_cli("transcribe", "--model", str(model_file), str(make_file(tmp_path)))
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_model_file_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.streamasr"
    bad.write_bytes(b"not a model")
    result = run_cli("transcribe", "--model", str(bad), "x.wav")
    assert result.returncode == 2
    assert "truncated or corrupted" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--decoder", "beam", "--lm", "/nonexistent.arpa"], "language model not found"),
        (["--decoder", "beam", "--beam-size", "0"], "beam"),
        (["--decoder", "beam", "--lm", "{junk}"], "bad language model file"),
    ],
)
def test_bad_decoder_flags_are_one_clear_line(
    model_file: Path,
    speak: Callable[[str], Path],
    tmp_path: Path,
    flags: list[str],
    message: str,
) -> None:
    junk = tmp_path / "junk.arpa"
    junk.write_text("this is not an ARPA file\n")
    flags = [f.format(junk=junk) for f in flags]
    result = run_cli("transcribe", "--model", str(model_file), *flags, str(speak("good morning")))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
