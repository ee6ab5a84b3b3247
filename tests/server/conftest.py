"""The server tests' recognizer: the tiny peaky model with short endpoints, batched."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from streamasr.audio.resample import resample
from streamasr.engine.batcher import Batcher
from streamasr.engine.recognizer import Recognizer
from streamasr.model.artifact import ModelArtifact
from tests.server.loopback import ENDPOINT


@pytest.fixture(scope="module")
def recognizer(peaky_artifact: ModelArtifact) -> Recognizer:
    return Recognizer(peaky_artifact, ENDPOINT)


@pytest.fixture(scope="module")
def batcher(recognizer: Recognizer) -> Any:
    with Batcher(recognizer, capacity=16) as b:
        yield b


@pytest.fixture(scope="module")
def audio16k(speech: tuple[np.ndarray, int]) -> np.ndarray:
    return resample(*speech)
