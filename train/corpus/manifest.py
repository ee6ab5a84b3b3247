"""Manifest records and JSONL files, the one format every corpus here is described in.

Why: synthetic, LibriSpeech, Common Voice and real development audio all reach training and
evaluation as the same record (`audio_filepath`, `duration`, `text`, `voice`, and `augment` for
augmented copies), in NeMo-style JSON lines. `audio_filepath` is absolute or relative to the
manifest's directory; `resolve_audio` turns it into a path. Files are written atomically.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from streamasr.audio.files import Audio, AudioFileError, read_audio


@dataclass(frozen=True)
class Record:
    audio_filepath: str  # absolute, or relative to the manifest's directory
    duration: float  # seconds
    text: str  # normalised to the model alphabet (streamasr.vocab)
    voice: str  # TTS voice name ("espeak/en-us+m3") or corpus speaker ("librispeech/1234")
    augment: str | None = None  # "speed=1.050;noise=pink@12.0dB" for augmented copies
    # How the transcript was made, where none shipped with the audio ("whisper, checked by hand
    # against the Harvard sentences"); None: it came with the recording or its generator.
    reference: str | None = None

    def to_json(self) -> str:
        fields = {k: v for k, v in asdict(self).items() if v is not None}
        fields["duration"] = round(self.duration, 3)
        return json.dumps(fields, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Record:
        d = json.loads(line)
        return cls(
            audio_filepath=str(d["audio_filepath"]),
            duration=float(d["duration"]),
            text=str(d["text"]),
            voice=str(d.get("voice", "")),
            augment=d.get("augment"),
            reference=d.get("reference"),
        )


def short_names(paths: Sequence[str | Path]) -> list[str]:
    """A label per path for logs and tables: its stem, or "folder/stem" where stems repeat
    (data/corpus/valid_heldout_voices.jsonl and data/neural/valid_heldout_voices.jsonl)."""
    stems = [Path(p).stem for p in paths]
    return [
        stem if stems.count(stem) == 1 else f"{Path(p).parent.name}/{stem}"
        for p, stem in zip(paths, stems, strict=True)
    ]


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file in the same directory and rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_manifest(path: Path, records: Iterable[Record]) -> int:
    """Write records as JSON lines (atomically); returns how many."""
    lines = [r.to_json() for r in records]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def read_manifest(path: Path) -> list[Record]:
    with path.open(encoding="utf-8") as f:
        return [Record.from_json(line) for line in f if line.strip()]


def resolve_audio(record: Record, manifest_path: Path) -> Path:
    """The audio file of `record` as listed in the manifest at `manifest_path`."""
    p = Path(record.audio_filepath)
    return p if p.is_absolute() else manifest_path.parent / p


def engine_of(voice: str) -> str:
    """ "kokoro/en-us:..." -> "kokoro"; real-speech sets name their source ("librivox")."""
    return voice.split("/", 1)[0]


def engine_list(text: str) -> tuple[str, ...]:
    """A flag's "rhvoice,pico" -> ("pico", "rhvoice"); "" -> ()."""
    return tuple(sorted({e for e in text.split(",") if e}))


def add_engines_argument(p: argparse.ArgumentParser) -> None:
    """``--engines rhvoice,pico``: score only utterances of these engines (for example the
    engine families training holds out, from the seen- and held-out-voice splits)."""
    p.add_argument(
        "--engines",
        type=engine_list,
        metavar="ENGINE,...",
        help="only utterances whose voice is of these engines (default: all)",
    )


def readable_audio(
    manifest_path: Path,
    limit: int | None = None,
    who: str = "eval",
    engines: Collection[str] | None = None,
) -> Iterator[tuple[Record, Audio]]:
    """The manifest's first ``limit`` records (of ``engines`` only, when given) with their
    audio, as with_audio reads it."""
    yield from with_audio(selected_records(manifest_path, engines)[:limit], manifest_path, who)


def selected_records(manifest_path: Path, engines: Collection[str] | None = None) -> list[Record]:
    """The manifest's records, of ``engines`` only when given."""
    records = read_manifest(manifest_path)
    if engines is None:
        return records
    return [r for r in records if engine_of(r.voice) in engines]


def with_audio(
    records: Iterable[Record], manifest_path: Path, who: str = "eval"
) -> Iterator[tuple[Record, Audio]]:
    """Each record of ``manifest_path`` with its audio; an unreadable file is reported on
    stderr (one line, naming it) and skipped, never a crash of the whole run."""
    for record in records:
        try:
            audio = read_audio(resolve_audio(record, manifest_path))
        except AudioFileError as e:
            print(f"{who}: skipping unreadable entry: {e}", file=sys.stderr)
            continue
        yield record, audio


def total_hours(records: Iterable[Record]) -> float:
    return sum(r.duration for r in records) / 3600.0
