"""One recognition session's data movement, between a websocket and the batcher.

A reader task feeds client messages to the ``protocol.Session`` (at most ``max_queue`` jobs
in flight: beyond that it stops reading, so TCP pushes back and no audio is dropped) and a
writer task feeds it engine replies and server-side ends (drain, idle, session length),
carrying out the actions it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from streamasr.engine.batcher import CapacityError, Reply, StreamClosedError, StreamHandle
from streamasr.server.protocol import (
    Action,
    Audio,
    Close,
    CloseCode,
    Finalize,
    Finish,
    Log,
    Open,
    Send,
    Session,
    SessionOptions,
)

if TYPE_CHECKING:
    from streamasr.server.app import AsrServer

ABNORMAL_CLOSURE = 1006  # no close frame: the connection dropped


@dataclass(frozen=True)
class _End:
    code: int
    reason: str


class _Gone:
    """The connection is closed: the writer stops."""


class Connection:
    """One recognition session's data movement."""

    def __init__(self, server: AsrServer, ws: ServerConnection) -> None:
        self.server = server
        self.ws = ws
        self.peer = _peer(ws)
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
        self.owed_close: Close | None = None  # a Close the session asked for, until done
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
            actions = self._receive(message)
            if not any(isinstance(a, Audio | Finalize | Finish) for a in actions):
                self.credit.release()  # no job: its reply will not release the credit
            await self._execute(actions)

    def _receive(self, message: str | bytes) -> list[Action]:
        if isinstance(message, str):
            return self.session.receive_text(message)
        return self.session.receive_bytes(message)

    async def _take_received(self) -> None:
        """Stop reading, but first hand the session every message already received (in
        websockets' buffer): a server-side end must not lose audio the client sent before
        it. Only what is there without waiting is taken."""
        if self.reader is not None:
            self.reader.cancel()  # websockets: a cancelled recv() loses no message
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        if self.owed_close is not None and not self.closed:
            # The reader was stopped while closing the session (bad input): finish that.
            await self._close(self.owed_close.code, self.owed_close.reason)
        while not self.closed:
            try:
                async with asyncio.timeout(0):
                    message = await self.ws.recv()
            except (TimeoutError, ConnectionClosed):
                return
            await self._execute(self._receive(message))

    async def _write(self) -> None:
        while not self.closed:
            item = await self.queue.get()
            if isinstance(item, _Gone):
                return
            if isinstance(item, _End):
                # What the client sends from now on is not read; the close reason says why.
                await self._take_received()
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
        self.owed_close = next((a for a in actions if isinstance(a, Close)), self.owed_close)
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
                elif isinstance(action, Log):
                    self.server.log_peer(self.peer, action.level, action.message)
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
        await self.ws.close(code, reason)
        self.queue.put_nowait(_Gone())


def _peer(ws: ServerConnection) -> str:
    address = ws.remote_address
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


def how_closed(ws: ServerConnection) -> tuple[int, str, str]:
    """(code, reason, side) of a closed connection: the side that sent the first close
    frame, or "client" with 1006 when the connection dropped without one."""
    protocol = ws.protocol
    sent, rcvd = protocol.close_sent, protocol.close_rcvd
    if sent is not None and not protocol.close_rcvd_then_sent:
        return int(sent.code), sent.reason, "server"
    if rcvd is not None:
        return int(rcvd.code), rcvd.reason, "client"
    return ABNORMAL_CLOSURE, "", "client"
