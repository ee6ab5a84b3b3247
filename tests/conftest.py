"""Shared fixtures: tiny random models (fast to compile), a tiny peaky model saved once for
subprocess servers (deterministic enough that batching cannot flip a decision), the trained
bundled model (the needs_model marker), and real speech from espeak-ng."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest
import soundfile as sf

from streamasr.features.mfcc import FeatureConfig
from streamasr.features.normalize import FeatureStats
from streamasr.model import artifact as model_artifact
from streamasr.model.artifact import ModelArtifact
from streamasr.model.config import ModelConfig
from streamasr.model.step import init_params

TINY = ModelConfig(
    input_dim=20, conv_channels=16, rnn_layers=2, rnn_hidden=16, residual_blocks=1, dropout=0.0
)


def make_artifact(config: ModelConfig = TINY, seed: int = 0) -> ModelArtifact:
    features = FeatureConfig(n_mels=config.input_dim)
    rng = np.random.default_rng(seed)
    stats = FeatureStats(
        rng.normal(-5, 1, config.input_dim).astype(np.float32),
        rng.uniform(1, 3, config.input_dim).astype(np.float32),
    )
    return ModelArtifact(config, features, stats, init_params(config, jax.random.PRNGKey(seed)))


@pytest.fixture(scope="session")
def tiny_artifact() -> ModelArtifact:
    return make_artifact()


@pytest.fixture(scope="session")
def speak(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """speak(text) -> path of a WAV that espeak-ng synthesised (22.05 kHz mono)."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed: apt-get install espeak-ng (bin/test does)")
    folder = tmp_path_factory.mktemp("speech")

    def _speak(text: str) -> Path:
        path = folder / f"{abs(hash(text))}.wav"
        if not path.exists():
            subprocess.run(["espeak-ng", "-w", str(path), text], check=True)
        return path

    return _speak


@pytest.fixture(scope="session")
def speech(speak: Callable[[str], Path]) -> tuple[np.ndarray, int]:
    """A real synthesised sentence as (float32 samples, rate)."""
    data, rate = sf.read(speak("the quick brown fox jumps over the lazy dog"), dtype="float32")
    return data, rate


# Compiled steps persist across runs (as under bin/test): a warm run compiles nothing.
os.environ.setdefault(
    "STREAMASR_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "streamasr", "jax")
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "needs_model: checks recognized words, so needs the trained bundled model "
        "(streamasr/assets/default.streamasr)",
    )


def peaky(artifact: ModelArtifact, scale: float = 200.0) -> ModelArtifact:
    """The random model with its output layer scaled up, so that its best symbol wins by a
    wide margin: float noise from batch-size-dependent kernels cannot flip an argmax."""

    def scaled(path: tuple[Any, ...], leaf: jax.Array) -> jax.Array:
        return leaf * scale if "output" in jax.tree_util.keystr(path) else leaf

    return dataclasses.replace(
        artifact, params=jax.tree_util.tree_map_with_path(scaled, artifact.params)
    )


@pytest.fixture(scope="session")
def peaky_artifact(tiny_artifact: ModelArtifact) -> ModelArtifact:
    return peaky(tiny_artifact)


@pytest.fixture(scope="session")
def model_file(peaky_artifact: ModelArtifact, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.streamasr"
    model_artifact.save(peaky_artifact, path)
    return path


@pytest.fixture
def needs_espeak() -> None:
    """Fails (never skips) where espeak-ng is missing: the test needs a real engine."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed: apt-get install espeak-ng (bin/test does)")


@pytest.fixture(scope="session")
def trained_model() -> Path:
    path = model_artifact.DEFAULT_MODEL_PATH
    if not path.is_file():
        pytest.fail(f"{path} does not exist: tests marked needs_model need the trained model")
    return path


# Tests that use these fixtures call a TTS engine or need the trained model: `slow`, so that
# `bin/test --fast` (pytest -m "not slow") leaves them out. Modules that start subprocesses,
# a browser or PulseAudio mark themselves with `pytestmark = pytest.mark.slow`.
SLOW_FIXTURES = frozenset({"speak", "speech", "audio16k", "trained_model", "needs_espeak"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
