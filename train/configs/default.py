"""The recipe that trains the bundled default model. One comment per field."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from streamasr.features.mfcc import FeatureConfig
from streamasr.model.config import ModelConfig


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig = field(
        default_factory=ModelConfig
    )  # encoder shape (3x256 LSTM, 4x subsampling)
    features: FeatureConfig = field(default_factory=FeatureConfig)  # 80 log-mel bands
    train_manifests: tuple[str, ...] = ("data/corpus/train.jsonl",)  # JSONL manifests to train on
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
    clip_norm: float = 1.0  # global gradient norm clip
    num_steps: int = 100_000  # upper bound on steps
    fixed_steps: bool = False  # train exactly num_steps: no fitting to the time budget
    time_budget_minutes: float = 60.0  # stop (and fit the schedule) to this wall-clock budget
    eval_every: int = 500  # steps between validations and checkpoints
    eval_utterances: int = 200  # per validation manifest (the first N, for a stable figure)
    vtlp: float = 0.0  # frequency warp per utterance, up to +-this share (0: off)
    channel_eq_db: float = 0.0  # random smooth gain curve per utterance, up to +-this dB (0: off)
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
        if not 0.0 <= self.vtlp < 0.5:
            raise ValueError(f"vtlp must be in [0, 0.5), got {self.vtlp}")
        if not 0.0 <= self.channel_eq_db <= 30.0:
            raise ValueError(f"channel_eq_db must be in [0, 30] dB, got {self.channel_eq_db}")
        if self.peak_learning_rate <= 0 or self.warmup_steps < 0:
            raise ValueError(
                f"need a positive peak learning rate and warmup >= 0, got "
                f"{self.peak_learning_rate} and {self.warmup_steps}"
            )

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
