"""WER/CER through the streaming code path (frontend, step, decoder: what the daemon runs).

``python -m train.evaluate MANIFEST... [--model PATH] [--compare-pocketsphinx]`` prints a
per-voice breakdown, a total per manifest, and last a line ``WER=<f> CER=<f> N=<n>``
over all utterances of all manifests (streamasr's figures).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np

from streamasr.api import Model
from streamasr.cli.common import add_decoder_arguments, decoder_choice
from streamasr.decode.endpoint import EndpointConfig
from streamasr.decode.factory import GREEDY, DecoderChoice
from streamasr.engine.recognizer import Recognizer
from streamasr.model.artifact import ArtifactError
from train.corpus.manifest import readable_audio


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
) -> str:
    """The text, streamed in 100 ms blocks as a live client sends it (greedy by default)."""
    return Model(recognizer).transcribe(samples, rate, decoder=decoding or GREEDY)


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
    manifest: Path, transcribe: Callable[[np.ndarray, int], str], limit: int | None
) -> list[Scored]:
    out = []
    for record, audio in readable_audio(manifest, limit):
        began = time.perf_counter()
        hyp = transcribe(audio.samples, audio.sample_rate)
        out.append(
            Scored(record.voice, record.text, hyp, audio.duration, time.perf_counter() - began)
        )
    return out


def rates(rows: Sequence[Scored]) -> tuple[float, float]:
    refs = [r.reference for r in rows]
    hyps = [r.hypothesis for r in rows]
    return float(jiwer.wer(refs, hyps)), float(jiwer.cer(refs, hyps))


def report(name: str, rows: Sequence[Scored], per_voice: bool) -> None:
    if per_voice:
        by_voice: dict[str, list[Scored]] = defaultdict(list)
        for r in rows:
            by_voice[r.voice].append(r)
        for voice, group in sorted(by_voice.items()):
            wer, cer = rates(group)
            print(f"  {voice:<36} n={len(group):<4} WER={wer:6.1%} CER={cer:6.1%}")
    wer, cer = rates(rows)
    rtf = sum(r.compute_seconds for r in rows) / max(1e-9, sum(r.audio_seconds for r in rows))
    print(f"{name:<38} n={len(rows):<4} WER={wer:6.1%} CER={cer:6.1%} RTF={rtf:.3f}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="eval", description=__doc__)
    p.add_argument("manifests", nargs="+", type=Path, help="JSONL manifests")
    p.add_argument("--model", help="model file (default: the bundled model)")
    p.add_argument("--limit", type=int, help="first N utterances of each manifest")
    p.add_argument("--per-voice", action="store_true", help="break the figures down by voice")
    p.add_argument(
        "--compare-pocketsphinx", action="store_true", help="also score PocketSphinx, same audio"
    )
    p.add_argument("--show", type=int, default=0, help="print N example hypotheses per manifest")
    add_decoder_arguments(p)
    args = p.parse_args(argv)
    for m in args.manifests:
        if not m.is_file():
            print(f"eval: error: no such manifest: {m}", file=sys.stderr)
            return 2
    try:
        recognizer = Recognizer.from_file(args.model, EndpointConfig())
        decoding = decoder_choice(args)
    except (ArtifactError, ValueError) as e:
        print(f"eval: error: {e}", file=sys.stderr)
        return 2
    systems: dict[str, Callable[[np.ndarray, int], str]] = {
        "streamasr": lambda x, r: transcribe_streaming(recognizer, x, r, decoding)
    }
    if args.compare_pocketsphinx:
        systems["pocketsphinx"] = pocketsphinx_transcriber()
    totals: dict[str, list[Scored]] = {name: [] for name in systems}
    for manifest in args.manifests:
        print(f"== {manifest}")
        for name, transcribe in systems.items():
            rows = score(manifest, transcribe, args.limit)
            report(f"{name}", rows, args.per_voice)
            for r in rows[: args.show]:
                print(f"    REF: {r.reference}\n    HYP: {r.hypothesis}")
            totals[name] += rows
    if len(args.manifests) > 1:
        print("== all")
        for name, rows in totals.items():
            report(name, rows, per_voice=False)
    wer, cer = rates(totals["streamasr"])
    print(f"WER={wer:.4f} CER={cer:.4f} N={len(totals['streamasr'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
