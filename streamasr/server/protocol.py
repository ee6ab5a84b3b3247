"""The session protocol, sans I/O: messages in -> actions and messages out.

Vosk-compatible by default (vosk-server's websocket protocol):

- text ``{"config": {"sample_rate": N, "words": bool, "max_alternatives": n, "phrase_list":
  [...]}}``, optional, no reply, values converted as vosk-server converts them (see
  ``config.py``); without it the rate is the server's default (8000, as Asterisk sends);
- binary messages of 16-bit little-endian mono PCM; exactly one reply to each:
  ``{"partial": "..."}`` or, when an endpoint closed an utterance,
  ``{"result": [{"conf", "end", "start", "word"}], "text": "..."}``;
- ``{"eof" : 1}``: the final result, then the connection closes; anything the client sends
  after it is ignored (with a logged warning), never at the cost of what it is owed;
- ``{"reset" : 1}``: the final result of the utterance so far; streaming goes on.

Control messages are parsed as JSON (vosk-server compares strings byte for byte).
Native extensions, opt-in with ``"native": true`` in the config: ``"sample_format":
"f32le"`` (float32 samples), ``segment``/``is_final``/``endpoint`` on every result, a
``stable`` prefix on partials, ``{"finalize": 1}``, and server events ``{"event": ...}``
(endpoint, overload, shutdown). See docs/protocol.md.

The class never touches a socket: the shell feeds it messages and engine replies and
carries out the actions it returns, in order.
"""

from __future__ import annotations

import enum
import json
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from streamasr.audio.resample import check_rate
from streamasr.decode.hypothesis import Hypothesis
from streamasr.engine.batcher import JobKind, Reply
from streamasr.server.config import (
    MAX_ALTERNATIVES,
    SAMPLE_FORMATS,
    ClientConfig,
    ConfigError,
    parse_config,
)
from streamasr.server.defaults import DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_SAMPLE_RATE
from streamasr.server.results import dumps as _dumps
from streamasr.server.results import final_message


class CloseCode(enum.IntEnum):
    """WebSocket close codes (RFC 6455 section 7.4.1) and what they mean here."""

    NORMAL = 1000  # end of input answered
    GOING_AWAY = 1001  # server shutting down, or the client went idle
    UNSUPPORTED = 1003  # a message of the wrong kind (text that is no control message, ...)
    INVALID_DATA = 1007  # malformed JSON, odd-length PCM, bad sample rate, empty audio ...
    POLICY = 1008  # a limit: session length
    TOO_BIG = 1009  # a message over the size limit
    INTERNAL = 1011  # the recognizer failed
    TRY_AGAIN = 1013  # no recognizer slot free


class State(enum.Enum):
    CONFIGURING = "configuring"  # no audio yet: config is still accepted
    STREAMING = "streaming"  # the engine stream is open
    FINISHING = "finishing"  # end of input sent to the engine; waiting for its final
    CLOSED = "closed"  # a Close action was issued; nothing more happens


# ---- actions the shell carries out, in order ------------------------------------------
@dataclass(frozen=True)
class Send:
    text: str  # one text message to the client


@dataclass(frozen=True)
class Open:
    sample_rate: int  # open the engine stream at this rate (before the first Audio)
    phrase_list: tuple[str, ...] = ()  # phrases (or words) for the session's decoder
    restrict: bool = False  # recognize only the phrase list; else it is boosted


@dataclass(frozen=True)
class Audio:
    samples: npt.NDArray[np.float32]  # float32 samples at the stream's rate


@dataclass(frozen=True)
class Finalize:
    pass  # close the current utterance now


@dataclass(frozen=True)
class Finish:
    pass  # end of input


@dataclass(frozen=True)
class Close:
    code: int
    reason: str  # short (the RFC allows 123 bytes), no internals


@dataclass(frozen=True)
class Log:
    level: int  # a logging level: the shell logs this for the operator (never sent)
    message: str


Action = Send | Open | Audio | Finalize | Finish | Close | Log


class ProtocolError(ValueError):
    """Input that ends the session; carries the close code."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class SessionOptions:
    default_sample_rate: int = DEFAULT_SAMPLE_RATE  # rate when no config arrives
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES  # larger audio messages are refused
    overload_lag: float = 1.0  # seconds behind real time before a native client hears "overload"

    def __post_init__(self) -> None:
        check_rate(self.default_sample_rate)
        if self.max_message_bytes < 4:
            raise ValueError(f"max_message_bytes must be at least 4, got {self.max_message_bytes}")
        if not self.overload_lag > 0:
            raise ValueError(f"overload_lag must be positive, got {self.overload_lag}")


class Session:
    """One client's conversation. Feed it ``receive_text``/``receive_bytes``/``on_reply``
    (and ``end`` for server-side reasons); carry out the returned actions in order."""

    def __init__(self, options: SessionOptions | None = None) -> None:
        self.options = options or SessionOptions()
        self.config = ClientConfig(self.options.default_sample_rate)
        self.state = State.CONFIGURING
        self.pending = 0  # jobs sent to the engine and not yet answered
        self.samples_in = 0  # samples received (at the client's rate)
        self.samples_recognized = 0  # samples whose reply came back
        self.ignored = 0  # messages that arrived after eof
        self._end: tuple[int, str] | None = None  # close code/reason once the final is out
        self._overloaded = False

    # ---- input from the client --------------------------------------------------------
    def receive_text(self, text: str) -> list[Action]:
        if self.state is State.CLOSED:
            return []  # the close is under way; nothing more is said
        try:
            return self._text(text)
        except ProtocolError as e:
            return self._fail(e)

    def receive_bytes(self, data: bytes) -> list[Action]:
        if self.state is State.CLOSED:
            return []
        try:
            return self._bytes(data)
        except ProtocolError as e:
            return self._fail(e)

    def _text(self, text: str) -> list[Action]:
        if self.state is State.FINISHING:
            return self._after_eof("text")
        try:
            message = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as e:
            raise ProtocolError(CloseCode.INVALID_DATA, f"malformed JSON: {e}"[:120]) from e
        if not isinstance(message, dict) or len(message) != 1:
            raise ProtocolError(
                CloseCode.UNSUPPORTED,
                "text messages must be one control object: config, eof, reset or finalize; "
                "audio goes in binary messages",
            )
        ((key, value),) = message.items()
        if key == "config":
            return self._configure(value)
        if key in ("eof", "reset", "finalize"):
            if value not in (1, True):
                raise ProtocolError(
                    CloseCode.INVALID_DATA, f'"{key}" must be 1, got {value!r}'[:120]
                )
            if key == "finalize" and not self.config.native:
                raise ProtocolError(CloseCode.UNSUPPORTED, '"finalize" needs "native": true')
            return self._eof() if key == "eof" else self._finalize()
        raise ProtocolError(CloseCode.UNSUPPORTED, f"unknown control message {key!r}"[:120])

    def _configure(self, value: Any) -> list[Action]:
        if self.state is not State.CONFIGURING:
            raise ProtocolError(CloseCode.UNSUPPORTED, "config must come before the first audio")
        try:
            self.config = parse_config(value, self.config)
        except ConfigError as e:
            raise ProtocolError(CloseCode.INVALID_DATA, str(e)[:120]) from e
        return []

    def _after_eof(self, kind: str) -> list[Action]:
        """vosk-server reads nothing after eof; here the message is dropped, and the finals
        owed for the audio before eof still come, then the normal close."""
        self.ignored += 1
        if self.ignored > 1:
            return []  # one warning per session is enough
        return [Log(logging.WARNING, f"ignored a {kind} message after the end of input")]

    def _bytes(self, data: bytes) -> list[Action]:
        if self.state is State.FINISHING:
            return self._after_eof("binary")
        width = SAMPLE_FORMATS[self.config.sample_format]
        if len(data) > self.options.max_message_bytes:
            raise ProtocolError(
                CloseCode.TOO_BIG,
                f"audio message of {len(data)} bytes exceeds {self.options.max_message_bytes}",
            )
        if not data:
            raise ProtocolError(CloseCode.INVALID_DATA, "empty audio message")
        if len(data) % width:
            raise ProtocolError(
                CloseCode.INVALID_DATA,
                f"audio message of {len(data)} bytes is not whole {self.config.sample_format} "
                f"samples: {len(data) % width} trailing byte(s) would be lost",
            )
        if self.config.sample_format == "s16le":
            samples = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
        else:
            samples = np.frombuffer(data, "<f4").astype(np.float32)
            if not np.all(np.isfinite(samples)):
                raise ProtocolError(CloseCode.INVALID_DATA, "float samples must be finite")
        actions: list[Action] = []
        if self.state is State.CONFIGURING:
            self.state = State.STREAMING
            actions.append(
                Open(self.config.sample_rate, self.config.phrase_list, self.config.restrict)
            )
        self.pending += 1
        self.samples_in += samples.size
        actions.append(Audio(samples))
        return actions

    def _eof(self) -> list[Action]:
        if self.state is State.CONFIGURING:
            # No audio at all: the final is empty, no engine stream is needed.
            self.state = State.CLOSED
            return [Send(self._final_message([self._empty_final()])), Close(CloseCode.NORMAL, "")]
        self.state = State.FINISHING
        self.pending += 1
        return [Finish()]

    def _finalize(self) -> list[Action]:
        if self.state is State.CONFIGURING:
            return [Send(self._final_message([self._empty_final()]))]
        self.pending += 1
        return [Finalize()]

    # ---- server-side events -------------------------------------------------------------
    def end(self, code: int, reason: str) -> list[Action]:
        """End the session for a server-side reason (drain, idle, session length): the
        client still gets the final of everything it sent, then the close."""
        if self.state is State.CLOSED:
            return []
        notice: list[Action] = []
        if self.config.native:
            notice.append(Send(_dumps({"event": "closing", "code": int(code), "reason": reason})))
        if self.state is State.CONFIGURING:
            self.state = State.CLOSED
            return [*notice, Close(code, reason)]
        if self._end is None:
            self._end = (code, reason)
        if self.state is State.STREAMING:
            self.state = State.FINISHING
            self.pending += 1
            return [*notice, Finish()]
        return notice  # already finishing: the close follows the final

    def error(self, code: int, reason: str) -> list[Action]:
        """End the session at once for a server-side failure (e.g. no free slot)."""
        if self.state is State.CLOSED:
            return []
        return self._fail(ProtocolError(CloseCode(code), reason))

    def on_reply(self, reply: Reply, now: float | None = None) -> list[Action]:
        """An engine reply for this session's stream (in ticket order)."""
        if self.state is State.CLOSED:
            return []
        self.pending -= 1
        if reply.error is not None:
            # The client hears only that the recognizer failed; the operator hears why.
            failed = self._fail(ProtocolError(CloseCode.INTERNAL, "recognizer failure"))
            return [Log(logging.ERROR, reply.error), *failed]
        self.samples_recognized += reply.samples
        actions: list[Action] = []
        if self.config.native and now is not None:
            lag = now - reply.submitted
            if lag > self.options.overload_lag and not self._overloaded:
                actions.append(Send(_dumps({"event": "overload", "lag": round(lag, 3)})))
            self._overloaded = lag > self.options.overload_lag
        if reply.kind is JobKind.AUDIO:
            assert reply.partial is not None  # the engine's contract for audio replies
            actions.extend(self._audio_reply(reply.finals, reply.partial))
        elif reply.kind is JobKind.FINALIZE:
            actions.extend(self._finals_reply(reply.finals))
        else:  # FINISH: the last reply of the stream
            actions.extend(self._finals_reply(reply.finals))
            code, reason = self._end or (CloseCode.NORMAL, "")
            self.state = State.CLOSED
            actions.append(Close(code, reason))
        return actions

    def _audio_reply(self, finals: tuple[Hypothesis, ...], partial: Hypothesis) -> list[Action]:
        if not self.config.native:
            # Exactly one reply per audio message: a result if an utterance ended (several
            # in one long message are merged), else the partial.
            if finals:
                return [Send(self._final_message(list(finals)))]
            return [Send(_dumps({"partial": partial.text}))]
        # Native: every final on its own (with its endpoint event), then the partial.
        partial_message = {
            "partial": partial.text,
            "stable": partial.stable,
            "segment": partial.segment,
            "is_final": False,
        }
        return [*self._native_finals(finals), Send(_dumps(partial_message))]

    def _finals_reply(self, finals: tuple[Hypothesis, ...]) -> list[Action]:
        if not self.config.native:
            return [Send(self._final_message(list(finals)))]
        return self._native_finals(finals)

    def _native_finals(self, finals: tuple[Hypothesis, ...]) -> list[Action]:
        actions: list[Action] = []
        for final in finals:
            if final.endpoint:
                actions.append(Send(_dumps({"event": "endpoint", "segment": final.segment})))
            actions.append(Send(self._final_message([final])))
        return actions

    def _final_message(self, finals: list[Hypothesis]) -> str:
        return final_message(finals, self.config)

    def _empty_final(self) -> Hypothesis:
        return Hypothesis(text="", is_final=True)

    def _fail(self, error: ProtocolError) -> list[Action]:
        self.state = State.CLOSED
        return [
            Send(_dumps({"error": error.reason, "code": int(error.code)})),
            Close(error.code, _truncate(error.reason)),
        ]


def _truncate(reason: str, limit: int = 123) -> str:
    """Close reasons are at most 123 bytes of UTF-8."""
    data = reason.encode()
    if len(data) <= limit:
        return reason
    return data[: limit - 3].decode(errors="ignore") + "..."


__all__ = [
    "DEFAULT_SAMPLE_RATE",
    "MAX_ALTERNATIVES",
    "Action",
    "Audio",
    "ClientConfig",
    "Close",
    "CloseCode",
    "Finalize",
    "Finish",
    "Log",
    "Open",
    "ProtocolError",
    "Send",
    "Session",
    "SessionOptions",
    "State",
]
