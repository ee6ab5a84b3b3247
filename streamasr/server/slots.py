"""The daemon's session limit (``--max-connections``), counted where a request is admitted.

A slot is taken atomically when a websocket handshake is accepted and given back when its TCP
connection is gone, so handshakes in flight count too and the limit is never passed. Under
``serve --workers N`` the count lives in shared memory that every worker process sees: the
limit is the daemon's, whichever worker the kernel hands a connection to (a fixed share per
worker refused clients early whenever the kernel's hash sent one worker more than its share).
"""

from __future__ import annotations

import contextlib
from multiprocessing.sharedctypes import Synchronized
from typing import Protocol


class _Count(Protocol):
    """What the slots need of a count: its value, and a lock to change it under."""

    value: int

    def get_lock(self) -> contextlib.AbstractContextManager[object]: ...


class _LocalCount:
    """A count for one process's event loop: the shared count's interface, no lock needed."""

    value = 0

    def get_lock(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()


class SessionSlots:
    """At most ``limit`` sessions at once, in this process or in all that share ``count``."""

    def __init__(self, limit: int, count: Synchronized[int] | None = None) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.limit = limit
        self._count: _Count = count if count is not None else _LocalCount()

    @property
    def in_use(self) -> int:
        return self._count.value

    def take(self) -> bool:
        """One slot if one is free (False: the daemon is full)."""
        with self._count.get_lock():
            if self._count.value >= self.limit:
                return False
            self._count.value += 1
            return True

    def give_back(self) -> None:
        with self._count.get_lock():
            self._count.value -= 1
