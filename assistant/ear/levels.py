"""Levels of 10 ms frames, and the noise floors the listener and the echo guard measure
them against."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence

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


def percentiles(values: Iterable[float], qs: Sequence[float]) -> list[float]:
    """`np.percentile(values, qs)` (its linear method), computed the same way to the last
    bit, without numpy's overhead: the floors ask for it 30 times a second, 4 % of all the
    time `listen --file` took."""
    ordered = np.sort(np.fromiter(values, np.float64)).tolist()
    top = len(ordered) - 1
    out = []
    for p in qs:
        v = top * (p / 100)  # numpy's virtual index
        below = math.floor(v)
        if v >= top:
            out.append(ordered[top])
            continue
        a, b = ordered[below], ordered[below + 1]
        t = v - below
        diff = b - a
        out.append(b - diff * (1 - t) if t >= 0.5 else a + diff * t)
    return out


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
        self.level = percentiles(self._history, (self._percentile,))[0]


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
        level, low, high = percentiles(self._history, (self._percentile, 10.0, 30.0))
        self.level = level
        if self._count % 10 == 0 and len(self._history) >= 100:
            self.steady = bool(high - low < self.spread_db)
