"""``streamasr serve``: flags -> options -> model, batcher, server; SIGTERM drains.
``--workers N`` runs N such servers on one port (server/supervisor.py)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import ssl
import sys
from collections.abc import Sequence
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import TYPE_CHECKING

from streamasr.cli.common import (
    CommandError,
    add_decoder_arguments,
    add_model_argument,
    fail,
    load_model,
)
from streamasr.constants import MAX_BATCH
from streamasr.server import defaults

if TYPE_CHECKING:  # jax is imported only when the server really starts
    from streamasr.api import Model
    from streamasr.decode.factory import DecoderChoice
    from streamasr.server.app import ServerOptions

PROG = "streamasr serve"
log = logging.getLogger("streamasr.serve")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host", default=defaults.DEFAULT_HOST, help="address to bind (default: %(default)s)"
    )
    p.add_argument(
        "--port",
        type=int,
        default=defaults.DEFAULT_PORT,
        help="port; 0 picks a free one (%(default)s)",
    )
    add_model_argument(p)
    p.add_argument(
        "--sample-rate",
        type=int,
        default=defaults.DEFAULT_SAMPLE_RATE,
        help="rate of clients that send no config, as vosk-server (default: %(default)s)",
    )
    add_decoder_arguments(p)
    limits = p.add_argument_group("limits")
    limits.add_argument(
        "--max-connections",
        type=int,
        default=defaults.DEFAULT_MAX_CONNECTIONS,
        help="concurrent recognition sessions; more are refused with HTTP 503 (%(default)s)",
    )
    limits.add_argument(
        "--max-message-bytes",
        type=int,
        default=defaults.DEFAULT_MAX_MESSAGE_BYTES,
        help="largest message; larger ones close the connection with 1009 (%(default)s)",
    )
    limits.add_argument(
        "--max-queue",
        type=int,
        default=defaults.DEFAULT_MAX_QUEUE,
        help="audio messages in flight per connection before reading pauses (%(default)s)",
    )
    limits.add_argument(
        "--idle-timeout",
        type=float,
        default=defaults.DEFAULT_IDLE_TIMEOUT,
        help="seconds without a message before a session ends (%(default)s)",
    )
    limits.add_argument(
        "--max-session",
        type=float,
        default=defaults.DEFAULT_MAX_SESSION_SECONDS,
        help="longest session in seconds (%(default)s)",
    )
    limits.add_argument(
        "--gather-ms",
        type=float,
        default=defaults.DEFAULT_GATHER_MS,
        help="longest a recognizer round waits for other streams' audio, so that one "
        "batched step serves many; 0: never wait (%(default)s)",
    )
    limits.add_argument(
        "--drain-timeout",
        type=float,
        default=defaults.DEFAULT_DRAIN_TIMEOUT,
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
        default=defaults.DEFAULT_WORKERS,
        help="server processes sharing the port (SO_REUSEPORT; each loads the model, and "
        "--max-connections counts the sessions of all of them): Python runs one thread at a "
        "time, so using more than about one core takes more processes (default: %(default)s)",
    )
    p.add_argument(
        "--xla-threads",
        type=int,
        default=defaults.DEFAULT_XLA_THREADS,
        help="threads XLA computes the model with, per server process (0: one per CPU; "
        "default: %(default)s, which costs least CPU for the daemon's small batched calls)",
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
        default=defaults.DEFAULT_LOG_LEVEL,
        help="info: a line per session start and end (%(default)s)",
    )
    logs.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=defaults.DEFAULT_LOG_FORMAT,
        help="json: one object per line, for log shippers (%(default)s)",
    )


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


def run(args: argparse.Namespace, session_count: Synchronized[int] | None = None) -> int:
    """The command. ``session_count``: set in each worker of ``--workers N``, the count of
    the daemon's sessions that all its workers share."""
    from streamasr.audio.resample import check_rate
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
        if args.xla_threads < 0:
            raise ValueError(f"--xla-threads must be at least 0, got {args.xla_threads}")
        if not 0 <= args.gather_ms <= 1000:
            raise ValueError(f"--gather-ms must be in [0, 1000], got {args.gather_ms}")
        if args.workers > 1 and args.port == 0:
            raise ValueError("--workers > 1 needs a fixed --port (every worker binds it)")
        if args.workers > 1 and args.mic:
            raise ValueError("--mic needs --workers 1 (one process owns the microphone)")
    except (ValueError, OSError, ssl.SSLError) as e:
        return fail(PROG, str(e))
    # Each process's recognizer holds at most the largest batch; a daemon of N workers, N times.
    most = MAX_BATCH * args.workers
    if options.max_connections > most:
        per_worker = f" ({MAX_BATCH} per worker)" if args.workers > 1 else ""
        return fail(PROG, f"--max-connections must be at most {most}{per_worker}")
    if args.workers > 1 and session_count is None:
        return _supervise(args)
    from streamasr.model.cpu_threads import start_backend

    start_backend(args.xla_threads)  # before the model: XLA sizes its pool once, at start
    try:
        model, decoding = load_model(args)
    except CommandError as e:
        return fail(PROG, str(e))
    from streamasr.audio.mic import MicError

    try:
        return asyncio.run(_serve(model, decoding, options, args, session_count))
    except KeyboardInterrupt:
        return 130
    except MicError as e:
        return fail(PROG, str(e))
    except OSError as e:  # e.g. the port is taken
        return fail(PROG, str(e))


async def _serve(
    model: Model,
    decoding: DecoderChoice,
    options: ServerOptions,
    args: argparse.Namespace,
    session_count: Synchronized[int] | None,
) -> int:
    from streamasr.engine.batcher import Batcher
    from streamasr.server.app import AsrServer
    from streamasr.server.metrics import Metrics

    metrics = Metrics()
    # Headroom: a closed session's slot comes back one worker round after its handler ends.
    capacity = min(MAX_BATCH, options.max_connections + max(8, options.max_connections // 4))
    batcher = Batcher(
        model.recognizer,
        capacity=capacity,
        on_step=metrics.observe_step,
        decoding=decoding,
        gather_seconds=args.gather_ms / 1000,
    )
    if not args.no_warmup:
        await asyncio.to_thread(batcher.warm_up)
    batcher.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await AsrServer(batcher, options, metrics, session_count).start()
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
    """``--workers N``: N servers on one port, one session limit and one set of metrics."""
    import multiprocessing

    from streamasr.server.multiprocess import MULTIPROCESS_DIR, make_metrics_dir
    from streamasr.server.supervisor import supervise

    worker = argparse.Namespace(**{**vars(args), "reuse_port": True})
    # The daemon's session count, in shared memory: --max-connections limits all workers
    # together, whichever worker the kernel hands each connection to.
    session_count = multiprocessing.get_context("spawn").Value("i", 0)
    # One metrics directory for all workers, so that any worker's /metrics sums them all.
    shared = make_metrics_dir()
    os.environ[MULTIPROCESS_DIR] = str(shared)  # the spawned workers inherit it
    try:
        return supervise(_worker_main, (worker, session_count), args.workers)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def _worker_main(args: argparse.Namespace, session_count: Synchronized[int]) -> None:
    sys.exit(run(args, session_count))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streamasr.cli.serve``: the serve command on its own."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
