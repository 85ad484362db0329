"""Levels of 10 ms frames, and the noise floors the listener and the echo guard measure
them against."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from assistant.ear.engines import SAMPLE_RATE

FRAME = 160  # 10 ms at 16 kHz: the unit of every stage
FRAME_S = FRAME / SAMPLE_RATE
SILENT_DB = -120.0


def db(power: float) -> float:
    return 10.0 * math.log10(power) if power > 1e-12 else SILENT_DB


def level_db(block: np.ndarray) -> float:
    """A block's mean power in dB."""
    return db(float(np.mean(block.astype(np.float64) ** 2)))


class NoiseFloor:
    """A percentile of the recent frame energies (dB): what the room sounds like.

    A low percentile is the quiet between sounds; the median is the typical level of noise
    that never pauses, such as other people talking (babble), whose quiet moments lie far
    below its usual loudness once noise suppression has worked on it."""

    def __init__(self, seconds: float = 3.0, percentile: float = 15.0) -> None:
        self._history: deque[float] = deque(maxlen=round(seconds / FRAME_S))
        self._percentile = percentile
        self._count = 0
        self.level = SILENT_DB

    def update(self, energy_db: float) -> float:
        self._history.append(energy_db)
        self._count += 1
        if self._count <= 10 or self._count % 10 == 0:
            self._refresh()
        return self.level

    def _refresh(self) -> None:
        self.level = float(np.percentile(self._history, self._percentile))


class SteadyNoise(NoiseFloor):
    """A noise floor that also tells whether the room's noise is steady: the spread of its
    recent frame energies is small.

    Between the 10th and 30th percentile of the last 3 s of 10 ms frame energies, steady
    noise (pink, white, brown; a fan) spreads 0.8-1.5 dB, other people talking 2.4-4 dB."""

    def __init__(self, seconds: float = 3.0, percentile: float = 15.0,
                 spread_db: float = 2.0) -> None:
        super().__init__(seconds, percentile)
        self.spread_db = spread_db
        self.steady = False

    def _refresh(self) -> None:  # the level and the spread from one pass over the history
        level, low, high = np.percentile(self._history, [self._percentile, 10.0, 30.0])
        self.level = float(level)
        if self._count % 10 == 0 and len(self._history) >= 100:
            self.steady = bool(high - low < self.spread_db)
