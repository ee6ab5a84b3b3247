"""Running the daemon in-process over real loopback websockets, bounded in time: what the
server tests share."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection

from streamasr.decode.endpoint import EndpointConfig
from streamasr.engine.batcher import Batcher
from streamasr.server.app import AsrServer, ServerOptions

ENDPOINT = EndpointConfig(silence_no_speech=0.3, silence_after_speech=0.2, max_utterance=1.0)
TIMEOUT = 30  # seconds any one test may take


def int16(x: np.ndarray) -> bytes:
    return (np.clip(x, -1, 32767 / 32768) * 32768).astype("<i2").tobytes()


@asynccontextmanager
async def running(batcher: Batcher, **options: Any) -> AsyncIterator[AsrServer]:
    options.setdefault("port", 0)
    server = await AsrServer(batcher, ServerOptions(**options)).start()
    try:
        yield server
    finally:
        await server.drain(timeout=5)


def run(coro: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(TIMEOUT):
            await coro()

    asyncio.run(bounded())


async def vosk_client(
    ws: ClientConnection, pcm: bytes, chunk: int = 3200
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """vosk-server's sample client: send a chunk, read one reply; eof; read the final."""
    replies = []
    for start in range(0, len(pcm), chunk):
        await ws.send(pcm[start : start + chunk])
        replies.append(json.loads(await ws.recv()))
    await ws.send('{"eof" : 1}')
    last = json.loads(await ws.recv())
    return replies, last


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.read().decode(), r.headers["Content-Type"]
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers["Content-Type"]
