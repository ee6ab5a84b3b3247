"""A single-producer/single-consumer ring buffer of float32 samples.

The producer is an audio callback that must never block: ``write`` copies what fits, counts
what does not (``overflow``), and wakes the consumer through a non-blocking pipe (a full
pipe already means "wake up", so a failed write is simply ignored). The consumer waits on
the pipe's file descriptor (``wait`` here, or ``loop.add_reader(ring.fileno(), ...)`` in
asyncio) instead of polling. Each index is written by one side only; under the GIL the
integer stores are atomic, so no lock is needed.
"""

from __future__ import annotations

import contextlib
import os
import select

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


class Ring:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"ring capacity must be positive, got {capacity}")
        self.capacity = capacity
        self._buffer = np.zeros(capacity, np.float32)
        self._written = 0  # total samples written (producer only)
        self._read = 0  # total samples read (consumer only)
        self.overflow = 0  # samples dropped because the ring was full (producer only)
        self.overflow_events = 0  # writes that dropped something
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.closed = False

    @property
    def available(self) -> int:
        return self._written - self._read

    def write(self, samples: npt.ArrayLike) -> int:
        """Producer: append what fits, drop the rest (newest) and count it. Never blocks.
        Returns the number of samples stored."""
        x = np.asarray(samples, np.float32).reshape(-1)
        space = self.capacity - (self._written - self._read)
        n = min(x.size, space)
        if n < x.size:
            self.overflow += x.size - n
            self.overflow_events += 1
        if n:
            start = self._written % self.capacity
            first = min(n, self.capacity - start)
            self._buffer[start : start + first] = x[:first]
            self._buffer[: n - first] = x[first:n]
            self._written += n  # publish after the copy
        if not self.closed:
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._wake_w, b"\0")
        return n

    def read(self, max_samples: int | None = None) -> FloatArray:
        """Consumer: take up to max_samples (all available by default), oldest first."""
        n = self._written - self._read
        if max_samples is not None:
            n = min(n, max_samples)
        start = self._read % self.capacity
        first = min(n, self.capacity - start)
        out = np.concatenate([self._buffer[start : start + first], self._buffer[: n - first]])
        self._read += n  # release after the copy
        return out

    def fileno(self) -> int:
        """Readable when the producer wrote since the last ``clear_wakeups``."""
        return self._wake_r

    def clear_wakeups(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._wake_r, 4096):
                pass

    def wait(self, timeout: float | None = None) -> bool:
        """Consumer: block until samples are available (True) or the timeout passes."""
        if self.available:
            return True
        select.select([self._wake_r], [], [], timeout)
        self.clear_wakeups()
        return self.available > 0

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self._wake_r)
            os.close(self._wake_w)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
