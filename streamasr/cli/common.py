"""What every command shares: the model and decoder flags (defined once), loading the
model with a clear error, and the error line."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from streamasr.decode.factory import DEFAULT_BEAM_SIZE, DEFAULT_KIND, KINDS, DecoderChoice

if TYPE_CHECKING:
    from streamasr.api import Model


class CommandError(Exception):
    """A bad flag, file or model: the command prints the message and exits with 2."""


def fail(prog: str, message: str) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model file (default: the bundled model)")


def add_decoder_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("decoding")
    group.add_argument(
        "--decoder",
        choices=KINDS,
        default=DEFAULT_KIND,
        help="greedy (letters), beam (words, with a lexicon and LM) or flashlight (the same "
        f"search in compiled code: pip install flashlight-text) (default: {DEFAULT_KIND})",
    )
    group.add_argument(
        "--lm",
        metavar="PATH",
        help="word n-gram LM (ARPA, may be gzipped) for --decoder beam; "
        "'none' decodes without one (default: the bundled LM)",
    )
    group.add_argument(
        "--beam-size",
        type=int,
        default=DEFAULT_BEAM_SIZE,
        help=f"prefixes kept per frame by --decoder beam (default: {DEFAULT_BEAM_SIZE})",
    )


def decoder_choice(args: argparse.Namespace) -> DecoderChoice:
    """The choice made by ``add_decoder_arguments``' flags, checked (ValueError if bad)."""
    choice = DecoderChoice(args.decoder, args.lm, args.beam_size)
    choice.check()
    return choice


def load_model(args: argparse.Namespace, *, endpoint: bool = True) -> tuple[Model, DecoderChoice]:
    """The model of ``--model`` and the checked decoder flags; CommandError if unusable."""
    from streamasr.api import load  # jax: only when a command really recognizes
    from streamasr.model.artifact import ArtifactError

    try:
        return load(args.model, endpoint=endpoint), decoder_choice(args)
    except (ArtifactError, ValueError) as e:
        raise CommandError(str(e)) from e
