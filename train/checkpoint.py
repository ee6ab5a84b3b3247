"""The training checkpoint: one msgpack file, written atomically at every validation.

Fields: params and opt_state (flax state dicts), step, total_steps (the schedule's length,
fixed when it was fitted, so a resumed run keeps its learning-rate curve) and elapsed
(wall-clock seconds spent, counted against the time budget); with weight averaging on, ema
(the averaged weights, shaped like params)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jax
import optax
from flax import serialization

from streamasr.model.step import Params


@dataclass(frozen=True)
class Checkpoint:
    params: Params
    opt_state: optax.OptState
    step: int  # optimizer steps taken
    total_steps: int  # length of the learning-rate schedule
    elapsed: float  # seconds of training so far
    ema: Params | None = None  # the moving average of params (--ema), if the run keeps one


def save(path: Path, checkpoint: Checkpoint) -> None:
    payload = {
        "params": serialization.to_state_dict(jax.device_get(checkpoint.params)),
        "opt_state": serialization.to_state_dict(jax.device_get(checkpoint.opt_state)),
        "step": checkpoint.step,
        "total_steps": checkpoint.total_steps,
        "elapsed": checkpoint.elapsed,
    }
    if checkpoint.ema is not None:
        payload["ema"] = serialization.to_state_dict(jax.device_get(checkpoint.ema))
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(serialization.msgpack_serialize(payload))
    tmp.replace(path)


def restore(path: Path, params: Params, opt_state: optax.OptState) -> Checkpoint:
    """The checkpoint at path, its trees shaped like ``params`` and ``opt_state``."""
    restored = serialization.msgpack_restore(path.read_bytes())
    ema = restored.get("ema")
    return Checkpoint(
        params=serialization.from_state_dict(params, restored["params"]),
        opt_state=serialization.from_state_dict(opt_state, restored["opt_state"]),
        step=int(restored["step"]),
        total_steps=int(restored["total_steps"]),
        elapsed=float(restored["elapsed"]),
        ema=None if ema is None else serialization.from_state_dict(params, ema),
    )
