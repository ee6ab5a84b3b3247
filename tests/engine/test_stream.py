"""One stream end to end: chunked audio in, the same log-probabilities and words out."""

from __future__ import annotations

import numpy as np
import pytest

from streamasr.decode.endpoint import EndpointConfig
from streamasr.decode.greedy import GreedyDecoder
from streamasr.engine.frontend import Frontend
from streamasr.engine.recognizer import Recognizer
from streamasr.engine.stream import Stream, decode_frames
from streamasr.features import mfcc
from streamasr.model.artifact import ModelArtifact


@pytest.fixture(scope="module")
def recognizer(tiny_artifact: ModelArtifact) -> Recognizer:
    return Recognizer(tiny_artifact, EndpointConfig(enabled=False))


def frontend(recognizer: Recognizer, rate: int = mfcc.SAMPLE_RATE) -> Frontend:
    art = recognizer.artifact
    return Frontend(art.features, art.stats, recognizer.frames_per_step, rate)


def log_probs_in_chunks(
    recognizer: Recognizer, audio: np.ndarray, rate: int, size: int
) -> np.ndarray:
    fe = frontend(recognizer, rate)
    state = recognizer.init_state(1)
    outs = []
    for start in range(0, audio.size, size):
        frames = fe.push(audio[start : start + size])
        out, state = recognizer.run(state, frames[None])
        outs.append(out[0])
    out, state = recognizer.run(state, fe.flush()[None])
    outs.append(out[0])
    return np.concatenate(outs)


@pytest.mark.parametrize("frames_per_chunk", [1, 3, 7])
def test_chunks_of_any_frame_count_equal_one_pass(
    recognizer: Recognizer, speech: tuple[np.ndarray, int], frames_per_chunk: int
) -> None:
    audio, rate = speech
    audio = audio[: rate * 2]
    whole = log_probs_in_chunks(recognizer, audio, rate, audio.size)
    size = frames_per_chunk * mfcc.HOP_SAMPLES * rate // mfcc.SAMPLE_RATE
    streamed = log_probs_in_chunks(recognizer, audio, rate, size)
    assert streamed.shape == whole.shape
    np.testing.assert_allclose(streamed, whole, atol=1e-5)


def test_random_sample_chunkings_give_the_same_words(
    recognizer: Recognizer, speech: tuple[np.ndarray, int]
) -> None:
    audio, rate = speech

    def transcribe(sizes: list[int]) -> list[tuple[str, float, float, float]]:
        stream = Stream(recognizer, rate)
        start, i = 0, 0
        while start < audio.size:
            stream.accept(audio[start : start + sizes[i % len(sizes)]])
            start += sizes[i % len(sizes)]
            i += 1
        return [
            (w.word, w.start, w.end, round(w.conf, 5)) for h in stream.finish() for w in h.words
        ]

    reference = transcribe([audio.size])
    assert reference, "the random model should still emit some characters"
    rng = np.random.default_rng(7)
    assert transcribe([1, 2, 3, 500, *rng.integers(1, 5000, 20).tolist()]) == reference


def test_every_sample_lands_in_a_frame(recognizer: Recognizer) -> None:
    fe = frontend(recognizer)
    samples = 16_000 + 123
    n = fe.push(np.zeros(samples, np.float32)).shape[0] + fe.flush().shape[0]
    covered = (n - 1) * mfcc.HOP_SAMPLES + mfcc.WINDOW_SAMPLES
    assert covered >= samples
    assert n % recognizer.frames_per_step == 0
    assert covered - samples < mfcc.HOP_SAMPLES * recognizer.frames_per_step + mfcc.WINDOW_SAMPLES


def test_telephone_rate_stream_runs(recognizer: Recognizer, speech: tuple[np.ndarray, int]) -> None:
    from streamasr.audio.resample import resample

    audio_8k = resample(speech[0], speech[1])[::2].copy()
    stream = Stream(recognizer, 8000)
    stream.accept(audio_8k)
    finals = stream.finish()
    duration = audio_8k.size / 8000
    assert finals[-1].is_final
    assert all(0 <= w.start < w.end <= duration + 0.5 for w in finals[-1].words)


def test_endpoints_split_a_stream_into_segments(
    tiny_artifact: ModelArtifact, speech: tuple[np.ndarray, int]
) -> None:
    rec = Recognizer(tiny_artifact, EndpointConfig(max_utterance=0.5))
    stream = Stream(rec, speech[1])
    events = stream.accept(speech[0]) + stream.finish()
    finals = [h for h in events if h.is_final]
    assert len(finals) >= 3
    assert [h.segment for h in finals] == list(range(len(finals)))
    starts = [w.start for h in finals for w in h.words]
    assert starts == sorted(starts)


def test_decode_frames_finalises_at_every_endpoint() -> None:
    from tests.decode.test_greedy import posteriors

    decoder = GreedyDecoder(0.04, EndpointConfig(silence_after_speech=0.08))
    finals = decode_frames(decoder, posteriors("ab___cd___ef"))
    assert [h.text for h in finals] == ["ab", "cd"]
    assert decoder.finalize().text == "ef"
