"""Where training starts: fresh weights, a model to fine-tune, autoencoder pretraining,
a VAE's front end. The files a config names are read and checked against it before any
features load (``load_start``), so a wrong path or shape fails in seconds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
from flax import serialization

from streamasr.features.normalize import FeatureStats
from streamasr.model import artifact
from streamasr.model.artifact import ModelArtifact
from streamasr.model.step import Params, init_params
from train import data
from train.configs.default import TrainConfig
from train.pretrain import merge_pretrained, pretrain
from train.vae import StepVAE


@dataclass(frozen=True)
class Start:
    model: ModelArtifact | None  # config.init_model, loaded: weights and normalisation
    vae: tuple[StepVAE, Params] | None  # (StepVAE, parameters) from config.vae_path


def load_vae(path: str) -> tuple[StepVAE, Params]:
    """(StepVAE module, parameters) from train/vae.py's vae.msgpack."""
    if not path or not Path(path).is_file():
        raise ValueError(f"no VAE model at {path!r} (python -m train.vae writes vae.msgpack)")
    params = serialization.msgpack_restore(Path(path).read_bytes())
    step_dim, width = params["step_projection"]["kernel"].shape
    return StepVAE(step_dim, width), params


def check_fine_tunable(start: ModelArtifact, config: TrainConfig) -> None:
    """A model can be fine-tuned only into its own shape and features."""
    if start.model != config.model:
        raise ValueError(
            f"init_model has shape {start.model.to_dict()}, the config asks for "
            f"{config.model.to_dict()}"
        )
    if start.features != config.features:
        raise ValueError(
            f"init_model uses features {start.features.to_dict()}, the config asks for "
            f"{config.features.to_dict()}"
        )


def check_vae_fits(vae: tuple[StepVAE, Params], config: TrainConfig) -> None:
    """The VAE reads one model step of these features; as the front end it is as wide
    as the model's."""
    module = vae[0]
    step_dim = config.model.frames_per_step * config.features.dim
    if module.step_dim != step_dim:
        raise ValueError(
            f"the VAE at {config.vae_path!r} reads {module.step_dim} values per step, "
            f"the config's model step has {step_dim}"
        )
    if config.vae_frontend and module.width != config.model.conv_channels:
        raise ValueError(
            f"the VAE at {config.vae_path!r} is {module.width} wide, the config's "
            f"conv_channels is {config.model.conv_channels}"
        )


def load_start(config: TrainConfig) -> Start:
    """Read and check the model and the VAE the config names (ValueError if unusable)."""
    model = artifact.load(config.init_model) if config.init_model else None
    if model is not None:
        check_fine_tunable(model, config)
    vae = None
    if config.vae_frontend or config.vae_augment > 0:
        vae = load_vae(config.vae_path)
        check_vae_fits(vae, config)
    return Start(model, vae)


def initial_params(
    config: TrainConfig,
    start: Start,
    pretrain_on: tuple[data.FeatureSet, np.ndarray, FeatureStats] | None,
    log: Callable[[dict[str, float]], None],
) -> Params:
    """The weights step 0 starts from: the fine-tuned model's, or fresh ones (seeded)
    with the pretrained encoder layers (trained on ``pretrain_on``: features, indices,
    stats) and the VAE's projection merged in. A resumed run passes no ``pretrain_on``:
    its checkpoint replaces these weights."""
    if start.model is not None:
        return start.model.params
    params = init_params(config.model, jax.random.PRNGKey(config.seed))
    if config.pretrain == "autoencoder" and pretrain_on is not None:
        features, indices, stats = pretrain_on
        print(f"autoencoder pretraining on {len(indices)} utterances", flush=True)
        encoder_params, losses = pretrain(
            config.model,
            features,
            indices,
            stats,
            config.length_buckets,
            config.batch_frames,
            layers=config.pretrain_layers,
            minutes=config.pretrain_minutes,
            seed=config.seed,
            log=log,
        )
        print(f"pretrained {len(losses)} steps, reconstruction MSE {losses[-1]:.3f}", flush=True)
        params = merge_pretrained(params, encoder_params)
    if config.vae_frontend and start.vae is not None:
        params = merge_pretrained(params, {"step_projection": start.vae[1]["step_projection"]})
    return params
