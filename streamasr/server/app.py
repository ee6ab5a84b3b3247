"""The websockets asyncio shell: routes, limits, auth, drain. It only moves data.

Every protocol decision is made by ``protocol.Session``; every computation by the
``Batcher``'s worker thread. Per connection, a reader task feeds client messages to the
session (at most ``max_queue`` jobs in flight: beyond that it stops reading, so TCP
pushes back and no audio is dropped) and a writer task feeds it engine replies and
server-side ends (drain, idle, session length), carrying out the actions it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import http
import mimetypes
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from streamasr.engine.batcher import Batcher, CapacityError, Reply, StreamClosedError, StreamHandle
from streamasr.server import defaults
from streamasr.server.metrics import Metrics
from streamasr.server.protocol import (
    Action,
    Audio,
    Close,
    CloseCode,
    Finalize,
    Finish,
    Open,
    Send,
    Session,
    SessionOptions,
)

STATIC_DIR = Path(__file__).resolve().parent / "static"
LISTEN_PATH = "/listen"  # microphone broadcast (serve --mic)


@dataclass(frozen=True)
class ServerOptions:
    host: str = defaults.DEFAULT_HOST  # loopback unless asked: no auth by default
    port: int = defaults.DEFAULT_PORT  # 0 picks a free one
    default_sample_rate: int = defaults.DEFAULT_SAMPLE_RATE  # when a client sends no config
    max_connections: int = defaults.DEFAULT_MAX_CONNECTIONS  # more are refused with HTTP 503
    max_listeners: int = defaults.DEFAULT_MAX_LISTENERS  # clients of the microphone broadcast
    max_message_bytes: int = defaults.DEFAULT_MAX_MESSAGE_BYTES  # larger ones close with 1009
    max_queue: int = defaults.DEFAULT_MAX_QUEUE  # audio messages in flight before reading pauses
    idle_timeout: float = defaults.DEFAULT_IDLE_TIMEOUT  # seconds without a message (1001)
    max_session_seconds: float = defaults.DEFAULT_MAX_SESSION_SECONDS  # session limit (1008)
    drain_timeout: float = defaults.DEFAULT_DRAIN_TIMEOUT  # SIGTERM waits this for finals
    token: str | None = None  # bearer token required on websocket handshakes
    origins: tuple[str, ...] | None = None  # allowed Origin headers (None: any)
    ssl_context: ssl.SSLContext | None = None  # TLS (wss://, https://)
    static_dir: Path = STATIC_DIR  # the browser page
    reuse_port: bool = False  # SO_REUSEPORT: several worker processes share the port

    def __post_init__(self) -> None:
        for name in ("max_connections", "max_listeners", "max_queue"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("idle_timeout", "max_session_seconds", "drain_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive seconds, got {getattr(self, name)}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in [0, 65535], got {self.port}")
        if self.max_message_bytes < 4:
            raise ValueError(f"max_message_bytes must be at least 4, got {self.max_message_bytes}")
        if self.token is not None and not self.token:
            raise ValueError("token must not be empty")


@dataclass(frozen=True)
class _End:
    code: int
    reason: str


class _Gone:
    """The connection is closed: the writer stops."""


class _Connection:
    """One recognition session's data movement."""

    def __init__(self, server: AsrServer, ws: ServerConnection) -> None:
        self.server = server
        self.ws = ws
        self.loop = asyncio.get_running_loop()
        self.session = Session(
            SessionOptions(
                default_sample_rate=server.options.default_sample_rate,
                max_message_bytes=server.options.max_message_bytes,
            )
        )
        self.queue: asyncio.Queue[Reply | _End | _Gone] = asyncio.Queue()
        self.credit = asyncio.Semaphore(server.options.max_queue)
        self.handle: StreamHandle | None = None
        self.closed = False
        self.reader: asyncio.Task[None] | None = None

    def end(self, code: int, reason: str) -> None:
        """A server-side end (drain, idle, session length): finals first, then the close."""
        self.queue.put_nowait(_End(code, reason))

    def _on_reply(self, reply: Reply) -> None:  # the worker thread
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening
            self.loop.call_soon_threadsafe(self.queue.put_nowait, reply)

    async def run(self) -> None:
        limit = self.loop.call_later(
            self.server.options.max_session_seconds,
            self.end,
            CloseCode.POLICY,
            "session length limit",
        )
        self.reader = asyncio.create_task(self._read())
        try:
            await self._write()
        finally:
            limit.cancel()
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
            if self.handle is not None:
                self.handle.close()

    async def _read(self) -> None:
        idle = self.server.options.idle_timeout
        while not self.closed:
            await self.credit.acquire()
            try:
                async with asyncio.timeout(idle):
                    message = await self.ws.recv()
            except TimeoutError:
                self.end(CloseCode.GOING_AWAY, "idle timeout")
                return
            except ConnectionClosed:
                self.queue.put_nowait(_Gone())
                return
            if isinstance(message, str):
                actions = self.session.receive_text(message)
            else:
                actions = self.session.receive_bytes(message)
            if not any(isinstance(a, Audio | Finalize | Finish) for a in actions):
                self.credit.release()  # no job: its reply will not release the credit
            await self._execute(actions)

    async def _write(self) -> None:
        while not self.closed:
            item = await self.queue.get()
            if isinstance(item, _Gone):
                return
            if isinstance(item, _End):
                # Stop reading: what the client sends from now on is not received, and the
                # close reason says why.
                if self.reader is not None:
                    self.reader.cancel()
                actions = self.session.end(item.code, item.reason)
            else:
                self.credit.release()
                actions = self.session.on_reply(item, time.monotonic())
                if item.error is None:
                    self.server.metrics.audio_seconds.inc(
                        item.samples / self.session.config.sample_rate
                    )
                    if item.samples:
                        self.server.metrics.partial_latency.observe(
                            time.monotonic() - item.submitted
                        )
            await self._execute(actions)

    async def _execute(self, actions: list[Action]) -> None:
        for action in actions:
            if self.closed:
                return
            try:
                if isinstance(action, Send):
                    await self.ws.send(action.text)
                elif isinstance(action, Open):
                    await self._open(action)
                elif isinstance(action, Audio):
                    assert self.handle is not None  # the session opens before any audio
                    self.handle.push(action.samples)
                elif isinstance(action, Finalize):
                    assert self.handle is not None
                    self.handle.finalize()
                elif isinstance(action, Finish):
                    assert self.handle is not None
                    self.handle.finish()
                elif isinstance(action, Close):
                    await self._close(action.code, action.reason)
            except ConnectionClosed:
                self.closed = True
                self.queue.put_nowait(_Gone())
            except StreamClosedError:
                return  # the stream was refused at Open: the close is under way

    async def _open(self, action: Open) -> None:
        batcher = self.server.batcher
        try:
            decoder = None
            if action.phrase_list:  # its lexicon takes tens of ms to build: off the loop
                decoder = await asyncio.to_thread(
                    batcher.make_decoder, action.phrase_list, action.restrict
                )
            self.handle = batcher.open(action.sample_rate, self._on_reply, decoder=decoder)
        except ValueError as e:  # a phrase list the decoder cannot use
            await self._execute(self.session.error(CloseCode.INVALID_DATA, str(e)[:120]))
            raise StreamClosedError("refused") from None
        except CapacityError:
            self.server.metrics.refusals.labels("capacity").inc()
            await self._execute(self.session.error(CloseCode.TRY_AGAIN, "server is full"))
            raise StreamClosedError("refused") from None

    async def _close(self, code: int, reason: str) -> None:
        self.closed = True
        self.server.metrics.closes.labels(str(code)).inc()
        await self.ws.close(code, reason)
        self.queue.put_nowait(_Gone())


class AsrServer:
    """The daemon's network side. ``async with AsrServer(...) as s`` serves until exit."""

    def __init__(
        self, batcher: Batcher, options: ServerOptions, metrics: Metrics | None = None
    ) -> None:
        self.batcher = batcher
        self.options = options
        self.metrics = metrics or Metrics()
        self._connections: set[_Connection] = set()
        self._listeners: set[ServerConnection] = set()
        self._server: Server | None = None
        self.draining = False
        self.listen_enabled = False  # serve --mic turns the broadcast path on
        self.on_listener: Callable[[ServerConnection], Awaitable[None]] | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        sock = next(iter(self._server.sockets))
        return int(sock.getsockname()[1])

    async def start(self) -> AsrServer:
        origins: Sequence[str | None] | None = None
        if self.options.origins is not None:
            origins = list(self.options.origins)
        self._server = await serve(
            self._handler,
            self.options.host,
            self.options.port,
            process_request=self._process_request,
            origins=origins,  # type: ignore[arg-type]
            max_size=self.options.max_message_bytes,
            max_queue=4,
            ssl=self.options.ssl_context,
            server_header="streamasr",
            # PCM barely compresses and permessage-deflate cost ~8% of the daemon's CPU under
            # load (py-spy, bench/load.py at 150 streams): off, so it is never negotiated.
            compression=None,
            reuse_port=self.options.reuse_port,
        )
        return self

    async def __aenter__(self) -> AsrServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.drain()

    async def drain(self, timeout: float | None = None) -> None:
        """Stop accepting; every live session gets the final of what it sent, then a 1001
        close; after ``timeout`` the rest are closed anyway."""
        if self._server is None:
            return
        self.draining = True
        self._server.close(close_connections=False)
        for conn in list(self._connections):
            conn.end(CloseCode.GOING_AWAY, "server shutting down")
        for ws in list(self._listeners):
            with contextlib.suppress(ConnectionClosed):
                await ws.close(CloseCode.GOING_AWAY, "server shutting down")
        try:
            async with asyncio.timeout(timeout or self.options.drain_timeout):
                await self._server.wait_closed()
        except TimeoutError:
            self._server.close(close_connections=True)
            await self._server.wait_closed()
        self._server = None

    def broadcast(self, message: str) -> None:
        """Send a text message to every client of the microphone broadcast."""
        broadcast(self._listeners, message)

    # ---- HTTP ------------------------------------------------------------------------
    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if not upgrade:
            if url.path == "/healthz":
                return _response(200, b"ok\n", "text/plain; charset=utf-8")
            if url.path == "/metrics":
                from prometheus_client import CONTENT_TYPE_LATEST

                return _response(200, self.metrics.render(), CONTENT_TYPE_LATEST)
            return self._static(url.path)
        if self.draining:
            self.metrics.refusals.labels("draining").inc()
            return _response(503, b"server is shutting down\n", "text/plain; charset=utf-8")
        if self.options.token is not None and not self._authorized(request, url.query):
            self.metrics.refusals.labels("auth").inc()
            response = _response(401, b"missing or wrong bearer token\n", "text/plain")
            response.headers["WWW-Authenticate"] = 'Bearer realm="streamasr"'
            return response
        if url.path == LISTEN_PATH:
            if not self.listen_enabled:
                return _response(404, b"no microphone broadcast (serve --mic)\n", "text/plain")
            if len(self._listeners) >= self.options.max_listeners:
                self.metrics.refusals.labels("capacity").inc()
                return _response(503, b"too many listeners\n", "text/plain; charset=utf-8")
            return None
        if len(self._connections) >= self.options.max_connections or not self.batcher.free_slots:
            self.metrics.refusals.labels("capacity").inc()
            return _response(503, b"server is full, try again later\n", "text/plain")
        return None

    def _authorized(self, request: Request, query: str) -> bool:
        assert self.options.token is not None
        want = self.options.token.encode()
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), want):
            return True
        # Browsers cannot set headers on a WebSocket: ?token=... is accepted too.
        given = parse_qs(query).get("token", [""])[0]
        return bool(given) and hmac.compare_digest(given.encode(), want)

    def _static(self, path: str) -> Response:
        name = "index.html" if path in ("/", "") else path.lstrip("/")
        root = self.options.static_dir.resolve()
        target = (root / name).resolve()
        if root not in target.parents or not target.is_file():
            return _response(404, b"not found\n", "text/plain; charset=utf-8")
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        return _response(200, target.read_bytes(), kind)

    # ---- websockets ------------------------------------------------------------------
    async def _handler(self, ws: ServerConnection) -> None:
        if urlsplit(ws.request.path if ws.request else "/").path == LISTEN_PATH:
            await self._listen(ws)
            return
        conn = _Connection(self, ws)
        self._connections.add(conn)
        self.metrics.streams.inc()
        self.metrics.sessions.inc()
        try:
            if self.draining:  # admitted just before the drain began
                conn.end(CloseCode.GOING_AWAY, "server shutting down")
            await conn.run()
        finally:
            self._connections.discard(conn)
            self.metrics.streams.dec()

    async def _listen(self, ws: ServerConnection) -> None:
        self._listeners.add(ws)
        self.metrics.listeners.inc()
        try:
            if self.on_listener is not None:
                await self.on_listener(ws)
            await ws.wait_closed()
        finally:
            self._listeners.discard(ws)
            self.metrics.listeners.dec()


def _response(status: int, body: bytes, content_type: str) -> Response:
    phrase = http.HTTPStatus(status).phrase
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
            ("Cache-Control", "no-store"),
        ]
    )
    return Response(status, phrase, headers, body)
