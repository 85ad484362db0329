"""What the README promises a new user, as they run it (issue 18): the carry-on offer after
the pause limit, voice names, simulations kept out of the journal, clear one-line errors
for `history --plot` and `remind`, one total per routine, no litter in /tmp, routine file
names that keep their letters, and `--help` / `voices` that say what to type.

Everything is real: the program in-process through `main(argv)` (or in a subprocess where
a fresh process matters), real SQLite, real pyttsx3/eSpeak NG. XDG folders point into
tmp_path, so the user's journal, routines, settings and cache are never touched."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
from conftest import call

from assistant import paths
from assistant.errors import DeviceError
from assistant.journal import Journal
from assistant.routine import clock_duration
from assistant.voice.tts import Synthesizer

ROOT = Path(__file__).resolve().parent.parent

CARRY = """\
name: Carry on
exercises:
  - name: Neck turns
    sets: 3
    reps: 2
    tempo: 1s
    rest: 5s
"""


def read_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def needs_speech() -> None:
    try:
        Synthesizer().check()
    except DeviceError as exc:
        pytest.skip(f"no text-to-speech here: {exc}")


def journal_sessions(home: Path) -> list[Any]:
    with Journal(home / "data" / "exercise-assistant" / "journal.sqlite3") as journal:
        return journal.sessions()


# --- 1: the carry-on offer after the pause limit ---------------------------------------------


def test_a_session_ended_by_the_pause_limit_is_offered_and_carried_on_at_the_next_start(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Paused in set 2 of 3 until the pause limit ended it, the next `start` of the routine
    asks "Last time you stopped during Neck turns, set 2. Shall we carry on from there?";
    "yes" counts set 2 again from rep 1, then set 3, and the journal holds one completed
    session with all three sets."""
    routine = home / "carry.yaml"
    routine.write_text(CARRY)
    plain = home / "plain.jsonl"
    assert call(["start", str(routine), "--simulate", "--no-listen", "--events", str(plain)]) == 0
    set2 = next(r["t"] for r in read_events(plain) if r["type"] == "rep" and r["set"] == 2)
    capsys.readouterr()
    pause = home / "pause.jsonl"
    pause.write_text(json.dumps({"t": set2 + 0.3, "command": "pause"}) + "\n")
    first = home / "first.jsonl"
    assert call(["start", str(routine), "--simulate", "--no-listen", "--journal", "--commands",
                 str(pause), "--pause-limit", "10s", "--events", str(first)]) == 0
    ended = clock_duration(read_events(first)[-1]["t"])  # its session_end
    assert capsys.readouterr().out.splitlines()[-1] == (f"Session not completed: {ended} of "
                                                         "session time.")
    assert read_events(first)[-1]["completed"] is False

    answer = home / "yes.jsonl"
    answer.write_text('{"t": 10, "say": "yes"}\n')
    second = home / "second.jsonl"
    assert call(["start", str(routine), "--simulate", "--no-listen", "--journal", "--commands",
                 str(answer), "--events", str(second)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("Session completed: ")
    lines = read_events(second)
    offers = [r["text"] for r in lines if r["type"] == "say" and r["kind"] == "prompt"]
    assert offers[0] == ("Last time you stopped during Neck turns, set 2. Shall we carry on "
                         "from there? Say yes or no.")
    assert [r["accepted"] for r in lines if r["type"] == "resume_offer"] == [True]
    assert [(r["set"], r["rep"]) for r in lines if r["type"] == "rep"] == [
        (2, 1), (2, 2), (3, 1), (3, 2)]
    [session] = journal_sessions(home)
    assert session.completed is True
    [exercise] = session.exercises
    assert (exercise.sets_complete, exercise.reps_done) == (3, 6)


# --- 2: voice names ------------------------------------------------------------------------


def write_settings(home: Path, text: str) -> None:
    folder = home / "config" / "exercise-assistant"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.yaml").write_text(text)


def test_the_readme_voice_setting_and_the_names_voices_lists_are_accepted(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`voice: en-us` (the README's example), and each of the first column, the name and
    the language that `voices --language en` prints for en-us, work for `show`, `render`
    and `start --simulate`."""
    needs_speech()
    assert call(["voices", "--language", "en-us"]) == 0
    rows = [re.split(r"\s{2,}", line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == ["voice", "engine", "name", "language"]
    row = next(r for r in rows[1:] if r[0] == "en-us")
    routine = home / "carry.yaml"
    routine.write_text(CARRY)
    for voice in ("en-us", *row):
        write_settings(home, f"voice: {json.dumps(voice)}\n")
        assert call(["show", str(routine)]) == 0, voice
        assert call(["start", str(routine), "--simulate", "--no-listen"]) == 0, voice
        assert call(["render", str(routine), "-o", str(home / "o.wav")]) == 0, voice
        assert capsys.readouterr().err == "", voice


def test_an_unknown_voice_stops_every_command_with_one_line_naming_close_matches(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`voice: en-uss` in settings stops `show`, `render`, `start --simulate` and a live
    `start` alike, before anything runs, with the same one line naming the settings file
    and en-us; no command falls back to estimated durations or silent text. Given with
    --voice or in the routine, the line names that instead."""
    needs_speech()
    write_settings(home, "voice: en-uss\n")
    routine = home / "carry.yaml"
    routine.write_text(CARRY)
    settings = home / "config" / "exercise-assistant" / "settings.yaml"
    expected = (f"exercise-assistant: {settings}: voice: unknown voice 'en-uss'; did you mean "
                "en-us, en-us-nyc? (see: exercise-assistant voices)\n")
    for argv in (["show", str(routine)], ["render", str(routine), "-o", str(home / "o.wav")],
                 ["start", str(routine), "--simulate", "--no-listen"],
                 ["start", str(routine), "--no-listen", "--no-journal"]):
        status = call(argv)
        out = capsys.readouterr()
        assert (status, out.out, out.err) == (1, "", expected), argv
    assert not (home / "o.wav").exists()
    settings.unlink()
    assert call(["show", str(routine), "--voice", "xx-yy"]) == 2  # show has no --voice
    capsys.readouterr()
    assert call(["render", str(routine), "-o", str(home / "o.wav"), "--voice", "xx-yy"]) == 1
    assert capsys.readouterr().err == ("exercise-assistant: --voice: unknown voice 'xx-yy' "
                                       "(see: exercise-assistant voices)\n")
    routine.write_text("voice: {name: vulcan}\n" + CARRY)
    assert call(["start", str(routine), "--simulate", "--no-listen"]) == 1
    assert capsys.readouterr().err == (f"exercise-assistant: {routine}: voice: unknown voice "
                                       "'vulcan' (see: exercise-assistant voices)\n")


# --- 3: simulations are not exercise -------------------------------------------------------


def test_a_simulated_session_is_journalled_only_with_journal(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`start --simulate` records nothing in the journal (the history stays empty);
    with `--journal` it records the session; `start --help` says so."""
    routine = home / "carry.yaml"
    routine.write_text(CARRY)
    assert call(["start", str(routine), "--simulate", "--no-listen"]) == 0
    assert call(["history", "--json"]) == 0
    capsys.readouterr()
    assert journal_sessions(home) == []
    assert call(["start", str(routine), "--simulate", "--no-listen", "--journal"]) == 0
    [session] = journal_sessions(home)
    assert (session.routine, session.completed) == ("Carry on", True)
    capsys.readouterr()
    assert call(["start", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert ("--simulate Run on a virtual clock, as fast as possible; recorded in the journal "
            "only with --journal (a simulation is not exercise).") in help_text
    assert "--journal / --no-journal Record this session in the journal" in help_text


# --- 4: history --plot to a folder that does not exist -------------------------------------


def test_history_plot_into_a_missing_folder_is_one_line_before_any_table(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`history --plot /nonexistent/x.png` prints nothing on stdout and exactly one clear
    line on stderr, exit 1."""
    missing = home / "nonexistent" / "x.png"
    status = call(["history", "--plot", str(missing)])
    out = capsys.readouterr()
    assert (status, out.out) == (1, "")
    assert out.err == (f"exercise-assistant: {missing}: the folder {missing.parent} "
                       "does not exist\n")


# --- 5: remind ------------------------------------------------------------------------------


def test_remind_preview_without_a_scheduler_exits_0_names_the_time_and_a_working_command(
        tmp_path: Path) -> None:
    """With no systemctl and no crontab on PATH, `remind --at 07:30` exits 0 and names 07:30
    and a command that, run as printed, reminds and exits 0; `--install` exits 1 with one
    line; `--routine nosuch` exits 1 with one line and plans nothing."""
    env = {**os.environ, "PATH": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *argv], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=60, check=False)

    preview = run("-m", "assistant", "remind", "--at", "07:30")
    assert (preview.returncode, preview.stderr) == (0, ""), preview.stderr
    first, command = preview.stdout.splitlines()
    assert first.startswith("A reminder every day at 07:30 for 'upper-back': ")
    assert first.endswith("Have your system's scheduler run this command every day at 07:30:")
    words = shlex.split(command)
    assert words[1:] == ["-m", "assistant.reminders", "notify", "upper-back"]
    reminded = run(*words[1:])
    assert (reminded.returncode, reminded.stderr) == (0, "")
    assert reminded.stdout.startswith("Time for your exercises: upper-back.")

    installing = run("-m", "assistant", "remind", "--at", "07:30", "--install", "--yes")
    assert (installing.returncode, installing.stdout) == (1, "")
    assert len(installing.stderr.splitlines()) == 1
    assert "nothing can be installed" in installing.stderr and "07:30" in installing.stderr

    unknown = run("-m", "assistant", "remind", "--at", "07:30", "--routine", "nosuch")
    assert (unknown.returncode, unknown.stdout) == (1, "")
    assert unknown.stderr.startswith("exercise-assistant: no routine called 'nosuch'; ")
    assert len(unknown.stderr.splitlines()) == 1


# --- 7: one plan, one number ---------------------------------------------------------------


def test_list_and_show_give_the_same_total_for_every_bundled_routine(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """For each bundled routine, the time `list` prints is the total `show` prints, both
    marked "about" alike while the voice has not said all of it; once `render` has said
    desk-break, both give its exact time, unmarked, and it is the rendered file's length."""
    def listed() -> dict[str, str]:
        assert call(["list"]) == 0
        found = {}
        for line in capsys.readouterr().out.splitlines()[1:]:
            match = re.match(r"^\s*(\S+)\s.*?\s(~?\d+:\d\d)\s+\d+\s+bundled\s*$", line)
            if match:
                found[match[1]] = match[2]
            else:
                assert line.startswith("~ about: "), line
        return found

    def shown(name: str) -> str:
        assert call(["show", name]) == 0
        total = re.search(r"^Total: (about )?(\d+:\d\d) ", capsys.readouterr().out, re.M)
        assert total, name
        return ("~" if total[1] else "") + total[2]

    times = listed()
    assert set(times) == {"desk-break", "morning-mobility", "strength-circuit", "upper-back"}
    for name, time in times.items():
        assert shown(name) == time, name
    wav = home / "desk.wav"
    assert call(["render", "desk-break", "-o", str(wav)]) == 0
    out = capsys.readouterr().out
    assert listed()["desk-break"] == shown("desk-break") == clock_duration(
        sf.info(str(wav)).frames / 16000), out


def test_list_shows_a_routine_with_an_unknown_voice_as_invalid_and_lists_the_rest(
        home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A saved routine whose own voice is not installed is a row "invalid: unknown voice
    ..." in `list`, which still lists and times every other routine and exits 0."""
    needs_speech()
    monkeypatch.setenv("COLUMNS", "200")  # each row on one line
    (paths.routines_dir() / "vulcan.yaml").write_text("voice: {name: vulcan}\n" + CARRY)
    assert call(["list"]) == 0
    out = capsys.readouterr()
    rows = {line.split()[0]: " ".join(line.split()[1:]) for line in out.out.splitlines()[1:]}
    assert rows["vulcan"] == ("invalid: unknown voice 'vulcan' (see: exercise-assistant "
                              "voices) yours")
    assert re.fullmatch(r"Upper back relief ~?\d+:\d\d 3 bundled", rows["upper-back"])
    assert out.err == ""


# --- 14: no folder left in /tmp --------------------------------------------------------------


def test_commands_that_speak_leave_nothing_in_the_temporary_folder(tmp_path: Path) -> None:
    """`show`, `render` (with the default voice and with eSpeak NG's) and `start --simulate`,
    each in a fresh process, leave nothing of theirs in TMPDIR (PulseAudio's client library
    may make its own runtime folder there, `pulse-*`, when XDG_RUNTIME_DIR is unset);
    eSpeak NG's scratch files live (and are removed) in one `tts` folder in the user's cache
    directory, which ends empty."""
    needs_speech()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    for argv in (["show", "desk-break"], ["render", "desk-break", "-o", str(tmp_path / "o.wav")],
                 ["render", "desk-break", "-o", str(tmp_path / "o.wav"), "--voice", "en-us"],
                 ["start", "desk-break", "--simulate", "--no-listen"]):
        done = subprocess.run([sys.executable, "-m", "assistant", *argv], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120, check=False)
        assert (done.returncode, done.stderr) == (0, ""), argv
        left = [p.name for p in scratch.iterdir() if not p.name.startswith("pulse-")]
        assert left == [], argv
    assert list((tmp_path / "cache" / "exercise-assistant" / "tts").iterdir()) == []


# --- 15: routine names keep their letters ------------------------------------------------------


def test_new_keeps_the_letters_of_a_name_in_any_script(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`new "Übung für den Rücken"` writes übung-für-den-rücken.yaml, which `show` finds
    by that name."""
    assert call(["new", "Übung für den Rücken"]) == 0
    path = paths.routines_dir() / "übung-für-den-rücken.yaml"
    assert capsys.readouterr().out.splitlines()[0] == f"Wrote {path}"
    assert [p.name for p in paths.routines_dir().iterdir()] == [path.name]
    assert call(["show", "übung-für-den-rücken"]) == 0
    assert "Übung für den Rücken" in capsys.readouterr().out


def test_new_with_a_very_long_name_writes_a_file_whose_name_fits(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`new` with a 300-letter name (600 bytes in UTF-8) writes a routine whose file name is
    cut to 100 bytes plus .yaml, instead of an internal error from the file system."""
    assert call(["new", "ü" * 300]) == 0
    path = paths.routines_dir() / ("ü" * 50 + ".yaml")
    out = capsys.readouterr()
    assert (out.out.splitlines()[0], out.err) == (f"Wrote {path}", "")
    assert path.is_file()


# --- 18: help and voices say what to type ------------------------------------------------------


@pytest.mark.parametrize("command", ["list", "voices", "devices"])
def test_help_examples_are_indented_lines_of_their_own(
        command: str, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The epilog of `list`, `voices` and `devices --help` is "Example(s):" then each example
    on its own line, indented under it (not run together or unindented)."""
    assert call([command, "--help"]) == 0
    lines = capsys.readouterr().out.splitlines()
    heading = next(i for i, line in enumerate(lines) if line.strip() in ("Example:", "Examples:"))
    examples = [line for line in lines[heading + 1:] if line.strip()]
    assert examples[0] == f"    exercise-assistant {command}"
    assert all(line.startswith("    exercise-assistant ") for line in examples)


def test_start_help_lists_every_key_including_louder_and_quieter(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`start --help` names the keys ] louder and [ quieter beside the others, the pain key
    o, and the digits that answer a pain check-in."""
    assert call(["start", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "h help, o it hurts, q end workout," in text
    assert ("y yes, x no, ] louder, [ quieter; 0 to 9 answer a pain check-in (1 then 0 is "
            "10).") in text


def test_voices_has_a_header_and_filters_by_language(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`voices` starts with a header row (voice, name, language); `--language en` keeps only
    voices whose language is en or en-*, en-us and en-gb among them; an unknown language is
    one line, exit 1."""
    needs_speech()
    assert call(["voices", "--language", "en"]) == 0
    rows = [re.split(r"\s{2,}", line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == ["voice", "engine", "name", "language"]
    assert {"en-us", "en"} <= {row[0] for row in rows[1:]}
    assert all(re.fullmatch(r"en(-.*)?", row[3]) for row in rows[1:])
    assert call(["voices"]) == 0
    everything = capsys.readouterr().out.splitlines()
    assert len(everything) > len(rows) and everything[0] == "voice" + everything[0][5:]
    assert call(["voices", "--language", "xx"]) == 1
    out = capsys.readouterr()
    assert (out.out, out.err) == ("", "exercise-assistant: no voice for the language 'xx' "
                                      "(see: exercise-assistant voices)\n")
