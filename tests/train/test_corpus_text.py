"""Sentences from packaged text: splitting, length limits, deduplication, determinism."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest

from train.corpus.short import short_phrase
from train.corpus.text import (
    GENERATED_AFTER,
    MAX_WORDS,
    MIN_WORDS,
    build_sentences,
    fillets_passages,
    fortune_passages,
    mix_in,
    passage_sentences,
    split_sentences,
    text_stats,
)

FIXTURES = Path(__file__).parent / "fixtures"


def test_split_sentences_respects_abbreviations() -> None:
    text = "Mr. Smith went to Washington. He met Dr. J. Jones there! Was it fun? Yes."
    assert split_sentences(text) == [
        "Mr. Smith went to Washington.",
        "He met Dr. J. Jones there!",
        "Was it fun?",
        "Yes.",
    ]


def test_passage_sentences_are_normalised_and_bounded() -> None:
    long = "The " + ", the ".join(["cat sat on the mat"] * 12) + "."
    passage = f"Hi. This has 3 words enough. {long}"
    out = passage_sentences(passage)
    assert "this has three words enough" in out
    assert "hi" not in out  # too short
    assert all(MIN_WORDS <= len(s.split()) <= MAX_WORDS for s in out)
    assert sum("cat sat" in s for s in out) >= 2  # the long sentence was cut, not dropped


def test_fortunes_fixture() -> None:
    passages = list(fortune_passages(FIXTURES / "fortunes"))
    assert passages[0].startswith("A bird in the hand")
    assert all("--" not in p for p in passages)  # attributions removed
    assert not any("ascii" in p.lower() for p in passages)  # the ascii-art file is skipped


def test_fillets_fixture() -> None:
    lines = list(fillets_passages(FIXTURES / "fillets"))
    assert lines == ["What kind of strange ship is that?", 'He said "hello" to me.']


def _sources() -> dict[str, Callable[[], Iterable[str]]]:
    fortunes = [f"Fortune number {i} is a good one. It repeats itself." for i in range(40)]
    verses = [f"And verse {i} said unto them, go forth." for i in range(40)]
    return {"fortunes": lambda: fortunes, "bible": lambda: verses}


def test_build_sentences_is_deterministic_and_deduplicated() -> None:
    a = build_sentences(7, _sources())
    b = build_sentences(7, _sources())
    c = build_sentences(8, _sources())
    assert a == b
    assert a != c and sorted(a) == sorted(c)
    assert len(a) == len(set(a))
    assert a.count("it repeats itself") == 1


def test_build_sentences_excludes_named_sentences() -> None:
    banned = "fortune number three is a good one"
    assert banned in build_sentences(0, _sources())
    assert banned not in build_sentences(0, _sources(), exclude={banned})


def test_text_stats() -> None:
    stats = text_stats(["a b c", "a d"])
    assert (stats.sentences, stats.words, stats.vocabulary) == (2, 5, 4)


def test_installed_fortunes_give_many_sentences() -> None:
    if not Path("/usr/share/games/fortunes/fortunes").exists():
        pytest.fail("fortunes is not installed (bin/test runs train/setup_tts.sh)")
    sentences = passage_sentences(" ".join(list(fortune_passages())[:300]))
    assert len(sentences) > 100


def _numbered(n: int) -> list[str]:
    return [f"sentence number {i} of the pool" for i in range(n)]


def test_mix_in_keeps_the_first_sentences_and_adds_about_each_share() -> None:
    sentences = _numbered(6000)
    makers = [(0.1, lambda rng: "spelled"), (0.05, lambda rng: "short")]
    out = mix_in(sentences, seed=3, keep_first=1000, makers=makers)
    assert out[:1000] == sentences[:1000]
    assert [s for s in out if s.startswith("sentence")] == sentences  # none lost or moved
    tail = len(out) - 1000
    assert 0.08 < out.count("spelled") / tail < 0.12
    assert 0.035 < out.count("short") / tail < 0.065
    assert out == mix_in(sentences, seed=3, keep_first=1000, makers=makers)
    assert out != mix_in(sentences, seed=4, keep_first=1000, makers=makers)
    assert mix_in(sentences, 3, 1000, [(0.0, lambda rng: "never")]) == sentences
    with pytest.raises(ValueError, match="shares"):
        mix_in(sentences, 3, 0, [(0.3, lambda rng: "x"), (0.3, lambda rng: "y")])


def test_build_sentences_mixes_spelled_and_short_utterances_after_the_validation_text() -> None:
    many = {"fortunes": lambda: [f"Fortune number {i} is a good one." for i in range(3000)]}
    out = build_sentences(5, many, short_words=lambda: ["hello", "stop", "weather"])
    packaged = build_sentences(5, many, spelled_share=0.0, short_share=0.0)
    assert out[:GENERATED_AFTER] == packaged[:GENERATED_AFTER]
    extra = [s for s in out if s not in set(packaged)]
    assert any(all(len(t) == 1 for t in s.split()) for s in extra)  # spelled letters
    assert any(s in {"hello", "stop", "weather"} for s in extra)  # a word said alone
    assert len(extra) > 0.05 * (len(out) - GENERATED_AFTER)


def test_short_phrases_are_one_to_three_listed_words() -> None:
    rng = np.random.default_rng(1)
    made = [short_phrase(rng, ["yes", "no", "stop"]) for _ in range(200)]
    lengths = {len(m.split()) for m in made}
    assert lengths == {1, 2, 3}
    assert sum(len(m.split()) == 1 for m in made) > 90
    assert {w for m in made for w in m.split()} == {"yes", "no", "stop"}
