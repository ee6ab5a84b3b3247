"""Lexicon prefixes and the phrase-list word trie."""

from __future__ import annotations

import pytest

from streamasr.decode.lexicon import Lexicon, PhraseList, normalise_phrase


def test_lexicon_prefixes() -> None:
    lex = Lexicon(["cat", "car", ""])
    assert "cat" in lex and "ca" not in lex and len(lex) == 2
    assert lex.is_prefix("") and lex.is_prefix("ca") and lex.is_prefix("car")
    assert not lex.is_prefix("cart")
    more = lex.extended(["cart"])
    assert more.is_prefix("cart") and not lex.is_prefix("cart")
    assert lex.extended(["cat"]) is lex


def test_phrase_list_steps_through_phrases() -> None:
    pl = PhraseList(["Front Left", "front right", "call", "call home"])
    assert pl.words == {"front", "left", "right", "call", "home"}
    assert pl.allowed(()) == {"front", "call"}
    assert pl.step((), "front") == ("front",)
    assert pl.step(("front",), "left") == ()  # complete, nothing continues it
    assert pl.step(("front",), "home") is None
    assert pl.step((), "call") == ("call",)  # complete, but "call home" may continue
    assert pl.can_end(("call",)) and not pl.can_end(("front",))
    assert pl.step(("call",), "front") == ("front",)  # a new phrase after a complete one
    assert pl.char_prefixes(("front",)) == {
        "l",
        "le",
        "lef",
        "left",
        "r",
        "ri",
        "rig",
        "righ",
        "right",
    }


def test_boost_step_matches_phrase_words_anywhere() -> None:
    pl = PhraseList(["front left"])
    assert pl.boost_step((), "front") == (("front",), True)
    assert pl.boost_step(("front",), "front") == (("front",), True)  # restarts the phrase
    assert pl.boost_step(("front",), "door") == ((), False)


def test_phrases_must_be_spellable() -> None:
    assert normalise_phrase("  Call  HOME ") == ("call", "home")
    with pytest.raises(ValueError, match="cannot spell"):
        PhraseList(["dial 911"])
    assert not PhraseList(["", "  "])
    vosk = PhraseList(["call home", "[unk]"])
    assert vosk.has_unk and vosk.phrases == (("call", "home"),)
    assert not PhraseList(["call home"]).has_unk
