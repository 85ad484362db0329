"""The microphone's worker tells the listener where the loudspeaker's reference was not
known when read (the loudspeaker had not been handed those samples yet): there the listener
cannot tell whether a word sounds like what was played."""

from __future__ import annotations

import queue
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from assistant import devices
from assistant.devices import MIC_BLOCK, Microphone

NO_STAMP = SimpleNamespace(inputBufferAdcTime=0.0)


class Loudspeaker:
    """An echo source handed samples up to session time `written_up_to`."""

    def __init__(self, written_up_to: float) -> None:
        self.written_up_to = written_up_to

    def session_time(self, stream_time: float) -> float | None:
        return None

    def played(self, start_t: float, end_t: float) -> np.ndarray:
        return np.zeros(round((end_t - start_t) * 16000), np.float32)

    def written(self) -> float:
        return self.written_up_to

    def said(self, start_t: float, end_t: float) -> list[str]:
        return []


class Recording:
    """A listener that records the blocks it is given and the gaps it is told of."""

    def __init__(self) -> None:
        self.blocks = 0
        self.missing: list[tuple[int, int]] = []  # (block, samples)
        self.echo_delay = None
        self.rejected: Any = []

    def expect(self, commands: Any) -> None:
        pass

    def hear_own_words(self, said: Any) -> None:
        pass

    def missing_reference(self, samples: int) -> None:
        self.missing.append((self.blocks, samples))

    def process(self, frame: np.ndarray, played: Any) -> list[Any]:
        self.blocks += 1
        return []


@pytest.mark.parametrize("written_up_to", [0.5, float("inf")])
def test_blocks_read_beyond_what_the_loudspeaker_was_handed_are_told(
    monkeypatch: pytest.MonkeyPatch, written_up_to: float
) -> None:
    """Forty blocks of 20 ms with the loudspeaker handed 0.5 s of samples (or all it will
    be): the blocks whose reference reaches past that, and only those, are told to the
    listener as missing, before they are given."""
    monkeypatch.setattr(devices.Microphone, "_open", lambda self: None)
    monkeypatch.setattr(devices, "REFERENCE_WAIT", 0.0)
    listener = Recording()
    mic = Microphone(lambda: listener, queue.Queue(), None, Loudspeaker(written_up_to))
    for _ in range(40):
        mic._callback(np.zeros((MIC_BLOCK, 1), np.float32), MIC_BLOCK, NO_STAMP, None)
    deadline = time.monotonic() + 10.0
    while listener.blocks < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    mic.close()
    block = MIC_BLOCK / 16000
    lead = devices.REFERENCE_LEAD
    expected = [(i, MIC_BLOCK) for i in range(40) if (i + 1) * block + lead > written_up_to]
    assert listener.blocks == 40
    assert listener.missing == expected
