"""The corpus plan: every utterance (split, sentence, voice, prosody, augmentation seed) as a
pure function of the run seed and its index.

Why its own module: the plan is what makes a corpus reproducible and a stopped run resumable
(train/corpus/synth.py makes the audio it describes), and it is tested without any engine.
A plan by hours is a prefix of a longer plan, so a run with more hours only adds utterances.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from train.corpus.voices import ALL_ENGINES, ENGINE, ENGINES, Prosody, Voice

SPLITS = ("train", "valid_heldout_voices", "valid_seen_voices")
# What the corpus speaks: the training text (text.py), or WordNet's examples (wordnet.py),
# evaluation text that never trains.
TEXTS = ("corpus", "wordnet")
RATE_RANGE = (0.85, 1.2)  # speaking-rate factors drawn per utterance
PITCH_RANGE = (0.85, 1.15)  # pitch factors drawn per utterance
CHARS_PER_SECOND = 19.5  # planning estimate of speech rate at rate 1.0 (measured: ~20)
PLANNED_SILENCE_S = 0.2  # silence kept at each end of an utterance (synth.KEEP_SILENCE_S)


@dataclass(frozen=True)
class CorpusConfig:
    out: Path  # output directory
    seed: int = 0  # everything derives from it
    train_hours: float | None = None  # estimated clean training hours (or train_sentences)
    train_sentences: int | None = None  # clean training utterances (or train_hours)
    heldout_sentences: int = 300  # valid_heldout_voices utterances
    seen_sentences: int = 300  # valid_seen_voices utterances
    augmented_copies: int = 1  # augmented copies of each training utterance
    workers: int = 2  # worker processes; 1 runs in this process
    engines: tuple[str, ...] = ENGINES  # TTS engines to use (when installed)
    # First training sentence's position in the pool: a second corpus (the neural one) speaks
    # other sentences than the first, while both keep the same validation sentences.
    train_offset: int = 0
    # Write the manifests of the utterances already finished and synthesise nothing: what a
    # long run has produced so far, usable while it goes on (or after it was stopped).
    finished_only: bool = False
    text: str = TEXTS[0]  # one of TEXTS

    def validate(self) -> None:
        if (self.train_hours is None) == (self.train_sentences is None):
            raise ValueError("give exactly one of train_hours and train_sentences")
        if self.train_hours is not None and self.train_hours <= 0:
            raise ValueError(f"train_hours must be positive, got {self.train_hours}")
        if self.train_sentences is not None and self.train_sentences < 0:
            raise ValueError(f"train_sentences must be >= 0, got {self.train_sentences}")
        for name in ("heldout_sentences", "seen_sentences", "augmented_copies"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        unknown = set(self.engines) - set(ALL_ENGINES)
        if unknown:
            known = ", ".join(ALL_ENGINES)
            raise ValueError(f"unknown engines {sorted(unknown)}; known: {known}")
        if self.train_offset < 0:
            raise ValueError(f"train_offset must be >= 0, got {self.train_offset}")
        if self.text not in TEXTS:
            raise ValueError(f"unknown text {self.text!r}; known: {', '.join(TEXTS)}")
        if self.text != TEXTS[0] and self.train_sentences != 0:
            raise ValueError(f"{self.text} text is for evaluation and never trains: --sentences 0")


@dataclass(frozen=True)
class Job:
    split: str  # one of SPLITS
    index: int  # position within the split
    text: str  # normalised sentence
    voice: str  # Voice.name
    prosody: Prosody  # rate and pitch for the engine
    copies: int  # augmented copies to make
    seed: int  # run seed (augmentation streams derive from seed, split, index)

    @property
    def stem(self) -> str:
        return f"{self.split}/{self.index // 1000:03d}/{self.split}-{self.index:06d}"


def job_rng(seed: int, split: str, index: int, stream: int) -> np.random.Generator:
    """The random stream `stream` of one utterance: 0 plans it, k >= 1 augments copy k."""
    return np.random.default_rng([seed, SPLITS.index(split), index, stream])


def pick_voice(voices: Sequence[Voice], rng: np.random.Generator) -> Voice:
    """An engine by its weight (voices.Engine.weight), then one of its voices uniformly."""
    by_engine: dict[str, list[Voice]] = defaultdict(list)
    for v in voices:
        by_engine[v.engine].append(v)
    engines = sorted(by_engine)
    w = np.array([ENGINE[e].weight for e in engines])
    engine = engines[int(rng.choice(len(engines), p=w / w.sum()))]
    return by_engine[engine][int(rng.integers(len(by_engine[engine])))]


def make_job(
    split: str, index: int, text: str, voices: Sequence[Voice], seed: int, copies: int
) -> Job:
    rng = job_rng(seed, split, index, 0)
    voice = pick_voice(voices, rng)
    prosody = Prosody(
        rate=round(float(rng.uniform(*RATE_RANGE)), 3),
        pitch=round(float(rng.uniform(*PITCH_RANGE)), 3),
    )
    return Job(split, index, text, voice.name, prosody, copies, seed)


def estimated_seconds(text: str, rate: float) -> float:
    return len(text) / CHARS_PER_SECOND / rate + 2 * PLANNED_SILENCE_S


def plan(sentences: Sequence[str], voices: Sequence[Voice], config: CorpusConfig) -> list[Job]:
    """All jobs of a run: a pure function of the sentences, the voices and the config.

    The first `heldout_sentences` sentences go to valid_heldout_voices, the next
    `seen_sentences` to valid_seen_voices, the rest (cycled if too few) to train.
    """
    config.validate()
    train_voices = [v for v in voices if not v.heldout]
    heldout_voices = [v for v in voices if v.heldout]
    n_valid = config.heldout_sentences + config.seen_sentences
    if len(sentences) <= n_valid:
        raise ValueError(f"{len(sentences)} sentences leave none for training after {n_valid}")
    # An evaluation corpus of held-out engines alone (--sentences 0 --seen 0) needs none.
    trains = config.train_sentences != 0 or config.seen_sentences > 0
    if trains and not train_voices:
        raise ValueError(
            "no training voices installed (a held-out engine such as piper or silero never trains)"
        )
    if not heldout_voices and not trains:
        raise ValueError("no held-out voices installed, and nothing else to make")
    jobs: list[Job] = []
    if heldout_voices:
        for i, text in enumerate(sentences[: config.heldout_sentences]):
            jobs.append(make_job(SPLITS[1], i, text, heldout_voices, config.seed, 0))
    seen = sentences[config.heldout_sentences : n_valid]
    for i, text in enumerate(seen):
        jobs.append(make_job(SPLITS[2], i, text, train_voices, config.seed, 0))
    pool = sentences[n_valid:]
    target_s = (config.train_hours or 0.0) * 3600.0
    total_s = 0.0
    i = 0
    while i < config.train_sentences if config.train_sentences is not None else total_s < target_s:
        text = pool[(config.train_offset + i) % len(pool)]
        job = make_job(SPLITS[0], i, text, train_voices, config.seed, config.augmented_copies)
        jobs.append(job)
        total_s += estimated_seconds(job.text, job.prosody.rate)
        i += 1
    return jobs
