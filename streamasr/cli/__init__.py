"""streamasr command line: transcribe files, serve the daemon, dictate from a microphone.

One module per command (``transcribe``, ``serve``, ``mic``), each with ``add_arguments``,
``run`` and a ``main`` of its own; the flags they share live in ``common``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from streamasr.cli import mic, serve, transcribe
from streamasr.cli.common import fail


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamasr", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    transcribe.add_arguments(sub.add_parser("transcribe", help="transcribe audio files"))
    serve.add_arguments(
        sub.add_parser("serve", help="run the recognition daemon (websocket + browser page)")
    )
    mic.add_arguments(sub.add_parser("mic", help="dictate from the local microphone"))
    return parser


COMMANDS = {"transcribe": transcribe.run, "serve": serve.run, "mic": mic.run}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = COMMANDS.get(args.command)
    if command is None:
        return fail("streamasr", f"unknown command {args.command}")
    try:
        return command(args)
    except KeyboardInterrupt:
        return 130


__all__ = ["build_parser", "main"]
