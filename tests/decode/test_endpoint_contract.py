"""The endpointing contract every decoder keeps, whatever its search: greedy, the Python
prefix beam and flashlight's compiled lexicon beam are driven over the same fake
log-probabilities and must cut utterances at the same frames, with the same texts and the
same stream clock. (Each decoder's own search is tested in its own module.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from streamasr.decode.beam import BeamDecoder
from streamasr.decode.endpoint import EndpointConfig
from streamasr.decode.factory import Decoder, make_decoder
from streamasr.decode.greedy import GreedyDecoder
from tests.decode.test_beam import FRAME, posteriors
from tests.decode.test_flashlight import WORDS_ARPA

MakeDecoder = Callable[[EndpointConfig], Decoder]


@pytest.fixture(params=["greedy", "beam", "flashlight"])
def decoder_for(request: pytest.FixtureRequest, tmp_path: Path) -> MakeDecoder:
    if request.param == "greedy":
        return lambda endpoint: GreedyDecoder(FRAME, endpoint)
    if request.param == "beam":
        return lambda endpoint: BeamDecoder(FRAME, endpoint)
    import flashlight.lib.text.decoder  # noqa: F401  (pinned: a missing package is a failure)

    lm = tmp_path / "words.arpa"  # a lexicon of hi, ok, yes, no
    lm.write_text(WORDS_ARPA)
    return lambda endpoint: make_decoder("flashlight", FRAME, endpoint, lm_path=str(lm))


def test_endpoint_after_speech_then_next_utterance_keeps_the_clock(
    decoder_for: MakeDecoder,
) -> None:
    d = decoder_for(EndpointConfig(silence_after_speech=0.2))
    lp = posteriors("_yes" + "_" * 10 + "no__")
    consumed, fired = d.advance(lp)
    assert fired and consumed == 4 + 5  # 5 blank frames = 0.2 s after the last emission
    first = d.finalize(endpoint=True)
    assert (first.text, first.segment, first.endpoint) == ("yes", 0, True)
    consumed2, fired2 = d.advance(lp[consumed:])
    assert consumed2 == lp.shape[0] - consumed and not fired2
    second = d.finalize()
    assert (second.text, second.segment, second.is_final) == ("no", 1, True)
    assert second.words[0].start == pytest.approx(14 * FRAME)
    assert d.frames == lp.shape[0]


def test_endpoint_on_silence_without_speech(decoder_for: MakeDecoder) -> None:
    d = decoder_for(EndpointConfig(silence_no_speech=0.4))
    consumed, fired = d.advance(posteriors("_" * 20))
    assert fired and consumed == 10
    final = d.finalize()
    assert (final.text, final.words) == ("", ())


def test_endpoint_on_max_utterance_length(decoder_for: MakeDecoder) -> None:
    d = decoder_for(EndpointConfig(max_utterance=0.4, silence_after_speech=10))
    consumed, fired = d.advance(posteriors("abababababab"))
    assert fired and consumed == 10
