"""The shared clock and endpointing, driven with a trivial search (no decoder at all)."""

from __future__ import annotations

import numpy as np
import pytest

from streamasr.decode.endpoint import EndpointConfig
from streamasr.decode.segmenter import Segmenter, check_log_probs
from tests.decode.test_greedy import posteriors

FRAME = 0.1


def test_run_calls_the_search_per_frame_and_keeps_the_clock() -> None:
    clock = Segmenter(FRAME, EndpointConfig(enabled=False))
    seen: list[tuple[int, int]] = []
    consumed, fired = clock.run(posteriors("ab_c"), lambda i: seen.append((i, clock.frames)), bool)
    assert (consumed, fired) == (4, False)
    assert seen == [(0, 0), (1, 1), (2, 2), (3, 3)]  # frames is the frame's index while it runs
    clock.run(posteriors("__"), lambda i: seen.append((i, clock.frames)), bool)
    assert seen[-2:] == [(0, 4), (1, 5)]  # the clock counts from stream start


def test_stops_at_the_endpoint_frame_and_numbers_segments() -> None:
    clock = Segmenter(FRAME, EndpointConfig(silence_after_speech=0.3))
    # "a" then blanks: the third blank after the emission is 0.3 s of trailing silence.
    consumed, fired = clock.run(posteriors("a_____"), lambda i: None, lambda: True)
    assert (consumed, fired) == (4, True)
    assert clock.next_segment() == 0
    assert clock.segment == 1
    # A new utterance: silence counts from its start, and nothing decoded needs 2.4 s.
    consumed, fired = clock.run(posteriors("___"), lambda i: None, lambda: False)
    assert (consumed, fired) == (3, False)
    assert clock.frames == 7


def test_repeated_symbols_are_not_new_emissions() -> None:
    clock = Segmenter(FRAME, EndpointConfig(silence_after_speech=0.3))
    # "aaaa" is one emission (CTC collapses repeats) at frame 0: the frames after it count
    # towards the trailing silence, as they always did in greedy and beam decoding.
    consumed, fired = clock.run(posteriors("aaaa"), lambda i: None, lambda: True)
    assert (consumed, fired) == (4, True)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="frame_seconds"):
        Segmenter(0.0)
    with pytest.raises(ValueError, match="log-probs"):
        check_log_probs(np.zeros((3, 5), np.float32))
