"""A private PulseAudio instance with a virtual microphone, for testing the real PortAudio
path on a machine with no sound card (see ../shared/README.md).

``with VirtualMic(tmp) as mic:`` starts ``pulseaudio`` with its own runtime dir and HOME,
a pipe source ``vmic`` (16 kHz mono s16le) fed from a FIFO by a paced writer thread (real
time, 10 ms blocks; silence when there is nothing to play, because a pipe source with no
writer delivers nothing), and an ``~/.asoundrc`` that shows ``vmic`` to PortAudio.
``mic.env`` is the environment a capturing process needs; ``mic.play(samples)`` queues
int16 samples. bin/_bootstrap.sh installs pulseaudio and libasound2-plugins.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

RATE = 16000
BLOCK = RATE // 100  # 10 ms


class VirtualMic:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.run_dir = folder / "run"
        self.home = folder / "home"
        self.fifo = folder / "mic.fifo"
        self.env = {
            **os.environ,
            "XDG_RUNTIME_DIR": str(self.run_dir),
            "HOME": str(self.home),
            "PULSE_SERVER": f"unix:{self.run_dir / 'pulse' / 'native'}",
        }
        self._queue: queue.Queue[np.ndarray] = queue.Queue()
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._writer: threading.Thread | None = None
        self.played = 0  # samples of queued audio written so far

    def __enter__(self) -> VirtualMic:
        missing = [p for p in ("pulseaudio",) if shutil.which(p) is None]
        if missing or not Path("/usr/share/alsa/alsa.conf.d/50-pulseaudio.conf").exists():
            raise RuntimeError(
                "pulseaudio and libasound2-plugins are needed (bin/_bootstrap.sh installs them)"
            )
        self.run_dir.mkdir(mode=0o700)
        self.home.mkdir()
        (self.home / ".asoundrc").write_text('pcm.vmic { type pulse device "vmic" }\n')
        conf = self.folder / "pulse.pa"
        conf.write_text(
            "load-module module-native-protocol-unix auth-anonymous=1\n"
            f"load-module module-null-sink sink_name=nullout rate={RATE} channels=1 "
            "format=s16le norewinds=1\n"
            f"load-module module-pipe-source source_name=vmic file={self.fifo} rate={RATE} "
            "channels=1 format=s16le\n"
            "set-default-source vmic\n"
        )
        self._proc = subprocess.Popen(
            ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "-n", "-F", str(conf)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self.fifo.exists() or not (self.run_dir / "pulse" / "native").exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("pulseaudio did not start")
            time.sleep(0.02)
        self._writer = threading.Thread(target=self._write, daemon=True)
        self._writer.start()
        return self

    def play(self, samples: np.ndarray) -> None:
        """Queue int16 samples to be played after what is queued already."""
        self._queue.put(np.asarray(samples, "<i2"))

    def _write(self) -> None:
        fd = os.open(self.fifo, os.O_WRONLY)
        pending = np.zeros(0, "<i2")
        next_time = time.monotonic()
        try:
            while not self._stop.is_set():
                while pending.size < BLOCK:
                    try:
                        pending = np.concatenate([pending, self._queue.get_nowait()])
                    except queue.Empty:
                        break
                if pending.size >= BLOCK:
                    block, pending = pending[:BLOCK], pending[BLOCK:]
                    self.played += BLOCK
                elif pending.size:
                    block = np.concatenate([pending, np.zeros(BLOCK - pending.size, "<i2")])
                    self.played += pending.size
                    pending = pending[:0]
                else:
                    block = np.zeros(BLOCK, "<i2")
                try:
                    os.write(fd, block.tobytes())
                except BrokenPipeError:
                    return  # pulseaudio went away
                next_time += BLOCK / RATE
                time.sleep(max(0.0, next_time - time.monotonic()))  # pacing, not polling
        finally:
            os.close(fd)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._writer is not None:
            self._writer.join(5)
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
