"""With no sound card at all (here: PulseAudio unreachable, and no other audio device), each
command says plainly what is missing and what the user can do, in whole sentences."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROUTINE = """\
name: Tiny
exercises:
  - name: Squeeze
    instructions: Squeeze.
    reps: 2
    tempo: 1s
    countdown: 0
"""


def no_sound_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "PULSE_SERVER": "unix:/nonexistent",
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    for name in ("PULSE_SINK", "PULSE_SOURCE"):
        env.pop(name, None)
    return env


def run(args: list[str], tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant", *args], cwd=ROOT,
                          env=no_sound_env(tmp_path), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def no_devices(tmp_path: Path) -> None:
    done = run(["devices"], tmp_path)
    if done.stdout.count("  none") != 2:
        pytest.skip("this machine has audio devices without PulseAudio")


def test_devices_with_none_says_what_to_do(tmp_path: Path, no_devices: None) -> None:
    """`devices` with none found does not offer to choose one: it says to plug one in, and
    how to go on without a microphone or loudspeaker."""
    out = run(["devices"], tmp_path).stdout
    assert "Choose one with" not in out
    assert out.splitlines()[4:] == [
        "No microphone or loudspeaker found: plug one in (a headset is both), or start "
        "PulseAudio or PipeWire if you have one; then run this again.",
        "Without a microphone: `exercise-assistant start --no-listen` (the keys give every "
        "command).",
        "Without a loudspeaker, what the assistant says is printed instead.",
    ]


def test_listen_with_no_microphone_says_what_to_do(tmp_path: Path, no_devices: None) -> None:
    """`listen` with no microphone exits 1 with one line: none found, plug one in, or start
    with --no-listen; never PortAudio's "Error querying device -1"."""
    done = run(["listen"], tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "exercise-assistant: no microphone found: plug one in (or start PulseAudio or "
        "PipeWire). Without a microphone, `exercise-assistant start --no-listen` works with "
        "the keys."
    ]


def test_start_with_no_sound_card_and_no_terminal_prints_what_and_why(
    tmp_path: Path, no_devices: None
) -> None:
    """`start` with no sound card and output redirected says, in sentences with no stray
    punctuation, that there is no loudspeaker or microphone and what it does instead, then
    prints the timed transcript and how the session ended."""
    (tmp_path / "tiny.yaml").write_text(ROUTINE)
    done = run(["start", str(tmp_path / "tiny.yaml"), "--no-journal"], tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:3] == [
        "No loudspeaker found: plug one in (or start PulseAudio or PipeWire). What I say is "
        "printed here instead.",
        "Not listening: no microphone found: plug one in (or start PulseAudio or PipeWire). "
        "Use the keys, or --no-listen.",
        "No keyboard and no microphone: the session runs straight through.",
    ]
    transcript = lines[3:-1]
    assert all(re.fullmatch(r" *\d+\.\d  \S.*", line) for line in transcript), transcript
    said = [line.strip().split("  ", 1)[1] for line in transcript]
    assert said[0] == "Welcome to Tiny."
    assert lines[-1] == "Session completed."
