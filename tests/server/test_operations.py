"""The daemon as an operator and a careless client meet it: nothing owed is lost after eof or
in a drain, the port answers while draining, every refusal says why, closes add up."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from streamasr.engine.batcher import Batcher, StepStats
from streamasr.engine.recognizer import Recognizer
from streamasr.server.app import AsrServer
from streamasr.server.protocol import State
from tests.server.loopback import get, int16, run, running

CHUNK = int16(np.random.default_rng(0).normal(0, 0.05, 1600).astype(np.float32))  # 0.1 s


async def read_all(ws: Any) -> tuple[list[dict[str, Any]], int | None, str]:
    """Every message until the close, and the close code and reason."""
    messages = []
    try:
        while True:
            messages.append(json.loads(await ws.recv()))
    except ConnectionClosed as closed:
        rcvd = closed.rcvd
        return messages, rcvd.code if rcvd else None, rcvd.reason if rcvd else ""


def test_messages_after_eof_cost_nothing(batcher: Batcher) -> None:
    """Five chunks sent without waiting, eof, then a duplicate eof and a stray chunk: all
    five replies and the final still come, then a normal close (vosk-server stops reading at
    eof)."""

    async def go() -> None:
        async with running(batcher) as server, connect(f"ws://127.0.0.1:{server.port}") as ws:
            await ws.send('{"config": {"sample_rate": 16000}}')
            for _ in range(5):
                await ws.send(CHUNK)
            await ws.send('{"eof" : 1}')
            await ws.send('{"eof" : 1}')
            await ws.send(CHUNK)
            messages, code, _ = await read_all(ws)
        assert code == 1000
        assert len(messages) == 6 and not any("error" in m for m in messages), messages
        assert all("partial" in m or "text" in m for m in messages[:5])
        assert set(messages[-1]) <= {"text", "result"}

    run(go)


class Gate:
    """Holds the batcher's worker inside its next step until opened (its on_step hook runs
    in the worker thread, outside the batcher's lock)."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.entered = threading.Event()

    def __call__(self, stats: StepStats) -> None:
        self.entered.set()
        assert self.opened.wait(20), "the test never opened the gate"


async def until(condition: Any, what: str) -> None:
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.01)  # the server runs in this loop: give it turns


def test_drain_recognizes_what_was_received_and_says_so(recognizer: Recognizer) -> None:
    """A client's first chunk is in the recognizer (held there), two more wait unread in
    the server's buffer when the drain begins (a ping answered after them proves they
    arrived): all three are recognized before the final and the 1001 close. Meanwhile the
    port still answers: /healthz says draining with 503, a new session gets HTTP 503."""
    gate = Gate()

    async def go() -> None:
        with Batcher(recognizer, capacity=4, on_step=gate) as b:
            async with running(b, max_queue=1) as server:
                base = f"127.0.0.1:{server.port}"
                ws = await connect(f"ws://{base}")
                await ws.send('{"config": {"sample_rate": 16000}}')
                for _ in range(3):
                    await ws.send(CHUNK)
                await asyncio.to_thread(gate.entered.wait, 10)
                await (await ws.ping())  # the chunks before the ping were read by the server
                drain = asyncio.create_task(server.drain(timeout=15))
                await until(lambda: all_finishing(server), "the drain reached the session")
                status, body, _ = await asyncio.to_thread(get, f"http://{base}/healthz")
                assert (status, body) == (503, "draining\n")
                with pytest.raises(InvalidStatus) as refused:
                    await connect(f"ws://{base}")
                assert refused.value.response.status_code == 503
                gate.opened.set()
                messages, code, reason = await read_all(ws)
                await drain
        assert (code, reason) == (1001, "server shutting down")
        assert len(messages) == 4, messages  # one reply per chunk, then the final
        assert set(messages[-1]) <= {"text", "result"}

    run(go)


def all_finishing(server: AsrServer) -> bool:
    sessions = [c.session for c in server._connections]
    return bool(sessions) and all(s.state is not State.STREAMING for s in sessions)


def test_refusals_by_the_websocket_layer_say_why_first(batcher: Batcher) -> None:
    """Too big (1009) and not UTF-8 (1007) are refused by websockets itself; the client
    still gets the {"error": ...} message every other refusal sends, then the close."""

    async def go() -> None:
        async with running(batcher, max_message_bytes=65536) as server:
            url = f"ws://127.0.0.1:{server.port}"
            for message, text, code in ((b"\0" * 70_000, False, 1009), (b"\xff{", True, 1007)):
                async with connect(url) as ws:
                    await ws.send(message, text=text)
                    messages, closed_with, reason = await read_all(ws)
                assert closed_with == code
                assert messages == [{"error": reason, "code": code}]

    run(go)


def test_strange_http_requests_get_a_status_and_no_traceback(
    batcher: Batcher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # (websockets explains bad requests at DEBUG)

    async def raw(port: int, request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(10):
            answer = await reader.read()
        writer.close()
        return answer

    async def go() -> None:
        async with running(batcher) as server:
            base = f"http://127.0.0.1:{server.port}"
            status, _, _ = await asyncio.to_thread(get, base + "/" + "a" * 5000)
            assert status == 414
            status, _, _ = await asyncio.to_thread(get, base + "/" + "a" * 2000)
            assert status == 404  # too long a file name for the file system: not found
            post = b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
            assert (await raw(server.port, post)).startswith(b"HTTP/1.1 405 ")
            garbage = b"HELLO THERE\r\n\r\n"
            assert (await raw(server.port, garbage)).startswith(b"HTTP/1.1 400 ")

    run(go)
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_closes_are_counted_by_code_and_side(batcher: Batcher) -> None:
    async def go() -> None:
        async with running(batcher) as server:
            url = f"ws://127.0.0.1:{server.port}"
            async with connect(url) as ws:  # the server closes after eof: 1000, server
                await ws.send(CHUNK)
                await ws.recv()
                await ws.send('{"eof" : 1}')
                await read_all(ws)
            async with connect(url) as ws:  # the client closes: 1000, client
                await ws.send(CHUNK)
                await ws.recv()
            async with connect(url) as ws:  # bad input: 1007, server
                await ws.send("{not json")
                await read_all(ws)
            ws = await connect(url)  # the connection drops: 1006, client
            await ws.send(CHUNK)
            ws.transport.abort()
            await until(lambda: not server._connections, "every session ended")
            _, body, _ = await asyncio.to_thread(get, f"http://127.0.0.1:{server.port}/metrics")
        for code, side in (("1000", "server"), ("1000", "client"), ("1007", "server")):
            assert f'streamasr_closes_total{{code="{code}",side="{side}"}} 1.0' in body, body
        assert 'streamasr_closes_total{code="1006",side="client"} 1.0' in body
        assert "_created" not in body

    run(go)


def test_sessions_are_logged_with_what_an_operator_needs(
    batcher: Batcher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="streamasr")

    async def go() -> None:
        async with running(batcher) as server, connect(f"ws://127.0.0.1:{server.port}") as ws:
            await ws.send('{"config": {"sample_rate": 16000}}')
            for _ in range(10):
                await ws.send(CHUNK)
                await ws.recv()
            await ws.send('{"eof" : 1}')
            await ws.send('{"eof" : 1}')
            await read_all(ws)

    run(go)
    records = {r.getMessage(): r for r in caplog.records if r.name == "streamasr.server"}
    start, end = records["session start"], records["session end"]
    assert start.fields["peer"].startswith("127.0.0.1:")  # type: ignore[attr-defined]
    fields = end.fields  # type: ignore[attr-defined]
    assert fields["peer"] == start.fields["peer"]  # type: ignore[attr-defined]
    assert (fields["rate"], fields["audio_s"], fields["code"], fields["side"]) == (
        16000,
        1.0,
        1000,
        "server",
    )
    warning = records["ignored a text message after the end of input"]
    assert warning.levelno == logging.WARNING
