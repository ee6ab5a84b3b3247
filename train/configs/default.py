"""The recipe that trains the bundled default model. One comment per field."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

from streamasr.features.mfcc import FeatureConfig
from streamasr.model.config import ModelConfig
from train.corpus.voices import ALL_ENGINES, HELDOUT_ENGINES

PRETRAINING = ("none", "autoencoder")  # the values of TrainConfig.pretrain


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig = field(
        default_factory=ModelConfig
    )  # encoder shape (3x256 LSTM, 4x subsampling)
    features: FeatureConfig = field(default_factory=FeatureConfig)  # 80 log-mel bands
    train_manifests: tuple[str, ...] = ("data/corpus/train.jsonl",)  # JSONL manifests to train on
    # Engine families whose utterances training drops from those manifests: never heard, so
    # their CER measures generalisation to an unheard engine (train/corpus/voices.py; the
    # bundled model's recipe holds out Piper, whose corpus has no training split anyway).
    heldout_engines: tuple[str, ...] = tuple(sorted(HELDOUT_ENGINES))
    valid_manifests: tuple[str, ...] = (  # evaluated every eval_every steps (greedy CER)
        "data/corpus/valid_heldout_voices.jsonl",
        "data/corpus/valid_seen_voices.jsonl",
    )
    batch_frames: int = 32 * 400  # input frames per batch (B x T): ~128 s of audio
    length_buckets: tuple[int, ...] = (200, 400, 600, 800, 1200, 1600)  # padded T, frames
    peak_learning_rate: float = 1.5e-3  # AdamW peak
    warmup_steps: int = 400  # linear warmup to the peak
    final_learning_rate_fraction: float = 0.05  # cosine decay ends at this fraction of the peak
    weight_decay: float = 1e-2  # AdamW decoupled weight decay
    # Polyak averaging: validate and export an exponential moving average of the weights with
    # this decay per step (0: off; 0.999 averages over about the last thousand steps).
    ema_decay: float = 0.0
    clip_norm: float = 1.0  # global gradient norm clip
    num_steps: int = 100_000  # upper bound on steps
    fixed_steps: bool = False  # train exactly num_steps: no fitting to the time budget
    time_budget_minutes: float = 60.0  # stop (and fit the schedule) to this wall-clock budget
    # This process validates and exports by this many minutes after it started, featurising,
    # loading and compiling included (0: no deadline): a lent machine's call limit. Unlike the
    # budget, which counts training time across resumes, it is this process's wall clock.
    deadline_minutes: float = 0.0
    eval_every: int = 500  # steps between validations and checkpoints
    eval_utterances: int = 200  # per validation manifest (the first N, for a stable figure)
    vtlp: float = 0.0  # frequency warp per utterance, up to +-this share (0: off)
    channel_eq_db: float = 0.0  # random smooth gain curve per utterance, up to +-this dB (0: off)
    band_limit: float = 0.0  # share of utterances cut to a random narrower band (0: off)
    smooth_spectrum: float = 0.0  # share of utterances reduced to their spectral envelope
    init_model: str = ""  # a model file to fine-tune: its weights and normalisation statistics
    spec_augment: bool = True  # frequency and time masks on training batches
    freq_masks: int = 2  # masks per utterance, each up to freq_mask_width bands
    freq_mask_width: int = 12
    time_masks: int = 4  # masks per utterance, each up to time_mask_width frames
    time_mask_width: int = 30
    seed: int = 0  # everything random derives from this
    pretrain: str = "none"  # "autoencoder": denoising-AE pretraining of the lower layers first
    pretrain_minutes: float = 10.0  # its wall-clock budget (on top of time_budget_minutes)
    pretrain_layers: int = 1  # recurrent layers it trains above the front end
    transcribed_fraction: float = 1.0  # share of training utterances whose text CTC may use
    vae_path: str = ""  # a train/vae.py model (vae.msgpack) for the two options below
    vae_frontend: bool = False  # initialise the frontend="vae" projection from its encoder
    vae_augment: float = 0.0  # share of batches whose features are re-drawn through it

    def __post_init__(self) -> None:
        """Every field checked before any work: one ValueError that names each bad field
        and its value (a typo in a long run's config should cost seconds, not an hour)."""
        problems = self.problems()
        if problems:
            raise ValueError("invalid training config: " + "; ".join(problems))

    def problems(self) -> list[str]:
        """'field must ..., got value' for every field out of its range, or that
        contradicts another field. Files the fields name are checked when training starts."""
        out: list[str] = []

        def need(ok: bool, name: str, rule: str) -> None:
            if not ok:
                value: Any = self
                for part in name.split("."):
                    value = getattr(value, part)
                out.append(f"{name} {rule}, got {value!r}")

        fps = self.model.frames_per_step
        need(
            self.model.input_dim == self.features.dim,
            "model.input_dim",
            f"must equal the features' dim ({self.features.dim})",
        )
        need(bool(self.train_manifests), "train_manifests", "must name at least one manifest")
        need(
            set(self.heldout_engines) <= set(ALL_ENGINES),
            "heldout_engines",
            f"must name known engines ({', '.join(ALL_ENGINES)})",
        )
        need(self.batch_frames >= 1, "batch_frames", "must be positive")
        buckets = self.length_buckets
        need(
            bool(buckets) and all(b > 0 and b % fps == 0 for b in buckets),
            "length_buckets",
            f"must be at least one length, each a positive multiple of frames_per_step ({fps})",
        )
        need(
            all(a < b for a, b in itertools.pairwise(buckets)),
            "length_buckets",
            "must increase",
        )
        need(self.peak_learning_rate > 0, "peak_learning_rate", "must be positive")
        need(self.warmup_steps >= 0, "warmup_steps", "must be >= 0")
        need(
            0.0 <= self.final_learning_rate_fraction <= 1.0,
            "final_learning_rate_fraction",
            "must be in [0, 1]",
        )
        need(self.weight_decay >= 0, "weight_decay", "must be >= 0")
        need(self.clip_norm > 0, "clip_norm", "must be positive")
        need(0.0 <= self.ema_decay < 1.0, "ema_decay", "must be in [0, 1) (0: off)")
        need(self.num_steps >= 1, "num_steps", "must be positive")
        need(self.time_budget_minutes > 0, "time_budget_minutes", "must be positive")
        need(self.deadline_minutes >= 0, "deadline_minutes", "must be >= 0 (0: none)")
        need(self.eval_every >= 1, "eval_every", "must be positive")
        need(self.eval_utterances >= 1, "eval_utterances", "must be positive")
        need(0.0 <= self.vtlp < 0.5, "vtlp", "must be in [0, 0.5)")
        need(0.0 <= self.channel_eq_db <= 30.0, "channel_eq_db", "must be in [0, 30] dB")
        need(0.0 <= self.band_limit <= 1.0, "band_limit", "must be in [0, 1]")
        need(0.0 <= self.smooth_spectrum <= 1.0, "smooth_spectrum", "must be in [0, 1]")
        for name in ("freq_masks", "freq_mask_width", "time_masks", "time_mask_width"):
            need(getattr(self, name) >= 0, name, "must be >= 0")
        need(self.seed >= 0, "seed", "must be >= 0")
        need(self.pretrain in PRETRAINING, "pretrain", f"must be one of {', '.join(PRETRAINING)}")
        need(self.pretrain_minutes > 0, "pretrain_minutes", "must be positive")
        need(
            1 <= self.pretrain_layers <= self.model.rnn_layers,
            "pretrain_layers",
            f"must be in [1, rnn_layers] = [1, {self.model.rnn_layers}]",
        )
        need(0.0 < self.transcribed_fraction <= 1.0, "transcribed_fraction", "must be in (0, 1]")
        need(0.0 <= self.vae_augment <= 1.0, "vae_augment", "must be in [0, 1]")
        need(
            bool(self.vae_path) or not (self.vae_frontend or self.vae_augment > 0),
            "vae_path",
            "must name a VAE model file when vae_frontend or vae_augment is set",
        )
        need(
            not self.vae_frontend or self.model.frontend == "vae",
            "vae_frontend",
            f'needs the model\'s frontend="vae" (not {self.model.frontend!r})',
        )
        need(
            not self.init_model or (self.pretrain == "none" and not self.vae_frontend),
            "init_model",
            "replaces pretrain and vae_frontend: give one or the other",
        )
        return out

    def replace(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)


def get_config() -> TrainConfig:
    return TrainConfig()


def get_smoke_config() -> TrainConfig:
    """A tiny model for the one-step training test."""
    return TrainConfig(
        model=ModelConfig(input_dim=20, conv_channels=16, rnn_layers=1, rnn_hidden=16),
        features=FeatureConfig(n_mels=20),
        batch_frames=4 * 200,
        length_buckets=(200, 400),
        warmup_steps=2,
        num_steps=4,
        eval_every=2,
        eval_utterances=4,
        time_budget_minutes=5.0,
    )
