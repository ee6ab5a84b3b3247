"""CTC training of the streaming encoder, in the shape of the flax examples:
``create_train_state``, ``train_step(state, batch, lr) -> (state, metrics)``,
``eval_step``, and the loop ``train_and_evaluate(config, workdir)``.

AdamW (explicit learning-rate input: warmup then cosine decay fitted to a time budget
and refitted as the measured speed changes), global-norm clipping, optax.ctc_loss,
length-bucketed batches, data parallel over every JAX device of every process
(train/parallel.py; each process loads its own shard of the corpus), validation CER every
``eval_every`` steps, checkpoints with resume on any number of processes
(train/checkpoint.py) and the model as of that step (latest.streamasr), a JSON log and a PNG
of the curves. Only ``train_and_evaluate`` touches files, and only process 0 writes them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import jiwer
import numpy as np
import optax
from flax import struct
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from streamasr.features.mfcc import FRAMES_PER_SECOND
from streamasr.features.normalize import FeatureStats
from streamasr.model import artifact
from streamasr.model.artifact import ModelArtifact
from streamasr.model.config import ModelConfig
from streamasr.model.encoder import Encoder, init_state
from streamasr.model.step import Params
from streamasr.vocab import BLANK, decode
from train import checkpoint, data
from train.configs.default import TrainConfig
from train.initial import initial_params, load_start
from train.parallel import DataParallel
from train.perturb import augment
from train.plot import plot_curves

Metrics = dict[str, float]
TrainStep = Callable[["TrainState", dict[str, jax.Array], jax.Array], tuple["TrainState", Any]]
EvalStep = Callable[[Params, jax.Array], jax.Array]

FIT_FROM = 100  # by this step every length bucket has (almost surely) been compiled
FIT_OVER = 100  # steps timed to fit the learning-rate schedule to the time budget
EVAL_OVERHEAD = 1.04  # validation and checkpoints take a few percent of the time
# Before a deadline (--deadline) the run keeps time for its last validation, checkpoint and
# export: this many seconds until one has been timed, then this many times the longest so far.
DEADLINE_MIN_RESERVE = 20.0
DEADLINE_RESERVE_FACTOR = 1.5
LOG_EVERY = 50  # steps between "train" rows of the log (each one waits for the device)


@struct.dataclass
class TrainState:
    step: jax.Array  # [] int32 optimizer steps taken
    params: Params  # the encoder's weights, replicated on every device
    opt_state: optax.OptState  # AdamW moments, replicated
    dropout_rng: jax.Array  # PRNG key; step n's dropout uses fold_in(dropout_rng, n)
    ema: Params | None = None  # the weights' moving average (config.ema_decay > 0), replicated


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


def create_train_state(config: TrainConfig, params: Params, parallel: DataParallel) -> TrainState:
    """Step 0 from ``params`` (fresh, fine-tuned or pretrained: train/initial.py)."""
    replicated = parallel.replicate(params)
    return TrainState(
        step=jnp.int32(0),
        params=replicated,
        opt_state=make_optimizer(config).init(replicated),
        dropout_rng=jax.random.PRNGKey(config.seed),
        ema=copied(replicated) if config.ema_decay > 0 else None,
    )


def copied(params: Params) -> Params:
    """The same weights in buffers of their own (same placement): the state is donated to
    each step, and no buffer can be donated twice."""
    return jax.tree_util.tree_map(jnp.copy, params)


def ema_decay_at(decay: float, step: jax.Array) -> jax.Array:
    """The averaging decay at optimizer step ``step``: ``decay``, less at first, so that the
    average soon leaves its starting weights ((1 + n) / (10 + n), as TensorFlow's
    ExponentialMovingAverage with num_updates)."""
    n = step.astype(jnp.float32)
    return jnp.minimum(decay, (1.0 + n) / (10.0 + n))


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


def make_train_step(config: TrainConfig) -> TrainStep:
    """The jitted ``train_step(state, batch, lr) -> (state, metrics)``; the state is donated."""
    tx = make_optimizer(config)

    def train_step(
        state: TrainState, batch: dict[str, jax.Array], lr: jax.Array
    ) -> tuple[TrainState, dict[str, jax.Array]]:
        rng = jax.random.fold_in(state.dropout_rng, state.step)

        def objective(p: Params) -> tuple[jax.Array, jax.Array]:
            total, chars = ctc_loss(config.model, p, batch, rng)
            return total / jnp.maximum(chars, 1.0), chars

        (loss, chars), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = jax.tree_util.tree_map(lambda p, u: p - lr * u, state.params, updates)
        metrics = {"loss_per_char": loss, "grad_norm": optax.tree.norm(grads), "chars": chars}
        ema = state.ema
        if ema is not None:
            d = ema_decay_at(config.ema_decay, state.step)
            ema = jax.tree_util.tree_map(lambda e, p: d * e + (1.0 - d) * p, ema, params)
        new = dataclasses.replace(
            state, step=state.step + 1, params=params, opt_state=opt_state, ema=ema
        )
        return new, metrics

    return jax.jit(train_step, donate_argnums=(0,))


def make_eval_step(model: ModelConfig) -> EvalStep:
    """The jitted ``eval_step(params, frames) -> best symbol per output frame``: a
    whole-utterance forward pass, which by the streaming property equals what the
    streaming step would produce."""

    def eval_step(params: Params, frames: jax.Array) -> jax.Array:
        logits, _ = Encoder(model).apply(
            {"params": params}, init_state(model, frames.shape[0]), frames
        )
        return jnp.argmax(logits, axis=-1)

    return jax.jit(eval_step)


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
    eval_step: EvalStep,
    params: Params,
    features: data.FeatureSet,
    stats: FeatureStats,
    config: TrainConfig,
    parallel: DataParallel,
) -> Metrics:
    """Greedy CER and WER on the first ``config.eval_utterances`` that fit a bucket."""
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
        parallel.row_multiple,
        fps,
    ):
        local = parallel.shard_batch(parallel.local_rows(batch.frames))
        best = parallel.gather(eval_step(params, local))
        for row, i in enumerate(batch.indices.tolist()):
            if i < 0:
                continue
            n_out = math.ceil(int(lengths[i]) / fps)
            hyps.append(collapse(best[row, :n_out]))
            refs.append(features.texts[i])
    if not refs:
        return {"cer": float("nan"), "wer": float("nan")}
    return {"cer": float(jiwer.cer(refs, hyps)), "wer": float(jiwer.wer(refs, hyps))}


def choose_utterances(
    config: TrainConfig, features: data.FeatureSet
) -> tuple[np.ndarray, np.ndarray]:
    """(indices whose transcripts CTC uses, indices usable as audio): a fixed, seeded
    subset keeps its transcripts when ``transcribed_fraction`` < 1."""
    usable = data.usable(features, config.length_buckets, config.model.frames_per_step)
    if config.transcribed_fraction == 1.0:
        return usable, usable
    chosen = np.random.default_rng(config.seed).permutation(len(usable))
    count = max(1, int(len(usable) * config.transcribed_fraction))
    return np.sort(usable[chosen[:count]]), usable


def fitted_total_steps(config: TrainConfig, step: int, per_step: float, seconds_left: float) -> int:
    """The schedule's length that spends the rest of the budget at ``per_step`` seconds
    a step (at least one more step, at most num_steps)."""
    return max(step + 1, min(config.num_steps, step + int(seconds_left / per_step)))


@dataclass
class Deadline:
    """When this process must have validated and exported (``time.monotonic()``; inf: never),
    and how long a validation with its checkpoint took, at the longest, so far."""

    at: float
    validation_seconds: float = 0.0

    @staticmethod
    def after(started: float, minutes: float) -> Deadline:
        return Deadline(started + minutes * 60 if minutes > 0 else math.inf)

    def seconds_left(self, now: float) -> float:
        """Training time left before the last validation must start."""
        reserve = max(DEADLINE_MIN_RESERVE, DEADLINE_RESERVE_FACTOR * self.validation_seconds)
        return self.at - now - reserve


def train_and_evaluate(
    config: TrainConfig, workdir: str | Path, feature_cache: str | Path | None = None
) -> ModelArtifact:
    """Train (resuming from workdir/checkpoint.msgpack if present); return the final model.

    Features are cached in feature_cache (default workdir/features) under a key of the
    manifests' content and the feature config, so runs on the same data can share one cache.
    """
    # numpy's BLAS (OpenBLAS) starts a thread per core for the augmentations' small matrix
    # products, and those threads spin against XLA's for the same cores: on two cores, one
    # BLAS thread made --smooth-spectrum 40x cheaper (174 -> 4.2 ms a batch of 16); whole
    # training runs moved by less than their noise (docs/training.md).
    with threadpool_limits(limits=1, user_api="blas"):
        return _train_and_evaluate(config, workdir, feature_cache)


def _train_and_evaluate(
    config: TrainConfig, workdir: str | Path, feature_cache: str | Path | None
) -> ModelArtifact:
    # The deadline counts from here: featurising, loading and compiling are inside it.
    deadline = Deadline.after(time.monotonic(), config.deadline_minutes)
    start = load_start(config)  # the files the config names, checked before any work
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cache = Path(feature_cache) if feature_cache is not None else workdir / "features"
    log_path, ckpt_path = workdir / "log.jsonl", workdir / "checkpoint.msgpack"
    resuming = ckpt_path.exists()

    parallel = DataParallel.over_visible_devices()

    def log(row: dict[str, Any]) -> None:
        if parallel.is_main:
            with log_path.open("a") as f:
                f.write(json.dumps(row) + "\n")

    def say(message: str) -> None:
        if parallel.is_main:
            print(message, flush=True)

    say(f"training on {parallel.describe()}")
    if parallel.process_count > 1 and config.pretrain != "none" and not resuming:
        raise ValueError(
            "pretraining runs in one process: start the run in one, then resume it in several"
        )
    shard = (parallel.process_index, parallel.process_count)
    train_set = data.load_features(
        config.train_manifests,
        config.features,
        cache,
        shard=shard,
        exclude_engines=config.heldout_engines,
    )
    valid_sets = data.load_named(
        config.valid_manifests, config.features, cache, config.eval_utterances
    )
    # A fine-tuned model's weights were trained on inputs normalised its way: keep it.
    total = parallel.total if parallel.process_count > 1 else None
    stats = start.model.stats if start.model is not None else data.compute_stats(train_set, total)
    transcribed, usable = choose_utterances(config, train_set)
    hours = float(train_set.lengths()[usable].sum()) / FRAMES_PER_SECOND / 3600
    kept = f"{len(usable)} of {len(train_set)} training utterances usable ({hours:.1f} h)"
    say(kept + (f" (process 0's shard of {parallel.process_count})" if total else ""))
    if config.transcribed_fraction < 1.0:
        say(f"CTC uses the transcripts of {len(transcribed)} utterances")
    global_counts = parallel.total(
        data.bucket_counts(train_set, transcribed, config.length_buckets)
    )

    params = initial_params(
        config,
        start,
        None if resuming else (train_set, usable, stats),
        lambda row: log({"kind": "pretrain", **row}),
    )
    state = create_train_state(config, params, parallel)
    step, total_steps, elapsed_before = 0, config.num_steps, 0.0
    if resuming:
        saved = checkpoint.restore(ckpt_path, state.params, state.opt_state)
        step, total_steps, elapsed_before = saved.step, saved.total_steps, saved.elapsed
        restored = parallel.replicate(saved.params)
        ema = None
        if state.ema is not None:  # a run that kept no average starts one from here
            ema = parallel.replicate(saved.ema) if saved.ema is not None else copied(restored)
        state = dataclasses.replace(
            state,
            step=jnp.int32(step),
            params=restored,
            opt_state=parallel.replicate(saved.opt_state),
            ema=ema,
        )
        say(f"resumed from step {step}")

    train_step = make_train_step(config)
    eval_step = make_eval_step(config.model)
    # Augmentation and each shard's shuffle differ by process; the batch plan does not.
    np_rng = np.random.default_rng(config.seed + step + 7919 * parallel.process_index)
    started = time.monotonic() - elapsed_before
    budget = config.time_budget_minutes * 60
    first_step = step
    fit_step, fit_clock = -1, started
    audio_seconds = 0.0
    window_start = time.monotonic()
    bar = tqdm(
        total=total_steps,
        initial=step,
        unit="step",
        dynamic_ncols=True,
        mininterval=2,
        disable=not parallel.is_main,
    )
    last_saved = step if resuming else -1

    def model_at(state: TrainState, step: int, raw: bool = False) -> ModelArtifact:
        """The model as of ``step``: the averaged weights when the run keeps an average
        (unless ``raw``), else the trained ones."""
        averaged = state.ema if not raw else None
        info = {
            "steps": step,
            "train_hours": round(hours, 2),
            "train_config": json.loads(json.dumps(asdict(config), default=str)),
            "weights": "raw" if averaged is None else f"ema {config.ema_decay}",
        }
        params = jax.device_get(state.params if averaged is None else averaged)
        return ModelArtifact(config.model, config.features, stats, params, info=info)

    def validate_and_save(state: TrainState, step: int, total_steps: int) -> None:
        began = time.monotonic()
        record: dict[str, Any] = {"kind": "eval", "step": step, "time": began - started}
        # The weights that ship first (the average, if kept); the trained ones beside them,
        # so the log shows what averaging buys.
        shipped = [("", state.ema)] if state.ema is not None else []
        for prefix, params in [*shipped, ("raw " if shipped else "", state.params)]:
            for name, valid in valid_sets.items():
                metrics = evaluate(eval_step, params, valid, stats, config, parallel)
                record.update({f"{prefix}{name}/{k}": v for k, v in metrics.items()})
        if not parallel.is_main:
            return  # the checkpoint, the log and the plot are written once
        log(record)
        tqdm.write(json.dumps(record))
        elapsed = time.monotonic() - started
        saved = checkpoint.Checkpoint(
            state.params, state.opt_state, step, total_steps, elapsed, state.ema
        )
        checkpoint.save(ckpt_path, saved)
        # The model as of this step, beside the checkpoint (whose optimizer moments make it
        # three times the size): a run stopped before its end, a lease cut off, still leaves
        # a model to evaluate or copy away.
        artifact.save(model_at(state, step), workdir / "latest.streamasr")
        if state.ema is not None:
            artifact.save(model_at(state, step, raw=True), workdir / "latest_raw.streamasr")
        plot_curves(log_path, workdir / "curves.png")
        took = time.monotonic() - began  # process 0's, whose clock decides for all
        deadline.validation_seconds = max(deadline.validation_seconds, took)

    done = step >= total_steps
    clocked = not config.fixed_steps or math.isfinite(deadline.at)  # may a clock end the run?
    epoch = 0
    while not done:
        epoch += 1
        for batch in data.process_batches(
            train_set,
            transcribed,
            config.length_buckets,
            config.batch_frames,
            stats,
            np_rng,
            np.random.default_rng([config.seed, step]),  # the same in every process
            global_counts,
            parallel.process_count,
            parallel.row_multiple,
            config.model.frames_per_step,
        ):
            batch = augment(batch, config, stats, np_rng, start.vae, step)
            arrays = {
                "frames": parallel.shard_batch(batch.frames),
                "frame_paddings": parallel.shard_batch(batch.frame_paddings),
                "labels": parallel.shard_batch(batch.labels),
                "label_paddings": parallel.shard_batch(batch.label_paddings),
            }
            lr = learning_rate(config, step, total_steps)
            state, metrics = train_step(state, arrays, jnp.float32(lr))
            step += 1
            audio_seconds += float((1.0 - batch.frame_paddings).sum()) / FRAMES_PER_SECOND
            if step % LOG_EVERY == 0 or step == total_steps:
                m = {k: float(v) for k, v in metrics.items()}
                now = time.monotonic()
                seconds = float(parallel.total(np.array([audio_seconds], np.float32))[0])
                speed = seconds / max(1e-9, now - window_start)
                audio_seconds, window_start = 0.0, now
                row = {"kind": "train", "step": step, "lr": lr, "epoch": epoch, **m}
                log({**row, "audio_seconds_per_second": speed})
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
                seconds_left = min(budget - (now - started), deadline.seconds_left(now))
                fitted = fitted_total_steps(config, step, per_step, seconds_left)
                total_steps = parallel.agree(fitted)
                bar.total = total_steps
            bar.update(1)
            if step % config.eval_every == 0 or step >= total_steps:
                validate_and_save(state, step, total_steps)
                last_saved = step
            now = time.monotonic()
            out_of_time = clocked and parallel.agree(
                (not config.fixed_steps and now - started > budget * 1.05)
                or deadline.seconds_left(now) <= 0
            )
            if step >= total_steps or out_of_time:
                done = True
                break
    bar.close()
    if last_saved != step:
        validate_and_save(state, step, total_steps)
    return model_at(state, step)
