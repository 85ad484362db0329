"""Simulation speed: the whole upper-back session (about 40 minutes of session time) on the
virtual clock, in-process and as `python -m assistant start --simulate` (with and without
--speaker-file), against the naive driver that sleeps for real until each event is due
(measured on a 10-second slice of the same session in the same run, then extrapolated).

Target (DESIGN §6, "a 40-minute routine runs in seconds"): the simulated session, including
interpreter start-up, under 5 s of wall time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assistant import app
from assistant.events import Start, Tick
from assistant.session import Session
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TARGET = 5.0  # seconds of wall time for the whole simulated session
NAIVE_SLICE = 10.0  # seconds of session time the sleeping driver is measured on


def in_process() -> tuple[float, float]:
    """(wall seconds, session seconds) of app.run_simulation on the virtual clock."""
    routine = app.load_routine("upper-back")
    started = time.perf_counter()
    result = app.run_simulation(app.SimulationRequest(routine=routine, settings=Settings(),
                                                      journal=False))
    return time.perf_counter() - started, result.length


def program(tmp: Path, *extra: str) -> tuple[float, float]:
    """(wall seconds, session seconds) of the real program, start-up included."""
    env = dict(os.environ, XDG_DATA_HOME=str(tmp / "data"), XDG_CONFIG_HOME=str(tmp / "cfg"))
    events = tmp / "ev.jsonl"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "start", "upper-back", "--simulate", "--no-journal",
         "--events", str(events), *extra],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True, timeout=600)
    wall = time.perf_counter() - started
    assert "Session completed" in done.stdout, done.stdout
    last = events.read_text(encoding="utf-8").splitlines()[-1]
    return wall, float(json.loads(last)["t"])


def naive_slice() -> tuple[float, float, float]:
    """The sleeping driver on the first NAIVE_SLICE seconds: (wall, session seconds covered,
    worst lateness of an event against its due time)."""
    routine = app.load_routine("upper-back")
    voice = app.Voice(Settings(), routine)
    session = Session(app.plan_for(routine, voice.timer()), voice.timer())
    session.handle(Start(""), 0.0)
    origin = time.perf_counter()
    worst = 0.0
    now = 0.0
    while True:
        due = session.next_due()
        if session.done or due is None or due > NAIVE_SLICE:
            break
        time.sleep(max(0.0, due - (time.perf_counter() - origin)))
        now = time.perf_counter() - origin
        worst = max(worst, now - due)
        session.handle(Tick(), max(due, now))
    time.sleep(max(0.0, NAIVE_SLICE - (time.perf_counter() - origin)))
    return time.perf_counter() - origin, NAIVE_SLICE, worst


def _clock(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


def run() -> str:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        inproc_wall, length = in_process()
        plain_wall, plain_len = program(tmp)
        speaker_wall, speaker_len = program(tmp, "--speaker-file", str(tmp / "out.wav"))
    naive_wall, naive_covered, naive_late = naive_slice()
    naive_full = naive_wall / naive_covered * length

    rows = [
        ("virtual clock, in-process (`app.run_simulation`)", length, inproc_wall),
        ("`python -m assistant start --simulate` (start-up included)", plain_len, plain_wall),
        ("... with `--speaker-file OUT.wav` (speech rendered)", speaker_len, speaker_wall),
        (f"naive: `time.sleep` until each event is due (measured {naive_covered:.0f} s slice, "
         "extrapolated)", length, naive_full),
    ]
    lines = [
        "## Simulated session: virtual clock against sleeping for real",
        "",
        "The bundled upper-back routine, whole (walk 30 min, knees to chest, bird dog).",
        "",
        "| driver | session length | wall time | times faster than real time |",
        "|---|---|---|---|",
    ]
    for label, session_s, wall in rows:
        lines.append(f"| {label} | {_clock(session_s)} ({session_s:.0f} s) | {wall:.2f} s | "
                     f"{session_s / wall:,.0f}x |")
    verdict = "met" if max(plain_wall, speaker_wall) < TARGET else "NOT met"
    lines += [
        "",
        f"Target: a whole simulated session under {TARGET:.0f} s of wall time, start-up "
        f"included: **{verdict}** (slowest {max(plain_wall, speaker_wall):.2f} s).",
        f"The naive driver took {naive_wall:.2f} s for {naive_covered:.0f} s of session "
        f"(worst event {naive_late * 1000:.1f} ms late), so the whole session would take "
        f"{_clock(naive_full)}.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
