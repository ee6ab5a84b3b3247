"""The perturbations of a training batch that the config turns on: a re-draw through a
VAE, a frequency warp (VTLP), a random channel, a narrower band, a smoothed spectrum,
SpecAugment masks."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from streamasr.features.normalize import FeatureStats
from streamasr.model.step import Params
from train import data
from train.configs.default import TrainConfig
from train.vae import StepVAE, resample_features


def augment(
    batch: data.Batch,
    config: TrainConfig,
    stats: FeatureStats,
    rng: np.random.Generator,
    vae: tuple[StepVAE, Params] | None,
    step: int,
) -> data.Batch:
    """The configured perturbations of one training batch, in a fixed order (the draws
    from ``rng`` make runs with the same seed identical)."""
    if vae is not None and config.vae_augment > 0 and rng.random() < config.vae_augment:
        key = jax.random.fold_in(jax.random.PRNGKey(config.seed + 1), step)
        fps = config.model.frames_per_step
        drawn = resample_features(vae[0], vae[1], batch.frames, fps, key)
        keep_mask = (1.0 - batch.frame_paddings)[..., None]
        batch = dataclasses.replace(batch, frames=(drawn * keep_mask).astype(np.float32))
    if config.vtlp > 0:
        batch = data.frequency_warp(batch, rng, config.features, config.vtlp)
    if config.channel_eq_db > 0:
        batch = data.channel_eq(batch, rng, stats, config.channel_eq_db)
    if config.band_limit > 0:
        batch = data.band_limit(batch, rng, stats, config.features, config.band_limit)
    if config.smooth_spectrum > 0:
        batch = data.smooth_spectrum(batch, rng, stats, config.smooth_spectrum)
    if config.spec_augment:
        batch = data.spec_augment(
            batch,
            rng,
            config.freq_masks,
            config.freq_mask_width,
            config.time_masks,
            config.time_mask_width,
        )
    return batch
