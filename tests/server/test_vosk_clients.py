"""vosk-server's example clients (alphacep/vosk-server, ``websocket/``), message for message.

Each test sends what one of those scripts sends, byte for byte where the script spells the
text (``'{ "config" : { "sample_rate" : %d } }'``, ``'{"eof" : 1}'`` with its spaces), in
chunks of the size it reads from a WAV file with ``wave`` (or from ffmpeg), reads one reply
per audio message as it does, and checks what vosk-server would send back: the same number
of replies, each of vosk's shapes, the final, then a normal close.
"""

from __future__ import annotations

import datetime
import json
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from streamasr.audio.resample import resample
from streamasr.decode.factory import DecoderChoice
from streamasr.engine.batcher import Batcher
from streamasr.engine.recognizer import Recognizer
from streamasr.model.artifact import ModelArtifact
from tests.server.heard import assert_heard
from tests.server.loopback import ENDPOINT, int16, run, running

EOF_TEXT = '{"eof" : 1}'  # what every one of the clients sends, spaces and all
DIGITS = ["zero one two three four five", "six seven eight nine oh"]  # test_words.py's list
# test_words.py's config message, as the script writes it (line breaks and spaces included).
WORDS_CONFIG = """{"config" :
                    { "phrase_list" : ["zero one two three four five", "six seven eight nine oh"],
                      "sample_rate" : %d,
                      "words" : 0}}"""
PLAIN_CONFIG = '{ "config" : { "sample_rate" : %d } }'  # test.py, test_srt.py
ALTERNATIVES_CONFIG = '{"config" : { "max_alternatives" : 20, "sample_rate" : %d } }'
FFMPEG_CONFIG = '{ "config" : { "sample_rate" : 16000 } }'


@pytest.fixture(scope="module")
def batcher(peaky_artifact: ModelArtifact) -> Any:
    with Batcher(Recognizer(peaky_artifact, ENDPOINT), capacity=8) as b:
        yield b


def wav_file(folder: Path, samples: np.ndarray, rate: int) -> Path:
    path = folder / f"speech{rate}.wav"
    import soxr  # down to 8 kHz (streamasr only resamples up to its model's 16 kHz)

    sf.write(path, soxr.resample(samples, 16000, rate) if rate != 16000 else samples, rate)
    return path


@pytest.fixture(scope="module")
def speech16k(speech: tuple[np.ndarray, int]) -> np.ndarray:
    return resample(*speech)


async def example_client(
    ws: ClientConnection, config: str | None, chunks: list[bytes]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The loop all five scripts share: config, then per chunk send it and print one reply;
    then eof and print the final. Afterwards vosk-server has closed the connection."""
    if config is not None:
        await ws.send(config)
    replies = []
    for chunk in chunks:
        await ws.send(chunk)
        replies.append(json.loads(await ws.recv()))
    await ws.send(EOF_TEXT)
    final = json.loads(await ws.recv())
    with pytest.raises(ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    return replies, final


def wave_chunks(path: Path) -> tuple[int, list[bytes]]:
    """``wf.readframes(int(wf.getframerate() * 0.2))`` until empty, as the scripts read."""
    with wave.open(str(path), "rb") as wf:
        rate = wf.getframerate()
        chunks = []
        while data := wf.readframes(int(rate * 0.2)):
            chunks.append(data)
    return rate, chunks


def assert_vosk_replies(replies: list[dict[str, Any]], final: dict[str, Any], words: bool) -> None:
    """Each reply one of vosk's shapes; a result's words as vosk's MBR result has them."""
    result_keys = [{"text", "result"}, {"text"}] if words else [{"text"}]
    for r in replies:
        assert set(r) == {"partial"} or set(r) in result_keys, r
    assert set(final) in result_keys, final
    for r in [*replies, final]:
        for w in r.get("result", []):
            assert set(w) == {"conf", "end", "start", "word"}
            assert 0 <= w["start"] <= w["end"] and 0 <= w["conf"] <= 1


def test_test_py(batcher: Batcher, speech16k: np.ndarray, tmp_path: Path) -> None:
    """test.py: plain recognition of a 16 kHz WAV, 0.2 s per message."""
    rate, chunks = wave_chunks(wav_file(tmp_path, speech16k, 16000))

    async def go() -> None:
        async with running(batcher) as server, connect(f"ws://localhost:{server.port}") as ws:
            replies, final = await example_client(ws, PLAIN_CONFIG % rate, chunks)
        assert len(replies) == len(chunks)
        assert_vosk_replies(replies, final, words=True)
        said = [r["text"] for r in [*replies, final] if r.get("text")]
        assert said, "the peaky model spells something: the check above is not vacuous"

    run(go)


def test_test_words_py(batcher: Batcher, speech16k: np.ndarray, tmp_path: Path) -> None:
    """test_words.py: "words": 0 and a phrase list of digits. vosk-server restricts
    recognition to those words and sends no word lists."""
    rate, chunks = wave_chunks(wav_file(tmp_path, speech16k, 16000))
    allowed = {w for p in DIGITS for w in p.split()}

    async def go() -> None:
        async with running(batcher) as server, connect(f"ws://localhost:{server.port}") as ws:
            replies, final = await example_client(ws, WORDS_CONFIG % rate, chunks)
        assert len(replies) == len(chunks)
        assert_vosk_replies(replies, final, words=False)
        heard = " ".join(r.get("text") or r.get("partial", "") for r in [*replies, final])
        assert set(heard.split()) <= allowed, heard

    run(go)


def test_test_alternatives_py(
    tiny_artifact: ModelArtifact, speech16k: np.ndarray, tmp_path: Path
) -> None:
    """test_alternatives.py: "max_alternatives": 20. Partials stay partials; every result
    is vosk's n-best: alternatives with confidence, text and timed words, best first. (The
    beam search, over the unsure random model, so that it has readings to choose from.)"""
    rate, chunks = wave_chunks(wav_file(tmp_path, speech16k, 16000))
    beam = DecoderChoice("beam", lm_path="none")

    async def go() -> None:
        with Batcher(Recognizer(tiny_artifact, ENDPOINT), capacity=2, decoding=beam) as b:
            async with running(b) as server, connect(f"ws://localhost:{server.port}") as ws:
                replies, final = await example_client(ws, ALTERNATIVES_CONFIG % rate, chunks)
        assert len(replies) == len(chunks)
        results = [r for r in [*replies, final] if "partial" not in r]
        assert final in results and all(set(r) == {"alternatives"} for r in results)
        several = 0
        for r in results:
            alternatives = r["alternatives"]
            assert 1 <= len(alternatives) <= 20
            several += len(alternatives) > 1
            assert [a["confidence"] for a in alternatives] == sorted(
                (a["confidence"] for a in alternatives), reverse=True
            )
            assert len({a["text"] for a in alternatives}) == len(alternatives)
            for a in alternatives:
                assert set(a) in ({"confidence", "text", "result"}, {"confidence", "text"})
                assert [w["word"] for w in a.get("result", [])] == a["text"].split()
        assert several, "the beam should offer more than one reading of some utterance"

    run(go)


def test_test_srt_py(batcher: Batcher, speech16k: np.ndarray, tmp_path: Path) -> None:
    """test_srt.py: subtitles from every result's word times, 7 words per line."""
    rate, chunks = wave_chunks(wav_file(tmp_path, speech16k, 16000))

    async def go() -> None:
        async with running(batcher) as server, connect(f"ws://localhost:{server.port}") as ws:
            replies, final = await example_client(ws, PLAIN_CONFIG % rate, chunks)
        lines = []
        for jres in [*replies, final]:
            if "result" not in jres:
                continue
            words = jres["result"]
            for j in range(0, len(words), 7):
                line = words[j : j + 7]
                start = datetime.timedelta(seconds=line[0]["start"])
                end = datetime.timedelta(seconds=line[-1]["end"])
                lines.append((start, end, " ".join(w["word"] for w in line)))
        assert lines, "no subtitles"
        assert all(start <= end for start, end, _ in lines)
        assert [s for s, _, _ in lines] == sorted(s for s, _, _ in lines)  # the stream's clock

    run(go)


def test_test_ffmpeg_py(batcher: Batcher, speech16k: np.ndarray) -> None:
    """test_ffmpeg.py: 16 kHz s16le from ffmpeg's pipe, read 8000 bytes at a time."""
    pcm = int16(speech16k)
    chunks = [pcm[i : i + 8000] for i in range(0, len(pcm), 8000)]

    async def go() -> None:
        async with running(batcher) as server, connect(f"ws://localhost:{server.port}") as ws:
            replies, final = await example_client(ws, FFMPEG_CONFIG, chunks)
        assert len(replies) == len(chunks)
        assert_vosk_replies(replies, final, words=True)

    run(go)


def test_8khz_without_config_as_asterisk_sends(
    batcher: Batcher, speech16k: np.ndarray, tmp_path: Path
) -> None:
    """res_speech_vosk / test_microphone at 8 kHz: no config at all, vosk's default rate."""
    rate, chunks = wave_chunks(wav_file(tmp_path, speech16k, 8000))
    assert rate == 8000

    async def go() -> None:
        async with running(batcher) as server, connect(f"ws://localhost:{server.port}") as ws:
            replies, final = await example_client(ws, None, chunks)
        assert len(replies) == len(chunks)
        assert_vosk_replies(replies, final, words=True)

    run(go)


def test_reset_gives_the_final_so_far_and_streaming_goes_on(
    batcher: Batcher, speech16k: np.ndarray
) -> None:
    """``{"reset" : 1}``: vosk-server answers FinalResult() and keeps the connection."""
    pcm = int16(speech16k)
    half = len(pcm) // 2 // 3200 * 3200

    async def go() -> None:
        async with running(batcher) as server, connect(f"ws://localhost:{server.port}") as ws:
            await ws.send(PLAIN_CONFIG % 16000)
            for i in range(0, half, 3200):
                await ws.send(pcm[i : i + 3200])
                await ws.recv()
            await ws.send('{"reset" : 1}')
            assert set(json.loads(await ws.recv())) <= {"text", "result"}
            chunks = [pcm[i : i + 3200] for i in range(half, len(pcm), 3200)]
            replies, final = await example_client(ws, None, chunks)
        assert len(replies) == len(chunks)
        assert_vosk_replies(replies, final, words=True)

    run(go)


@pytest.mark.needs_model
def test_test_words_py_hears_the_digits(trained_model: Path, speak: Any, tmp_path: Path) -> None:
    """test_words.py with the trained model and spoken digits: digits come back."""
    from streamasr.model.artifact import load

    spoken = "one two three four"
    data, rate = sf.read(speak(spoken), dtype="float32")
    rate16, chunks = wave_chunks(wav_file(tmp_path, resample(data, rate), 16000))
    with Batcher(Recognizer(load(trained_model)), capacity=2) as b:

        async def go() -> str:
            async with running(b) as server, connect(f"ws://localhost:{server.port}") as ws:
                replies, final = await example_client(ws, WORDS_CONFIG % rate16, chunks)
            assert all("result" not in r for r in [*replies, final])
            return " ".join(r["text"] for r in [*replies, final] if r.get("text"))

        text = ""

        async def capture() -> None:
            nonlocal text
            text = await go()

        run(capture)
    assert set(text.split()) <= {w for p in DIGITS for w in p.split()}, text
    assert_heard(text, spoken)
