"""Validation CER of several training runs against wall-clock time, on one figure.

``python -m train.plot LABEL=runs/x/log.jsonl ... --out curves.png [--metric KEY]`` compares
runs minute for minute, which is fair between models whose steps cost different amounts
(``docs/architectures.md``: GRU against LSTM).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from train.logs import eval_points


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
