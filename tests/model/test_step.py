from __future__ import annotations

import jax
import numpy as np
import pytest

from streamasr.model.config import ModelConfig
from streamasr.model.encoder import init_state
from streamasr.model.step import Params, StepFn, bucket_for, init_params, make_reset, make_step
from tests.conftest import TINY

Model = tuple[ModelConfig, Params, StepFn]


@pytest.fixture(scope="module")
def model() -> Model:
    return TINY, init_params(TINY, jax.random.PRNGKey(1)), make_step(TINY)


def utterance(batch: int, steps: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, (batch, steps * TINY.frames_per_step, TINY.input_dim)).astype(
        np.float32
    )


def run_chunked(
    step: StepFn, params: Params, frames: np.ndarray, steps_per_chunk: int
) -> np.ndarray:
    fps = TINY.frames_per_step
    state = init_state(TINY, frames.shape[0])
    outs = []
    for start in range(0, frames.shape[1], steps_per_chunk * fps):
        out, state = step(params, state, frames[:, start : start + steps_per_chunk * fps])
        outs.append(np.asarray(out))
    return np.concatenate(outs, axis=1)


@pytest.mark.parametrize("steps_per_chunk", [1, 3, 7])
def test_streaming_equals_whole_utterance(model: Model, steps_per_chunk: int) -> None:
    config, params, step = model
    frames = utterance(2, 21)
    whole, _ = step(params, init_state(config, 2), frames)
    streamed = run_chunked(step, params, frames, steps_per_chunk)
    assert streamed.shape == (2, 21, config.vocab_size)
    np.testing.assert_allclose(streamed, np.asarray(whole), atol=1e-5)


def test_outputs_are_log_probabilities_that_depend_on_the_past(model: Model) -> None:
    config, params, step = model
    frames = utterance(1, 8)
    out, _ = step(params, init_state(config, 1), frames)
    np.testing.assert_allclose(np.exp(np.asarray(out)).sum(-1), 1.0, atol=1e-5)
    # Same last chunk after a different history gives different outputs: the carry matters.
    _, state_a = step(params, init_state(config, 1), frames[:, :16])
    _, state_b = step(params, init_state(config, 1), utterance(1, 4, seed=9))
    out_a, _ = step(params, state_a, frames[:, 16:])
    out_b, _ = step(params, state_b, frames[:, 16:])
    assert np.abs(np.asarray(out_a) - np.asarray(out_b)).max() > 1e-4


def test_batched_streams_equal_separate_calls(model: Model) -> None:
    _, params, step = model
    frames = utterance(4, 6, seed=3)
    batched = run_chunked(step, params, frames, 2)
    for b in range(4):
        alone = run_chunked(step, params, frames[b : b + 1], 2)
        np.testing.assert_allclose(batched[b], alone[0], atol=1e-5)


def test_reset_touches_only_the_masked_slot(model: Model) -> None:
    config, params, step = model
    reset = make_reset(config)
    frames = utterance(3, 4, seed=5)
    _, state = step(params, init_state(config, 3), frames)
    state = reset(state, np.array([False, True, False]))
    fresh = init_state(config, 1)
    for got, initial, before in zip(
        jax.tree_util.tree_leaves(state),
        jax.tree_util.tree_leaves(fresh),
        jax.tree_util.tree_leaves(step(params, init_state(config, 3), frames)[1]),
        strict=True,
    ):
        got, before = np.asarray(got), np.asarray(before)
        axis = 1 if got.ndim == 3 and got.shape[0] == config.rnn_layers else 0
        np.testing.assert_array_equal(np.take(got, 1, axis), np.take(np.asarray(initial), 0, axis))
        for slot in (0, 2):
            np.testing.assert_array_equal(np.take(got, slot, axis), np.take(before, slot, axis))
    # The recycled slot now behaves exactly like a brand-new stream.
    next_frames = utterance(3, 2, seed=6)
    out, _ = step(params, state, next_frames)
    alone, _ = step(params, init_state(config, 1), next_frames[1:2])
    np.testing.assert_allclose(np.asarray(out)[1], np.asarray(alone)[0], atol=1e-5)


def test_batch_buckets_bound_the_compiled_shapes() -> None:
    assert [bucket_for(n) for n in (1, 2, 3, 5, 8, 9, 100, 128, 129)] == [
        1, 2, 4, 8, 8, 16, 128, 128, 256,
    ]  # fmt: skip
    with pytest.raises(ValueError):
        bucket_for(0)
    shapes = {bucket_for(n) for n in range(1, 300)}
    assert len(shapes) == 10


def test_step_compiles_once_per_bucket(model: Model) -> None:
    config, params, _ = model
    step = make_step(config)
    for n in (3, 4, 2, 3, 4):
        b = bucket_for(n)
        step(params, init_state(config, b), utterance(b, 1))
    assert step._cache_size() == 2  # buckets 4 and 2


@pytest.mark.parametrize(
    "kwargs",
    [{"subsampling": (4,), "conv_kernel": 3}, {"cell": "transformer"}, {"rnn_layers": 0}],
)
def test_bad_model_config_is_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ModelConfig(**kwargs)  # type: ignore[arg-type]
