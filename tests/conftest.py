"""Fixtures shared by the tests that use real speech."""

from __future__ import annotations

import pytest

from assistant.errors import DeviceError
from assistant.speech.tts import Synthesizer


@pytest.fixture(scope="session")
def synth() -> Synthesizer:
    """The real text-to-speech engine (eSpeak NG through pyttsx3), or a clear skip."""
    s = Synthesizer()
    try:
        s.check()
    except DeviceError as exc:
        pytest.skip(f"no text-to-speech here: {exc}")
    return s
