"""English sentences from text Debian ships: fortune-mod's fortunes, the KJV Bible, Fish Fillets.

Why: TTS voices need many distinct, natural sentences; these packages hold ~60k of them under free
licences and need no network. Each passage is split into sentences, long ones at clause
boundaries, normalised to the model alphabet (normalize.py) and kept when 3-30 words long.
Sentences are deduplicated and mixed in a seeded, deterministic order. After the first
GENERATED_AFTER (the validation sentences), generated ones are mixed in: spelled letters
(spelling.py) and words said alone (short.py), which the packaged text lacks.

Kept out on purpose: WordNet example sentences and telephone-prompt style scripts, which the
evaluation uses; `build_sentences(exclude=...)` drops any further sentences the caller names.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from train.corpus.normalize import ABBREVIATIONS, try_normalize
from train.corpus.short import frequent_words, short_phrase
from train.corpus.spelling import spellable_words, spelled_sentence

FORTUNE_DIR = Path("/usr/share/games/fortunes")
FILLETS_SCRIPT_DIR = Path("/usr/share/games/fillets-ng/script")
MIN_WORDS = 3
MAX_WORDS = 30
# Fortune files that are pictures, not prose.
_FORTUNE_SKIP = frozenset({"ascii-art"})
# Share of each source in the mixed order (renormalised over the sources that yielded text);
# the archaic Bible would otherwise dominate by sheer size.
SOURCE_WEIGHTS: Mapping[str, float] = {"fortunes": 0.5, "bible": 0.35, "fillets": 0.15}
# Shares of generated sentences: spelled letters (spelling.py) and words said alone (short.py),
# mixed in after the first GENERATED_AFTER sentences so that every corpus's validation
# sentences (the first 300 + 300) stay what they were.
SPELLED_SHARE = 0.05
SHORT_SHARE = 0.05
GENERATED_AFTER = 1000

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]*[A-Z0-9])")
_CLAUSE_END = re.compile(r"(?<=[;:])\s+|\s+-+\s+")
_ABBREV_END = re.compile(r"\b(?:" + "|".join(ABBREVIATIONS) + r"|[A-Z])\.$", re.IGNORECASE)


def fortune_passages(root: Path = FORTUNE_DIR) -> Iterator[str]:
    """Each fortune cookie as one passage, attribution lines ("-- Author") removed."""
    if not root.is_dir():
        return
    for path in sorted(root.iterdir()):
        if path.suffix or path.name in _FORTUNE_SKIP or not path.is_file():
            continue  # .dat indexes and .u8 links
        raw = path.read_bytes().decode("utf-8", errors="replace")
        for entry in re.split(r"^%\s*$", raw, flags=re.MULTILINE):
            lines = [ln for ln in entry.splitlines() if not re.match(r"^\s*(--|\u2014)", ln)]
            text = " ".join(ln.strip() for ln in lines)
            text = re.sub(r"^\s*[QA]:\s*", "", text)
            text = re.sub(r"\s[QA]:\s", " ", text)
            if text.strip():
                yield text


def bible_passages(command: str = "bible") -> Iterator[str]:
    """The King James Bible, one verse per passage (through bible-kjv's `bible` command)."""
    exe = shutil.which(command)
    if exe is None:
        return
    out = subprocess.run(
        [exe, "-l0", "Gen1:1-Rev22:21"], capture_output=True, text=True, check=False, timeout=120
    ).stdout
    for line in out.splitlines():
        m = re.match(r"^\s+\d+\s+(.*\S)", line)
        if m:
            yield m.group(1)


_DIALOG = re.compile(r'dialogId\(\s*"[^"]*"\s*,\s*"[^"]*"\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)')


def fillets_passages(root: Path = FILLETS_SCRIPT_DIR) -> Iterator[str]:
    """English dialog lines of the Fish Fillets NG game scripts."""
    if not root.is_dir():
        return
    for path in sorted(root.glob("*/dialogs_en.lua")):
        for m in _DIALOG.finditer(path.read_text(encoding="utf-8", errors="replace")):
            yield m.group(1).replace('\\"', '"').replace("\\n", " ")


SOURCES: Mapping[str, Callable[[], Iterable[str]]] = {
    "fortunes": fortune_passages,
    "bible": bible_passages,
    "fillets": fillets_passages,
}


def split_sentences(passage: str) -> list[str]:
    """Split a passage at sentence ends, not after abbreviations such as "Mr." or initials."""
    passage = re.sub(r"\s+", " ", passage).strip()
    pieces: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(passage):
        candidate = passage[start : m.start()]
        if _ABBREV_END.search(candidate.rstrip("\"')]")):
            continue
        pieces.append(candidate)
        start = m.end()
    pieces.append(passage[start:])
    return [p.strip() for p in pieces if p.strip()]


def _word_count(raw: str) -> int:
    normal = try_normalize(raw)
    return len(normal.split()) if normal else 0


def _chunks(sentence: str, max_words: int) -> list[str]:
    """Cut an over-long sentence at clause boundaries (; : dashes, then commas), greedily packed."""
    for boundary in (_CLAUSE_END, re.compile(r"(?<=,)\s+")):
        clauses = boundary.split(sentence)
        if len(clauses) < 2:
            continue
        out: list[str] = []
        current = ""
        for clause in clauses:
            joined = f"{current} {clause}".strip()
            if current and _word_count(joined) > max_words:
                out.append(current)
                current = clause
            else:
                current = joined
        out.append(current)
        if all(_word_count(c) <= max_words for c in out):
            return out
        sentence_parts = [c for c in out if _word_count(c) <= max_words]
        return sentence_parts + [
            part for c in out if _word_count(c) > max_words for part in _chunks(c, max_words)
        ]
    return []


def passage_sentences(
    passage: str, min_words: int = MIN_WORDS, max_words: int = MAX_WORDS
) -> list[str]:
    """Normalised sentences of `min_words`..`max_words` words from one raw passage."""
    out: list[str] = []
    for sentence in split_sentences(passage):
        normal = try_normalize(sentence)
        if normal is None:
            continue
        if len(normal.split()) > max_words:
            chunks = (try_normalize(part) for part in _chunks(sentence, max_words))
            out.extend(c for c in chunks if c and min_words <= len(c.split()) <= max_words)
        elif len(normal.split()) >= min_words:
            out.append(normal)
    return out


def source_sentences(passages: Iterable[str]) -> list[str]:
    """Deduplicated normalised sentences of a source, in first-seen order."""
    seen: dict[str, None] = {}
    for passage in passages:
        for sentence in passage_sentences(passage):
            seen.setdefault(sentence, None)
    return list(seen)


def mix(per_source: Mapping[str, list[str]], weights: Mapping[str, float], seed: int) -> list[str]:
    """Shuffle each source, then interleave them by weight until all are used; deduplicated.

    Deterministic in `seed`; any prefix of the result has roughly the weighted source mix.
    """
    rng = np.random.default_rng(seed)
    names = sorted(n for n, s in per_source.items() if s)
    queues = {n: [per_source[n][i] for i in rng.permutation(len(per_source[n]))] for n in names}
    pos = dict.fromkeys(names, 0)
    out: dict[str, None] = {}
    while names:
        w = np.array([weights.get(n, 1.0) for n in names], dtype=np.float64)
        name = names[int(rng.choice(len(names), p=w / w.sum()))]
        out.setdefault(queues[name][pos[name]], None)
        pos[name] += 1
        if pos[name] == len(queues[name]):
            names.remove(name)
    return list(out)


def build_sentences(
    seed: int,
    sources: Mapping[str, Callable[[], Iterable[str]]] = SOURCES,
    exclude: Collection[str] = (),
    spelled_share: float = SPELLED_SHARE,
    short_share: float = SHORT_SHARE,
    short_words: Callable[[], Sequence[str]] = frequent_words,
) -> list[str]:
    """All usable sentences of all installed sources, deduplicated, in a seeded mixed order;
    after the first GENERATED_AFTER, `spelled_share` of spelled-letter sentences and
    `short_share` of short phrases of `short_words` are mixed in."""
    banned = frozenset(exclude)
    per_source = {
        name: [s for s in source_sentences(read()) if s not in banned]
        for name, read in sources.items()
    }
    packaged = mix(per_source, SOURCE_WEIGHTS, seed)
    if len(packaged) <= GENERATED_AFTER:
        return packaged  # nothing to mix into (and no word list to load)
    frequent = short_words()
    # Spelled words are words people spell today when the list is at hand (not "noadiah").
    spellable = spellable_words(frequent) or spellable_words(packaged)
    makers: list[tuple[float, Callable[[np.random.Generator], str]]] = [
        (spelled_share, lambda rng: spelled_sentence(rng, spellable)),
        (short_share if frequent else 0.0, lambda rng: short_phrase(rng, frequent)),
    ]
    return mix_in(packaged, seed, GENERATED_AFTER, makers)


def mix_in(
    sentences: Sequence[str],
    seed: int,
    keep_first: int,
    makers: Sequence[tuple[float, Callable[[np.random.Generator], str]]],
) -> list[str]:
    """`sentences` with generated ones mixed in after the first `keep_first`: each
    (share, maker) adds about `share` of the result. Deterministic in `seed`; generated
    sentences may repeat (there are only so many letters)."""
    total = sum(share for share, _ in makers)
    if any(share < 0.0 for share, _ in makers) or total >= 0.5:
        raise ValueError(f"shares must be >= 0 and sum below 0.5, got {[m[0] for m in makers]}")
    rng = np.random.default_rng([seed, 0x5BE11])
    odds = [share / (1.0 - total) for share, _ in makers]  # per packaged sentence
    out = list(sentences[:keep_first])
    for sentence in sentences[keep_first:]:
        out.append(sentence)
        for p, (_, make) in zip(odds, makers, strict=True):
            if rng.random() < p:
                out.append(make(rng))
    return out


@dataclass(frozen=True)
class TextStats:
    sentences: int  # number of sentences
    words: int  # running words
    vocabulary: int  # distinct words


def text_stats(sentences: Iterable[str]) -> TextStats:
    """Sentence, running-word and distinct-word counts."""
    n = words = 0
    vocab: set[str] = set()
    for sentence in sentences:
        tokens = sentence.split()
        n += 1
        words += len(tokens)
        vocab.update(tokens)
    return TextStats(sentences=n, words=words, vocabulary=len(vocab))
