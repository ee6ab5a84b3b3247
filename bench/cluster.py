"""Cluster benchmark: real-time streams through HAProxy over two replicas, one of which is
stopped partway.

For each level N: starts two ``streamasr serve`` replicas and HAProxy with
deploy/haproxy.cfg (its ``bind`` and ``server`` lines replaced by free loopback ports),
drives N real-time clients through the balancer (bench/load.py's utterance, pacing and
latency rule), and after ``--kill-at`` seconds sends SIGTERM to one replica. Its clients
must get the final of everything it read, then reconnect (through the balancer, to the
other) and go on; the audio they had sent that it never read (in flight when it stopped
reading: at most a few messages) is sent again to the new session. Clients use the native
protocol, whose every audio reply ends in one partial and whose ``closing`` event says the
session is ending.

Samples lost = samples of messages no replica ever answered (must be 0). Failover = from
the ``closing`` event (or a dropped connection) to the first reply of the next session;
FAILOVER_S is the longest. Latency counts from a message's last sending, as in
bench/load.py; messages sent while catching up after a failover are not counted late. A
level is held as in bench/load.py (p95 < 200 ms, nothing lost, no error, no late send) and
when at least one client failed over.

The baseline, measured in the same run (unless ``--no-baseline``): before each cluster level,
the same clients at the same level against one replica directly (no balancer, no stop). A
baseline level is held by the same rule, less the failover. Clients, HAProxy and the
replicas share the machine's cores, so the ratio of the two is what the balancer and the
second process cost on this machine.

Prints a table, then last ``REPLICAS=<int> STREAMS=<int> P95_MS=<float> LOST_SAMPLES=<int>
FAILOVER_S=<float> BASELINE_STREAMS=<int> RATIO=<float>`` for the largest levels held
(RATIO = STREAMS / BASELINE_STREAMS).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(
    0, str(ROOT / "bench")
)  # the other benches, as top-level modules (as mypy sees them)

from load import Level, cpu_seconds, messages, utterance  # noqa: E402

from streamasr.decode.factory import DEFAULT_KIND  # noqa: E402

HAPROXY_CONFIG = ROOT / "deploy" / "haproxy.cfg"
REPLICAS = 2
GOING_AWAY = 1001


@dataclass
class ClusterLevel(Level):
    failovers: list[float] = field(default_factory=list)  # seconds each one took
    resent_samples: int = 0  # sent to the stopped replica, never read, sent again
    balanced: bool = True  # False: the baseline, one replica and no stop

    @property
    def held(self) -> bool:
        return super().held and (bool(self.failovers) or not self.balanced)


def cluster_config(template: str, bind_port: int, replica_ports: list[int]) -> str:
    """deploy/haproxy.cfg listening on ``bind_port`` over the replicas on ``replica_ports``
    (loopback), in place of its own; every other line as shipped."""
    out: list[str] = []
    placed = False
    for line in template.splitlines():
        keyword = line.split()[:1]
        if keyword == ["bind"]:
            line = f"    bind 127.0.0.1:{bind_port}"
        elif keyword == ["server"]:
            if not placed:
                out += [f"    server r{p} 127.0.0.1:{p}" for p in replica_ports]
                placed = True
            continue
        out.append(line)
    if not placed:
        raise ValueError(f"{HAPROXY_CONFIG} has no server lines to replace")
    return "\n".join(out) + "\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Client:
    """One live source: message i exists at start + i * period; unanswered messages are
    kept until a replica answers them."""

    chunks: list[bytes]
    rate: int
    count: int  # messages in the whole run
    offset: int  # where in the looped utterance this client starts
    next_index: int = 0  # the next message never sent
    pending: collections.deque[tuple[int, float]] = field(default_factory=collections.deque)
    # (message index, when it was last sent), oldest first: sent, not yet answered


async def run_client(
    url: str, client: Client, args: argparse.Namespace, level: ClusterLevel
) -> None:
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    period = args.chunk_ms / 1000
    size = len(client.chunks[0]) // 2
    start = time.monotonic()
    lost_at: float | None = None  # when the last session started ending
    while True:
        try:
            ws = await connect(url, max_size=1 << 22, open_timeout=30)
        except (OSError, InvalidStatus, TimeoutError) as e:
            if lost_at is None or time.monotonic() - lost_at > 30:
                level.errors.append(f"connect: {type(e).__name__}: {e}")
                return
            await asyncio.sleep(0.05)  # the balancer is still taking the replica out
            continue
        ending = asyncio.Event()
        resent_until = time.monotonic()
        waiting_since, lost_at = lost_at, None  # this session's first reply ends the wait
        async with ws:
            await ws.send(json.dumps({"config": {"sample_rate": client.rate, "native": True}}))

            async def receive(ws: ClientConnection, ending: asyncio.Event) -> None:
                nonlocal lost_at, waiting_since
                async for message in ws:
                    reply = json.loads(message)
                    now = time.monotonic()
                    if "partial" in reply:
                        _, sent = client.pending.popleft()
                        if waiting_since is not None:
                            level.failovers.append(now - waiting_since)
                            waiting_since = None
                        if now - start > args.warmup:
                            level.latencies.append(now - sent)
                        level.answered_samples += size
                    elif reply.get("event") == "closing":
                        lost_at = now
                        ending.set()
                    elif "error" in reply:
                        level.errors.append(str(reply))

            receiver = asyncio.create_task(receive(ws, ending))
            try:
                # What the last session never answered goes first (it never read it).
                again = [index for index, _ in client.pending]
                client.pending.clear()
                for index in again:
                    client.pending.append((index, time.monotonic()))
                    level.resent_samples += size
                    await ws.send(client.chunks[(client.offset + index) % len(client.chunks)])
                resent_until = time.monotonic()
                while client.next_index < client.count and not ending.is_set():
                    due = start + client.next_index * period
                    delay = due - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)  # real-time pacing of a live source
                        if ending.is_set():
                            break
                    elif -delay > period and due > resent_until:
                        level.late_sends += 1
                    index = client.next_index
                    client.pending.append((index, time.monotonic()))
                    client.next_index += 1
                    level.sent_samples += size
                    await ws.send(client.chunks[(client.offset + index) % len(client.chunks)])
                if not ending.is_set():
                    await ws.send('{"eof" : 1}')
            except ConnectionClosed:
                pass
            await asyncio.wait_for(receiver, 60)
        code = ws.close_code
        if code not in (1000, GOING_AWAY):
            level.errors.append(f"session closed with {code}")
        if client.next_index >= client.count and not client.pending:
            return  # everything answered
        if lost_at is None:  # dropped without a closing event
            lost_at = time.monotonic()
        # Fail over: a new session through the balancer, which sends it elsewhere.


def start_replica(args: argparse.Namespace, max_connections: int) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "streamasr.cli", "serve", "--port", "0"]
    cmd += ["--max-connections", str(max_connections), "--idle-timeout", "120"]
    cmd += ["--decoder", args.decoder, "--drain-timeout", str(args.drain_timeout)]
    if args.model:
        cmd += ["--model", args.model]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def listening_port(proc: subprocess.Popen[str]) -> int:
    """The port a replica logs once it listens (it picked a free one)."""
    assert proc.stderr is not None
    for line in proc.stderr:
        found = re.search(r"listening on ws://[^:]+:(\d+)", line)
        if found:
            _drain_output(proc)
            return int(found.group(1))
    raise RuntimeError(f"cluster: a replica did not start (exit {proc.wait()})")


def _drain_output(proc: subprocess.Popen[str]) -> None:
    """Keep reading a replica's log so that it never blocks on a full pipe."""
    import threading

    assert proc.stderr is not None
    stream = proc.stderr
    threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()


async def wait_for_balancer(port: int, timeout: float = 30) -> None:
    """Until the balancer answers /healthz with 200 (a replica behind it is up)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
            status = await reader.readline()
            writer.close()
            if b" 200 " in status:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("cluster: the balancer never answered /healthz with 200")
        await asyncio.sleep(0.1)


async def start_clients(
    url: str, n: int, pcm: np.ndarray, args: argparse.Namespace, level: ClusterLevel
) -> list[asyncio.Task[None]]:
    """n live clients of ``url``, their starts staggered over one chunk period, each at its
    own (seeded) offset in the looped utterance."""
    chunks = messages(pcm, args.sample_rate * args.chunk_ms // 1000)
    count = int(args.seconds * 1000 / args.chunk_ms)
    rng = np.random.default_rng(n)
    tasks = []
    for _ in range(n):
        client = Client(chunks, args.sample_rate, count, int(rng.integers(len(chunks))))
        tasks.append(asyncio.create_task(run_client(url, client, args, level)))
        await asyncio.sleep(args.chunk_ms / 1000 / n)
    return tasks


async def run_level(n: int, pcm: np.ndarray, args: argparse.Namespace) -> ClusterLevel:
    level = ClusterLevel(n)
    procs = [start_replica(args, n + 8) for _ in range(REPLICAS)]  # they start together
    replicas = [(proc, listening_port(proc)) for proc in procs]
    bind = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "haproxy.cfg"
        ports = [port for _, port in replicas]
        config.write_text(cluster_config(HAPROXY_CONFIG.read_text(), bind, ports))
        haproxy = subprocess.Popen(
            ["haproxy", "-db", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            await wait_for_balancer(bind)
            pids = [proc.pid for proc, _ in replicas] + [haproxy.pid]
            cpu0, t0 = sum(cpu_seconds(p) for p in pids), time.monotonic()
            tasks = await start_clients(f"ws://127.0.0.1:{bind}", n, pcm, args, level)
            await asyncio.sleep(args.kill_at)
            stopped = replicas[0][0]
            cpu_stopped = cpu_seconds(stopped.pid)  # its drain is not counted
            stopped.send_signal(signal.SIGTERM)
            await asyncio.gather(*tasks)
            cpu1 = sum(cpu_seconds(p) for p in pids[1:]) + cpu_stopped
            level.cpu_seconds = cpu1 - cpu0  # cpu_percent is over wall_seconds
            level.wall_seconds = time.monotonic() - t0
            if stopped.wait(args.drain_timeout + 10) != 0:
                level.errors.append(f"the stopped replica exited with {stopped.returncode}")
        finally:
            haproxy.terminate()
            haproxy.wait(10)
            for proc, _ in replicas:
                stop(proc)
    return level


async def run_baseline(n: int, pcm: np.ndarray, args: argparse.Namespace) -> ClusterLevel:
    """The same clients at the same level against one replica directly: no balancer, no
    stop, so no failover."""
    level = ClusterLevel(n, balanced=False)
    replica = start_replica(args, n + 8)
    try:
        port = listening_port(replica)
        cpu0, t0 = cpu_seconds(replica.pid), time.monotonic()
        tasks = await start_clients(f"ws://127.0.0.1:{port}", n, pcm, args, level)
        await asyncio.gather(*tasks)
        level.cpu_seconds = cpu_seconds(replica.pid) - cpu0
        level.wall_seconds = time.monotonic() - t0
    finally:
        stop(replica)
    return level


def stop(proc: subprocess.Popen[str], timeout: float = 30) -> None:
    """SIGTERM, and SIGKILL if it has not exited after ``timeout`` (an overloaded replica
    may still be draining a backlog no client waits for)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="model file (default: the bundled model)")
    p.add_argument(
        "--streams", default="10,50,100,200", help="comma-separated levels (%(default)s)"
    )
    p.add_argument("--seconds", type=float, default=20.0, help="per level (%(default)s)")
    p.add_argument("--kill-at", type=float, default=10.0, help="SIGTERM one replica after this")
    p.add_argument("--warmup", type=float, default=3.0, help="ignored at each level's start")
    p.add_argument("--chunk-ms", type=int, default=100, help="audio per message (%(default)s)")
    p.add_argument("--sample-rate", type=int, default=8000, help="client rate (%(default)s)")
    p.add_argument("--decoder", default=DEFAULT_KIND, help="serve --decoder (%(default)s)")
    p.add_argument("--drain-timeout", type=float, default=10.0, help="serve --drain-timeout")
    p.add_argument("--stop-after-fail", action="store_true", help="stop at the first level lost")
    p.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip the single-replica baseline at each level",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    p = main_parser()
    args = p.parse_args(argv)
    if not args.kill_at < args.seconds:
        p.error("--kill-at must be before the end (--seconds)")
    pcm = utterance(args.sample_rate)
    print(
        f"{'setup':>10} {'streams':>8} {'p50 ms':>8} {'p95 ms':>8} {'lost':>6} {'resent':>7} "
        f"{'late':>5} {'errors':>6} {'failovers':>9} {'max s':>6} {'cpu %':>6}  held"
    )
    best: ClusterLevel | None = None
    best_baseline: ClusterLevel | None = None
    for n in [int(s) for s in args.streams.split(",")]:
        runs = [run_baseline, run_level] if args.baseline else [run_level]
        held_any = False
        for run in runs:
            level = asyncio.run(run(n, pcm, args))
            print_row(level)
            held_any |= level.held
            if level.held and level.balanced:
                best = level
            elif level.held:
                best_baseline = level
        if args.stop_after_fail and not held_any:
            break
    if best is None:
        print(f"REPLICAS={REPLICAS} STREAMS=0 P95_MS=nan LOST_SAMPLES=0 FAILOVER_S=nan", end="")
    else:
        print(
            f"REPLICAS={REPLICAS} STREAMS={best.streams} P95_MS={best.pct(95):.1f} "
            f"LOST_SAMPLES={best.lost} FAILOVER_S={max(best.failovers):.2f}",
            end="",
        )
    if args.baseline:
        single = best_baseline.streams if best_baseline is not None else 0
        ratio = (best.streams if best is not None else 0) / single if single else float("nan")
        print(f" BASELINE_STREAMS={single} RATIO={ratio:.2f}", end="")
    print()
    return 0 if best is not None else 1


def print_row(level: ClusterLevel) -> None:
    setup = f"{REPLICAS} haproxy" if level.balanced else "1 direct"
    worst = max(level.failovers, default=float("nan"))
    print(
        f"{setup:>10} {level.streams:>8} {level.pct(50):>8.1f} {level.pct(95):>8.1f} "
        f"{level.lost:>6} {level.resent_samples:>7} {level.late_sends:>5} "
        f"{len(level.errors):>6} {len(level.failovers):>9} {worst:>6.2f} "
        f"{level.cpu_percent:>6.0f}  {'yes' if level.held else 'no'}",
        flush=True,
    )
    if level.errors:
        print(f"           first error: {level.errors[0][:200]}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
