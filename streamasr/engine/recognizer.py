"""A loaded model, ready to run: configuration, weights and the jitted streaming step."""

from __future__ import annotations

import os

import jax
import numpy as np
import numpy.typing as npt

from streamasr.constants import HOP_SAMPLES, SAMPLE_RATE
from streamasr.decode.endpoint import EndpointConfig
from streamasr.model import artifact as model_artifact
from streamasr.model.artifact import ModelArtifact
from streamasr.model.encoder import EncoderState, init_state
from streamasr.model.step import Params, StepFn, enable_compilation_cache, make_reset, make_step

# Longest chunk of output frames run in one call; longer inputs are split into this size
# and powers of two below it, so only a few shapes are ever compiled.
MAX_STEPS_PER_CALL = 32


class Recognizer:
    def __init__(self, artifact: ModelArtifact, endpoint: EndpointConfig | None = None) -> None:
        enable_compilation_cache()
        self.artifact = artifact
        self.config = artifact.model
        self.endpoint = endpoint or EndpointConfig()
        self.params: Params = jax.device_put(artifact.params)
        self.step: StepFn = make_step(self.config)
        self.reset = make_reset(self.config)
        self.frames_per_step = self.config.frames_per_step
        self.frame_seconds = self.frames_per_step * HOP_SAMPLES / SAMPLE_RATE

    @staticmethod
    def from_file(
        path: str | os.PathLike[str] | None = None, endpoint: EndpointConfig | None = None
    ) -> Recognizer:
        return Recognizer(model_artifact.load(path), endpoint)

    def init_state(self, batch: int) -> EncoderState:
        return init_state(self.config, batch)

    def run(
        self, state: EncoderState, frames: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], EncoderState]:
        """Run any whole number of steps for a batch: frames [B, k * fps, dim] -> [B, k, V].

        Splits k into chunks of bounded, power-of-two sizes to bound recompilation."""
        fps = self.frames_per_step
        steps = frames.shape[1] // fps
        if steps * fps != frames.shape[1]:
            raise ValueError(f"frame count {frames.shape[1]} is not a multiple of {fps}")
        outputs = []
        done = 0
        while done < steps:
            size = min(MAX_STEPS_PER_CALL, 1 << ((steps - done).bit_length() - 1))
            chunk = frames[:, done * fps : (done + size) * fps]
            log_probs, state = self.step(self.params, state, chunk)
            outputs.append(np.asarray(log_probs))
            done += size
        if not outputs:
            return np.zeros((frames.shape[0], 0, self.config.vocab_size), np.float32), state
        return np.concatenate(outputs, axis=1), state
