"""Fetching Kokoro's English voices from the npm registry: a real HTTP server on 127.0.0.1
stands in for registry.npmjs.org and serves a tarball shaped like kokoro-js's."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.train.registry_stub import serving, tarball
from train.corpus import kokoro_js


def _tarball() -> bytes:
    return tarball(
        {
            "package/voices/af_heart.bin": b"\x01" * 16,
            "package/voices/bm_george.bin": b"\x02" * 16,
            "package/dist/kokoro.js": b"console.log(1)",
            "package/README.md": b"# kokoro-js",
        }
    )


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """A one-file registry on loopback; yields the list of paths it was asked for."""
    body = _tarball()
    with serving(body) as (url, requests):
        monkeypatch.setattr(kokoro_js, "TARBALL_URL", f"{url}/k.tgz")
        monkeypatch.setattr(kokoro_js, "TARBALL_SHA256", hashlib.sha256(body).hexdigest())
        monkeypatch.setenv("STREAMASR_KOKORO_JS", str(tmp_path / "cache" / "voices"))
        yield requests


def test_fetch_unpacks_only_the_voices_once(registry: list[str]) -> None:
    where = kokoro_js.fetch(timeout=10)
    assert where == kokoro_js.voices_dir()
    assert sorted(p.name for p in where.iterdir()) == ["af_heart.bin", "bm_george.bin"]
    assert (where / "bm_george.bin").read_bytes() == b"\x02" * 16
    assert kokoro_js.available()
    kokoro_js.fetch(timeout=10)
    assert registry == ["/k.tgz"]  # the second call found them and downloaded nothing


def test_a_tarball_with_another_checksum_is_refused_and_leaves_nothing(
    registry: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kokoro_js, "TARBALL_SHA256", "0" * 64)
    with pytest.raises(RuntimeError, match="sha256"):
        kokoro_js.fetch(timeout=10)
    assert not kokoro_js.available() and not kokoro_js.voices_dir().exists()
    assert kokoro_js.main() == 1  # the command says so in one line and fails
