"""Throughput of the streaming step for the default model config.

Prints microseconds per jitted step call for batch sizes 1, 8, 32, 128 and chunks of 1, 4, 8
model steps (each model step is 4 feature frames = 40 ms of audio), the single-stream
real-time factor, how many concurrent real-time streams one core and two cores sustain,
and the achieved GFLOP/s against a large float32 matmul measured in the same run (the
roofline). Last line: ``STREAMS_2CORE=<int> RTF_B1=<float>``.

One core = one process pinned to one CPU with XLA's thread pool off. Two cores = two such
processes side by side (one per core: the way to scale streams across cores) and, for
comparison, one process using both cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

BATCHES = (1, 8, 32, 128)
CHUNKS = (1, 4, 8)
SINGLE_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def model_flops_per_step(cfg: Any) -> float:
    """Multiply-adds x 2 for one stream and one model step (frames_per_step input frames)."""
    fps = cfg.frames_per_step
    flops = 0.0
    rate = fps  # input frames per output step entering the current conv
    in_dim = cfg.input_dim
    strides = (*cfg.subsampling, *([1] * cfg.residual_blocks))
    for stride in strides:
        rate //= stride
        flops += 2 * cfg.conv_kernel * in_dim * cfg.conv_channels * rate
        in_dim = cfg.conv_channels
    for layer in range(cfg.rnn_layers):
        d = in_dim if layer == 0 else cfg.rnn_hidden
        flops += 2 * (d + cfg.rnn_hidden) * 4 * cfg.rnn_hidden
    flops += 2 * cfg.rnn_hidden * cfg.vocab_size
    return float(flops)


def timed(fn: Any, min_seconds: float) -> float:
    fn()  # compile / warm
    fn()
    runs: list[float] = []
    total = 0.0
    while total < min_seconds or len(runs) < 5:
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        runs.append(dt)
        total += dt
    runs.sort()
    return float(runs[len(runs) // 2])


def worker(seconds: float, dtype_name: str) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from streamasr.model.config import ModelConfig
    from streamasr.model.encoder import init_state
    from streamasr.model.step import init_params, make_step

    cfg = ModelConfig()
    dtype = jnp.dtype(dtype_name)
    params = jax.tree.map(lambda x: x.astype(dtype), init_params(cfg, jax.random.PRNGKey(0)))
    step = make_step(cfg)
    out: dict[str, Any] = {"device": str(jax.devices()[0].device_kind), "steps": {}}
    for b in BATCHES:
        for k in CHUNKS:
            state = jax.tree.map(lambda x: x.astype(dtype), init_state(cfg, b))
            frames = jnp.asarray(
                np.random.default_rng(0).normal(size=(b, k * cfg.frames_per_step, cfg.input_dim)),
                dtype,
            )

            def call(state: Any = state, frames: Any = frames) -> None:
                log_probs, _ = step(params, state, frames)
                log_probs.block_until_ready()

            out["steps"][f"{b},{k}"] = timed(call, seconds)
    n = 2048
    a = jnp.asarray(np.random.default_rng(1).normal(size=(n, n)).astype(np.float32))
    matmul = jax.jit(lambda x: x @ x)
    t = timed(lambda: matmul(a).block_until_ready(), seconds)
    out["matmul_gflops"] = 2 * n**3 / t / 1e9
    out["flops_per_step"] = model_flops_per_step(cfg)
    out["step_seconds"] = cfg.frames_per_step * 0.01
    return out


def spawn(core: int | None, seconds: float, dtype: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    command = [sys.executable, __file__, "--worker", "--seconds", str(seconds), "--dtype", dtype]
    if core is not None:
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + SINGLE_THREAD_FLAGS).strip()
        command = ["taskset", "-c", str(core), *command]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)


def collect(procs: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    results = []
    for p in procs:
        stdout, _ = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"benchmark worker failed with exit code {p.returncode}")
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    return results


def streams(result: dict[str, Any], b: int, k: int) -> float:
    return float(b * k * result["step_seconds"] / result["steps"][f"{b},{k}"])


def table(title: str, result: dict[str, Any]) -> None:
    print(f"\n{title}  (device: {result['device']})")
    print(
        f"{'batch':>6} {'chunk':>6} {'us/call':>10} {'streams':>9} {'GFLOP/s':>9} {'of matmul':>10}"
    )
    for b in BATCHES:
        for k in CHUNKS:
            t = result["steps"][f"{b},{k}"]
            gflops = result["flops_per_step"] * b * k / t / 1e9
            print(
                f"{b:>6} {k:>6} {t * 1e6:>10.0f} {streams(result, b, k):>9.0f} "
                f"{gflops:>9.1f} {gflops / result['matmul_gflops']:>9.0%}"
            )
    print(f"large matmul (2048^2, f32): {result['matmul_gflops']:.0f} GFLOP/s")


def best_streams(result: dict[str, Any]) -> float:
    return max(streams(result, b, k) for b in BATCHES for k in CHUNKS)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--seconds", type=float, default=0.5, help="timing per configuration")
    p.add_argument(
        "--dtype",
        choices=("float32", "bfloat16"),
        default="float32",
        help="parameters, state and frames in this type (the daemon's: %(default)s)",
    )
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.seconds, args.dtype)))
        return 0
    cores = len(os.sched_getaffinity(0))
    print(
        "model: default config (streamasr.model.config.ModelConfig()); chunk = model steps of "
        f"40 ms; {args.dtype}"
    )
    (one,) = collect([spawn(0, args.seconds, args.dtype)])
    table("one core (one process, one thread)", one)
    two_procs = collect([spawn(c, args.seconds, args.dtype) for c in range(min(2, cores))])
    (shared,) = collect([spawn(None, args.seconds, args.dtype)])
    table("one process, all cores", shared)
    rtf_b1 = one["steps"]["1,1"] / one["step_seconds"]
    one_core = best_streams(one)
    two_core = sum(best_streams(r) for r in two_procs)
    print(f"\nsingle-stream real-time factor (batch 1, one 40 ms step): {rtf_b1:.4f}")
    print(f"real-time streams, one core:  {one_core:.0f}")
    print(f"real-time streams, two cores: {two_core:.0f} (two pinned processes side by side)")
    print(f"real-time streams, one process on all cores: {best_streams(shared):.0f}")
    b128 = max(one["flops_per_step"] * 128 * k / one["steps"][f"128,{k}"] / 1e9 for k in CHUNKS)
    print(
        f"batch 128 on one core: {b128:.0f} GFLOP/s = {b128 / one['matmul_gflops']:.0%} of matmul"
    )
    print(f"STREAMS_2CORE={int(two_core)} RTF_B1={rtf_b1:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
