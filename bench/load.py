"""Load benchmark: how many real-time streams does one daemon hold on this machine?

Starts ``streamasr serve`` as a subprocess, then for each level N drives N concurrent
Vosk-protocol clients over loopback, each streaming a real (espeak-ng) utterance in a loop
at real time in ``--chunk-ms`` messages. Latency is measured per message, from the moment
it is sent (when its newest sample exists, for a live source) to the reply that includes
it; since every message gets exactly one reply, in order, reply i answers message i.
Audio lost = samples of messages that never got a reply (must be 0). CPU is the server
process's CPU time over wall time (100% = one core). A level is "held" when p95 < 200 ms,
nothing is lost and the clients kept their real-time schedule.

Prints a table, then a last line ``STREAMS=<int> P95_MS=<float> LOST_SAMPLES=<int>`` for
the largest level held. The clients run in this process and share the 2 cores with the
server: the figures are a lower bound for the server alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamasr.audio.resample import resample  # noqa: E402
from streamasr.decode.factory import DEFAULT_KIND  # noqa: E402

SENTENCE = "the quick brown fox jumps over the lazy dog while the band plays on"
P95_LIMIT_MS = 200.0


@dataclass
class Level:
    streams: int
    latencies: list[float] = field(default_factory=list)  # seconds
    sent_samples: int = 0
    answered_samples: int = 0
    late_sends: int = 0  # messages sent more than one chunk behind schedule
    errors: list[str] = field(default_factory=list)
    cpu_percent: float = 0.0

    @property
    def lost(self) -> int:
        return self.sent_samples - self.answered_samples

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


async def run_level(url: str, pid: int, n: int, pcm: np.ndarray, args: argparse.Namespace) -> Level:
    level = Level(n)
    chunk = args.sample_rate * args.chunk_ms // 1000
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
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
    level.cpu_percent = 100 * (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
    return level


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="model file (default: the bundled model)")
    p.add_argument(
        "--streams", default="10,50,100,200,300,400", help="comma-separated levels (%(default)s)"
    )
    p.add_argument("--seconds", type=float, default=15.0, help="per level (%(default)s)")
    p.add_argument("--warmup", type=float, default=3.0, help="ignored at each level's start")
    p.add_argument("--chunk-ms", type=int, default=100, help="audio per message (%(default)s)")
    p.add_argument("--sample-rate", type=int, default=8000, help="client rate (%(default)s)")
    p.add_argument("--stop-after-fail", action="store_true", help="stop at the first level lost")
    p.add_argument("--workers", type=int, default=1, help="serve --workers (%(default)s)")
    p.add_argument("--decoder", default=DEFAULT_KIND, help="serve --decoder (%(default)s)")
    args = p.parse_args(argv)
    levels = [int(n) for n in args.streams.split(",")]
    pcm = utterance(args.sample_rate)
    fixed_port = 0
    if args.workers > 1:  # every worker binds the same, fixed port
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            fixed_port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "streamasr.cli.serve", "--port", str(fixed_port)]
    cmd += ["--max-connections", str(max(levels) + 8 * args.workers), "--idle-timeout", "120"]
    cmd += ["--workers", str(args.workers), "--decoder", args.decoder]
    if args.model:
        cmd += ["--model", args.model]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        assert server.stderr is not None
        port = None
        for line in server.stderr:
            found = re.search(r"listening on ws://[^:]+:(\d+)", line)
            if found:
                port = int(found.group(1))
                break
        if port is None:
            print("load: the server did not start", file=sys.stderr)
            return 2
        url = f"ws://127.0.0.1:{port}"
        print(
            f"{'streams':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'lost':>6} "
            f"{'late':>5} {'cpu %':>6} {'errors':>6}  held"
        )
        best: Level | None = None
        for n in levels:
            level = asyncio.run(run_level(url, server.pid, n, pcm, args))
            print(
                f"{n:>8} {level.pct(50):>8.1f} {level.pct(95):>8.1f} {level.pct(99):>8.1f} "
                f"{level.lost:>6} {level.late_sends:>5} {level.cpu_percent:>6.0f} "
                f"{len(level.errors):>6}  {'yes' if level.held else 'no'}",
                flush=True,
            )
            if level.errors:
                print(f"         first error: {level.errors[0][:200]}", flush=True)
            if level.held:
                best = level
            elif args.stop_after_fail:
                break
    finally:
        server.terminate()
        server.wait(30)
    if best is None:
        print("STREAMS=0 P95_MS=nan LOST_SAMPLES=0")
        return 1
    print(f"STREAMS={best.streams} P95_MS={best.pct(95):.1f} LOST_SAMPLES={best.lost}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
