"""python -m train: train a model and export it as a streamasr model file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import jax

from streamasr.model import artifact
from streamasr.model.config import CELLS, FRONTENDS
from train.configs.default import PRETRAINING, TrainConfig, get_config
from train.corpus.manifest import engine_list
from train.data import FEATURE_CACHE
from train.initial import load_start
from train.parallel import join_processes
from train.train import train_and_evaluate

# Flags whose dest is the TrainConfig field they set.
OPTIONS = ("time_budget_minutes", "deadline_minutes", "train_manifests", "valid_manifests",
           "pretrain", "pretrain_minutes", "pretrain_layers", "transcribed_fraction", "vae_path",
           "vae_frontend", "vae_augment", "vtlp", "channel_eq_db", "band_limit", "smooth_spectrum",
           "init_model", "ema_decay",
           "peak_learning_rate", "warmup_steps", "heldout_engines")  # fmt: skip
SHAPE = ("frontend", "cell", "rnn_layers", "rnn_hidden", "residual_blocks")  # ModelConfig


def parser(defaults: TrainConfig) -> argparse.ArgumentParser:
    """The flags. Every default shown is read from ``defaults`` (the recipe), none retyped."""
    d, m = defaults, defaults.model
    p = argparse.ArgumentParser(prog="train", description=__doc__)
    p.add_argument("--workdir", default="runs/default", help="checkpoints and logs")
    p.add_argument(
        "--feature-cache",
        default=FEATURE_CACHE,
        help="features, keyed by manifest content and feature config (shared between runs)",
    )
    p.add_argument(
        "--export",
        help="model file to write (default: WORKDIR/model.streamasr; the bundled model is "
        "replaced only when named, as bin/train's last stage does)",
    )
    p.add_argument(
        "--minutes",
        dest="time_budget_minutes",
        type=float,
        default=d.time_budget_minutes,
        metavar="MINUTES",
        help="wall-clock training budget (default %(default)s)",
    )
    p.add_argument(
        "--deadline",
        dest="deadline_minutes",
        type=float,
        default=d.deadline_minutes,
        metavar="MINUTES",
        help="stop training, validate and export by this many minutes after the start, "
        "featurising and compiling included (a lent machine's call limit; with --minutes the "
        "schedule fits whichever ends first, with --steps the run is cut there and resumes "
        "later; default %(default)s: none)",
    )
    p.add_argument(
        "--ema",
        dest="ema_decay",
        type=float,
        default=d.ema_decay,
        metavar="DECAY",
        help="validate and export a moving average of the weights with this decay per step "
        "(e.g. 0.999; the trained weights go to WORKDIR/latest_raw.streamasr; default "
        "%(default)s: off)",
    )
    p.add_argument(
        "--steps",
        type=int,
        help="train exactly this many steps, however long they take (--minutes is then not used)",
    )
    p.add_argument(
        "--train",
        dest="train_manifests",
        nargs="+",
        default=d.train_manifests,
        metavar="MANIFEST",
        help=f"training manifests (JSONL; default {' '.join(d.train_manifests)})",
    )
    p.add_argument(
        "--valid",
        dest="valid_manifests",
        nargs="+",
        default=d.valid_manifests,
        metavar="MANIFEST",
        help=f"validation manifests (JSONL; default {' '.join(d.valid_manifests)})",
    )
    p.add_argument(
        "--heldout-engines",
        type=engine_list,
        default=d.heldout_engines,
        metavar="ENGINE,...",
        help="engine families whose utterances training leaves out of its manifests "
        f"(default {','.join(d.heldout_engines)}; '' for none)",
    )
    p.add_argument(
        "--pretrain",
        choices=PRETRAINING,
        default=d.pretrain,
        help="autoencoder: denoising pretraining of the front end and lower layers "
        "first (default %(default)s)",
    )
    p.add_argument(
        "--pretrain-minutes",
        type=float,
        default=d.pretrain_minutes,
        help="its budget (default %(default)s)",
    )
    p.add_argument(
        "--pretrain-layers",
        type=int,
        default=d.pretrain_layers,
        help="recurrent layers it trains (default %(default)s)",
    )
    p.add_argument(
        "--transcribed-fraction",
        type=float,
        default=d.transcribed_fraction,
        help="share of training utterances whose transcripts CTC uses (the rest: "
        "audio only; default %(default)s)",
    )
    p.add_argument(
        "--vae",
        dest="vae_path",
        default=d.vae_path,
        help="a VAE from python -m train.vae (vae.msgpack)",
    )
    p.add_argument(
        "--vae-frontend",
        action="store_true",
        default=d.vae_frontend,
        help="frontend=vae, initialised from the VAE's encoder",
    )
    p.add_argument(
        "--vae-augment",
        type=float,
        default=d.vae_augment,
        help="share of batches re-drawn through the VAE (0 to 1; default %(default)s)",
    )
    p.add_argument(
        "--vtlp",
        type=float,
        default=d.vtlp,
        help="warp each training utterance's frequency axis by up to +-this share "
        "(e.g. 0.1; default %(default)s)",
    )
    p.add_argument(
        "--channel-eq",
        dest="channel_eq_db",
        type=float,
        default=d.channel_eq_db,
        help="pass each training utterance through a random smooth channel of up "
        "to +-this dB (default %(default)s)",
    )
    p.add_argument(
        "--band-limit",
        type=float,
        default=d.band_limit,
        help="share of training utterances cut to a random narrower band, most to a "
        "telephone's (0 to 1; default %(default)s)",
    )
    p.add_argument(
        "--smooth-spectrum",
        type=float,
        default=d.smooth_spectrum,
        help="share of training utterances smoothed across frequency to their spectral "
        "envelope, without the voice's harmonics (0 to 1; default %(default)s)",
    )
    p.add_argument(
        "--init",
        dest="init_model",
        default=d.init_model,
        help="fine-tune this model file (its shape, features and normalisation; fresh optimizer)",
    )
    p.add_argument(
        "--peak-lr",
        dest="peak_learning_rate",
        type=float,
        default=d.peak_learning_rate,
        help="AdamW peak (default %(default)s)",
    )
    p.add_argument(
        "--warmup-steps",
        type=int,
        default=d.warmup_steps,
        help="linear warmup to the peak, in steps (default %(default)s)",
    )
    hosts = p.add_argument_group(
        "several processes or hosts (jax.distributed; what is not given JAX reads from "
        "$JAX_COORDINATOR_ADDRESS or detects under Slurm, Open MPI, Cloud TPU)"
    )
    hosts.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address")
    hosts.add_argument("--num-processes", type=int, help="processes in the run")
    hosts.add_argument("--process-id", type=int, help="this process's number, from 0")
    hosts.add_argument(
        "--distributed",
        action="store_true",
        help="join a multi-process run whose parameters come from the environment",
    )
    # No argparse defaults here: with --init a shape flag given at all is an error.
    shape = p.add_argument_group("model shape (default: the bundled model's)")
    shape.add_argument(
        "--frontend", choices=FRONTENDS, help=f"time-subsampling front end (default {m.frontend})"
    )
    shape.add_argument("--cell", choices=CELLS, help=f"recurrent cell (default {m.cell})")
    shape.add_argument(
        "--rnn-layers", type=int, help=f"stacked recurrent layers (default {m.rnn_layers})"
    )
    shape.add_argument(
        "--rnn-hidden", type=int, help=f"units per recurrent layer (default {m.rnn_hidden})"
    )
    shape.add_argument(
        "--residual-blocks",
        type=int,
        help=f"stride-1 residual conv blocks (default {m.residual_blocks})",
    )
    return p


def config_from(args: argparse.Namespace, defaults: TrainConfig) -> TrainConfig:
    """The recipe with the flags applied (ValueError, naming the field, if invalid)."""
    if args.vae_frontend:
        args.frontend = "vae"
    shape = {name: getattr(args, name) for name in SHAPE if getattr(args, name) is not None}
    model, features = defaults.model, defaults.features
    if args.init_model:
        if shape:
            raise ValueError("--init takes the model's shape from the file")
        start = artifact.load(args.init_model)
        model, features = start.model, start.features
    changes: dict[str, Any] = {name: getattr(args, name) for name in OPTIONS}
    changes.update(model=model.replace(**shape), features=features)
    changes.update(train_manifests=tuple(changes["train_manifests"]),
                   valid_manifests=tuple(changes["valid_manifests"]))  # fmt: skip
    if args.steps is not None:
        changes.update(num_steps=args.steps, fixed_steps=True)
    return defaults.replace(**changes)


def export_path(args: argparse.Namespace) -> Path:
    """Where the trained model goes: --export, else the workdir's model.streamasr (never the
    bundled model unless named: an experiment must not overwrite what the daemon serves)."""
    return Path(args.export) if args.export else Path(args.workdir) / "model.streamasr"


def main(argv: list[str] | None = None) -> int:
    defaults = get_config()
    args = parser(defaults).parse_args(argv)
    try:  # before anything else touches JAX
        join_processes(args.coordinator, args.num_processes, args.process_id, args.distributed)
        config = config_from(args, defaults)
        missing = [m for m in config.train_manifests if not Path(m).exists()]
        if missing:
            raise ValueError(f"no such manifest: {', '.join(missing)}")
        load_start(config)  # the model and VAE files it names, before any work
    except ValueError as e:  # artifact.ArtifactError is one
        print(f"train: error: {e}", file=sys.stderr)
        return 2
    model = train_and_evaluate(config, args.workdir, args.feature_cache)
    if jax.process_index() == 0:  # written once, as the checkpoints
        export = export_path(args)
        artifact.save(model, export)
        print(f"wrote {export}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
