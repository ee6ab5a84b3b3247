"""The reply encoder: orjson when installed, else the stdlib; the two write the same JSON."""

from __future__ import annotations

import json

from streamasr.server import results

REPLY = {
    "result": [{"word": "café", "start": 0.12, "end": 0.5, "conf": 0.9375}],
    "text": "café",
    "segment": 3,
    "is_final": True,
}


def test_stdlib_encoder_writes_utf8_as_is() -> None:
    text = results.stdlib_dumps(REPLY)
    assert json.loads(text) == REPLY and "café" in text


def test_orjson_encoder_writes_the_same_json() -> None:
    text = results.orjson_dumps(REPLY)
    assert json.loads(text) == REPLY and "café" in text
    assert results.dumps is results.orjson_dumps  # installed: the replies use it
