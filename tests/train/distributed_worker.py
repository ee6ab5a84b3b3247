"""One process of the two-process training test (tests/train/test_parallel.py): joins the
run, takes its rows of a fixed global batch, trains a few steps and (process 0) writes the
parameters. With no coordinator it is the one-process reference on the whole batch."""

from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp
import numpy as np

from streamasr.model.step import Params, enable_compilation_cache, init_params
from streamasr.vocab import VOCAB_SIZE
from train.configs.default import TrainConfig, get_smoke_config
from train.parallel import DataParallel, join_processes
from train.train import create_train_state, make_train_step

ROWS, FRAMES, LABELS = 8, 96, 12  # the global batch


def config() -> TrainConfig:
    return get_smoke_config()


def global_batch(config: TrainConfig) -> dict[str, np.ndarray]:
    """A fixed batch with rows of different lengths, one filler row and real labels."""
    rng = np.random.default_rng(7)
    frames = rng.normal(size=(ROWS, FRAMES, config.model.input_dim)).astype(np.float32)
    lengths = np.array([96, 90, 80, 70, 95, 60, 50, 0])  # the last row is filler
    frame_paddings = (np.arange(FRAMES)[None, :] >= lengths[:, None]).astype(np.float32)
    frames *= 1.0 - frame_paddings[..., None]
    labels = rng.integers(1, VOCAB_SIZE, size=(ROWS, LABELS)).astype(np.int32)
    label_lengths = np.array([12, 10, 8, 6, 11, 5, 3, 0])
    label_paddings = (np.arange(LABELS)[None, :] >= label_lengths[:, None]).astype(np.float32)
    labels *= (1 - label_paddings).astype(np.int32)
    return {
        "frames": frames,
        "frame_paddings": frame_paddings,
        "labels": labels,
        "label_paddings": label_paddings,
    }


def train(parallel: DataParallel, steps: int) -> Params:
    """``steps`` train steps on the global batch, each process giving its own rows."""
    cfg = config()
    state = create_train_state(cfg, init_params(cfg.model, jax.random.PRNGKey(0)), parallel)
    arrays = {k: parallel.shard_batch(parallel.local_rows(v)) for k, v in global_batch(cfg).items()}
    step = make_train_step(cfg)
    for i in range(steps):
        state, _ = step(state, arrays, jnp.float32(1e-2 * (i + 1)))
    params: Params = jax.device_get(state.params)
    return params


def flat(params: Params) -> dict[str, np.ndarray]:
    leaves = jax.tree_util.tree_leaves_with_path(params)
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--coordinator")
    p.add_argument("--num-processes", type=int)
    p.add_argument("--process-id", type=int)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    join_processes(args.coordinator, args.num_processes, args.process_id)
    enable_compilation_cache()  # a warm run of the test compiles nothing
    parallel = DataParallel.over_visible_devices()
    params = train(parallel, args.steps)
    if parallel.is_main:
        np.savez(args.out, **flat(params))
    print(parallel.describe(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
