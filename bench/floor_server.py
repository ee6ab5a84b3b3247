"""The daemon's websocket layer with no recognition at all: the floor under ``bin/bench load``.

It listens with the daemon's websockets settings (no compression, the same incoming queue and
message size limit) and answers the Vosk protocol's messages the way the daemon does in
count and order, without looking at the audio: an empty partial for every audio message,
an empty final for ``eof``, then the close. ``bin/bench load --floor`` drives it with the
same clients as the daemon, so its server CPU per stream-second is what sockets, frames and
asyncio cost before any features, model step or decoding, and its client share is what
the clients cost on the same cores.

``python bench/floor_server.py --port P [--workers N]`` prints ``listening on
ws://127.0.0.1:P`` once per worker (N processes on one port, SO_REUSEPORT, as ``serve
--workers``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import signal
import sys
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# The daemon's own settings, from the one module of it that imports nothing heavy.
from streamasr.server.defaults import DEFAULT_MAX_MESSAGE_BYTES, WEBSOCKET_MAX_QUEUE

PARTIAL = json.dumps({"partial": ""})
FINAL = json.dumps({"text": ""})


async def answer(ws: ServerConnection) -> None:
    try:
        async for message in ws:
            if isinstance(message, bytes):
                await ws.send(PARTIAL)
            elif '"eof"' in message:
                await ws.send(FINAL)
                await ws.close()
    except ConnectionClosed:
        pass


async def listen(port: int) -> None:
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with serve(
        answer,
        "127.0.0.1",
        port,
        compression=None,
        max_queue=WEBSOCKET_MAX_QUEUE,
        max_size=DEFAULT_MAX_MESSAGE_BYTES,
        reuse_port=True,
    ) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        print(f"listening on ws://127.0.0.1:{bound}", file=sys.stderr, flush=True)
        await stop


def worker(port: int) -> None:
    asyncio.run(listen(port))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=0, help="0: any free port (one worker only)")
    p.add_argument("--workers", type=int, default=1, help="processes on the port (%(default)s)")
    args = p.parse_args()
    if args.workers > 1 and args.port == 0:
        p.error("--workers needs a fixed --port")
    if args.workers == 1:
        worker(args.port)
        return
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=worker, args=(args.port,)) for _ in range(args.workers)]
    for child in children:
        child.start()

    def stop(*_: object) -> None:
        for child in children:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    for child in children:
        child.join()


if __name__ == "__main__":
    main()
