"""The endpoint rules on their own: which (utterance length, trailing silence, decoded)
end an utterance."""

from __future__ import annotations

import pytest

from streamasr.decode.endpoint import EndpointConfig, is_endpoint

RULES = EndpointConfig(silence_no_speech=2.0, silence_after_speech=1.0, max_utterance=10.0)


@pytest.mark.parametrize(
    ("utterance", "silence", "decoded", "ends"),
    [
        (3.0, 1.9, False, False),  # rule 1 not yet
        (3.0, 2.0, False, True),  # rule 1: long silence, nothing decoded
        (3.0, 0.9, True, False),  # rule 2 not yet
        (3.0, 1.0, True, True),  # rule 2: silence after speech
        (9.9, 0.0, True, False),
        (10.0, 0.0, True, True),  # rule 3: the utterance is too long
        (10.0, 0.0, False, True),
    ],
)
def test_each_rule_fires_at_its_threshold(
    utterance: float, silence: float, decoded: bool, ends: bool
) -> None:
    assert is_endpoint(RULES, utterance, silence, decoded) is ends


def test_disabled_never_ends_an_utterance() -> None:
    off = EndpointConfig(enabled=False)
    assert not is_endpoint(off, 1000.0, 1000.0, True)
    assert not is_endpoint(off, 1000.0, 1000.0, False)


@pytest.mark.parametrize("name", ["silence_no_speech", "silence_after_speech", "max_utterance"])
def test_non_positive_durations_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        EndpointConfig(**{name: 0.0})  # type: ignore[arg-type]
