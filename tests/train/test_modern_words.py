"""Modern words from wordfreq, mixed into the LM's unigrams; OOV rates."""

from __future__ import annotations

import math

import pytest

from train.lm import estimate, mix_unigrams
from train.modern_words import modern_unigrams, oov_rate, spellable


def test_spellable_words_fit_the_alphabet() -> None:
    assert spellable("online") and spellable("don't") and spellable("a")
    assert not spellable("u.s") and not spellable("x") and not spellable("Café")
    assert not spellable("2nd") and not spellable("'tis")


def test_modern_unigrams_are_frequent_spellable_and_normalised() -> None:
    words = modern_unigrams(2000)
    assert len(words) == 2000
    assert all(spellable(w) for w in words)
    assert math.isclose(sum(words.values()), 1.0)
    assert {"the", "online", "okay", "website"} <= set(words)
    assert words["the"] > words["online"]


def test_oov_rate_counts_running_words() -> None:
    assert oov_rate({"the", "cat"}, ["the cat sat", "the dog"]) == (2 / 5, 5)
    assert oov_rate({"a"}, []) == (0.0, 0)


def test_mixing_keeps_a_distribution_and_adds_words() -> None:
    text = {("the",): 0.5, ("cat",): 0.3, ("<unk>",): 0.2}
    mixed = mix_unigrams(text, {"the": 0.6, "online": 0.4}, 0.25)
    assert math.isclose(sum(mixed.values()), 1.0)
    assert math.isclose(mixed[("online",)], 0.1)
    assert math.isclose(mixed[("the",)], 0.75 * 0.5 + 0.25 * 0.6)
    with pytest.raises(ValueError, match="weight"):
        mix_unigrams(text, {}, 1.0)


def test_prior_words_join_the_model_with_their_share() -> None:
    sentences = ["the cat sat", "the dog sat", "a cat ran"] * 5
    plain = estimate(sentences, 2, (0, 1, 1))
    widened = estimate(sentences, 2, (0, 1, 1), None, {"online": 0.5, "cat": 0.5}, 0.2)
    assert ("online",) not in plain.logprob
    assert math.isclose(10 ** widened.logprob[("online",)], 0.1, rel_tol=1e-6)
    assert widened.logprob[("cat",)] > plain.logprob[("cat",)] + math.log10(0.8)
