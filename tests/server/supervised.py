"""Worker targets for tests/server/test_supervisor.py: module-level, so that spawned
processes can import them."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any


def wait_for_sigterm(folder: str, ready: Any, fail_one: bool) -> None:
    """Say ready, then run until SIGTERM and note that it came. With ``fail_one`` the first
    worker to start fails with status 3 instead, once another is ready (so that the
    supervisor's SIGTERM finds that one waiting for it)."""
    if fail_one:
        try:
            os.close(os.open(Path(folder) / "failed", os.O_CREAT | os.O_EXCL))
            ready.acquire(timeout=60)
            sys.exit(3)
        except FileExistsError:
            pass
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    ready.release()
    signal.sigwait({signal.SIGTERM})
    (Path(folder) / f"stopped-{os.getpid()}").touch()
