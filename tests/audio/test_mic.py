"""Microphone capture through the real PortAudio path: a private PulseAudio instance with
a virtual microphone (tests/server/virtual_mic.py). Capture runs in a child process,
because PortAudio enumerates devices when sounddevice is imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.server.virtual_mic import VirtualMic

pytestmark = pytest.mark.slow  # PulseAudio and a capture subprocess

ROOT = Path(__file__).resolve().parents[2]

CAPTURE = """
import sys, numpy as np
from streamasr.audio.mic import Microphone, level_db
seconds = float(sys.argv[1])
with Microphone("vmic") as mic:
    print("started", flush=True)
    got, need = [], int(16000 * seconds)
    while sum(g.size for g in got) < need:
        mic.ring.wait(1.0)
        got.append(mic.ring.read())
    overflow = mic.ring.overflow
x = np.concatenate(got)
np.save(sys.argv[2], x)
print("level", level_db(x), "overflow", overflow, flush=True)
"""


@pytest.mark.timeout(60)
def test_capture_is_bit_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    signal = (rng.normal(0, 3000, 8000)).astype("<i2")
    signal[0] = 1000  # a non-zero first sample marks where it starts
    out = tmp_path / "captured.npy"
    with VirtualMic(tmp_path) as mic:
        proc = subprocess.Popen(
            [sys.executable, "-c", CAPTURE, "1.5", str(out)],
            env={**mic.env, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if first.strip() != "started":
            proc.kill()
            pytest.fail(
                f"capture did not start: {first} {proc.stderr.read() if proc.stderr else ''}"
            )
        mic.play(signal)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    captured = np.load(out)
    start = int(np.flatnonzero(captured)[0])
    np.testing.assert_array_equal(captured[start : start + signal.size], signal / 32768.0)
    assert "overflow 0" in stdout
