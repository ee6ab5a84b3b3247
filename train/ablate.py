"""Which encoder options earn their keep: train every variant on the same data, for the
same number of steps, from the same seed, and measure each the same way.

``python -m train.ablate [--steps N] [--only NAME,...]`` (``bin/ablate``) trains each variant
with ``python -m train`` in its own work directory under ``runs/ablate/``, evaluates it
through the streaming path (``train.evaluate``: held-out voices and the real-speech
development set, greedy decoding), times its streaming step on one pinned core (real-time
factor at batch 1, real-time streams per core at batch 128), and writes
``docs/architectures.md`` with the table and each variant's loss/CER curves.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from train.logs import log_records

VAE_PATH = "runs/vae/vae.msgpack"
# name -> extra `python -m train` flags (the default model has none)
VARIANTS: dict[str, tuple[str, ...]] = {
    "default (conv, 1 residual, 3x256 LSTM)": (),
    "no front end (frame stacking)": ("--frontend", "none"),
    "conv + max-pool": ("--frontend", "conv_pool"),
    "2-D conv subsampling": ("--frontend", "conv2d"),
    "no residual block": ("--residual-blocks", "0"),
    "3 residual blocks": ("--residual-blocks", "3"),
    "GRU": ("--cell", "gru"),
    "plain RNN": ("--cell", "rnn"),
    "AE pretraining": ("--pretrain", "autoencoder"),
    "10% transcripts": ("--transcribed-fraction", "0.1"),
    "10% transcripts + AE pretraining": (
        "--transcribed-fraction",
        "0.1",
        "--pretrain",
        "autoencoder",
    ),
    "VAE augmentation": ("--vae", VAE_PATH, "--vae-augment", "0.5"),
    "VAE front end": ("--vae", VAE_PATH, "--vae-frontend"),
    "VTLP (frequency warp up to 10%)": ("--vtlp", "0.1"),
}
DISCUSSION = "## What the figures say"  # the report's hand-written part starts here
CURVES = "## Curves"
SUMMARY = re.compile(r"WER=([\d.]+) CER=([\d.]+) N=(\d+)")


@dataclass(frozen=True)
class Row:
    name: str
    parameters: int
    train_minutes: float  # CTC training
    pretrain_minutes: float  # autoencoder pretraining before it (0 without)
    heldout: tuple[float, float]  # (WER, CER)
    real: tuple[float, float]
    rtf_batch1: float
    streams_per_core: float
    curves: str  # path of the curves PNG, relative to docs/


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def evaluate(model: Path, manifest: str, limit: int | None) -> tuple[float, float]:
    cmd = _python("-m", "train.evaluate", "--decoder", "greedy", "--model", str(model), manifest)
    if limit:
        cmd += ["--limit", str(limit)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    found = SUMMARY.search(out.strip().splitlines()[-1])
    if found is None:
        raise RuntimeError(f"no summary line from train.evaluate: {out[-300:]}")
    return float(found.group(1)), float(found.group(2))


def measure_step(model: Path) -> tuple[float, float, int]:
    """(RTF at batch 1, real-time streams per core at batch 128 x 4 steps, parameters) of
    the model's streaming step, in a process pinned to one core with one XLA thread."""
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    }
    code = (
        "import json, sys; from train.ablate import _measure; "
        "print(json.dumps(_measure(sys.argv[1])))"
    )
    cmd = ["taskset", "-c", "0", *_python("-c", code, str(model))]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    rtf, streams, parameters = json.loads(out.strip().splitlines()[-1])
    return float(rtf), float(streams), int(parameters)


def _measure(path: str) -> tuple[float, float, int]:
    import jax
    import jax.numpy as jnp

    from streamasr.model import artifact
    from streamasr.model.encoder import init_state
    from streamasr.model.step import make_step

    model = artifact.load(path)
    cfg, params = model.model, model.params
    step = make_step(cfg)
    step_seconds = cfg.frames_per_step * 0.01

    def seconds_per_call(batch: int, steps: int) -> float:
        state = init_state(cfg, batch)
        frames = jnp.asarray(
            np.random.default_rng(0)
            .normal(size=(batch, steps * cfg.frames_per_step, cfg.input_dim))
            .astype(np.float32)
        )
        step(params, state, frames)[0].block_until_ready()
        # Median over 7 blocks of >= 0.2 s each: a batch-1 call is well under a millisecond,
        # and single calls jitter by tens of percent.
        calls, t = 0, time.perf_counter()
        while time.perf_counter() - t < 0.2:
            step(params, state, frames)[0].block_until_ready()
            calls += 1
        blocks = []
        for _ in range(7):
            t = time.perf_counter()
            for _ in range(calls):
                step(params, state, frames)[0].block_until_ready()
            blocks.append((time.perf_counter() - t) / calls)
        return float(sorted(blocks)[len(blocks) // 2])

    rtf = seconds_per_call(1, 1) / step_seconds
    streams = 128 * 4 * step_seconds / seconds_per_call(128, 4)
    parameters = sum(int(np.size(x)) for x in jax.tree_util.tree_leaves(params))
    return rtf, streams, parameters


def training_minutes(log: Path) -> float:
    """Wall-clock minutes of CTC training, from the trainer's last validation record."""
    times = [r["time"] for r in log_records(log, "eval")]
    return float(times[-1]) / 60 if times else float("nan")


def pretraining_minutes(log: Path) -> float:
    """Wall-clock minutes of autoencoder pretraining (0 if the run had none)."""
    times = [r["time"] for r in log_records(log, "pretrain") if "time" in r]
    return float(times[-1]) / 60 if times else 0.0


def run_variant(
    name: str,
    flags: Sequence[str],
    workdir: Path,
    steps: int,
    heldout: str,
    real: str,
    limit: int | None,
    extra: Sequence[str] = (),
) -> Row:
    workdir.mkdir(parents=True, exist_ok=True)
    model = workdir / "model.streamasr"
    if not model.exists():
        cmd = _python("-m", "train", "--workdir", str(workdir), "--steps", str(steps))
        cmd += ["--minutes", "100000", "--export", str(model), *flags, *extra]
        with (workdir / "train.log").open("w") as log:
            subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=True)
    minutes = training_minutes(workdir / "log.jsonl")
    pretrain = pretraining_minutes(workdir / "log.jsonl")
    # A finished variant is not retrained, and its accuracy (deterministic) is kept; the step
    # is always timed again, so a re-run on a quiet machine refreshes every timing.
    rtf, streams, parameters = measure_step(model)
    scores = workdir / "scores.json"
    asked = {"heldout": heldout, "real": real, "limit": limit}
    kept = json.loads(scores.read_text()) if scores.is_file() else {}
    if kept.get("asked") != asked:
        kept = {
            "asked": asked,
            "heldout": evaluate(model, heldout, limit),
            "real": evaluate(model, real, None),
        }
        scores.write_text(json.dumps(kept))
    return Row(
        name,
        parameters,
        minutes,
        pretrain,
        (kept["heldout"][0], kept["heldout"][1]),
        (kept["real"][0], kept["real"][1]),
        rtf,
        streams,
        str(workdir / "curves.png"),
    )


def plot_losses(rows: Sequence[Row], png: Path, smooth: int = 4) -> bool:
    """Every variant's training loss (a moving average of `smooth` logged points) on one
    figure, from the log.jsonl beside its curves; False when no variant has a log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5))
    plotted = 0
    for r in rows:
        log = Path(r.curves).parent / "log.jsonl"
        if not log.is_file():
            continue
        train = log_records(log, "train")
        if len(train) < smooth:
            continue
        loss = np.convolve([t["loss_per_char"] for t in train], np.ones(smooth) / smooth, "valid")
        style = "-" if plotted < 10 else "--"  # the colour cycle repeats after ten
        ax.plot([t["step"] for t in train][smooth - 1 :], loss, style, label=r.name, linewidth=1)
        plotted += 1
    if plotted:
        ax.set(xlabel="step", ylabel="CTC loss per character", yscale="log")
        ax.set_title(f"training loss (moving average of {smooth} logged points)")
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        fig.savefig(png, dpi=90)
    plt.close(fig)
    return plotted > 0


def write_report(rows: Sequence[Row], steps: int, path: Path) -> None:
    """The table, and each variant's curves copied next to the report."""
    figures = path.parent / "architectures"
    figures.mkdir(parents=True, exist_ok=True)
    lines = [
        "| variant | parameters | training min | held-out WER | held-out CER | real WER "
        "| real CER | RTF batch 1 | streams/core |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.name} | {r.parameters / 1e6:.2f} M | {r.train_minutes:.0f}"
            + (f" + {r.pretrain_minutes:.0f} pretraining " if r.pretrain_minutes else " ")
            + f"| {r.heldout[0]:.1%} | {r.heldout[1]:.1%} | {r.real[0]:.1%} | {r.real[1]:.1%} "
            f"| {r.rtf_batch1:.4f} | {r.streams_per_core:.0f} |"
        )
    curves = []
    if plot_losses(rows, figures / "losses.png"):
        curves.append(
            "All variants' training loss, one figure: ![losses](architectures/losses.png)\n"
        )
    for r in rows:
        if Path(r.curves).is_file():
            slug = re.sub(r"[^a-z0-9]+", "-", r.name.lower()).strip("-")
            shutil.copy(r.curves, figures / f"{slug}.png")
            curves.append(f"- {r.name}: ![curves](architectures/{slug}.png)")
    # What a person wrote about the figures (from DISCUSSION on) survives a re-run.
    old = path.read_text() if path.is_file() else ""
    start = old.find(DISCUSSION)
    end = old.find(CURVES, start)
    discussion = "" if start < 0 else old[start : end if end >= 0 else len(old)]
    path.write_text(
        "# Encoder options: which earn their keep\n\n"
        f"Every variant: the same corpus, {steps} steps, seed 0, greedy decoding "
        "(`bin/ablate`).\n\n"
        + "\n".join(lines)
        + "\n\n"
        + discussion.rstrip("\n")
        + ("\n\n" if discussion else "")
        + CURVES
        + "\n\n"
        + "\n".join(curves)
        + "\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ablate", description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=2000, help="training steps per variant")
    p.add_argument("--only", help="comma-separated variant names (default: all)")
    p.add_argument("--out", type=Path, default=Path("runs/ablate"))
    p.add_argument("--report", type=Path, default=Path("docs/architectures.md"))
    p.add_argument("--heldout", default="data/corpus/valid_heldout_voices.jsonl")
    p.add_argument("--real", default="data/dev_real.jsonl")
    p.add_argument("--limit", type=int, default=200, help="held-out utterances evaluated")
    p.add_argument(
        "--pretrain-minutes",
        type=float,
        default=3.0,
        help="autoencoder pretraining budget of the AE variants",
    )
    p.add_argument("--train", nargs="+", help="training manifests (default: the corpus)")
    p.add_argument("--valid", nargs="+", help="validation manifests (default: the corpus)")
    args = p.parse_args(argv)
    names = list(VARIANTS) if not args.only else [n.strip() for n in args.only.split(",")]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        print(
            f"ablate: error: unknown variants {unknown}; known: {list(VARIANTS)}", file=sys.stderr
        )
        return 2
    extra = ["--pretrain-minutes", str(args.pretrain_minutes)]
    extra += [*(["--train", *args.train] if args.train else [])]
    extra += [*(["--valid", *args.valid] if args.valid else [])]
    if any(VAE_PATH in VARIANTS[n] for n in names) and not Path(VAE_PATH).is_file():
        subprocess.run(_python("-m", "train.vae", "--workdir", "runs/vae"), check=True)
    rows = []
    for name in names:
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        print(f"== {name}", flush=True)
        row = run_variant(
            name,
            VARIANTS[name],
            args.out / slug,
            args.steps,
            args.heldout,
            args.real,
            args.limit,
            extra,
        )
        print(row, flush=True)
        rows.append(row)
        write_report(rows, args.steps, args.report)
    print(f"wrote {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
