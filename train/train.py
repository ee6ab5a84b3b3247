"""CTC training of the streaming encoder: ``train_and_evaluate(config, workdir)``.

AdamW (explicit learning-rate input: warmup then cosine decay fitted to a time budget
and refitted as the measured speed changes),
global-norm clipping, optax.ctc_loss, length-bucketed batches, data parallel over every
visible JAX device (batch sharded on a 'data' mesh axis, parameters replicated),
validation CER every ``eval_every`` steps, checkpoints with resume, a JSON log and a PNG of
the curves. Only this function touches files.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import jiwer
import numpy as np
import optax
from flax import serialization
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm import tqdm

from streamasr.features.normalize import FeatureStats
from streamasr.model import artifact
from streamasr.model.artifact import ModelArtifact
from streamasr.model.config import ModelConfig
from streamasr.model.encoder import Encoder, init_state
from streamasr.model.step import Params, init_params
from streamasr.vocab import BLANK, decode
from train import data
from train.configs.default import TrainConfig
from train.logs import log_records

Metrics = dict[str, float]

FIT_FROM = 100  # by this step every length bucket has (almost surely) been compiled
FIT_OVER = 100  # steps timed to fit the learning-rate schedule to the time budget
EVAL_OVERHEAD = 1.04  # validation and checkpoints take a few percent of the time


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """AdamW without a built-in schedule: the learning rate is an input of each step."""
    return optax.chain(
        optax.clip_by_global_norm(config.clip_norm),
        optax.scale_by_adam(),
        optax.add_decayed_weights(config.weight_decay),
    )


def learning_rate(config: TrainConfig, step: int, total_steps: int) -> float:
    if step < config.warmup_steps:
        return config.peak_learning_rate * (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps))
    floor = config.final_learning_rate_fraction
    return config.peak_learning_rate * (
        floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    )


def ctc_loss(
    model: ModelConfig,
    params: Params,
    batch: dict[str, jax.Array],
    rng: jax.Array | None,
) -> tuple[jax.Array, jax.Array]:
    """(loss summed over the batch, number of label characters)."""
    frames = batch["frames"]
    state = init_state(model, frames.shape[0])
    rngs = {"dropout": rng} if rng is not None else {}
    logits, _ = Encoder(model).apply(
        {"params": params}, state, frames, train=rng is not None, rngs=rngs
    )
    # An output frame covers frames_per_step inputs; it is padding when its first input is.
    logit_paddings = batch["frame_paddings"][:, :: model.frames_per_step]
    per_sequence = optax.ctc_loss(
        logits, logit_paddings, batch["labels"], batch["label_paddings"], blank_id=BLANK
    )
    real = (batch["frame_paddings"][:, 0] == 0).astype(jnp.float32)  # filler rows weigh 0
    chars = jnp.sum((1.0 - batch["label_paddings"]) * real[:, None])
    return jnp.sum(per_sequence * real), chars


def make_train_step(
    config: TrainConfig,
) -> Callable[..., tuple[Params, optax.OptState, Metrics]]:
    tx = make_optimizer(config)

    def train_step(
        params: Params,
        opt_state: optax.OptState,
        batch: dict[str, jax.Array],
        rng: jax.Array,
        lr: jax.Array,
    ) -> tuple[Params, optax.OptState, dict[str, jax.Array]]:
        def objective(p: Params) -> tuple[jax.Array, jax.Array]:
            total, chars = ctc_loss(config.model, p, batch, rng)
            return total / jnp.maximum(chars, 1.0), chars

        (loss, chars), grads = jax.value_and_grad(objective, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = jax.tree_util.tree_map(lambda p, u: p - lr * u, params, updates)
        metrics = {"loss_per_char": loss, "grad_norm": optax.tree.norm(grads), "chars": chars}
        return params, opt_state, metrics

    return jax.jit(train_step, donate_argnums=(0, 1))


def make_greedy_fn(model: ModelConfig) -> Callable[[Params, jax.Array], jax.Array]:
    """Whole-utterance forward pass -> best symbol per output frame. By the streaming
    property this equals what the streaming step would produce."""

    def best_symbols(params: Params, frames: jax.Array) -> jax.Array:
        logits, _ = Encoder(model).apply(
            {"params": params}, init_state(model, frames.shape[0]), frames
        )
        return jnp.argmax(logits, axis=-1)

    return jax.jit(best_symbols)


def collapse(symbols: np.ndarray) -> str:
    """Greedy CTC: merge repeats, drop blanks, tidy spaces."""
    out: list[int] = []
    previous = BLANK
    for s in symbols.tolist():
        if s != BLANK and s != previous:
            out.append(s)
        previous = s
    return " ".join(decode(out).split())


def evaluate(
    greedy: Callable[[Params, jax.Array], jax.Array],
    params: Params,
    features: data.FeatureSet,
    stats: FeatureStats,
    config: TrainConfig,
    put: Callable[[np.ndarray], jax.Array],
    row_multiple: int,
) -> Metrics:
    indices = np.arange(min(len(features), config.eval_utterances))
    lengths = features.lengths()
    indices = indices[lengths[indices] <= config.length_buckets[-1]]
    refs: list[str] = []
    hyps: list[str] = []
    fps = config.model.frames_per_step
    for batch in data.batches(
        features,
        indices,
        config.length_buckets,
        config.batch_frames,
        stats,
        None,
        row_multiple,
        fps,
    ):
        best = np.asarray(greedy(params, put(batch.frames)))
        for row, i in enumerate(batch.indices.tolist()):
            if i < 0:
                continue
            n_out = math.ceil(int(lengths[i]) / fps)
            hyps.append(collapse(best[row, :n_out]))
            refs.append(features.texts[i])
    if not refs:
        return {"cer": float("nan"), "wer": float("nan")}
    return {"cer": float(jiwer.cer(refs, hyps)), "wer": float(jiwer.wer(refs, hyps))}


def load_vae(path: str) -> tuple[Any, Params]:
    """(StepVAE module, parameters) from train/vae.py's vae.msgpack."""
    from train.vae import StepVAE

    if not path or not Path(path).is_file():
        raise ValueError(f"no VAE model at {path!r} (python -m train.vae writes vae.msgpack)")
    params = serialization.msgpack_restore(Path(path).read_bytes())
    step_dim, width = params["step_projection"]["kernel"].shape
    return StepVAE(step_dim, width), params


def _save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(serialization.msgpack_serialize(payload))
    tmp.replace(path)


def plot_curves(log_path: Path, png_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train_rows = log_records(log_path, "train")
    eval_rows = log_records(log_path, "eval")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot([r["step"] for r in train_rows], [r["loss_per_char"] for r in train_rows])
    ax1.set(xlabel="step", ylabel="CTC loss per character", yscale="log", title="training loss")
    for key in sorted({k for r in eval_rows for k in r if k.endswith("/cer")}):
        ax2.plot([r["step"] for r in eval_rows], [r[key] for r in eval_rows], label=key)
    ax2.set(xlabel="step", ylabel="greedy CER", title="validation")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)
    plt.close(fig)


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
    if config.pretrain != "none" or config.vae_frontend:
        raise ValueError("init_model replaces pretraining: give one or the other")


def train_and_evaluate(
    config: TrainConfig, workdir: str | Path, feature_cache: str | Path | None = None
) -> ModelArtifact:
    """Train (resuming from workdir/checkpoint.msgpack if present); return the final model.

    Features are cached in feature_cache (default workdir/features) under a key of the
    manifests' content and the feature config, so runs on the same data can share one cache.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cache = Path(feature_cache) if feature_cache is not None else workdir / "features"
    model = config.model
    devices = jax.devices()
    mesh = Mesh(np.array(devices), ("data",))
    batch_sharding = NamedSharding(mesh, PartitionSpec("data"))  # type: ignore[no-untyped-call]
    replicated = NamedSharding(mesh, PartitionSpec())  # type: ignore[no-untyped-call]

    def put(x: np.ndarray) -> jax.Array:
        out: jax.Array = jax.device_put(x, batch_sharding)
        return out

    print(f"training on {len(devices)} {devices[0].platform} device(s)", flush=True)
    train_set = data.load_features(config.train_manifests, config.features, cache)
    valid_sets = {
        Path(m).stem: data.load_features([m], config.features, cache, limit=config.eval_utterances)
        for m in config.valid_manifests
        if Path(m).exists()
    }
    start_from = artifact.load(config.init_model) if config.init_model else None
    if start_from is not None:
        check_fine_tunable(start_from, config)
        # The weights were trained on inputs normalised this way: keep it.
        stats = start_from.stats
    else:
        stats = data.compute_stats(train_set)
    keep = data.usable(train_set, config.length_buckets, model.frames_per_step)
    hours = float(train_set.lengths()[keep].sum()) / 100 / 3600
    print(f"{len(keep)} of {len(train_set)} training utterances usable ({hours:.1f} h)", flush=True)

    if not 0.0 < config.transcribed_fraction <= 1.0:
        raise ValueError(
            f"transcribed_fraction must be in (0, 1], got {config.transcribed_fraction}"
        )
    audio_only = keep
    if config.transcribed_fraction < 1.0:
        # A fixed, seeded subset keeps its transcripts; the rest is audio for pretraining.
        chosen = np.random.default_rng(config.seed).permutation(len(keep))
        keep = np.sort(keep[chosen[: max(1, int(len(keep) * config.transcribed_fraction))]])
        print(f"CTC uses the transcripts of {len(keep)} utterances", flush=True)

    rng = jax.random.PRNGKey(config.seed)
    params = init_params(model, rng) if start_from is None else start_from.params
    log_path = workdir / "log.jsonl"
    ckpt_path = workdir / "checkpoint.msgpack"
    if config.pretrain == "autoencoder" and not ckpt_path.exists():
        from train.pretrain import merge_pretrained, pretrain

        def log_pretrain(row: dict[str, float]) -> None:
            with log_path.open("a") as f:
                f.write(json.dumps({"kind": "pretrain", **row}) + "\n")

        print(f"autoencoder pretraining on {len(audio_only)} utterances", flush=True)
        encoder_params, losses = pretrain(
            model,
            train_set,
            audio_only,
            stats,
            config.length_buckets,
            config.batch_frames,
            layers=config.pretrain_layers,
            minutes=config.pretrain_minutes,
            seed=config.seed,
            log=log_pretrain,
        )
        print(f"pretrained {len(losses)} steps, reconstruction MSE {losses[-1]:.3f}", flush=True)
        params = merge_pretrained(params, encoder_params)
    elif config.pretrain not in ("none", "autoencoder"):
        raise ValueError(f"unknown pretraining {config.pretrain!r}; known: none, autoencoder")
    vae: tuple[Any, Params] | None = None
    if config.vae_frontend or config.vae_augment > 0:
        vae = load_vae(config.vae_path)
    if config.vae_frontend and not ckpt_path.exists():
        from train.pretrain import merge_pretrained

        if model.frontend != "vae":
            raise ValueError('vae_frontend needs the model\'s frontend="vae"')
        assert vae is not None
        params = merge_pretrained(params, {"step_projection": vae[1]["step_projection"]})
    params = jax.device_put(params, replicated)
    opt_state = make_optimizer(config).init(params)
    step = 0
    total_steps = config.num_steps
    elapsed_before = 0.0
    if ckpt_path.exists():
        restored = serialization.msgpack_restore(ckpt_path.read_bytes())
        params = serialization.from_state_dict(params, restored["params"])
        opt_state = serialization.from_state_dict(opt_state, restored["opt_state"])
        step = int(restored["step"])
        total_steps = int(restored["total_steps"])
        elapsed_before = float(restored["elapsed"])
        print(f"resumed from step {step}", flush=True)

    train_step = make_train_step(config)
    greedy = make_greedy_fn(model)
    np_rng = np.random.default_rng(config.seed + step)
    started = time.monotonic() - elapsed_before
    budget = config.time_budget_minutes * 60
    first_step = step
    fit_step, fit_clock = -1, started
    audio_seconds = 0.0
    window_start = time.monotonic()
    bar = tqdm(total=total_steps, initial=step, unit="step", dynamic_ncols=True, mininterval=2)

    last_saved = step if ckpt_path.exists() else -1

    def validate_and_save() -> None:
        nonlocal last_saved
        last_saved = step
        record: dict[str, Any] = {"kind": "eval", "step": step, "time": time.monotonic() - started}
        for name, vs in valid_sets.items():
            for k, v in evaluate(greedy, params, vs, stats, config, put, len(devices)).items():
                record[f"{name}/{k}"] = v
        with log_path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        tqdm.write(json.dumps(record))
        _save_checkpoint(
            ckpt_path,
            {
                "params": serialization.to_state_dict(jax.device_get(params)),
                "opt_state": serialization.to_state_dict(jax.device_get(opt_state)),
                "step": step,
                "total_steps": total_steps,
                "elapsed": time.monotonic() - started,
            },
        )
        plot_curves(log_path, workdir / "curves.png")

    done = step >= total_steps
    epoch = 0
    while not done:
        epoch += 1
        for batch in data.batches(
            train_set,
            keep,
            config.length_buckets,
            config.batch_frames,
            stats,
            np_rng,
            len(devices),
            model.frames_per_step,
        ):
            if vae is not None and config.vae_augment > 0 and np_rng.random() < config.vae_augment:
                from train.vae import resample_features

                key = jax.random.fold_in(jax.random.PRNGKey(config.seed + 1), step)
                drawn = resample_features(vae[0], vae[1], batch.frames, model.frames_per_step, key)
                keep_mask = (1.0 - batch.frame_paddings)[..., None]
                batch = dataclasses.replace(batch, frames=(drawn * keep_mask).astype(np.float32))
            if config.vtlp > 0:
                batch = data.frequency_warp(batch, np_rng, config.features, config.vtlp)
            if config.channel_eq_db > 0:
                batch = data.channel_eq(batch, np_rng, stats, config.channel_eq_db)
            if config.spec_augment:
                batch = data.spec_augment(
                    batch,
                    np_rng,
                    config.freq_masks,
                    config.freq_mask_width,
                    config.time_masks,
                    config.time_mask_width,
                )
            arrays = {
                "frames": put(batch.frames),
                "frame_paddings": put(batch.frame_paddings),
                "labels": put(batch.labels),
                "label_paddings": put(batch.label_paddings),
            }
            lr = learning_rate(config, step, total_steps)
            params, opt_state, metrics = train_step(
                params, opt_state, arrays, jax.random.fold_in(rng, step), jnp.float32(lr)
            )
            step += 1
            audio_seconds += float((1.0 - batch.frame_paddings).sum()) / 100
            if step % 50 == 0 or step == total_steps:
                m = {k: float(v) for k, v in metrics.items()}
                now = time.monotonic()
                speed = audio_seconds / max(1e-9, now - window_start)
                audio_seconds, window_start = 0.0, now
                row = {"kind": "train", "step": step, "lr": lr, "epoch": epoch, **m}
                row["audio_seconds_per_second"] = speed
                with log_path.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                bar.set_postfix(loss=f"{m['loss_per_char']:.3f}", audio_x=f"{speed:.0f}")
                if not math.isfinite(m["loss_per_char"]):
                    raise FloatingPointError(f"loss became {m['loss_per_char']} at step {step}")
            if step == first_step + FIT_FROM:
                fit_step, fit_clock = step, time.monotonic()
            if not config.fixed_steps and (
                step == first_step + FIT_FROM + FIT_OVER
                or (0 <= fit_step < step and step % config.eval_every == 0)
            ):
                # Fit the schedule's length to the time budget from the mean speed since
                # FIT_FROM (the first steps pay for compiling every length bucket). Refitting
                # at every validation follows changes in machine load; the mean moves
                # slowly, so the learning rate does not jump.
                now = time.monotonic()
                per_step = (now - fit_clock) / (step - fit_step) * EVAL_OVERHEAD
                remaining = budget - (now - started)
                total_steps = max(step + 1, min(config.num_steps, step + int(remaining / per_step)))
                bar.total = total_steps
            bar.update(1)
            if step % config.eval_every == 0 or step >= total_steps:
                validate_and_save()
            out_of_time = not config.fixed_steps and time.monotonic() - started > budget * 1.05
            if step >= total_steps or out_of_time:
                done = True
                break
    bar.close()
    if last_saved != step:
        validate_and_save()
    info = {
        "steps": step,
        "train_hours": round(hours, 2),
        "train_config": json.loads(json.dumps(asdict(config), default=str)),
    }
    return ModelArtifact(model, config.features, stats, jax.device_get(params), info=info)
