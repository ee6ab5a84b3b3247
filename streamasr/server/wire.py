"""Two answers websockets does not give on its own, added to its sans-I/O protocol:

- when it closes a session itself, for a message over the size limit (1009) or a text
  message that is not UTF-8 (1007), the client first gets the ``{"error": ..., "code": ...}``
  message every other refusal sends (docs/protocol.md), then the close;
- a request it cannot parse as HTTP (garbage, a body on a GET) gets ``400 Bad Request``
  instead of a silent hang-up.

It also calls ``on_lost`` once its TCP connection is gone, however the handshake or the
session ended: the server gives back the session slot it took on admitting the request.

``ServerConnection`` is what ``serve(create_connection=...)`` builds per TCP connection.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import ServerConnection as _WsConnection
from websockets.exceptions import InvalidMessage
from websockets.frames import CloseCode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.server import ServerProtocol

_EXPLAINED = (CloseCode.INVALID_DATA, CloseCode.MESSAGE_TOO_BIG)


class _Protocol(ServerProtocol):
    answered = False  # an HTTP response went out

    def fail(self, code: CloseCode | int, reason: str = "") -> None:
        if self.state is State.OPEN and code in _EXPLAINED:
            error = json.dumps({"error": reason, "code": int(code)}, ensure_ascii=False)
            self.send_text(error.encode())
        super().fail(code, reason)

    def send_response(self, response: Response) -> None:
        self.answered = True
        super().send_response(response)

    def send_eof(self) -> None:
        # websockets hangs up on a request it could not parse: say why first.
        if (
            self.state is State.CONNECTING
            and not self.answered
            and isinstance(self.handshake_exc, InvalidMessage)
        ):
            self.answered = True
            self.writes.append(self.reject(400, "bad HTTP request\n").serialize())
        super().send_eof()


class ServerConnection(_WsConnection):
    def __init__(self, protocol: ServerProtocol, *args: Any, **kwargs: Any) -> None:
        protocol.__class__ = _Protocol  # same state, the two answers above added
        super().__init__(protocol, *args, **kwargs)
        self.on_lost: Callable[[], None] | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            super().connection_lost(exc)
        finally:
            on_lost, self.on_lost = self.on_lost, None
            if on_lost is not None:
                on_lost()
