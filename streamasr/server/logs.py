"""The daemon's logging: stdlib ``logging``, one line per record, as text or as JSON.

``configure(level, fmt)`` sets up the root logger once, from ``serve --log-level`` and
``--log-format``. A record's structured fields travel in ``extra={"fields": {...}}``: text
lines end with ``key=value`` pairs, JSON lines carry them as keys, so log shippers need no
parsing. ``PeerLimiter`` keeps one client from flooding the log: past ``limit`` warnings in
``window`` seconds its lines are counted, not written, and the count is reported with the
next line that gets through.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from streamasr.server.defaults import DEFAULT_LOG_FORMAT, DEFAULT_LOG_LEVEL

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
LOGGER = "streamasr"


def configure(
    level: str = DEFAULT_LOG_LEVEL, fmt: str = DEFAULT_LOG_FORMAT, stream: IO[str] | None = None
) -> None:
    """Route every logger to ``stream`` (stderr) at ``level``, as text or JSON lines."""
    if level not in LOG_LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # Libraries talk at INFO too (websockets: "connection open" per client; jax: which
    # backends it found): their warnings show; the rest only with --log-level debug.
    root.setLevel(logging.DEBUG if level == "debug" else max(logging.WARNING, _level(level)))
    logging.getLogger(LOGGER).setLevel(_level(level))


def _level(name: str) -> int:
    return int(logging.getLevelName(name.upper()))


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, dict) else {}


class TextFormatter(logging.Formatter):
    """``2026-12-01 10:00:00,123 INFO streamasr.server: session end peer=... code=1000``"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        pairs = " ".join(f"{k}={_text_value(v)}" for k, v in _fields(record).items())
        if not pairs:
            return line
        head, sep, rest = line.partition("\n")  # a traceback stays below the first line
        return f"{head} {pairs}{sep}{rest}"


def _text_value(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if not text or any(c.isspace() or c in "\"'=" for c in text) else text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the fields, and ``exc`` (the
    traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _fields(record).items():
            body.setdefault(key, value)
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False, default=str)


class PeerLimiter:
    """At most ``limit`` lines per peer in any ``window`` seconds (a fixed window per peer);
    at most ``max_peers`` peers are remembered, the oldest forgotten first."""

    def __init__(
        self,
        limit: int = 5,
        window: float = 60.0,
        max_peers: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or not window > 0:
            raise ValueError(f"limit must be >= 1 and window > 0, got {limit}, {window}")
        self.limit = limit
        self.window = window
        self.max_peers = max_peers
        self.clock = clock
        self._peers: dict[str, list[float | int]] = {}  # peer -> [window start, lines, held]

    def allow(self, peer: str) -> tuple[bool, int]:
        """(write this line?, lines held back before it that it should report)."""
        now = self.clock()
        entry = self._peers.get(peer)
        if entry is None or now - entry[0] >= self.window:
            held = int(entry[2]) if entry is not None else 0
            self._peers.pop(peer, None)
            if len(self._peers) >= self.max_peers:
                del self._peers[next(iter(self._peers))]
            self._peers[peer] = [now, 1, 0]
            return True, held
        if entry[1] < self.limit:
            entry[1] += 1
            return True, 0
        entry[2] += 1
        return False, 0


def log_for_peer(
    logger: logging.Logger,
    limiter: PeerLimiter,
    peer: str,
    level: int,
    message: str,
    fields: dict[str, Any] | None = None,
) -> None:
    """Log a warning or error about one client, within its share of the log."""
    if not logger.isEnabledFor(level):
        return
    host = peer.rpartition(":")[0] or peer  # the limit is per address, whatever the port
    ok, held = limiter.allow(host)
    if not ok:
        return
    extra = {"peer": peer, **(fields or {})}
    if held:
        extra["suppressed"] = held  # lines from this address left out before this one
    logger.log(level, message, extra={"fields": extra})
