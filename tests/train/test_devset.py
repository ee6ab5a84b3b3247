"""The real-speech development sets: transcripts, file-name words, 16 kHz FLAC output."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from streamasr.vocab import CHARS
from train.corpus.manifest import read_manifest, resolve_audio
from train.devset import (
    ASTERISK_INDEX,
    POCKETSPHINX_DATA,
    asterisk_utterances,
    build,
    parse_sphinx_transcription,
    real_utterances,
)


def test_parse_sphinx_transcription() -> None:
    text = "<s> ten of clubs  </s> (001)\n<s> he was not an ill disposed young man </s> (a-0880)\n"
    assert parse_sphinx_transcription(text) == {
        "001": "ten of clubs",
        "a-0880": "he was not an ill disposed young man",
    }


def _wav(path: Path, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), 0.1 * np.ones(rate // 2), rate)


def _ogg(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), 0.1 * np.ones(11025), 22050, format="OGG", subtype="VORBIS")


def test_build_from_package_layout(tmp_path: Path) -> None:
    sphinx, alsa = tmp_path / "ps", tmp_path / "alsa"
    codec2, klettres, ktuberling = tmp_path / "codec2", tmp_path / "klettres", tmp_path / "kt"
    (sphinx / "cards").mkdir(parents=True)
    (sphinx / "cards" / "cards.transcription").write_text("<s> seven of clubs </s> (003)\n")
    _wav(sphinx / "cards" / "003.wav", 16000)
    _wav(alsa / "Front_Left.wav", 48000)
    _wav(alsa / "Noise.wav", 48000)
    _wav(codec2 / "mmt1.wav", 8000)
    _wav(codec2 / "david4.wav", 8000)  # no checked transcript: left out
    (klettres / "en").mkdir(parents=True)
    (klettres / "en" / "sounds.xml").write_text(
        '<sound name="B" file="en/alpha/B.ogg" />\n<sound name="TH" file="en/syllab/th.ogg" />\n'
        '<sound name="DOG" file="en/syllab/dog.ogg" />\n'
    )
    for name in ("alpha/B", "syllab/th", "syllab/dog"):
        _ogg(klettres / "en" / f"{name}.ogg")
    _ogg(ktuberling / "moon_fallingstar.ogg")
    utterances = real_utterances(sphinx, alsa, codec2, klettres, ktuberling)
    assert [(u.text, u.voice) for u in utterances] == [
        ("seven of clubs", "cards"),
        ("front left", "alsa"),
        ("it's easy to tell the depth of a well", "codec2"),
        ("b", "klettres-us"),
        ("dog", "klettres-us"),
        ("falling star", "ktuberling"),
    ]
    assert utterances[2].reference is not None and "Harvard" in utterances[2].reference
    out = tmp_path / "data" / "dev.jsonl"
    build(out, utterances)
    records = read_manifest(out)
    for r in records:
        info = sf.info(str(resolve_audio(r, out)))
        assert info.samplerate == 16000 and info.channels == 1 and info.format == "FLAC"
        assert abs(info.duration - 0.5) < 0.01


def test_installed_packages_give_real_speech() -> None:
    if not POCKETSPHINX_DATA.is_dir():
        pytest.fail("pocketsphinx-testdata is not installed (bin/test runs train/setup_tts.sh)")
    utterances = real_utterances()
    assert len(utterances) >= 10
    assert all(set(u.text) <= set(CHARS) for u in utterances)
    assert "noise" not in {u.text for u in utterances}


def test_prompts_keep_whole_sentences_whose_spoken_words_the_text_pins_down(
    tmp_path: Path,
) -> None:
    sounds, index = tmp_path / "sounds", tmp_path / "core-sounds-en.txt.gz"
    prompts = {
        "conf-onlyperson": "You are currently the only person in this conference.",
        "dictate/forhelp": "press 0 for help now",  # in a folder; one digit is "zero"
        "vm-intro": "Please leave your message after the tone.",
        "followme/vm-intro": "Please leave your message after the tone.",  # same stem
        "vm-goodbye": "Goodbye.",  # one word: not a sentence
        "dictate/both_help": "press * to toggle pause",  # star or asterisk?
        "queue-seconds": "please wait 15 seconds or so",  # fifteen or one five?
        "beep": "[this is a simple beep tone]",
        "confbridge-binaural-on": "3D audio is now enabled",  # unspellable
        "missing-audio": "This prompt has no recording here.",
    }
    text = "; Core Asterisk Sounds in English\n\n"
    text += "".join(f"{name}: {words}\n" for name, words in prompts.items())
    index.write_bytes(gzip.compress(text.encode()))
    for name in prompts:
        if name != "missing-audio":
            _wav(sounds / f"{name}.wav", 8000)
    utterances = list(asterisk_utterances(sounds, index))
    assert [(u.source.relative_to(sounds).as_posix(), u.text) for u in utterances] == [
        ("conf-onlyperson.wav", "you are currently the only person in this conference"),
        ("dictate/forhelp.wav", "press zero for help now"),
        ("followme/vm-intro.wav", "please leave your message after the tone"),
        ("vm-intro.wav", "please leave your message after the tone"),
    ]
    assert {u.voice for u in utterances} == {"asterisk"}
    out = tmp_path / "data" / "prompts.jsonl"
    build(out, utterances)
    assert len({r.audio_filepath for r in read_manifest(out)}) == 4  # one file each


def test_installed_prompts_give_real_sentences() -> None:
    if not ASTERISK_INDEX.exists():
        pytest.fail("asterisk-core-sounds-en is not installed (bin/test runs train/setup_tts.sh)")
    utterances = list(asterisk_utterances())
    assert len(utterances) >= 200
    assert all(len(u.text.split()) >= 4 and set(u.text) <= set(CHARS) for u in utterances)
