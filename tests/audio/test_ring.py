"""The SPSC ring buffer: order, wrap-around, overflow counting, wake-ups without polling."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamasr.audio.ring import Ring


def test_fifo_order_across_wraparound() -> None:
    ring = Ring(8)
    assert ring.write(np.arange(6)) == 6
    np.testing.assert_array_equal(ring.read(4), [0, 1, 2, 3])
    assert ring.write(np.arange(6, 12)) == 6  # wraps
    np.testing.assert_array_equal(ring.read(), np.arange(4, 12))
    assert ring.available == 0 and ring.read().size == 0
    assert ring.overflow == 0


def test_overflow_is_counted_and_keeps_the_oldest() -> None:
    ring = Ring(5)
    assert ring.write(np.arange(3)) == 3
    assert ring.write(np.arange(3, 10)) == 2  # only 2 fit
    assert (ring.overflow, ring.overflow_events) == (5, 1)
    np.testing.assert_array_equal(ring.read(), [0, 1, 2, 3, 4])
    assert ring.write(np.arange(7)) == 5
    assert (ring.overflow, ring.overflow_events) == (7, 2)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 64), st.lists(st.tuples(st.integers(0, 80), st.integers(0, 80)), max_size=30))
def test_every_sample_is_read_once_or_counted_lost(
    capacity: int, ops: list[tuple[int, int]]
) -> None:
    ring = Ring(capacity)
    sent = 0
    got: list[np.ndarray] = []
    for n_write, n_read in ops:
        ring.write(np.arange(sent, sent + n_write, dtype=np.float32))
        sent += n_write
        got.append(ring.read(n_read))
    got.append(ring.read())
    received = np.concatenate(got)
    assert received.size + ring.overflow == sent
    assert np.all(np.diff(received) > 0)  # in order, no duplicates
    ring.close()


def test_consumer_wakes_on_write_without_polling() -> None:
    ring = Ring(1000)
    assert not ring.wait(0.01)
    waiting = threading.Event()  # the consumer is about to block in wait()
    woke = threading.Event()

    def consumer() -> None:
        waiting.set()
        if ring.wait(5):
            woke.set()

    t = threading.Thread(target=consumer)
    t.start()
    assert waiting.wait(5)
    assert not woke.wait(0.1), "woke with nothing written"
    ring.write(np.ones(10))
    assert woke.wait(2), "a write did not wake the consumer"
    t.join(5)
    np.testing.assert_array_equal(ring.read(), np.ones(10))


def test_write_never_blocks_even_with_no_consumer() -> None:
    ring = Ring(16)
    start = time.monotonic()
    for _ in range(100_000):  # far more wake-ups than the pipe holds
        ring.write(np.zeros(1))
    assert time.monotonic() - start < 5
    assert ring.overflow == 100_000 - 16
    ring.close()
    ring.write(np.zeros(1))  # after close: still no error, nothing else touched


def test_bad_capacity() -> None:
    with pytest.raises(ValueError, match="capacity"):
        Ring(0)
