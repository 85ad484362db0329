"""Fixtures shared by the tests that use real speech and real audio."""

from __future__ import annotations

import contextlib
import signal
import tempfile
import threading
from pathlib import Path

import pytest
from private_pulse import NULL_SINK, PrivateDaemon, available, scoped_env

from assistant.cli import main
from assistant.errors import DeviceError
from assistant.voice.tts import Synthesizer

# The speaker and microphone of the real-audio tests: a null sink `spk` (16 kHz mono) in a
# PulseAudio daemon of the run's own, started before any test module is imported (PortAudio
# lists the ALSA device `pulse` only when a server answers) and ended with the run. Every
# PulseAudio client of the run, in this process and in the processes it starts, is sent
# there: the user's own server, its sinks and its default devices are never touched.
_daemon: PrivateDaemon | None = None
_why_not = ""
_env = contextlib.ExitStack()  # the run's environment, restored at its end
_cache: tempfile.TemporaryDirectory[str] | None = None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    global _daemon, _why_not
    # a run stopped by SIGTERM (scripts/test's time cap) still ends its daemon and removes
    # its folder: pytest unconfigures after an interrupt
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    why = available()
    if why is None:
        try:
            _daemon = PrivateDaemon(NULL_SINK)
        except (OSError, RuntimeError) as exc:
            why = str(exc)
    _why_not = why or ""
    # with no daemon of its own, the run still reaches no one else's server
    env = _daemon.env() if _daemon else {"PULSE_SERVER": "unix:/nonexistent"}
    env |= {"PULSE_SINK": "spk", "PULSE_SOURCE": "spk.monitor"}
    # one cache folder for the run (rendered speech: the neural voice renders a sentence
    # once for every test), never the user's, removed with the run
    global _cache
    _cache = tempfile.TemporaryDirectory(prefix="ea-test-cache-")
    env["XDG_CACHE_HOME"] = _cache.name
    _env.enter_context(scoped_env(env))


def pytest_unconfigure(config: pytest.Config) -> None:
    global _daemon
    if _daemon is not None:
        _daemon.stop()
        _daemon = None
    global _cache
    if _cache is not None:
        _cache.cleanup()
        _cache = None
    _env.close()


@pytest.fixture(scope="session")
def pulse_daemon() -> PrivateDaemon:
    """The run's own PulseAudio daemon (its null sink `spk` is the default speaker, its
    monitor the default microphone), or a clear skip."""
    if _daemon is None:
        pytest.skip(f"no PulseAudio of the tests' own: {_why_not}")
    return _daemon


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
    """XDG folders in tmp_path for in-process calls (the cache stays the run's own: see
    `pytest_configure`)."""
    for name in ("DATA", "CONFIG"):
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
