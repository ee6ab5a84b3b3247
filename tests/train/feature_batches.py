"""What the feature-augmentation tests share: normalisation statistics of log-mel's scale and
a training batch around given frames (labels are not read by these augmentations)."""

from __future__ import annotations

import numpy as np

from streamasr.features.mfcc import FeatureConfig
from streamasr.features.normalize import FeatureStats
from train.data import Batch

CONFIG = FeatureConfig()
STATS = FeatureStats(
    np.full(CONFIG.n_mels, -5.0, np.float32), np.full(CONFIG.n_mels, 4.5, np.float32)
)


def batch_of(frames: np.ndarray, paddings: np.ndarray) -> Batch:
    rows = frames.shape[0]
    labels, label_paddings = np.zeros((rows, 4), np.int32), np.ones((rows, 4), np.float32)
    return Batch(frames, paddings, labels, label_paddings, np.arange(rows))
