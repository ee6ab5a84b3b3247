"""One versioned, checksummed file that holds everything needed to recognize speech.

Layout: a zip archive with ``meta.json`` (format version, model and feature config,
normalisation statistics, vocabulary, SHA-256 of the weights) and ``params.msgpack``
(flax-serialised parameters). Loading checks each part and names what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization

from streamasr.features.mfcc import FeatureConfig
from streamasr.features.normalize import FeatureStats
from streamasr.model.config import ModelConfig
from streamasr.model.step import Params, init_params
from streamasr.vocab import SYMBOLS

FORMAT = "streamasr-model"
FORMAT_VERSION = 1
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent.parent / "assets" / "default.streamasr"


class ArtifactError(ValueError):
    """A model file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class ModelArtifact:
    model: ModelConfig
    features: FeatureConfig
    stats: FeatureStats
    params: Params
    vocab: tuple[str, ...] = SYMBOLS
    info: dict[str, Any] | None = None  # free-form provenance: corpus, steps, metrics


def save(artifact: ModelArtifact, path: str | os.PathLike[str]) -> None:
    """Write atomically: a crash mid-save never leaves a half-written model in place."""
    params_bytes = serialization.msgpack_serialize(
        jax.tree_util.tree_map(np.asarray, serialization.to_state_dict(artifact.params))
    )
    meta = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "model": artifact.model.to_dict(),
        "features": artifact.features.to_dict(),
        "stats": {"mean": artifact.stats.mean.tolist(), "std": artifact.stats.std.tolist()},
        "vocab": list(artifact.vocab),
        "params_sha256": hashlib.sha256(params_bytes).hexdigest(),
        "info": artifact.info or {},
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("meta.json", json.dumps(meta, indent=1))
            z.writestr("params.msgpack", params_bytes)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a model file is for everyone to read
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | os.PathLike[str] | None = None) -> ModelArtifact:
    """Load and verify a model file (the bundled default when path is None)."""
    where = Path(path) if path is not None else DEFAULT_MODEL_PATH
    if not where.is_file():
        raise ArtifactError(f"{where}: no such model file")
    try:
        with zipfile.ZipFile(where) as z:
            meta_bytes = z.read("meta.json")
            params_bytes = z.read("params.msgpack")
    except KeyError as e:
        raise ArtifactError(f"{where}: incomplete model file, missing {e.args[0]}") from e
    except (zipfile.BadZipFile, EOFError, OSError, zipfile.LargeZipFile) as e:
        raise ArtifactError(
            f"{where}: not a readable model file (truncated or corrupted): {e}"
        ) from e
    try:
        meta = json.loads(meta_bytes)
    except json.JSONDecodeError as e:
        raise ArtifactError(f"{where}: corrupted metadata: {e}") from e
    if meta.get("format") != FORMAT:
        raise ArtifactError(f"{where}: not a streamasr model (format {meta.get('format')!r})")
    if meta.get("version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{where}: model format version {meta.get('version')} is not supported "
            f"(this streamasr reads version {FORMAT_VERSION})"
        )
    if hashlib.sha256(params_bytes).hexdigest() != meta.get("params_sha256"):
        raise ArtifactError(f"{where}: weights checksum mismatch: the file is corrupted")
    try:
        model = ModelConfig.from_dict(meta["model"])
        features = FeatureConfig(**meta["features"])
        stats = FeatureStats(
            np.asarray(meta["stats"]["mean"], np.float32),
            np.asarray(meta["stats"]["std"], np.float32),
        )
        vocab = tuple(meta["vocab"])
    except (KeyError, TypeError, ValueError) as e:
        raise ArtifactError(f"{where}: invalid metadata: {e}") from e
    if vocab != SYMBOLS:
        raise ArtifactError(f"{where}: vocabulary {vocab} differs from this streamasr's {SYMBOLS}")
    if stats.dim != features.dim or model.input_dim != features.dim:
        raise ArtifactError(
            f"{where}: mismatched dimensions: features {features.dim}, "
            f"statistics {stats.dim}, model input {model.input_dim}"
        )
    params = _restore_params(where, model, params_bytes)
    return ModelArtifact(model, features, stats, params, vocab, meta.get("info") or {})


def _restore_params(where: Path, model: ModelConfig, params_bytes: bytes) -> Params:
    template = jax.eval_shape(lambda: init_params(model, jax.random.PRNGKey(0)))
    try:
        loaded = serialization.msgpack_restore(params_bytes)
    except Exception as e:  # msgpack raises several unrelated types on bad input
        raise ArtifactError(f"{where}: weights cannot be decoded: {e}") from e
    expected = _shapes(serialization.to_state_dict(template))
    found = _shapes(loaded)
    if expected != found:
        missing = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        wrong = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
        detail = "; ".join(
            part
            for part in (
                f"missing {missing[:3]}" if missing else "",
                f"unexpected {extra[:3]}" if extra else "",
                f"shape of {wrong[0]} is {found[wrong[0]]}, config says {expected[wrong[0]]}"
                if wrong
                else "",
            )
            if part
        )
        raise ArtifactError(f"{where}: weights do not match the model config: {detail}")
    return serialization.from_state_dict(template, loaded)


def _shapes(tree: Any, prefix: str = "") -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for key, value in tree.items():
        name = f"{prefix}/{key}"
        if isinstance(value, dict):
            out.update(_shapes(value, name))
        else:
            out[name] = tuple(np.shape(value))
    return out


def to_bytes(artifact: ModelArtifact) -> bytes:
    """The artifact as it would be written to disk (for tests and checksums)."""
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "m.streamasr"
        save(artifact, p)
        return p.read_bytes()


__all__ = ["DEFAULT_MODEL_PATH", "ArtifactError", "ModelArtifact", "load", "save", "to_bytes"]
