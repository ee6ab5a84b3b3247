"""The daemon's limits and its HTTP side over real loopback: connection capacity, health,
metrics and the page, auth and origins, timeouts, TLS."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

from streamasr.engine.batcher import Batcher
from tests.server.loopback import get, int16, run, running


def test_refused_with_503_beyond_max_connections(
    batcher: Batcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def go() -> None:
        async with running(batcher, max_connections=2) as server:
            ended = asyncio.Event()  # the server has let a session go (its slot is free)
            session_ended = server._session_ended

            def on_end(conn: Any) -> None:
                session_ended(conn)
                ended.set()

            monkeypatch.setattr(server, "_session_ended", on_end)
            url = f"ws://127.0.0.1:{server.port}"
            a = await connect(url)
            b = await connect(url)
            with pytest.raises(InvalidStatus) as refused:
                await connect(url)
            assert refused.value.response.status_code == 503
            await a.close()
            await ended.wait()
            c = await connect(url)  # a slot is free again
            await c.send(int16(np.zeros(1600, np.float32)))
            assert "partial" in json.loads(await c.recv())
            await b.close()
            await c.close()
            metrics = await asyncio.to_thread(get, f"http://127.0.0.1:{server.port}/metrics")
            assert 'streamasr_refusals_total{reason="capacity"} 1.0' in metrics[1]

    run(go)


def test_a_client_that_vanishes_gives_its_session_back(batcher: Batcher) -> None:
    """A client that completes the handshake and then drops its TCP connection without a
    close frame (a crashed program, a reset) does not keep its session: the one-session
    daemon admits the next client."""

    async def go() -> None:
        async with running(batcher, max_connections=1) as server:
            for _ in range(3):
                while True:  # until the last session's slot is back
                    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                    writer.write(
                        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                        b"Connection: Upgrade\r\n"
                        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        b"Sec-WebSocket-Version: 13\r\n\r\n"
                    )
                    status = await reader.readline()
                    if b" 101 " in status:
                        break  # admitted: it holds the one session
                    assert b" 503 " in status, status
                    writer.close()
                    await asyncio.sleep(0.05)
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()  # a reset, no close frame
                while True:  # the server notices the reset; then there is room again
                    try:
                        ws = await connect(f"ws://127.0.0.1:{server.port}")
                        break
                    except InvalidStatus as e:
                        assert e.response.status_code == 503
                        await asyncio.sleep(0.05)
                await ws.send(int16(np.zeros(1600, np.float32)))
                assert "partial" in json.loads(await ws.recv())
                await ws.close()

    run(go)


def test_healthz_metrics_and_page(batcher: Batcher) -> None:
    async def go() -> None:
        async with running(batcher) as server:
            base = f"http://127.0.0.1:{server.port}"
            async with connect(f"ws://127.0.0.1:{server.port}") as ws:
                await ws.send(int16(np.zeros(8000, np.float32)))  # 1 s at 8 kHz
                await ws.recv()
                status, body, _ = await asyncio.to_thread(get, base + "/metrics")
                assert "streamasr_streams 1.0" in body
            status, body, kind = await asyncio.to_thread(get, base + "/healthz")
            assert (status, body) == (200, "ok\n")
            status, body, kind = await asyncio.to_thread(get, base + "/metrics")
            assert status == 200 and kind.startswith("text/plain")
            for name in (
                "streamasr_streams 0.0",
                "streamasr_audio_seconds_total 1.0",
                "streamasr_step_seconds_count",
                "streamasr_partial_latency_seconds_count 1.0",
                "streamasr_refusals_total",
                "streamasr_overflow_samples_total 0.0",
            ):
                assert name in body, name
            status, body, kind = await asyncio.to_thread(get, base + "/")
            assert status == 200 and kind.startswith("text/html") and "app.js" in body
            status, body, kind = await asyncio.to_thread(get, base + "/worklet.js")
            assert status == 200 and "registerProcessor" in body
            with pytest.raises(InvalidStatus) as refused:
                await connect(f"ws://127.0.0.1:{server.port}/listen")  # no --mic
            assert refused.value.response.status_code == 404
            for path in ("/nope", "/../protocol.py", "/%2e%2e/app.py"):
                status, _, _ = await asyncio.to_thread(get, base + path)
                assert status == 404, path

    run(go)


def test_bearer_token_and_origins(batcher: Batcher) -> None:
    async def go() -> None:
        async with running(batcher, token="s3cret", origins=("https://ok.example",)) as server:
            url = f"ws://127.0.0.1:{server.port}"
            ok = {"Origin": "https://ok.example"}
            with pytest.raises(InvalidStatus) as refused:
                await connect(url, additional_headers=ok)
            assert refused.value.response.status_code == 401
            with pytest.raises(InvalidStatus) as refused:
                await connect(url, additional_headers={**ok, "Authorization": "Bearer nope"})
            assert refused.value.response.status_code == 401
            with pytest.raises(InvalidStatus) as refused:
                await connect(
                    url,
                    additional_headers={
                        "Origin": "https://evil.example",
                        "Authorization": "Bearer s3cret",
                    },
                )
            assert refused.value.response.status_code == 403
            async with connect(url, additional_headers={**ok, "Authorization": "Bearer s3cret"}):
                pass
            async with connect(url + "/?token=s3cret", additional_headers=ok):
                pass
            status, _, _ = await asyncio.to_thread(get, f"http://127.0.0.1:{server.port}/healthz")
            assert status == 200  # health checks need no token

    run(go)


def test_idle_timeout_and_session_limit_deliver_the_final(batcher: Batcher) -> None:
    async def go() -> None:
        async with (
            running(batcher, idle_timeout=0.5) as server,
            connect(f"ws://127.0.0.1:{server.port}") as ws,
        ):
            await ws.send(int16(np.zeros(1600, np.float32)))
            assert "partial" in json.loads(await ws.recv())
            assert "text" in json.loads(await ws.recv())  # the final, unasked
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1001, "idle timeout")
        async with (
            running(batcher, max_session_seconds=0.5) as server,
            connect(f"ws://127.0.0.1:{server.port}") as ws,
        ):
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await ws.send(int16(np.zeros(800, np.float32)))
                    await ws.recv()
                    await asyncio.sleep(0.05)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008

    run(go)


def test_tls(batcher: Batcher, tmp_path: Any) -> None:
    import ssl
    import subprocess

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))

    async def go() -> None:
        async with (
            running(batcher, ssl_context=server_ctx) as server,
            connect(f"wss://localhost:{server.port}", ssl=client_ctx) as ws,
        ):
            await ws.send('{"eof": 1}')
            assert json.loads(await ws.recv()) == {"text": ""}
        async with running(batcher, ssl_context=server_ctx) as server:
            with pytest.raises(InvalidMessage):  # plain ws:// to a TLS port gets nowhere
                async with connect(f"ws://localhost:{server.port}", open_timeout=5) as ws:
                    await ws.recv()

    run(go)
