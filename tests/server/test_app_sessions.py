"""Sessions over real loopback websockets: vosk clients, bad input, phrase lists,
backpressure, and other sessions unaffected by one session's work."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from streamasr.audio.resample import resample
from streamasr.decode.lexicon import Lexicon
from streamasr.engine.batcher import Batcher
from streamasr.engine.recognizer import Recognizer
from streamasr.engine.stream import Stream
from tests.server.heard import SPOKEN, assert_heard
from tests.server.loopback import TIMEOUT, int16, run, running, vosk_client


def reference_finals(recognizer: Recognizer, samples: np.ndarray, rate: int, chunk: int) -> str:
    stream = Stream(recognizer, rate)
    texts = []
    for start in range(0, samples.size, chunk):
        texts += [h.text for h in stream.accept(samples[start : start + chunk]) if h.is_final]
    texts += [h.text for h in stream.finish()]
    return " ".join(t for t in texts if t)


def test_vosk_client_session(
    batcher: Batcher, recognizer: Recognizer, audio16k: np.ndarray
) -> None:
    pcm = int16(audio16k)
    quantised = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768

    async def go() -> None:
        async with (
            running(batcher) as server,
            connect(f"ws://127.0.0.1:{server.port}") as ws,
        ):
            await ws.send(json.dumps({"config": {"sample_rate": 16000}}))
            replies, last = await vosk_client(ws, pcm)
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        assert len(replies) == -(-len(pcm) // 3200)  # exactly one reply per audio message
        assert all(set(r) in ({"partial"}, {"text", "result"}, {"text"}) for r in replies)
        assert set(last) <= {"text", "result"}
        finals = [r["text"] for r in [*replies, last] if r.get("text")]
        assert " ".join(finals) == reference_finals(recognizer, quantised, 16000, 1600)
        assert finals, "nothing was recognized: the comparison would be vacuous"
        for r in [*replies, last]:
            for w in r.get("result", []):
                assert set(w) == {"word", "start", "end", "conf"} and w["start"] <= w["end"]

    run(go)


def test_no_config_means_the_servers_default_rate(batcher: Batcher, audio16k: np.ndarray) -> None:
    x8k = audio16k[::2]

    async def go() -> None:
        async with (
            running(batcher, default_sample_rate=8000) as server,
            connect(f"ws://127.0.0.1:{server.port}") as ws,
        ):
            replies, last = await vosk_client(ws, int16(x8k), 1600)
        assert len(replies) == -(-x8k.size * 2 // 1600)
        assert "text" in last

    run(go)


BAD = [
    (b"\x01\x02\x03", 1007, "trailing byte"),
    ("{not json", 1007, "malformed JSON"),
    ("hello", 1007, "malformed JSON"),
    ('{"config": {"sample_rate": 100000000}}', 1007, "sample rate"),
    ('"just text"', 1003, "binary"),
    (b"", 1007, "empty"),
    (b"\x00" * 70_000, 1009, ""),  # over max_message_bytes: websockets closes it
]


def test_bad_input_closes_only_that_connection(batcher: Batcher, audio16k: np.ndarray) -> None:
    pcm = int16(audio16k)

    async def go() -> None:
        async with running(batcher, max_message_bytes=65536) as server:
            url = f"ws://127.0.0.1:{server.port}"
            async with connect(url) as good:
                await good.send(json.dumps({"config": {"sample_rate": 16000}}))
                await good.send(pcm[:32000])
                assert set(json.loads(await good.recv())) <= {"partial", "text", "result"}
                for message, code, reason in BAD:
                    async with connect(url) as bad:
                        await bad.send(message)
                        with pytest.raises(ConnectionClosed) as closed:
                            while True:
                                await bad.recv()
                        assert closed.value.rcvd is not None, message
                        assert closed.value.rcvd.code == code, message
                        assert reason in closed.value.rcvd.reason, message
                # An abrupt disconnect in the middle of a stream.
                rude = await connect(url)
                await rude.send(pcm[:6400])
                rude.transport.abort()
                # The good session still streams and gets its final.
                await good.send(pcm[32000:64000])
                await good.recv()
                await good.send('{"eof": 1}')
                last = json.loads(await good.recv())
                assert "text" in last
                await asyncio.sleep(0)
            assert batcher.wait_idle(10)

    run(go)
    assert batcher.wait_idle(10)  # closes are released by the worker, asynchronously
    assert batcher.live_streams == 0, "a slot leaked"


PHRASES = ["call home", "front left", "stop"]


def test_phrase_list_only_restricts_what_a_session_can_hear(
    batcher: Batcher, audio16k: np.ndarray
) -> None:
    """The same audio through a free session and a phrase-restricted one on one daemon:
    the restricted session's words all come from its list; the free one is untouched."""
    config = {"sample_rate": 16000, "phrase_list": PHRASES, "phrase_list_only": True}
    allowed = {w for p in PHRASES for w in p.split()}

    async def go() -> None:
        async with running(batcher) as server:
            url = f"ws://127.0.0.1:{server.port}"
            async with connect(url) as free, connect(url) as restricted:
                await free.send(json.dumps({"config": {"sample_rate": 16000}}))
                await restricted.send(json.dumps({"config": config}))
                free_texts, restricted_texts = [], []
                for ws, texts in ((free, free_texts), (restricted, restricted_texts)):
                    replies, last = await vosk_client(ws, int16(audio16k), 6400)
                    texts += [r["text"] for r in [*replies, last] if r.get("text")]
            free_words = " ".join(free_texts).split()
            assert free_words, "the peaky model should spell something"
            assert not set(free_words) <= allowed, "the free session must not be restricted"
            assert set(" ".join(restricted_texts).split()) <= allowed

    run(go)


def test_unusable_phrase_list_closes_with_a_clear_reason(
    batcher: Batcher, audio16k: np.ndarray
) -> None:
    config = {"sample_rate": 16000, "phrase_list": ["!!!"], "phrase_list_only": True}

    async def go() -> None:
        async with running(batcher) as server, connect(f"ws://127.0.0.1:{server.port}") as ws:
            await ws.send(json.dumps({"config": config}))
            await ws.send(int16(audio16k[:1600]))
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await ws.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1007
            assert "cannot spell" in closed.value.rcvd.reason

    run(go)
    assert batcher.wait_idle(10)
    assert batcher.live_streams == 0, "a refused session leaked its slot"


def test_backpressure_pauses_reading_and_loses_nothing(
    batcher: Batcher, audio16k: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that sends without reading while the recognizer is stuck: the server stops
    reading once max_queue jobs are in flight (TCP pushes back), and once the recognizer
    goes on every message still gets its reply."""
    pcm = int16(audio16k)
    max_queue = 2
    gate = threading.Event()  # the worker computes nothing until this is set
    overrun = threading.Event()  # set if more than max_queue jobs arrive while stuck
    submitted = 0
    real_submit, real_round = batcher._submit, batcher._round

    def counting_submit(stream: Any, kind: Any, samples: Any) -> int:
        nonlocal submitted
        submitted += 1
        if not gate.is_set() and submitted > max_queue:
            overrun.set()
        return real_submit(stream, kind, samples)

    def stuck_round(work: Any) -> Any:
        gate.wait(TIMEOUT)
        return real_round(work)

    monkeypatch.setattr(batcher, "_submit", counting_submit)
    monkeypatch.setattr(batcher, "_round", stuck_round)

    async def go() -> None:
        try:
            async with (
                running(batcher, max_queue=max_queue) as server,
                connect(f"ws://127.0.0.1:{server.port}") as ws,
            ):
                await ws.send(json.dumps({"config": {"sample_rate": 16000}}))
                chunks = [pcm[i : i + 640] for i in range(0, len(pcm), 640)]
                for chunk in chunks:
                    await ws.send(chunk)
                await ws.send('{"eof": 1}')
                # A server that kept reading would queue every message within moments.
                overran = await asyncio.to_thread(overrun.wait, 2.0)
                assert not overran, f"{submitted} jobs queued with max_queue={max_queue}"
                assert submitted == max_queue
                gate.set()
                replies = [json.loads(m) async for m in ws]
        finally:
            gate.set()
        assert len(replies) == len(chunks) + 1

    run(go)


def test_a_new_phrase_list_does_not_stall_other_sessions(
    batcher: Batcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Boosted phrases with new words rebuild the LM's lexicon (~60 ms for the bundled one;
    vosk's phrase_list restricts and needs no lexicon, so phrase_boost is sent). While it is
    being built, another session sends audio and must get its reply: the build is held open
    until that reply arrives, so a build on the event loop (which cannot serve the other
    session meanwhile) is seen, not just timed."""
    building = threading.Event()  # the lexicon build has begun
    answered = threading.Event()  # the other session got a reply meanwhile
    seen: list[bool] = []
    real_extended = Lexicon.extended

    def held_extended(self: Lexicon, words: Any) -> Lexicon:
        building.set()
        seen.append(answered.wait(5.0))
        return real_extended(self, words)

    monkeypatch.setattr(Lexicon, "extended", held_extended)
    silence = int16(np.zeros(1600, np.float32))

    async def go() -> None:
        async with running(batcher) as server:
            url = f"ws://127.0.0.1:{server.port}"
            async with connect(url) as other, connect(url) as phrases:
                await other.send(json.dumps({"config": {"sample_rate": 16000}}))
                await other.send(silence)
                await other.recv()
                config = {"sample_rate": 16000, "phrase_boost": ["zorblax quintessa"]}
                await phrases.send(json.dumps({"config": config}))
                await phrases.send(silence)
                assert await asyncio.to_thread(building.wait, 10.0)
                await other.send(silence)
                assert "partial" in json.loads(await other.recv())
                answered.set()
                assert "partial" in json.loads(await phrases.recv())
        assert seen == [True], "the other session waited for the lexicon build"

    run(go)


@pytest.mark.needs_model
def test_vosk_client_recognizes_words(trained_model: Any, speak: Any) -> None:
    """Asterisk style: 8 kHz int16, no config; the trained model hears the sentence."""
    import soundfile as sf

    from streamasr.model.artifact import load

    data, rate = sf.read(speak(SPOKEN), dtype="float32")
    x8k = resample(data, rate)[::2]
    with Batcher(Recognizer(load(trained_model)), capacity=2) as b:

        async def go() -> str:
            async with (
                running(b) as server,
                connect(f"ws://127.0.0.1:{server.port}") as ws,
            ):
                replies, last = await vosk_client(ws, int16(x8k), 1600)
            return " ".join(r["text"] for r in [*replies, last] if r.get("text"))

        text = asyncio.run(asyncio.wait_for(go(), TIMEOUT))
    assert_heard(text)


@pytest.mark.needs_model
def test_phrase_list_picks_the_spoken_command(trained_model: Any, speak: Any) -> None:
    """Command and control: with the session restricted to a few confusable commands, the
    trained model's final is exactly the one spoken."""
    import soundfile as sf

    from streamasr.model.artifact import load

    commands = ["front left", "front right", "call home", "stop the music"]
    config = {"config": {"sample_rate": 16000, "phrase_list": commands, "phrase_list_only": True}}
    with Batcher(Recognizer(load(trained_model)), capacity=2) as b:

        async def final_for(spoken: str) -> str:
            data, rate = sf.read(speak(spoken), dtype="float32")
            async with running(b) as server, connect(f"ws://127.0.0.1:{server.port}") as ws:
                await ws.send(json.dumps(config))
                replies, last = await vosk_client(ws, int16(resample(data, rate)), 3200)
            return " ".join(r["text"] for r in [*replies, last] if r.get("text"))

        for spoken in ("front right", "call home"):
            assert asyncio.run(asyncio.wait_for(final_for(spoken), TIMEOUT)) == spoken
