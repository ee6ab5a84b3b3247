"""Greedy vs beam decoding on evaluation manifests: WER/CER and decoding cost.

``bin/bench decode MANIFEST... [--model PATH] [--limit N] [--lm PATH] [--pocketsphinx]``;
``bin/bench decode --synthetic MANIFEST --limit 100`` needs no model: it spells each
reference as fake CTC log-probabilities in which a share (``--confusion``) of the characters
lose to a wrong one (0.55 vs 0.35), so an LM has something to fix; it measures cost and
sanity, not accuracy on speech.

Each utterance goes once through the streaming path (frontend and jitted step in 100 ms
chunks, as a live client sends it); the log-probabilities it produced are kept, and every
decoder is then fed the same frames in the same chunks, with endpoints, through
``decode_frames``. Decoders are chunk-invariant (tested), so this is what the daemon would
output, and the timing isolates the decoder. Prints a Markdown table: WER, CER and
decoder milliseconds per audio-second (a decoder RTF of 0.01 = 10 ms/s): the CPU time of
this process, so other work on the machine does not count, and with ``--repeats N`` the
fastest of N passes over the set (one pass moved a row by a fifth between runs).

``--partials`` measures instead what one ``partial()`` costs against how far into an
utterance it is asked: each manifest's log-probs joined into one unbroken utterance (no
endpoints), fed to each "+ LM" decoder, and ``partial()`` timed at 100, 500 and 1,500 frames
(4, 20 and 60 s). A live session asks for one after every message, so a cost that grows with
the utterance is a cost that grows with every long dictation.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np
import numpy.typing as npt

from streamasr.decode.beam import BeamOptions
from streamasr.decode.endpoint import EndpointConfig
from streamasr.decode.factory import Decoder, load_lm, make_decoder
from streamasr.decode.greedy import GreedyDecoder
from streamasr.decode.hypothesis import Hypothesis
from streamasr.decode.segmenter import Best
from streamasr.engine.recognizer import Recognizer
from streamasr.engine.stream import Stream, decode_frames
from streamasr.vocab import BLANK, SYMBOLS, VOCAB_SIZE
from train.corpus.manifest import read_manifest, readable_audio

CHUNK_SECONDS = 0.1
SYNTHETIC_FRAME = 0.04  # seconds per output frame of the synthetic log-probs
# (label, kind, beam size, lm_path: None = bundled, "none" = no LM)
SYSTEMS: tuple[tuple[str, str, int, str | None], ...] = (
    ("greedy", "greedy", 1, "none"),
    ("beam 4, no LM", "beam", 4, "none"),
    ("beam 8, no LM", "beam", 8, "none"),
    ("beam 16, no LM", "beam", 16, "none"),
    ("beam 4 + LM", "beam", 4, None),
    ("beam 8 + LM", "beam", 8, None),
    ("beam 16 + LM", "beam", 16, None),
)


class _Recorder:
    """A greedy decoder that keeps every frame it consumed."""

    def __init__(self, inner: GreedyDecoder) -> None:
        self.inner = inner
        self.frame_seconds = inner.frame_seconds
        self.rows: list[npt.NDArray[np.float32]] = []

    @property
    def frames(self) -> int:
        return self.inner.frames

    @property
    def segment(self) -> int:
        return self.inner.segment

    def advance(
        self, log_probs: npt.NDArray[np.float32], best: Best | None = None
    ) -> tuple[int, bool]:
        consumed, fired = self.inner.advance(log_probs, best)
        self.rows.append(np.array(log_probs[:consumed]))
        return consumed, fired

    def partial(self) -> Hypothesis:
        return self.inner.partial()

    def finalize(self, *, endpoint: bool = False) -> Hypothesis:
        return self.inner.finalize(endpoint=endpoint)


@dataclass(frozen=True)
class Utterance:
    reference: str
    seconds: float
    log_probs: npt.NDArray[np.float32]  # [T, V] as the streaming step produced them


def log_probs_of(recognizer: Recognizer, manifest: Path, limit: int | None) -> list[Utterance]:
    out = []
    for record, audio in readable_audio(manifest, limit, who="bench"):
        recorder = _Recorder(GreedyDecoder(recognizer.frame_seconds, EndpointConfig()))
        stream = Stream(recognizer, audio.sample_rate, recorder)
        step = max(1, int(audio.sample_rate * CHUNK_SECONDS))
        for start in range(0, audio.samples.size, step):
            stream.accept(audio.samples[start : start + step])
        stream.finish()
        rows = recorder.rows or [np.zeros((0, 0), np.float32)]
        out.append(Utterance(record.text, audio.duration, np.concatenate(rows)))
    return out


def synthetic(manifest: Path, limit: int | None, confusion: float) -> list[Utterance]:
    """References spelled as peaky fake log-probs, 40 ms frames (see the module doc)."""
    rng = np.random.default_rng(0)
    out = []
    for record in read_manifest(manifest)[:limit]:
        rows = []
        for ch in record.text:
            for _ in range(int(rng.integers(1, 3))):
                blank = np.full(VOCAB_SIZE, 1e-4)
                blank[BLANK] = 0.95
                rows.append(blank)
            row = np.full(VOCAB_SIZE, 1e-3)
            right, wrong = SYMBOLS.index(ch), int(rng.integers(1, VOCAB_SIZE))
            if rng.random() < confusion and wrong != right:
                row[right], row[wrong] = 0.35, 0.55
            else:
                row[right] = 0.6
                row[wrong] += 0.3
            rows.append(row)
        lp = np.log(np.array(rows) / np.sum(rows, axis=1, keepdims=True)).astype(np.float32)
        out.append(Utterance(record.text, lp.shape[0] * SYNTHETIC_FRAME, lp))
    return out


def decode_utterance(decoder: Decoder, lp: npt.NDArray[np.float32], chunk: int) -> str:
    finals: list[Hypothesis] = []
    for start in range(0, lp.shape[0], chunk):
        finals += decode_frames(decoder, lp[start : start + chunk])
        decoder.partial()  # a live session asks for a partial after every chunk
    finals.append(decoder.finalize())
    return " ".join(h.text for h in finals if h.text)


PARTIAL_AT = (100, 500, 1500)  # frames into the utterance
PARTIAL_CALLS = 50


def partial_costs(
    systems: Sequence[tuple[str, str, int, str | None, BeamOptions]],
    lp: npt.NDArray[np.float32],
    frame_seconds: float,
    lm: str | None,
) -> None:
    """Print microseconds per partial() at PARTIAL_AT frames into ``lp``, per system."""
    reached = [n for n in PARTIAL_AT if n <= lp.shape[0]]
    print("| system | " + " | ".join(f"us per partial at {n} frames" for n in reached) + " |")
    print("|---|" + "---|" * len(reached))
    for label, kind, size, lm_path, opts in systems:
        if lm_path == "none":
            continue
        decoder = make_decoder(
            kind,
            frame_seconds,
            EndpointConfig(enabled=False),
            lm_path=lm if (lm and lm_path is None) else lm_path,
            beam_size=size,
            options=opts,
        )
        fed, costs = 0, []
        for n in reached:
            decoder.advance(lp[fed:n])
            fed = n
            t0 = time.perf_counter()
            for _ in range(PARTIAL_CALLS):
                decoder.partial()
            costs.append(1e6 * (time.perf_counter() - t0) / PARTIAL_CALLS)
        print(f"| {label} | " + " | ".join(f"{c:.0f}" for c in costs) + " |")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.decode", description=__doc__)
    p.add_argument("manifests", nargs="+", type=Path)
    p.add_argument("--model", help="model file (default: the bundled model)")
    p.add_argument("--limit", type=int, help="first N utterances of each manifest")
    p.add_argument("--lm", help="ARPA file for the '+ LM' rows (default: the bundled LM)")
    p.add_argument("--pocketsphinx", action="store_true", help="also score PocketSphinx")
    p.add_argument("--alpha", type=float, default=BeamOptions.alpha, help="LM weight")
    p.add_argument("--beta", type=float, default=BeamOptions.beta, help="word bonus (with LM)")
    p.add_argument("--synthetic", action="store_true", help="fake log-probs, no model")
    p.add_argument(
        "--flashlight",
        action="store_true",
        help="also score --decoder flashlight (needs pip install flashlight-text)",
    )
    p.add_argument("--confusion", type=float, default=0.3, help="--synthetic: share confused")
    p.add_argument(
        "--partials",
        action="store_true",
        help="time one partial() at 4, 20 and 60 s into one unbroken utterance instead",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="decode each set N times and report the fastest pass's cost (default: 1)",
    )
    p.add_argument(
        "--grid",
        metavar="ALPHAS:BETAS",
        help="tune instead: beam 8 + LM for every pair, e.g. 0.3,0.5,0.8:0.5,1,2",
    )
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f"--repeats must be at least 1, got {args.repeats}")
    options = BeamOptions(alpha=args.alpha, beta=args.beta)
    systems = [(label, kind, size, lm, options) for label, kind, size, lm in SYSTEMS]
    if args.flashlight:  # beside the Python beam + LM rows they are compared with
        systems += [(f"flashlight {n} + LM", "flashlight", n, None, options) for n in (8, 16)]
    if args.grid:
        alphas, betas = (list(map(float, part.split(","))) for part in args.grid.split(":"))
        systems = [
            (f"beam 8 + LM, alpha {a:g}, beta {b:g}", "beam", 8, None, BeamOptions(alpha=a, beta=b))
            for a in alphas
            for b in betas
        ]
    recognizer = None if args.synthetic else Recognizer.from_file(args.model, EndpointConfig())
    frame_seconds = SYNTHETIC_FRAME if recognizer is None else recognizer.frame_seconds
    chunk = max(1, round(CHUNK_SECONDS / frame_seconds))
    if args.lm:
        load_lm(str(Path(args.lm).resolve()))
    if not args.partials:
        print("| system | set | n | WER | CER | decoder ms per audio-s |")
        print("|---|---|---|---|---|---|")
    for manifest in args.manifests:
        began = time.perf_counter()
        utts = (
            synthetic(manifest, args.limit, args.confusion)
            if recognizer is None
            else log_probs_of(recognizer, manifest, args.limit)
        )
        model_s = time.perf_counter() - began
        if args.partials:
            joined = np.concatenate([u.log_probs for u in utts])
            print(f"<!-- {manifest.stem}, joined: {joined.shape[0]} frames -->")
            partial_costs(systems, joined, frame_seconds, args.lm)
            continue
        audio_s = sum(u.seconds for u in utts)
        refs = [u.reference for u in utts]
        name = manifest.stem
        for label, kind, size, lm_path, opts in systems:
            lm = args.lm if (args.lm and lm_path is None) else lm_path
            fastest = float("inf")
            for _ in range(args.repeats):  # the same hypotheses every pass: decoding is exact
                hyps = []
                spent = 0.0
                for u in utts:
                    decoder = make_decoder(
                        kind,
                        frame_seconds,
                        EndpointConfig(),
                        lm_path=lm,
                        beam_size=size,
                        options=opts,
                    )
                    t0 = time.process_time()
                    hyps.append(decode_utterance(decoder, u.log_probs, chunk))
                    spent += time.process_time() - t0
                fastest = min(fastest, spent)
            wer, cer = jiwer.wer(refs, hyps), jiwer.cer(refs, hyps)
            ms = 1000 * fastest / audio_s
            print(f"| {label} | {name} | {len(utts)} | {wer:.1%} | {cer:.1%} | {ms:.2f} |")
        if args.pocketsphinx and recognizer is None:
            print("bench: --pocketsphinx needs audio, not --synthetic", file=sys.stderr)
        elif args.pocketsphinx:
            from train.evaluate import pocketsphinx_transcriber

            ps = pocketsphinx_transcriber()
            hyps = []
            t0 = time.perf_counter()
            # The same readable entries as the streamasr rows, so refs and hyps align.
            for _, audio in readable_audio(manifest, args.limit, who="bench"):
                hyps.append(ps(audio.samples, audio.sample_rate))
            ms = 1000 * (time.perf_counter() - t0) / audio_s
            wer, cer = jiwer.wer(refs, hyps), jiwer.cer(refs, hyps)
            print(f"| pocketsphinx | {name} | {len(utts)} | {wer:.1%} | {cer:.1%} | {ms:.0f} |")
        if recognizer is not None:
            print(f"<!-- {name}: frontend+model {1000 * model_s / audio_s:.1f} ms/audio-s -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())
