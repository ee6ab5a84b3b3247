"""Real speech corpora in their published layouts, read into manifest records.

Why: synthetic voices only go so far; when LibriSpeech or a Common Voice release is at hand it
should join training through the same manifest records, with its text normalised to the model
alphabet like every other label. Nothing is converted: `audio_filepath` points at the corpus's
own files (absolute paths), at their own sample rate; utterances whose text cannot be
normalised are skipped and counted.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from train.corpus.manifest import Record
from train.corpus.normalize import try_normalize

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    records: list[Record]  # usable utterances
    skipped: int  # utterances with unconvertible text or missing/unreadable audio


def _duration(path: Path) -> float | None:
    try:
        return float(sf.info(str(path)).duration)
    except (RuntimeError, sf.LibsndfileError):
        return None


def librispeech(root: Path) -> Loaded:
    """A LibriSpeech split: SPEAKER/CHAPTER/SPEAKER-CHAPTER.trans.txt beside SPEAKER-CHAPTER-N.flac.

    Each transcript line is "SPEAKER-CHAPTER-N WORDS ..."; voice is "librispeech/SPEAKER".
    """
    if not root.is_dir():
        raise ValueError(f"not a directory: {root}")
    records: list[Record] = []
    skipped = 0
    for trans in sorted(root.rglob("*.trans.txt")):
        speaker = trans.name.split("-")[0]
        for line in trans.read_text(encoding="utf-8").splitlines():
            utt_id, _, words = line.strip().partition(" ")
            if not utt_id:
                continue
            audio = (trans.parent / f"{utt_id}.flac").resolve()
            text = try_normalize(words)
            duration = _duration(audio)
            if text is None or duration is None:
                skipped += 1
                continue
            records.append(Record(str(audio), duration, text, f"librispeech/{speaker}"))
    return Loaded(records, skipped)


def common_voice(tsv: Path, clips: Path | None = None) -> Loaded:
    """A Common Voice TSV (train.tsv, dev.tsv ...) with `path` and `sentence` columns.

    Audio is looked up in `clips` (default: the `clips/` folder beside the TSV); voice is
    "commonvoice/<first 12 characters of client_id>".
    """
    clips = clips if clips is not None else tsv.parent / "clips"
    records: list[Record] = []
    skipped = 0
    with tsv.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = {"path", "sentence"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{tsv}: missing columns {sorted(missing)}")
        for row in reader:
            audio = (clips / row["path"]).resolve()
            text = try_normalize(row["sentence"] or "")
            duration = _duration(audio)
            if text is None or duration is None:
                skipped += 1
                continue
            client = (row.get("client_id") or "unknown")[:12]
            records.append(Record(str(audio), duration, text, f"commonvoice/{client}"))
    return Loaded(records, skipped)
