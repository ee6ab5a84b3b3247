"""Log lines for operators and log shippers, and the per-client share of the log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from streamasr.cli.serve import add_arguments as add_serve_arguments
from streamasr.server.logs import PeerLimiter, configure, log_for_peer


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root, ours = logging.getLogger(), logging.getLogger("streamasr")
    handlers, level, our_level = root.handlers[:], root.level, ours.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    ours.setLevel(our_level)


def test_json_lines_carry_fields_and_the_traceback(restore_logging: None) -> None:
    out = io.StringIO()
    configure("info", "json", out)
    log = logging.getLogger("streamasr.test")
    log.info("session end", extra={"fields": {"peer": "10.0.0.1:5000", "code": 1000}})
    log.debug("not at info")
    logging.getLogger("jax._src.xla_bridge").info("a library's chatter")
    logging.getLogger("websockets.server").warning("a library's warning")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("step failed")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    messages = [line["message"] for line in lines]
    assert messages == ["session end", "a library's warning", "step failed"]
    assert lines[0]["peer"] == "10.0.0.1:5000" and lines[0]["code"] == 1000
    assert lines[0]["level"] == "info" and lines[0]["logger"] == "streamasr.test"
    assert "ValueError: boom" in lines[2]["exc"]  # the traceback, once, inside its line


def test_text_lines_end_with_the_fields(restore_logging: None) -> None:
    out = io.StringIO()
    configure("warning", "text", out)
    logging.getLogger("streamasr.test").info("hidden")
    fields = {"peer": "::1:5000", "reason": "idle timeout"}
    logging.getLogger("streamasr.test").warning("session end", extra={"fields": fields})
    (line,) = out.getvalue().splitlines()
    assert line.endswith('WARNING streamasr.test: session end peer=::1:5000 reason="idle timeout"')


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="log level"):
        configure("loud", "text")
    with pytest.raises(ValueError, match="log format"):
        configure("info", "xml")


def test_serve_takes_the_flags() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    args = parser.parse_args(["--log-level", "debug", "--log-format", "json"])
    assert (args.log_level, args.log_format) == ("debug", "json")
    assert (parser.parse_args([]).log_level, parser.parse_args([]).log_format) == ("info", "text")


def test_one_peer_cannot_flood_the_log() -> None:
    """Past the limit a peer's lines are held back until its window ends; the next line that
    gets through says how many were. Other peers are not affected."""
    now = [0.0]
    limiter = PeerLimiter(limit=2, window=10.0, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(4)] == [(True, 0), (True, 0), (False, 0), (False, 0)]
    assert limiter.allow("b") == (True, 0)
    now[0] = 10.0
    assert limiter.allow("a") == (True, 2)


def test_log_for_peer_limits_by_address(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    log = logging.getLogger("streamasr.test")
    limiter = PeerLimiter(limit=3, window=60.0)
    for port in range(10):  # one address, new connections: still one peer
        log_for_peer(log, limiter, f"10.1.1.1:{port}", logging.WARNING, "bad input")
    log_for_peer(log, limiter, "10.2.2.2:1", logging.WARNING, "bad input")
    peers = [r.fields["peer"] for r in caplog.records]  # type: ignore[attr-defined]
    assert peers == ["10.1.1.1:0", "10.1.1.1:1", "10.1.1.1:2", "10.2.2.2:1"]
