"""The training voices' new speakers: WORLD reshaping of a natural voice (eardata.reshape)."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.speech import eardata

pyworld = pytest.importorskip("pyworld")
RATE = eardata.SAMPLE_RATE


def vowel(f0: float = 110.0, seconds: float = 0.6) -> np.ndarray:
    """A steady vowel: a pulse train at `f0` through formants at 700 Hz and (weaker) 1200 Hz."""
    n = int(seconds * RATE)
    pulses = np.zeros(n)
    pulses[:: int(RATE / f0)] = 1.0
    spec = np.fft.rfft(pulses)
    f = np.fft.rfftfreq(n, 1 / RATE)
    envelope = sum(g / (1 + ((f - fc) / 80.0) ** 2) for fc, g in ((700.0, 1.0), (1200.0, 0.4)))
    x = np.fft.irfft(spec * envelope, n)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def pitch(x: np.ndarray) -> float:
    f0, _ = pyworld.dio(x.astype(np.float64), RATE, frame_period=5.0)
    return float(np.median(f0[f0 > 0]))


def peak_frequency(x: np.ndarray) -> float:
    """The frequency of the strongest part of the smoothed spectrum (the first formant)."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    smooth = np.convolve(spec, np.ones(101) / 101, mode="same")
    return float(np.fft.rfftfreq(len(x), 1 / RATE)[np.argmax(smooth)])


def test_reshape_scales_the_pitch_by_f0() -> None:
    """f0 1.8 turns a 110 Hz vowel into one at 198 Hz (within 5 %)."""
    out = eardata.reshape(vowel(), eardata.VoiceShape(f0=1.8))
    assert pitch(out) == pytest.approx(198.0, rel=0.05)


def test_reshape_moves_the_formants_by_warp_and_keeps_the_pitch() -> None:
    """warp 1.2 moves the first formant from 700 Hz to 840 Hz (within 6 %) and leaves the
    pitch within 5 % of 110 Hz."""
    x = vowel()
    out = eardata.reshape(x, eardata.VoiceShape(warp=1.2))
    assert peak_frequency(x) == pytest.approx(700.0, rel=0.06)
    assert peak_frequency(out) == pytest.approx(840.0, rel=0.06)
    assert pitch(out) == pytest.approx(110.0, rel=0.05)


def test_random_shapes_cover_men_women_and_children_reproducibly() -> None:
    """A seeded generator gives the same shapes again; 200 shapes span pitch x0.75 to x2.6
    with higher formants for higher voices (women and children)."""
    shapes = [eardata.random_shape(np.random.default_rng([3, i])) for i in range(200)]
    again = [eardata.random_shape(np.random.default_rng([3, i])) for i in range(200)]
    assert shapes == again
    f0 = np.array([s.f0 for s in shapes])
    warp = np.array([s.warp for s in shapes])
    assert 0.75 <= f0.min() < 0.85 and 2.3 < f0.max() <= 2.6
    assert warp[f0 > 1.45].min() >= 1.06 > warp[f0 < 1.35].max() - 1e-9
