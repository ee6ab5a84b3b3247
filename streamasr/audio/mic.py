"""Microphone capture with sounddevice (PortAudio) into a ring buffer.

The PortAudio callback runs on the audio thread and must never block: it only copies the
block into the ``Ring`` (which counts what does not fit) and records the driver's own
overflow flag. Consumers read the ring at their own pace.

sounddevice is imported when a capture starts: PortAudio enumerates devices at import,
so the sound server must already be reachable then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from streamasr.audio.ring import FloatArray, Ring
from streamasr.constants import SAMPLE_RATE

BLOCK_SECONDS = 0.01  # one callback per 10 ms: low latency, regular wake-ups
# The device buffer PortAudio asks for. Its "low" setting gave a 20 ms buffer through
# PulseAudio here: a callback held up that long (the GIL, a busy core) and the device drops
# input, which PortAudio only flags. A tenth of a second (90 ms granted) rides out such
# stalls; its callbacks come in bursts, at most 44 ms apart (p95 30 ms; "low": 20 ms), well
# inside the 100 ms blocks that the recognizer is fed.
DEVICE_BUFFER_SECONDS = 0.1
RING_SECONDS = 5.0  # how far the consumer may fall behind before samples are lost


@dataclass(frozen=True)
class Losses:
    """What a capture lost since the last look: samples the full ring dropped (the consumer
    fell behind) and times the sound device dropped input before the callback ran."""

    ring_samples: int
    device_overflows: int


class MicError(RuntimeError):
    """No usable input device; the message says what was looked for."""


def _device(spec: str | None) -> int | str | None:
    if spec is None or spec == "":
        return None
    return int(spec) if spec.isdigit() else spec


def list_input_devices() -> list[str]:
    import sounddevice as sd

    return [
        f"{i}: {d['name']}" for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0
    ]


class Microphone:
    """``with Microphone(device) as mic: samples = mic.ring.read()`` at SAMPLE_RATE mono."""

    def __init__(
        self,
        device: str | None = None,
        sample_rate: int = SAMPLE_RATE,
        ring_seconds: float = RING_SECONDS,
    ) -> None:
        self.device = _device(device)
        self.sample_rate = sample_rate
        self.ring = Ring(int(sample_rate * ring_seconds))
        self.driver_overflows = 0  # PortAudio's input_overflow flags
        self._stream: Any = None
        self._reported = Losses(0, 0)

    def _callback(self, indata: FloatArray, frames: int, time: Any, status: Any) -> None:
        # The audio thread: copy and count, nothing else.
        if status and status.input_overflow:
            self.driver_overflows += 1
        self.ring.write(indata[:, 0])

    def new_losses(self) -> Losses:
        """The losses since the previous call (every consumer that reports them calls this
        from one thread, so each loss is reported once)."""
        now = Losses(self.ring.overflow, self.driver_overflows)
        seen, self._reported = self._reported, now
        return Losses(
            now.ring_samples - seen.ring_samples, now.device_overflows - seen.device_overflows
        )

    def start(self) -> Microphone:
        import sounddevice as sd

        try:
            self._stream = sd.InputStream(
                samplerate=self.sample_rate,
                blocksize=int(self.sample_rate * BLOCK_SECONDS),
                device=self.device,
                channels=1,
                dtype="float32",
                latency=DEVICE_BUFFER_SECONDS,
                callback=self._callback,
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as e:
            devices = ", ".join(list_input_devices()) or "none"
            name = "(default)" if self.device is None else self.device
            raise MicError(f"cannot open input device {name}: {e}; input devices: {devices}") from e
        return self

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None

    def close(self) -> None:
        self.stop()
        self.ring.close()

    def __enter__(self) -> Microphone:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def level_db(samples: FloatArray) -> float:
    """RMS level in dBFS (floor -96) for a level meter."""
    if samples.size == 0:
        return -96.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return max(-96.0, 20.0 * np.log10(rms)) if rms > 0 else -96.0


__all__ = ["MicError", "Microphone", "level_db", "list_input_devices"]
