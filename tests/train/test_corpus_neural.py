"""Neural voices: the Kokoro speaker catalogue, ident round trips, one real synthesis each."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from train.corpus import neural
from train.corpus.voices import (
    HELDOUT_ENGINES,
    NEURAL_ENGINES,
    SAMPLE_RATE,
    Prosody,
    SynthesisError,
    Voice,
    install_hint,
    installed_voices,
)


def test_catalogue_is_fixed_distinct_and_spellable() -> None:
    speakers = neural.kokoro_speakers()
    assert speakers == neural.kokoro_speakers()  # a pure function of its seed
    idents = [s.ident for s in speakers]
    assert len(idents) == len(set(idents)) == neural.KOKORO_SPEAKERS
    for s in speakers:
        assert neural.parse_kokoro_ident(s.ident) == s
        if s.kind == "mix":
            assert abs(sum(w for _, w in s.weights) - 1.0) < 1e-9
            assert dict(s.weights).get("alpha", 0.0) <= 0.3  # the strong accent, sparingly
    assert {s.lang for s in speakers} == {"en-us", "en-gb"}
    assert {s.kind for s in speakers} == {"mix", "split"}


def test_blend_is_the_weighted_sum_and_split_takes_halves() -> None:
    styles = {
        k: np.full((510, 1, 256), i, np.float32) for i, k in enumerate(neural._STYLE_KEYS.values())
    }
    mix = neural.parse_kokoro_ident("en-us:gongitsune0.25+kumo0.75")
    np.testing.assert_allclose(neural.kokoro_style(mix, styles), 0.25 * 1 + 0.75 * 4)
    split = neural.kokoro_style(neural.parse_kokoro_ident("en-gb:split:nezumi/kumo"), styles)
    assert (split[..., :128] == 2).all() and (split[..., 128:] == 4).all()


def test_jittered_catalogue_moves_other_blends_off_the_hull() -> None:
    speakers = neural.kokoro_jitter_speakers()
    assert speakers == neural.kokoro_jitter_speakers()
    assert len({s.ident for s in speakers}) == neural.KOKORO_JITTER_SPEAKERS
    assert not {s.ident.split("~")[0] for s in speakers[:50]} <= {
        s.ident for s in neural.kokoro_speakers()
    }  # another draw of blends, not the first catalogue's
    for s in speakers:
        assert neural.parse_kokoro_ident(s.ident) == s and s.jitter is not None
        assert neural.KOKORO_JITTER_SIGMA[0] <= s.jitter[1] <= neural.KOKORO_JITTER_SIGMA[1]
    rng = np.random.default_rng(0)
    styles = {
        k: rng.standard_normal((510, 1, 256)).astype(np.float32)
        for k in neural._STYLE_KEYS.values()
    }
    jittered = neural.parse_kokoro_ident("en-us:gongitsune0.25+kumo0.75~7x1.50")
    base = neural.kokoro_style(neural.parse_kokoro_ident("en-us:gongitsune0.25+kumo0.75"), styles)
    offset = neural.kokoro_style(jittered, styles) - base
    spread = np.std(np.stack(list(styles.values())), axis=0)
    # the same offset for every row, in units of the styles' spread, sigma times a unit normal
    units = offset / spread
    np.testing.assert_allclose(units, np.broadcast_to(units[:1], units.shape), atol=1e-3)
    assert 1.2 < float(np.std(units)) < 1.8
    np.testing.assert_array_equal(neural.kokoro_style(jittered, styles), base + offset)
    held = [i for i, v in enumerate(installed_voices(["kokoro_jitter"])) if v.heldout]
    assert held == list(range(neural.KOKORO_HELDOUT_EVERY - 1, len(speakers), 10))


@pytest.mark.parametrize(
    "ident",
    [
        "en-us:kumo1.00~7",
        "en-us:kumo1.00~x1.5",
        "en-us:",
        "fr-fr:kumo1.00",
        "en-us:bob1.00",
        "en-us:split:kumo",
        "en-us:kumo",
    ],
)
def test_malformed_kokoro_idents_are_refused(ident: str) -> None:
    with pytest.raises(ValueError, match="bad kokoro"):
        neural.parse_kokoro_ident(ident)


def test_piper_settings_round_trip_and_are_held_out() -> None:
    for setting in neural.piper_settings():
        assert neural.parse_piper_ident(setting.ident) == setting
    with pytest.raises(ValueError, match="bad piper"):
        neural.parse_piper_ident("joe:loud")
    assert "piper" in HELDOUT_ENGINES
    assert all(v.heldout for v in installed_voices(["piper"]))


def test_every_tenth_kokoro_speaker_is_held_out() -> None:
    voices = installed_voices(["kokoro"])
    assert len(voices) == neural.KOKORO_SPEAKERS
    held = [i for i, v in enumerate(voices) if v.heldout]
    assert held == list(range(neural.KOKORO_HELDOUT_EVERY - 1, len(voices), 10))


@pytest.mark.slow  # a TTS engine call
@pytest.mark.parametrize("engine", NEURAL_ENGINES)
def test_one_real_synthesis_per_neural_engine(engine: str) -> None:
    voices = installed_voices([engine])
    if not voices:
        pytest.fail(install_hint(engine))
    slow = voices[0].synthesize("the quick brown fox", Prosody(rate=0.9))
    fast = voices[0].synthesize("the quick brown fox", Prosody(rate=1.2))
    for wave in (slow, fast):
        assert wave.dtype == np.float32 and wave.ndim == 1
        assert 0.4 < len(wave) / SAMPLE_RATE < 4.0
        assert np.abs(wave).max() > 0.05  # speech, not silence
    assert len(fast) < len(slow)  # the rate reaches the engine


def test_engine_failure_is_a_synthesis_error() -> None:
    voice = Voice("kokoro/en-us:nobody1.00", "kokoro", "en-us:nobody1.00", False)
    with pytest.raises(SynthesisError, match="bad kokoro"):
        voice.synthesize("hello")


def _catalogue(
    draw: Callable[[], list[neural.KokoroSpeaker]], voices: tuple[str, ...], blends: int
) -> list[neural.KokoroSpeaker]:
    """A catalogue's speakers, checked to be seeded, distinct, and to begin with every voice
    once on its own."""
    speakers = draw()
    assert speakers == draw()
    assert len({s.ident for s in speakers}) == len(voices) + blends
    alone = [s.weights[0][0] for s in speakers if len(s.weights) == 1]
    assert alone == list(voices)  # every voice once, on its own
    return speakers


def test_english_catalogue_holds_out_whole_speakers() -> None:
    speakers = _catalogue(
        neural.kokoro_en_speakers, neural.KOKORO_EN_VOICES, neural.KOKORO_EN_BLENDS
    )
    held_blends = 0
    for s in speakers:
        assert neural.parse_kokoro_ident(s.ident) == s
        names = [v for v, _ in s.weights]
        assert len(names) <= 3 and abs(sum(w for _, w in s.weights) - 1.0) < 1e-9
        heaviest = max(s.weights, key=lambda vw: vw[1])[0]
        assert s.lang == ("en-gb" if heaviest[0] == "b" else "en-us")
        held = [v in neural.KOKORO_EN_HELDOUT for v in names]
        assert all(held) or not any(held)  # no training speaker carries a held-out voice
        assert neural.kokoro_en_heldout(s) == all(held)
        held_blends += len(names) > 1 and all(held)
    assert 20 <= held_blends <= 60
    assert {s.lang for s in speakers} == {"en-us", "en-gb"}


def test_english_voices_blend_by_name() -> None:
    styles = {
        v: np.full((510, 1, 256), i, np.float32) for i, v in enumerate(("af_bella", "bm_lewis"))
    }
    mix = neural.parse_kokoro_ident("en-gb:af_bella0.25+bm_lewis0.75")
    np.testing.assert_allclose(neural.kokoro_style(mix, styles), 0.75)
    with pytest.raises(ValueError, match="bad kokoro"):
        neural.parse_kokoro_ident("en-us:af_nobody1.00")


def test_jittered_english_speakers_move_off_the_english_hull() -> None:
    speakers = neural.kokoro_en_jitter_speakers()
    assert speakers == neural.kokoro_en_jitter_speakers()
    n_speakers = len(neural.KOKORO_EN_VOICES) + neural.KOKORO_EN_BLENDS
    assert len({s.ident for s in speakers}) == n_speakers
    unmoved = {s.ident for s in neural.kokoro_en_speakers()}
    blends = [s for s in speakers if len(s.weights) > 1]
    assert sum(s.ident.split("~")[0] in unmoved for s in blends) < len(blends) // 4  # another draw
    for s in speakers:
        assert neural.parse_kokoro_ident(s.ident) == s and s.jitter is not None
        assert neural.KOKORO_JITTER_SIGMA[0] <= s.jitter[1] <= neural.KOKORO_JITTER_SIGMA[1]
    voices = installed_voices(["kokoro_en_jitter"])
    assert [v.heldout for v in voices] == [neural.kokoro_en_heldout(s) for s in speakers]
    # The offset is in units of the English voices' spread, not the Japanese styles'.
    rng = np.random.default_rng(0)
    english_scale = 5.0  # the English voices spread five times wider than the Japanese here
    styles = {
        k: rng.standard_normal((510, 1, 256)).astype(np.float32)
        for k in neural._STYLE_KEYS.values()
    }
    styles |= {
        v: english_scale * rng.standard_normal((510, 1, 256)).astype(np.float32)
        for v in neural.KOKORO_EN_VOICES
    }
    base = neural.kokoro_style(neural.parse_kokoro_ident("en-us:af_bella1.00"), styles)
    jittered = neural.kokoro_style(neural.parse_kokoro_ident("en-us:af_bella1.00~7x1.50"), styles)
    english = np.stack([styles[v] for v in neural.KOKORO_EN_VOICES])
    units = (jittered - base) / np.std(english, axis=0)
    np.testing.assert_allclose(units, np.broadcast_to(units[:1], units.shape), atol=1e-3)
    assert 1.2 < float(np.std(units)) < 1.8


def test_world_catalogue_holds_out_whole_speakers() -> None:
    speakers = _catalogue(
        neural.kokoro_world_speakers, neural.KOKORO_WORLD_VOICES, neural.KOKORO_WORLD_BLENDS
    )
    held_out = neural.KOKORO_WORLD_HELDOUT | neural.KOKORO_EN_HELDOUT
    held_blends = 0
    for s in speakers:
        assert neural.parse_kokoro_ident(s.ident) == s
        names = [v for v, _ in s.weights]
        assert any(v in neural.KOKORO_WORLD_VOICES for v in names)  # never English alone
        assert abs(sum(w for _, w in s.weights) - 1.0) < 1e-9
        english = {v: w for v, w in s.weights if v in neural.KOKORO_EN_VOICES}
        heaviest = [v for v, w in english.items() if w == max(english.values())]
        accents = {"en-gb" if v[0] == "b" else "en-us" for v in heaviest} or {"en-us"}
        assert s.lang in accents  # the heaviest English voice's (either, on a tie)
        held = [v in held_out for v in names]
        assert all(held) or not any(held)  # no training speaker carries a held-out voice
        assert neural.kokoro_world_heldout(s) == all(held)
        held_blends += len(names) > 1 and all(held)
    assert 15 <= held_blends <= 60
    voices = installed_voices(["kokoro_world"])
    assert [v.heldout for v in voices] == [neural.kokoro_world_heldout(s) for s in speakers]


def test_world_voices_blend_with_english_ones() -> None:
    styles = {
        v: np.full((510, 1, 256), i, np.float32) for i, v in enumerate(("af_bella", "zm_yunxi"))
    }
    mix = neural.parse_kokoro_ident("en-us:af_bella0.25+zm_yunxi0.75")
    np.testing.assert_allclose(neural.kokoro_style(mix, styles), 0.75)


def test_new_engines_bring_speakers_no_earlier_catalogue_has() -> None:
    earlier = {
        s.ident.split("~")[0]
        for draw in (
            neural.kokoro_en_speakers,
            neural.kokoro_en_jitter_speakers,
            neural.kokoro_world_speakers,
        )
        for s in draw()
    }
    en2 = neural.kokoro_en_jitter2_speakers()
    world2 = _catalogue(
        neural.kokoro_world_jitter_speakers,
        neural.KOKORO_WORLD_VOICES,
        neural.KOKORO_WORLD_JITTER_BLENDS,
    )
    assert len({s.ident for s in en2}) == len(neural.KOKORO_EN_VOICES) + neural.KOKORO_EN_BLENDS
    for speakers in (en2, world2):
        blends = [s.ident.split("~")[0] for s in speakers if len(s.weights) > 1]
        assert sum(b in earlier for b in blends) < len(blends) // 10  # another draw
        for s in speakers:
            assert neural.parse_kokoro_ident(s.ident) == s and s.jitter is not None
            assert neural.KOKORO_JITTER_SIGMA[0] <= s.jitter[1] <= neural.KOKORO_JITTER_SIGMA[1]
    held_out = neural.KOKORO_WORLD_HELDOUT | neural.KOKORO_EN_HELDOUT
    for s in world2:
        held = [v in held_out for v, _ in s.weights]
        assert all(held) or not any(held)  # no training speaker carries a held-out voice
    assert [v.heldout for v in installed_voices(["kokoro_world_jitter"])] == [
        neural.kokoro_world_heldout(s) for s in world2
    ]
    assert [v.heldout for v in installed_voices(["kokoro_en_jitter2"])] == [
        neural.kokoro_en_heldout(s) for s in en2
    ]


@pytest.mark.parametrize(
    "ident", ["en-us:zm_yunxi1.00~7x1.50", "en-gb:bf_emma0.60+zm_yunxi0.40~7x1.50"]
)
def test_world_speakers_are_jittered_in_units_of_all_the_voices_they_mix_from(
    ident: str,
) -> None:
    rng = np.random.default_rng(0)
    names = (*neural._STYLE_KEYS.values(), *neural.KOKORO_EN_VOICES, *neural.KOKORO_WORLD_VOICES)
    styles = {k: rng.standard_normal((510, 1, 256)).astype(np.float32) for k in names}
    for v in neural.KOKORO_WORLD_VOICES:
        styles[v] *= 5.0  # the other languages' voices spread wider than the English ones here
    speaker = neural.parse_kokoro_ident(ident)
    base = neural.kokoro_style(neural.parse_kokoro_ident(ident.split("~")[0]), styles)
    family = np.stack([styles[v] for v in (*neural.KOKORO_EN_VOICES, *neural.KOKORO_WORLD_VOICES)])
    units = (neural.kokoro_style(speaker, styles) - base) / np.std(family, axis=0)
    np.testing.assert_allclose(units, np.broadcast_to(units[:1], units.shape), atol=1e-3)
    assert 1.2 < float(np.std(units)) < 1.8
