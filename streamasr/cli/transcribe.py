"""``streamasr transcribe``: audio files to text (or JSON with word times)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from streamasr.audio.files import AudioFileError, read_audio
from streamasr.cli.common import (
    CommandError,
    add_decoder_arguments,
    add_model_argument,
    fail,
    load_model,
)
from streamasr.constants import BLOCK_SECONDS
from streamasr.decode.hypothesis import Hypothesis

PROG = "streamasr"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="audio files (WAV, FLAC, OGG; any rate)"
    )
    add_model_argument(p)
    p.add_argument("--json", action="store_true", help="one JSON object per file: text and words")
    p.add_argument(
        "--partials", action="store_true", help="show partial hypotheses as the file streams in"
    )
    p.add_argument(
        "--realtime", action="store_true", help="with --partials, pace the chunks at real time"
    )
    p.add_argument(
        "--no-endpoint",
        action="store_true",
        help="one utterance per file (no endpoint splitting on silence)",
    )
    add_decoder_arguments(p)


def run(args: argparse.Namespace) -> int:
    try:
        model, decoding = load_model(args, endpoint=not args.no_endpoint)
    except CommandError as e:
        return fail(PROG, str(e))
    status = 0
    for name in args.files:
        try:
            audio = read_audio(name)
        except AudioFileError as e:
            print(f"{PROG}: error: {e}", file=sys.stderr)
            status = 1
            continue
        stream = model.stream(audio.sample_rate, decoder=decoding)
        finals: list[Hypothesis] = []
        # --partials: real-time-sized blocks; otherwise the whole file at once.
        step = (
            max(1, int(audio.sample_rate * BLOCK_SECONDS)) if args.partials else audio.samples.size
        )
        shown = ""
        for start in range(0, audio.samples.size, step):
            began = time.monotonic()
            events = stream.accept(audio.samples[start : start + step])
            finals += [h for h in events if h.is_final]
            if args.partials:
                shown = _show_partials(events, shown, args.json)
                if args.realtime:
                    time.sleep(max(0.0, step / audio.sample_rate - (time.monotonic() - began)))
        finals += stream.finish()
        _print_result(name, finals, args.json)
    return status


def _show_partials(events: list[Hypothesis], shown: str, as_json: bool) -> str:
    for h in events:
        if h.is_final:
            if h.text:
                print(json.dumps({"text": h.text}) if as_json else h.text, flush=True)
            shown = ""
        elif h.text != shown:
            print(json.dumps({"partial": h.text}) if as_json else f"... {h.text}", flush=True)
            shown = h.text
    return shown


def _print_result(name: str, finals: list[Hypothesis], as_json: bool) -> None:
    text = " ".join(h.text for h in finals if h.text)
    if as_json:
        words = [w.to_dict() for h in finals for w in h.words]
        print(json.dumps({"file": name, "text": text, "words": words}), flush=True)
    else:
        print(text, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streamasr.cli.transcribe``: the transcribe command on its own."""
    parser = argparse.ArgumentParser(prog="streamasr transcribe", description=__doc__)
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
