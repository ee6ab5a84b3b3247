from __future__ import annotations

import json
import zipfile
from pathlib import Path

import jax
import numpy as np
import pytest

from streamasr.model import artifact
from streamasr.model.artifact import ArtifactError, ModelArtifact
from tests.conftest import TINY, make_artifact


@pytest.fixture()
def saved(tmp_path: Path, tiny_artifact: ModelArtifact) -> Path:
    path = tmp_path / "model.streamasr"
    artifact.save(tiny_artifact, path)
    return path


def test_round_trip_keeps_everything(saved: Path, tiny_artifact: ModelArtifact) -> None:
    loaded = artifact.load(saved)
    assert loaded.model == tiny_artifact.model
    assert loaded.features == tiny_artifact.features
    np.testing.assert_array_equal(loaded.stats.mean, tiny_artifact.stats.mean)
    np.testing.assert_array_equal(loaded.stats.std, tiny_artifact.stats.std)
    for a, b in zip(
        jax.tree_util.tree_leaves(loaded.params),
        jax.tree_util.tree_leaves(tiny_artifact.params),
        strict=True,
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_saved_file_is_readable_by_everyone(saved: Path) -> None:
    # other users (a daemon's service account) must be able to load a model someone trained
    assert saved.stat().st_mode & 0o777 == 0o644


def test_truncated_file_is_named(saved: Path) -> None:
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="truncated or corrupted") as e:
        artifact.load(saved)
    assert str(saved) in str(e.value)


def rewrite(path: Path, **replace: bytes) -> None:
    with zipfile.ZipFile(path) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    parts.update(replace)
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)


def meta_of(path: Path) -> dict[str, object]:
    with zipfile.ZipFile(path) as z:
        meta: dict[str, object] = json.loads(z.read("meta.json"))
    return meta


def test_corrupted_weights_fail_the_checksum(saved: Path) -> None:
    with zipfile.ZipFile(saved) as z:
        weights = bytearray(z.read("params.msgpack"))
    weights[len(weights) // 2] ^= 0xFF
    rewrite(saved, **{"params.msgpack": bytes(weights)})
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        artifact.load(saved)


def test_config_that_does_not_match_the_weights_is_named(saved: Path) -> None:
    meta = meta_of(saved)
    meta["model"] = TINY.replace(rnn_hidden=32).to_dict()
    rewrite(saved, **{"meta.json": json.dumps(meta).encode()})
    with pytest.raises(ArtifactError, match=r"do not match the model config.*lstm"):
        artifact.load(saved)


def test_newer_format_version_and_foreign_files_are_refused(saved: Path, tmp_path: Path) -> None:
    meta = meta_of(saved)
    meta["version"] = 99
    rewrite(saved, **{"meta.json": json.dumps(meta).encode()})
    with pytest.raises(ArtifactError, match="version 99 is not supported"):
        artifact.load(saved)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(ArtifactError, match="missing"):
        artifact.load(other)
    with pytest.raises(ArtifactError, match="no such model file"):
        artifact.load(tmp_path / "nothing.streamasr")


def test_mismatched_feature_dimensions_are_refused(tmp_path: Path) -> None:
    art = make_artifact()
    path = tmp_path / "m.streamasr"
    artifact.save(art, path)
    meta = meta_of(path)
    meta["features"] = {**meta["features"], "n_mels": 40}  # type: ignore[dict-item]
    rewrite(path, **{"meta.json": json.dumps(meta).encode()})
    with pytest.raises(ArtifactError, match="mismatched dimensions"):
        artifact.load(path)
