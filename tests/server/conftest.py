"""Fixtures for the daemon's tests: a tiny peaky model (fast, and deterministic enough that
batching cannot flip a decision) saved once for subprocess servers; the needs_model marker."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import jax
import pytest

from streamasr.model import artifact as model_artifact
from streamasr.model.artifact import ModelArtifact

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


@pytest.fixture(scope="session")
def trained_model() -> Path:
    path = model_artifact.DEFAULT_MODEL_PATH
    if not path.is_file():
        pytest.fail(f"{path} does not exist: tests marked needs_model need the trained model")
    return path
