"""The command line's contracts (DESIGN §6): the program as a person runs it, its event log,
its exit codes, and one clear line on stderr for every bad argument.

A few tests run the real program in a subprocess (`python -m assistant`, the console script);
the bulk call `assistant.cli.main(argv)` in-process, which is the same code path minus the
interpreter start-up. XDG_DATA_HOME and XDG_CONFIG_HOME always point into tmp_path, so the
user's journal, routines and settings are never touched."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import call

from assistant import cli, session

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".venv" / "bin" / "exercise-assistant"

TINY = """\
name: Tiny
exercises:
  - name: Neck turns
    reps: 2
    tempo: 1s
"""

# DESIGN §6: the event-log types every consumer may rely on, with their exact fields.
SAY_KINDS = {"instruction", "cue", "count", "prompt"}
PHASES = {"ready", "work", "hold", "rest", "paused", "done"}
COMMAND_NAMES = {
    "pause", "resume", "next", "back", "repeat", "skip", "slower", "faster", "status", "help",
    "end", "yes", "no", "number",
}


def env_for(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env.pop("EXERCISE_ASSISTANT_DEBUG", None)
    return env


def run_program(tmp_path: Path, *args: str, program: list[str] | None = None,
                ) -> subprocess.CompletedProcess[str]:
    command = program or [sys.executable, "-m", "assistant"]
    return subprocess.run([*command, *args], env=env_for(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)


def stderr_lines(text: str) -> list[str]:
    return text.splitlines()


def read_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --- the same program ----------------------------------------------------------------------


def test_module_and_console_script_print_the_same_help(tmp_path: Path) -> None:
    """`python -m assistant --help` and `exercise-assistant --help` print the same text."""
    assert SCRIPT.is_file(), f"{SCRIPT} missing: run scripts/setup"
    by_module = run_program(tmp_path, "--help")
    by_script = run_program(tmp_path, "--help", program=[str(SCRIPT)])
    assert (by_module.returncode, by_script.returncode) == (0, 0)
    assert by_module.stdout == by_script.stdout
    assert by_module.stdout.startswith("Usage: exercise-assistant [OPTIONS] COMMAND")
    assert (by_module.stderr, by_script.stderr) == ("", "")


# --- the event log of a whole simulated session ---------------------------------------------


def check_line(line: dict[str, Any]) -> None:
    """One event-log line against DESIGN §6."""
    t = line["t"]
    assert isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t) and t >= 0
    kind = line["type"]
    assert isinstance(kind, str)
    if kind == "say":
        assert set(line) == {"t", "type", "text", "kind"}
        assert isinstance(line["text"], str) and line["text"].strip()
        assert line["kind"] in SAY_KINDS
    elif kind == "rep":
        assert set(line) == {"t", "type", "exercise", "set", "rep", "side"}
        assert isinstance(line["exercise"], str)
        assert isinstance(line["set"], int) and line["set"] >= 1
        assert isinstance(line["rep"], int) and line["rep"] >= 1
        assert line["side"] in (None, "left", "right")
    elif kind == "phase":
        assert set(line) == {"t", "type", "phase"}
        assert line["phase"] in PHASES
    elif kind == "heard":
        assert {"t", "type", "command", "text", "confidence", "start", "end"} <= set(line)
        assert line["command"] in COMMAND_NAMES
        assert isinstance(line["text"], str)
        assert 0 <= line["confidence"] <= 1
        assert 0 <= line["start"] <= line["end"]
    elif kind == "session_end":
        assert set(line) == {"t", "type", "completed"}
        assert isinstance(line["completed"], bool)


def test_full_upper_back_simulation_writes_the_event_log_of_design_6(tmp_path: Path) -> None:
    """A whole simulated upper-back session with a spoken pause and a resume key finishes,
    and every event-log line has `t` (in order on the session clock) and a `type` whose
    fields are exactly those of DESIGN §6; all 72 reps appear once, left then right."""
    commands = tmp_path / "cmds.jsonl"
    commands.write_text('{"t": 100, "say": "pause"}\n{"t": 130, "command": "resume"}\n')
    events = tmp_path / "ev.jsonl"
    done = run_program(tmp_path, "start", "upper-back", "--simulate", "--events", str(events),
                       "--commands", str(commands))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert re.fullmatch(r"Session completed: 4\d:\d\d of session time\.",
                        done.stdout.splitlines()[-1])
    lines = read_events(events)
    for line in lines:
        check_line(line)
    times = [line["t"] for line in lines]
    assert times == sorted(times)
    types = [line["type"] for line in lines]
    assert types[0] == "session_start" and types.count("session_start") == 1
    assert types[-1] == "session_end" and types.count("session_end") == 1
    assert lines[-1]["completed"] is True
    assert {"say", "rep", "phase", "heard"} <= set(types)
    heard = [line for line in lines if line["type"] == "heard"]
    assert heard == [{"t": 100.0, "type": "heard", "command": "pause", "text": "pause",
                      "confidence": 1.0, "start": 100.0, "end": 100.0}]
    phases = [(line["t"], line["phase"]) for line in lines if line["type"] == "phase"]
    assert (100.0, "paused") in phases
    assert [p for t, p in phases if 100.0 <= t <= 133.0] == ["paused", "work"]
    reps = [(r["exercise"], r["set"], r["rep"], r["side"]) for r in lines if r["type"] == "rep"]
    expected = [(name, s, r, side) for name, reps_per_side in (("Knees to chest", 10),
                                                                ("Bird dog", 8))
                for s in (1, 2) for r in range(1, reps_per_side + 1)
                for side in ("left", "right")]
    assert reps == expected
    assert {line["phase"] for line in lines if line["type"] == "phase"} == PHASES
    assert {line["kind"] for line in lines if line["type"] == "say"} <= SAY_KINDS


def test_a_session_left_paused_ends_itself_after_the_pause_limit(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Paused at 100 s and never resumed, with --pause-limit 2m, the session cuts speech and
    says it ended at exactly 220 s, then ends with completed false; nothing is worked after."""
    commands = home / "cmds.jsonl"
    commands.write_text('{"t": 100, "command": "pause"}\n')
    events = home / "ev.jsonl"
    status = call(["start", "upper-back", "--simulate", "--events", str(events),
                   "--commands", str(commands), "--pause-limit", "2m", "--no-journal"])
    out = capsys.readouterr()
    assert (status, out.err) == (0, "")
    assert out.out.splitlines()[-1].startswith("Session not completed: ")
    lines = read_events(events)
    after = [line for line in lines if line["t"] >= 100.0]
    phases = [line["phase"] for line in after if line["type"] == "phase"]
    assert phases == ["paused", "done"]
    assert not any(line["type"] == "rep" for line in after)
    timed_out = [line for line in after if line["type"] == "say" and line["t"] > 100.0]
    assert [(line["t"], line["text"]) for line in timed_out] == [(220.0, session.TIMED_OUT)]
    assert lines[-1]["type"] == "session_end" and lines[-1]["completed"] is False
    assert lines[-1]["t"] > 220.0


# --- validate --------------------------------------------------------------------------------


def test_validate_exits_0_for_valid_files_and_says_how_many(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`validate` of two valid routines exits 0 and prints "2 files valid."."""
    bundled = ROOT / "assistant" / "exercises"
    status = call(["validate", str(bundled / "upper-back.yaml"), str(bundled / "desk-break.yaml")])
    out = capsys.readouterr()
    assert (status, out.out, out.err) == (0, "2 files valid.\n", "")


def test_validate_exits_1_with_one_located_line_per_problem(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`validate` of a bad file next to a good one exits 1 with exactly its FILE:LINE:COL
    lines on stdout, like a linter (a missing file and a folder are problems too), nothing
    for the good one and nothing on stderr, then how many of the files are valid."""
    bad = home / "bad.yaml"
    bad.write_text("name: x\nexercises:\n  - name: a\n    reps: -1\n    bogus: 1\n")
    good = ROOT / "assistant" / "exercises" / "desk-break.yaml"
    missing = home / "missing.yaml"
    status = call(["validate", str(bad), str(good), str(missing), str(home)])
    out = capsys.readouterr()
    assert (status, out.err) == (1, "")
    lines = out.out.splitlines()
    assert lines[:2] == [
        f"{bad}:4:11: reps: expected a whole number from 1 to 200, got -1",
        f"{bad}:5:5: unknown key 'bogus'; allowed keys: name, instructions, position, sets, "
        "reps, duration, sides, tempo, hold, rest, countdown, cues, target",
    ]
    assert lines[2:] == [f"{missing}:1:1: no such file",
                         f"{home}:1:1: this is a folder, not a routine file",
                         "1 of 4 files valid."]
    for line in lines[:-1]:
        assert re.match(r"^.+:\d+:\d+: \S", line)


# --- new, list, show -------------------------------------------------------------------------


def test_new_writes_a_valid_template_that_list_and_show_find_and_refuses_a_second_time(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`new "Evening stretch"` writes evening-stretch.yaml in the data folder; it validates,
    `list` shows it as yours, `show` prints its timeline; a second `new` with the same name
    exits 1 with one line and leaves the file as it was."""
    assert call(["new", "Evening stretch"]) == 0
    path = home / "data" / "exercise-assistant" / "routines" / "evening-stretch.yaml"
    out = capsys.readouterr()
    assert out.out.splitlines()[0] == f"Wrote {path}"
    assert out.err == ""
    written = path.read_text(encoding="utf-8")

    assert call(["validate", str(path)]) == 0
    assert capsys.readouterr().out == "1 file valid.\n"

    assert call(["list"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    mine = [row for row in rows if row and row[0] == "evening-stretch"]
    assert len(mine) == 1
    assert mine[0][1:3] == ["Evening", "stretch"] and mine[0][-1] == "yours"
    names = [row[0] for row in rows[1:] if row and row[0] != "~"]  # not the "~ about" note
    assert names == ["evening-stretch", "desk-break", "morning-mobility", "strength-circuit",
                     "upper-back"]

    assert call(["show", "evening-stretch"]) == 0
    shown = capsys.readouterr().out
    assert "Evening stretch" in shown
    assert re.search(r"^Total: (about )?\d+:\d\d \(\d+\.\d s[;)]", shown, re.M)

    assert call(["new", "evening STRETCH"]) == 1
    out = capsys.readouterr()
    assert out.err == (f"exercise-assistant: {path} already exists; edit it, "
                       "or choose another name\n")
    assert path.read_text(encoding="utf-8") == written


# --- render --------------------------------------------------------------------------------


def test_render_writes_a_wav_of_the_whole_session(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`render ROUTINE -o OUT.wav` writes a 16 kHz mono 16-bit WAV as long as the length it
    reports, with sound in it."""
    routine = home / "tiny.yaml"
    routine.write_text(TINY)
    out_wav = home / "out.wav"
    status = call(["render", str(routine), "-o", str(out_wav)])
    out = capsys.readouterr()
    if status != 0 and "cannot speak here" in out.err:
        pytest.skip(f"no text-to-speech on this machine: {out.err.strip()}")
    assert (status, out.err) == (0, "")
    match = re.fullmatch(rf"Wrote {re.escape(str(out_wav))}: \d+:\d\d \((\d+\.\d) s\)\.\n",
                         out.out)
    assert match, out.out
    with wave.open(str(out_wav)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        seconds = wav.getnframes() / wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    assert abs(seconds - float(match.group(1))) <= 0.05 + 1e-9
    assert any(frames[i] for i in range(0, len(frames)))


# --- help ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", list(cli.cli.commands))
def test_every_command_has_help_with_examples(
        command: str, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`COMMAND --help` exits 0 and ends with an Examples section of runnable lines."""
    assert call([command, "--help"]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    assert out.out.startswith(f"Usage: exercise-assistant {command} ")
    lines = out.out.splitlines()
    heading = [i for i, line in enumerate(lines) if re.fullmatch(r"\s*Examples?:", line)]
    assert len(heading) == 1, out.out
    examples = [line.strip() for line in lines[heading[0] + 1:] if line.strip()]
    assert examples and examples[0].startswith(f"exercise-assistant {command}")


def test_top_level_help_lists_every_command_and_starts_here() -> None:
    """The top-level help exits 0 and names every command, in the order they are defined."""
    result = CliRunner().invoke(cli.cli, ["--help"])
    assert result.exit_code == 0
    listed = re.findall(r"^  (\w+)  ", result.output.split("Commands:")[1], re.M)
    assert listed == list(cli.cli.commands)
    assert "Start here:" in result.output


# --- bad arguments: one line on stderr, never a traceback ---------------------------------


def bad_cases(tmp: Path) -> list[tuple[list[str], int, str]]:
    """(argv, exit status, a fragment the one stderr line must contain)."""
    junk = tmp / "junk.bin"
    garbage = tmp / "garbage.jsonl"
    tiny = tmp / "tiny.yaml"
    nowhere = tmp / "no" / "such" / "folder"
    return [
        (["start", "--bogus"], 2, "No such option '--bogus'"),
        (["start", "--simulate", "--rate", "fast"], 2, "'--rate'"),
        (["start", "--simulate", "--rate", "5"], 2, "5 is not in the range 80<=x<=400"),
        (["start", "--simulate", "--volume", "2"], 2, "'--volume'"),
        (["start", str(tiny), "--simulate", "--commands", str(tmp / "none.jsonl")], 1,
         f"{tmp / 'none.jsonl'}: no such file"),
        (["start", str(tiny), "--simulate", "--commands", str(tmp)], 2,
         f"'--commands': File '{tmp}' is a directory"),
        (["start", str(tiny), "--simulate", "--commands", str(junk)], 1,
         f"{junk}: cannot read the commands file"),
        (["start", str(tiny), "--simulate", "--commands", str(garbage)], 1,
         f"{garbage}:1: not a JSON object"),
        (["start", str(tiny), "--simulate", "--echo", "loud"], 2,
         "Invalid value for --echo: expected GAIN:DELAY_MS, such as 0.5:30, got 'loud'"),
        (["start", str(tiny), "--simulate", "--echo", "20:5"], 2,
         "gain must be 0..10 and delay 0..2000 ms"),
        (["start", str(tiny), "--simulate", "--pause-limit", "soon"], 2,
         "'soon' is not a duration"),
        (["start", str(tiny), "--simulate", "--pause-limit", "0"], 2,
         "--pause-limit: must be at least 1 second"),
        (["start", str(tiny), "--commands", str(garbage)], 2, "--commands needs --simulate"),
        (["start", str(tiny), "--echo", "0.5:30"], 2, "--echo needs --simulate"),
        (["start", "nosuch", "--simulate"], 1, "no routine called 'nosuch'"),
        (["start", str(tmp / "none.yaml"), "--simulate"], 1, "none.yaml: no such file"),
        (["start", str(tmp) + "/", "--simulate"], 1, "is a folder, not a routine file"),
        (["start", str(tiny), "--simulate", "--events", str(nowhere / "ev.jsonl")], 1,
         f"cannot write the event log {nowhere / 'ev.jsonl'}"),
        (["start", str(tiny), "--simulate", "--events", str(tmp)], 2,
         f"'--events': File '{tmp}' is a directory"),
        (["start", str(tiny), "--simulate", "--mic-file", str(tmp / "none.wav")], 1,
         "none.wav: no such audio file"),
        (["start", str(tiny), "extra"], 2, "unexpected extra argument (extra)"),
        (["validate"], 2, "Missing argument 'FILES...'"),
        (["validate", "--strict", str(tiny)], 2, "No such option '--strict'"),
        (["list", "--all"], 2, "No such option '--all'"),
        (["show", "nosuch"], 1, "no routine called 'nosuch'"),
        (["show", str(tmp / "none.yaml")], 1, "none.yaml: no such file"),
        (["show", "a", "b"], 2, "unexpected extra argument (b)"),
        (["new"], 2, "Missing argument 'NAME'"),
        (["new", "!!!"], 1, "'!!!' cannot be a file name"),
        (["render", str(tiny)], 2, "Missing option '-o' / '--output'"),
        (["render", str(tiny), "-o", str(tmp)], 2, f"File '{tmp}' is a directory"),
        (["render", "nosuch", "-o", str(tmp / "o.wav")], 1, "no routine called 'nosuch'"),
        (["render", str(tiny), "-o", str(tmp / "o.wav"), "--rate", "1000"], 2, "'--rate'"),
        (["listen", "--file", str(tmp / "none.wav")], 1, "none.wav: no such audio file"),
        (["listen", "--file", str(tmp)], 2, f"File '{tmp}' is a directory"),
        (["start", str(tiny), "--simulate", "--engine", "bogus"], 2,
         "Invalid value for '--engine': 'bogus' is not one of 'whisper'"),
        (["listen", "--engine", "bogus"], 2, "Invalid value for '--engine': 'bogus'"),
        (["start", str(tiny), "--simulate", "--model", str(tmp / "nowhere")], 1,
         f"--model {tmp / 'nowhere'}: no such file or folder"),
        (["listen", "--model", str(tmp)], 1,
         f"--model {tmp}: not a faster-whisper model folder (no model.bin, config.json)"),
        (["history", "--weeks", "0"], 2, "0 is not in the range 1<=x<=520"),
        (["history", "--json", "--csv"], 2, "choose one of --json and --csv"),
        (["remind", "--at", "25:99"], 1, "'25:99' is not a time of day"),
        (["voices", "--bogus"], 2, "No such option '--bogus'"),
        (["devices", "extra"], 2, "unexpected extra argument (extra)"),
        (["frobnicate"], 2, "No such command 'frobnicate'"),
    ]


def make_inputs(tmp: Path) -> None:
    (tmp / "junk.bin").write_bytes(bytes(range(256)) * 4)
    (tmp / "garbage.jsonl").write_text("this is not json\n")
    (tmp / "tiny.yaml").write_text(TINY)


def test_every_bad_argument_gives_one_line_on_stderr_and_its_exit_status(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """For each command, each kind of bad argument gives exactly one stderr line
    "exercise-assistant: ..." naming the problem, no traceback, nothing written to stdout
    and the documented status: 2 for a usage error, 1 for a bad file or value."""
    make_inputs(home)
    for argv, expected_status, fragment in bad_cases(home):
        status = call(argv)
        out = capsys.readouterr()
        lines = stderr_lines(out.err)
        assert status == expected_status, (argv, out.err)
        assert len(lines) == 1, (argv, out.err)
        assert lines[0].startswith("exercise-assistant: "), (argv, lines)
        assert fragment in lines[0], (argv, lines)
        assert "Traceback" not in out.err and "internal error" not in out.err, argv
        assert out.out == "", (argv, out.out)


def test_the_real_program_gives_one_line_and_no_traceback_for_bad_arguments(
        tmp_path: Path) -> None:
    """Through `python -m assistant` itself (the path through `main()` and sys.exit), a bad
    option and an unknown routine each give one stderr line, empty stdout and status 2/1."""
    bad_option = run_program(tmp_path, "start", "--simulate", "--rate", "5")
    assert (bad_option.returncode, bad_option.stdout) == (2, "")
    assert bad_option.stderr == ("exercise-assistant: Invalid value for '--rate': 5 is not in "
                                 "the range 80<=x<=400. (see: exercise-assistant start --help)\n")
    unknown = run_program(tmp_path, "show", "nosuch")
    assert (unknown.returncode, unknown.stdout) == (1, "")
    assert len(unknown.stderr.splitlines()) == 1
    assert unknown.stderr.startswith("exercise-assistant: no routine called 'nosuch'; ")


def test_an_invalid_routine_gives_its_located_lines_on_stderr_for_start_and_show(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`start` and `show` of an invalid routine exit 1 with its FILE:LINE:COL lines on
    stderr (the same as `validate` prints), and start nothing."""
    bad = home / "bad.yaml"
    bad.write_text("name: x\nexercises:\n  - name: a\n    reps: -1\n")
    expected = f"{bad}:4:11: reps: expected a whole number from 1 to 200, got -1\n"
    for argv in (["start", str(bad), "--simulate", "--no-journal"], ["show", str(bad)]):
        status = call(argv)
        out = capsys.readouterr()
        assert (status, out.out, out.err) == (1, "", expected), argv


def test_a_name_with_a_newline_is_still_one_line_with_the_newline_escaped(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Control characters in an argument are shown escaped: `validate` of a missing file named
    "a<CR><LF>b.yaml" and `start` with an extra argument "\\r" each print exactly one line."""
    assert call(["validate", "a\r\nb.yaml"]) == 1
    out = capsys.readouterr()
    assert (out.out, out.err) == ("a\\r\\nb.yaml:1:1: no such file\n", "")
    assert call(["start", "nosuch", "\r"]) == 2
    out = capsys.readouterr()
    assert out.err == ("exercise-assistant: Got unexpected extra argument (\\r) "
                       "(see: exercise-assistant start --help)\n")
