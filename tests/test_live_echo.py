"""The assistant's own voice, live, through a loudspeaker looped into the microphone: a
PulseAudio daemon of the test's own with a null sink `spk` (the loudspeaker) and a null sink
`room`, whose monitor is the microphone. The loudspeaker reaches the room either at once
(only the delay PulseAudio's buffers add) or through `module-loopback latency_msec=250`, as
a Bluetooth speaker or a USB headset would. A whole session runs as a user runs it (its own
process, no terminal) and must hear no command; a "pause" said into the room over an
instruction must pause it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.audio import write_wav
from assistant.testing import espeak_clip

pytestmark = pytest.mark.audio

ROOT = Path(__file__).resolve().parent.parent
# what the assistant says here ("Next up", "Exercise 2 of 2", "Go!", counts) is what a
# loudspeaker loop once turned into "next exercise", "go" and numbers
ROUTINE = """\
name: Echo check
exercises:
  - name: Shoulder rolls
    instructions: Roll your shoulders back and down, slowly and gently.
    reps: 3
    tempo: 1s
    countdown: 3
    rest: 4s
  - name: Neck turns
    instructions: Turn your head slowly to the left, then to the right, and back to the middle.
    reps: 2
    tempo: 1s
    countdown: 3
"""
SINKS = ("module-null-sink sink_name=spk rate=16000 channels=1",
         "module-null-sink sink_name=room rate=16000 channels=1")


@pytest.fixture(params=["pulseaudio's own delay", "250 ms loopback"])
def looped(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The environment of a private PulseAudio daemon whose default sink is `spk` and
    default source the room's microphone, with the loudspeaker in it."""
    if not (shutil.which("pulseaudio") and shutil.which("pactl") and shutil.which("paplay")):
        pytest.skip("pulseaudio, pactl or paplay missing (pulseaudio pulseaudio-utils)")
    home = Path(tempfile.mkdtemp(prefix="ea-echo-"))  # short: a socket path has a limit
    delayed = request.param == "250 ms loopback"
    env = {**os.environ, "PULSE_RUNTIME_PATH": str(home / "run"),
           "PULSE_STATE_PATH": str(home / "state"), "PULSE_SINK": "spk",
           "PULSE_SOURCE": "room.monitor" if delayed else "spk.monitor"}
    env.pop("PULSE_SERVER", None)
    env["EA_ROOM_SINK"] = "room" if delayed else "spk"  # where a person's voice goes in
    log = open(home / "log", "w")  # noqa: SIM115  (closed below)
    modules = [arg for sink in SINKS for arg in ("-L", sink)]
    daemon = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--system=false",
         "-L", "module-native-protocol-unix auth-anonymous=1", *modules],
        env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        for _ in range(100):
            if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            pytest.skip(f"private PulseAudio did not start: {(home / 'log').read_text()[-300:]}")
        if delayed:
            subprocess.run(["pactl", "load-module", "module-loopback", "source=spk.monitor",
                            "sink=room", "latency_msec=250"], env=env, check=True,
                           capture_output=True, timeout=10)
        env["XDG_DATA_HOME"] = str(home / "data")
        yield env
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
        log.close()
        shutil.rmtree(home, ignore_errors=True)


def start(env: dict[str, str], tmp: Path, *extra: str) -> subprocess.Popen[str]:
    (tmp / "echo.yaml").write_text(ROUTINE)
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", "start", str(tmp / "echo.yaml"), "--no-journal",
         "--events", str(tmp / "events.jsonl"), "--output-device", "pulse",
         "--input-device", "pulse", "--verbose", *extra],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)


def records(tmp: Path) -> list[dict]:
    path = tmp / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def test_a_whole_session_through_the_loop_hears_no_command(
    looped: dict[str, str], tmp_path: Path
) -> None:
    """With only its own voice in the microphone, a whole session hears nothing and
    completes."""
    session = start(looped, tmp_path)
    out, err = session.communicate(timeout=180)
    assert session.returncode == 0, err
    events = records(tmp_path)
    assert [r for r in events if r["type"] == "heard"] == [], _verbose(out)
    assert events[-1]["type"] == "session_end" and events[-1]["completed"] is True


def test_pause_said_into_the_loop_over_an_instruction_pauses(
    looped: dict[str, str], tmp_path: Path
) -> None:
    """"Pause" said into the room 1.2 s into the first exercise's instruction is heard as
    the only command, and the session pauses."""
    word = tmp_path / "pause.wav"
    write_wav(word, espeak_clip("pause"))
    session = start(looped, tmp_path, "--pause-limit", "3s")
    try:
        # a busy machine may take a while to load the voice and Whisper: wait for the
        # instruction, however long (the session's own timeline is what is checked)
        for _ in range(1800):
            said = [r for r in records(tmp_path) if r["type"] == "say"]
            if any(r["text"].startswith("Roll your shoulders") for r in said):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the instruction was never said")
        time.sleep(1.2)
        subprocess.run(["paplay", "-d", looped["EA_ROOM_SINK"], str(word)], env=looped,
                       check=True, timeout=10)
        out, _ = session.communicate(timeout=120)
    finally:
        session.kill()
    events = records(tmp_path)
    assert [r["command"] for r in events if r["type"] == "heard"] == ["pause"], _verbose(out)
    assert any(r["type"] == "phase" and r["phase"] == "paused" for r in events), _verbose(out)


def _verbose(out: str) -> str:
    """The lines `--verbose` printed (the echo's delay, what was heard and not taken), for
    a failure."""
    return "\n".join(line for line in out.splitlines()
                     if "not taken" in line or "comes back" in line)
