"""A wider copy of a trained LSTM model that computes exactly what the original does.

``python -m train.widen IN OUT --rnn-hidden N`` adds recurrent units to every LSTM layer.
The new units read everything (input and every unit's state), but nothing reads them yet:
their weights into the old units' gates, the next layer's gates of old units and the output
layer are zero. So the wider model's logits equal the original's at step 0, and fine-tuning
(``python -m train --init OUT``) starts from what the small model knows instead of from
scratch, the one way a scaling study fits the hours a CPU has. Gradients reach the new
units as soon as the layers reading them move off zero (after the first update)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from streamasr.model import artifact
from streamasr.model.artifact import ModelArtifact
from streamasr.model.step import Params

GATES = 4  # an LSTM's gate blocks along its 4*hidden axis: input, forget, cell, output
FORGET = 1  # which block is the forget gate (its bias starts at 1, as in a fresh layer)


def _gate_columns(old: int, new: int) -> np.ndarray:
    """Where each of an old layer's 4*old gate columns goes among the wide layer's 4*new."""
    return np.concatenate([np.arange(old) + g * new for g in range(GATES)])


def _widen_lstm(
    layer: dict[str, np.ndarray], in_old: int, in_new: int, new: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    w_in = np.asarray(layer["w_in"], np.float32)
    w_h = np.asarray(layer["w_h"], np.float32)
    bias = np.asarray(layer["bias"], np.float32)
    old = w_h.shape[0]
    keep = _gate_columns(old, new)
    # New gate columns drawn as a fresh layer's would be (lecun normal / unit-scale recurrent).
    wide_in = (rng.standard_normal((in_new, GATES * new)) / np.sqrt(in_new)).astype(np.float32)
    wide_h = (rng.standard_normal((new, GATES * new)) / np.sqrt(new)).astype(np.float32)
    wide_bias = np.zeros(GATES * new, np.float32)
    wide_bias[FORGET * new : (FORGET + 1) * new] = 1.0
    # Old units' gates: their trained weights from old inputs, zero from anything new.
    wide_in[:, keep] = 0.0
    wide_in[:in_old, keep] = w_in
    wide_h[:, keep] = 0.0
    wide_h[:old, keep] = w_h
    wide_bias[keep] = bias
    return {"w_in": wide_in, "w_h": wide_h, "bias": wide_bias}


def widen_params(params: Params, hidden: int, rnn_layers: int, seed: int = 0) -> Params:
    """``params`` of an LSTM model with every recurrent layer ``hidden`` units wide."""
    rng = np.random.default_rng(seed)
    wide = dict(params)
    in_old = in_new = int(np.shape(params["lstm0"]["w_in"])[0])
    for layer in range(rnn_layers):
        name = f"lstm{layer}"
        old = int(np.shape(params[name]["w_h"])[0])
        if hidden < old:
            raise ValueError(f"{name} has {old} units; cannot narrow it to {hidden}")
        wide[name] = _widen_lstm(params[name], in_old, in_new, hidden, rng)
        in_old, in_new = old, hidden
    kernel = np.asarray(params["output"]["kernel"], np.float32)
    wide_kernel = np.zeros((hidden, kernel.shape[1]), np.float32)
    wide_kernel[: kernel.shape[0]] = kernel
    wide["output"] = {"kernel": wide_kernel, "bias": np.asarray(params["output"]["bias"])}
    return wide


def widen(start: ModelArtifact, hidden: int, seed: int = 0) -> ModelArtifact:
    if start.model.cell != "lstm":
        raise ValueError(f"only LSTM models can be widened, this one is {start.model.cell!r}")
    info = dict(start.info or {})
    info["widened_from"] = start.model.rnn_hidden
    return ModelArtifact(
        start.model.replace(rnn_hidden=hidden),
        start.features,
        start.stats,
        widen_params(start.params, hidden, start.model.rnn_layers, seed),
        start.vocab,
        info,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.widen", description=__doc__)
    parser.add_argument("model", type=Path, help="the trained LSTM model file")
    parser.add_argument("out", type=Path, help="the wider model file to write")
    parser.add_argument("--rnn-hidden", type=int, required=True, help="units per layer")
    parser.add_argument("--seed", type=int, default=0, help="draws of the new units' weights")
    args = parser.parse_args(argv)
    try:  # ArtifactError is a ValueError: an unreadable file, a narrowing, a GRU
        wide = widen(artifact.load(args.model), args.rnn_hidden, args.seed)
    except ValueError as e:
        parser.error(str(e))
    artifact.save(wide, args.out)
    print(f"{args.out}: rnn_hidden {wide.model.rnn_hidden} (from {args.model})")


if __name__ == "__main__":
    main()
