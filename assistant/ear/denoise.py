"""Noise suppression on 10 ms frames of 16 kHz float audio, for the listener.

Two suppressors, each good at a different noise:

- `WebRTCSuppressor` (webrtc-noise-gain): gentle, with a high-pass filter. The listener's
  endpointer and recogniser use it in changing noise such as other people talking, where a
  stronger suppressor also eats the words.
- `RNNoise`: a small recurrent network trained to remove noise from speech, much stronger
  in steady noise (a fan, traffic, an air conditioner). Measured on a development stream of
  test voices, 60 commands (seed 11, not the benchmark's), with PocketSphinx checked by the
  trained ear of the time:
  pink noise at 10 dB SNR 29 -> 41 heard, at 5 dB 20 -> 35; white noise at 10 dB 25 -> 37;
  brown at 10 dB 44 -> 45; with other people talking it lost every command, so it is used
  only in steady noise (the listener's `SteadyNoise`).

RNNoise is the library in the pyrnnoise wheel, loaded through ctypes: the wheel's Python
side is a file converter that needs PyAV and matplotlib, so `scripts/setup` installs the wheel
without its dependencies. When it is missing, `RNNoise.available()` is False and the listener
uses WebRTC alone."""

from __future__ import annotations

import ctypes
import importlib.util
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
_RNNOISE_RATE = 48000
_RNNOISE_FRAME = 480  # 10 ms at 48 kHz


class WebRTCSuppressor:
    """WebRTC noise suppression (and its high-pass filter); level 0 passes audio unchanged."""

    def __init__(self, level: int) -> None:
        self.level = level
        self._processor = None
        if level > 0:
            from webrtc_noise_gain import AudioProcessor

            self._processor = AudioProcessor(0, int(level))

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if self._processor is None:
            return frame
        pcm = np.clip(np.rint(frame * 32767.0), -32768, 32767).astype(np.int16)
        out = self._processor.Process10ms(pcm.tobytes()).audio
        return np.frombuffer(out, np.int16).astype(np.float32) / 32767.0


def _rnnoise_library() -> Path | None:
    spec = importlib.util.find_spec("pyrnnoise")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "librnnoise.so"
    return path if path.exists() else None


class RNNoise:
    """RNNoise on blocks of 16 kHz audio of up to 20 ms, with a constant delay (47 ms).

    RNNoise works at 48 kHz on 480-sample frames: audio is resampled up, denoised and
    resampled down through streaming resamplers (soxr); the output starts with 40 ms of
    silence so that the resamplers' own delay never leaves a block short."""

    DELAY = 0.04

    @staticmethod
    def available() -> bool:
        return _rnnoise_library() is not None

    def __init__(self) -> None:
        import soxr

        path = _rnnoise_library()
        if path is None:
            raise ImportError("RNNoise (the pyrnnoise wheel) is not installed")
        lib = ctypes.CDLL(str(path))
        lib.rnnoise_create.argtypes = [ctypes.c_void_p]
        lib.rnnoise_create.restype = ctypes.c_void_p
        lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
        lib.rnnoise_process_frame.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_float),
            ctypes.POINTER(ctypes.c_float),
        ]
        lib.rnnoise_process_frame.restype = ctypes.c_float
        self._lib = lib
        self._state = lib.rnnoise_create(None)
        self._up = soxr.ResampleStream(SAMPLE_RATE, _RNNOISE_RATE, 1, "float32")
        self._down = soxr.ResampleStream(_RNNOISE_RATE, SAMPLE_RATE, 1, "float32")
        self._high = np.zeros(0, np.float32)
        self._out = np.zeros(round(self.DELAY * SAMPLE_RATE), np.float32)
        self._frame = np.zeros(_RNNOISE_FRAME, np.float32)  # RNNoise works in place on it
        self._pointer = self._frame.ctypes.data_as(ctypes.POINTER(ctypes.c_float))

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state is not None:
            self._lib.rnnoise_destroy(state)
            self._state = None

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        self._high = np.concatenate([self._high, self._up.resample_chunk(audio)])
        done = []
        while len(self._high) >= _RNNOISE_FRAME:
            # RNNoise expects the scale of 16-bit samples
            self._frame[:] = self._high[:_RNNOISE_FRAME] * 32768.0
            self._high = self._high[_RNNOISE_FRAME:]
            self._lib.rnnoise_process_frame(self._state, self._pointer, self._pointer)
            done.append(self._frame / 32768.0)
        if done:
            low = self._down.resample_chunk(np.concatenate(done))
            self._out = np.concatenate([self._out, low])
        n = len(audio)
        if len(self._out) < n:  # not after the start-up delay; kept safe all the same
            self._out = np.concatenate([np.zeros(n - len(self._out), np.float32), self._out])
        out, self._out = self._out[:n], self._out[n:]
        return out.astype(np.float32, copy=False)


def load_rnnoise() -> RNNoise | None:
    """RNNoise, or None when its library is missing or does not load on this machine (the
    listener then uses WebRTC alone)."""
    if not RNNoise.available():
        return None
    try:
        return RNNoise()
    except (OSError, AttributeError):  # a library built for another machine, or another API
        return None
