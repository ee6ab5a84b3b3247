"""Training curves: one run's (``plot_curves``, drawn by the trainer at every validation)
and the validation CER of several runs against wall-clock time, on one figure.

``python -m train.plot LABEL=runs/x/log.jsonl ... --out curves.png [--metric KEY]`` compares
runs minute for minute, which is fair between models whose steps cost different amounts
(``docs/architectures.md``: GRU against LSTM).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from train.logs import eval_points, log_records


def plot_curves(log_path: Path, png_path: Path) -> None:
    """One run: training loss per step, and every validation CER per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train_rows = log_records(log_path, "train")
    eval_rows = log_records(log_path, "eval")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot([r["step"] for r in train_rows], [r["loss_per_char"] for r in train_rows])
    ax1.set(xlabel="step", ylabel="CTC loss per character", yscale="log", title="training loss")
    for key in sorted({k for r in eval_rows for k in r if k.endswith("/cer")}):
        ax2.plot([r["step"] for r in eval_rows], [r[key] for r in eval_rows], label=key)
    ax2.set(xlabel="step", ylabel="greedy CER", title="validation")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="train.plot", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="LABEL=path/to/log.jsonl")
    p.add_argument("--out", type=Path, required=True, help="PNG to write")
    p.add_argument("--metric", default="valid_heldout_voices/cer")
    args = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for run in args.runs:
        label, _, path = run.rpartition("=")
        points = eval_points(Path(path), args.metric) if Path(path).is_file() else []
        if not points:
            print(f"train.plot: error: no {args.metric} in {path}", file=sys.stderr)
            return 2
        ax.plot(*zip(*points, strict=True), marker=".", label=label or path)
    ax.set(xlabel="wall-clock minutes", ylabel=args.metric, title="validation against time")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
