"""What a new user met at the edges (issue 25, items 6 and 8 to 13): names that would hide a
bundled routine, the transcript when output is not a terminal, cues that run together, the
carry-on offer, a damaged journal, and usage errors that say the same thing the same way.

XDG folders point into tmp_path, so the user's journal, routines and settings are never
touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import call

from assistant import paths

ROOT = Path(__file__).resolve().parent.parent

# --- 6: a routine of yours must not silently hide a bundled one ------------------------------


def test_new_refuses_a_bundled_name_unless_forced_and_says_so(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`new "Upper back"` (file upper-back.yaml) exits 1 with one line naming the bundled
    routine it would hide and --force, and writes nothing; with --force it writes the file
    and says that `start upper-back` now runs it."""
    assert call(["new", "Upper back"]) == 1
    out = capsys.readouterr()
    assert (out.out, out.err) == ("", "exercise-assistant: upper-back is a bundled routine: "
                                      "yours would hide it from list and start; choose another "
                                      "name, or give --force\n")
    assert not paths.routines_dir().exists() or list(paths.routines_dir().iterdir()) == []
    assert call(["new", "Upper back", "--force"]) == 0
    path = paths.routines_dir() / "upper-back.yaml"
    out = capsys.readouterr()
    assert out.out.splitlines()[:2] == [
        f"Wrote {path}",
        "It hides the bundled routine upper-back: `start upper-back` runs yours.",
    ]
    assert path.is_file()


# --- 9: a simulation into a file prints its transcript -----------------------------------------

TINY = """\
name: Tiny
exercises:
  - name: Neck turns
    reps: 2
    tempo: 1s
"""


def test_a_simulation_with_output_to_a_file_prints_the_timed_transcript(tmp_path: Path) -> None:
    """`start --simulate > file` (stdout not a terminal) prints every sentence said as
    "[M:SS] text", in order, then the "Session completed" line: what a terminal shows."""
    import json
    import os
    import subprocess
    import sys

    from assistant.routine import clock_duration

    (tmp_path / "tiny.yaml").write_text(TINY)
    events = tmp_path / "ev.jsonl"
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), PYTHONPATH=str(ROOT))
    with open(tmp_path / "out.txt", "w") as out:
        done = subprocess.run([sys.executable, "-m", "assistant", "start", "tiny.yaml",
                               "--simulate", "--no-listen", "--events", str(events)],
                              cwd=tmp_path, env=env, stdout=out, stderr=subprocess.PIPE,
                              text=True, timeout=120, check=False,
                              )
    assert (done.returncode, done.stderr) == (0, "")
    said = [json.loads(line) for line in events.read_text().splitlines()]
    expected = [f"[{clock_duration(r['t'])}] {r['text']}" for r in said if r["type"] == "say"]
    lines = (tmp_path / "out.txt").read_text().splitlines()
    assert len(expected) > 5
    assert lines[:-1] == expected
    assert lines[-1].startswith("Session completed: ")


# --- 10: a cue said with a count is its own sentence, and halfway is said once -----------------

CUED = """\
name: Cued
exercises:
  - name: Step back
    sets: 2
    reps: 4
    sides: alternate
    tempo: {step back: 1s, return: 1s}
    countdown: 0
    cues:
      - at: 50%
        say: Halfway through set {set} of {sets}.
      - at: 2s
        say: Keep breathing
"""


def test_a_cue_said_with_a_count_is_a_sentence_of_its_own_and_halfway_is_said_once() -> None:
    """A user's cue due with a count is said after it as a sentence of its own ("... Step back.
    Halfway through set 1 of 2."), and a user's cue at 50 % takes the place of the count's
    own "Halfway"."""
    from assistant.loader import load_routine_text
    from assistant.plan import SayItem, build_plan
    from assistant.testing import fixed_timer

    plan = build_plan(load_routine_text(CUED, "cued.yaml"), fixed_timer())
    first_set = next(s for s in plan.steps if s.title == "Step back, set 1 of 2")
    said = [(i.offset, i.text) for i in first_set.items if isinstance(i, SayItem)]
    assert said == [
        (0.0, "1, left. Step back"), (1.0, "Return"),
        (2.0, "1, right. Step back. Keep breathing"), (3.0, "Return"),
        (4.0, "2, left. Step back"), (5.0, "Return"),
        (6.0, "2, right. Step back"), (7.0, "Return"),
        (8.0, "3, left. Step back. Halfway through set 1 of 2."), (9.0, "Return"),
        (10.0, "3, right. Step back"), (11.0, "Return"),
        (12.0, "4, left. Step back"), (13.0, "Return"),
        (14.0, "4, right. Last one. Step back"), (15.0, "Return"),
    ]


# --- 13: usage errors say the same thing the same way ------------------------------------------


@pytest.mark.parametrize(("value", "message"), [
    ("2", "Invalid value for --echo: expected GAIN:DELAY_MS, such as 0.5:30, got '2'"),
    ("20:5", "Invalid value for --echo: gain must be 0..10 and delay 0..2000 ms, got '20:5'"),
])
def test_a_bad_echo_is_a_usage_error_with_status_2(
        home: Path, capsys: pytest.CaptureFixture[str], value: str, message: str) -> None:
    """`--echo 2` (and an echo out of range) exits 2 like every other bad option value, with
    one line naming --echo and what it expects."""
    (home / "tiny.yaml").write_text(TINY)
    assert call(["start", str(home / "tiny.yaml"), "--simulate", "--echo", value]) == 2
    out = capsys.readouterr()
    assert (out.out, out.err) == ("", f"exercise-assistant: {message} "
                                      "(see: exercise-assistant start --help)\n")


def test_validate_calls_a_folder_a_folder_as_start_does(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`validate FOLDER` says "this is a folder, not a routine file", the word `start` uses."""
    assert call(["validate", str(home)]) == 1
    assert capsys.readouterr().out == f"{home}:1:1: this is a folder, not a routine file\n"
    assert call(["start", str(home) + "/", "--simulate"]) == 1
    assert "is a folder, not a routine file" in capsys.readouterr().err


def test_a_bad_commands_file_reports_every_bad_line(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --commands file with three bad lines among good ones exits 1 with one stderr line
    per bad line, FILE:LINE: message, in order, and runs nothing."""
    (home / "tiny.yaml").write_text(TINY)
    commands = home / "cmds.jsonl"
    commands.write_text('{"t": 1, "command": "pause"}\n'
                        'not json\n'
                        '# a comment\n'
                        '{"t": -1, "command": "pause"}\n'
                        '{"t": 2, "say": "resume"}\n'
                        '{"t": 3, "command": "dance"}\n')
    events = home / "ev.jsonl"
    status = call(["start", str(home / "tiny.yaml"), "--simulate", "--commands", str(commands),
                   "--events", str(events)])
    out = capsys.readouterr()
    from assistant.commands import Command

    names = ", ".join(c.value for c in Command)
    assert (status, out.out) == (1, "")
    assert out.err.splitlines() == [
        f"exercise-assistant: {commands}:2: not a JSON object: Expecting value",
        f"exercise-assistant: {commands}:4: t must be a number of seconds, 0 or more",
        f"exercise-assistant: {commands}:6: unknown command 'dance'; use one of {names}",
    ]
    assert not events.exists()


def test_validate_of_several_files_ends_with_how_many_are_valid(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`validate` of three files, one bad, prints the bad file's problem then "2 of 3 files
    valid." and exits 1."""
    bad = home / "bad.yaml"
    bad.write_text("name: x\nexercises:\n  - name: a\n    reps: -1\n")
    good = ROOT / "assistant" / "exercises" / "desk-break.yaml"
    (home / "tiny.yaml").write_text(TINY)
    assert call(["validate", str(good), str(bad), str(home / "tiny.yaml")]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{bad}:4:11: reps: expected a whole number from 1 to 200, got -1",
        "2 of 3 files valid.",
    ]


# --- 12: a damaged journal says how to exercise anyway -----------------------------------------


def damaged_journal() -> Path:
    path = paths.journal_path()
    path.write_text("my shopping list\n" * 100)
    return path


HINT_LIVE = "; or start with --no-journal to exercise without recording it"


def test_a_damaged_journal_stops_a_live_start_with_the_no_journal_hint(
        home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A live `start` with a journal that is not a journal exits 1 with one line: what is
    wrong with the file, then that --no-journal runs the session without recording it."""
    monkeypatch.setenv("PULSE_SERVER", "unix:/nonexistent")
    (home / "tiny.yaml").write_text(TINY)
    path = damaged_journal()
    assert call(["start", str(home / "tiny.yaml"), "--no-listen"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"exercise-assistant: {path}: not a readable journal (")
    assert err.endswith("); the file was left as it is - move it aside to start a new journal"
                        + HINT_LIVE + "\n")
    assert len(err.splitlines()) == 1


def test_a_damaged_journal_stops_a_journalled_simulation_with_its_own_hint(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`start --simulate --journal` with a damaged journal says to leave out --journal."""
    (home / "tiny.yaml").write_text(TINY)
    damaged_journal()
    assert call(["start", str(home / "tiny.yaml"), "--simulate", "--journal"]) == 1
    err = capsys.readouterr().err
    assert err.endswith("; or leave out --journal to simulate without recording it\n")


# --- 11: carry on only what was started, and ask first -----------------------------------------

TWO_SETS = """\
name: Two sets
safety: Stop if anything hurts.
exercises:
  - name: Neck turns
    sets: 2
    reps: 2
    tempo: 1s
    rest: 5s
"""


def test_the_carry_on_question_comes_first_and_yes_then_welcomes_and_carries_on() -> None:
    """Offered to carry on from set 2, the session asks before anything else (at 0 s); a "y"
    pressed while it asks is the answer: the welcome and safety note follow, then set 2."""
    from assistant.commands import Command, Intent
    from assistant.events import Key, Record, Say, Start, Tick
    from assistant.loader import load_routine_text
    from assistant.plan import build_plan
    from assistant.session import Session, SessionOptions
    from assistant.testing import fixed_timer

    timer = fixed_timer()
    plan = build_plan(load_routine_text(TWO_SETS, "two.yaml"), timer)
    s = Session(plan, timer, SessionOptions(offer_resume=(0, 2)))
    effects = s.handle(Start(), 0.0) + s.handle(Tick(), 0.0)
    says = [e for e in effects if isinstance(e, Say)]
    assert [(e.t, e.text) for e in says] == [
        (0.0, "Last time you stopped during Neck turns, set 2. Shall we carry on from there? "
              "Say yes or no.")]
    effects += s.handle(Key(Intent(Command.YES), "y"), 1.0)
    while not s.done:
        due = s.next_due()
        assert due is not None
        effects += s.handle(Tick(), due)
    said = [e.text for e in effects if isinstance(e, Say)]
    assert said[1:3] == ["Welcome to Two sets.", "Stop if anything hurts."]
    assert said[3] == "3"  # the countdown of set 2: nothing of set 1 or its announcement
    records = [e for e in effects if isinstance(e, Record)]
    assert [r.data["accepted"] for r in records if r.type == "resume_offer"] == [True]
    assert {r.data["set"] for r in records if r.type == "rep"} == {2}


def test_a_session_stopped_before_any_set_is_not_offered_next_time(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Paused during the welcome until the pause limit ended it, the next start does not
    offer to carry on (nothing was done): it begins with the welcome."""
    import json

    routine = home / "two.yaml"
    routine.write_text(TWO_SETS)
    pause = home / "pause.jsonl"
    pause.write_text('{"t": 1, "command": "pause"}\n')
    first = home / "first.jsonl"
    assert call(["start", str(routine), "--simulate", "--no-listen", "--journal", "--commands",
                 str(pause), "--pause-limit", "10s", "--events", str(first)]) == 0
    log = [json.loads(line) for line in first.read_text().splitlines()]
    assert [r["type"] for r in log if r["type"] in ("timed_out", "set_done")] == ["timed_out"]
    second = home / "second.jsonl"
    assert call(["start", str(routine), "--simulate", "--no-listen", "--journal",
                 "--events", str(second)]) == 0
    said = [json.loads(line) for line in second.read_text().splitlines()]
    texts = [r["text"] for r in said if r["type"] == "say"]
    assert texts[0] == "Welcome to Two sets."
    assert not [t for t in texts if t.startswith("Last time")]
    capsys.readouterr()
