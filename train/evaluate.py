"""WER/CER through the streaming code path (frontend, step, decoder: what the daemon runs).

``python -m train.evaluate MANIFEST... [--model PATH ...] [--decoders greedy,beam]
[--compare pocketsphinx --compare whisper] [--phrase-list FILE]`` prints, per manifest, a
line per system (each model with each decoder, then the peers on the same utterances),
optionally broken down by voice or by engine, a total over all manifests, and last a line
``WER=<f> CER=<f> N=<n>``: the first system's figures over all utterances.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np

from streamasr.api import Model
from streamasr.cli.common import add_decoder_arguments
from streamasr.decode.endpoint import EndpointConfig
from streamasr.decode.factory import GREEDY, DecoderChoice
from streamasr.engine.recognizer import Recognizer
from streamasr.model.artifact import ArtifactError
from train.corpus.manifest import add_engines_argument, engine_of, readable_audio, short_names


@dataclass(frozen=True)
class Scored:
    voice: str
    reference: str
    hypothesis: str
    audio_seconds: float
    compute_seconds: float


def transcribe_streaming(
    recognizer: Recognizer,
    samples: np.ndarray,
    rate: int,
    decoding: DecoderChoice | None = None,
    grammar: Sequence[str] = (),
) -> str:
    """The text, streamed in 100 ms blocks as a live client sends it (greedy by default);
    with a ``grammar``, only its phrases can be recognised (a Vosk client's phrase list)."""
    return Model(recognizer).transcribe(
        samples, rate, decoder=decoding or GREEDY, phrases=grammar, restrict=bool(grammar)
    )


def read_phrases(path: Path) -> tuple[str, ...]:
    """One phrase per line; blank lines and #-comments skipped."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return tuple(line for line in lines if line)


def pocketsphinx_transcriber() -> Callable[[np.ndarray, int], str]:
    from pocketsphinx import Decoder  # evaluation-only peer

    from streamasr.audio.resample import resample

    decoder = Decoder(samprate=16000, loglevel="FATAL")

    def transcribe(samples: np.ndarray, rate: int) -> str:
        audio = samples if rate == 16000 else resample(samples, rate)
        pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        words = [w for w in (hyp.hypstr if hyp else "").lower().split() if not w.startswith("<")]
        return " ".join(w.split("(")[0] for w in words)

    return transcribe


def score(
    manifest: Path,
    transcribe: Callable[[np.ndarray, int], str],
    limit: int | None,
    engines: Collection[str] | None = None,
) -> list[Scored]:
    out = []
    for record, audio in readable_audio(manifest, limit, engines=engines):
        began = time.perf_counter()
        hyp = transcribe(audio.samples, audio.sample_rate)
        out.append(
            Scored(record.voice, record.text, hyp, audio.duration, time.perf_counter() - began)
        )
    return out


def whisper_transcriber() -> Callable[[np.ndarray, int], str]:
    from train.whisper import transcriber  # loads faster-whisper only when asked for

    return transcriber()


PEERS: dict[str, Callable[[], Callable[[np.ndarray, int], str]]] = {
    "pocketsphinx": pocketsphinx_transcriber,
    "whisper": whisper_transcriber,
}


def rates(rows: Sequence[Scored]) -> tuple[float, float]:
    refs = [r.reference for r in rows]
    hyps = [r.hypothesis for r in rows]
    return float(jiwer.wer(refs, hyps)), float(jiwer.cer(refs, hyps))


def report(name: str, rows: Sequence[Scored], per_voice: bool, per_engine: bool = False) -> None:
    """The system's line, then (indented, under it) its figures per voice or per engine."""
    wer, cer = rates(rows)
    rtf = sum(r.compute_seconds for r in rows) / max(1e-9, sum(r.audio_seconds for r in rows))
    print(f"{name:<38} n={len(rows):<4} WER={wer:6.1%} CER={cer:6.1%} RTF={rtf:.3f}")
    if per_voice or per_engine:
        groups: dict[str, list[Scored]] = defaultdict(list)
        for r in rows:
            groups[r.voice if per_voice else engine_of(r.voice)].append(r)
        for label, group in sorted(groups.items()):
            wer, cer = rates(group)
            print(f"  {label:<36} n={len(group):<4} WER={wer:6.1%} CER={cer:6.1%}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="eval", description=__doc__)
    p.add_argument("manifests", nargs="+", type=Path, help="JSONL manifests")
    p.add_argument(
        "--model",
        action="append",
        help="model file; repeat to compare several (default: the bundled model)",
    )
    p.add_argument(
        "--decoders",
        help="comma-separated decoders to score each model with, e.g. greedy,beam "
        "(default: the one --decoder names)",
    )
    p.add_argument("--limit", type=int, help="first N utterances of each manifest")
    add_engines_argument(p)
    p.add_argument("--per-voice", action="store_true", help="break the figures down by voice")
    p.add_argument("--per-engine", action="store_true", help="break the figures down by engine")
    p.add_argument(
        "--compare",
        action="append",
        default=[],
        choices=sorted(PEERS),
        help="also score this peer recogniser on the same audio (repeatable)",
    )
    p.add_argument(
        "--compare-pocketsphinx", action="store_true", help="the same as --compare pocketsphinx"
    )
    p.add_argument("--show", type=int, default=0, help="print N example hypotheses per manifest")
    p.add_argument(
        "--phrase-list",
        type=Path,
        help="recognise only these phrases, one per line (as a Vosk client's phrase_list; "
        "needs the beam decoder): how well a known vocabulary is heard",
    )
    add_decoder_arguments(p)
    args = p.parse_args(argv)
    for m in args.manifests:
        if not m.is_file():
            print(f"eval: error: no such manifest: {m}", file=sys.stderr)
            return 2
    models = args.model or [None]
    names = dict(zip(models, short_names([m or "bundled" for m in models]), strict=True))
    kinds = args.decoders.split(",") if args.decoders else [args.decoder]
    systems: dict[str, Callable[[np.ndarray, int], str]] = {}
    try:
        grammar = read_phrases(args.phrase_list) if args.phrase_list else ()
        if args.phrase_list and not grammar:
            raise ValueError(f"{args.phrase_list} holds no phrases")
        for path in models:
            recognizer = Recognizer.from_file(path, EndpointConfig())
            for kind in kinds:
                choice = DecoderChoice(kind, args.lm, args.beam_size)
                choice.check()
                if grammar and kind != "beam":  # the daemon would switch to beam unasked
                    raise ValueError(f"--phrase-list needs the beam decoder, not {kind}")
                if grammar:  # a phrase the model cannot spell is refused now, not mid-run
                    Model(recognizer).stream(decoder=choice, phrases=grammar, restrict=True)
                label = "streamasr"
                if len(models) > 1:
                    label += f":{names[path]}"
                if len(kinds) > 1:
                    label += f":{kind}"
                if grammar:
                    label += ":phrase-list"
                systems[label] = functools.partial(
                    transcribe_streaming, recognizer, decoding=choice, grammar=grammar
                )
    except (ArtifactError, OSError, ValueError) as e:
        print(f"eval: error: {e}", file=sys.stderr)
        return 2
    peers = dict.fromkeys(args.compare + (["pocketsphinx"] * args.compare_pocketsphinx))
    for name in peers:
        systems[name] = PEERS[name]()
    totals: dict[str, list[Scored]] = {name: [] for name in systems}
    for manifest in args.manifests:
        print(f"== {manifest}")
        for name, transcribe in systems.items():
            rows = score(manifest, transcribe, args.limit, args.engines)
            report(name, rows, args.per_voice, args.per_engine)
            for r in rows[: args.show]:
                print(f"    REF: {r.reference}\n    HYP: {r.hypothesis}")
            totals[name] += rows
        sys.stdout.flush()
    if len(args.manifests) > 1:
        print("== all")
        for name, rows in totals.items():
            report(name, rows, per_voice=False)
    first = totals[next(iter(systems))]
    wer, cer = rates(first)
    print(f"WER={wer:.4f} CER={cer:.4f} N={len(first)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
