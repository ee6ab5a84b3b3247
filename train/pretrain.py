"""Denoising-autoencoder pretraining of the encoder's lower layers, without transcripts.

The front end and the first ``layers`` recurrent layers read a corrupted copy of the
normalised features (SpecAugment masks plus Gaussian noise) and a linear head
reconstructs the clean frames of each model step from their output (MSE over real,
unpadded steps). Because the network is the CTC encoder itself (``Encoder(...,
hidden_layers=k)``, same parameter names), its parameters initialise CTC training as they
are; the head is thrown away. Audio only: utterances without transcripts count too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from streamasr.features.normalize import FeatureStats
from streamasr.model.config import ModelConfig
from streamasr.model.encoder import Encoder, init_state
from streamasr.model.step import Params
from train import data

NOISE_STD = 0.3  # Gaussian noise added to the normalised features (unit variance)


class Reconstructor(nn.Module):
    """Encoder up to ``layers`` recurrent layers -> the clean frames of each model step."""

    config: ModelConfig
    layers: int

    @nn.compact
    def __call__(self, frames: jax.Array, train: bool = False) -> jax.Array:
        cfg = self.config
        hidden, _ = Encoder(cfg, name="encoder")(
            init_state(cfg, frames.shape[0]), frames, train=train, hidden_layers=self.layers
        )
        step_frames: jax.Array = nn.Dense(cfg.frames_per_step * cfg.input_dim, name="head")(hidden)
        return step_frames


def reconstruction_loss(
    model: Reconstructor,
    params: Params,
    noisy: jax.Array,
    clean: jax.Array,
    paddings: jax.Array,
    rng: jax.Array | None,
) -> jax.Array:
    """Mean squared error per real feature value; clean [B, T, D] -> per step [B, T/f, f*D]."""
    fps = model.config.frames_per_step
    rngs = {"dropout": rng} if rng is not None else {}
    predicted = cast(
        jax.Array, model.apply({"params": params}, noisy, train=rng is not None, rngs=rngs)
    )
    b, t, d = clean.shape
    target = clean.reshape(b, t // fps, fps * d)
    real = 1.0 - paddings[:, ::fps]  # a step is real when its first frame is
    squared = jnp.sum((predicted - target) ** 2, axis=-1) * real
    return jnp.sum(squared) / jnp.maximum(jnp.sum(real) * fps * d, 1.0)


def make_pretrain_step(
    model: Reconstructor, learning_rate: float
) -> tuple[optax.GradientTransformation, Callable[..., tuple[Params, Any, jax.Array]]]:
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(learning_rate))

    @jax.jit
    def step(
        params: Params,
        opt_state: Any,
        noisy: jax.Array,
        clean: jax.Array,
        paddings: jax.Array,
        rng: jax.Array,
    ) -> tuple[Params, Any, jax.Array]:
        loss, grads = jax.value_and_grad(
            lambda p: reconstruction_loss(model, p, noisy, clean, paddings, rng)
        )(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return tx, step


def pretrain(
    config: ModelConfig,
    features: data.FeatureSet,
    indices: np.ndarray,
    stats: FeatureStats,
    buckets: tuple[int, ...],
    batch_frames: int,
    *,
    layers: int = 1,
    minutes: float = 10.0,
    max_steps: int = 100_000,
    learning_rate: float = 1e-3,
    seed: int = 0,
    log: Callable[[dict[str, float]], None] | None = None,
) -> tuple[Params, list[float]]:
    """Train the reconstructor for ``minutes`` (or ``max_steps``); return the encoder's
    pretrained parameters (a subset of the CTC encoder's) and the loss of every step."""
    model = Reconstructor(config, layers)
    rng = jax.random.PRNGKey(seed)
    np_rng = np.random.default_rng(seed)
    fps = config.frames_per_step
    dummy = jnp.zeros((1, fps, config.input_dim), jnp.float32)
    params = model.init(rng, dummy)["params"]
    tx, step = make_pretrain_step(model, learning_rate)
    opt_state = tx.init(params)
    losses: list[float] = []
    started = time.monotonic()
    deadline = started + minutes * 60
    while len(losses) < max_steps and time.monotonic() < deadline:
        for batch in data.batches(features, indices, buckets, batch_frames, stats, np_rng):
            masked = data.spec_augment(batch, np_rng, 2, 12, 4, 30)
            noise = np_rng.normal(0.0, NOISE_STD, batch.frames.shape).astype(np.float32)
            noisy = (masked.frames + noise) * (1.0 - batch.frame_paddings)[..., None]
            params, opt_state, loss = step(
                params,
                opt_state,
                jnp.asarray(noisy),
                jnp.asarray(batch.frames),
                jnp.asarray(batch.frame_paddings),
                jax.random.fold_in(rng, len(losses)),
            )
            losses.append(float(loss))
            if log is not None and len(losses) % 50 == 0:
                log(
                    {
                        "step": len(losses),
                        "time": time.monotonic() - started,
                        "reconstruction_mse": losses[-1],
                    }
                )
            if len(losses) >= max_steps or time.monotonic() >= deadline:
                break
    return params["encoder"], losses


def merge_pretrained(params: Params, pretrained: Params) -> Params:
    """``params`` with every sub-tree that ``pretrained`` has replaced by it (shapes must
    match: the same model config made both)."""

    def merge(target: Any, source: Any, path: str) -> Any:
        if not isinstance(source, dict):
            if np.shape(target) != np.shape(source):
                raise ValueError(f"pretrained {path} has shape {np.shape(source)}, "
                                 f"the model {np.shape(target)}")  # fmt: skip
            return jnp.asarray(source)
        out = dict(target)
        for key, value in source.items():
            if key not in target:
                raise ValueError(f"pretrained parameter {path}/{key} is not in the model")
            out[key] = merge(target[key], value, f"{path}/{key}")
        return out

    merged: Params = merge(dict(params), dict(params_as_dict(pretrained)), "")
    return merged


def params_as_dict(tree: Any) -> Any:
    """Flax FrozenDict or dict -> nested plain dicts (leaves untouched)."""
    if hasattr(tree, "items"):
        return {k: params_as_dict(v) for k, v in tree.items()}
    return tree
