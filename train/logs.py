"""The trainer's JSON log (``log.jsonl``): one record per line, each with a ``kind``.

``train.train`` writes it ("train" every 50 steps, "eval" at every validation, "pretrain"
during autoencoder pretraining); the plots, ``train.plot`` and ``bin/ablate`` read it here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def log_records(log: Path, kind: str) -> list[dict[str, Any]]:
    """The log's records of one kind ("train", "eval", "pretrain"), in order."""
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("kind") == kind]


def eval_points(log: Path, metric: str) -> list[tuple[float, float]]:
    """(minutes, value) of every validation record that has `metric`."""
    return [(r["time"] / 60, float(r[metric])) for r in log_records(log, "eval") if metric in r]
