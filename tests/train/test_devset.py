"""The real-speech development set: transcripts, file-name words, 16 kHz FLAC output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from streamasr.vocab import CHARS
from train.corpus.manifest import read_manifest, resolve_audio
from train.devset import POCKETSPHINX_DATA, build, parse_sphinx_transcription, real_utterances


def test_parse_sphinx_transcription() -> None:
    text = "<s> ten of clubs  </s> (001)\n<s> he was not an ill disposed young man </s> (a-0880)\n"
    assert parse_sphinx_transcription(text) == {
        "001": "ten of clubs",
        "a-0880": "he was not an ill disposed young man",
    }


def _wav(path: Path, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), 0.1 * np.ones(rate // 2), rate)


def test_build_from_package_layout(tmp_path: Path) -> None:
    sphinx, alsa = tmp_path / "ps", tmp_path / "alsa"
    (sphinx / "cards").mkdir(parents=True)
    (sphinx / "cards" / "cards.transcription").write_text("<s> seven of clubs </s> (003)\n")
    _wav(sphinx / "cards" / "003.wav", 16000)
    _wav(alsa / "Front_Left.wav", 48000)
    _wav(alsa / "Noise.wav", 48000)
    utterances = real_utterances(sphinx, alsa)
    assert [(u.text, u.voice) for u in utterances] == [
        ("seven of clubs", "cards"),
        ("front left", "alsa"),
    ]
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
