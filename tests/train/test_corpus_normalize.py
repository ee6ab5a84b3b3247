"""Text normalisation: what the labels say must be what the voices say, in the model alphabet."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamasr.vocab import CHARS, encode
from train.corpus.normalize import Unconvertible, normalize, try_normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello,   World!", "hello world"),
        ("It costs $5.50.", "it costs five dollars and fifty cents"),
        ("£3 million", "three million pounds"),
        ("25% off", "twenty five percent off"),
        ("the 21st century", "the twenty first century"),
        ("On 4th July 1776", "on fourth july seventeen seventy six"),
        ("in the 1960s", "in the nineteen sixties"),
        ("1,234 apples", "one thousand two hundred and thirty four apples"),
        ("pi is 3.14", "pi is three point one four"),
        ("at 10:30 or 3:00", "at ten thirty or three o'clock"),
        ("half is 1/2", "half is one half"),
        ("salt & pepper", "salt and pepper"),
        ("Mr. Smith met Dr. Jones", "mister smith met doctor jones"),
        ("Don't stop -- it's 'fine'", "don't stop it's fine"),
        ("the dogs' bowls", "the dogs bowls"),
        ("To day, if ye will hear his voice", "today if ye will hear his voice"),
        ("to-morrow we die", "tomorrow we die"),
        ("from day to day", "from day to day"),
        ("Café crème", "cafe creme"),
        ("\u201cSmart\u201d quotes \u2014 and dashes\u2026", "smart quotes and dashes"),
        ("DON'T PANIC", "don't panic"),
    ],
)
def test_examples(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "Привет мир",  # not English
        "see http://example.com now",  # URL
        "int main() { return 0; }",  # code
        "The NASA launch",  # acronym a voice may spell out
        "Chapter XIV begins",  # roman numeral
        "play the mp3 file",  # letters and digits mixed
        "...",  # nothing speakable
    ],
)
def test_unconvertible_text_is_refused(raw: str) -> None:
    with pytest.raises(Unconvertible):
        normalize(raw)
    assert try_normalize(raw) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_output_is_always_in_the_alphabet(raw: str) -> None:
    out = try_normalize(raw)
    if out is not None:
        assert out and set(out) <= set(CHARS)
        assert out == out.strip() and "  " not in out
        encode(out)  # the model's own check


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**9))
def test_every_number_is_spelled(n: int) -> None:
    out = normalize(f"I have {n} and {n:,} things")
    assert set(out) <= set(CHARS)
