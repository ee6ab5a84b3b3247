"""One jitted call that advances any subset of a capacity-sized batched state: gather the
named slots, run the step, scatter the new state back (padding rows write nothing)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from streamasr.model.encoder import EncoderState
from streamasr.model.step import Params, StepFn


def _gather(state: EncoderState, idx: jax.Array) -> EncoderState:
    return EncoderState(
        conv_context=tuple(jnp.take(c, idx, axis=0, mode="clip") for c in state.conv_context),
        lstm_h=jnp.take(state.lstm_h, idx, axis=1, mode="clip"),
        lstm_c=jnp.take(state.lstm_c, idx, axis=1, mode="clip"),
    )


def _scatter(state: EncoderState, idx: jax.Array, sub: EncoderState) -> EncoderState:
    # Padding rows carry an out-of-range index: mode="drop" discards their writes.
    return EncoderState(
        conv_context=tuple(
            c.at[idx].set(s, mode="drop")
            for c, s in zip(state.conv_context, sub.conv_context, strict=True)
        ),
        lstm_h=state.lstm_h.at[:, idx].set(sub.lstm_h, mode="drop"),
        lstm_c=state.lstm_c.at[:, idx].set(sub.lstm_c, mode="drop"),
    )


# idx and frames may be numpy arrays: the jitted call transfers them itself.
BatchedStepFn = Callable[
    [Params, EncoderState, ArrayLike, ArrayLike], tuple[jax.Array, EncoderState]
]
# (log_probs [bucket, T, V], best symbol [bucket, T] int32, its log-prob [bucket, T], state)
BestStepFn = Callable[
    [Params, EncoderState, ArrayLike, ArrayLike],
    tuple[jax.Array, jax.Array, jax.Array, EncoderState],
]


def _advance(
    step: StepFn, params: Params, state: EncoderState, idx: jax.Array, frames: jax.Array
) -> tuple[jax.Array, EncoderState]:
    log_probs, sub = step(params, _gather(state, idx), frames)
    return log_probs, _scatter(state, idx, sub)


def make_batched_step(step: StepFn) -> BatchedStepFn:
    """run(params, state[capacity], idx[bucket], frames[bucket, T, dim]) -> (log_probs, state):
    advances only the slots named in idx; rows whose index is out of range are padding."""

    def run(
        params: Params, state: EncoderState, idx: jax.Array, frames: jax.Array
    ) -> tuple[jax.Array, EncoderState]:
        return _advance(step, params, state, idx, frames)

    return jax.jit(run, donate_argnums=(1,))


def make_batched_best_step(step: StepFn) -> BestStepFn:
    """As ``make_batched_step``, plus each frame's best symbol and its log-prob, computed for
    every stream at once inside the call: what greedy decoding and endpointing need, so
    that neither scans a stream's full log-prob rows in Python."""

    def run(
        params: Params, state: EncoderState, idx: jax.Array, frames: jax.Array
    ) -> tuple[jax.Array, jax.Array, jax.Array, EncoderState]:
        log_probs, new_state = _advance(step, params, state, idx, frames)
        best = jnp.argmax(log_probs, axis=-1).astype(jnp.int32)  # ties: the lowest id
        top = jnp.take_along_axis(log_probs, best[..., None], axis=-1)[..., 0]
        return log_probs, best, top, new_state

    return jax.jit(run, donate_argnums=(1,))
