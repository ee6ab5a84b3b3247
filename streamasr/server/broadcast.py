"""``serve --mic``: the local microphone as one more batched stream, its results broadcast
to every client on the listen path.

The capture callback writes into a ring; the event loop is woken by the ring's file
descriptor (no polling), feeds ~100 ms blocks through a native-mode ``Session`` (the same
protocol code that formats every client's results) into the batcher, and broadcasts what
the session says. Ring overflows, and the input the sound device dropped before the capture
callback ran, are counted in the metrics and announced to listeners.
"""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np

from streamasr.audio.mic import Microphone
from streamasr.engine.batcher import Batcher, Reply, StreamHandle
from streamasr.features.mfcc import SAMPLE_RATE
from streamasr.server.app import AsrServer
from streamasr.server.protocol import Action, Audio, Close, Finalize, Finish, Open, Send, Session

MESSAGE_SAMPLES = SAMPLE_RATE // 10  # feed the recognizer in 100 ms blocks


class MicBroadcast:
    def __init__(self, server: AsrServer, batcher: Batcher, device: str | None = None) -> None:
        self.server = server
        self.batcher = batcher
        self.mic = Microphone(device)
        self.session = Session()
        self.session.receive_text(
            json.dumps(
                {"config": {"native": True, "sample_format": "f32le", "sample_rate": SAMPLE_RATE}}
            )
        )
        self.handle: StreamHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending = np.zeros(0, np.float32)
        self.finished = asyncio.Event()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.mic.start)
        self._loop.add_reader(self.mic.ring.fileno(), self._on_audio)
        self.server.listen_enabled = True

    def _on_audio(self) -> None:
        ring = self.mic.ring
        ring.clear_wakeups()
        self._pending = np.concatenate([self._pending, ring.read()])
        lost = self.mic.new_losses()
        if lost.ring_samples:
            self.server.metrics.overflows.inc(lost.ring_samples)
            self.server.broadcast(json.dumps({"event": "overflow", "samples": lost.ring_samples}))
        if lost.device_overflows:
            self.server.metrics.device_overflows.inc(lost.device_overflows)
            self.server.broadcast(
                json.dumps({"event": "device_overflow", "count": lost.device_overflows})
            )
        while self._pending.size >= MESSAGE_SAMPLES:
            block, self._pending = (
                self._pending[:MESSAGE_SAMPLES],
                self._pending[MESSAGE_SAMPLES:],
            )
            self._do(self.session.receive_bytes(block.astype("<f4").tobytes()))

    def _on_reply(self, reply: Reply) -> None:  # the worker thread
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._reply, reply)

    def _reply(self, reply: Reply) -> None:
        self._do(self.session.on_reply(reply, time.monotonic()))

    def _do(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                self.server.broadcast(action.text)
            elif isinstance(action, Open):
                self.handle = self.batcher.open(action.sample_rate, self._on_reply)
            elif self.handle is None:
                continue
            elif isinstance(action, Audio):
                self.handle.push(action.samples)
            elif isinstance(action, Finalize):
                self.handle.finalize()
            elif isinstance(action, Finish):
                self.handle.finish()
            elif isinstance(action, Close):
                self.finished.set()

    async def stop(self) -> None:
        """Stop capturing; listeners get the final of what was captured."""
        if self._loop is not None:
            self._loop.remove_reader(self.mic.ring.fileno())
        await asyncio.to_thread(self.mic.stop)
        if self._pending.size:
            self._do(self.session.receive_bytes(self._pending.astype("<f4").tobytes()))
            self._pending = self._pending[:0]
        self._do(self.session.end(1001, "microphone stopped"))
        if self.handle is not None:
            try:
                async with asyncio.timeout(10):
                    await self.finished.wait()
            except TimeoutError:
                pass
            self.handle.close()
        self.mic.close()
