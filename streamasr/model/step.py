"""The streaming form of the model: one pure function at the jit boundary.

``step(params, state, frames) -> (log_probs, state)`` advances a batch of independent
streams by a chunk of (normalised) feature frames. Batch sizes are rounded up to a few
buckets so that a changing number of live streams reuses a handful of compiled programs,
and the persistent compilation cache makes a warm start compile nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, cast

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from streamasr.constants import MAX_BATCH
from streamasr.model.config import ModelConfig
from streamasr.model.encoder import Encoder, EncoderState, init_state

Params = Any  # a flax parameter pytree
StepFn = Callable[[Params, EncoderState, ArrayLike], tuple[jax.Array, EncoderState]]

# Compiled batch sizes: the powers of two up to the largest.
BATCH_BUCKETS: tuple[int, ...] = tuple(1 << i for i in range(MAX_BATCH.bit_length()))


def bucket_for(n_streams: int) -> int:
    """The smallest compiled batch size that holds n_streams."""
    if n_streams < 1:
        raise ValueError(f"need at least one stream, got {n_streams}")
    for b in BATCH_BUCKETS:
        if b >= n_streams:
            return b
    raise ValueError(f"{n_streams} streams exceed the largest batch bucket {BATCH_BUCKETS[-1]}")


def init_params(config: ModelConfig, rng: jax.Array) -> Params:
    frames = jnp.zeros((1, config.frames_per_step, config.input_dim), jnp.float32)
    return Encoder(config).init(rng, init_state(config, 1), frames)["params"]


def make_step(config: ModelConfig) -> StepFn:
    """The jitted streaming step for this model shape.

    frames: [B, T, input_dim] normalised features, T a multiple of config.frames_per_step.
    Returns log-probabilities [B, T / frames_per_step, vocab] and the new state.
    """
    encoder = Encoder(config)

    def step(
        params: Params, state: EncoderState, frames: ArrayLike
    ) -> tuple[jax.Array, EncoderState]:
        logits, new_state = cast(
            tuple[jax.Array, EncoderState], encoder.apply({"params": params}, state, frames)
        )
        return jax.nn.log_softmax(logits, axis=-1), new_state

    return jax.jit(step)


def make_reset(config: ModelConfig) -> Callable[[EncoderState, jax.Array], EncoderState]:
    """reset(state, mask[B] bool) -> state with the masked slots back at their initial state,
    the others untouched: a slot can be recycled for a new stream without disturbing the rest."""

    @jax.jit
    def reset(state: EncoderState, mask: jax.Array) -> EncoderState:
        fresh = init_state(config, mask.shape[0])
        return EncoderState(
            conv_context=tuple(
                jnp.where(mask.reshape((-1,) + (1,) * (c.ndim - 1)), f, c)
                for f, c in zip(fresh.conv_context, state.conv_context, strict=True)
            ),
            lstm_h=jnp.where(mask[None, :, None], fresh.lstm_h, state.lstm_h),
            lstm_c=jnp.where(mask[None, :, None], fresh.lstm_c, state.lstm_c),
        )

    return reset


def enable_compilation_cache(path: str | None = None) -> str | None:
    """Turn on jax's persistent compilation cache (STREAMASR_JAX_CACHE, or ``path``)."""
    directory = path or os.environ.get("STREAMASR_JAX_CACHE")
    if not directory:
        return None
    os.makedirs(directory, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", directory)  # type: ignore[no-untyped-call]
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # type: ignore[no-untyped-call]
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)  # type: ignore[no-untyped-call]
    return directory
