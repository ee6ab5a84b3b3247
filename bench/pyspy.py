"""Profiles of a running process with py-spy: ``bin/bench pyspy FILE`` prints the top of a
speedscope profile that ``bin/bench load --profile`` wrote.

py-spy (PyPI ``py-spy``) samples the stacks of another process. By default it reads them
without stopping it (``--nonblocking``), Python frames only: measured here, ``--native``
(which must pause the process for every sample to unwind its C and C++ frames, of its
many XLA threads too) cut the daemon from ~165% CPU to ~15% at 50 streams, so that profile
described a starved server. ``native=True`` keeps that mode for a short look at what
compiled code a Python function spends its time in.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

PY_SPY = "py-spy"  # the PyPI package (and command)
PROFILE_RATE = 100  # samples per second: light enough not to move the figures much


def find_py_spy() -> str:
    """The py-spy command (next to this interpreter, or on PATH); SystemExit naming the
    package when it is not installed."""
    beside = Path(sys.executable).parent / PY_SPY
    found = str(beside) if beside.is_file() else shutil.which(PY_SPY)
    if found is None:
        raise SystemExit(
            f"load: --profile needs the {PY_SPY} package (PyPI '{PY_SPY}'), which is not "
            f"installed: pip install {PY_SPY} into {sys.prefix}"
        )
    return found


def top_functions(profile: dict[str, Any], n: int) -> list[tuple[str, float, float]]:
    """From a speedscope profile (py-spy's, one sampled profile per thread): the ``n``
    functions with the largest share of all samples, as (name, self share, total share);
    self counts samples whose innermost frame is the function, total those with it anywhere
    on the stack (once per sample). Ranked by self share."""
    frames = profile["shared"]["frames"]
    names = [
        f"{f['name']} ({Path(f['file']).name}:{f['line']})" if f.get("file") else f["name"]
        for f in frames
    ]
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    total = 0.0
    for thread in profile["profiles"]:
        for stack, weight in zip(thread["samples"], thread["weights"], strict=True):
            if not stack:
                continue
            total += weight
            own[names[stack[-1]]] += weight
            for name in {names[i] for i in stack}:
                anywhere[name] += weight
    if not total:
        return []
    return [(name, w / total, anywhere[name] / total) for name, w in own.most_common(n)]


def by_thread(profile: dict[str, Any], n: int) -> list[tuple[str, list[tuple[str, float, float]]]]:
    """``top_functions`` of each thread on its own samples, as (thread name, its top)."""
    return [
        (thread.get("name", "?"), top_functions({**profile, "profiles": [thread]}, n))
        for thread in profile["profiles"]
    ]


def start_profiler(
    pid: int, out: Path, workers: int, native: bool = False, gil: bool = False
) -> subprocess.Popen[bytes]:
    """py-spy recording ``pid``. ``gil``: only the thread holding the GIL is sampled, so
    the shares are of the interpreter's time, the resource the daemon's threads share."""
    cmd = [find_py_spy(), "record", "--format", "speedscope", "-o", str(out)]
    cmd += ["--native"] if native else ["--nonblocking"]
    cmd += ["--gil"] if gil else []
    cmd += ["--rate", str(PROFILE_RATE), "--pid", str(pid)]
    if workers > 1:
        cmd.append("--subprocesses")
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_profiler(
    spy: subprocess.Popen[bytes], out: Path, n: int, per_thread: bool = False
) -> None:
    """Stop py-spy (it writes its file on SIGINT) and print the top of the profile."""
    spy.send_signal(signal.SIGINT)
    try:
        _, err = spy.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        spy.kill()
        _, err = spy.communicate()
    if not out.is_file():
        print(f"load: py-spy wrote no profile: {err.decode(errors='replace')[-500:]}")
        return
    print(f"\nprofile: {out} (open in https://www.speedscope.app)")
    print_top(json.loads(out.read_text()), n, per_thread)


def print_top(profile: dict[str, Any], n: int, per_thread: bool = False) -> None:
    print(f"{'self %':>7} {'total %':>8}  function")
    for name, own, anywhere in top_functions(profile, n):
        print(f"{100 * own:>7.1f} {100 * anywhere:>8.1f}  {name}")
    if per_thread:
        for thread, top in by_thread(profile, n):
            print(f"\n{thread}: share of its own samples")
            for name, own, anywhere in top:
                print(f"{100 * own:>7.1f} {100 * anywhere:>8.1f}  {name}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("file", type=Path, help="speedscope profile (py-spy --format speedscope)")
    p.add_argument("--top", type=int, default=25, help="functions to print (%(default)s)")
    p.add_argument("--per-thread", action="store_true", help="also each thread's own top")
    args = p.parse_args(argv)
    print_top(json.loads(args.file.read_text()), args.top, args.per_thread)
    return 0


if __name__ == "__main__":
    sys.exit(main())
