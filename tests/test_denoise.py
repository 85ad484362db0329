"""Noise suppression for the listener: RNNoise through ctypes, and the steady-noise detector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_listener import AcceptAll

from assistant.commands import Vocabulary
from assistant.ear import denoise
from assistant.ear.denoise import RNNoise
from assistant.ear.levels import SteadyNoise
from assistant.ear.listener import Listener

RATE = 16000
needs_rnnoise = pytest.mark.skipif(not RNNoise.available(), reason="pyrnnoise not installed")


def pink(n: int, seed: int, level_db: float) -> np.ndarray:
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    spec /= np.sqrt(np.maximum(np.fft.rfftfreq(n, 1 / RATE), 20.0))
    noise = np.fft.irfft(spec, n)
    return (noise / np.std(noise) * 10 ** (level_db / 20)).astype(np.float32)


def db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-20))


def blocks(denoiser: RNNoise, audio: np.ndarray, size: int) -> np.ndarray:
    return np.concatenate([denoiser(audio[i : i + size]) for i in range(0, len(audio), size)])


def vowel(seconds: float) -> np.ndarray:
    """A voiced sound: 120 Hz pulses through two formants, like a sustained 'ah'."""
    t = np.arange(round(seconds * RATE)) / RATE
    shape = 1.0 + 2.0 * np.exp(-(((120 * np.arange(1, 30)) - 700) / 150.0) ** 2)
    source = sum(shape[k - 1] * np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 30))
    envelope = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.05)
    out = source * envelope
    return (out / np.sqrt(np.mean(out**2)) * 0.05).astype(np.float32)


@needs_rnnoise
@pytest.mark.parametrize("size", [77, 160, 320])
def test_rnnoise_returns_as_many_samples_as_given_with_the_same_delay_for_any_block_size(
    size: int,
) -> None:
    """Blocks of 77, 160 or 320 samples come back the same length, and a tone burst comes out
    752 samples (47 ms) later, whatever the block size."""
    audio = np.zeros(2 * RATE, np.float32)
    t = np.arange(3200) / RATE
    audio[8000:11200] = 0.1 * np.sin(2 * np.pi * 300 * t) * np.hanning(3200)
    out = blocks(RNNoise(), audio, size)
    assert len(out) == len(audio)
    lag = int(np.argmax(np.correlate(out[8000:13000], audio[8000:11200], "valid")))
    assert lag == 752


@needs_rnnoise
def test_rnnoise_removes_steady_noise_and_keeps_a_voiced_sound() -> None:
    """Pink noise at -30 dBFS comes out more than 20 dB quieter, and a voiced sound 10 dB above
    that noise keeps its level within 6 dB."""
    noise = pink(4 * RATE, 1, -30.0)
    denoised = blocks(RNNoise(), noise, 160)
    assert db(denoised[RATE:]) < db(noise[RATE:]) - 20.0  # after a second to learn the noise

    voice = vowel(1.0) * np.float32(10 ** ((-20 - db(vowel(1.0))) / 20))
    mixed = noise.copy()
    mixed[2 * RATE : 3 * RATE] += voice
    out = blocks(RNNoise(), mixed, 160)
    delay = 752
    kept = out[2 * RATE + delay + 1600 : 3 * RATE + delay - 1600]
    assert abs(db(kept) - db(voice[1600:-1600])) < 6.0


def test_steady_noise_is_told_from_noise_that_comes_and_goes() -> None:
    """Pink noise (a fan) is steady after 3 s; the same noise switched on and off at a
    speaking rhythm (syllables, about 4 a second, as other people talking) is not."""
    noise = pink(5 * RATE, 2, -30.0)
    t = np.arange(len(noise)) / RATE
    rhythm = 0.15 + 0.85 * np.abs(np.sin(2 * np.pi * 2.0 * t)) ** 2
    for audio, steady in ((noise, True), (noise * rhythm.astype(np.float32), False)):
        detector = SteadyNoise()
        for i in range(0, len(audio), 160):
            detector.update(db(audio[i : i + 160]))
        assert detector.steady is steady


def test_a_library_that_does_not_load_leaves_webrtc_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A librnnoise.so that is not a library for this machine gives no RNNoise (and no
    error): the listener goes on with WebRTC suppression."""
    broken = tmp_path / "librnnoise.so"
    broken.write_bytes(b"not a shared library")
    monkeypatch.setattr(denoise, "_rnnoise_library", lambda: broken)
    assert denoise.load_rnnoise() is None
    listener = Listener(AcceptAll(), Vocabulary())
    assert listener.meter.rnnoise is None
