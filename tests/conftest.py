"""Fixtures shared by the tests that use real speech."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.cli import main
from assistant.errors import DeviceError
from assistant.voice.tts import Synthesizer


@pytest.fixture(scope="session")
def synth() -> Synthesizer:
    """The real text-to-speech engine (eSpeak NG through pyttsx3), or a clear skip."""
    s = Synthesizer()
    try:
        s.check()
    except DeviceError as exc:
        pytest.skip(f"no text-to-speech here: {exc}")
    return s


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG folders in tmp_path for in-process calls."""
    for name in ("DATA", "CONFIG", "CACHE"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))
    monkeypatch.delenv("EXERCISE_ASSISTANT_DEBUG", raising=False)
    return tmp_path


def call(argv: list[str]) -> int:
    """`main(argv)` in-process; its exit status (main returns normally for --help)."""
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0
