"""The voice catalogue: discovery, the held-out split, and one real synthesis per engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from train.corpus.voices import (
    ALL_ENGINES,
    ENGINE_TABLE,
    ENGINES,
    HELDOUT,
    HELDOUT_ESPEAK_VARIANTS,
    SAMPLE_RATE,
    Prosody,
    SynthesisError,
    Voice,
    install_hint,
    installed_voices,
    parse_espeak_voices,
)

ROOT = Path(__file__).resolve().parents[2]

LISTING = """\
Pty Language       Age/Gender VoiceName          File                 Other Languages
 2  en-gb           --/M      English_(Great_Britain) gmw/en               (en 2)
 3  en-uk           --/M      english-mb-en1     mb/mb-en1            (en-gb 3)(en 2)
 2  en-us           --/M      English_(America)  gmw/en-US            (en 3)
 5  en-us           --/M      us-mbrola-2        mb/mb-us2            (en 7)
 5  variant         --/M      Storm              !v/Storm             (en-us 5)
"""


def test_parse_espeak_listing() -> None:
    assert parse_espeak_voices(LISTING, "gmw/") == ["en-gb", "en-us"]
    assert parse_espeak_voices(LISTING, "!v/") == ["Storm"]


def test_catalogue_names_are_unique_and_split_is_fixed() -> None:
    voices = installed_voices()
    names = [v.name for v in voices]
    assert len(names) == len(set(names))
    for v in voices:
        variant = v.ident.partition("+")[2]
        espeak_heldout = v.engine == "espeak" and variant in HELDOUT_ESPEAK_VARIANTS
        assert v.heldout == (v.name in HELDOUT or espeak_heldout)
    # The CMU ARCTIC speaker SLT is held out in every engine that has her.
    assert all(v.heldout for v in voices if v.ident.endswith(("slt", "slt_arctic_hts")))
    # Licence: CC-BY-NC-ND RHVoice voices are never catalogued.
    assert not any(v.ident in {"evgeniy-eng", "lyubov"} for v in voices)


def test_every_engine_names_the_packages_that_install_it() -> None:
    """A missing engine's message names packages that exist where bin/test installs from:
    train/setup_tts.sh's list (Debian) or requirements-train.lock (pip)."""
    assert [e.name for e in ENGINE_TABLE] == list(ALL_ENGINES)  # one record per engine
    debian = set((ROOT / "train" / "setup_tts.sh").read_text().split())
    lock = (ROOT / "requirements-train.lock").read_text().splitlines()
    pinned = {line.split("==")[0] for line in lock if "==" in line}
    for engine, command in ((e.name, e.install) for e in ENGINE_TABLE):
        tool, _, rest = command.partition(" install ")
        packages = rest.split(" (")[0].split()
        assert packages, engine
        assert set(packages) <= (debian if tool == "apt-get" else pinned), engine
        assert command in install_hint(engine)
    assert "espeak-ng" in install_hint("espeak")
    assert "mbrola-us1" in install_hint("mbrola") and "piper-tts" in install_hint("piper")


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown engine"):
        installed_voices(["nosuch"])


@pytest.mark.slow  # every TTS engine
@pytest.mark.parametrize("engine", ENGINES)
def test_one_real_synthesis_per_engine(engine: str) -> None:
    voices = installed_voices([engine])
    if not voices:
        pytest.fail(install_hint(engine))
    wave = voices[0].synthesize("the quick brown fox", Prosody(rate=1.1, pitch=0.95))
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert 0.4 < len(wave) / SAMPLE_RATE < 5.0
    assert float(np.max(np.abs(wave))) > 0.05


@pytest.mark.slow  # runs espeak-ng
def test_engine_failure_raises_synthesis_error() -> None:
    if not installed_voices(["espeak"]):
        pytest.fail(install_hint("espeak"))
    with pytest.raises(SynthesisError, match="espeak/nosuch"):
        Voice("espeak/nosuch", "espeak", "nosuch-voice", False).synthesize("hello there")
