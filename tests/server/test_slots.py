"""The session limit: never passed, and one limit for every process that shares the count."""

from __future__ import annotations

import multiprocessing
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event

import pytest

from streamasr.server.slots import SessionSlots


def test_a_full_limit_refuses_until_a_slot_comes_back() -> None:
    slots = SessionSlots(2)
    assert [slots.take(), slots.take(), slots.take()] == [True, True, False]
    assert slots.in_use == 2
    slots.give_back()
    assert slots.take()
    assert not slots.take()


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SessionSlots(0)


def _take_all(
    count: Synchronized[int], limit: int, tries: int, won: Synchronized[int], go: Event
) -> None:
    slots = SessionSlots(limit, count)
    go.wait()
    mine = sum(slots.take() for _ in range(tries))
    with won.get_lock():
        won.value += mine


@pytest.mark.timeout(60)
def test_processes_sharing_the_count_take_exactly_the_limit_together() -> None:
    """Four processes race for 100,000 slots, 40,000 tries each: together they get exactly
    100,000, as one process would (a check and an increment that are not one step lose counts
    and pass the limit)."""
    context = multiprocessing.get_context("spawn")
    count = context.Value("i", 0)
    won = context.Value("i", 0)
    go = context.Event()
    limit = 100_000
    procs = [
        context.Process(target=_take_all, args=(count, limit, 40_000, won, go)) for _ in range(4)
    ]
    for p in procs:
        p.start()
    go.set()  # all at once, once every process is up
    for p in procs:
        p.join(timeout=50)
        assert p.exitcode == 0
    assert won.value == limit
    assert count.value == limit
    here = SessionSlots(limit, count)  # this process sees the others' sessions
    assert here.in_use == limit
    assert not here.take()
    here.give_back()
    assert here.take()
