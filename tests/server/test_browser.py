"""The browser page in real headless Chromium, a WAV file as its microphone.

Chromium's fake capture device plays the file (looped) through getUserMedia; the page's
AudioWorklet streams it to the daemon; the test reads the page over the DevTools protocol.
Debian's ``chromium`` package is needed (bin/_bootstrap.sh installs it).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from websockets.asyncio.client import connect

from streamasr.engine.batcher import Batcher
from streamasr.engine.recognizer import Recognizer
from streamasr.model.artifact import ModelArtifact, load
from streamasr.server.app import AsrServer, ServerOptions
from tests.server.heard import SPOKEN, assert_heard

pytestmark = pytest.mark.slow  # subprocesses, a browser or PulseAudio

PAGE_STATE = """JSON.stringify({
  messages: Number(document.body.dataset.messages || 0),
  status: document.getElementById("status").textContent,
  finals: [...document.querySelectorAll("#finals p")].map((p) => p.textContent),
  partial: document.getElementById("partial").textContent,
  hint: (document.getElementById("hint") || {}).textContent || "",
})"""


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed: apt-get install chromium (bin/_bootstrap.sh does)")
    return path


async def page_state(devtools_port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{devtools_port}/json/list", timeout=5) as r:
        pages = [t for t in json.load(r) if t["type"] == "page"]
    async with connect(pages[0]["webSocketDebuggerUrl"], max_size=1 << 24) as cdp:
        await cdp.send(
            json.dumps(
                {"id": 1, "method": "Runtime.evaluate", "params": {"expression": PAGE_STATE}}
            )
        )
        while True:
            reply = json.loads(await cdp.recv())
            if reply.get("id") == 1:
                value = reply.get("result", {}).get("result", {}).get("value")
                return dict(json.loads(value)) if value else {}  # not loaded yet


def devtools_port(proc: subprocess.Popen[str]) -> int:
    """The port Chromium's DevTools listen on, from the line it prints once they do; its
    other output is then drained in the background, so that it never blocks on a full pipe."""
    assert proc.stderr is not None
    for line in proc.stderr:
        found = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
        if found:
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return int(found.group(1))
    raise AssertionError(f"Chromium exited ({proc.wait()}) before its DevTools listened")


async def browse(
    artifact: ModelArtifact,
    wav: Path,
    tmp_path: Path,
    done: Any,
    seconds: float = 40,
    max_connections: int = 200,
    occupied: bool = False,
) -> dict[str, Any]:
    """The page's state once ``done(state)``; with ``occupied`` one session is taken first."""
    with Batcher(Recognizer(artifact), capacity=4) as batcher:
        options = ServerOptions(port=0, max_connections=max_connections)
        server = await AsrServer(batcher, options).start()
        other = await connect(f"ws://127.0.0.1:{server.port}") if occupied else None
        profile = tmp_path / "profile"
        proc = subprocess.Popen(
            [
                chromium(),
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={wav}",
                "--autoplay-policy=no-user-gesture-required",
                f"http://127.0.0.1:{server.port}/?autostart",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + seconds
            port = await asyncio.to_thread(devtools_port, proc)
            state: dict[str, Any] = {}
            while time.monotonic() < deadline:
                state = await page_state(port)
                if done(state):
                    break
                await asyncio.sleep(0.5)
            return state
        finally:
            proc.terminate()
            proc.wait(10)
            if other is not None:
                await other.close()
            await server.drain(timeout=5)


@pytest.mark.timeout(90)
def test_page_streams_the_microphone(peaky_artifact: ModelArtifact, tmp_path: Path) -> None:
    wav = tmp_path / "mic.wav"
    rng = np.random.default_rng(0)
    sf.write(wav, rng.normal(0, 0.1, 48000).astype(np.float32), 48000, subtype="PCM_16")
    state = asyncio.run(browse(peaky_artifact, wav, tmp_path, lambda s: s.get("messages", 0) >= 20))
    assert state.get("status") == "listening", state
    assert state.get("messages", 0) >= 20, state  # ~one reply per 100 ms of audio
    assert "Microphone: " in state.get("hint", ""), state  # which one is in use


@pytest.mark.timeout(90)
def test_page_says_a_full_server_is_busy(peaky_artifact: ModelArtifact, tmp_path: Path) -> None:
    """The only session slot is taken: the page says so and to retry, not "closed (1006)"."""
    wav = tmp_path / "mic.wav"
    sf.write(wav, np.zeros(48000, np.float32), 48000, subtype="PCM_16")
    state = asyncio.run(
        browse(
            peaky_artifact,
            wav,
            tmp_path,
            lambda s: "busy" in s.get("status", ""),
            max_connections=1,
            occupied=True,
        )
    )
    assert "busy" in state.get("status", "") and "retry" in state["status"], state


@pytest.mark.needs_model
@pytest.mark.timeout(90)
def test_page_shows_the_transcript(trained_model: Path, tmp_path: Path, speak: Any) -> None:
    data, rate = sf.read(speak(SPOKEN), dtype="float32")
    wav = tmp_path / "mic.wav"
    sf.write(wav, np.concatenate([data, np.zeros(rate * 2, np.float32)]), rate)
    # Chromium loops the file from getUserMedia on, but the page hears it only once its
    # worklet is connected, after the websocket opens: the first final can start mid-sentence
    # ("a wether is ..." from both the old and new models). The second is a whole loop.
    state = asyncio.run(
        browse(load(trained_model), wav, tmp_path, lambda s: len(s.get("finals") or []) >= 2)
    )
    assert len(state.get("finals") or []) >= 2, state
    assert_heard(state["finals"][1], context=f" (first final {state['finals'][0]!r})")
