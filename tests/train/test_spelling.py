"""Spelled letters: what the engines are told to say, the spelled sentences mixed into the text,
and recogniser transcripts with acronyms written apart."""

from __future__ import annotations

import numpy as np
import pytest

from train.corpus.normalize import try_normalize
from train.corpus.spelling import (
    spell_capitals,
    spelled_sentence,
    spoken_form,
)
from train.corpus.voices import Prosody, Voice


def test_spelled_runs_are_said_by_letter_name() -> None:
    assert spoken_form("f b i") == "ef bee eye"
    assert spoken_form("john j o h n") == "john jay oh aitch en"
    assert spoken_form("plan b") == "plan bee"  # a lone letter that is not a word


def test_letters_that_are_words_stay_words_outside_a_spelled_run() -> None:
    assert spoken_form("i am a man") == "i am a man"
    assert spoken_form("am i a fool") == "am i a fool"  # a run of word-letters only
    assert spoken_form("the letter a") == "the letter a"


def test_z_is_said_both_ways_across_texts() -> None:
    said = {spoken_form(f"z {c}").split()[0] for c in "bcdefghjk"}
    assert said == {"zee", "zed"}


def test_spelled_sentences_are_normalised_labels() -> None:
    rng = np.random.default_rng(0)
    words = ["boy", "cat", "window", "zebra"]
    made = [spelled_sentence(rng, words) for _ in range(300)]
    assert all(try_normalize(s) == s for s in made)
    assert any(len(s) == 1 for s in made)  # lone letters
    assert any(" as in " in s for s in made)
    assert any(all(len(t) == 1 for t in s.split()) and len(s.split()) >= 2 for s in made)


def test_transcripts_keep_acronyms_as_letters() -> None:
    assert try_normalize(spell_capitals("The FBI came.")) == "the f b i came"
    assert try_normalize(spell_capitals("B-E-E.")) == "b e e"
    assert try_normalize(spell_capitals("F.B.I. agents")) == "f b i agents"
    assert try_normalize(spell_capitals("OK, at 5 PM.")) == "ok at five pm"
    assert try_normalize(spell_capitals("VW XYZ")) == "v w x y z"


@pytest.mark.usefixtures("needs_espeak")
def test_a_voice_says_the_letter_names_of_a_spelled_label() -> None:
    voice = Voice("espeak/en-us", "espeak", "en-us", heldout=False)
    prosody = Prosody(rate=1.0, pitch=1.0)
    spelled = voice.synthesize("a b i", prosody)
    assert np.array_equal(spelled, voice.synthesize("ay bee eye", prosody))
    assert not np.array_equal(spelled, voice.synthesize("abi", prosody))
