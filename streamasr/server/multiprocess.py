"""The metrics directory that ``serve --workers N`` shares between its workers.

prometheus_client's multiprocess mode keeps every worker's values in files in one directory,
named by ``PROMETHEUS_MULTIPROC_DIR``, which must be set before the workers import it. The
supervising command makes the directory and removes it when the workers end. A supervisor
killed outright (SIGKILL, a lost machine) cannot, so each directory carries its
supervisor's process id and the next daemon to start removes those whose process is gone.

This module imports nothing heavy: the supervisor never imports jax.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client reads it at import
_PREFIX = "streamasr-metrics-"
_OWNED = re.compile(rf"^{_PREFIX}(\d+)-")


def make_metrics_dir(parent: str | None = None) -> Path:
    """A new directory for this supervisor's workers, after removing those of supervisors
    that died without removing their own."""
    root = Path(parent or tempfile.gettempdir())
    for stale in root.glob(f"{_PREFIX}*"):
        owner = _OWNED.match(stale.name)
        if owner is not None and stale.is_dir() and not _alive(int(owner.group(1))):
            shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=root))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
