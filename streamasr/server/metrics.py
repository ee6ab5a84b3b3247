"""Prometheus collectors of one server, in a registry of their own (several servers can
live in one process, as in tests). No ``*_created`` series: each counter and histogram would
carry a second series holding its creation time, which nobody graphs.

Under ``serve --workers N`` every worker process writes its values to files in the directory
``PROMETHEUS_MULTIPROC_DIR`` names (prometheus_client's multiprocess mode, set up by the
command before the workers start: server/multiprocess.py), and each worker's ``/metrics``
renders the sum of all of them: a scrape answered by any worker describes the whole daemon."""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from streamasr.engine.batcher import StepStats
from streamasr.server.multiprocess import MULTIPROCESS_DIR

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1.0, 2.0, 5.0)


class Metrics:
    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # process-wide in prometheus_client; read at creation
        self.registry = CollectorRegistry()
        r = self.registry
        # Gauges: summed over the live worker processes (multiprocess mode only).
        self.streams = Gauge(
            "streamasr_streams",
            "Live recognition sessions",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.listeners = Gauge(
            "streamasr_listeners",
            "Clients listening to the microphone broadcast",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.sessions = Counter("streamasr_sessions", "Recognition sessions accepted", registry=r)
        self.audio_seconds = Counter(
            "streamasr_audio_seconds", "Seconds of client audio recognized", registry=r
        )
        self.step_seconds = Histogram(
            "streamasr_step_seconds",
            "Wall time of one batched model step",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.step_batch = Histogram(
            "streamasr_step_batch_streams",
            "Streams advanced by one batched model step",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=r,
        )
        self.partial_latency = Histogram(
            "streamasr_partial_latency_seconds",
            "From an audio message's arrival to the reply that includes it",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.refusals = Counter(
            "streamasr_refusals",
            "Connections refused at the handshake or at stream start",
            ["reason"],
            registry=r,
        )
        self.closes = Counter(
            "streamasr_closes",
            "Sessions closed, by WebSocket close code and by the side that closed first "
            '("client", also for a connection that dropped: code 1006)',
            ["code", "side"],
            registry=r,
        )
        self.overflows = Counter(
            "streamasr_overflow_samples",
            "Microphone samples lost because the ring buffer was full",
            registry=r,
        )
        self.device_overflows = Counter(
            "streamasr_device_overflows",
            "Times the sound device dropped microphone input before the capture callback ran "
            "(PortAudio's input overflow; how many samples is not known)",
            registry=r,
        )

    def observe_step(self, stats: StepStats) -> None:
        self.step_seconds.observe(stats.seconds)
        self.step_batch.observe(stats.batch)

    def render(self) -> bytes:
        if MULTIPROCESS_DIR in os.environ:  # serve --workers: every worker's values, summed
            from prometheus_client import multiprocess

            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)
