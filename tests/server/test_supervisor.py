"""Several worker processes under one supervisor: all start, SIGTERM reaches each, and one
failing worker stops the rest and gives its status."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamasr.server.supervisor import supervise
from tests.server.supervised import wait_for_sigterm

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]  # spawns worker processes


@pytest.fixture(autouse=True)
def own_signal_handlers() -> Iterator[None]:
    """supervise() installs its handlers in this process: put pytest's back afterwards."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_sigterm_reaches_every_worker_and_all_exit_cleanly(tmp_path: Path) -> None:
    workers = 3
    ready = multiprocessing.get_context("spawn").Semaphore(0)

    def terminate_when_all_ready() -> None:
        for _ in range(workers):
            assert ready.acquire(timeout=60), "a worker never started"
        os.kill(os.getpid(), signal.SIGTERM)  # as an operator or systemd would

    killer = threading.Thread(target=terminate_when_all_ready)
    killer.start()
    status = supervise(wait_for_sigterm, (str(tmp_path), ready, False), workers)
    killer.join(10)
    assert status == 0
    assert len(list(tmp_path.glob("stopped-*"))) == workers


def test_a_failing_worker_stops_the_others_and_gives_its_status(tmp_path: Path) -> None:
    ready = multiprocessing.get_context("spawn").Semaphore(0)
    status = supervise(wait_for_sigterm, (str(tmp_path), ready, True), 2)
    assert status == 3
    assert (tmp_path / "failed").exists()
    assert len(list(tmp_path.glob("stopped-*"))) == 1  # the other one was told to stop


def test_no_workers_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1, got 0"):
        supervise(wait_for_sigterm, (), 0)
