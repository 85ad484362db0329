"""The project's own echo canceller, retired for SpeexDSP's (see `assistant.ear.echo`), kept
here so that `bench_echo_canceller` can measure the two side by side.

Echo cancellation: the assistant's own voice, as the microphone hears it, taken back out.

A partitioned-block frequency-domain adaptive filter (the MDF structure of Speex and WebRTC's
AEC, in numpy): the loudspeaker signal (the reference) is filtered by an estimate of the
room's echo path and subtracted from the microphone. Pure computation, one 10 ms block at a
time; the caller decides when the filter may adapt (not while the user is talking).

The step size adapts, after J.-M. Valin ("On adjusting the learning rate in frequency domain
echo cancellation with double-talk", 2007) as Speex does: the filter's leak (how much of its
echo estimate is still left in the output) is tracked by regression, which gives in each
frequency bin the share of the output that is still echo; the NLMS step 0.5 is scaled by four
times that share, at most 1. With the fixed step, a fan's noise in the microphone kept the
filter moving: the echo left over stayed within 0-5 dB of the echo itself, so a word said over
the assistant's voice drowned in it. Measured on 14 s of the assistant's speech, echo at half
level 30 ms late, echo reduction in the last third, fixed / adaptive: quiet 44 / 42 dB; a fan
at -45 dBFS 15 / 21 dB; at -35 dBFS 5 / 12 dB. (Speex's own step, shared out among the
partitions, gave 18 dB at -35 dBFS but only 39 dB in quiet, and it left more echo as a new
phrase began: the assistant's own "Last one" was heard as "go".)"""

from __future__ import annotations

import numpy as np

_SCALE = 32768.0  # the constants below are Speex's: 16-bit samples, forward FFT scaled 1/N
_MIN_LEAK = 0.005  # the least leak believed (-23 dB), as in Speex


class EchoCanceller:
    """Cancels the echo of `reference` in `mic`, `block` samples at a time.

    `partitions * block` samples is the longest echo path it models (default 240 ms at
    16 kHz: loudspeaker-to-microphone delay plus the first part of the room's reverberation).
    `step=None` adapts the step size (the default); a number fixes it (the naive filter).
    `leak` is the estimated share of the echo estimate's power still left in the output.
    """

    def __init__(
        self, block: int = 160, partitions: int = 24, step: float | None = None,
        sample_rate: int = 16000,
    ) -> None:
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
        # adaptive step (in Speex's units, which its constants expect)
        self._to_speex = _SCALE * _SCALE / (2 * block) ** 2  # numpy's spectral power to Speex's
        self._spec_average = block / sample_rate
        self._beta0 = 2.0 * block / sample_rate
        self._beta_max = 0.5 * block / sample_rate
        self._eh = np.zeros(bins)
        self._yh = np.zeros(bins)
        self._pey = 1.0
        self._pyy = 1.0
        self.leak = 0.0
        self._rer = 0.0
        self._sum_adapt = 0.0
        self._adapted = False
        self._last: tuple[np.ndarray, np.ndarray, float, float] | None = None

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
        if self.step is None:
            self._measure(ref, estimate, error)
        if adapt:
            self.adapt(error)
        return error.astype(np.float32), estimate.astype(np.float32)

    def _measure(self, ref: np.ndarray, estimate: np.ndarray, error: np.ndarray) -> None:
        """Track how much echo is left (the leak, by regressing the error's power on the echo
        estimate's across bins and time), for the next step size."""
        s2 = _SCALE * _SCALE
        sxx = float(ref @ ref) * s2
        syy = float(estimate @ estimate) * s2
        see = float(error @ error) * s2 + 1.0
        sey = float(error @ estimate) * s2
        k = self._to_speex
        spectra = np.fft.rfft(np.stack([
            np.concatenate([self._zeros, error]), np.concatenate([self._zeros, estimate]),
        ]), axis=1)
        rf, yf = (spectra.real**2 + spectra.imag**2) * k
        eh, yh = rf - self._eh, yf - self._yh
        pey = 1.0 + float(eh @ yh)
        pyy = np.sqrt(1.0 + float(yh @ yh))
        pey /= pyy
        self._eh = (1 - self._spec_average) * self._eh + self._spec_average * rf
        self._yh = (1 - self._spec_average) * self._yh + self._spec_average * yf
        alpha = min(self._beta0 * syy, self._beta_max * see) / see
        self._pey = (1 - alpha) * self._pey + alpha * pey
        self._pyy = max((1 - alpha) * self._pyy + alpha * pyy, 1.0)
        self._pey = min(max(self._pey, _MIN_LEAK * self._pyy), self._pyy)
        self.leak = self._pey / self._pyy
        rer = (0.0001 * sxx + 3.0 * self.leak * syy) / see
        rer = max(rer, sey * sey / (1.0 + see * syy))
        self._rer = min(rer, 0.5)
        self._last = (rf, yf, sxx, see)

    def _steps(self) -> np.ndarray:
        """This block's step per bin, already divided by the far-end power: 0.5 where a
        quarter or more of what is left is echo, less where it is mostly something else
        (noise, a voice). Until the filter has learnt the room, the full step, and each
        block adapted on counts toward that."""
        fixed = 0.5 if self.step is None else self.step
        normalised = fixed / (self._xpow.sum(axis=0) + self._delta)
        if self.step is not None or self._last is None:
            return normalised
        rf, yf, sxx, see = self._last
        if not self._adapted:  # the full step until the filter has learnt the room a little
            if sxx > 2 * self.block * 1000:
                self._sum_adapt += min(0.25 * sxx, 0.25 * see) / see
            self._adapted = self._sum_adapt > self.partitions and self.leak > 0.03
            return normalised
        e = rf + 1.0
        r = np.minimum(self.leak * yf, 0.5 * e)
        r = 0.7 * r + 0.3 * self._rer * e
        return normalised * np.minimum(4.0 * r / e, 1.0)

    def adapt(self, error: np.ndarray) -> None:
        """Move the filter toward cancelling `error`, the last block's cancelled signal (for
        a caller that decides after seeing it: `process(..., adapt=False)` first)."""
        n = self.block
        err_spec = np.fft.rfft(np.concatenate([self._zeros, np.asarray(error, np.float64)]))
        gradient = np.conj(self._x) * (self._steps() * err_spec)
        # keep each partition a causal block of `n` taps (the constrained update)
        taps = np.fft.irfft(gradient, 2 * n, axis=1)
        taps[:, n:] = 0.0
        self._w += np.fft.rfft(taps, axis=1)
