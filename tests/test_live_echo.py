"""The assistant's own voice, live, through a loudspeaker looped into the microphone: in
the run's own PulseAudio daemon, a null sink `echo_spk` (the loudspeaker) and a null sink
`echo_room`, whose monitor is the microphone. The loudspeaker reaches the room either at once
(only the delay PulseAudio's buffers add) or through `module-loopback latency_msec=250`, as
a Bluetooth speaker or a USB headset would. A whole session runs as a user runs it (its own
process, no terminal) and must hear no command; a "pause" said into the room over an
instruction must pause it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from private_pulse import PrivateDaemon

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
SINKS = ("module-null-sink sink_name=echo_spk rate=16000 channels=1",
         "module-null-sink sink_name=echo_room rate=16000 channels=1")


@pytest.fixture(params=["pulseaudio's own delay", "250 ms loopback"])
def looped(request: pytest.FixtureRequest, pulse_daemon: PrivateDaemon,
           tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a client of the run's own PulseAudio daemon whose sink is the
    loudspeaker `echo_spk` and whose source is the room's microphone, with the loudspeaker
    in it; the sinks and the loopback are unloaded afterwards."""
    delayed = request.param == "250 ms loopback"
    env = {**os.environ, **pulse_daemon.env(), "PULSE_SINK": "echo_spk",
           "PULSE_SOURCE": "echo_room.monitor" if delayed else "echo_spk.monitor"}
    env["EA_ROOM_SINK"] = "echo_room" if delayed else "echo_spk"  # where a person's voice goes
    loaded = []
    try:
        for sink in SINKS:
            loaded.append(pulse_daemon.pactl("load-module", *sink.split()).strip())
        if delayed:
            loaded.append(pulse_daemon.pactl(
                "load-module", "module-loopback", "source=echo_spk.monitor", "sink=echo_room",
                "latency_msec=250").strip())
        env["XDG_DATA_HOME"] = str(tmp_path / "data")
        yield env
    finally:
        for module in reversed(loaded):
            pulse_daemon.pactl_ok("unload-module", module)


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


@pytest.fixture
def busy_cores() -> Iterator[int]:
    """Every core kept busy by another process (a CPU-bound loop each) while the test runs."""
    cores = os.cpu_count() or 2
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        yield cores
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


def whole_session_hears_nothing(looped: dict[str, str], tmp_path: Path) -> None:
    # a command heard by mistake must not leave it paused for the default 30 minutes
    session = start(looped, tmp_path, "--pause-limit", "20s")
    out, err = session.communicate(timeout=600)
    assert session.returncode == 0, err[-2000:]
    events = records(tmp_path)
    assert [r for r in events if r["type"] == "heard"] == [], _verbose(out)
    assert events[-1]["type"] == "session_end" and events[-1]["completed"] is True


def test_a_whole_session_through_the_loop_hears_no_command(
    looped: dict[str, str], tmp_path: Path
) -> None:
    """With only its own voice in the microphone, a whole session hears nothing and
    completes."""
    whole_session_hears_nothing(looped, tmp_path)


def test_with_every_core_busy_a_whole_session_hears_no_command(
    looped: dict[str, str], busy_cores: int, tmp_path: Path
) -> None:
    """The same with every core kept busy by another process, where the loudspeaker runs
    dry now and then (its own "Go!" was once taken as "resume" there)."""
    whole_session_hears_nothing(looped, tmp_path)


# Known gap (issue 25): this "pause", as loud as the echo, is not yet heard reliably. Through
# the 250 ms loopback it was heard in 1 of 4 runs on 7 December 2026 (module-loopback
# resamples to hold its latency, so the echo path keeps moving and the canceller does not
# settle). Through PulseAudio's own delay, since the echo reference is read 60 ms ahead, in 8
# of 9 (missed in most runs before); the one miss, in CI on an idle machine, came with the
# delay found drifting from 58 to 45 ms within the session. Marked (not strict) so that it
# shows in every run without hiding the rest of the suite.
def test_pause_said_into_the_loop_over_an_instruction_pauses(
    looped: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """"Pause" said into the room 1.2 s into the first exercise's instruction is heard as
    the only command, and the session pauses."""
    request.applymarker(pytest.mark.xfail(
        strict=False, reason="known gap (issue 25): 'pause' over its voice is not yet heard "
        "reliably"))
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
