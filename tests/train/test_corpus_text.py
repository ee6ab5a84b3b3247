"""Sentences from packaged text: splitting, length limits, deduplication, determinism."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from train.corpus.text import (
    MAX_WORDS,
    MIN_WORDS,
    build_sentences,
    fillets_passages,
    fortune_passages,
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
