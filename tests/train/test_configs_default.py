"""TrainConfig refuses every bad field at construction, before any work, with one
ValueError that names the field and its value ('field must ..., got value')."""

from __future__ import annotations

import re
from typing import Any

import pytest

from streamasr.model.config import ModelConfig
from train.configs.default import TrainConfig, get_config, get_smoke_config

# (field named in the error, its value as shown, changes to the recipe): one case per
# class of mistake.
INVALID: list[tuple[str, str, dict[str, Any]]] = [
    ("model.input_dim", "20", {"model": ModelConfig(input_dim=20)}),  # features give 80
    ("train_manifests", "()", {"train_manifests": ()}),
    ("batch_frames", "0", {"batch_frames": 0}),
    ("length_buckets", "()", {"length_buckets": ()}),
    ("length_buckets", "(200, 202)", {"length_buckets": (200, 202)}),  # not a multiple of 4
    ("length_buckets", "(400, 200)", {"length_buckets": (400, 200)}),
    ("peak_learning_rate", "0.0", {"peak_learning_rate": 0.0}),
    ("warmup_steps", "-1", {"warmup_steps": -1}),
    ("final_learning_rate_fraction", "1.5", {"final_learning_rate_fraction": 1.5}),
    ("weight_decay", "-0.1", {"weight_decay": -0.1}),
    ("clip_norm", "0.0", {"clip_norm": 0.0}),
    ("ema_decay", "1.0", {"ema_decay": 1.0}),  # an average that never moves
    ("num_steps", "0", {"num_steps": 0}),
    ("time_budget_minutes", "0.0", {"time_budget_minutes": 0.0}),
    ("deadline_minutes", "-1.0", {"deadline_minutes": -1.0}),
    ("eval_every", "0", {"eval_every": 0}),
    ("eval_utterances", "0", {"eval_utterances": 0}),
    ("freq_masks", "-1", {"freq_masks": -1}),
    ("time_mask_width", "-5", {"time_mask_width": -5}),
    ("seed", "-1", {"seed": -1}),
    ("pretrain", "'vae'", {"pretrain": "vae"}),
    ("pretrain_minutes", "0.0", {"pretrain_minutes": 0.0}),
    ("pretrain_layers", "0", {"pretrain_layers": 0}),
    ("pretrain_layers", "4", {"pretrain_layers": 4}),  # the model has 3
    ("transcribed_fraction", "0.0", {"transcribed_fraction": 0.0}),
    ("transcribed_fraction", "1.5", {"transcribed_fraction": 1.5}),
    ("vae_augment", "1.5", {"vae_augment": 1.5, "vae_path": "vae.msgpack"}),
    ("vae_path", "''", {"vae_augment": 0.5}),
    ("vae_frontend", "True", {"vae_frontend": True, "vae_path": "vae.msgpack"}),  # frontend conv
    ("init_model", "'m.streamasr'", {"init_model": "m.streamasr", "pretrain": "autoencoder"}),
]


@pytest.mark.parametrize(
    ("field", "value", "changes"), INVALID, ids=[f"{f}={v}" for f, v, _ in INVALID]
)
def test_a_bad_field_is_refused_by_name_and_value(
    field: str, value: str, changes: dict[str, Any]
) -> None:
    named = re.escape(field) + r" [^;]*, got " + re.escape(value)
    with pytest.raises(ValueError, match=named):
        get_config().replace(**changes)
    with pytest.raises(ValueError, match=named):
        TrainConfig(**changes)


def test_every_bad_field_is_named_in_the_one_error() -> None:
    with pytest.raises(ValueError) as caught:
        get_config().replace(eval_every=0, num_steps=-3, pretrain="ae")
    message = str(caught.value)
    assert "eval_every must be positive, got 0" in message
    assert "num_steps must be positive, got -3" in message
    assert "pretrain must be one of none, autoencoder, got 'ae'" in message


def test_the_recipes_and_their_edge_values_are_accepted() -> None:
    get_config()
    get_smoke_config()
    edges = get_config().replace(
        warmup_steps=0,
        final_learning_rate_fraction=1.0,
        weight_decay=0.0,
        transcribed_fraction=1.0,
        pretrain_layers=3,
        freq_masks=0,
        valid_manifests=(),
        vae_augment=1.0,
        vae_path="vae.msgpack",
    )
    assert edges.problems() == []
