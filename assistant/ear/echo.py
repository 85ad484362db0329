"""Echo cancellation: the assistant's own voice, as the microphone hears it, taken back out.

SpeexDSP's echo canceller (libspeexdsp, Debian's libspeexdsp1, through ctypes): a
partitioned-block frequency-domain adaptive filter (MDF) whose step size follows how much of
what is left is still echo (J.-M. Valin, "On adjusting the learning rate in frequency domain
echo cancellation with double-talk", 2007), so it keeps learning without a fan's noise or a
person's voice throwing it off. The reference reaches it already aligned to the echo's delay
(see `delay`), so its 240 ms model the room, not the wait.

It replaced the project's own numpy version of the same structure after `./scripts/bench
echo_canceller` (5 December 2026; 37 s of the assistant's speech, echo at gain 0.5 and 1.0,
30 to 600 ms late, each aligned): in a quiet room they tied (ours 35-43 dB of echo taken
out, Speex 38-41 dB), by a fan at -35 dBFS Speex took out 21-25 dB where ours took 10-17 dB,
at a quarter of the CPU (3.8 against 14.7 ms per second of audio). Pure computation, one
10 ms block at a time."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import numpy as np

from assistant.errors import DeviceError

_SET_SAMPLING_RATE = 24  # SPEEX_ECHO_SET_SAMPLING_RATE


@functools.cache
def library() -> ctypes.CDLL:
    """libspeexdsp, loaded once; DeviceError with what to install when it is missing."""
    name = ctypes.util.find_library("speexdsp")
    if name is None:
        raise DeviceError("echo cancellation needs libspeexdsp (Debian: apt-get install "
                          "libspeexdsp1; ./scripts/setup installs it)")
    lib = ctypes.CDLL(name)
    lib.speex_echo_state_init.restype = ctypes.c_void_p
    lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.speex_echo_cancellation.argtypes = [ctypes.c_void_p] * 4
    lib.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
    return lib


class EchoCanceller:
    """Cancels the echo of `reference` in `mic`, `block` samples at a time; `tail` samples
    (240 ms at 16 kHz) is the longest echo path it models."""

    def __init__(self, block: int = 160, tail: int = 3840, sample_rate: int = 16000) -> None:
        self._lib = lib = library()
        self.block = block
        self._state = lib.speex_echo_state_init(block, tail)
        rate = ctypes.c_int(sample_rate)
        lib.speex_echo_ctl(self._state, _SET_SAMPLING_RATE, ctypes.byref(rate))
        self._out = np.zeros(block, np.int16)
        self._notch = (0.0, 0.0)  # Speex's DC notch on the microphone, for the echo estimate

    def __del__(self) -> None:
        state, self._state = getattr(self, "_state", None), None
        if state:
            self._lib.speex_echo_state_destroy(state)

    def process(self, mic: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One block: (mic with the echo estimate removed, the echo estimate)."""
        m = np.clip(np.round(np.asarray(mic) * 32768.0), -32768, 32767).astype(np.int16)
        r = np.clip(np.round(np.asarray(reference) * 32768.0), -32768, 32767).astype(np.int16)
        self._lib.speex_echo_cancellation(self._state, m.ctypes.data, r.ctypes.data,
                                          self._out.ctypes.data)
        out = (self._out / 32768.0).astype(np.float32)
        notched, self._notch = dc_notch(m / 32768.0, self._notch)
        return out, (notched - out).astype(np.float32)


def dc_notch(x: np.ndarray, state: tuple[float, float] = (0.0, 0.0), radius: float = 0.982
             ) -> tuple[np.ndarray, tuple[float, float]]:
    """`x` through the DC notch Speex puts on the microphone before cancelling (mdf.c,
    filter_dc_notch16), and the filter's state after it."""
    den2 = radius * radius + 0.7 * (1 - radius) ** 2
    m0, m1 = state
    y = []
    for v in (np.asarray(x, np.float64) * 32768.0).tolist():
        o = m0 + v
        m0 = m1 + 2 * (-v + radius * o)
        m1 = v - den2 * o
        y.append(radius * o)
    return np.array(y) / 32768.0, (m0, m1)
