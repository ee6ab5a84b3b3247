"""Load benchmark: how many real-time streams does one daemon hold on this machine?

Starts ``streamasr serve`` as a subprocess, then for each level N drives N concurrent
Vosk-protocol clients over loopback, each streaming a real (espeak-ng) utterance in a loop
at real time in ``--chunk-ms`` messages. Latency is measured per message, from the moment
it is sent (when its newest sample exists, for a live source) to the reply that includes
it; since every message gets exactly one reply, in order, reply i answers message i.
Audio lost = samples of messages that never got a reply (must be 0). CPU is the server
process's CPU time over wall time (100% = one core). A level is "held" when p95 < 200 ms,
nothing is lost and the clients kept their real-time schedule.

The clients run in a separate process (their own interpreter), pinned to CPUs apart from
the server's when the machine has at least four (``--client-cpus`` overrides; on fewer, both
share every core and the figures are a lower bound for the server alone). The server's own
CPU is reported per stream per audio-second (``cpu ms/s``), and the client process's share of
a core (``client %``): a level whose clients near 100% measures the clients, not the server.

``--floor`` drives ``bench/floor_server.py`` instead: the daemon's websocket settings and
message sequence with no recognition, so its figures are what the transport and the clients
cost before any recognition work (docs/performance.md uses them as the floor).

``--profile`` runs ``py-spy record`` on the server for the whole run (without pausing it;
``--profile-native`` adds C frames, at a cost that moves the figures: bench/pyspy.py), writes
a speedscope profile and prints the functions with the largest share of the server's samples.

Prints a table, then a last line
``STREAMS=<int> P95_MS=<float> LOST_SAMPLES=<int> CPU_MS_PER_STREAM_S=<float>`` for the
largest level held (CPU of the last level run if none was held).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import math
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyspy import PY_SPY, find_py_spy, start_profiler, stop_profiler  # noqa: E402

from streamasr.audio.resample import resample  # noqa: E402
from streamasr.decode.factory import DEFAULT_KIND  # noqa: E402

SENTENCE = "the quick brown fox jumps over the lazy dog while the band plays on"
P95_LIMIT_MS = 200.0


@dataclass
class Level:
    streams: int
    rate: int = 16000  # client sample rate
    latencies: list[float] = field(default_factory=list)  # seconds
    sent_samples: int = 0
    answered_samples: int = 0
    late_sends: int = 0  # messages sent more than one chunk behind schedule
    errors: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0  # the server's, over the level
    client_cpu_seconds: float = 0.0  # the client process's, over the level
    wall_seconds: float = 0.0

    @property
    def lost(self) -> int:
        return self.sent_samples - self.answered_samples

    @property
    def cpu_percent(self) -> float:
        return self._share_of_a_core(self.cpu_seconds)

    @property
    def client_cpu_percent(self) -> float:
        return self._share_of_a_core(self.client_cpu_seconds)

    def _share_of_a_core(self, cpu_seconds: float) -> float:
        return 100 * cpu_seconds / self.wall_seconds if self.wall_seconds else math.nan

    @property
    def cpu_ms_per_stream_s(self) -> float:
        """Server CPU ms per stream per second of audio: CPU over all the audio sent."""
        audio_s = self.sent_samples / self.rate
        return 1000 * self.cpu_seconds / audio_s if audio_s else math.nan

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies, q) * 1000) if self.latencies else float("inf")

    @property
    def held(self) -> bool:
        return (
            self.pct(95) < P95_LIMIT_MS
            and self.lost == 0
            and not self.errors
            and self.late_sends == 0
        )


def stream_levels(text: str) -> list[int]:
    """argparse type of ``--streams``: "10,50" -> [10, 50], each a positive whole number."""
    try:
        levels = [int(n) for n in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not comma-separated whole numbers: {text!r}") from None
    if not all(n > 0 for n in levels):
        raise argparse.ArgumentTypeError(f"every level must be positive: {text!r}")
    return levels


def utterance(rate: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "u.wav"
        subprocess.run(["espeak-ng", "-w", str(path), SENTENCE], check=True)
        data, native = sf.read(path, dtype="float32")
    x16 = resample(data, native)
    x = x16[:: 16000 // rate] if rate < 16000 else x16
    return (np.concatenate([x, np.zeros(rate // 2, np.float32)]) * 32767).astype("<i2")


def messages(pcm: np.ndarray, chunk: int) -> list[bytes]:
    """The utterance, looped, cut into messages (one full cycle of distinct offsets)."""
    cycle = np.tile(pcm, chunk // np.gcd(pcm.size, chunk))
    return [cycle[i : i + chunk].tobytes() for i in range(0, cycle.size, chunk)]


async def client(
    url: str, chunks: list[bytes], rate: int, seconds: float, warmup: float, level: Level
) -> None:
    from websockets.asyncio.client import connect

    chunk = len(chunks[0]) // 2
    period = chunk / rate
    sent_at: list[float] = []
    sizes: list[int] = []
    try:
        async with connect(url, max_size=1 << 22, open_timeout=60) as ws:
            await ws.send(json.dumps({"config": {"sample_rate": rate}}))

            async def receive() -> None:
                for i in range(1 << 30):
                    message = await ws.recv()
                    now = time.monotonic()
                    if i >= len(sent_at):
                        return  # the final of eof
                    if now - start > warmup:
                        level.latencies.append(now - sent_at[i])
                    level.answered_samples += sizes[i]
                    if '"error"' in str(message):
                        level.errors.append(str(message))

            start = time.monotonic()
            receiver = asyncio.create_task(receive())
            offset = int(np.random.default_rng(id(sent_at)).integers(0, len(chunks)))
            n = int(seconds / period)
            for i in range(n):
                due = start + i * period
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)  # real-time pacing of a live source
                elif -delay > period:
                    level.late_sends += 1
                block = chunks[(offset + i) % len(chunks)]
                sent_at.append(time.monotonic())
                sizes.append(chunk)
                level.sent_samples += chunk
                await ws.send(block)
            await ws.send('{"eof" : 1}')
            await asyncio.wait_for(receiver, 60)
    except Exception as e:  # a refused or dropped client is a result, not a crash
        level.errors.append(f"{type(e).__name__}: {e}")


def cpu_seconds(pid: int) -> float:
    """CPU time of the server process and its live children (the --workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0
    for p in [pid, *map(int, children)]:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def drive(url: str, n: int, pcm: np.ndarray, args: argparse.Namespace) -> Level:
    """N real-time clients at once (in the client process)."""
    level = Level(n, args.sample_rate)
    cpu0 = time.process_time()  # this (client) process's CPU: do the clients leave room?
    chunk = args.sample_rate * args.chunk_ms // 1000
    chunks = messages(pcm, chunk)
    tasks = []
    for _ in range(n):  # stagger the starts over one chunk period
        tasks.append(
            asyncio.create_task(
                client(url, chunks, args.sample_rate, args.seconds, args.warmup, level)
            )
        )
        await asyncio.sleep(args.chunk_ms / 1000 / n)
    await asyncio.gather(*tasks)
    level.client_cpu_seconds = time.process_time() - cpu0
    return level


def drive_level(url: str, n: int, pcm: np.ndarray, args: argparse.Namespace) -> Level:
    return asyncio.run(drive(url, n, pcm, args))


def drain(stream: IO[str], keep: int = 50) -> deque[str]:
    """Read ``stream`` to its end in a daemon thread; the returned deque holds its last
    ``keep`` lines."""
    tail: deque[str] = deque(maxlen=keep)

    def read() -> None:
        with stream:  # closed at its end, by the one thread that reads it
            tail.extend(stream)

    threading.Thread(target=read, name="server-log", daemon=True).start()
    return tail


def split_cpus(available: Iterable[int], client_cpus: int | None) -> tuple[set[int], set[int]]:
    """(server CPUs, client CPUs). ``client_cpus=None`` chooses: a quarter of the CPUs for
    the clients when there are at least four, else no split (both get every CPU)."""
    cpus = sorted(available)
    k = (len(cpus) // 4 if len(cpus) >= 4 else 0) if client_cpus is None else client_cpus
    if not 0 <= k < len(cpus):
        raise ValueError(f"--client-cpus must be in [0, {len(cpus) - 1}], got {k}")
    if k == 0:
        return set(cpus), set(cpus)
    return set(cpus[:-k]), set(cpus[-k:])


def _pin(cpus: set[int]) -> None:
    os.sched_setaffinity(0, cpus)


# ---- the run ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="model file (default: the bundled model)")
    p.add_argument(
        "--streams",
        type=stream_levels,
        default="10,50,100,200,300,400",
        help="comma-separated levels (%(default)s)",
    )
    p.add_argument("--seconds", type=float, default=15.0, help="per level (%(default)s)")
    p.add_argument("--warmup", type=float, default=3.0, help="ignored at each level's start")
    p.add_argument("--chunk-ms", type=int, default=100, help="audio per message (%(default)s)")
    p.add_argument("--sample-rate", type=int, default=8000, help="client rate (%(default)s)")
    p.add_argument("--stop-after-fail", action="store_true", help="stop at the first level lost")
    p.add_argument("--workers", type=int, default=1, help="serve --workers (%(default)s)")
    p.add_argument("--decoder", default=DEFAULT_KIND, help="serve --decoder (%(default)s)")
    p.add_argument("--gather-ms", type=float, help="serve --gather-ms (default: the daemon's)")
    p.add_argument("--xla-threads", type=int, help="serve --xla-threads (default: the daemon's)")
    p.add_argument(
        "--floor",
        action="store_true",
        help="drive bench/floor_server.py instead of the daemon: the websocket layer with "
        "no recognition, the floor under the daemon's figures (--workers applies)",
    )
    p.add_argument(
        "--client-cpus",
        type=int,
        help="CPUs reserved for the clients, the server gets the rest (default: a quarter "
        "of them with at least 4 CPUs, else none: all share)",
    )
    p.add_argument(
        "--profile",
        nargs="?",
        const="load-profile.speedscope.json",
        metavar="FILE",
        help=f"run the server under {PY_SPY} and write a speedscope profile (%(const)s)",
    )
    p.add_argument("--profile-top", type=int, default=25, help="functions to print")
    p.add_argument(
        "--profile-gil",
        action="store_true",
        help="sample only the thread holding the GIL (the interpreter's time, which the "
        "event loop and the batcher share), and print each thread's top too",
    )
    p.add_argument(
        "--profile-native",
        action="store_true",
        help="profile C frames too (pauses the server at every sample: slows it a lot)",
    )
    args = p.parse_args(argv)
    levels: list[int] = args.streams
    if args.profile:
        find_py_spy()  # fail before anything starts
    server_cpus, client_cpus = split_cpus(os.sched_getaffinity(0), args.client_cpus)
    pcm = utterance(args.sample_rate)
    fixed_port = 0
    if args.workers > 1:  # every worker binds the same, fixed port
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            fixed_port = s.getsockname()[1]
    if args.floor:
        cmd = [sys.executable, str(ROOT / "bench" / "floor_server.py"), "--port", str(fixed_port)]
        cmd += ["--workers", str(args.workers)]
    else:
        cmd = [sys.executable, "-m", "streamasr.cli.serve", "--port", str(fixed_port)]
        cmd += ["--max-connections", str(max(levels) + 8 * args.workers)]
        cmd += ["--idle-timeout", "120", "--workers", str(args.workers), "--decoder", args.decoder]
        if args.gather_ms is not None:
            cmd += ["--gather-ms", str(args.gather_ms)]
        if args.xla_threads is not None:
            cmd += ["--xla-threads", str(args.xla_threads)]
        if args.model:
            cmd += ["--model", args.model]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        cmd,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        # Without a split every CPU is shared and there is nothing to pin; a preexec_fn would
        # only make subprocess fork with this (possibly JAX-threaded) process's fork hooks.
        preexec_fn=(lambda: _pin(server_cpus)) if server_cpus != client_cpus else None,
    )
    clients = concurrent.futures.ProcessPoolExecutor(
        1, multiprocessing.get_context("spawn"), initializer=_pin, initargs=(client_cpus,)
    )
    spy = None
    profile = Path(args.profile).resolve() if args.profile else None
    best: Level | None = None
    last: Level | None = None
    server_log: deque[str] | None = None
    try:
        assert server.stderr is not None
        port = None
        listening = 0
        # Every worker: one still compiling its batch sizes leaves the first level to the
        # others (and takes CPU from them), so that level would measure fewer workers.
        for line in server.stderr:
            found = re.search(r"listening on ws://[^:]+:(\d+)", line)
            if found:
                port = int(found.group(1))
                listening += 1
                if listening == args.workers:
                    break
        if port is None or listening < args.workers:
            print("load: the server did not start", file=sys.stderr)
            return 2
        # Keep reading its log: a pipe nobody reads fills (64 KiB, a few hundred session
        # lines) and then the server's event loop blocks in its log handler, every client
        # times out, and the level measures the bench instead of the server.
        server_log = drain(server.stderr)
        url = f"ws://127.0.0.1:{port}"
        split = "shared" if server_cpus == client_cpus else f"clients on {sorted(client_cpus)}"
        print(f"server CPUs {sorted(server_cpus)}, clients in their own process ({split})")
        if profile is not None:
            spy = start_profiler(
                server.pid, profile, args.workers, args.profile_native, args.profile_gil
            )
        print(
            f"{'streams':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'lost':>6} "
            f"{'late':>5} {'cpu %':>6} {'cpu ms/s':>8} {'client %':>8} {'errors':>6}  held"
        )
        for n in levels:
            cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
            level = clients.submit(drive_level, url, n, pcm, args).result()
            level.cpu_seconds = cpu_seconds(server.pid) - cpu0
            level.wall_seconds = time.monotonic() - t0
            last = level
            print(
                f"{n:>8} {level.pct(50):>8.1f} {level.pct(95):>8.1f} {level.pct(99):>8.1f} "
                f"{level.lost:>6} {level.late_sends:>5} {level.cpu_percent:>6.0f} "
                f"{level.cpu_ms_per_stream_s:>8.2f} {level.client_cpu_percent:>8.0f} "
                f"{len(level.errors):>6}  "
                f"{'yes' if level.held else 'no'}",
                flush=True,
            )
            if level.errors:
                print(f"         first error: {level.errors[0][:200]}", flush=True)
            if server.poll() is not None:
                print(f"load: the server exited ({server.returncode}); its last log lines:")
                print("".join(server_log), end="", file=sys.stderr)
                break
            if level.held:
                best = level
            elif args.stop_after_fail:
                break
    finally:
        if spy is not None and profile is not None:
            stop_profiler(spy, profile, args.profile_top, per_thread=args.profile_gil)
        clients.shutdown()
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:  # still draining the backlog of an overloaded level
            server.kill()
            server.wait()
        if server_log is None and server.stderr is not None:
            server.stderr.close()  # never handed to drain (the server did not start)
    shown = best or last
    cpu = shown.cpu_ms_per_stream_s if shown is not None else math.nan
    if best is None:
        print(f"STREAMS=0 P95_MS=nan LOST_SAMPLES=0 CPU_MS_PER_STREAM_S={cpu:.2f}")
        return 1
    print(
        f"STREAMS={best.streams} P95_MS={best.pct(95):.1f} LOST_SAMPLES={best.lost} "
        f"CPU_MS_PER_STREAM_S={cpu:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
