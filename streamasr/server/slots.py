"""The daemon's session limit (``--max-connections``), counted where a request is admitted.

A slot is taken atomically when a websocket handshake is accepted and given back when its TCP
connection is gone, so handshakes in flight count too and the limit is never passed. Under
``serve --workers N`` the count lives in shared memory that every worker process sees: the
limit is the daemon's, whichever worker the kernel hands a connection to (a fixed share per
worker refused clients early whenever the kernel's hash sent one worker more than its share).
"""

from __future__ import annotations

from multiprocessing.sharedctypes import Synchronized


class SessionSlots:
    """At most ``limit`` sessions at once, in this process or in all that share ``count``."""

    def __init__(self, limit: int, count: Synchronized[int] | None = None) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.limit = limit
        self._shared = count
        self._local = 0

    @property
    def in_use(self) -> int:
        return self._shared.value if self._shared is not None else self._local

    def take(self) -> bool:
        """One slot if one is free (False: the daemon is full)."""
        if self._shared is None:
            if self._local >= self.limit:
                return False
            self._local += 1
            return True
        with self._shared.get_lock():
            if self._shared.value >= self.limit:
                return False
            self._shared.value += 1
            return True

    def give_back(self) -> None:
        if self._shared is None:
            self._local -= 1
            return
        with self._shared.get_lock():
            self._shared.value -= 1
