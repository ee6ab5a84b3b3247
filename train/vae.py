"""A variational autoencoder over one model step of features (frames_per_step frames).

x (the step's normalised frames, stacked) -> encoder (dense + GELU, then mean and
log-variance of a diagonal Gaussian) -> z by reparameterisation -> decoder -> x'. The loss
is the negative ELBO: reconstruction (a unit-variance Gaussian likelihood, i.e. half the
squared error) plus KL(q(z|x) || N(0, I)), per step.

It serves two ends:
- augmentation: ``resample_features`` re-draws every step of an utterance from q(z|x) and
  decodes it, a feature-level variant of the same speech (``train --vae-augment``);
- a pretrained front end: the encoder's first layer is named and shaped like the
  ``frontend="vae"`` projection of the acoustic model (``train --vae-frontend``).

``python -m train.vae --workdir runs/vae`` trains it on the corpus, prints the
reconstruction error and KL on held-out voices, and draws spectrograms of samples from
the prior next to real features and their reconstructions (``vae.png``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import serialization

from streamasr.model.step import Params
from train import data
from train.configs.default import get_config

LATENT = 32


class StepVAE(nn.Module):
    step_dim: int  # frames_per_step * feature dim
    width: int  # hidden width (the acoustic model's conv_channels)
    latent: int = LATENT

    def setup(self) -> None:
        self.step_projection = nn.Dense(self.width)  # shared name with frontend="vae"
        self.mean = nn.Dense(self.latent)
        self.log_variance = nn.Dense(self.latent)
        self.decoder_hidden = nn.Dense(self.width)
        self.decoder_out = nn.Dense(self.step_dim)

    def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = nn.gelu(self.step_projection(x))
        return self.mean(h), self.log_variance(h)

    def decode(self, z: jax.Array) -> jax.Array:
        out: jax.Array = self.decoder_out(nn.gelu(self.decoder_hidden(z)))
        return out

    def __call__(self, x: jax.Array, rng: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        mean, log_variance = self.encode(x)
        z = mean + jnp.exp(0.5 * log_variance) * jax.random.normal(rng, mean.shape)
        return self.decode(z), mean, log_variance


def elbo_terms(
    model: StepVAE, params: Params, x: jax.Array, rng: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """(reconstruction, KL), each in nats per step, averaged over the batch of steps."""
    out = cast(tuple[jax.Array, jax.Array, jax.Array], model.apply({"params": params}, x, rng))
    recon, mean, log_variance = out
    reconstruction = 0.5 * jnp.sum((recon - x) ** 2, axis=-1)
    kl = -0.5 * jnp.sum(1.0 + log_variance - mean**2 - jnp.exp(log_variance), axis=-1)
    return jnp.mean(reconstruction), jnp.mean(kl)


def random_steps(
    features: data.FeatureSet,
    indices: np.ndarray,
    stats: Any,
    fps: int,
    count: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``count`` random model steps (fps consecutive normalised frames, stacked)."""
    lengths = features.lengths()
    chosen = rng.choice(indices, size=count)
    out = np.empty((count, fps * features.frames.shape[1]), np.float32)
    for row, i in enumerate(chosen.tolist()):
        start = features.offsets[i] + rng.integers(0, max(1, int(lengths[i]) - fps + 1))
        frames = features.frames[start : start + fps].astype(np.float32)
        out[row] = stats.apply(frames).reshape(-1)
    return out


def train_vae(
    features: data.FeatureSet,
    indices: np.ndarray,
    stats: Any,
    fps: int,
    width: int,
    *,
    steps: int = 100_000,
    minutes: float = 10.0,
    batch: int = 512,
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> tuple[StepVAE, Params, list[tuple[float, float]]]:
    """Train on random steps; returns the model, its parameters and (reconstruction, KL)
    per training step."""
    model = StepVAE(fps * features.frames.shape[1], width)
    rng = jax.random.PRNGKey(seed)
    np_rng = np.random.default_rng(seed)
    params = model.init(rng, jnp.zeros((1, model.step_dim)), rng)["params"]
    tx = optax.adam(learning_rate)
    opt_state = tx.init(params)

    @jax.jit
    def step(
        params: Params, opt_state: Any, x: jax.Array, key: jax.Array
    ) -> tuple[Params, Any, jax.Array, jax.Array]:
        def loss(p: Params) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
            reconstruction, kl = elbo_terms(model, p, x, key)
            return reconstruction + kl, (reconstruction, kl)

        (_, (reconstruction, kl)), grads = jax.value_and_grad(loss, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, reconstruction, kl

    history: list[tuple[float, float]] = []
    deadline = time.monotonic() + minutes * 60
    while len(history) < steps and time.monotonic() < deadline:
        x = jnp.asarray(random_steps(features, indices, stats, fps, batch, np_rng))
        key = jax.random.fold_in(rng, len(history))
        params, opt_state, reconstruction, kl = step(params, opt_state, x, key)
        history.append((float(reconstruction), float(kl)))
    return model, params, history


def resample_features(
    model: StepVAE, params: Params, frames: np.ndarray, fps: int, rng: jax.Array
) -> np.ndarray:
    """[B, T, D] normalised frames (T a multiple of fps) -> the same shape, every step
    re-drawn from q(z|x) and decoded: a variant of the same speech for augmentation."""
    b, t, d = frames.shape
    steps = jnp.asarray(frames.reshape(b * t // fps, fps * d))
    out = cast(tuple[jax.Array, jax.Array, jax.Array], model.apply({"params": params}, steps, rng))
    return np.asarray(out[0]).reshape(b, t, d)


def sample_prior(model: StepVAE, params: Params, count: int, rng: jax.Array) -> np.ndarray:
    """``count`` steps decoded from z ~ N(0, I): [count, step_dim]."""
    z = jax.random.normal(rng, (count, model.latent))
    out = model.apply({"params": params}, z, method=StepVAE.decode)
    return np.asarray(out)


def plot(
    real: np.ndarray, recon: np.ndarray, prior: np.ndarray, fps: int, dim: int, path: Path
) -> None:
    """Spectrogram images (frequency up, time right) of consecutive steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(10, 7), sharex=True)
    for ax, steps, title in zip(
        axes,
        (real, recon, prior),
        ("real features (normalised log-mel)", "their VAE reconstructions", "samples of the prior"),
        strict=True,
    ):
        image = steps.reshape(-1, fps, dim).reshape(-1, dim).T
        ax.imshow(image, origin="lower", aspect="auto", vmin=-3, vmax=3, cmap="magma")
        ax.set(title=title, ylabel="mel band")
    axes[-1].set_xlabel("frame (10 ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="train.vae", description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", type=Path, default=Path("runs/vae"))
    p.add_argument("--minutes", type=float, default=10.0, help="training budget")
    p.add_argument("--feature-cache", type=Path, default=Path(data.FEATURE_CACHE),
                   help="the feature cache the trainer fills (shared between runs)")  # fmt: skip
    args = p.parse_args(argv)
    config = get_config()
    fps = config.model.frames_per_step
    cache = args.feature_cache
    train_set = data.load_features(config.train_manifests, config.features, cache)
    valid = data.load_features(config.valid_manifests[:1], config.features, cache, limit=200)
    stats = data.compute_stats(train_set)
    model, params, history = train_vae(
        train_set,
        np.arange(len(train_set)),
        stats,
        fps,
        config.model.conv_channels,
        minutes=args.minutes,
    )
    rng = np.random.default_rng(1)
    x = random_steps(valid, np.arange(len(valid)), stats, fps, 4096, rng)
    reconstruction, kl = elbo_terms(model, params, jnp.asarray(x), jax.random.PRNGKey(1))
    mean, _ = cast(
        tuple[jax.Array, jax.Array],
        model.apply({"params": params}, jnp.asarray(x), method=StepVAE.encode),
    )
    recon_mean = np.asarray(model.apply({"params": params}, mean, method=StepVAE.decode))
    mse = float(np.mean((recon_mean - x) ** 2))
    args.workdir.mkdir(parents=True, exist_ok=True)
    (args.workdir / "vae.msgpack").write_bytes(serialization.msgpack_serialize(params))
    first = valid.offsets[0]
    utterance = stats.apply(valid.frames[first : first + 60 * fps].astype(np.float32))
    steps = utterance.reshape(-1, fps * utterance.shape[1])
    mean_u, _ = model.apply({"params": params}, jnp.asarray(steps), method=StepVAE.encode)
    recon_u = np.asarray(model.apply({"params": params}, mean_u, method=StepVAE.decode))
    prior = sample_prior(model, params, steps.shape[0], jax.random.PRNGKey(2))
    plot(steps, recon_u, prior, fps, utterance.shape[1], args.workdir / "vae.png")
    print(f"{len(history)} training steps; held-out voices, per 40 ms step:")
    print(
        f"RECON_NATS={float(reconstruction):.2f} KL_NATS={float(kl):.2f} "
        f"RECON_MSE_PER_VALUE={mse:.4f} (unit-variance features: 1.0 = no information)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
