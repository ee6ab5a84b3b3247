"""The loaded model: ``run`` over any whole number of steps equals stepping one at a time,
in few compiled shapes; a model file loads to the same recognizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streamasr.constants import HOP_SAMPLES, SAMPLE_RATE
from streamasr.engine.recognizer import MAX_STEPS_PER_CALL, Recognizer
from streamasr.model import artifact as model_artifact
from streamasr.model.artifact import ModelArtifact


@pytest.fixture(scope="module")
def recognizer(tiny_artifact: ModelArtifact) -> Recognizer:
    return Recognizer(tiny_artifact)


def frames(recognizer: Recognizer, steps: int, batch: int = 2) -> np.ndarray:
    shape = (batch, steps * recognizer.frames_per_step, recognizer.config.input_dim)
    return np.random.default_rng(steps).normal(0, 1, shape).astype(np.float32)


def test_run_equals_stepping_one_step_at_a_time(
    recognizer: Recognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = MAX_STEPS_PER_CALL + 5  # more than one call: 32 + 4 + 1
    x = frames(recognizer, steps)
    fps = recognizer.frames_per_step
    state = recognizer.init_state(2)
    one_by_one = []
    for i in range(steps):
        out, state = recognizer.step(recognizer.params, state, x[:, i * fps : (i + 1) * fps])
        one_by_one.append(np.asarray(out))
    expected = np.concatenate(one_by_one, axis=1)

    sizes: list[int] = []
    real_step = recognizer.step

    def counting(params: Any, s: Any, chunk: Any) -> Any:
        sizes.append(chunk.shape[1] // fps)
        return real_step(params, s, chunk)

    monkeypatch.setattr(recognizer, "step", counting)
    got, last = recognizer.run(recognizer.init_state(2), x)
    assert got.shape == (2, steps, recognizer.config.vocab_size)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(last.lstm_h), np.asarray(state.lstm_h), atol=1e-5)
    assert sum(sizes) == steps
    assert all(s <= MAX_STEPS_PER_CALL and s & (s - 1) == 0 for s in sizes), sizes


def test_no_steps_gives_no_output_and_keeps_the_state(recognizer: Recognizer) -> None:
    state = recognizer.init_state(3)
    out, after = recognizer.run(state, frames(recognizer, 0, batch=3))
    assert out.shape == (3, 0, recognizer.config.vocab_size)
    assert after is state


def test_a_partial_step_is_refused(recognizer: Recognizer) -> None:
    x = frames(recognizer, 2)[:, :-1]
    with pytest.raises(ValueError, match="not a multiple"):
        recognizer.run(recognizer.init_state(2), x)


def test_frame_seconds_is_one_step_of_hops(recognizer: Recognizer) -> None:
    assert recognizer.frame_seconds == pytest.approx(
        recognizer.frames_per_step * HOP_SAMPLES / SAMPLE_RATE
    )
    assert recognizer.frame_seconds == pytest.approx(recognizer.frames_per_step / 100)


def test_from_file_gives_the_same_outputs(
    recognizer: Recognizer, tiny_artifact: ModelArtifact, tmp_path: Path
) -> None:
    path = tmp_path / "tiny.streamasr"
    model_artifact.save(tiny_artifact, path)
    loaded = Recognizer.from_file(path)
    x = frames(recognizer, 3)
    a, _ = recognizer.run(recognizer.init_state(2), x)
    b, _ = loaded.run(loaded.init_state(2), x)
    np.testing.assert_array_equal(a, b)
