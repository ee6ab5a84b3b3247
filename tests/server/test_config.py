"""Config messages converted as vosk-server converts them; only the unconvertible refused."""

from __future__ import annotations

from typing import Any

import pytest

from streamasr.server.config import MAX_ALTERNATIVES, ClientConfig, ConfigError, parse_config

START = ClientConfig(8000)


def parsed(**value: Any) -> ClientConfig:
    return parse_config(value, START)


@pytest.mark.parametrize(
    ("value", "field", "expected"),
    [
        ({"words": 0}, "words", False),  # vosk-server's test_words.py
        ({"words": 1}, "words", True),
        ({"words": False}, "words", False),
        ({"native": 1}, "native", True),
        ({"max_alternatives": 20}, "max_alternatives", MAX_ALTERNATIVES),  # test_alternatives.py
        ({"max_alternatives": "3"}, "max_alternatives", 3),  # vosk: int("3")
        ({"max_alternatives": 2.7}, "max_alternatives", 2),  # vosk: int(2.7)
        ({"max_alternatives": -1}, "max_alternatives", 0),
        ({"sample_rate": "16000"}, "sample_rate", 16000),  # vosk: float("16000")
        ({"sample_rate": " 44100 "}, "sample_rate", 44100),
        ({"sample_rate": 16000.0}, "sample_rate", 16000),
    ],
)
def test_values_are_converted_as_vosk_server_converts_them(
    value: dict[str, Any], field: str, expected: object
) -> None:
    assert getattr(parsed(**value), field) == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"words": "false"}, "true or false"),  # vosk's bool("false") is True: refused here
        ({"words": None}, "true or false"),
        ({"max_alternatives": "many"}, "max_alternatives"),
        ({"max_alternatives": float("inf")}, "max_alternatives"),
        ({"sample_rate": "fast"}, "sample rate"),
        ({"sample_rate": "16000.5"}, "sample rate"),
        ({"sample_rate": True}, "sample rate"),
        ({"phrase_list": "one two"}, "phrase_list"),
        ({"phrase_list_only": True}, "phrase_list_only"),
        ({"phrase_boost": [3]}, "phrase_boost"),
        ({"phrase_list": ["a"], "phrase_boost": ["b"]}, "one of them"),
    ],
)
def test_what_cannot_be_converted_is_refused(value: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parsed(**value)


def test_phrase_list_restricts_to_its_words_as_vosks_grammar() -> None:
    """vosk-server's grammar is a bigram model over the phrases' words: any of them, in any
    order. Their words, each once, restricted."""
    config = parsed(phrase_list=["zero one two three", "Two four", "oh"])
    assert config.phrase_list == ("zero", "one", "two", "three", "four", "oh")
    assert config.restrict


def test_phrase_list_with_unk_or_spelled_out_modes() -> None:
    phrases = ["call home", "front left"]
    unk = parsed(phrase_list=[*phrases, "[unk]"])  # vosk: other speech stays possible
    assert unk.phrase_list == (*phrases, "[unk]") and not unk.restrict
    only = parsed(phrase_list=phrases, phrase_list_only=True)  # whole phrases only
    assert only.phrase_list == tuple(phrases) and only.restrict
    boosted = parsed(phrase_list=phrases, phrase_list_only=False)  # streamasr's old default
    assert boosted.phrase_list == tuple(phrases) and not boosted.restrict
    boost = parsed(phrase_boost=phrases)  # the native key: boost, never restrict
    assert boost.phrase_list == tuple(phrases) and not boost.restrict
    assert parsed(phrase_list=[]).phrase_list == ()  # vosk: an empty list is no grammar


def test_config_messages_add_up() -> None:
    """Several config messages, as vosk-server reads them: later keys change, others stay."""
    first = parse_config({"sample_rate": 16000, "words": 0}, START)
    second = parse_config({"max_alternatives": 2}, first)
    assert (second.sample_rate, second.words, second.max_alternatives) == (16000, False, 2)
