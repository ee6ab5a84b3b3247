"""serve's XLA thread pool: the size asked for, on every CPU the process had."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Starts the backend, runs a matmul (the pool computes), and reports the pool's threads
# (XLA names them tf_XLAEigen) and the CPUs each thread of the process may run on.
PROBE = """
import json, os, sys
from streamasr.model.cpu_threads import start_backend
start_backend(int(sys.argv[1]))
import jax.numpy as jnp
(jnp.ones((512, 512)) @ jnp.ones((512, 512))).block_until_ready()
pool, cpus = 0, set()
for task in os.listdir("/proc/self/task"):
    pool += open(f"/proc/self/task/{task}/comm").read().strip() == "tf_XLAEigen"
    status = open(f"/proc/self/task/{task}/status").read()
    cpus |= {l.split()[1] for l in status.splitlines() if l.startswith("Cpus_allowed_list")}
print(json.dumps({"pool": pool, "cpus": sorted(cpus)}))
"""


def probe(threads: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(threads)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"},
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="CPU affinity is Linux's")
def test_one_thread_pool_and_every_thread_keeps_every_cpu() -> None:
    cpus = len(os.sched_getaffinity(0))
    if cpus < 2:
        pytest.skip("one CPU: XLA's default pool is one thread too, nothing to tell apart")
    default, limited = probe(0), probe(1)
    assert default["pool"] == cpus  # the test sees XLA's pool at all
    assert limited["pool"] == 1
    # No thread stays pinned: the pool's and the interpreter's run anywhere, as before.
    assert limited["cpus"] == default["cpus"]
    assert len(limited["cpus"]) == 1  # type: ignore[arg-type]
