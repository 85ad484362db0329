"""Killing a real `start` process at random moments loses no completed set, and the next
`start` of the same routine offers (by voice) to carry on from where it stopped."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROUTINE = "name: Crash test\nsafety: Stop if anything hurts.\nexercises:\n" + "".join(
    f"  - {{name: Move {i}, sets: 4, reps: 30, tempo: 1s, rest: 5s, "
    f"sides: {'alternate' if i % 2 else 'none'}}}\n"
    for i in range(12)
)


def start(tmp: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp / "data"),
           "XDG_CONFIG_HOME": str(tmp / "config")}
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", "start", str(tmp / "crash.yaml"), "--simulate",
         "--journal", "--no-listen", *args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def journal_sets(tmp: Path) -> set[tuple[int, int]]:
    """The sets the journal holds for its newest session; checks the file's integrity."""
    path = tmp / "data" / "exercise-assistant" / "journal.sqlite3"
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = db.execute("SELECT exercise_index, set_number FROM set_results "
                          "WHERE session_id = (SELECT max(id) FROM sessions)")
        return {(r[0], r[1]) for r in rows}
    finally:
        db.close()


@pytest.mark.slow
def test_sigkill_at_random_moments_keeps_every_logged_set_and_start_offers_to_resume(
    tmp_path: Path,
) -> None:
    """Across 12 SIGKILLs mid-session, every set_done in the event log is in the journal,
    which opens cleanly, and the next start says where it stopped and asks to carry on (when
    the last killed run had ended a set: otherwise there is nothing to carry on)."""
    (tmp_path / "crash.yaml").write_text(ROUTINE)
    rng = random.Random(7)
    killed = 0
    worked = False
    for run in range(60):  # until 12 runs were killed mid-session, the last run among them
        if killed == 12:
            break
        events = tmp_path / f"run{run}.jsonl"
        process = start(tmp_path, "--events", str(events))
        while not events.exists() and process.poll() is None:
            time.sleep(0.005)  # the session has begun once its event log exists
        time.sleep(rng.uniform(0.0, 0.5))
        if process.poll() is not None:
            continue
        process.send_signal(signal.SIGKILL)
        process.wait()
        logged = [json.loads(line) for line in events.read_text().splitlines()
                  if line.endswith("}")]
        done = {(r["exercise_index"], r["set"]) for r in logged if r["type"] == "set_done"}
        assert done <= journal_sets(tmp_path)
        # killed while shutting down after its session ended: nothing is left to offer
        if not any(r["type"] == "session_end" for r in logged):
            killed += 1
            worked = bool(journal_sets(tmp_path))  # a set ended: something to carry on
    assert killed == 12
    events = tmp_path / "offer.jsonl"
    process = start(tmp_path, "--events", str(events), "--pause-limit", "10s")
    assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    said = [json.loads(line) for line in events.read_text().splitlines()]
    offers = [r["text"] for r in said if r["type"] == "say" and r["text"].startswith("Last time")]
    if not worked:  # killed before its first set ended: nothing to carry on, no question
        assert offers == []
        return
    assert len(offers) == 1 and offers[0].endswith("Shall we carry on from there? Say yes or no.")


def test_the_journal_hears_every_effect_before_the_event_log(home: Path) -> None:
    """In the wiring both drivers share, the journal is the first sink, so a process killed
    between two sinks never leaves a set in the event log that the journal lacks."""
    from assistant import app
    from assistant.eventlog import EventLog
    from assistant.loader import load_routine_text
    from assistant.settings import Settings
    from assistant.testing import fixed_timer

    routine = load_routine_text(ROUTINE, "crash.yaml")
    plan = app.plan_for(routine, fixed_timer())
    with app.wire(routine, Settings(), plan, fixed_timer(), speaker=None,
                  events=home / "events.jsonl", journal=True, without="",
                  sinks=[print]) as wiring:
        assert isinstance(wiring.sinks[0], app.JournalSink)
        assert isinstance(wiring.sinks[-1], EventLog)
