"""Training across processes: two CPU processes on loopback, joined by jax.distributed,
train on one global batch (each giving its own rows) and must end with the parameters one
process gets from the whole batch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from streamasr.features.normalize import FeatureStats
from tests.train import distributed_worker as worker
from train import data
from train.parallel import DataParallel, join_processes

ROOT = Path(__file__).resolve().parents[2]
STEPS = 3
LIMIT_S = 180  # a hang guard for the two-process run, compile included: seconds on a quiet
# machine, 2 minutes measured on 2 cores shared with a training job


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_processes_train_like_one_on_the_same_global_batch(tmp_path: Path) -> None:
    out = tmp_path / "params.npz"
    coordinator = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)  # one CPU device per process
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.train.distributed_worker",
                "--coordinator",
                coordinator,
                "--num-processes",
                "2",
                "--process-id",
                str(i),
                "--steps",
                str(STEPS),
                "--out",
                str(out),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=LIMIT_S)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, text in zip(procs, outputs, strict=True):
        assert p.returncode == 0, text[-2000:]
        assert "2 cpu device(s) in 2 process(es)" in text, text[-2000:]
    two = np.load(out)

    one = worker.flat(worker.train(DataParallel.over_visible_devices(), STEPS))
    start = worker.flat(worker.init_params(worker.config().model, worker.jax.random.PRNGKey(0)))
    assert sorted(two.files) == sorted(one)
    for name in one:
        assert not np.allclose(one[name], start[name]), f"{name} did not train"
        np.testing.assert_allclose(two[name], one[name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_each_process_gets_its_rows_of_the_same_global_batches() -> None:
    """Two shards of one corpus, planned alike: every step has the same shape in both
    processes, and together they cover the corpus as one process's pass would."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(20, 400, size=37)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    corpus = data.FeatureSet(
        frames=np.zeros((offsets[-1], 4), np.float16),
        offsets=offsets,
        labels=[[1, 2]] * 37,
        texts=["ab"] * 37,
        voices=["v"] * 37,
    )
    buckets, frames = (100, 200, 400), 1600
    stats = FeatureStats.identity(4)
    shards = [np.arange(37)[i::2] for i in range(2)]
    counts = sum(data.bucket_counts(corpus, s, buckets) for s in shards)
    runs = [
        list(
            data.process_batches(
                corpus,
                s,
                buckets,
                frames,
                stats,
                np.random.default_rng(i),
                np.random.default_rng([0, 5]),
                counts,
                2,
                2,
            )
        )
        for i, s in enumerate(shards)
    ]
    assert (
        len(runs[0])
        == len(runs[1])
        == len(list(data.batches(corpus, np.arange(37), buckets, frames, stats, None, 2)))
    )
    for a, b in zip(*runs, strict=True):
        assert a.frames.shape == b.frames.shape and a.labels.shape == b.labels.shape
    seen = [i for run in runs for batch in run for i in batch.indices.tolist() if i >= 0]
    assert len(seen) == len(set(seen)) == 37


def test_no_multi_process_run_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAX_COORDINATOR_ADDRESS", raising=False)
    assert join_processes() is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_processes": 0}, "num_processes must be at least 1, got 0"),
        ({"num_processes": 2, "process_id": 2}, "process_id must be below"),
        ({"process_id": -1}, "process_id must be at least 0"),
        ({"coordinator": "localhost"}, "host:port"),
    ],
)
def test_bad_process_flags_are_clear_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        join_processes(**kwargs)  # type: ignore[arg-type]
