"""Several server processes on one port (SO_REUSEPORT), supervised by a process that never
imports jax: Python runs one thread at a time, so using more than about one core takes
more processes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence


def supervise(target: Callable[..., object], args: Sequence[object], workers: int) -> int:
    """Run ``target(*args)`` in ``workers`` fresh processes and wait for them all.

    SIGTERM/SIGINT are passed on (each worker drains its own sessions); if one worker fails,
    the others are stopped and its exit status is returned. ``target`` must be picklable (a
    module-level function): each worker is a clean, spawned interpreter."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    context = multiprocessing.get_context("spawn")
    procs = [
        context.Process(target=target, args=tuple(args), name=f"streamasr-worker-{i}")
        for i in range(workers)
    ]
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.pid is not None and p.is_alive():
                os.kill(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for p in procs:
        p.start()
    status = 0
    while any(p.is_alive() for p in procs):
        for p in procs:
            p.join(timeout=0.2)
            if not p.is_alive() and p.exitcode and not stopping:
                status = p.exitcode
                stop(signal.SIGTERM, None)
        time.sleep(0.05)
    if stopping and status == 0:
        status = max([0, *[p.exitcode or 0 for p in procs]])
    return status
