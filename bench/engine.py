"""The engine alone: what the batcher costs per stream, with no socket, JSON or event loop.

``bin/bench engine [--streams 100,500,1000] [--decoder greedy|beam|flashlight]``

N streams open on one ``Batcher`` (the daemon's engine, same recognizer, same decoders);
every tick each pushes the next 100 ms of the same espeak-ng utterance as the load clients
send (8 kHz by default, so the resampler runs as it does for them), then the bench waits
until the worker has replied to all of them. That is the best case for batching: every
round carries every stream. The process's CPU time over the ticks (every thread: the
worker, XLA's pool) is the engine's cost; the jitted step's own wall time, from the
batcher's step statistics, is the baseline measured in the same run.

A server needs at least this much CPU per stream on top of its websocket and JSON work, so
``bin/bench load``'s ``CPU_MS_PER_STREAM_S`` can never fall below it: the figure shows
how much of the daemon's cost is the engine and how much the layers around it.

Prints a table, then a last line
``ENGINE_CPU_MS_PER_STREAM_S=<float> STEP_MS_PER_STREAM_S=<float> STREAMS=<int>``
for the largest level.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

import numpy as np
from load import stream_levels, utterance  # bench/load.py: its levels, its clients' audio

from streamasr.decode.endpoint import EndpointConfig
from streamasr.decode.factory import KINDS, DecoderChoice
from streamasr.engine.batcher import Batcher
from streamasr.engine.jobs import Reply, StepStats
from streamasr.engine.recognizer import Recognizer
from streamasr.model.artifact import DEFAULT_MODEL_PATH
from streamasr.model.step import BATCH_BUCKETS, bucket_for

CHUNK_SECONDS = 0.1


def run_level(
    recognizer: Recognizer,
    choice: DecoderChoice,
    streams: int,
    pcm: np.ndarray,
    rate: int,
    seconds: float,
) -> tuple[float, float, float]:
    """(CPU ms, step ms, wall ms) per stream per audio-second over ``seconds`` of audio."""
    steps: list[StepStats] = []
    replies = 0
    lock = threading.Lock()

    def on_reply(reply: Reply) -> None:
        nonlocal replies
        if reply.error is not None:
            raise RuntimeError(reply.error)
        with lock:
            replies += 1

    batcher = Batcher(recognizer, capacity=bucket_for(streams), decoding=choice,
                      on_step=steps.append)  # fmt: skip
    batcher.warm_up(streams)
    chunk = int(rate * CHUNK_SECONDS)
    cycle = np.tile(pcm.astype(np.float32) / 32768.0, 2 + int(seconds / (pcm.size / rate)))
    with batcher:
        handles = [batcher.open(rate, on_reply) for _ in range(streams)]
        # One tick unmeasured: the first round of each stream builds its decoder's state.
        ticks = round(seconds / CHUNK_SECONDS)
        for tick in range(ticks + 1):
            if tick == 1:
                steps.clear()
                cpu0, wall0 = time.process_time(), time.perf_counter()
            for i, h in enumerate(handles):
                # Streams start at different offsets of the utterance, as live clients do
                # (a view: the bench's own cost stays out of the engine's figure).
                start = tick * chunk + i % 7
                h.push(cycle[start : start + chunk])
            batcher.wait_idle()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        for h in handles:
            h.close()
    if replies != streams * (ticks + 1):
        raise RuntimeError(f"{replies} replies for {streams * (ticks + 1)} messages")
    per = 1000.0 / (streams * ticks * CHUNK_SECONDS)
    return cpu * per, sum(s.seconds for s in steps) * per, wall * per


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench engine", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--streams", type=stream_levels, default="100,500,1000", help="levels, comma-separated"
    )
    p.add_argument("--decoder", choices=KINDS, default="greedy")
    p.add_argument("--model", default=str(DEFAULT_MODEL_PATH))
    p.add_argument("--rate", type=int, default=8000, help="the streams' sample rate")
    p.add_argument("--seconds", type=float, default=5.0, help="audio per stream per level")
    args = p.parse_args(argv)
    levels: list[int] = args.streams
    if max(levels) > BATCH_BUCKETS[-1]:
        p.error(f"--streams: at most {BATCH_BUCKETS[-1]} streams share one batcher")
    recognizer = Recognizer.from_file(args.model, EndpointConfig())
    choice = DecoderChoice(args.decoder)
    pcm = utterance(args.rate)
    print(f"decoder {args.decoder}, {args.rate} Hz streams, {args.seconds:g} s of audio each")
    print(" streams   cpu ms/s  step ms/s   wall ms/s   engine/step  streams on 2 cores")
    cpu = step = 0.0
    for n in levels:
        cpu, step, wall = run_level(recognizer, choice, n, pcm, args.rate, args.seconds)
        print(f"{n:8d} {cpu:10.2f} {step:10.2f} {wall:11.2f} {cpu / step:13.1f} "
              f"{2000.0 / cpu:19.0f}")  # fmt: skip
    print(f"ENGINE_CPU_MS_PER_STREAM_S={cpu:.2f} STEP_MS_PER_STREAM_S={step:.2f} "
          f"STREAMS={levels[-1]}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
