"""The tests leave the machine as they found it: the user's PulseAudio keeps its sinks and
default devices, no PulseAudio the tests started keeps running, and nothing is left in the
temporary folder or the home folder but what pytest keeps by its own rules."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from private_pulse import PrivateDaemon, available, null_sink_environment
from test_audio_pulse import RATE, Recorder, pulse  # noqa: F401  (pulse is a fixture)

pytestmark = pytest.mark.audio

ROOT = Path(__file__).resolve().parent.parent


def defaults(desk: PrivateDaemon) -> tuple[list[str], list[str]]:
    """The sinks of the user's PulseAudio, and its default sink and source lines."""
    sinks = [line.split("\t")[1] for line in desk.pactl("list", "short", "sinks").splitlines()]
    info = [line for line in desk.pactl("info").splitlines()
            if line.startswith(("Default Sink:", "Default Source:"))]
    return sinks, info


def pulseaudio_started_in(folder: Path) -> list[int]:
    """Running pulseaudio processes whose environment names `folder`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if (proc / "comm").read_text().strip() == "pulseaudio" and \
                    str(folder).encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@contextmanager
def beside_a_users_pulseaudio(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path, Path]]:
    """A user's PulseAudio with its own speaker, and (environment, TMPDIR, HOME) for a process
    run beside it with an empty TMPDIR and HOME of its own; on leaving, checks that the
    user's sinks and default devices are as they were and that no PulseAudio started under
    that TMPDIR runs."""
    if (missing := available()) is not None:
        pytest.skip(missing)
    desk = PrivateDaemon("module-null-sink sink_name=desk")  # the user's desktop
    try:
        before = defaults(desk)
        scratch, home = tmp_path / "tmp", tmp_path / "home"
        scratch.mkdir()
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "XDG_"))}
        env |= {**desk.env(), "TMPDIR": str(scratch), "HOME": str(home)}
        yield env, scratch, home
        assert defaults(desk) == before
        assert pulseaudio_started_in(scratch) == []
    finally:
        desk.stop()


def test_a_run_of_the_audio_tests_leaves_the_machine_as_it_found_it(tmp_path: Path) -> None:
    """A pytest run of a real-audio test, beside a user's PulseAudio with its own speaker,
    passes and leaves that server's sinks and default devices as they were, no PulseAudio
    of its own running, nothing in TMPDIR but pytest's own folder and nothing in HOME."""
    with beside_a_users_pulseaudio(tmp_path) as (env, scratch, home):
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=",
             "tests/test_leaves_machine.py::test_the_runs_speaker_is_heard_by_its_microphone"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert " 1 passed" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    pytests = f"pytest-of-{getpass.getuser()}"
    assert [p.name for p in scratch.iterdir() if p.name != pytests] == []
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []


def test_the_runs_speaker_is_heard_by_its_microphone(pulse: str) -> None:  # noqa: F811
    """A tone played on the ALSA device `pulse` comes back, loud, from `pulse` as a
    microphone: the run's own daemon is the speaker and the microphone."""
    import sounddevice as sd

    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(RATE // 2) / RATE)).astype(np.float32)
    recorder = Recorder(pulse)
    try:
        sd.play(tone, RATE, device=pulse, blocking=True)
        sd.sleep(500)  # what PulseAudio still holds in its buffers
    finally:
        recorder.close()
    assert np.abs(recorder.audio()).max() > 0.25


def test_a_benchmarks_null_sink_is_gone_after_it_with_the_environment_as_before() -> None:
    """Inside `null_sink_environment` (the benchmarks' live rows) the environment sends the
    ALSA `pulse` device to a daemon of its own whose sink is `spk`; after it, every variable
    is as it was, that daemon has ended and its folder is gone (a benchmark once left the
    user's PulseAudio running with its null sink)."""
    if (missing := available()) is not None:
        pytest.skip(missing)
    names = ["PULSE_SERVER", "PULSE_CLIENTCONFIG", "PULSE_RUNTIME_PATH", "PULSE_SINK",
             "PULSE_SOURCE"]
    before = {name: os.environ.get(name) for name in names}
    with null_sink_environment() as daemon:
        inside = {name: os.environ.get(name) for name in names}
        sinks = [line.split("\t")[1]
                 for line in daemon.pactl("list", "short", "sinks").splitlines()]
    assert inside == daemon.env() | {"PULSE_SINK": "spk", "PULSE_SOURCE": "spk.monitor"}
    assert sinks == ["spk"]
    assert {name: os.environ.get(name) for name in names} == before
    assert daemon.process.poll() is not None
    assert not daemon.folder.exists()


BENCH_RUN = """
import os, sys
import bench.__main__ as bench

def run(names):
    import sounddevice as sd  # PortAudio asks the ALSA `pulse` device's server for devices
    sd.query_devices()
    print(os.environ["PULSE_SERVER"])
    return 0

bench.run = run
sys.exit(bench.main(["speech_out"]))
"""


def test_a_benchmark_run_sounds_through_a_daemon_of_its_own_and_leaves_the_machine(
    tmp_path: Path,
) -> None:
    """`python -m bench` (its modules replaced by a sound client) beside a user's PulseAudio:
    the client reaches a daemon under TMPDIR, and afterwards the user's sinks and defaults
    are as they were, no PulseAudio of its own runs and TMPDIR and HOME are empty."""
    with beside_a_users_pulseaudio(tmp_path) as (env, scratch, home):
        done = subprocess.run([sys.executable, "-c", BENCH_RUN], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip().startswith(f"unix:{scratch}/ea-pa-"), done.stdout
    assert list(scratch.iterdir()) == []
    assert list(home.rglob("*")) == []
