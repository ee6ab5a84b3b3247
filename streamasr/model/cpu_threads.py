"""How many threads XLA's CPU runtime computes with: chosen once, before it starts.

XLA sizes its CPU thread pool (the ``tf_XLAEigen`` threads) from the CPUs the process may
run on when the backend starts, and jaxlib 0.10.2 has no flag for it
(``--xla_cpu_multi_thread_eigen=false`` leaves the pool as it is). The daemon's batched
calls are small, a few milliseconds each, between Python work on its other threads. Split
over two threads such a call cost 15-25% more CPU and was no faster: on this 2-core host a
64-stream step took 9.4 ms wall and 10.9 ms CPU with the default pool, and 8.5 ms and
8.7 ms with one thread. So ``serve`` starts the backend while the process is limited to N
CPUs, then gives every thread, the pool's included, all CPUs back. The pool keeps N
threads, and the kernel may run them on any CPU (docs/performance.md).
"""

from __future__ import annotations

import contextlib
import logging
import os

log = logging.getLogger(__name__)


def start_backend(threads: int) -> None:
    """Start JAX's backend with an XLA CPU pool of ``threads`` threads (0: XLA's default, one
    per CPU). Must run before anything in the process uses JAX. Where the OS cannot limit a
    process's CPUs (not Linux), XLA keeps its default."""
    import jax
    from jax._src import xla_bridge

    if threads < 0:
        raise ValueError(f"XLA CPU threads must be at least 0, got {threads}")
    if xla_bridge.backends_are_initialized():  # e.g. serve run inside a program using JAX
        log.warning("JAX already started: XLA keeps the CPU threads it started with")
        return
    if threads == 0 or not hasattr(os, "sched_setaffinity"):
        jax.devices()
        return
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, set(sorted(allowed)[:threads]))
    try:
        jax.devices()  # creates the CPU client and its pool, sized from the CPUs above
    finally:
        for task in os.listdir("/proc/self/task"):  # every thread: the pool's and ours
            with contextlib.suppress(ProcessLookupError):  # a thread that has exited
                os.sched_setaffinity(int(task), allowed)
