"""The front end's clock, defined once and derived from each other: the model's sample
rate, the feature hop, and the 100 ms block in which live audio moves.

The lowest module of the package (it imports nothing), so audio, features, engine,
commands and training all read the same numbers.
"""

from __future__ import annotations

SAMPLE_RATE = 16_000  # Hz: every model hears this rate; other rates are resampled to it
HOP_MS = 10  # one feature frame every 10 ms
HOP_SAMPLES = SAMPLE_RATE * HOP_MS // 1000  # 160
FRAMES_PER_SECOND = SAMPLE_RATE // HOP_SAMPLES  # 100
BLOCK_MS = 100  # live audio is recognized / sent in blocks of this length
BLOCK_SECONDS = BLOCK_MS / 1000  # 0.1
BLOCK_SAMPLES = SAMPLE_RATE * BLOCK_MS // 1000  # 1600 at the model's rate
MAX_BATCH = 1024  # streams one process steps at once: the largest compiled batch size
