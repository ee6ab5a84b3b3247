"""A development set of real human speech, for EVALUATION ONLY, from Debian packages.

Why: a model trained on synthetic voices must be measured on people. Debian ships a few
recordings of people; never train on them. The sources, each its own `voice` label:
- pocketsphinx-testdata: LibriVox "Sense and Sensibility" sentences and spoken playing cards,
  with transcripts;
- alsa-utils' channel-test prompts, whose words are their file names (Front_Left.wav ->
  "front left"; Noise.wav is noise, not speech, and is left out);
- codec2-examples: Harvard-style sentences and a ham-radio call, 8 kHz, several speakers. No
  transcript ships: `CODEC2_TRANSCRIPTS` holds Whisper base's reading checked by hand against
  the published Harvard sentence lists (the manifest's `reference` says so). Left out: all.wav
  (the others joined), and recordings whose words could not be checked without listening
  (ve9qrp, vk2tpm_004, david4);
- klettres-data: letter names and short words, a US and a British speaker; words from
  sounds.xml's labels (phonics sounds that are not words, "ch" and "th", are left out);
- ktuberling-data: 72 single words; labels from the file names ("moon_fallingstar" ->
  "falling star").
The audio is converted to 16 kHz mono FLAC beside the manifest so every consumer reads one
format.

A second set, kept apart so that the first one's figures stay comparable across runs:
``--prompts`` reads asterisk-core-sounds-en-wav, a professional speaker's telephone prompts
(8 kHz), with the transcripts asterisk-core-sounds-en ships. Only whole sentences are kept
(at least ``ASTERISK_MIN_WORDS`` words), and none whose spoken form the text leaves open:
keypad symbols ("press #": pound or hash?), numbers of two or more digits, bracketed notes.
The first set has 29 sentences in all; this one adds 246 more, of one new speaker.

    python -m train.devset --out data/dev_real.jsonl
    python -m train.devset --prompts --out data/dev_prompts.jsonl
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from streamasr.constants import SAMPLE_RATE
from train.corpus.manifest import Record, write_manifest
from train.corpus.normalize import Unconvertible, normalize
from train.corpus.voices import to_16k

POCKETSPHINX_DATA = Path("/usr/share/pocketsphinx/test/data")
ALSA_SOUNDS = Path("/usr/share/sounds/alsa")
ALSA_NOT_SPEECH = frozenset({"Noise"})

_SPHINX_LINE = re.compile(r"^\s*(?:<s>)?\s*(?P<text>.*?)\s*(?:</s>)?\s*\((?P<id>[^)]+)\)\s*$")


CODEC2_WAV = Path("/usr/share/codec2/wav")
KLETTRES = Path("/usr/share/klettres")
KTUBERLING_SOUNDS = Path("/usr/share/ktuberling/sounds/en")
HARVARD = "whisper base, checked by hand against the Harvard sentence lists"
BY_HAND = "whisper base, checked by hand"
# stem -> (transcript, how it was made); see the module docstring.
CODEC2_TRANSCRIPTS: dict[str, tuple[str, str]] = {
    "hts1a": ("the navy attacked the big task force", HARVARD),
    "hts2a": ("these days a chicken leg is a rare dish", HARVARD),
    "mmt1": ("it's easy to tell the depth of a well", HARVARD),
    "big_dog": ("the big dog loved to chew on the old rag doll", BY_HAND),
    "cross": ("they took the cross town bus", BY_HAND),
    "forig": ("don't throw trash on the street", BY_HAND),
    "f2400": ("don't throw trash on the street", BY_HAND),
    "morig": ("that frog jumped through the weeds", BY_HAND),
    "m2400": ("that frog jumped through the weeds", BY_HAND),
    "vk5qi": (
        "this is victor kilo five quebec india victor kilo five quebec india "
        "testing one two three four five four three two one",
        "whisper base, call-sign spelling alphabet corrected by hand",
    ),
    "wia_16kHz": ("from australia", BY_HAND),
}
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
ASTERISK_INDEX = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
ASTERISK_MIN_WORDS = 4
_ASTERISK_UNSAYABLE = re.compile(r"[\[\]*#]|\d\d")  # see the module docstring
KLETTRES_NOT_WORDS = frozenset({"ch", "th"})
KLETTRES_LOCALES = {"en": "klettres-us", "en_GB": "klettres-gb"}
# ktuberling file-name labels that are not the spoken words as written.
KTUBERLING_WORDS = {
    "fallingstar": "falling star",
    "palmtree": "palm tree",
    "broccolli": "broccoli",
    "sphynx": "sphinx",
    "ufo": "u f o",
}


@dataclass(frozen=True)
class Utterance:
    source: Path  # the original audio file
    text: str  # normalised transcript
    voice: str  # corpus/speaker label
    reference: str | None = None  # how the transcript was made, when none shipped
    name: str = ""  # the output file's stem, where the source's alone is not unique


def parse_sphinx_transcription(text: str) -> dict[str, str]:
    """CMU Sphinx transcription lines "<s> words </s> (utt_id)" -> {utt_id: words}."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = _SPHINX_LINE.match(line)
        if m:
            out[m["id"]] = m["text"]
    return out


def sphinx_utterances(folder: Path, transcription: str, voice: str) -> Iterator[Utterance]:
    path = folder / transcription
    if not path.exists():
        return
    for utt_id, words in parse_sphinx_transcription(path.read_text(encoding="utf-8")).items():
        audio = folder / f"{utt_id}.wav"
        if audio.exists():
            yield Utterance(audio, normalize(words), voice)


def alsa_utterances(folder: Path = ALSA_SOUNDS) -> Iterator[Utterance]:
    for audio in sorted(folder.glob("*.wav")):
        if audio.stem not in ALSA_NOT_SPEECH:
            yield Utterance(audio, normalize(audio.stem.replace("_", " ")), "alsa")


def codec2_utterances(folder: Path = CODEC2_WAV) -> Iterator[Utterance]:
    for stem, (text, how) in sorted(CODEC2_TRANSCRIPTS.items()):
        audio = folder / f"{stem}.wav"
        if audio.exists():
            yield Utterance(audio, normalize(text), "codec2", how)


_KLETTRES_SOUND = re.compile(r'<sound\s+name="(?P<name>[^"]+)"\s+file="(?P<file>[^"]+)"')


def klettres_utterances(root: Path = KLETTRES) -> Iterator[Utterance]:
    """Letter names (as the letter: "b") and short words, from each locale's sounds.xml."""
    for locale, voice in KLETTRES_LOCALES.items():
        index = root / locale / "sounds.xml"
        if not index.exists():
            continue
        for m in _KLETTRES_SOUND.finditer(index.read_text(encoding="utf-8")):
            word = m["name"].lower()
            audio = root / m["file"]
            if word not in KLETTRES_NOT_WORDS and audio.exists():
                yield Utterance(audio, normalize(word), voice)


def ktuberling_utterances(folder: Path = KTUBERLING_SOUNDS) -> Iterator[Utterance]:
    for audio in sorted(folder.glob("*.ogg")):
        label = audio.stem.rsplit("_", 1)[-1]  # "pizzeria_olive" -> "olive"
        yield Utterance(audio, normalize(KTUBERLING_WORDS.get(label, label)), "ktuberling")


def parse_asterisk_index(text: str) -> dict[str, str]:
    """core-sounds-en.txt lines "name: text" (name may hold a folder) -> {name: text};
    comment lines start with ";"."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, words = line.partition(":")
        if sep and not line.startswith(";") and " " not in name.strip():
            out[name.strip()] = words.strip()
    return out


def asterisk_utterances(
    sounds: Path = ASTERISK_SOUNDS, index: Path = ASTERISK_INDEX
) -> Iterator[Utterance]:
    """The whole-sentence prompts whose spoken words the shipped text pins down."""
    if not index.exists():
        return
    for name, words in sorted(
        parse_asterisk_index(gzip.decompress(index.read_bytes()).decode()).items()
    ):
        audio = sounds / f"{name}.wav"
        if not audio.exists() or _ASTERISK_UNSAYABLE.search(words):
            continue
        try:
            text = normalize(words)
        except Unconvertible:  # "3D audio": how it is said is not written down
            continue
        if len(text.split()) >= ASTERISK_MIN_WORDS:
            # Prompts in folders share stems ("pls-hold-while-try", "followme/pls-hold-while-try").
            yield Utterance(audio, text, "asterisk", name=name.replace("/", "-"))


def real_utterances(
    pocketsphinx: Path = POCKETSPHINX_DATA,
    alsa: Path = ALSA_SOUNDS,
    codec2: Path = CODEC2_WAV,
    klettres: Path = KLETTRES,
    ktuberling: Path = KTUBERLING_SOUNDS,
) -> list[Utterance]:
    """Every transcribed real recording found in the installed packages."""
    return [
        *sphinx_utterances(pocketsphinx / "librivox", "transcription", "librivox"),
        *sphinx_utterances(pocketsphinx / "cards", "cards.transcription", "cards"),
        *alsa_utterances(alsa),
        *codec2_utterances(codec2),
        *klettres_utterances(klettres),
        *ktuberling_utterances(ktuberling),
    ]


def convert(utt: Utterance, dest: Path) -> float:
    """Write `utt` as 16 kHz mono 16-bit FLAC at `dest`; returns its duration in seconds."""
    audio, rate = sf.read(str(utt.source), dtype="float32", always_2d=True)
    wave = to_16k(audio.mean(axis=1), rate)
    dest.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(dest), np.clip(wave, -1, 1), SAMPLE_RATE, subtype="PCM_16", format="FLAC")
    return len(wave) / SAMPLE_RATE


def build(out: Path, utterances: list[Utterance]) -> list[Record]:
    """Convert the audio into `<out without .jsonl>/` and write the manifest `out`."""
    audio_dir = out.with_suffix("")
    records = []
    for utt in utterances:
        # Two klettres locales share file names: the voice label keeps them apart.
        dest = audio_dir / utt.voice / f"{utt.name or utt.source.stem}.flac"
        duration = convert(utt, dest)
        rel = str(dest.relative_to(out.parent))
        records.append(Record(rel, duration, utt.text, utt.voice, reference=utt.reference))
    write_manifest(out, records)
    return records


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.devset", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("data/dev_real.jsonl"), help="manifest path")
    p.add_argument(
        "--prompts", action="store_true", help="the telephone-prompt set instead (docstring)"
    )
    args = p.parse_args(argv)
    utterances = list(asterisk_utterances()) if args.prompts else real_utterances()
    if not utterances:
        print("no real recordings found: run train/setup_tts.sh", file=sys.stderr)
        return 1
    records = build(args.out, utterances)
    seconds = sum(r.duration for r in records)
    print(f"{args.out}: {len(records)} utterances, {seconds:.1f} s of real speech")
    return 0


if __name__ == "__main__":
    sys.exit(main())
