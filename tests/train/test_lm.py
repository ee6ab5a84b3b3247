"""Modified Kneser-Ney estimation against hand-computed values; ARPA round trip."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from streamasr.decode.lm import load_arpa
from train.lm import (
    Discounts,
    adjusted_counts,
    count_ngrams,
    discounts,
    estimate,
    write_arpa,
)

TOY = ["a b", "a b", "b a"]
FIXED = [Discounts(0.5, 1.0, 1.5)] * 3


def test_discounts_from_count_of_counts() -> None:
    # t1=3, t2=1, t3=1, t4=1: Y = 3/5; D1 = 1 - 2Y/3 = 0.6; D2 = 2 - 3Y = 0.2; D3+ = 3 - 4Y = 0.6
    d = discounts({("x",): 1, ("y",): 1, ("z",): 1, ("u",): 2, ("v",): 3, ("w",): 4})
    assert (d.d1, d.d2, d.d3) == pytest.approx((0.6, 0.2, 0.6))
    with pytest.raises(ValueError, match="too little text"):
        discounts({("x",): 1})


def test_adjusted_counts_are_continuation_counts() -> None:
    adj = adjusted_counts(count_ngrams(TOY, 3))
    assert adj[2][("<s>", "a", "b")] == 2  # highest order: raw
    assert adj[1][("<s>", "a")] == 2  # starts with <s>: raw
    assert adj[1][("a", "b")] == 1  # raw 2, but only "<s> a b" precedes it
    assert adj[0][("a",)] == 2  # "<s> a", "b a"
    assert adj[0][("</s>",)] == 2  # "b </s>", "a </s>"


def test_bigram_probabilities_match_hand_computation() -> None:
    # Unigram adjusted counts a=b=</s>=2 (total 6), D2=1: each 1/6, gamma = 3*1/6 = 1/2,
    # spread uniformly over a, b, </s>, <unk>: p(a) = 1/6 + 1/8 = 7/24, p(<unk>) = 1/8.
    # After <s>: a=2, b=1 (total 3), gamma = (0.5 + 1)/3 = 1/2:
    # p(a|<s>) = 1/3 + 7/48 = 23/48, p(b|<s>) = 0.5/3 + 7/48 = 15/48, bo(<s>) = 1/2.
    m = estimate(TOY, order=2, cutoffs=(0, 1, 1), fixed=FIXED)
    assert 10 ** m.logprob[("a",)] == pytest.approx(7 / 24)
    assert 10 ** m.logprob[("</s>",)] == pytest.approx(7 / 24)
    assert 10 ** m.logprob[("<unk>",)] == pytest.approx(1 / 8)
    assert m.logprob[("<s>",)] == -99.0
    assert 10 ** m.logprob[("<s>", "a")] == pytest.approx(23 / 48)
    assert 10 ** m.logprob[("<s>", "b")] == pytest.approx(15 / 48)
    assert 10 ** m.logprob[("a", "b")] == pytest.approx(23 / 48)
    assert 10 ** m.logprob[("a", "</s>")] == pytest.approx(15 / 48)
    assert 10 ** m.backoff[("<s>",)] == pytest.approx(0.5)
    assert m.counts() == [5, 6]


def distribution_sums(path: Path, contexts: list[tuple[str, ...]]) -> list[float]:
    lm = load_arpa(path)
    words = [*lm.vocab, "</s>", "<unk>"]
    return [sum(math.exp(lm._logp(h, w)) for w in words) for h in contexts]


def test_round_trip_and_normalisation_with_pruning(tmp_path: Path) -> None:
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(300)]
    weights = [1 / (i + 1) for i in range(300)]  # Zipf-like, so count-of-counts are real
    text = [" ".join(rng.choices(vocab, weights, k=rng.randint(3, 9))) for _ in range(600)]
    for cutoffs in [(0, 1, 1, 1), (0, 1, 2, 3)]:
        model = estimate(text, order=3, cutoffs=cutoffs)
        for name in ("lm.arpa", "lm.arpa.gz"):
            path = tmp_path / name
            write_arpa(model, path)
            lm = load_arpa(path)
            for g, logp in model.logprob.items():
                state = g[:-1]
                if g == ("<s>",):
                    continue
                assert lm._logp(state, g[-1]) == pytest.approx(logp * math.log(10), abs=1e-4)
        contexts = [(), ("<s>",), ("w1",), ("w1", "w2"), ("<s>", "w0"), ("w3", "w11")]
        assert distribution_sums(path, contexts) == pytest.approx([1.0] * 6, abs=1e-4)
    assert estimate(["a b c"] * 3, order=3).counts()[0] == 6  # discount fallback
    pruned = estimate(text, order=3, cutoffs=(0, 1, 2, 3)).counts()
    full = estimate(text, order=3, cutoffs=(0, 1, 1, 1)).counts()
    assert pruned[0] == full[0] and pruned[1] < full[1] and pruned[2] < full[2]


def test_build_spells_compounds_as_the_normaliser_does_and_leaves_validation_out(
    tmp_path: Path,
) -> None:
    from train.corpus.manifest import Record, write_manifest
    from train.lm import build_main

    # A corpus generated before "to day" became "today": its text and validation manifest
    # still say "to day", and the LM must follow the current rule on both sides.
    text = tmp_path / "sentences.txt"
    text.write_text("harden not your hearts to day\nwe walk from day to day\nheld out to day\n")
    valid = tmp_path / "valid.jsonl"
    write_manifest(valid, [Record("a.wav", 1.0, "held out to day", "v")])
    out = tmp_path / "lm.arpa"
    # No modern-word prior here: it would bring "held" back as a common English word.
    args = ["--text", str(text), "--out", str(out), "--exclude", str(valid), "--modern-words", "0"]
    assert build_main(args) == 0
    lm = load_arpa(out)
    assert {"today", "day", "to"} <= lm.vocab
    assert "held" not in lm.vocab  # the validation sentence, in either spelling, is left out
    harden = lm.sentence_logprob(["harden", "not", "your", "hearts", "today"])
    assert harden > lm.sentence_logprob(["harden", "not", "your", "hearts", "to", "day"])
