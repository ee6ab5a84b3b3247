"""The flashlight decoder (compiled lexicon beam search) driven by fake log-probabilities,
against the behaviours the Python beam search is held to. flashlight-text is pinned in
requirements.lock, so bin/test always has it; a missing package fails here, never skips."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from streamasr.decode.beam import BeamDecoder
from streamasr.decode.endpoint import EndpointConfig
from streamasr.decode.factory import DecoderChoice, load_lm, make_decoder
from streamasr.decode.hypothesis import Hypothesis
from tests.decode.driving import finals_in_chunks
from tests.decode.test_beam import FRAME, NO_ENDPOINT, TOY_ARPA, confusable, posteriors

WORDS_ARPA = """\\data\\
ngram 1=7
ngram 2=1

\\1-grams:
-0.8\t<s>
-0.9\t</s>
-1.0\thi
-1.0\tok
-1.0\tyes
-1.0\tno
-3.0\t<unk>

\\2-grams:
-0.2\t<s> hi

\\end\\
"""


# Single letters are words too (spelled names, "a", "i"), as in the bundled lexicon.
LETTERS_ARPA = """\\data\\
ngram 1=9
ngram 2=1

\\1-grams:
-0.8\t<s>
-0.9\t</s>
-1.0\tc
-1.0\ta
-1.0\tr
-1.0\tt
-1.5\tcar
-1.5\tcat
-3.0\t<unk>

\\2-grams:
-0.5\tcar cat

\\end\\
"""


def arpa_file(tmp_path: Path, name: str, text: str) -> str:
    import flashlight.lib.text.decoder  # noqa: F401  (pinned: a missing package is a failure)

    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture
def toy_lm(tmp_path: Path) -> str:
    return arpa_file(tmp_path, "toy.arpa", TOY_ARPA)


@pytest.fixture
def words_lm(tmp_path: Path) -> str:
    return arpa_file(tmp_path, "words.arpa", WORDS_ARPA)


@pytest.fixture
def letters_lm(tmp_path: Path) -> str:
    return arpa_file(tmp_path, "letters.arpa", LETTERS_ARPA)


def flashlight(lm: str, endpoint: EndpointConfig = NO_ENDPOINT):  # type: ignore[no-untyped-def]
    return make_decoder("flashlight", FRAME, endpoint, lm_path=lm)


def test_lm_fixes_a_confusable_spelling(toy_lm: str) -> None:
    d = flashlight(toy_lm)
    d.advance(confusable())  # greedy reads "the cot sat"; "cot" is not in the lexicon
    final = d.finalize()
    assert (final.text, final.is_final, final.segment) == ("the cat sat", True, 0)
    assert final.alternatives[0].words == final.words
    shares = [a.confidence for a in final.alternatives]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1 + 1e-9
    assert len({a.text for a in final.alternatives}) == len(final.alternatives)
    # Both readings are words now: the acoustics lean to "mat", the LM's bigrams to "cat".
    lp = posteriors("_th_e_|_", {"m": 0.5, "c": 0.4}, "at_|_s_a_t__")
    d.advance(lp)
    assert d.finalize().text == "the cat sat"


def test_incremental_feeding_equals_one_pass(toy_lm: str) -> None:
    lp = confusable()
    whole = flashlight(toy_lm)
    whole.advance(lp)
    d = flashlight(toy_lm)
    partials = []
    for t in range(lp.shape[0]):
        d.advance(lp[t : t + 1])
        partials.append(d.partial())
    assert d.partial() == whole.partial()
    assert d.finalize() == whole.finalize()
    # Partials grow word by word as the best hypothesis completes them; none is final.
    assert [p.text for p in partials][-1] == "the cat sat"
    assert "the" in {p.text for p in partials} and not any(p.is_final for p in partials)


@pytest.mark.parametrize("chunk", [1, 3, 7])
def test_chunking_with_endpoints_equals_one_pass(toy_lm: str, chunk: int) -> None:
    rng = np.random.default_rng(0)
    lp = np.concatenate([confusable(), posteriors("_" * 12), confusable()])
    lp = (lp + rng.normal(0, 0.3, lp.shape)).astype(np.float32)  # the same noise for both
    config = EndpointConfig(silence_after_speech=0.3)

    def finals(step: int) -> list[Hypothesis]:
        d = flashlight(toy_lm, config)
        return finals_in_chunks(d, lp, step)

    whole = finals(lp.shape[0])
    assert len(whole) >= 2 and whole[0].endpoint and whole[0].text == "the cat sat"
    assert finals(chunk) == whole


def test_words_end_at_spaces_not_wherever_the_lexicon_allows(letters_lm: str) -> None:
    """A word spelled without a space in it is one word: its letters are lexicon words as
    well, and cutting it into them would earn the word bonus three times ("c a r")."""
    d = flashlight(letters_lm)
    d.advance(posteriors("__c_a_r__"))
    assert d.partial().text == "car"  # the word being spelled shows, as in the beam
    assert [w.word for w in d.finalize().words] == ["car"]
    d.advance(posteriors("__c_a_t__|__c_a_r__"))
    assert d.finalize().text == "cat car"
    d.advance(posteriors("__c__|__a__|__t__"))
    assert d.finalize().text == "c a t"  # spaces do make letters words


def test_partial_and_stable_prefix(words_lm: str) -> None:
    d = flashlight(words_lm)
    d.advance(posteriors("_ok_|_no", confidence=0.9999))  # no other spelling stays alive
    p = d.partial()
    assert (p.text, p.stable, p.is_final) == ("ok no", "ok", False)
    # While the hypotheses disagree on the first word, nothing is stable.
    d = flashlight(words_lm)
    d.advance(posteriors("_", {"y": 0.5, "n": 0.45}, "_", {"e": 0.5, "o": 0.45}, "_s_|_o"))
    assert d.partial().stable == ""


def test_word_times_and_confidence_come_from_emitting_frames(words_lm: str) -> None:
    d = flashlight(words_lm)
    d.advance(posteriors("__hi_|__ok__"))
    hi, ok = d.finalize().words
    assert (hi.word, ok.word) == ("hi", "ok")
    assert (hi.start, hi.end) == pytest.approx((2 * FRAME, 4 * FRAME))
    assert (ok.start, ok.end) == pytest.approx((8 * FRAME, 10 * FRAME))
    assert hi.conf == pytest.approx(0.9, abs=1e-5)


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_long_utterances_commit_old_words_and_keep_the_search_short(
    words_lm: str, chunk: int
) -> None:
    """Over a minute-long utterance the search holds a bounded window: words before it are
    committed, with their times, in every partial and in the final, however it is fed."""
    from streamasr.decode.flashlight import PRUNE_EVERY, FlashlightDecoder

    spoken = ["hi", "ok", "yes", "no"] * 15
    lp = posteriors(*(f"__{w}__|" for w in spoken))  # 60 words, 435 frames
    lp = (lp + np.random.default_rng(1).normal(0, 0.2, lp.shape)).astype(np.float32)
    d = flashlight(words_lm)
    assert isinstance(d, FlashlightDecoder)
    held = []
    for start in range(0, lp.shape[0], chunk):
        d.advance(lp[start : start + chunk])
        held.append(d.search_frames)
        partial = d.partial()
        assert partial.text.startswith(partial.stable)
    assert max(held) <= d.options.look_back + PRUNE_EVERY + 1
    assert partial.text == " ".join(spoken) and len(partial.stable.split()) >= 50
    final = d.finalize()
    assert final.text == " ".join(spoken)
    word = final.words[40]  # long committed: its letters 2 and 3 frames into its spelling
    at = sum(len(f"__{w}__|") for w in spoken[:40])
    assert word.word == "hi"
    assert (word.start, word.end) == pytest.approx(((at + 2) * FRAME, (at + 4) * FRAME))
    assert [a.words[:40] for a in final.alternatives] == [final.words[:40]] * len(
        final.alternatives
    )


def test_factory_rules(toy_lm: str) -> None:
    with pytest.raises(ValueError, match="phrase lists need the beam"):
        make_decoder("flashlight", FRAME, NO_ENDPOINT, lm_path=toy_lm, phrase_list=["the cat"])
    with pytest.raises(ValueError, match="needs a language model"):
        make_decoder("flashlight", FRAME, NO_ENDPOINT, lm_path="none")
    # A session that sends a phrase list gets the Python beam search, as with greedy.
    choice = DecoderChoice("flashlight", toy_lm)
    assert isinstance(choice.make(FRAME, NO_ENDPOINT, ["the cat"]), BeamDecoder)
    assert not isinstance(choice.make(FRAME, NO_ENDPOINT), BeamDecoder)


def test_without_the_package_the_error_names_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "toy.arpa"
    path.write_text(TOY_ARPA)
    load_lm.cache_clear()
    monkeypatch.setitem(sys.modules, "flashlight", None)  # import flashlight fails
    monkeypatch.setitem(sys.modules, "flashlight.lib.text", None)
    with pytest.raises(ValueError, match="needs the flashlight-text package"):
        make_decoder("flashlight", FRAME, NO_ENDPOINT, lm_path=str(path))
