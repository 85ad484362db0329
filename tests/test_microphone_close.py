"""Closing the microphone ends its listener thread even when the listener has fallen behind
(a busy machine): a process must never exit while Whisper or onnxruntime still decode on
that thread ("terminate called without an active exception", status -6, and nanobind's
leaked-resampler report were how `start` ended on a loaded machine)."""

from __future__ import annotations

import queue
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from assistant import devices
from assistant.devices import MIC_BLOCK, Microphone


class SlowListener:
    """A listener that takes 50 ms for every 20 ms frame: it falls behind."""

    def __init__(self) -> None:
        self.frames = 0

    def expect(self, commands: Any) -> None:
        pass

    def process(self, frame: np.ndarray, played: Any) -> list[Any]:
        time.sleep(0.05)
        self.frames += 1
        return []


# what PortAudio passes a callback from a device that gives no timestamps
NO_STAMP = SimpleNamespace(inputBufferAdcTime=0.0)

def test_close_ends_the_listener_thread_with_a_backlog_of_frames(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With 20 s of audio (1000 frames) waiting for a listener that needs 50 s to hear it,
    close() returns with the listener thread ended, having heard at most two frames more
    than when it was called (the one it was on, and one taken meanwhile)."""
    monkeypatch.setattr(devices.Microphone, "_open", lambda self: None)
    listener = SlowListener()
    mic = Microphone(lambda: listener, queue.Queue(), None, None)
    for _ in range(1000):
        mic._callback(np.zeros((MIC_BLOCK, 1), np.float32), MIC_BLOCK, NO_STAMP, None)
    time.sleep(0.2)
    heard = listener.frames
    mic.close()
    assert not mic._worker.is_alive()
    assert listener.frames <= heard + 2
