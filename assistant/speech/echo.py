"""Echo cancellation: the assistant's own voice, as the microphone hears it, taken back out.

A partitioned-block frequency-domain adaptive filter (the MDF structure of Speex and WebRTC's
AEC, in numpy): the loudspeaker signal (the reference) is filtered by an estimate of the
room's echo path and subtracted from the microphone. Pure computation, one 10 ms block at a
time; the caller decides when the filter may adapt (not while the user is talking)."""

from __future__ import annotations

import numpy as np


class EchoCanceller:
    """Cancels the echo of `reference` in `mic`, `block` samples at a time.

    `partitions * block` samples is the longest echo path it models (default 240 ms at
    16 kHz: loudspeaker-to-microphone delay plus the first part of the room's reverberation).
    """

    def __init__(self, block: int = 160, partitions: int = 24, step: float = 0.5) -> None:
        self.block = block
        self.partitions = partitions
        self.step = step
        bins = block + 1
        self._w = np.zeros((partitions, bins), np.complex128)
        self._x = np.zeros((partitions, bins), np.complex128)
        self._xpow = np.zeros((partitions, bins))
        self._prev = np.zeros(block)
        self._zeros = np.zeros(block)
        self._delta = 1e-6 * (2 * block) ** 2

    def reset(self) -> None:
        self._w[:] = 0
        self._x[:] = 0
        self._xpow[:] = 0
        self._prev[:] = 0

    def process(
        self, mic: np.ndarray, reference: np.ndarray, adapt: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """One block: (mic with the echo estimate removed, the echo estimate)."""
        n = self.block
        ref = np.asarray(reference, np.float64)
        spectrum = np.fft.rfft(np.concatenate([self._prev, ref]))
        self._prev = ref
        self._x = np.roll(self._x, 1, axis=0)
        self._xpow = np.roll(self._xpow, 1, axis=0)
        self._x[0] = spectrum
        self._xpow[0] = spectrum.real**2 + spectrum.imag**2
        estimate = np.fft.irfft(np.einsum("pk,pk->k", self._w, self._x), 2 * n)[n:]
        error = np.asarray(mic, np.float64) - estimate
        if adapt:
            self.adapt(error)
        return error.astype(np.float32), estimate.astype(np.float32)

    def adapt(self, error: np.ndarray) -> None:
        """Move the filter toward cancelling `error`, the last block's cancelled signal (for
        a caller that decides after seeing it: `process(..., adapt=False)` first)."""
        n = self.block
        err_spec = np.fft.rfft(np.concatenate([self._zeros, np.asarray(error, np.float64)]))
        norm = self._xpow.sum(axis=0) + self._delta
        gradient = np.conj(self._x) * (self.step * err_spec / norm)
        # keep each partition a causal block of `n` taps (the constrained update)
        taps = np.fft.irfft(gradient, 2 * n, axis=1)
        taps[:, n:] = 0.0
        self._w += np.fft.rfft(taps, axis=1)
