"""Is one model really better than another on a test set? A paired bootstrap over utterances.

``python -m train.compare A.streamasr B.streamasr MANIFEST... [--limit N]`` transcribes every
utterance with both models through the streaming path (greedy decoding) and prints each
model's CER, the difference B - A, and its 95% interval from resampling the utterances with
replacement (the paired bootstrap of Koehn 2004). When the interval excludes 0 the test set
separates the models; when it straddles 0 the difference is within what another draw of
utterances could give, which is what ablation tables on a few hundred utterances need.

``--send-rate 8000`` sends every utterance at 8 kHz, as a telephone client (Asterisk) does:
the audio is resampled down first and the recogniser resamples it back up, as the daemon
would. It measures how much a narrow channel costs a model on speech it otherwise reads.

``--decoder beam`` compares the beam search with its LM instead of greedy decoding, and
``--lm-b PATH`` gives side B another LM (``--lm`` side A's, default the bundled one): with the
same model file twice, that compares two LMs. Every run also prints the WER, with its own
interval from the same resamplings.

``--unheard-text TRAIN.jsonl...`` leaves out every utterance whose text one of those training
manifests holds. Corpora of different seeds draw their sentences from one pool in different
orders, so a held-out set's sentences (first in its seed's order) can turn up in another
seed's training text: a model that trained on them is not being tested on unheard speech.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import jiwer
import numpy as np
import soxr

from streamasr.decode.endpoint import EndpointConfig
from streamasr.decode.factory import DecoderChoice
from streamasr.engine.recognizer import Recognizer
from streamasr.model.artifact import ArtifactError
from train.corpus.manifest import (
    add_engines_argument,
    read_manifest,
    selected_records,
    with_audio,
)
from train.evaluate import transcribe_streaming


def character_edits(reference: str, hypothesis: str) -> int:
    """Substitutions + deletions + insertions between the two strings, by character."""
    if not hypothesis:
        return len(reference)
    out = jiwer.process_characters(reference, hypothesis)
    return int(out.substitutions + out.deletions + out.insertions)


def word_edits(reference: str, hypothesis: str) -> int:
    """Substitutions + deletions + insertions between the two strings, by word."""
    if not hypothesis.split():
        return len(reference.split())
    out = jiwer.process_words(reference, hypothesis)
    return int(out.substitutions + out.deletions + out.insertions)


def as_sent(samples: np.ndarray, rate: int, send_rate: int | None) -> tuple[np.ndarray, int]:
    """The audio as a client sending at ``send_rate`` would send it (None: unchanged)."""
    if send_rate is None or send_rate == rate:
        return samples, rate
    sent = soxr.resample(np.asarray(samples, np.float32), rate, send_rate, quality="HQ")
    return np.asarray(sent, np.float32), send_rate


def paired_bootstrap(
    edits_a: np.ndarray,
    edits_b: np.ndarray,
    lengths: np.ndarray,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """95% interval of CER(B) - CER(A) over resamplings of the utterances (pooled CER: the sum
    of edits over the sum of reference characters, as jiwer computes it; with word edits and
    word counts, the same for WER)."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, lengths.size, size=(resamples, lengths.size))
    chars = lengths[picks].sum(axis=1)
    diffs = (edits_b[picks].sum(axis=1) - edits_a[picks].sum(axis=1)) / chars
    low, high = np.percentile(diffs, [2.5, 97.5])
    return float(low), float(high)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="train.compare", description=__doc__.split("\n\n")[0])
    p.add_argument("model_a", help="model file A (the baseline)")
    p.add_argument("model_b", help="model file B")
    p.add_argument("manifests", nargs="+", type=Path, help="JSONL manifests")
    p.add_argument("--limit", type=int, help="first N utterances of each manifest")
    add_engines_argument(p)
    p.add_argument("--resamples", type=int, default=2000)
    p.add_argument(
        "--send-rate",
        type=int,
        choices=(8000, 11025, 16000, 22050, 44100, 48000),
        help="send every utterance at this sample rate (8000: as a telephone client)",
    )
    p.add_argument("--decoder", choices=("greedy", "beam"), default="greedy")
    p.add_argument("--lm", help="ARPA LM of the beam search (default: the bundled LM)")
    p.add_argument("--lm-b", help="side B's LM instead of --lm's (beam only)")
    p.add_argument(
        "--unheard-text",
        nargs="+",
        type=Path,
        default=[],
        metavar="TRAIN_MANIFEST",
        help="leave out utterances whose text these training manifests hold",
    )
    args = p.parse_args(argv)
    if args.decoder == "greedy" and (args.lm or args.lm_b):
        p.error("--lm and --lm-b choose the beam search's LM: add --decoder beam")
    decoders = [
        DecoderChoice(args.decoder, lm_path=args.lm),
        DecoderChoice(args.decoder, lm_path=args.lm_b or args.lm),
    ]
    try:
        models = [Recognizer.from_file(m, EndpointConfig()) for m in (args.model_a, args.model_b)]
        for choice, model in zip(decoders, models, strict=True):  # a bad LM fails here, once
            choice.make(model.frame_seconds, EndpointConfig())
    except (ArtifactError, OSError, ValueError) as e:
        print(f"compare: error: {e}", file=sys.stderr)
        return 2
    missing = [str(m) for m in [*args.manifests, *args.unheard_text] if not m.is_file()]
    if missing:
        print(f"compare: error: no such manifest: {', '.join(missing)}", file=sys.stderr)
        return 2
    trained_on = {r.text for m in args.unheard_text for r in read_manifest(m)}
    edits: list[list[int]] = [[], []]
    words: list[list[int]] = [[], []]
    lengths: list[int] = []
    word_counts: list[int] = []
    left_out = 0
    for manifest in args.manifests:
        # Left out before --limit and before any audio is read: N utterances means N compared.
        records = selected_records(manifest, args.engines)
        unheard = [r for r in records if r.text not in trained_on]
        left_out += len(records) - len(unheard)
        for record, audio in with_audio(unheard[: args.limit], manifest, "compare"):
            lengths.append(len(record.text))
            word_counts.append(len(record.text.split()))
            samples, rate = as_sent(audio.samples, audio.sample_rate, args.send_rate)
            for side, (model, choice) in enumerate(zip(models, decoders, strict=True)):
                hyp = transcribe_streaming(model, samples, rate, choice)
                edits[side].append(character_edits(record.text, hyp))
                words[side].append(word_edits(record.text, hyp))
    if args.unheard_text:
        print(f"left out {left_out} utterances whose text the training manifests hold")
    if not lengths:
        print("compare: error: no utterance left to compare", file=sys.stderr)
        return 2
    for name, sides, units in (("CER", edits, lengths), ("WER", words, word_counts)):
        a, b, n = (np.asarray(x, np.int64) for x in (*sides, units))
        low, high = paired_bootstrap(a, b, n, args.resamples)
        rate_a, rate_b = a.sum() / n.sum(), b.sum() / n.sum()
        verdict = "B better" if high < 0 else "A better" if low > 0 else "not separated"
        print(f"{name}_A={rate_a:.4f} {name}_B={rate_b:.4f} DIFF={rate_b - rate_a:+.4f} "
              f"CI95=[{low:+.4f},{high:+.4f}] N={n.size} {verdict}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
