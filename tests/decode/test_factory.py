"""Choosing a decoder: kinds, defaults, and the settings that are refused."""

from __future__ import annotations

import pytest

from streamasr.decode.beam import BeamDecoder
from streamasr.decode.endpoint import EndpointConfig
from streamasr.decode.factory import (
    DEFAULT_BEAM_SIZE,
    DEFAULT_KIND,
    GREEDY,
    NO_LM,
    DecoderChoice,
    make_decoder,
)
from streamasr.decode.greedy import GreedyDecoder

ENDPOINT = EndpointConfig()


def test_the_default_choice_is_the_commands_default() -> None:
    choice = DecoderChoice()
    assert (choice.kind, choice.lm_path, choice.beam_size) == ("beam", None, DEFAULT_BEAM_SIZE)
    assert choice.kind == DEFAULT_KIND
    assert GREEDY.kind == "greedy"


def test_kinds_make_their_decoders() -> None:
    assert isinstance(make_decoder("greedy", 0.04, ENDPOINT), GreedyDecoder)
    beam = make_decoder("beam", 0.04, ENDPOINT, lm_path=NO_LM, beam_size=3)
    assert isinstance(beam, BeamDecoder)
    assert beam.options.beam_size == 3
    assert beam.lm is None and beam.lexicon is None


def test_a_phrase_list_promotes_a_greedy_choice_to_beam() -> None:
    choice = DecoderChoice("greedy", lm_path=NO_LM)
    assert isinstance(choice.make(0.04, ENDPOINT), GreedyDecoder)
    decoder = choice.make(0.04, ENDPOINT, ["call home"])
    assert isinstance(decoder, BeamDecoder)
    assert decoder.phrases is not None and decoder.phrases.words == {"call", "home"}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_decoder("viterbi", 0.04, ENDPOINT), "unknown decoder"),
        (lambda: make_decoder("greedy", 0.04, ENDPOINT, phrase_list=["a"]), "beam decoder"),
        (lambda: make_decoder("beam", 0.04, ENDPOINT, beam_size=0), "beam_size"),
        (lambda: make_decoder("beam", 0.04, ENDPOINT, restrict=True), "non-empty phrase"),
        (lambda: make_decoder("beam", 0.04, ENDPOINT, phrase_list=["caf\u00e9"]), "spell"),
        (lambda: DecoderChoice("beam", lm_path="/nonexistent.arpa").check(), "not found"),
    ],
)
def test_bad_settings_are_value_errors(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
