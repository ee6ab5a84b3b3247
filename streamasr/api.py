"""The front door: recognition from a Python program, with the commands' defaults.

    model = streamasr.load()                    # the bundled model
    stream = model.stream(sample_rate=16000)    # beam search + the bundled LM
    for result in stream.accept(pcm):           # int16 bytes, or a float/int16 array
        ...                                     # finals, then the current partial
    for result in stream.finish():              # the last finals
        ...

The Pythonic cousin of Vosk's ``Model`` / ``KaldiRecognizer``: ``accept`` is
``AcceptWaveform`` + ``PartialResult``, ``finish`` is ``FinalResult``. It runs the very code
the daemon and ``streamasr transcribe`` run (engine.stream), one stream at a time in the
calling thread. jax is imported by ``load``, not by ``import streamasr``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from streamasr.constants import BLOCK_SECONDS, SAMPLE_RATE
from streamasr.decode.endpoint import EndpointConfig
from streamasr.decode.factory import DEFAULT_KIND, DecoderChoice
from streamasr.decode.hypothesis import Hypothesis

if TYPE_CHECKING:  # jax: imported when a model is loaded
    from streamasr.engine.recognizer import Recognizer
    from streamasr.engine.stream import Stream as EngineStream

Audio = bytes | bytearray | memoryview | npt.NDArray[np.floating] | npt.NDArray[np.int16]


def load(
    model: str | os.PathLike[str] | None = None, *, endpoint: bool | EndpointConfig = True
) -> Model:
    """Load a model file (None: the bundled model). ``endpoint=False`` makes one utterance per
    stream (no splitting on silence). Raises ``model.artifact.ArtifactError`` for a missing or
    damaged file."""
    from streamasr.engine.recognizer import Recognizer

    if isinstance(endpoint, bool):
        endpoint = EndpointConfig(enabled=endpoint)
    return Model(Recognizer.from_file(model, endpoint))


class Model:
    """A loaded model; ``stream`` opens one recognition stream on it (as many as you like)."""

    def __init__(self, recognizer: Recognizer) -> None:
        self.recognizer = recognizer

    def stream(
        self,
        sample_rate: int = SAMPLE_RATE,
        *,
        decoder: str | DecoderChoice = DEFAULT_KIND,
        phrases: Sequence[str] = (),
        restrict: bool = False,
    ) -> Stream:
        """A new stream of audio at ``sample_rate`` Hz (any rate from 4 to 192 kHz).

        ``decoder`` is "beam" (words: lexicon and the bundled LM), "greedy" (letters), or a
        ``DecoderChoice`` for another LM or beam size. ``phrases`` are boosted (with
        ``restrict``, only they can be recognized); they need the beam decoder.
        ValueError for a bad rate, decoder or phrase list."""
        from streamasr.engine.stream import Stream as EngineStream

        choice = DecoderChoice(decoder) if isinstance(decoder, str) else decoder
        rec = self.recognizer
        engine = EngineStream(
            rec, sample_rate, choice.make(rec.frame_seconds, rec.endpoint, phrases, restrict)
        )
        return Stream(engine)

    def transcribe(
        self,
        samples: Audio,
        sample_rate: int = SAMPLE_RATE,
        *,
        decoder: str | DecoderChoice = DEFAULT_KIND,
        phrases: Sequence[str] = (),
        restrict: bool = False,
    ) -> str:
        """The text of a whole recording, streamed in 100 ms blocks as a live client would
        (``phrases`` and ``restrict`` as in ``stream``)."""
        stream = self.stream(sample_rate, decoder=decoder, phrases=phrases, restrict=restrict)
        audio = to_float32(samples)
        step = max(1, int(sample_rate * BLOCK_SECONDS))
        finals = []
        for start in range(0, audio.size, step):
            finals += [h for h in stream.accept(audio[start : start + step]) if h.is_final]
        finals += stream.finish()
        return " ".join(h.text for h in finals if h.text)


class Stream:
    """One stream of audio; not thread-safe (use one per thread, or the daemon)."""

    def __init__(self, engine: EngineStream) -> None:
        self._engine = engine

    @property
    def sample_rate(self) -> int:
        return self._engine.frontend.resampler.in_rate

    def accept(self, pcm: Audio) -> list[Hypothesis]:
        """Feed audio: int16 little-endian bytes, or a 1-D array (float in [-1, 1], or int16).
        Returns the finals of the utterances an endpoint closed (``is_final``), then the
        current partial hypothesis (always last)."""
        return self._engine.accept(to_float32(pcm))

    def finalize(self) -> Hypothesis:
        """Close the current utterance now (push-to-talk release) and go on streaming."""
        return self._engine.force_final()

    def finish(self) -> list[Hypothesis]:
        """End of input: the remaining finals; the last one ends the stream."""
        return self._engine.finish()


def to_float32(pcm: Audio) -> npt.NDArray[np.float32]:
    """Samples as float32 in [-1, 1]: int16 LE bytes and int16 arrays are scaled by 1/32768.
    ValueError for anything else (odd byte counts, other dtypes, several channels)."""
    if isinstance(pcm, bytes | bytearray | memoryview):
        data = bytes(pcm)
        if len(data) % 2:
            raise ValueError(f"int16 PCM needs an even number of bytes, got {len(data)}")
        return np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    array = np.asarray(pcm)
    if array.ndim != 1:
        raise ValueError(f"expected mono samples (a 1-D array), got shape {array.shape}")
    if array.dtype == np.int16:
        return array.astype(np.float32) / 32768.0
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"expected float or int16 samples, got {array.dtype}")
    return array.astype(np.float32, copy=False)
