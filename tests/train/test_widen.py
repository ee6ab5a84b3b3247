"""train.widen: a wider model that computes what the original does, and whose new units
can learn."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

from streamasr.model import artifact
from streamasr.model.encoder import init_state
from streamasr.model.step import make_step
from tests.conftest import TINY, make_artifact
from train.widen import main, widen


def _log_probs(model: artifact.ModelArtifact, frames: np.ndarray) -> np.ndarray:
    step = make_step(model.model)
    out, _ = step(model.params, init_state(model.model, frames.shape[0]), frames)
    return np.asarray(out)


def _frames(seed: int = 1) -> np.ndarray:
    fps = TINY.frames_per_step
    return np.random.default_rng(seed).normal(size=(3, 12 * fps, TINY.input_dim)).astype(np.float32)


def test_the_wider_model_computes_what_the_original_does() -> None:
    small = make_artifact()
    wide = widen(small, 24)
    assert wide.model.rnn_hidden == 24
    assert wide.params["lstm1"]["w_h"].shape == (24, 96)
    np.testing.assert_allclose(_log_probs(wide, _frames()), _log_probs(small, _frames()), atol=1e-5)


def test_new_units_get_gradients_once_their_readers_move() -> None:
    """The new units are live: their activations are not zero, so the first update moves the
    weights that read them, and from then on they change the output."""
    wide = widen(make_artifact(), 24)
    frames = _frames()
    step = make_step(wide.model)

    def loss(params: dict) -> jax.Array:
        out, _ = step(params, init_state(wide.model, frames.shape[0]), frames)
        return -out[..., 1].mean()

    grads = jax.grad(loss)(wide.params)
    assert float(np.abs(np.asarray(grads["output"]["kernel"][16:])).max()) > 1e-6
    assert float(np.abs(np.asarray(grads["lstm1"]["w_in"][16:, :16])).max()) > 1e-6


def test_narrowing_and_other_cells_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot narrow"):
        widen(make_artifact(), 8)
    with pytest.raises(ValueError, match="only LSTM"):
        widen(make_artifact(TINY.replace(cell="gru")), 24)


def test_the_command_writes_a_loadable_model(tmp_path: Path) -> None:
    small = tmp_path / "small.streamasr"
    artifact.save(make_artifact(), small)
    main([str(small), str(tmp_path / "wide.streamasr"), "--rnn-hidden", "32"])
    wide = artifact.load(tmp_path / "wide.streamasr")
    assert wide.model.rnn_hidden == 32
    assert wide.info is not None and wide.info["widened_from"] == 16


def test_the_command_refuses_bad_input_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = tmp_path / "small.streamasr"
    artifact.save(make_artifact(), small)
    for args, message in (
        ([str(tmp_path / "none.streamasr"), "--rnn-hidden", "32"], "no such model file"),
        ([str(small), "--rnn-hidden", "8"], "cannot narrow"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main([args[0], str(tmp_path / "out.streamasr"), *args[1:]])
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out.streamasr").exists()
