"""`python -m train.corpus`: generate the synthetic TTS corpus (see train/corpus/synth.py)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from train.corpus.plan import TEXTS, CorpusConfig, plan
from train.corpus.synth import TEXT_BUILDERS, generate, sentences_for
from train.corpus.voices import ALL_ENGINES, ENGINES, installed_voices


def parse_args(argv: list[str] | None = None) -> CorpusConfig:
    p = argparse.ArgumentParser(prog="python -m train.corpus", description=__doc__)
    p.add_argument("--out", type=Path, required=True, help="output directory")
    size = p.add_mutually_exclusive_group(required=True)
    size.add_argument("--hours", type=float, help="estimated hours of clean training audio")
    size.add_argument("--sentences", type=int, help="number of clean training utterances")
    p.add_argument("--heldout", type=int, default=300, help="held-out-voice validation utterances")
    p.add_argument("--seen", type=int, default=300, help="seen-voice validation utterances")
    p.add_argument("--augmented-copies", type=int, default=1, help="augmented copies per train utt")
    p.add_argument("--workers", type=int, default=2, help="worker processes")
    p.add_argument("--seed", type=int, default=0, help="seed of the whole corpus")
    p.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help=f"comma-separated subset of {','.join(ALL_ENGINES)} (default: the classic ones)",
    )
    p.add_argument(
        "--train-offset",
        type=int,
        default=0,
        help="start the training sentences this far into the sentence pool",
    )
    p.add_argument(
        "--finished-only",
        action="store_true",
        help="only write the manifests of the utterances already made (synthesise nothing; "
        "failures.txt and summary.json stay those of the last run that synthesised)",
    )
    p.add_argument(
        "--text",
        choices=TEXTS,
        default=TEXTS[0],
        help="what the voices speak: the training text, or WordNet's example sentences "
        "(evaluation text, never trained on: needs --sentences 0)",
    )
    a = p.parse_args(argv)
    config = CorpusConfig(
        out=a.out,
        seed=a.seed,
        train_hours=a.hours,
        train_sentences=a.sentences,
        heldout_sentences=a.heldout,
        seen_sentences=a.seen,
        augmented_copies=a.augmented_copies,
        workers=a.workers,
        engines=tuple(e for e in a.engines.split(",") if e),
        train_offset=a.train_offset,
        finished_only=a.finished_only,
        text=a.text,
    )
    try:
        config.validate()
    except ValueError as e:
        p.error(str(e))
    return config


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = parse_args(argv)
    voices = installed_voices(config.engines)
    if not voices:
        print("no TTS engine installed: run train/setup_tts.sh", file=sys.stderr)
        return 1
    sentences = sentences_for(config.out, config.seed, TEXT_BUILDERS[config.text])
    try:
        plan(sentences, voices, config)  # what cannot be planned is one line, not a traceback
    except ValueError as e:
        print(f"python -m train.corpus: error: {e}", file=sys.stderr)
        return 2
    summary = generate(config, voices, sentences)
    print(json.dumps(summary.to_dict(voices, sentences), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
