"""A development set of real human speech, for EVALUATION ONLY, from Debian packages.

Why: a model trained on synthetic voices must be measured on people. Debian ships a few
transcribed recordings: pocketsphinx-testdata (LibriVox "Sense and Sensibility" sentences and
spoken playing cards) and alsa-utils' channel-test prompts, whose words are their file names
(Front_Left.wav -> "front left"; Noise.wav is noise, not speech, and is left out). The audio is
converted to 16 kHz mono FLAC beside the manifest so every consumer reads one format.

    python -m train.devset --out data/dev_real.jsonl
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from streamasr.constants import SAMPLE_RATE
from train.corpus.manifest import Record, write_manifest
from train.corpus.normalize import normalize
from train.corpus.voices import to_16k

POCKETSPHINX_DATA = Path("/usr/share/pocketsphinx/test/data")
ALSA_SOUNDS = Path("/usr/share/sounds/alsa")
ALSA_NOT_SPEECH = frozenset({"Noise"})

_SPHINX_LINE = re.compile(r"^\s*(?:<s>)?\s*(?P<text>.*?)\s*(?:</s>)?\s*\((?P<id>[^)]+)\)\s*$")


@dataclass(frozen=True)
class Utterance:
    source: Path  # the original audio file
    text: str  # normalised transcript
    voice: str  # corpus/speaker label


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


def real_utterances(
    pocketsphinx: Path = POCKETSPHINX_DATA, alsa: Path = ALSA_SOUNDS
) -> list[Utterance]:
    """Every transcribed real recording found in the installed packages."""
    return [
        *sphinx_utterances(pocketsphinx / "librivox", "transcription", "librivox"),
        *sphinx_utterances(pocketsphinx / "cards", "cards.transcription", "cards"),
        *alsa_utterances(alsa),
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
        dest = audio_dir / utt.voice / f"{utt.source.stem}.flac"
        duration = convert(utt, dest)
        records.append(Record(str(dest.relative_to(out.parent)), duration, utt.text, utt.voice))
    write_manifest(out, records)
    return records


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.devset", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("data/dev_real.jsonl"), help="manifest path")
    args = p.parse_args(argv)
    utterances = real_utterances()
    if not utterances:
        print("no real recordings found: run train/setup_tts.sh", file=sys.stderr)
        return 1
    records = build(args.out, utterances)
    seconds = sum(r.duration for r in records)
    print(f"{args.out}: {len(records)} utterances, {seconds:.1f} s of real speech")
    return 0


if __name__ == "__main__":
    sys.exit(main())
