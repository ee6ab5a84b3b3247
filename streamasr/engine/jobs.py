"""What flows between a stream and the batcher's worker: a stream's handle, its jobs in,
replies out, and the errors and statistics the worker reports."""

from __future__ import annotations

import collections
import enum
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from streamasr.decode.factory import Decoder
from streamasr.decode.hypothesis import Hypothesis
from streamasr.engine.frontend import Frontend

if TYPE_CHECKING:
    from streamasr.engine.batcher import Batcher

FloatArray = npt.NDArray[np.float32]


class CapacityError(RuntimeError):
    """Every slot is taken: refuse the stream rather than slow the others down."""


class StreamClosedError(RuntimeError):
    """A job was submitted to a stream that was finished or closed."""


class JobKind(enum.Enum):
    AUDIO = "audio"  # samples to recognize; reply: finals closed by them, then the partial
    FINALIZE = "finalize"  # close the current utterance now and go on; reply: that final
    FINISH = "finish"  # end of input; reply: remaining finals, the last one ends the stream


@dataclass(frozen=True)
class Reply:
    ticket: int  # the job's number within its stream, from 0
    kind: JobKind
    finals: tuple[Hypothesis, ...]  # utterances closed by this job, in order
    partial: Hypothesis | None  # the hypothesis after an AUDIO job; None for the others
    samples: int  # input samples the job carried (at the stream's rate)
    submitted: float  # time.monotonic() when the job was queued
    error: str | None = None  # the job failed; the stream is unusable afterwards


@dataclass
class Job:
    ticket: int
    kind: JobKind
    samples: FloatArray | None
    submitted: float


@dataclass(frozen=True)
class StepStats:
    batch: int  # streams advanced by this call
    bucket: int  # compiled batch size they were padded to
    steps: int  # model steps (output frames) per stream
    seconds: float  # wall time of the call


@dataclass(eq=False)
class StreamHandle:
    """One stream's side of the batcher. Thread-safe: any thread may submit jobs."""

    batcher: Batcher
    slot: int
    sample_rate: int
    on_reply: Callable[[Reply], None]
    id: int
    frontend: Frontend
    decoder: Decoder
    jobs: collections.deque[Job] = field(default_factory=collections.deque)
    tickets: itertools.count[int] = field(default_factory=itertools.count)
    finishing: bool = False  # FINISH queued: no more jobs accepted
    broken: str | None = None  # the batched state was lost: every later job fails with this
    closed: bool = False  # the owner went away: drop queued work, free the slot

    def push(self, samples: FloatArray) -> int:
        """Queue float32 samples at the stream's rate; returns the job's ticket."""
        return self.batcher._submit(self, JobKind.AUDIO, np.asarray(samples, np.float32))

    def finalize(self) -> int:
        """Close the current utterance now (push-to-talk release) and go on."""
        return self.batcher._submit(self, JobKind.FINALIZE, None)

    def finish(self) -> int:
        """End of input: the reply carries the remaining finals; no jobs after this one."""
        return self.batcher._submit(self, JobKind.FINISH, None)

    def close(self) -> None:
        """Give the slot back; queued jobs are dropped without replies. Idempotent."""
        self.batcher._close(self)

    @property
    def backlog(self) -> int:
        """Jobs queued and not yet taken by the worker."""
        return len(self.jobs)


def failed_reply(job: Job, error: str) -> Reply:
    return Reply(job.ticket, job.kind, (), None, samples_of(job), job.submitted, error)


def samples_of(job: Job) -> int:
    return 0 if job.samples is None else int(job.samples.size)
