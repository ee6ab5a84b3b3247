"""python -m train: train a model and export it as a streamasr model file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streamasr.model import artifact
from streamasr.model.config import CELLS, FRONTENDS
from train.configs.default import get_config
from train.data import FEATURE_CACHE
from train.train import train_and_evaluate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="train", description=__doc__)
    p.add_argument("--workdir", default="runs/default", help="checkpoints and logs")
    p.add_argument(
        "--feature-cache",
        default=FEATURE_CACHE,
        help="features, keyed by manifest content and feature config (shared between runs)",
    )
    p.add_argument("--export", default=str(artifact.DEFAULT_MODEL_PATH), help="model file to write")
    p.add_argument("--minutes", type=float, help="wall-clock training budget")
    p.add_argument(
        "--steps", type=int, help="train exactly this many steps (the budget then only caps it)"
    )
    p.add_argument("--train", nargs="+", help="training manifests (JSONL)")
    p.add_argument("--valid", nargs="+", help="validation manifests (JSONL)")
    p.add_argument(
        "--pretrain",
        choices=("none", "autoencoder"),
        help="denoising-autoencoder pretraining of the front end and lower layers first",
    )
    p.add_argument("--pretrain-minutes", type=float, help="its budget (default 10)")
    p.add_argument("--pretrain-layers", type=int, help="recurrent layers it trains (default 1)")
    p.add_argument(
        "--transcribed-fraction",
        type=float,
        help="share of training utterances whose transcripts CTC uses (the rest: audio only)",
    )
    p.add_argument("--vae", dest="vae_path", help="a VAE from python -m train.vae (vae.msgpack)")
    p.add_argument(
        "--vae-frontend",
        action="store_true",
        default=None,
        help="frontend=vae, initialised from the VAE's encoder",
    )
    p.add_argument(
        "--vae-augment", type=float, help="share of batches re-drawn through the VAE (0 to 1)"
    )
    p.add_argument(
        "--vtlp",
        type=float,
        help="warp each training utterance's frequency axis by up to +-this share (e.g. 0.1)",
    )
    p.add_argument(
        "--channel-eq",
        dest="channel_eq_db",
        type=float,
        help="pass each training utterance through a random smooth channel of up to +-this dB",
    )
    p.add_argument(
        "--init",
        dest="init_model",
        help="fine-tune this model file (its shape, features and normalisation; fresh optimizer)",
    )
    p.add_argument("--peak-lr", dest="peak_learning_rate", type=float, help="AdamW peak (1.5e-3)")
    p.add_argument(
        "--warmup-steps", type=int, help="linear warmup to the peak, in steps (default 400)"
    )
    shape = p.add_argument_group("model shape (default: the bundled model's)")
    shape.add_argument("--frontend", choices=FRONTENDS, help="time-subsampling front end")
    shape.add_argument("--cell", choices=CELLS, help="recurrent cell")
    shape.add_argument("--rnn-layers", type=int, help="stacked recurrent layers")
    shape.add_argument("--rnn-hidden", type=int, help="units per recurrent layer")
    shape.add_argument("--residual-blocks", type=int, help="stride-1 residual conv blocks")
    args = p.parse_args(argv)
    config = get_config()
    if args.vae_frontend:
        args.frontend = "vae"
    changes = {
        name: getattr(args, name)
        for name in ("frontend", "cell", "rnn_layers", "rnn_hidden", "residual_blocks")
        if getattr(args, name) is not None
    }
    options = {
        name: getattr(args, name)
        for name in (
            "pretrain",
            "pretrain_minutes",
            "pretrain_layers",
            "transcribed_fraction",
            "vae_path",
            "vae_frontend",
            "vae_augment",
            "vtlp",
            "channel_eq_db",
            "init_model",
            "peak_learning_rate",
            "warmup_steps",
        )
        if getattr(args, name) is not None
    }
    if args.init_model:
        if changes:
            print("train: error: --init takes the model's shape from the file", file=sys.stderr)
            return 2
        try:
            start = artifact.load(args.init_model)
        except artifact.ArtifactError as e:
            print(f"train: error: {e}", file=sys.stderr)
            return 2
        config = config.replace(model=start.model, features=start.features)
    try:
        config = config.replace(model=config.model.replace(**changes), **options)
    except ValueError as e:
        print(f"train: error: {e}", file=sys.stderr)
        return 2
    if args.minutes is not None:
        config = config.replace(time_budget_minutes=args.minutes)
    if args.steps is not None:
        config = config.replace(num_steps=args.steps, fixed_steps=True)
    if args.train:
        config = config.replace(train_manifests=tuple(args.train))
    if args.valid:
        config = config.replace(valid_manifests=tuple(args.valid))
    missing = [m for m in config.train_manifests if not Path(m).exists()]
    if missing:
        print(f"train: error: no such manifest: {', '.join(missing)}", file=sys.stderr)
        return 2
    model = train_and_evaluate(config, args.workdir, args.feature_cache)
    artifact.save(model, args.export)
    print(f"wrote {args.export}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
