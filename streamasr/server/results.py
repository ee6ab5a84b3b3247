"""Final results as the client reads them: vosk's ``{"result": [...], "text": ...}`` or, with
``max_alternatives``, ``{"alternatives": [{"confidence", "text", "result"}, ...]}``; native
sessions add ``segment``, ``is_final`` and ``endpoint``."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from streamasr.decode.hypothesis import Alternative, Hypothesis
from streamasr.server.config import ClientConfig


def final_message(finals: list[Hypothesis], config: ClientConfig) -> str:
    """One message for ``finals`` (several when one audio message closed several
    utterances: vosk sends one reply per audio message, so they are merged)."""
    words = [w.to_dict() for f in finals for w in f.words]
    text = " ".join(f.text for f in finals if f.text)
    body: dict[str, Any] = {}
    if config.max_alternatives:
        body["alternatives"] = [
            _alternative(a, config.words) for a in _alternatives(finals)[: config.max_alternatives]
        ]
    else:
        if config.words and words:
            body["result"] = words
        body["text"] = text
    if config.native:
        body["segment"] = finals[-1].segment
        body["is_final"] = True
        body["endpoint"] = finals[-1].endpoint
    return dumps(body)


def _alternative(alternative: Alternative, words: bool) -> dict[str, Any]:
    """vosk's shape: confidence, text and, with words on and any spoken, their times (vosk's
    n-best words carry no per-word confidence)."""
    entry: dict[str, Any] = {"confidence": round(alternative.confidence, 4)}
    if words and alternative.words:
        entry["result"] = [
            {"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3)}
            for w in alternative.words
        ]
    entry["text"] = alternative.text
    return entry


def _alternatives(finals: list[Hypothesis]) -> list[Alternative]:
    """The n best of what ``finals`` say: a final with no alternatives of its own (greedy
    decoding) is its only alternative; finals merged into one message give one alternative,
    their words joined."""
    spoken = [f for f in finals if f.words] or finals[-1:]
    if len(spoken) == 1:
        return list(spoken[0].alternatives) or [Alternative(spoken[0].words, 1.0)]
    shares = [f.alternatives[0].confidence if f.alternatives else 1.0 for f in spoken]
    return [Alternative(tuple(w for f in spoken for w in f.words), float(np.prod(shares)))]


def stdlib_dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


def orjson_dumps(obj: dict[str, Any]) -> str:
    """The same JSON (compact separators; UTF-8 as is) from orjson, several times faster than
    the stdlib on the reply path, which sends one message per audio message."""
    import orjson

    return str(orjson.dumps(obj).decode())


def _has_orjson() -> bool:
    try:
        import orjson  # noqa: F401
    except ImportError:
        return False
    return True


# Every reply goes through here: orjson when installed (PyPI orjson), else the stdlib.
dumps = orjson_dumps if _has_orjson() else stdlib_dumps
