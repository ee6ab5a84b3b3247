"""Endpoint rules in the spirit of Kaldi and sherpa-onnx: when does an utterance end?

An utterance ends when any rule fires:
1. trailing silence of ``silence_no_speech`` seconds while nothing was decoded,
2. trailing silence of ``silence_after_speech`` seconds after something was decoded,
3. the utterance reached ``max_utterance`` seconds.
"Silence" is a run of frames whose best CTC symbol is the blank.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EndpointConfig:
    enabled: bool = True  # False: one utterance per stream, finalised only at end of input
    silence_no_speech: float = 2.4  # seconds of silence with nothing decoded (rule 1)
    silence_after_speech: float = 1.2  # seconds of silence after speech (rule 2)
    max_utterance: float = 20.0  # seconds; longer utterances are cut (rule 3)

    def __post_init__(self) -> None:
        for name in ("silence_no_speech", "silence_after_speech", "max_utterance"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"endpoint {name} must be positive seconds, got {value}")


def is_endpoint(
    config: EndpointConfig, utterance_seconds: float, trailing_silence: float, decoded: bool
) -> bool:
    if not config.enabled:
        return False
    if not decoded and trailing_silence >= config.silence_no_speech:
        return True
    if decoded and trailing_silence >= config.silence_after_speech:
        return True
    return utterance_seconds >= config.max_utterance
