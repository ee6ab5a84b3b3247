"""The batcher against the single-stream reference: batching must not change any result."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from streamasr.audio.resample import resample
from streamasr.decode.endpoint import EndpointConfig
from streamasr.engine.batcher import (
    Batcher,
    CapacityError,
    JobKind,
    Reply,
    StepStats,
    StreamClosedError,
    StreamHandle,
)
from streamasr.engine.recognizer import Recognizer
from streamasr.engine.stream import Stream
from streamasr.model.artifact import ModelArtifact

# Compiled steps persist across runs (as under bin/test): a warm run compiles nothing.
os.environ.setdefault(
    "STREAMASR_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "streamasr", "jax")
)

# Short endpoints so that a few seconds of audio close several utterances.
ENDPOINT = EndpointConfig(silence_no_speech=0.3, silence_after_speech=0.2, max_utterance=1.0)


def peaky(artifact: ModelArtifact, scale: float = 200.0) -> ModelArtifact:
    """The tiny random model with its output layer scaled up: its best symbol wins by a wide
    margin, so float noise of ~1e-7 from batch-size-dependent kernels cannot flip an argmax
    (the plain random model is nearly uniform, and ties are common)."""

    def scaled(path: tuple[Any, ...], leaf: jax.Array) -> jax.Array:
        return leaf * scale if "output" in jax.tree_util.keystr(path) else leaf

    params = jax.tree_util.tree_map_with_path(scaled, artifact.params)
    return dataclasses.replace(artifact, params=params)


@pytest.fixture(scope="module")
def recognizer(tiny_artifact: ModelArtifact) -> Recognizer:
    return Recognizer(peaky(tiny_artifact), ENDPOINT)


class Collector:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.lock = threading.Lock()

    def __call__(self, reply: Reply) -> None:
        with self.lock:
            self.replies.append(reply)


def _signals(speech: tuple[np.ndarray, int], n: int) -> list[np.ndarray]:
    """n different 16 kHz signals of different lengths: speech, scaled, shifted, noisy."""
    samples = resample(speech[0], speech[1])
    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        x = np.roll(samples, 1600 * i)[: samples.size - 800 * i] * (0.5 + 0.1 * i)
        out.append((x + rng.normal(0, 0.01, x.size)).astype(np.float32))
    return out


def _chunks(x: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    out, start, i = [], 0, 0
    while start < x.size:
        size = sizes[i % len(sizes)]
        out.append(x[start : start + size])
        start += size
        i += 1
    return out


def _reference(recognizer: Recognizer, chunks: list[np.ndarray]) -> list[tuple[str, ...]]:
    stream = Stream(recognizer)
    events = [
        tuple(h.text if h.is_final else "~" + h.text for h in stream.accept(c)) for c in chunks
    ]
    events.append(tuple(h.text for h in stream.finish()))
    return events


def _as_events(replies: list[Reply]) -> list[tuple[str, ...]]:
    events = []
    for r in sorted(replies, key=lambda r: r.ticket):
        texts = [h.text for h in r.finals]
        if r.partial is not None:
            texts.append("~" + r.partial.text)
        events.append(tuple(texts))
    return events


def test_batched_streams_equal_separate_streams(
    recognizer: Recognizer, speech: tuple[np.ndarray, int]
) -> None:
    signals = _signals(speech, 5)
    # Different chunkings per stream: step counts differ inside every round.
    chunkings = [_chunks(x, [1600, 800 + 160 * i, 3000]) for i, x in enumerate(signals)]
    expected = [_reference(recognizer, c) for c in chunkings]
    finals = [t for e in expected for ev in e for t in ev if not t.startswith("~")]
    assert len([t for t in finals if t]) >= 5, f"too little decoded to compare: {finals}"

    steps: list[StepStats] = []
    with Batcher(recognizer, capacity=8, on_step=steps.append) as batcher:
        collectors = [Collector() for _ in signals]
        streams = [batcher.open(16000, c) for c in collectors]
        for i in range(max(len(c) for c in chunkings)):
            for stream, chunks in zip(streams, chunkings, strict=True):
                if i < len(chunks):
                    stream.push(chunks[i])
        for stream in streams:
            stream.finish()
        assert batcher.wait_idle(30)
        for collector, want in zip(collectors, expected, strict=True):
            assert _as_events(collector.replies) == want
            assert all(r.error is None for r in collector.replies)
    assert max(s.batch for s in steps) > 1, "streams were never batched together"
    assert all(s.bucket >= s.batch for s in steps)


def test_log_probs_equal_unbatched(recognizer: Recognizer, speech: tuple[np.ndarray, int]) -> None:
    """The batched step over gathered slots gives the log-probs of one stream alone."""
    from streamasr.engine.batcher import make_batched_step

    art = recognizer.artifact
    signals = _signals(speech, 3)
    run = make_batched_step(recognizer.step)
    state = jax.tree_util.tree_map(jnp.copy, recognizer.init_state(4))  # it is donated
    fps = recognizer.frames_per_step
    from streamasr.engine.frontend import Frontend

    frames = [Frontend(art.features, art.stats, fps).push(x)[: 16 * fps] for x in signals]
    # slots 3, 0, 2 in a bucket of 4 with one padding row; slot 1 must stay untouched.
    idx = np.array([3, 0, 2, 4], np.int32)
    batch = np.stack([*frames, np.zeros_like(frames[0])])
    before = np.asarray(state.lstm_h).copy()
    lp, state = run(recognizer.params, state, idx, batch)
    for row, f in enumerate(frames):
        alone, _ = recognizer.run(recognizer.init_state(1), f[None])
        np.testing.assert_allclose(np.asarray(lp[row]), alone[0], rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(np.asarray(state.lstm_h)[:, 1], before[:, 1])
    assert not np.allclose(np.asarray(state.lstm_h)[:, 3], before[:, 3])


def test_best_step_returns_each_frames_best_symbol_and_its_log_prob(
    recognizer: Recognizer, speech: tuple[np.ndarray, int]
) -> None:
    """The argmax the batcher hands greedy decoding and endpointing, computed inside the
    jitted call for every stream, is numpy's argmax (lowest id on ties) of the same rows."""
    from streamasr.engine.batched_step import make_batched_best_step
    from streamasr.engine.frontend import Frontend

    art = recognizer.artifact
    fps = recognizer.frames_per_step
    frames = [
        Frontend(art.features, art.stats, fps).push(x)[: 8 * fps] for x in _signals(speech, 2)
    ]
    run = make_batched_best_step(recognizer.step)
    state = jax.tree_util.tree_map(jnp.copy, recognizer.init_state(2))  # it is donated
    lp, best, top, _ = run(recognizer.params, state, np.array([1, 0], np.int32), np.stack(frames))
    lp, best, top = np.asarray(lp), np.asarray(best), np.asarray(top)
    np.testing.assert_array_equal(best, np.argmax(lp, axis=-1))
    np.testing.assert_array_equal(top, np.take_along_axis(lp, best[..., None], -1)[..., 0])
    assert len(set(best.ravel().tolist())) > 1  # not a constant: the test can fail


def test_idle_slots_are_not_advanced(
    recognizer: Recognizer, speech: tuple[np.ndarray, int]
) -> None:
    """A stream that sends nothing for a while continues exactly where it stopped."""
    a_sig, b_sig = _signals(speech, 2)
    half = a_sig.size // 2
    want = _reference(recognizer, [a_sig[:half], a_sig[half:]])
    with Batcher(recognizer, capacity=4) as batcher:
        a_out = Collector()
        a = batcher.open(16000, a_out)
        b = batcher.open(16000, Collector())
        a.push(a_sig[:half])
        assert batcher.wait_idle(30)
        for chunk in _chunks(b_sig, [1600]):  # many rounds in which only b has audio
            b.push(chunk)
            assert batcher.wait_idle(30)
        a.push(a_sig[half:])
        a.finish()
        assert batcher.wait_idle(30)
    assert _as_events(a_out.replies) == want


def test_slot_recycling_resets_only_that_slot(
    recognizer: Recognizer, speech: tuple[np.ndarray, int]
) -> None:
    sig_a, sig_b, sig_c = _signals(speech, 3)
    third = sig_a.size // 3
    want_a = _reference(recognizer, [sig_a[:third], sig_a[third : 2 * third], sig_a[2 * third :]])
    want_c = _reference(recognizer, _chunks(sig_c, [4000]))
    with Batcher(recognizer, capacity=2) as batcher:
        a_out = Collector()
        a = batcher.open(16000, a_out)
        b = batcher.open(16000, Collector())
        with pytest.raises(CapacityError):
            batcher.open(16000, Collector())
        a.push(sig_a[:third])
        b.push(sig_b[:30000])  # b gets a dirty state, then leaves
        assert batcher.wait_idle(30)
        b.close()
        b.close()  # idempotent
        with pytest.raises(StreamClosedError):
            b.push(sig_b[:100])
        assert batcher.wait_idle(30)
        assert batcher.free_slots == 1
        c_out = Collector()
        c = batcher.open(16000, c_out)  # reuses b's slot: must start from a fresh state
        assert c.slot == b.slot
        a.push(sig_a[third : 2 * third])
        for chunk in _chunks(sig_c, [4000]):
            c.push(chunk)
        a.push(sig_a[2 * third :])
        a.finish()
        c.finish()
        with pytest.raises(StreamClosedError):
            c.push(sig_c[:10])
        assert batcher.wait_idle(30)
    assert _as_events(a_out.replies) == want_a
    assert _as_events(c_out.replies) == want_c


def test_finalize_mid_stream_matches_stream_force_final(
    recognizer: Recognizer, speech: tuple[np.ndarray, int]
) -> None:
    (x,) = _signals(speech, 1)
    half = x.size // 2
    ref = Stream(recognizer)
    ref.accept(x[:half])
    forced = ref.force_final()
    ref.accept(x[half:])
    last = ref.finish()
    with Batcher(recognizer, capacity=1) as batcher:
        out = Collector()
        s = batcher.open(16000, out)
        s.push(x[:half])
        s.finalize()
        s.push(x[half:])
        s.finish()
        assert batcher.wait_idle(30)
    kinds = [r.kind for r in sorted(out.replies, key=lambda r: r.ticket)]
    assert kinds == [JobKind.AUDIO, JobKind.FINALIZE, JobKind.AUDIO, JobKind.FINISH]
    finalize_reply = out.replies[1]
    assert finalize_reply.finals[-1] == forced
    assert out.replies[3].finals == tuple(last)
    assert out.replies[3].finals[-1].is_final


def test_replies_carry_samples_and_8k_input(recognizer: Recognizer) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.1, 8000).astype(np.float32)
    with Batcher(recognizer, capacity=1) as batcher:
        out = Collector()
        s: StreamHandle = batcher.open(8000, out)
        assert s.sample_rate == 8000
        s.push(x[:1000])
        s.push(x[1000:])
        s.finish()
        assert batcher.wait_idle(30)
        with pytest.raises(ValueError, match="sample rate"):
            batcher.open(12, Collector())
    assert [r.samples for r in sorted(out.replies, key=lambda r: r.ticket)] == [1000, 7000, 0]


def test_a_failing_consumer_does_not_stop_the_worker(recognizer: Recognizer) -> None:
    def broken(reply: Reply) -> None:
        raise RuntimeError("consumer bug")

    with Batcher(recognizer, capacity=2) as batcher:
        bad = batcher.open(16000, broken)
        good_out = Collector()
        good = batcher.open(16000, good_out)
        bad.push(np.zeros(3200, np.float32))
        good.push(np.zeros(3200, np.float32))
        assert batcher.wait_idle(30)
        assert len(good_out.replies) == 1
        assert batcher.live_streams == 2


def test_warm_up_touches_no_slot(tiny_artifact: ModelArtifact) -> None:
    """Warm-up runs every compiled shape on padding rows only. With zero state and zero
    biases a cell fed zeros stays at exactly 0, so a write could not show: every slot holds
    a non-zero state and every weight and bias is non-zero, so one padding row written into
    a slot changes it."""
    rng = np.random.default_rng(1)

    def jitter(leaf: jax.Array) -> jax.Array:
        return leaf + jnp.asarray(rng.normal(0, 0.5, leaf.shape), leaf.dtype)

    params = jax.tree_util.tree_map(jitter, tiny_artifact.params)
    recognizer = Recognizer(dataclasses.replace(tiny_artifact, params=params), ENDPOINT)
    batcher = Batcher(recognizer, capacity=2, max_steps_per_call=2)
    batcher._state = jax.tree_util.tree_map(jitter, batcher._state)
    before = [np.asarray(x).copy() for x in jax.tree_util.tree_leaves(batcher._state)]
    assert all(np.abs(x).min() > 0 for x in before)
    batcher.warm_up()
    after = [np.asarray(x) for x in jax.tree_util.tree_leaves(batcher._state)]
    for b, a in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)


def test_bad_capacity() -> None:
    with pytest.raises(ValueError, match="capacity"):
        Batcher.__new__(Batcher).__init__(None, capacity=0)  # type: ignore[arg-type]


def test_a_failing_step_fails_its_streams_and_the_worker_goes_on(recognizer: Recognizer) -> None:
    with Batcher(recognizer, capacity=2) as batcher:
        out = Collector()
        s = batcher.open(16000, out)
        real_run = batcher._run

        def broken_run(*args: Any) -> Any:
            raise RuntimeError("device lost")

        batcher._run = broken_run
        s.push(np.zeros(3200, np.float32))
        assert batcher.wait_idle(30)
        batcher._run = real_run
        s.push(np.zeros(3200, np.float32))  # its state is gone: it keeps failing
        assert batcher.wait_idle(30)
        assert [r.error is not None for r in out.replies] == [True, True]
        assert "device lost" in (out.replies[0].error or "")
        s.close()
        fresh_out = Collector()
        fresh = batcher.open(16000, fresh_out)  # a new stream works
        fresh.push(np.zeros(3200, np.float32))
        assert batcher.wait_idle(30)
        assert fresh_out.replies[0].error is None


def test_a_round_waits_for_the_other_live_streams_within_the_gather_window(
    recognizer: Recognizer,
) -> None:
    """Streams whose audio arrives a few ms apart share one batched step when the worker may
    wait for them; with no window, the first one goes alone."""
    audio = np.zeros(1600, np.float32)  # 100 ms: whole model steps for each stream

    def batches(gather_seconds: float) -> list[int]:
        steps: list[StepStats] = []
        with Batcher(
            recognizer, capacity=4, on_step=steps.append, gather_seconds=gather_seconds
        ) as batcher:
            streams = [batcher.open(16000, Collector()) for _ in range(3)]
            for stream in streams:
                stream.push(audio)
                time.sleep(0.05)  # the next client's message comes 50 ms later
            assert batcher.wait_idle(30)
        return [s.batch for s in steps]

    gathered = batches(0.5)
    assert gathered and all(b == 3 for b in gathered)  # every call serves all three
    assert batches(0.0)[0] == 1


def test_a_lone_stream_does_not_wait_for_the_gather_window(recognizer: Recognizer) -> None:
    with Batcher(recognizer, capacity=2, gather_seconds=0.9) as batcher:
        out = Collector()
        stream = batcher.open(16000, out)
        t0 = time.monotonic()
        stream.push(np.zeros(1600, np.float32))
        assert batcher.wait_idle(30)
        assert time.monotonic() - t0 < 0.5  # every live stream had work: no wait
    with pytest.raises(ValueError, match="gather_seconds"):
        Batcher(recognizer, capacity=2, gather_seconds=-1)
