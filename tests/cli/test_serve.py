"""``serve`` as a real process: flags, start-up errors, SIGTERM drain."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

pytestmark = pytest.mark.slow  # subprocesses, a browser or PulseAudio

ROOT = Path(__file__).resolve().parents[2]


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {**(env or os.environ), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "streamasr.cli.serve", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(proc: subprocess.Popen[str], timeout: float = 60) -> int:
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:  # bounded by the test timeout below
        lines.append(line)
        found = re.search(r"listening on ws://127\.0\.0\.1:(\d+)", line)
        if found:
            return int(found.group(1))
    raise AssertionError(f"server did not start: {''.join(lines)}")


def metric(port: int, name: str) -> float:
    """One unlabelled value from the daemon's /metrics (whichever worker answers)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        body = r.read().decode()
    found = re.search(rf"^{name} ([0-9.e+]+)$", body, re.M)
    assert found, body[:500]
    return float(found.group(1))


def stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM (the daemon drains), then make sure it is gone."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.timeout(90)
def test_sigterm_drains_live_sessions(model_file: Path, speech: tuple[np.ndarray, int]) -> None:
    from streamasr.audio.resample import resample

    pcm = (resample(*speech) * 32767).astype("<i2").tobytes()
    proc = serve("--model", str(model_file), "--port", "0", "--no-warmup", "--sample-rate", "16000")
    try:
        port = wait_listening(proc)

        async def go() -> tuple[list[dict[str, object]], int, str]:
            async with connect(f"ws://127.0.0.1:{port}") as ws:
                for start in range(0, 64000, 3200):
                    await ws.send(pcm[start : start + 3200])
                    await ws.recv()
                await ws.send(pcm[64000:70400])  # in flight when the signal lands
                proc.send_signal(signal.SIGTERM)
                messages = []
                try:
                    while True:
                        messages.append(json.loads(await ws.recv()))
                except ConnectionClosed as e:
                    assert e.rcvd is not None
                    return messages, e.rcvd.code, e.rcvd.reason

        messages, code, reason = asyncio.run(go())
        assert (code, reason) == (1001, "server shutting down")
        # The in-flight message got its reply, then the final of everything sent.
        assert len(messages) == 2 and "text" in messages[-1]
        assert proc.wait(timeout=30) == 0
        assert proc.stderr is not None
        assert "stopped" in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sample-rate", "5"], "sample rate"),
        (["--max-connections", "0"], "max_connections"),
        (["--model", "/nonexistent.streamasr"], "no such model file"),
        (["--tls-cert", "x.pem"], "go together"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--xla-threads", "-1"], "--xla-threads must be at least 0"),
        (["--workers", "2"], "needs a fixed --port"),  # the helper passes --port 0
        (["--max-connections", "1025"], "--max-connections must be at most 1024"),
    ],
)
def test_bad_flags_fail_with_one_clear_error(args: list[str], message: str) -> None:
    proc = serve(*args, "--port", "0")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert message in err and "Traceback" not in err


def test_more_connections_than_the_workers_hold_is_one_error_before_any_starts() -> None:
    proc = serve("--workers", "2", "--port", str(free_port()), "--max-connections", "2049")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.count("--max-connections must be at most 2048 (1024 per worker)") == 1, err
    assert "Traceback" not in err


@pytest.mark.timeout(120)
def test_workers_share_the_port_and_drain_together(
    model_file: Path, speech: tuple[np.ndarray, int]
) -> None:
    from streamasr.audio.resample import resample

    pcm = (resample(*speech) * 32767).astype("<i2").tobytes()[:32000]
    port = free_port()  # every worker must bind the same one
    proc = serve(
        "--model", str(model_file), "--port", str(port), "--workers", "2",
        "--no-warmup", "--sample-rate", "16000",
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        assert wait_listening(proc) == port
        assert wait_listening(proc) == port, "the second worker should listen on the same port"

        async def session() -> dict[str, object]:
            async with connect(f"ws://127.0.0.1:{port}") as ws:
                for start in range(0, len(pcm), 6400):
                    await ws.send(pcm[start : start + 6400])
                    await ws.recv()
                await ws.send('{"eof": 1}')
                final: dict[str, object] = json.loads(await ws.recv())
                return final

        async def many() -> list[dict[str, object]]:
            return await asyncio.gather(*(session() for _ in range(8)))

        finals = asyncio.run(many())
        assert all("text" in f for f in finals)
        assert len({json.dumps(f, sort_keys=True) for f in finals}) == 1, "same audio, same text"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert proc.stderr.read().count("stopped") == 2, "both workers drain and stop"
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.timeout(120)
def test_every_worker_reports_the_whole_daemons_metrics(model_file: Path) -> None:
    """With --workers, a scrape lands on whichever worker the kernel picks: each must count
    the sessions of all of them, not its own share."""
    port = free_port()
    proc = serve(
        "--model", str(model_file), "--port", str(port), "--workers", "2", "--no-warmup",
    )  # fmt: skip
    sessions = 10
    try:
        assert wait_listening(proc) == port
        assert wait_listening(proc) == port

        async def session() -> None:
            async with connect(f"ws://127.0.0.1:{port}") as ws:
                await ws.send('{"eof": 1}')
                await ws.recv()

        async def many() -> None:
            for _ in range(sessions):  # one after another: new connections, new hashes
                await session()

        asyncio.run(many())
        counts = [metric(port, "streamasr_sessions_total") for _ in range(10)]
        assert counts == [sessions] * len(counts)
        assert metric(port, "streamasr_streams") == 0, "no session is live now"
    finally:
        stop(proc)


@pytest.mark.timeout(120)
def test_max_connections_limits_all_workers_together(model_file: Path) -> None:
    """--max-connections is the daemon's limit, whichever worker the kernel hands each
    connection to: two sessions are always admitted, a third never (a fixed share per
    worker refused the second whenever both landed on one worker)."""
    from websockets.exceptions import InvalidStatus

    port = free_port()
    proc = serve(
        "--model", str(model_file), "--port", str(port), "--workers", "2", "--no-warmup",
        "--max-connections", "2",
    )  # fmt: skip
    url = f"ws://127.0.0.1:{port}"

    async def rounds() -> None:
        for _ in range(4):  # new connections, new hashes
            first = await connect(url)
            second = await connect(url)  # room for two, wherever the kernel puts them
            for _ in range(4):
                with pytest.raises(InvalidStatus) as refused:
                    await connect(url)
                assert refused.value.response.status_code == 503
            await first.close()
            await second.close()
            # A session's count ends after its slot is back: then the next round has both.
            while await asyncio.to_thread(metric, port, "streamasr_streams"):
                await asyncio.sleep(0.05)

    try:
        assert wait_listening(proc) == port
        assert wait_listening(proc) == port
        asyncio.run(asyncio.wait_for(rounds(), 60))
    finally:
        stop(proc)
