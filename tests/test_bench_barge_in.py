"""The barge-in benchmarks: their naive listener (the same listener, deaf to what the
loudspeaker played) runs a simulated session as they run it (its column was once lost to a
changed `make_listener` signature, and the whole benchmark stopped with a TypeError), and
the one on real voices says so when they are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import app
from assistant.runner import Echo
from bench.bench_barge_in import simulate_in_process

ROUTINE = """\
name: Short
exercises:
  - name: Shoulder rolls
    instructions: Roll your shoulders back and down.
    reps: 2
    tempo: 1s
    countdown: 0
"""


def test_the_naive_listener_runs_a_whole_simulated_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deaf to the reference, with its echo 250 ms late, the session still runs to its
    end."""
    # the benchmark swaps `app.make_listener` in a process of its own; here it is put back
    monkeypatch.setattr(app, "make_listener", app.make_listener)
    routine = tmp_path / "short.yaml"
    routine.write_text(ROUTINE)
    records = simulate_in_process(str(routine), None, str(tmp_path / "events.jsonl"),
                                  True, Echo(0.5, 0.25))
    assert records[-1]["type"] == "session_end" and records[-1]["completed"] is True


def test_the_first_seconds_bench_without_the_real_voices_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no Speech Commands sample, the first-seconds bench runs nothing and its section
    ends with one line naming the folder it looked in."""
    from bench import bench_first_seconds

    absent = tmp_path / "absent" / "stop"
    monkeypatch.setattr(bench_first_seconds, "FOLDER", absent)
    report = bench_first_seconds.run()
    assert report.splitlines()[-1] == f'Skipped: no Speech Commands "stop" clips in {absent}.'
