"""Every front end and recurrent cell keeps the streaming contract and the artifact format."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

from streamasr.features.mfcc import FeatureConfig
from streamasr.features.normalize import FeatureStats
from streamasr.model import artifact
from streamasr.model.artifact import ModelArtifact
from streamasr.model.config import CELLS, FRONTENDS, ModelConfig
from streamasr.model.encoder import init_state
from streamasr.model.step import init_params, make_reset, make_step

pytestmark = pytest.mark.slow  # compiles every encoder variant

OPTIONS = [(f, "lstm") for f in FRONTENDS] + [("conv", c) for c in CELLS if c != "lstm"]


def small(frontend: str, cell: str) -> ModelConfig:
    return ModelConfig(
        input_dim=20,
        frontend=frontend,
        cell=cell,
        conv_channels=16,
        conv2d_channels=4,
        residual_blocks=1,
        rnn_layers=2,
        rnn_hidden=16,
    )


@pytest.mark.parametrize(("frontend", "cell"), OPTIONS)
def test_streaming_equals_whole_utterance(frontend: str, cell: str) -> None:
    config = small(frontend, cell)
    params = init_params(config, jax.random.PRNGKey(0))
    step = make_step(config)
    fps = config.frames_per_step
    frames = np.random.default_rng(1).normal(size=(2, 10 * fps, 20)).astype(np.float32)
    whole, _ = step(params, init_state(config, 2), frames)
    for steps_per_chunk in (1, 3):
        state, outs = init_state(config, 2), []
        for start in range(0, frames.shape[1], steps_per_chunk * fps):
            out, state = step(params, state, frames[:, start : start + steps_per_chunk * fps])
            outs.append(np.asarray(out))
        np.testing.assert_allclose(np.concatenate(outs, axis=1), np.asarray(whole), atol=1e-5)
    # The carries matter: the same chunk after a different history gives other outputs.
    _, other = step(params, init_state(config, 2), frames[:, ::-1] * 3)
    after_other, _ = step(params, other, frames[:, :fps])
    after_fresh, _ = step(params, init_state(config, 2), frames[:, :fps])
    assert np.abs(np.asarray(after_other) - np.asarray(after_fresh)).max() > 1e-4


@pytest.mark.parametrize(("frontend", "cell"), [("conv2d", "gru"), ("conv_pool", "rnn")])
def test_reset_and_artifact_round_trip(frontend: str, cell: str, tmp_path: Path) -> None:
    config = small(frontend, cell)
    params = init_params(config, jax.random.PRNGKey(0))
    step = make_step(config)
    frames = np.random.default_rng(2).normal(size=(3, 8, 20)).astype(np.float32)
    _, state = step(params, init_state(config, 3), frames)
    state = make_reset(config)(state, np.array([False, True, False]))
    fresh = init_state(config, 1)
    pairs = [*zip(state.conv_context, fresh.conv_context, strict=True)]
    pairs += [(state.lstm_h, fresh.lstm_h), (state.lstm_c, fresh.lstm_c)]
    for i, (got, initial) in enumerate(pairs):
        slot_axis = 0 if i < len(state.conv_context) else 1  # recurrent state is [layers, B, H]
        np.testing.assert_array_equal(
            np.take(np.asarray(got), [1], axis=slot_axis), np.asarray(initial)
        )
    assert np.abs(np.asarray(state.lstm_h)[:, 0]).max() > 0, "other slots keep their state"
    stats = FeatureStats(np.zeros(20, np.float32), np.ones(20, np.float32))
    model = ModelArtifact(config, FeatureConfig(n_mels=20), stats, params)
    path = tmp_path / "m.streamasr"
    artifact.save(model, path)
    loaded = artifact.load(path)
    assert loaded.model == config
    a, _ = step(params, init_state(config, 1), frames[:1])
    b, _ = make_step(loaded.model)(loaded.params, init_state(config, 1), frames[:1])
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_unknown_options_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown front end"):
        ModelConfig(frontend="transformer")
    with pytest.raises(ValueError, match="unknown recurrent cell"):
        ModelConfig(cell="lstmx")
