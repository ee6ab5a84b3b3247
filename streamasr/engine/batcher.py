"""Many streams, one batched encoder state, one worker thread.

Every live stream owns a *slot*: one row of a capacity-sized ``EncoderState``. Callers
(the server's event loop, the microphone thread) only append jobs to a stream and notify
a condition variable; a single worker thread wakes on it, takes every queued job of every
stream, runs the front end, gathers the slots that have whole model steps into a batch
padded to a compiled bucket size, runs the jitted step once for all of them, scatters the
new state back (padding rows and idle slots are never written), decodes, and hands each
job's reply to the stream's callback. Nothing here ever sleeps to poll.

A job's reply is exact: the finals its audio closed (endpoints), then the partial after it,
so a client that sends one message and waits sees the hypothesis of everything it sent.
Slots are reset with ``Recognizer.reset`` when their stream closes, before they are reused.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt

from streamasr.decode.factory import GREEDY, Decoder, DecoderChoice
from streamasr.engine.batched_step import make_batched_best_step, make_batched_step
from streamasr.engine.frontend import Frontend
from streamasr.engine.jobs import CapacityError as CapacityError
from streamasr.engine.jobs import (
    Job,
    JobKind,
    Reply,
    StepStats,
    StreamHandle,
    failed_reply,
    samples_of,
)
from streamasr.engine.jobs import StreamClosedError as StreamClosedError
from streamasr.engine.recognizer import Recognizer
from streamasr.engine.stream import decode_frames
from streamasr.features import compiled, mfcc
from streamasr.model.step import BATCH_BUCKETS, bucket_for

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]

log = logging.getLogger(__name__)


@dataclass
class _Work:
    """One stream's share of one round."""

    stream: StreamHandle
    jobs: list[Job]
    job_steps: list[int]  # model steps contributed by each job
    frames: FloatArray  # [total steps * fps, dim]
    log_probs: list[FloatArray] = field(default_factory=list)  # chunks of [k, V]
    best: list[tuple[IntArray, FloatArray]] = field(default_factory=list)  # [k] each
    error: str | None = None


class Batcher:
    """Slots in one batched state; a worker thread steps every stream that has audio."""

    def __init__(
        self,
        recognizer: Recognizer,
        *,
        capacity: int = 256,
        on_step: Callable[[StepStats], None] | None = None,
        max_steps_per_call: int = 4,
        decoding: DecoderChoice | None = None,
        gather_seconds: float = 0.0,
    ) -> None:
        if not 1 <= capacity <= BATCH_BUCKETS[-1]:
            raise ValueError(f"capacity must be in [1, {BATCH_BUCKETS[-1]}], got {capacity}")
        if max_steps_per_call not in (1, 2, 4, 8, 16, 32):
            raise ValueError(
                f"max_steps_per_call must be a power of two <= 32, got {max_steps_per_call}"
            )
        # Calls advance every stream by k steps, k a power of two up to this: with the
        # bucketed batch sizes, a few dozen compiled shapes cover every round.
        self.max_steps_per_call = max_steps_per_call
        if not 0.0 <= gather_seconds <= 1.0:
            raise ValueError(f"gather_seconds must be in [0, 1], got {gather_seconds}")
        # How long a round may wait, from its oldest job, for the other live streams' jobs:
        # a batched step for one stream costs nearly what one for thirty does, so many
        # streams per round are what make the worker cheap per stream (see _gather).
        self.gather_seconds = gather_seconds
        self.recognizer = recognizer
        self.decoding = decoding or GREEDY  # the cheapest; the daemon passes its choice
        self.capacity = capacity
        self.on_step = on_step
        self._run = make_batched_best_step(recognizer.step)
        # Distinct buffers (init_state shares one zeros array): the state is donated.
        self._state = jax.tree_util.tree_map(jnp.copy, recognizer.init_state(capacity))
        self._cond = threading.Condition()
        self._free = list(range(capacity - 1, -1, -1))  # pop() hands out slot 0 first
        self._ready: dict[int, StreamHandle] = {}  # streams with queued jobs or a close
        self._live: dict[int, StreamHandle] = {}
        self._ids = itertools.count()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> Batcher:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._worker, name="streamasr-batcher", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Finish the work already queued, then end the worker thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> Batcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def warm_up(self, max_streams: int | None = None) -> None:
        """Compile the step for every bucket up to max_streams and every k, so the first
        clients don't wait for the compiler. Touches no slot's state."""
        fps = self.recognizer.frames_per_step
        dim = self.recognizer.config.input_dim
        limit = bucket_for(min(max_streams or self.capacity, self.capacity))
        with self._cond:  # the worker must not step meanwhile (state is donated)
            for b in BATCH_BUCKETS:
                if b > limit:
                    break
                k = 1
                while k <= self.max_steps_per_call:
                    idx = jnp.full((b,), self.capacity, jnp.int32)  # all padding: no writes
                    frames = jnp.zeros((b, k * fps, dim), jnp.float32)
                    *_, self._state = self._run(self.recognizer.params, self._state, idx, frames)
                    k *= 2
            self._state.lstm_h.block_until_ready()
        # A round's windows: about ten per stream per 100 ms message.
        compiled.for_config(self.recognizer.artifact.features).warm_up(limit * 16)

    # ---- streams ---------------------------------------------------------------------
    @property
    def live_streams(self) -> int:
        with self._cond:
            return len(self._live)

    @property
    def free_slots(self) -> int:
        with self._cond:
            return len(self._free)

    def open(
        self,
        sample_rate: int,
        on_reply: Callable[[Reply], None],
        phrase_list: Sequence[str] = (),
        restrict: bool = False,
        *,
        decoder: Decoder | None = None,
    ) -> StreamHandle:
        """Take a slot for a new stream; raises CapacityError when none is free and
        ValueError for an unusable sample rate or phrase list. ``decoder``: one built
        beforehand by ``make_decoder`` (then phrase_list and restrict are not used)."""
        art = self.recognizer.artifact
        frontend = Frontend(art.features, art.stats, self.recognizer.frames_per_step, sample_rate)
        if decoder is None:
            decoder = self.make_decoder(phrase_list, restrict)
        with self._cond:
            if self._stopping:
                raise CapacityError("the recognizer is shutting down")
            if not self._free:
                raise CapacityError(f"all {self.capacity} recognizer slots are in use")
            slot = self._free.pop()
            handle = StreamHandle(
                self, slot, frontend.resampler.in_rate, on_reply, next(self._ids), frontend, decoder
            )
            self._live[handle.id] = handle
            return handle

    def make_decoder(self, phrase_list: Sequence[str] = (), restrict: bool = False) -> Decoder:
        """A new stream's decoder (ValueError for an unusable phrase list). A phrase list with
        words the lexicon lacks rebuilds it (~60 ms for the bundled LM's): an event loop
        calls this in a worker thread, then ``open(..., decoder=...)``."""
        return self.decoding.make(
            self.recognizer.frame_seconds, self.recognizer.endpoint, phrase_list, restrict
        )

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job is queued or being processed (for tests and draining)."""
        return self._idle.wait(timeout)

    def _submit(self, stream: StreamHandle, kind: JobKind, samples: FloatArray | None) -> int:
        with self._cond:
            if stream.closed or stream.finishing:
                raise StreamClosedError(f"stream {stream.id} accepts no more input")
            if kind is JobKind.FINISH:
                stream.finishing = True
            ticket = next(stream.tickets)
            stream.jobs.append(Job(ticket, kind, samples, time.monotonic()))
            self._ready[stream.id] = stream
            self._idle.clear()
            self._cond.notify()
            return ticket

    def _close(self, stream: StreamHandle) -> None:
        with self._cond:
            if stream.closed:
                return
            stream.closed = True
            stream.jobs.clear()
            self._ready[stream.id] = stream
            self._idle.clear()
            self._cond.notify()

    # ---- the worker ------------------------------------------------------------------
    def _worker(self) -> None:
        while True:
            with self._cond:
                while not self._ready and not self._stopping:
                    self._idle.set()
                    self._cond.wait()
                if not self._ready:
                    self._idle.set()
                    return
                self._gather()
                taken = list(self._ready.values())
                self._ready.clear()
                work: list[_Work] = []
                released: list[StreamHandle] = []
                for stream in taken:
                    if stream.closed:
                        released.append(stream)
                    else:
                        work.append(_Work(stream, list(stream.jobs), [], _NO_FRAMES))
                        stream.jobs.clear()
            # The lock is free: clients keep queueing while this round computes.
            try:
                self._release(released)
                replies = self._round(work)
            except Exception as e:  # the step itself failed: every stream in it hears why
                error = f"recognizer failure: {type(e).__name__}: {e}"
                log.exception("batched step failed; %d live streams are lost", len(self._live))
                replies = [(w.stream, failed_reply(w.jobs[0], error)) for w in work if w.jobs]
                # The (donated) state may be gone: start afresh, and fail every live stream,
                # whose recurrent state went with it, rather than continue from zeros.
                self._state = jax.tree_util.tree_map(
                    jnp.copy, self.recognizer.init_state(self.capacity)
                )
                with self._cond:
                    for stream in self._live.values():
                        stream.broken = error
            for stream, reply in replies:
                try:
                    stream.on_reply(reply)
                except Exception:  # a broken consumer must not stop the others
                    log.exception("reply callback of stream %d failed", stream.id)

    def _gather(self) -> None:
        """With the lock held and work ready: wait until every live stream has work queued,
        or until ``gather_seconds`` after the oldest queued job (under load the last round
        took longer than that, so no wait at all), or until stopping."""
        if self.gather_seconds <= 0:
            return
        oldest = min((s.jobs[0].submitted for s in self._ready.values() if s.jobs), default=None)
        if oldest is None:  # only closes: nothing waits on a batch
            return
        deadline = oldest + self.gather_seconds
        while len(self._ready) < len(self._live) and not self._stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._cond.wait(left)

    def _release(self, streams: list[StreamHandle]) -> None:
        if not streams:
            return
        mask = np.zeros(self.capacity, bool)
        for stream in streams:
            mask[stream.slot] = True
        self._state = self.recognizer.reset(self._state, jnp.asarray(mask))
        with self._cond:
            for stream in streams:
                self._live.pop(stream.id, None)
                self._free.append(stream.slot)

    def _round(self, work: list[_Work]) -> list[tuple[StreamHandle, Reply]]:
        self._features_all(work)
        self._step_all([w for w in work if w.error is None])
        out: list[tuple[StreamHandle, Reply]] = []
        for w in work:
            out.extend((w.stream, r) for r in self._decode(w))
        return out

    def _features_all(self, work: list[_Work]) -> None:
        """Every job's model-ready frames into ``w.frames`` (and its whole steps into
        ``w.job_steps``). Per stream only the cheap framing runs; the spectra, filterbank and
        logs of all streams' new frames are one compiled call, not one per stream."""
        fps = self.recognizer.frames_per_step
        features = self.recognizer.artifact.features
        framed: list[FloatArray] = []  # per job of every healthy stream, in order
        healthy: list[_Work] = []
        for w in work:
            if w.stream.broken is not None:
                w.error = w.stream.broken
                continue
            try:
                windows = []
                for job in w.jobs:
                    if job.samples is not None:
                        windows.append(w.stream.frontend.windows(job.samples))
                    elif job.kind is JobKind.FINISH:
                        windows.append(w.stream.frontend.flush_windows())
                    else:
                        windows.append(np.zeros((0, mfcc.WINDOW_SAMPLES), np.float32))
            except Exception as e:  # e.g. samples the resampler refuses
                w.error = f"{type(e).__name__}: {e}"
                log.exception("front end of stream %d failed", w.stream.id)
                continue
            framed += windows
            healthy.append(w)
        counts = [f.shape[0] for f in framed]
        raw = compiled.for_config(features)(
            np.concatenate(framed) if framed else np.zeros((0, mfcc.WINDOW_SAMPLES), np.float32)
        )
        pieces = iter(np.split(raw, np.cumsum(counts)[:-1]) if counts else [])
        for w in healthy:
            chunks = []
            for job in w.jobs:
                frames = w.stream.frontend.take(next(pieces), final=job.kind is JobKind.FINISH)
                chunks.append(frames)
                w.job_steps.append(frames.shape[0] // fps)
            w.frames = np.concatenate(chunks) if chunks else raw[:0]

    def _step_all(self, work: list[_Work]) -> None:
        """Advance every stream by all its whole steps, in as few batched calls as the
        spread of step counts allows (same k for every row of a call)."""
        fps = self.recognizer.frames_per_step
        dim = self.recognizer.config.input_dim
        done = {id(w): 0 for w in work}

        def left(w: _Work) -> int:
            return int(w.frames.shape[0] // fps) - done[id(w)]

        while active := [w for w in work if left(w) > 0]:
            k = min(self.max_steps_per_call, min(left(w) for w in active))
            k = 1 << (k.bit_length() - 1)  # powers of two: few compiled shapes
            for start in range(0, len(active), BATCH_BUCKETS[-1]):
                group = active[start : start + BATCH_BUCKETS[-1]]
                bucket = bucket_for(len(group))
                idx = np.full(bucket, self.capacity, np.int32)
                frames = np.zeros((bucket, k * fps, dim), np.float32)
                for row, w in enumerate(group):
                    idx[row] = w.stream.slot
                    first = done[id(w)] * fps
                    frames[row] = w.frames[first : first + k * fps]
                t0 = time.perf_counter()
                # numpy in: the jitted call transfers it (jnp.asarray would dispatch an
                # op-by-op copy first, ~6% of the worker's time at 50 streams).
                out, best_out, top_out, self._state = self._run(
                    self.recognizer.params, self._state, idx, frames
                )
                lp, best, top = np.asarray(out), np.asarray(best_out), np.asarray(top_out)
                seconds = time.perf_counter() - t0
                for row, w in enumerate(group):
                    w.log_probs.append(lp[row])
                    w.best.append((best[row], top[row]))
                    done[id(w)] += k
                if self.on_step is not None:
                    self.on_step(StepStats(len(group), bucket, k, seconds))

    def _decode(self, w: _Work) -> list[Reply]:
        stream = w.stream
        if w.error is not None:
            return [failed_reply(w.jobs[0], w.error)]
        log_probs, ids, top = self._chunks_of(w)
        replies = []
        offset = 0
        for job, steps in zip(w.jobs, w.job_steps, strict=True):
            end = offset + steps
            finals = decode_frames(
                stream.decoder, log_probs[offset:end], (ids[offset:end], top[offset:end])
            )
            offset += steps
            partial = None
            if job.kind is JobKind.AUDIO:
                partial = stream.decoder.partial()
            else:
                finals.append(stream.decoder.finalize())
            replies.append(
                Reply(job.ticket, job.kind, tuple(finals), partial, samples_of(job), job.submitted)
            )
        return replies

    def _chunks_of(self, w: _Work) -> tuple[FloatArray, IntArray, FloatArray]:
        """The round's log-probs, best symbols and their log-probs of one stream, in order
        (most rounds step a stream once: then no copy)."""
        if len(w.log_probs) == 1:
            return w.log_probs[0], w.best[0][0], w.best[0][1]
        if not w.log_probs:
            vocab = self.recognizer.config.vocab_size
            return np.zeros((0, vocab), np.float32), np.zeros(0, np.int32), _NO_TOPS
        return (
            np.concatenate(w.log_probs),
            np.concatenate([b for b, _ in w.best]),
            np.concatenate([t for _, t in w.best]),
        )


_NO_FRAMES = np.zeros((0, 0), np.float32)
_NO_TOPS = np.zeros(0, np.float32)

__all__ = [
    "Batcher",
    "CapacityError",
    "JobKind",
    "Reply",
    "StepStats",
    "StreamClosedError",
    "StreamHandle",
    "make_batched_step",
]
