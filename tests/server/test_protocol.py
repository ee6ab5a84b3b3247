"""The session protocol without sockets: messages in, actions out."""

from __future__ import annotations

import json
import logging
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamasr.decode.hypothesis import Alternative, Hypothesis, Word
from streamasr.engine.batcher import JobKind, Reply
from streamasr.server.protocol import (
    Audio,
    Close,
    CloseCode,
    Finalize,
    Finish,
    Log,
    Open,
    Send,
    Session,
    SessionOptions,
    State,
)

HELLO = Word("hello", 0.5, 0.9, 0.8)
WORLD = Word("world", 1.0, 1.4, 0.6)


def final(words: tuple[Word, ...], segment: int = 0, endpoint: bool = False) -> Hypothesis:
    text = " ".join(w.word for w in words)
    return Hypothesis(text, words, True, segment, text, endpoint)


def partial(text: str, stable: str = "", segment: int = 0) -> Hypothesis:
    return Hypothesis(text, (), False, segment, stable)


def reply(
    kind: JobKind,
    finals: tuple[Hypothesis, ...] = (),
    part: Hypothesis | None = None,
    samples: int = 0,
    ticket: int = 0,
) -> Reply:
    if kind is JobKind.AUDIO and part is None:
        part = partial("")
    return Reply(ticket, kind, finals, part, samples, 0.0)


def sent(actions: list[object]) -> list[dict[str, object]]:
    return [json.loads(a.text) for a in actions if isinstance(a, Send)]


def pcm(values: list[int]) -> bytes:
    return struct.pack(f"<{len(values)}h", *values)


def closes(actions: list[object]) -> list[Close]:
    return [a for a in actions if isinstance(a, Close)]


def test_vosk_session_end_to_end() -> None:
    s = Session()
    assert s.receive_text('{"config": {"sample_rate": 16000}}') == []
    actions = s.receive_bytes(pcm([0, 16384, -32768, 32767]))
    assert actions[0] == Open(16000)
    assert isinstance(actions[1], Audio)
    np.testing.assert_array_equal(
        actions[1].samples, np.array([0, 0.5, -1, 32767 / 32768], np.float32)
    )
    assert sent(s.on_reply(reply(JobKind.AUDIO, part=partial("hel"), samples=4))) == [
        {"partial": "hel"}
    ]
    # An endpoint: the one reply is the result (words with times), not the partial.
    assert [type(a) for a in s.receive_bytes(pcm([5, 6]))] == [Audio]
    out = sent(s.on_reply(reply(JobKind.AUDIO, (final((HELLO,), endpoint=True),), partial("w"))))
    assert out == [
        {"result": [{"word": "hello", "start": 0.5, "end": 0.9, "conf": 0.8}], "text": "hello"}
    ]
    s.receive_bytes(pcm([1, 2]))
    assert s.receive_text('{"eof" : 1}') == [Finish()]
    s.on_reply(reply(JobKind.AUDIO))
    actions = s.on_reply(reply(JobKind.FINISH, (final((WORLD,), 1),)))
    assert sent(actions) == [
        {"result": [{"word": "world", "start": 1.0, "end": 1.4, "conf": 0.6}], "text": "world"}
    ]
    assert actions[-1] == Close(CloseCode.NORMAL, "")
    assert s.state is State.CLOSED and s.pending == 0


@pytest.mark.parametrize("eof", ['{"eof" : 1}', '{"eof":1}', ' { "eof" : true } '])
def test_control_messages_are_parsed_not_compared(eof: str) -> None:
    s = Session()
    s.receive_bytes(pcm([1]))
    assert s.receive_text(eof) == [Finish()]


def test_default_rate_is_the_servers_and_8000_by_default() -> None:
    assert Session().receive_bytes(pcm([1]))[0] == Open(8000)
    assert Session(SessionOptions(default_sample_rate=16000)).receive_bytes(pcm([1]))[0] == Open(
        16000
    )


def test_reset_gives_the_final_and_goes_on() -> None:
    s = Session()
    s.receive_bytes(pcm([1, 2]))
    assert s.receive_text('{"reset" : 1}') == [Finalize()]
    s.on_reply(reply(JobKind.AUDIO))
    actions = s.on_reply(reply(JobKind.FINALIZE, (final((HELLO,)),)))
    assert sent(actions)[0]["text"] == "hello" and not closes(actions)
    assert s.state is State.STREAMING
    assert [type(a) for a in s.receive_bytes(pcm([3]))] == [Audio]


def test_several_finals_in_one_vosk_reply_are_merged() -> None:
    s = Session()
    s.receive_bytes(pcm([1]))
    f1, f2 = final((HELLO,), 0, True), final((WORLD,), 1, True)
    (message,) = sent(s.on_reply(reply(JobKind.AUDIO, (f1, f2))))
    assert message["text"] == "hello world"
    assert [w["word"] for w in message["result"]] == ["hello", "world"]  # type: ignore[union-attr]


def test_words_false_and_alternatives() -> None:
    s = Session()
    s.receive_text('{"config": {"words": false}}')
    s.receive_bytes(pcm([1]))
    assert sent(s.on_reply(reply(JobKind.AUDIO, (final((HELLO,)),)))) == [{"text": "hello"}]


def nbest_final() -> Hypothesis:
    """A beam final: its n best, best first (the final itself is the first)."""
    alternatives = (Alternative((HELLO, WORLD), 0.6), Alternative((HELLO,), 0.3))
    return Hypothesis.final((HELLO, WORLD), 0, True, (*alternatives, Alternative((), 0.1)))


def alternatives_for(config: str, result: Hypothesis) -> object:
    s = Session()
    s.receive_text(config)
    s.receive_bytes(pcm([1]))
    (message,) = sent(s.on_reply(reply(JobKind.AUDIO, (result,))))
    assert set(message) == {"alternatives"}
    return message["alternatives"]


def test_max_alternatives_gives_the_n_best_in_vosks_shape() -> None:
    """vosk's n-best: confidence, text, and the words with their times (no per-word conf)."""
    words = [{"word": w.word, "start": w.start, "end": w.end} for w in (HELLO, WORLD)]
    expected = [
        {"confidence": 0.6, "result": words, "text": "hello world"},
        {"confidence": 0.3, "result": words[:1], "text": "hello"},
        {"confidence": 0.1, "text": ""},
    ]
    assert alternatives_for('{"config": {"max_alternatives": 20}}', nbest_final()) == expected
    assert alternatives_for('{"config": {"max_alternatives": 2}}', nbest_final()) == expected[:2]
    without_words = alternatives_for(
        '{"config": {"max_alternatives": 3, "words": 0}}', nbest_final()
    )
    assert without_words == [{k: v for k, v in e.items() if k != "result"} for e in expected]


def test_a_final_without_an_n_best_is_its_only_alternative() -> None:
    """Greedy decoding has one hypothesis: all of the probability; an empty final is
    vosk's empty n-best."""
    config = '{"config": {"max_alternatives": 5}}'
    only = [
        {
            "confidence": 1.0,
            "result": [{"word": "hello", "start": 0.5, "end": 0.9}],
            "text": "hello",
        }
    ]
    assert alternatives_for(config, final((HELLO,))) == only
    assert alternatives_for(config, final(())) == [{"confidence": 1.0, "text": ""}]


def test_eof_without_audio_answers_an_empty_final() -> None:
    actions = Session().receive_text('{"eof" : 1}')
    assert sent(actions) == [{"text": ""}]
    assert actions[-1] == Close(CloseCode.NORMAL, "")


def test_native_extensions() -> None:
    s = Session()
    s.receive_text('{"config": {"native": true, "sample_format": "f32le", "sample_rate": 16000}}')
    actions = s.receive_bytes(np.array([0.25, -1.5], "<f4").tobytes())
    np.testing.assert_array_equal(actions[1].samples, [0.25, -1.5])  # type: ignore[union-attr]
    out = sent(
        s.on_reply(
            reply(JobKind.AUDIO, (final((HELLO,), 0, True),), partial("world wi", "world", 1)),
            now=0.1,
        )
    )
    assert out == [
        {"event": "endpoint", "segment": 0},
        {
            "result": [{"word": "hello", "start": 0.5, "end": 0.9, "conf": 0.8}],
            "text": "hello",
            "segment": 0,
            "is_final": True,
            "endpoint": True,
        },
        {"partial": "world wi", "stable": "world", "segment": 1, "is_final": False},
    ]
    assert s.receive_text('{"finalize": 1}') == [Finalize()]
    out = sent(s.on_reply(reply(JobKind.FINALIZE, (final((WORLD,), 1),)), now=5.0))
    assert out[0] == {"event": "overload", "lag": 5.0}
    assert out[1]["is_final"] is True and out[1]["segment"] == 1 and out[1]["endpoint"] is False


def test_server_end_delivers_the_final_then_closes() -> None:
    s = Session()
    s.receive_bytes(pcm([1, 2]))
    assert s.end(CloseCode.GOING_AWAY, "server shutting down") == [Finish()]
    assert [type(a) for a in s.receive_bytes(pcm([3]))] == [Log]  # too late: not recognized
    s.on_reply(reply(JobKind.AUDIO, samples=2))
    actions = s.on_reply(reply(JobKind.FINISH, (final((HELLO,)),), ticket=1))
    assert sent(actions) == [{"result": [HELLO.to_dict()], "text": "hello"}]
    assert actions[-1] == Close(CloseCode.GOING_AWAY, "server shutting down")


def test_server_end_while_streaming_closes_with_its_code() -> None:
    s = Session()
    s.receive_bytes(pcm([1, 2]))
    s.end(CloseCode.GOING_AWAY, "server shutting down")
    s.on_reply(reply(JobKind.AUDIO))
    actions = s.on_reply(reply(JobKind.FINISH, (final((HELLO,)),)))
    assert sent(actions) == [{"result": [HELLO.to_dict()], "text": "hello"}]
    assert actions[-1] == Close(CloseCode.GOING_AWAY, "server shutting down")
    assert Session().end(CloseCode.GOING_AWAY, "idle") == [Close(CloseCode.GOING_AWAY, "idle")]


BAD_INPUTS: list[tuple[str | bytes, int, str]] = [
    ("{not json", CloseCode.INVALID_DATA, "malformed JSON"),
    ('"hello"', CloseCode.UNSUPPORTED, "control object"),
    ("[1, 2]", CloseCode.UNSUPPORTED, "control object"),
    ('{"eof": 1, "reset": 1}', CloseCode.UNSUPPORTED, "control object"),
    ('{"launch": 1}', CloseCode.UNSUPPORTED, "unknown control"),
    ('{"eof": 0}', CloseCode.INVALID_DATA, "must be 1"),
    ('{"finalize": 1}', CloseCode.UNSUPPORTED, "native"),
    ('{"config": {"sample_rate": 0}}', CloseCode.INVALID_DATA, "sample rate"),
    ('{"config": {"sample_rate": 1e12}}', CloseCode.INVALID_DATA, "sample rate"),
    ('{"config": {"sample_rate": NaN}}', CloseCode.INVALID_DATA, "sample rate"),
    ('{"config": {"sample_rate": "fast"}}', CloseCode.INVALID_DATA, "sample rate"),
    ('{"config": {"sample_rate": 16000.5}}', CloseCode.INVALID_DATA, "sample rate"),
    ('{"config": 5}', CloseCode.INVALID_DATA, "object"),
    ('{"config": {"words": "yes"}}', CloseCode.INVALID_DATA, "true or false"),
    ('{"config": {"max_alternatives": "many"}}', CloseCode.INVALID_DATA, "max_alternatives"),
    ('{"config": {"phrase_list": ["a"], "phrase_boost": ["b"]}}', CloseCode.INVALID_DATA, "one"),
    ('{"config": {"sample_format": "f32le"}}', CloseCode.INVALID_DATA, "native"),
    ('{"config": {"native": true, "sample_format": "u8"}}', CloseCode.INVALID_DATA, "s16le"),
    ('{"config": {"phrase_list": "call home"}}', CloseCode.INVALID_DATA, "phrase_list"),
    ('{"config": {"phrase_list": ["ok", 5]}}', CloseCode.INVALID_DATA, "phrase_list"),
    ('{"config": {"phrase_list": [""]}}', CloseCode.INVALID_DATA, "phrase_list"),
    ('{"config": {"phrase_list_only": true}}', CloseCode.INVALID_DATA, "phrase_list_only"),
    ("[" * 100_000, CloseCode.INVALID_DATA, "malformed JSON"),
    (b"", CloseCode.INVALID_DATA, "empty"),
    (b"\x01\x02\x03", CloseCode.INVALID_DATA, "1 trailing byte"),
    (b"\x00" * (SessionOptions().max_message_bytes + 2), CloseCode.TOO_BIG, "exceeds"),
]


@pytest.mark.parametrize(("message", "code", "words"), BAD_INPUTS)
def test_bad_input_closes_with_a_clear_code_and_reason(
    message: str | bytes, code: int, words: str
) -> None:
    s = Session()
    actions = s.receive_bytes(message) if isinstance(message, bytes) else s.receive_text(message)
    (error,) = sent(actions)
    (close,) = closes(actions)
    assert close.code == code and error["code"] == code
    assert words in close.reason and words in str(error["error"])
    assert len(close.reason.encode()) <= 123
    assert s.state is State.CLOSED
    assert s.receive_bytes(pcm([1])) == [] and s.receive_text('{"eof": 1}') == []


def test_phrase_list_travels_with_the_open() -> None:
    s = Session()
    s.receive_text('{"config": {"phrase_list": ["call home", "[unk]"], "phrase_list_only": true}}')
    opens = [a for a in s.receive_bytes(pcm([1, 2])) if isinstance(a, Open)]
    assert opens == [Open(8000, ("call home", "[unk]"), True)]


def test_config_after_audio_is_refused() -> None:
    s = Session()
    s.receive_bytes(pcm([1]))
    assert closes(s.receive_text('{"config": {"sample_rate": 16000}}'))[0].code == 1003


def test_anything_after_eof_costs_nothing_owed() -> None:
    """Audio, eof, then a duplicate eof and a stray chunk: those two are dropped with one
    logged warning, and the replies owed for the audio before eof (its partial, the final)
    still go out, then the normal close."""
    s = Session()
    s.receive_bytes(pcm([1, 2]))
    assert s.receive_text('{"eof" : 1}') == [Finish()]
    (warning,) = s.receive_text('{"eof" : 1}')
    assert isinstance(warning, Log) and warning.level == logging.WARNING
    assert "after the end of input" in warning.message
    assert s.receive_bytes(pcm([3])) == []  # one warning per session
    assert s.receive_text('{"reset" : 1}') == []
    assert s.ignored == 3
    assert sent(s.on_reply(reply(JobKind.AUDIO, part=partial("hel"), samples=2))) == [
        {"partial": "hel"}
    ]
    actions = s.on_reply(reply(JobKind.FINISH, (final((HELLO,)),), ticket=1))
    assert sent(actions) == [{"result": [HELLO.to_dict()], "text": "hello"}]
    assert actions[-1] == Close(CloseCode.NORMAL, "")


def test_non_finite_float_samples_are_refused() -> None:
    s = Session()
    s.receive_text('{"config": {"native": true, "sample_format": "f32le"}}')
    actions = s.receive_bytes(np.array([0.0, np.nan], "<f4").tobytes())
    assert closes(actions)[0].code == CloseCode.INVALID_DATA
    s = Session()
    s.receive_text('{"config": {"native": true, "sample_format": "f32le"}}')
    assert closes(s.receive_bytes(b"\x00" * 6))[0].code == CloseCode.INVALID_DATA


def test_engine_failure_closes_with_internal_error() -> None:
    s = Session()
    s.receive_bytes(pcm([1]))
    failed = Reply(0, JobKind.AUDIO, (), None, 1, 0.0, error="ValueError: boom")
    actions = s.on_reply(failed)
    assert closes(actions)[0] == Close(CloseCode.INTERNAL, "recognizer failure")
    assert all("boom" not in str(m) for m in sent(actions))  # no internals leak to the client
    (log,) = [a for a in actions if isinstance(a, Log)]  # ... but the operator hears them
    assert log.level == logging.ERROR and "ValueError: boom" in log.message


messages = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=64),
    st.sampled_from(
        [
            '{"eof" : 1}',
            '{"reset": 1}',
            '{"finalize": 1}',
            '{"config": {"sample_rate": 16000}}',
            '{"config": {"native": true, "sample_format": "f32le"}}',
            '{"config": {"sample_rate": 44100, "words": false, "max_alternatives": 2}}',
        ]
    ),
    st.lists(st.integers(-32768, 32767), min_size=1, max_size=32).map(pcm),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(messages, max_size=12))
def test_fuzz_every_audio_message_is_answered_or_the_session_closes(
    inputs: list[str | bytes],
) -> None:
    """Whatever arrives: no exception escapes, every accepted audio message becomes one
    engine job, each job's reply gives exactly one message in vosk mode, every accepted
    sample is accounted for, and a session that closed says nothing more."""
    s = Session()
    jobs: list[tuple[JobKind, int]] = []
    closed = False
    for message in inputs:
        actions = (
            s.receive_bytes(message) if isinstance(message, bytes) else s.receive_text(message)
        )
        if closed:
            assert actions == []
            continue
        for a in actions:
            if isinstance(a, Audio):
                jobs.append((JobKind.AUDIO, a.samples.size))
            elif isinstance(a, Finalize):
                jobs.append((JobKind.FINALIZE, 0))
            elif isinstance(a, Finish):
                jobs.append((JobKind.FINISH, 0))
        if closes(actions):
            closed = True
            assert actions[-1] is closes(actions)[-1]
            assert len(closes(actions)) == 1
            assert all(len(c.reason.encode()) <= 123 for c in closes(actions))
    assert s.pending == len(jobs)
    assert s.samples_in == sum(n for _, n in jobs)
    for ticket, (kind, n) in enumerate(jobs):
        finals = () if kind is JobKind.AUDIO else (final((HELLO,)),)
        was_closed = s.state is State.CLOSED
        out = s.on_reply(reply(kind, finals, samples=n, ticket=ticket))
        if was_closed:
            assert out == []
        elif kind is JobKind.AUDIO and not s.config.native:
            assert len(sent(out)) == 1 and not closes(out)
    if not closed:
        assert s.pending == 0
        assert s.samples_recognized == s.samples_in
