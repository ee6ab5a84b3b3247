"""A session's ``{"config": {...}}`` message: parsed and checked, converted as vosk-server
converts it.

vosk-server converts config values rather than checking their types (``float(sample_rate)``,
``bool(words)``, ``int(max_alternatives)``), and its example clients rely on that: its
``test_words.py`` sends ``"words": 0``, ``test_alternatives.py`` ``"max_alternatives": 20``.
So numbers and numeric strings are converted here too; only what cannot be converted is
refused (``ConfigError``, which the session turns into a 1007 close).

Phrase lists, three ways:

- ``"phrase_list": [...]`` restricts recognition to the words of the listed phrases, in any
  order, as vosk-server's grammar (a bigram model over those words) does; a ``"[unk]"``
  entry keeps other speech possible, so the list then only boosts;
- ``"phrase_list_only": true`` restricts it further to whole phrases, ``false`` only boosts
  (both spelled out by older streamasr clients);
- ``"phrase_boost": [...]``, a streamasr extension: boosts the phrases, restricts nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from streamasr.audio.resample import check_rate
from streamasr.decode.lexicon import VOSK_UNK

SAMPLE_FORMATS = {"s16le": 2, "f32le": 4}  # bytes per sample
MAX_ALTERNATIVES = 10  # larger max_alternatives are clamped to this
MAX_PHRASES = 1000  # phrase_list entries per session
MAX_PHRASE_CHARS = 200  # characters per phrase


class ConfigError(ValueError):
    """A config value that cannot be converted; the message says which and why."""


@dataclass(frozen=True)
class ClientConfig:
    sample_rate: int
    words: bool = True  # word list (with times and confidences) in results
    max_alternatives: int = 0  # >0: finals in vosk's "alternatives" form, at most this many
    native: bool = False  # streamasr extensions on
    sample_format: str = "s16le"  # "f32le" only with native
    phrase_list: tuple[str, ...] = ()  # what the session's decoder gets (see restrict)
    restrict: bool = False  # recognize nothing but phrase_list; else it is boosted


def parse_config(value: Any, current: ClientConfig) -> ClientConfig:
    """The config after ``{"config": value}``; keys not given keep ``current``'s values.
    Unknown keys (vosk's ``nlsml``, ``model``, ...) are ignored, as vosk-server does."""
    if not isinstance(value, dict):
        raise ConfigError("config must be an object")
    rate = current.sample_rate
    if "sample_rate" in value:
        try:
            rate = check_rate(_number(value["sample_rate"]))
        except ValueError as e:
            raise ConfigError(str(e)) from e
    words = _flag(value, "words", current.words)
    native = _flag(value, "native", current.native)
    alternatives = current.max_alternatives
    if "max_alternatives" in value:
        alternatives = min(max(_integer(value["max_alternatives"]), 0), MAX_ALTERNATIVES)
    sample_format = value.get("sample_format", current.sample_format)
    if sample_format not in SAMPLE_FORMATS:
        raise ConfigError('"sample_format" must be "s16le" or "f32le"')
    if sample_format != "s16le" and not native:
        raise ConfigError('"sample_format" needs "native": true')
    phrases, restrict = current.phrase_list, current.restrict
    if "phrase_list" in value and "phrase_boost" in value:
        raise ConfigError('"phrase_list" restricts and "phrase_boost" boosts: send one of them')
    if "phrase_boost" in value:
        phrases, restrict = _phrases(value, "phrase_boost"), False
    elif "phrase_list" in value or "phrase_list_only" in value:
        phrases, restrict = _vosk_phrases(value)
    return ClientConfig(rate, words, alternatives, native, sample_format, phrases, restrict)


def _vosk_phrases(value: dict[str, Any]) -> tuple[tuple[str, ...], bool]:
    phrases = _phrases(value, "phrase_list")
    only = value.get("phrase_list_only")
    if only is not None and (not isinstance(only, bool | int | float) or (only and not phrases)):
        raise ConfigError('"phrase_list_only" must be a boolean, with a phrase_list')
    if not phrases:
        return (), False  # vosk-server: an empty list is no grammar
    if only is not None:
        return phrases, bool(only)  # whole phrases only, or boosted
    if any(p.strip().lower() == VOSK_UNK for p in phrases):
        return phrases, False  # "[unk]": anything else may be said, so only boost
    # vosk's grammar: any sequence of the listed words (one-word phrases restrict to that).
    words = dict.fromkeys(w for p in phrases for w in p.lower().split())
    return tuple(words), True


def _phrases(value: dict[str, Any], key: str) -> tuple[str, ...]:
    phrases = value.get(key, [])
    if (
        not isinstance(phrases, list)
        or len(phrases) > MAX_PHRASES
        or not all(isinstance(x, str) and 0 < len(x) <= MAX_PHRASE_CHARS for x in phrases)
    ):
        raise ConfigError(
            f'"{key}" must be a list of at most {MAX_PHRASES} non-empty strings '
            f"of at most {MAX_PHRASE_CHARS} characters"
        )
    return tuple(phrases)


def _number(value: Any) -> float:
    """vosk's ``float(value)``: numbers and numeric strings (not booleans)."""
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise ConfigError(f"sample rate must be a number, got {value!r}"[:120]) from None
    return value  # type: ignore[no-any-return]  # check_rate refuses what is no number


def _flag(value: dict[str, Any], key: str, default: bool) -> bool:
    """vosk's ``bool(value)`` for booleans and numbers (``"words": 0``); a string is refused
    rather than read as vosk would (``bool("false")`` is true there)."""
    if key not in value:
        return default
    flag = value[key]
    if not isinstance(flag, bool | int | float) or flag != flag:
        raise ConfigError(f'"{key}" must be true or false (or 1 or 0)')
    return bool(flag)


def _integer(value: Any) -> int:
    """vosk's ``int(value)``: integers, floats (truncated) and integer strings."""
    try:
        if isinstance(value, str):
            return int(value.strip())
        if isinstance(value, int | float) and math.isfinite(value):
            return int(value)
    except ValueError:
        pass
    raise ConfigError(f'"max_alternatives" must be an integer, got {value!r}'[:120])
