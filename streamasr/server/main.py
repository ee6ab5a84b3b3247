"""``streamasr serve``: flags -> options -> model, batcher, server; SIGTERM drains."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from streamasr.decode.factory import DecoderChoice, add_decoder_arguments, decoder_choice
from streamasr.server.defaults import (
    DEFAULT_LOG_FORMAT,
    DEFAULT_LOG_LEVEL,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_PORT,
    DEFAULT_SAMPLE_RATE,
)

if TYPE_CHECKING:  # jax is imported only when the server really starts
    from streamasr.engine.recognizer import Recognizer
    from streamasr.server.app import ServerOptions

log = logging.getLogger("streamasr.serve")

_DEFAULTS = {
    "max_connections": 200,
    "max_queue": 8,
    "idle_timeout": 60.0,
    "max_session": 4 * 3600.0,
    "drain_timeout": 10.0,
}


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port; 0 picks a free one (%(default)s)"
    )
    p.add_argument("--model", help="model file (default: the bundled model)")
    p.add_argument(
        "--sample-rate",
        type=int,
        default=DEFAULT_SAMPLE_RATE,
        help="rate of clients that send no config, as vosk-server (default: %(default)s)",
    )
    add_decoder_arguments(p)
    limits = p.add_argument_group("limits")
    limits.add_argument(
        "--max-connections",
        type=int,
        default=_DEFAULTS["max_connections"],
        help="concurrent recognition sessions; more are refused with HTTP 503 (%(default)s)",
    )
    limits.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        help="largest message; larger ones close the connection with 1009 (%(default)s)",
    )
    limits.add_argument(
        "--max-queue",
        type=int,
        default=_DEFAULTS["max_queue"],
        help="audio messages in flight per connection before reading pauses (%(default)s)",
    )
    limits.add_argument(
        "--idle-timeout",
        type=float,
        default=_DEFAULTS["idle_timeout"],
        help="seconds without a message before a session ends (%(default)s)",
    )
    limits.add_argument(
        "--max-session",
        type=float,
        default=_DEFAULTS["max_session"],
        help="longest session in seconds (%(default)s)",
    )
    limits.add_argument(
        "--drain-timeout",
        type=float,
        default=_DEFAULTS["drain_timeout"],
        help="seconds SIGTERM waits for live sessions' finals (%(default)s)",
    )
    sec = p.add_argument_group("security")
    sec.add_argument(
        "--token-file",
        help="file holding a bearer token that websocket clients must send "
        "(Authorization: Bearer ..., or ?token=...); also read from $STREAMASR_TOKEN",
    )
    sec.add_argument(
        "--origin",
        action="append",
        dest="origins",
        metavar="ORIGIN",
        help="allowed Origin header (repeatable; default: any)",
    )
    sec.add_argument("--tls-cert", help="certificate chain (PEM): serve wss:// and https://")
    sec.add_argument("--tls-key", help="private key (PEM) for --tls-cert")
    mic = p.add_argument_group("microphone")
    mic.add_argument(
        "--mic",
        action="store_true",
        help="also recognize the local microphone and broadcast it on /listen",
    )
    mic.add_argument("--device", help="input device name or index (default: the system's)")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port (SO_REUSEPORT; each loads the model and takes "
        "its share of --max-connections): Python runs one thread at a time, so using more "
        "than about one core takes more processes (default: %(default)s)",
    )
    p.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--no-warmup",
        action="store_true",
        help="skip compiling every batch size at start-up (the first clients wait instead)",
    )
    logs = p.add_argument_group("logging (stderr)")
    logs.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default=DEFAULT_LOG_LEVEL,
        help="info: a line per session start and end (%(default)s)",
    )
    logs.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=DEFAULT_LOG_FORMAT,
        help="json: one object per line, for log shippers (%(default)s)",
    )


def _fail(message: str) -> int:
    print(f"streamasr serve: error: {message}", file=sys.stderr)
    return 2


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file:
        return Path(args.token_file).read_text().strip() or None
    return os.environ.get("STREAMASR_TOKEN") or None


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not args.tls_cert and not args.tls_key:
        return None
    if not (args.tls_cert and args.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    return context


def run_serve(args: argparse.Namespace) -> int:
    from streamasr.audio.resample import check_rate
    from streamasr.model.artifact import ArtifactError
    from streamasr.server.app import ServerOptions
    from streamasr.server.logs import configure

    try:
        configure(args.log_level, args.log_format)
        check_rate(args.sample_rate)
        options = ServerOptions(
            host=args.host,
            port=args.port,
            default_sample_rate=args.sample_rate,
            max_connections=args.max_connections,
            max_message_bytes=args.max_message_bytes,
            max_queue=args.max_queue,
            idle_timeout=args.idle_timeout,
            max_session_seconds=args.max_session,
            drain_timeout=args.drain_timeout,
            token=_token(args),
            origins=tuple(args.origins) if args.origins else None,
            ssl_context=_ssl_context(args),
            reuse_port=args.reuse_port,
        )
        if args.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {args.workers}")
        if args.workers > 1 and args.port == 0:
            raise ValueError("--workers > 1 needs a fixed --port (every worker binds it)")
        if args.workers > 1 and args.mic:
            raise ValueError("--mic needs --workers 1 (one process owns the microphone)")
    except (ValueError, OSError, ssl.SSLError) as e:
        return _fail(str(e))
    if args.workers > 1:
        return _supervise(args)

    from streamasr.engine.recognizer import Recognizer
    from streamasr.model.step import BATCH_BUCKETS

    if options.max_connections > BATCH_BUCKETS[-1]:
        return _fail(f"--max-connections must be at most {BATCH_BUCKETS[-1]}")
    try:
        recognizer = Recognizer.from_file(args.model)
        decoding = decoder_choice(args)
    except (ArtifactError, ValueError) as e:
        return _fail(str(e))
    from streamasr.audio.mic import MicError

    try:
        return asyncio.run(_serve(recognizer, decoding, options, args))
    except KeyboardInterrupt:
        return 130
    except MicError as e:
        return _fail(str(e))
    except OSError as e:  # e.g. the port is taken
        return _fail(str(e))


async def _serve(
    recognizer: Recognizer,
    decoding: DecoderChoice,
    options: ServerOptions,
    args: argparse.Namespace,
) -> int:
    from streamasr.engine.batcher import Batcher
    from streamasr.model.step import BATCH_BUCKETS
    from streamasr.server.app import AsrServer
    from streamasr.server.metrics import Metrics

    metrics = Metrics()
    # Headroom: a closed session's slot comes back one worker round after its handler ends.
    capacity = min(
        BATCH_BUCKETS[-1], options.max_connections + max(8, options.max_connections // 4)
    )
    batcher = Batcher(
        recognizer, capacity=capacity, on_step=metrics.observe_step, decoding=decoding
    )
    if not args.no_warmup:
        await asyncio.to_thread(batcher.warm_up)
    batcher.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await AsrServer(batcher, options, metrics).start()
    mic = None
    try:
        if args.mic:
            from streamasr.server.broadcast import MicBroadcast

            mic = MicBroadcast(server, batcher, device=args.device)
            await mic.start()
        scheme = "wss" if options.ssl_context else "ws"
        log.info("listening on %s://%s:%d", scheme, options.host, server.port)
        await stop.wait()
        log.info("draining")
    finally:
        if mic is not None:
            await mic.stop()
        await server.drain()
        await asyncio.to_thread(batcher.stop, 10.0)
    log.info("stopped")
    return 0


def _supervise(args: argparse.Namespace) -> int:
    """Run ``args.workers`` server processes on one port and wait. SIGTERM/SIGINT are passed
    on (each worker drains its own sessions); if one worker fails, the others are stopped
    and its exit status is returned. The supervisor itself never imports jax."""
    import multiprocessing
    import time

    share = -(-args.max_connections // args.workers)
    child_args = argparse.Namespace(
        **{**vars(args), "workers": 1, "reuse_port": True, "max_connections": share}
    )
    # spawn: a clean interpreter per worker, nothing inherited mid-flight.
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_worker_main, args=(child_args,), name=f"streamasr-worker-{i}")
        for i in range(args.workers)
    ]
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for w in workers:
            if w.pid is not None and w.is_alive():
                os.kill(w.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for w in workers:
        w.start()
    status = 0
    while any(w.is_alive() for w in workers):
        for w in workers:
            w.join(timeout=0.2)
            if not w.is_alive() and w.exitcode and not stopping:
                status = w.exitcode
                stop(signal.SIGTERM, None)
        time.sleep(0.05)
    if stopping and status == 0:
        status = max([0, *[w.exitcode or 0 for w in workers]])
    return status


def _worker_main(args: argparse.Namespace) -> None:
    sys.exit(run_serve(args))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streamasr.server.main``: the serve command on its own."""
    parser = argparse.ArgumentParser(prog="streamasr serve", description=__doc__)
    add_serve_arguments(parser)
    return run_serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
