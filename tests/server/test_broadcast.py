"""``serve --mic`` in-process: the microphone's ring (fed here, as the capture callback feeds
it) -> batcher -> every listener on /listen; overflows counted and announced; the final of
what was captured on stop. The PortAudio capture itself: tests/audio/test_mic.py."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect

from streamasr.audio.mic import Microphone
from streamasr.constants import BLOCK_SAMPLES, SAMPLE_RATE
from streamasr.engine.batcher import Batcher
from streamasr.server import broadcast
from streamasr.server.broadcast import MicBroadcast
from tests.server.loopback import get, run, running

RING = 4 * BLOCK_SAMPLES


class RingOnlyMicrophone(Microphone):
    """The Microphone without a sound card: its ring is written by the test."""

    def __init__(self, device: str | None = None) -> None:
        super().__init__(device, ring_seconds=RING / SAMPLE_RATE)
        assert self.ring.capacity == RING

    def start(self) -> RingOnlyMicrophone:
        return self

    def stop(self) -> None:
        pass


async def reply(ws: Any) -> dict[str, Any]:
    """The next reply to a block of audio (a partial or a final) or loss notice; the
    endpoint and overload notices between them (the recognizer lagging behind real time, as
    it may on a loaded test machine) are passed over."""
    while True:
        message: dict[str, Any] = json.loads(await ws.recv())
        if message.get("event") not in ("overload", "endpoint"):
            return message


def is_reply(message: dict[str, Any]) -> bool:
    return "partial" in message or "text" in message


def test_listeners_hear_the_microphone_and_its_overflows(
    batcher: Batcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(broadcast, "Microphone", RingOnlyMicrophone)
    noise = np.random.default_rng(0).normal(0, 0.1, 2 * RING).astype(np.float32)

    async def go() -> None:
        async with running(batcher) as server:
            mic = MicBroadcast(server, batcher)
            await mic.start()
            url = f"ws://127.0.0.1:{server.port}/listen"
            async with connect(url) as a, connect(url) as b:
                mic.mic.ring.write(noise[:RING])  # four blocks
                heard_a = [await reply(a) for _ in range(4)]
                heard_b = [await reply(b) for _ in range(4)]
                assert heard_a == heard_b  # every listener hears the same
                assert all(map(is_reply, heard_a)), heard_a
                mic.mic.ring.write(noise)  # twice what the ring holds, before it is read
                overflow = await reply(a)
                assert overflow == {"event": "overflow", "samples": RING}
                rest = [await reply(a) for _ in range(4)]  # what the ring kept
                assert all(map(is_reply, rest)), rest
                mic.mic.driver_overflows = 2  # the device dropped input twice
                mic.mic.ring.write(noise[:BLOCK_SAMPLES])
                # Announced when the next audio is read, after what earlier audio still owed.
                before = [await reply(a)]
                while is_reply(before[-1]) and len(before) < 10:
                    before.append(await reply(a))
                assert before[-1] == {"event": "device_overflow", "count": 2}, before
                await mic.stop()
                last = await reply(a)
                while not (last.get("is_final") and last["endpoint"] is False):
                    last = await reply(a)  # the final of what was captured, then nothing
                assert "text" in last
            metrics = (await _metrics(server.port))[1]
            assert f"streamasr_overflow_samples_total {float(RING)}" in metrics
            assert "streamasr_device_overflows_total 2.0" in metrics

    run(go)
    assert batcher.wait_idle(10)
    assert batcher.live_streams == 0, "the microphone's stream leaked its slot"


async def _metrics(port: int) -> tuple[int, str, str]:
    import asyncio

    return await asyncio.to_thread(get, f"http://127.0.0.1:{port}/metrics")
