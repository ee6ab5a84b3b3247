"""streamasr command line: transcribe files, serve the daemon, dictate from a microphone."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from streamasr.audio.files import AudioFileError, read_audio
from streamasr.decode.endpoint import EndpointConfig
from streamasr.decode.factory import add_decoder_arguments, decoder_choice
from streamasr.decode.hypothesis import Hypothesis
from streamasr.mic_cli import add_mic_arguments, run_mic
from streamasr.model.artifact import ArtifactError
from streamasr.server.main import add_serve_arguments, run_serve

CHUNK_SECONDS = 0.1  # real-time-sized chunks for --partials


def _fail(message: str) -> int:
    print(f"streamasr: error: {message}", file=sys.stderr)
    return 2


def add_transcribe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="audio files (WAV, FLAC, OGG; any rate)"
    )
    p.add_argument("--model", help="model file (default: the bundled model)")
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


def run_transcribe(args: argparse.Namespace) -> int:
    from streamasr.engine.recognizer import Recognizer  # jax import: only when needed
    from streamasr.engine.stream import Stream

    try:
        recognizer = Recognizer.from_file(args.model, EndpointConfig(enabled=not args.no_endpoint))
        decoding = decoder_choice(args)
    except (ArtifactError, ValueError) as e:
        return _fail(str(e))
    status = 0
    for name in args.files:
        try:
            audio = read_audio(name)
        except AudioFileError as e:
            print(f"streamasr: error: {e}", file=sys.stderr)
            status = 1
            continue
        decoder = decoding.make(recognizer.frame_seconds, recognizer.endpoint)
        stream = Stream(recognizer, audio.sample_rate, decoder)
        finals: list[Hypothesis] = []
        step = (
            max(1, int(audio.sample_rate * CHUNK_SECONDS)) if args.partials else audio.samples.size
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamasr", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_transcribe_arguments(sub.add_parser("transcribe", help="transcribe audio files"))
    add_serve_arguments(
        sub.add_parser("serve", help="run the recognition daemon (websocket + browser page)")
    )
    add_mic_arguments(sub.add_parser("mic", help="dictate from the local microphone"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "transcribe":
            return run_transcribe(args)
        if args.command == "serve":
            return run_serve(args)
        if args.command == "mic":
            return run_mic(args)
    except KeyboardInterrupt:
        return 130
    return _fail(f"unknown command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
