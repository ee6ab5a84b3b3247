"""The front door (streamasr.api): what a Python program sees, and the README's example."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import streamasr
from streamasr.api import Model, to_float32
from streamasr.decode.beam import BeamDecoder
from streamasr.decode.factory import DEFAULT_KIND
from streamasr.decode.greedy import GreedyDecoder
from streamasr.engine.recognizer import Recognizer
from streamasr.model.artifact import ModelArtifact
from tests.server.heard import SPOKEN, assert_heard

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def model(tiny_artifact: ModelArtifact) -> Model:
    return Model(Recognizer(tiny_artifact))


def noise(seconds: float, rate: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.normal(0, 3000, int(seconds * rate))).clip(-32768, 32767).astype(np.int16)


def test_bytes_and_arrays_give_the_same_results(model: Model) -> None:
    pcm = noise(1.0)
    as_bytes = model.stream(decoder="greedy")
    as_floats = model.stream(decoder="greedy")
    as_ints = model.stream(decoder="greedy")
    for start in range(0, pcm.size, 1600):
        chunk = pcm[start : start + 1600]
        a = as_bytes.accept(chunk.tobytes())
        b = as_floats.accept(chunk.astype(np.float32) / 32768)
        c = as_ints.accept(chunk)
        assert a == b == c
        assert not a[-1].is_final  # the partial comes last
    assert as_bytes.finish() == as_floats.finish() == as_ints.finish()


def test_the_default_decoder_is_the_commands_beam_search(model: Model) -> None:
    assert DEFAULT_KIND == "beam"
    assert isinstance(model.stream()._engine.decoder, BeamDecoder)
    assert isinstance(model.stream(decoder="greedy")._engine.decoder, GreedyDecoder)


def test_finish_ends_with_the_last_final_and_the_stream(model: Model) -> None:
    stream = model.stream(decoder="greedy")
    stream.accept(noise(0.5).tobytes())
    finals = stream.finish()
    assert finals and all(h.is_final for h in finals)
    with pytest.raises(RuntimeError):
        stream.accept(b"\0\0")


@pytest.mark.parametrize(
    ("pcm", "message"),
    [
        (b"\0\0\0", "even number of bytes"),
        (np.zeros((10, 2), np.float32), "1-D"),
        (np.zeros(10, np.int32), "float or int16"),
    ],
)
def test_unusable_audio_is_a_clear_error(pcm: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_float32(pcm)  # type: ignore[arg-type]


def test_int16_is_scaled_to_unit_range() -> None:
    out = to_float32(np.array([-32768, 0, 16384], np.int16).tobytes())
    assert out.dtype == np.float32
    assert out.tolist() == [-1.0, 0.0, 0.5]


def test_bad_settings_are_value_errors(model: Model) -> None:
    with pytest.raises(ValueError, match="sample rate"):
        model.stream(sample_rate=100)
    with pytest.raises(ValueError, match="unknown decoder"):
        model.stream(decoder="viterbi")
    with pytest.raises(ValueError, match="non-empty phrase list"):
        model.stream(restrict=True)


@pytest.mark.slow
def test_import_streamasr_does_not_import_jax() -> None:
    code = "import sys, streamasr; assert streamasr.load; print('jax' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "False"


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## From Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README.md: no python block under '## From Python'"
    return match.group(1)


@pytest.mark.needs_model
def test_the_readme_example_runs_as_written(
    trained_model: Path,
    speak: Callable[[str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "audio.wav").write_bytes(speak(SPOKEN).read_bytes())
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_example(), "README.md", "exec"), {"__name__": "readme"})
    lines = capsys.readouterr().out.splitlines()
    assert lines, "the example printed nothing"
    assert_heard(" ".join(line.split(" [(")[0] for line in lines))
    assert streamasr.load is not None
