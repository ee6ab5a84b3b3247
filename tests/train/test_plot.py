"""train.plot: validation curves of several runs against wall-clock minutes."""

from __future__ import annotations

import json
from pathlib import Path

from train.logs import eval_points
from train.plot import main


def test_runs_are_plotted_by_minutes_and_a_bad_log_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    cer = "valid_heldout_voices/cer"
    rows = [{"kind": "train", "step": 1, "loss_per_char": 3.0},
            {"kind": "eval", "step": 500, "time": 120.0, cer: 0.5},
            {"kind": "eval", "step": 1000, "time": 300.0, cer: 0.4}]  # fmt: skip
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert eval_points(log, "valid_heldout_voices/cer") == [(2.0, 0.5), (5.0, 0.4)]
    png = tmp_path / "c.png"
    assert main([f"GRU={log}", f"LSTM={log}", "--out", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main([f"x={log}", "--out", str(png), "--metric", "valid_seen_voices/cer"]) == 2
    assert main([f"x={tmp_path / 'none.jsonl'}", "--out", str(png)]) == 2
