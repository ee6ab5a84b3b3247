"""The greedy decoder driven by fake log-probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from streamasr.decode.endpoint import EndpointConfig
from streamasr.decode.greedy import GreedyDecoder
from streamasr.vocab import BLANK, SYMBOLS, VOCAB_SIZE

FRAME = 0.04


def posteriors(spelling: str, confidence: float = 0.9) -> np.ndarray:
    """One frame per symbol: '_' is blank, '|' is space, other characters themselves."""
    out = np.full((len(spelling), VOCAB_SIZE), (1 - confidence) / (VOCAB_SIZE - 1))
    for t, ch in enumerate(spelling):
        symbol = BLANK if ch == "_" else SYMBOLS.index(" " if ch == "|" else ch)
        out[t, symbol] = confidence
    return np.log(out).astype(np.float32)


def decode(spelling: str, **endpoint: float | bool) -> GreedyDecoder:
    decoder = GreedyDecoder(FRAME, EndpointConfig(**endpoint))  # type: ignore[arg-type]
    decoder.advance(posteriors(spelling))
    return decoder


def test_collapses_repeats_and_removes_blanks() -> None:
    d = decode("__hhe_ll_lo|_|wwo_rld__", enabled=False)
    assert d.partial().text == "hello world"
    final = d.finalize()
    assert final.is_final and final.text == "hello world"
    assert [w.word for w in final.words] == ["hello", "world"]


def test_word_times_and_confidence_come_from_emitting_frames() -> None:
    d = decode("__hi_|__ok__", enabled=False)
    hi, ok = d.finalize().words
    assert (hi.start, hi.end) == pytest.approx((2 * FRAME, 4 * FRAME))
    assert (ok.start, ok.end) == pytest.approx((8 * FRAME, 10 * FRAME))
    assert hi.conf == pytest.approx(0.9, abs=1e-5)
    unsure = decode("__hi_|", enabled=False)
    unsure.advance(posteriors("ok", confidence=0.5))
    assert unsure.finalize().words[1].conf == pytest.approx(0.5, abs=1e-5)


def test_incremental_feeding_equals_one_pass() -> None:
    spelling = "__th_e|_qq_uick|__b_rown___|fox__"
    whole = decode(spelling, enabled=False).finalize()
    d = GreedyDecoder(FRAME, EndpointConfig(enabled=False))
    lp = posteriors(spelling)
    for t in range(lp.shape[0]):
        d.advance(lp[t : t + 1])
    assert d.finalize() == whole


def test_partial_reports_a_stable_prefix_of_closed_words() -> None:
    d = decode("_go_|_no", enabled=False)
    partial = d.partial()
    assert partial.text == "go no"
    assert partial.stable == "go"
    assert not partial.is_final


def test_rejects_wrong_shapes() -> None:
    with pytest.raises(ValueError, match="log-probs"):
        GreedyDecoder(FRAME).advance(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError):
        EndpointConfig(silence_after_speech=0)


def test_best_symbols_given_by_the_caller_are_used_as_they_are() -> None:
    """The batched step hands greedy each frame's best symbol and its log-prob: the result
    is the same as scanning the rows, and the rows themselves are not read again."""
    lp = posteriors("__hhe_ll_lo|_|wwo_rld__")
    ids = np.argmax(lp, axis=1)
    top = lp[np.arange(ids.size), ids]
    alone, given = GreedyDecoder(FRAME), GreedyDecoder(FRAME)
    assert alone.advance(lp) == given.advance(lp, (ids, top))
    assert given.partial() == alone.partial() and given.finalize() == alone.finalize()
    # Best symbols that disagree with the rows win: they are not recomputed.
    d = GreedyDecoder(FRAME)
    d.advance(lp, (np.full(ids.size, SYMBOLS.index("a")), top))
    assert d.finalize().text == "a"
    with pytest.raises(ValueError, match="best symbols must be"):
        GreedyDecoder(FRAME).advance(lp, (ids[:-1], top[:-1]))
