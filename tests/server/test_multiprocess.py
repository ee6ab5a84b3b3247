"""The workers' shared metrics directory: one per supervisor, and those of dead supervisors
removed by the next one; the supervising process imports no jax."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from streamasr.server.multiprocess import make_metrics_dir

ROOT = Path(__file__).resolve().parents[2]


def test_a_dead_supervisors_directory_goes_and_a_live_ones_stays(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = tmp_path / f"streamasr-metrics-{gone.pid}-abc"
    live = tmp_path / f"streamasr-metrics-{os.getppid()}-def"  # pytest's parent: running
    other = tmp_path / "streamasr-metrics-not-ours"
    for d in (dead, live, other):
        d.mkdir()
        (d / "counter_1.db").write_bytes(b"x")
    made = make_metrics_dir(str(tmp_path))
    assert not dead.exists()
    assert live.exists() and other.exists()
    assert made.is_dir() and made.name.startswith(f"streamasr-metrics-{os.getpid()}-")
    assert made not in (dead, live, other)


def test_the_supervisor_imports_no_jax() -> None:
    """``serve --workers`` supervises from a process that never loads the model: importing
    jax there would cost every daemon its memory and start-up time for nothing."""
    probe = (
        "import argparse, sys\n"
        "import streamasr.cli.serve as serve, streamasr.server.supervisor as sup\n"
        "sup.supervise = lambda target, args, workers: print('jax' in sys.modules) or 0\n"
        "serve._supervise(argparse.Namespace(workers=2))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    assert out.stdout.strip() == "False", out.stdout + out.stderr
