"""The beam-search decoder driven by fake log-probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamasr.decode.beam import BeamDecoder, BeamOptions
from streamasr.decode.endpoint import EndpointConfig
from streamasr.decode.factory import Decoder, load_lm, make_decoder
from streamasr.decode.greedy import GreedyDecoder
from streamasr.decode.hypothesis import Hypothesis
from streamasr.decode.lexicon import Lexicon, PhraseList
from streamasr.decode.lm import load_arpa
from streamasr.vocab import BLANK, SYMBOLS, VOCAB_SIZE
from tests.decode.driving import finals_in_chunks

FRAME = 0.04
NO_ENDPOINT = EndpointConfig(enabled=False)

# Bigrams of a tiny world: "the cat sat", "a cat", "the mat"; "cot" is not a word here.
TOY_ARPA = """\\data\\
ngram 1=8
ngram 2=5

\\1-grams:
-0.8\t<s>\t-0.3
-0.9\t</s>
-1.0\tthe\t-0.3
-1.0\tcat\t-0.3
-1.2\tsat\t-0.3
-1.3\tmat\t-0.3
-1.3\ta\t-0.3
-3.0\t<unk>

\\2-grams:
-0.2\t<s> the
-0.3\tthe cat
-0.2\tcat sat
-0.3\tsat </s>
-0.6\tthe mat

\\end\\
"""


def symbol(ch: str) -> int:
    return BLANK if ch == "_" else SYMBOLS.index(" " if ch == "|" else ch)


def posteriors(*frames: str | dict[str, float], confidence: float = 0.9) -> np.ndarray:
    """One frame per item. A string is spelled one frame per character ('_' blank, '|'
    space) at ``confidence``; a dict gives the probabilities of some symbols of one frame.
    The rest of each frame's mass is shared by the other symbols."""
    rows: list[dict[str, float]] = []
    for item in frames:
        rows += [{ch: confidence} for ch in item] if isinstance(item, str) else [item]
    out = np.empty((len(rows), VOCAB_SIZE))
    for t, spec in enumerate(rows):
        rest = (1 - sum(spec.values())) / (VOCAB_SIZE - len(spec))
        out[t] = rest
        for ch, p in spec.items():
            out[t, symbol(ch)] = p
    return np.log(out).astype(np.float32)


def beam(options: BeamOptions | None = None, **kwargs: object) -> BeamDecoder:
    return BeamDecoder(FRAME, NO_ENDPOINT, options, **kwargs)  # type: ignore[arg-type]


def run(decoder: Decoder, lp: np.ndarray) -> str:
    decoder.advance(lp)
    return decoder.finalize().text


@pytest.fixture
def toy_lm(tmp_path: Path) -> Path:
    path = tmp_path / "toy.arpa"
    path.write_text(TOY_ARPA)
    return path


SPELLINGS = [
    "__hhe_ll_lo|_|wwo_rld__",
    "__hi_|__ok__",
    "__th_e|_qq_uick|__b_rown___|fox__",
    "|a||b|",
    "____",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_beam_of_one_without_lm_equals_greedy(spelling: str) -> None:
    lp = posteriors(spelling)
    greedy = GreedyDecoder(FRAME, NO_ENDPOINT)
    greedy.advance(lp)
    b = beam(BeamOptions(beam_size=1))
    b.advance(lp)
    assert b.partial().text == greedy.partial().text
    assert b.finalize() == greedy.finalize()


def test_beam_sums_paths_where_greedy_picks_frames() -> None:
    # Each frame prefers blank, but "a" over three frames is more likely than nothing.
    frames = [{"_": 0.45, "a": 0.4}] * 3
    assert run(GreedyDecoder(FRAME, NO_ENDPOINT), posteriors(*frames)) == ""
    assert run(beam(), posteriors(*frames)) == "a"


def confusable() -> np.ndarray:
    """Greedy reads "the cot sat"; the 'o' is an unsure 'a'."""
    return posteriors("_th_e_|_c", {"o": 0.5, "a": 0.4}, "t_|_s_a_t__", confidence=0.9)


def test_nbest_ranks_distinct_finals_by_their_share() -> None:
    """Without an LM the unsure vowel gives two readings, "cot" ahead of "cat"; the n best
    are distinct texts, best first, their shares of the beam's probability add up to at most
    one, and the final is the first of them, with the n best attached."""
    d = beam()
    d.advance(confusable())
    ranked = d.nbest(3)
    texts = [a.text for a in ranked]
    assert texts[:2] == ["the cot sat", "the cat sat"]
    assert len(set(texts)) == len(texts)
    shares = [a.confidence for a in ranked]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1 + 1e-9
    assert shares[0] == pytest.approx(0.5 / 0.9, abs=0.05)  # the vowel's odds, 0.5 : 0.4
    assert [a.text for a in d.nbest(1)] == ["the cot sat"]
    final = d.finalize()
    assert final.text == "the cot sat" and final.alternatives[:3] == tuple(ranked)
    assert [(a.text, a.confidence) for a in d.nbest(3)] == [("", 1.0)]  # a new utterance


def test_incremental_feeding_equals_one_pass(toy_lm: Path) -> None:
    lm = load_arpa(toy_lm)
    lp = confusable()
    whole = beam(lm=lm, lexicon=Lexicon(lm.vocab))
    whole.advance(lp)
    d = beam(lm=lm, lexicon=Lexicon(lm.vocab))
    partials = []
    for t in range(lp.shape[0]):
        d.advance(lp[t : t + 1])
        partials.append(d.partial())
    assert d.partial() == whole.partial()
    assert d.finalize() == whole.finalize()
    for p in partials:  # the stable prefix is a prefix of the text, in words
        assert p.text.split()[: len(p.stable.split())] == p.stable.split()


@pytest.mark.parametrize("chunk", [1, 3, 7])
def test_chunking_with_endpoints_equals_one_pass(toy_lm: Path, chunk: int) -> None:
    lm = load_arpa(toy_lm)
    rng = np.random.default_rng(0)
    lp = np.concatenate([confusable(), posteriors("_" * 12), confusable()])
    lp = (lp + rng.normal(0, 0.3, lp.shape)).astype(np.float32)  # the same noise for both
    config = EndpointConfig(silence_after_speech=0.3)

    def finals(step: int) -> list[Hypothesis]:
        d = BeamDecoder(FRAME, config, lm=lm, lexicon=Lexicon(lm.vocab))
        return finals_in_chunks(d, lp, step)

    whole = finals(lp.shape[0])
    assert len(whole) >= 2 and whole[0].endpoint
    assert finals(chunk) == whole


def test_lm_fixes_a_confusable_spelling(toy_lm: Path) -> None:
    assert run(GreedyDecoder(FRAME, NO_ENDPOINT), confusable()) == "the cot sat"
    assert run(beam(), confusable()) == "the cot sat"
    lm = load_arpa(toy_lm)
    assert run(beam(lm=lm), confusable()) == "the cat sat"
    assert run(beam(lexicon=Lexicon(lm.vocab)), confusable()) == "the cat sat"


def test_unknown_word_survives_when_the_acoustics_are_sure(toy_lm: Path) -> None:
    lm = load_arpa(toy_lm)
    lp = posteriors("_th_e_|_zz_o_rr_g_|_s_a_t__", confidence=0.95)
    assert run(beam(lm=lm, lexicon=Lexicon(lm.vocab)), lp) == "the zorg sat"


def test_unknown_word_does_not_swallow_the_known_words_after_it(toy_lm: Path) -> None:
    lm = load_arpa(toy_lm)
    # An unsure space after "zorg": gluing "zorglcatlsat" would skip two LM scores.
    lp = posteriors(
        "_th_e_|_zz_o_rr_g_", {"|": 0.5, "l": 0.45}, "_c_a_t_", {"|": 0.5, "l": 0.45}, "_s_a_t__"
    )
    assert run(beam(lm=lm, lexicon=Lexicon(lm.vocab)), lp) == "the zorg cat sat"


def test_lexicon_penalty_once_per_unknown_word_plus_per_character_outside() -> None:
    lex = Lexicon(["cat"])
    opts = BeamOptions(oov_penalty=3.0, oov_char_penalty=0.5)
    d = beam(opts, lexicon=lex)
    d.advance(posteriors("_c_a_t_|_c_o_t_|_d_o_g_", confidence=0.999))
    # "cot" leaves the lexicon at "co": 3 + 2 x 0.5; "dog" at "d": 3 + 3 x 0.5
    assert d._best.score == pytest.approx(-8.5)
    assert d.finalize().text == "cat cot dog"


def frant_left() -> np.ndarray:
    """Greedy spells "frant left": the vowel is an unsure 'a' / 'o'."""
    return posteriors("_f_r", {"a": 0.55, "o": 0.4}, "_n_t_|_l_e_f_t__")


def test_phrase_list_boosts_a_confusable_utterance() -> None:
    assert run(GreedyDecoder(FRAME, NO_ENDPOINT), frant_left()) == "frant left"
    assert run(beam(), frant_left()) == "frant left"
    phrases = PhraseList(["front left", "front right", "call home"])
    assert run(beam(phrases=phrases), frant_left()) == "front left"
    d = make_decoder(
        "beam", FRAME, NO_ENDPOINT, lm_path="none", phrase_list=["front left", "call home"]
    )
    assert run(d, frant_left()) == "front left"


def test_phrase_boost_does_not_force_phrases_on_clear_speech() -> None:
    phrases = PhraseList(["front left"])
    lp = posteriors("_h_e_l_l_o_|_w_o_r_l_d__", confidence=0.95)
    assert run(beam(phrases=phrases), lp) == "hello world"


def test_restrict_recognises_only_the_phrases() -> None:
    opts = BeamOptions(restrict=True)
    phrases = PhraseList(["front left", "front right", "call home"])
    lp = posteriors("_f_r", {"a": 0.7, "o": 0.2}, "_n_t_|_l", {"i": 0.6, "e": 0.3}, "_f_t__")
    assert run(beam(opts, phrases=phrases), lp) == "front left"
    two = posteriors("_c_a_l_l_|_h_o_m_e_|_f_r_o_n_t_|_r_i_g_h_t__")
    assert run(beam(opts, phrases=phrases), two) == "call home front right"
    # Half a phrase is not a phrase; nothing matches -> nothing is recognised.
    assert run(beam(opts, phrases=phrases), posteriors("_f_r_o_n_t__")) == ""
    d = make_decoder("beam", FRAME, NO_ENDPOINT, phrase_list=["call home"], restrict=True)
    assert run(d, posteriors("_c_a_l_l_|_h_o_m_e_")) == "call home"


def test_word_times_and_confidence_come_from_emitting_frames() -> None:
    d = beam()
    d.advance(posteriors("__hi_|__ok__"))
    hi, ok = d.finalize().words
    assert (hi.start, hi.end) == pytest.approx((2 * FRAME, 4 * FRAME))
    assert (ok.start, ok.end) == pytest.approx((8 * FRAME, 10 * FRAME))
    assert hi.conf == pytest.approx(0.9, abs=1e-5)


def test_partial_and_stable_prefix() -> None:
    d = beam()
    d.advance(posteriors("_go_|_no", confidence=0.9999))  # no other spelling stays in the beam
    p = d.partial()
    assert (p.text, p.stable, p.is_final) == ("go no", "go", False)
    # While the beams disagree on the first word, nothing is stable.
    d = beam()
    d.advance(posteriors({"a": 0.5, "o": 0.45}, "|_n"))
    assert d.partial().stable == ""


def test_cost_per_frame_does_not_grow_with_the_stream() -> None:
    d = beam(BeamOptions(beam_size=4))
    lp = posteriors("_a_b|" * 200)
    d.advance(lp)
    assert len(d._beams) <= 4
    chain, node = 0, d._best
    while node is not None:  # prefixes do not keep their whole history alive
        chain, node = chain + 1, node.parent
    assert chain < 10
    assert d.finalize().text == " ".join(["ab"] * 200)


def test_rejects_bad_input_and_options() -> None:
    with pytest.raises(ValueError, match="log-probs"):
        beam().advance(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="beam_size"):
        BeamOptions(beam_size=0)
    with pytest.raises(ValueError, match="phrase list"):
        beam(BeamOptions(restrict=True))


def test_factory(toy_lm: Path, tmp_path: Path) -> None:
    assert isinstance(make_decoder("greedy", FRAME, NO_ENDPOINT), GreedyDecoder)
    d = make_decoder("beam", FRAME, NO_ENDPOINT, lm_path=str(toy_lm), beam_size=4)
    assert isinstance(d, BeamDecoder) and d.options.beam_size == 4 and d.lm is not None
    assert run(d, confusable()) == "the cat sat"
    again = make_decoder("beam", FRAME, NO_ENDPOINT, lm_path=str(toy_lm))
    assert isinstance(again, BeamDecoder) and again.lm is d.lm  # loaded once
    assert load_lm.cache_info().hits >= 1
    with pytest.raises(ValueError, match="unknown decoder"):
        make_decoder("viterbi", FRAME, NO_ENDPOINT)
    bad = tmp_path / "bad.arpa"
    bad.write_text("not a language model\n")
    with pytest.raises(ValueError, match="bad language model"):
        make_decoder("beam", FRAME, NO_ENDPOINT, lm_path=str(bad))
    with pytest.raises(ValueError, match="not found"):
        make_decoder("beam", FRAME, NO_ENDPOINT, lm_path=str(tmp_path / "missing.arpa"))
    with pytest.raises(ValueError, match="beam decoder"):
        make_decoder("greedy", FRAME, NO_ENDPOINT, phrase_list=["call home"])
    with pytest.raises(ValueError, match="cannot spell"):
        make_decoder("beam", FRAME, NO_ENDPOINT, lm_path="none", phrase_list=["call 911"])


def test_bundled_lm_with_a_phrase_list() -> None:
    d = make_decoder("beam", FRAME, NO_ENDPOINT)
    assert isinstance(d, BeamDecoder) and d.lm is not None and len(d.lm.vocab) > 10_000
    assert run(d, confusable()) == "the cat sat"
    boosted = make_decoder("beam", FRAME, NO_ENDPOINT, phrase_list=["front left", "front right"])
    assert run(boosted, frant_left()) == "front left"
