"""The websockets asyncio shell: routes, limits, auth, drain. It only moves data.

Every protocol decision is made by ``protocol.Session``; every computation by the
``Batcher``'s worker thread; each session's messages move in ``connection.Connection``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import cast
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from streamasr.engine.batcher import Batcher
from streamasr.server import defaults
from streamasr.server.connection import Connection, how_closed
from streamasr.server.logs import LOGGER, PeerLimiter, log_for_peer
from streamasr.server.metrics import Metrics
from streamasr.server.protocol import CloseCode
from streamasr.server.routes import refuse_request, response, static_file, text
from streamasr.server.slots import SessionSlots
from streamasr.server.wire import ServerConnection as _ExplainingConnection

log = logging.getLogger(f"{LOGGER}.server")

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


class AsrServer:
    """The daemon's network side. ``async with AsrServer(...) as s`` serves until exit."""

    def __init__(
        self,
        batcher: Batcher,
        options: ServerOptions,
        metrics: Metrics | None = None,
        session_count: Synchronized[int] | None = None,
    ) -> None:
        """``session_count``: the session count that all of ``serve --workers``'s processes
        share, so that ``options.max_connections`` limits the daemon, not each worker."""
        self.batcher = batcher
        self.options = options
        self.metrics = metrics or Metrics()
        self.slots = SessionSlots(options.max_connections, session_count)
        self._connections: set[Connection] = set()
        self._no_sessions = asyncio.Event()
        self._no_sessions.set()
        self._listeners: set[ServerConnection] = set()
        self._server: Server | None = None
        self._limiter = PeerLimiter()
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
            max_queue=defaults.WEBSOCKET_MAX_QUEUE,
            ssl=self.options.ssl_context,
            server_header="streamasr",
            # PCM barely compresses and permessage-deflate cost ~8% of the daemon's CPU under
            # load (py-spy, bench/load.py at 150 streams): off, so it is never negotiated.
            compression=None,
            reuse_port=self.options.reuse_port,
            create_connection=_ExplainingConnection,
        )
        return self

    async def __aenter__(self) -> AsrServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.drain()

    async def drain(self, timeout: float | None = None) -> None:
        """Every live session gets the final of what it sent, then a 1001 close; after
        ``timeout`` the rest are closed anyway. Meanwhile the port stays open, so that new
        sessions hear 503 and ``/healthz`` says ``draining`` (a load balancer stops sending)
        instead of finding nobody there."""
        if self._server is None:
            return
        self.draining = True
        for conn in list(self._connections):
            conn.end(CloseCode.GOING_AWAY, "server shutting down")
        for ws in list(self._listeners):
            with contextlib.suppress(ConnectionClosed):
                await ws.close(CloseCode.GOING_AWAY, "server shutting down")
        try:
            async with asyncio.timeout(timeout or self.options.drain_timeout):
                await self._no_sessions.wait()
        except TimeoutError:
            log.warning(
                "drain timeout: closing the sessions left",
                extra={"fields": {"sessions": len(self._connections)}},
            )
        self._server.close(close_connections=True)
        await self._server.wait_closed()
        self._server = None

    def broadcast(self, message: str) -> None:
        """Send a text message to every client of the microphone broadcast."""
        broadcast(self._listeners, message)

    def log_peer(self, peer: str, level: int, message: str, **fields: object) -> None:
        """A warning or error about one client, rate-limited per client address."""
        log_for_peer(log, self._limiter, peer, level, message, fields)

    # ---- HTTP ------------------------------------------------------------------------
    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        refused = refuse_request(request)
        if refused is not None:
            return refused
        url = urlsplit(request.path)
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if not upgrade:
            if url.path == "/healthz":
                return text(503, "draining\n") if self.draining else text(200, "ok\n")
            if url.path == "/metrics":
                from prometheus_client import CONTENT_TYPE_LATEST

                return response(200, self.metrics.render(), CONTENT_TYPE_LATEST)
            return static_file(self.options.static_dir, url.path)
        if self.draining:
            self.metrics.refusals.labels("draining").inc()
            return text(503, "server is shutting down, try again later\n")
        if self.options.token is not None and not self._authorized(request, url.query):
            self.metrics.refusals.labels("auth").inc()
            refused = text(401, "missing or wrong bearer token\n")
            refused.headers["WWW-Authenticate"] = 'Bearer realm="streamasr"'
            return refused
        if url.path == LISTEN_PATH:
            if not self.listen_enabled:
                return text(404, "no microphone broadcast (serve --mic)\n")
            if len(self._listeners) >= self.options.max_listeners:
                self.metrics.refusals.labels("capacity").inc()
                return text(503, "too many listeners\n")
            return None
        if not self.batcher.free_slots or not self.slots.take():
            self.metrics.refusals.labels("capacity").inc()
            return text(503, "server is full, try again later\n")
        # start() builds every connection as a wire.ServerConnection: it gives the slot back
        # when the TCP connection is gone, however the handshake or the session ends.
        cast(_ExplainingConnection, conn).on_lost = self.slots.give_back
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

    # ---- websockets ------------------------------------------------------------------
    async def _handler(self, ws: ServerConnection) -> None:
        if urlsplit(ws.request.path if ws.request else "/").path == LISTEN_PATH:
            await self._listen(ws)
            return
        conn = Connection(self, ws)
        self._connections.add(conn)
        self._no_sessions.clear()
        self.metrics.streams.inc()
        self.metrics.sessions.inc()
        log.info("session start", extra={"fields": {"peer": conn.peer}})
        try:
            if self.draining:  # admitted just before the drain began
                conn.end(CloseCode.GOING_AWAY, "server shutting down")
            await conn.run()
            await ws.close()  # already closed or closing: waits for the end of it
        finally:
            self._connections.discard(conn)
            if not self._connections:
                self._no_sessions.set()
            self.metrics.streams.dec()
            self._session_ended(conn)

    def _session_ended(self, conn: Connection) -> None:
        code, reason, side = how_closed(conn.ws)
        self.metrics.closes.labels(str(code), side).inc()
        session = conn.session
        rate = session.config.sample_rate
        fields = {
            "peer": conn.peer,
            "rate": rate,
            "audio_s": round(session.samples_in / rate, 2),
            "code": code,
            "reason": reason,
            "side": side,
        }
        if session.ignored:
            fields["ignored_after_eof"] = session.ignored
        log.info("session end", extra={"fields": fields})

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
