"""`start --simulate --commands FILE` (DESIGN §6): JSON lines of commands or phrases at
session times, parsed once into exact scripted events, and every bad line reported as
FILE:LINE: and the reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant.app import MAX_SCRIPT_LINES, read_script
from assistant.cli import main
from assistant.commands import Command, Intent, Vocabulary
from assistant.errors import AssistantError
from assistant.runner import Scripted

TINY = "name: Tiny\nexercises:\n  - name: Neck turns\n    reps: 2\n    tempo: 1s\n"
NAMES = ("pause, resume, next, back, repeat, skip, slower, faster, status, help, end, louder, "
         "quieter, pain, yes, no, number")


def script(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "cmds.jsonl"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_commands_and_phrases_become_exact_scripted_events(tmp_path: Path) -> None:
    """Command lines become key presses, say lines are parsed as if heard (a sentence that is
    not a command is dropped), number commands carry their value; blank and # lines are
    skipped, and the order of the file is kept."""
    path = script(tmp_path, "\n".join([
        "# warm-up",
        '{"t": 12.5, "command": "pause"}',
        "",
        '{"t": 40, "say": "End Workout"}',
        '{"t": 41, "say": "I will call my sister next week"}',
        '{"t": 42, "command": "number", "value": 7}',
        '{"t": 0, "say": "seven"}',
        '   # indented comment',
    ]))
    assert read_script(path, Vocabulary()) == [
        Scripted(12.5, Intent(Command.PAUSE), "pause"),
        Scripted(40.0, Intent(Command.END), "End Workout", spoken=True),
        Scripted(42.0, Intent(Command.NUMBER, 7), "number"),
        Scripted(0.0, Intent(Command.NUMBER, 7), "seven", spoken=True),
    ]


def test_say_lines_use_the_users_synonyms(tmp_path: Path) -> None:
    """A phrase that is a synonym in the vocabulary is heard as its command."""
    path = script(tmp_path, '{"t": 3, "say": "hang on"}\n')
    assert read_script(path, Vocabulary({"hang on": Command.PAUSE})) == [
        Scripted(3.0, Intent(Command.PAUSE), "hang on", spoken=True)]
    assert read_script(path, Vocabulary()) == []


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("pause at 12", "not a JSON object: Expecting value"),
        ('{"t": 1, "command": "pause"', "not a JSON object: Expecting ',' delimiter"),
        ("[1, 2]", "each line must be a JSON object with t and command"),
        ('"pause"', "each line must be a JSON object with t and command"),
        ('{"t": 1, "command": "pause", "when": 3}',
         "unknown field 'when'; use t with command or say"),
        ('{"command": "pause"}', "t must be a number of seconds, 0 or more"),
        ('{"t": -1, "command": "pause"}', "t must be a number of seconds, 0 or more"),
        ('{"t": "12", "command": "pause"}', "t must be a number of seconds, 0 or more"),
        ('{"t": true, "command": "pause"}', "t must be a number of seconds, 0 or more"),
        ('{"t": NaN, "command": "pause"}', "t must be a number of seconds, 0 or more"),
        ('{"t": 1e999, "command": "pause"}', "t must be a number of seconds, 0 or more"),
        ('{"t": 1}', 'give either "command" or "say"'),
        ('{"t": 1, "command": "pause", "say": "pause"}', 'give either "command" or "say"'),
        ('{"t": 1, "say": 3}', "say must be text"),
        ('{"t": 1, "command": "dance"}', f"unknown command 'dance'; use one of {NAMES}"),
        ('{"t": 1, "command": 3}', f"unknown command 3; use one of {NAMES}"),
        ('{"t": 1, "command": "number"}', "a number command needs value 0 to 10"),
        ('{"t": 1, "command": "number", "value": 11}', "a number command needs value 0 to 10"),
        ('{"t": 1, "command": "number", "value": true}', "a number command needs value 0 to 10"),
        ('{"t": 1, "command": "number", "value": 2.5}', "a number command needs value 0 to 10"),
    ],
)
def test_each_bad_line_is_reported_at_its_line_number(
        tmp_path: Path, line: str, reason: str) -> None:
    """A bad line (here the third, after a good line and a comment) stops reading with
    FILE:3: and the reason."""
    path = script(tmp_path, '{"t": 1, "command": "pause"}\n# ok\n' + line + "\n")
    with pytest.raises(AssistantError) as caught:
        read_script(path, Vocabulary())
    assert str(caught.value).startswith(f"{path}:3: {reason}")
    assert "\n" not in str(caught.value)


def test_unreadable_commands_files_are_one_error_naming_the_file(tmp_path: Path) -> None:
    """A missing file, binary junk and too many lines each give one AssistantError line."""
    missing = tmp_path / "missing.jsonl"
    with pytest.raises(AssistantError, match=r"^.*missing\.jsonl: no such file$"):
        read_script(missing, Vocabulary())
    junk = script(tmp_path, b'{"t": 1, "command": "pause"}\n\xff\xfe\x00garbage')
    with pytest.raises(AssistantError) as caught:
        read_script(junk, Vocabulary())
    assert str(caught.value).startswith(f"{junk}: cannot read the commands file: 'utf-8' codec")
    many = script(tmp_path, "\n" * (MAX_SCRIPT_LINES + 1))
    with pytest.raises(AssistantError) as caught:
        read_script(many, Vocabulary())
    assert str(caught.value) == f"{many}: more than {MAX_SCRIPT_LINES} lines of commands"


def run_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[dict[str, Any]],
              settings: str = "") -> tuple[int, list[dict[str, Any]]]:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    if settings:
        folder = tmp_path / "config" / "exercise-assistant"
        folder.mkdir(parents=True)
        (folder / "settings.yaml").write_text(settings)
    routine = tmp_path / "tiny.yaml"
    routine.write_text(TINY)
    commands = script(tmp_path, "".join(json.dumps(line) + "\n" for line in lines))
    events = tmp_path / "ev.jsonl"
    try:
        main(["start", str(routine), "--simulate", "--no-journal", "--events", str(events),
              "--commands", str(commands)])
        status = 0
    except SystemExit as exc:
        status = int(exc.code or 0)
    log = [json.loads(x) for x in events.read_text().splitlines()]
    return status, log


def test_end_workout_then_yes_ends_the_session_not_completed_at_those_times(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """"end workout" said at 3 s asks for confirmation at 3 s; "yes" at 5 s ends it, saved as
    not completed; a sentence in between is not a command and leaves no trace."""
    status, log = run_start(tmp_path, monkeypatch, [
        {"t": 3, "say": "end workout"},
        {"t": 4, "say": "I will call my sister next week"},
        {"t": 5, "say": "yes"},
    ])
    assert status == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("Session not completed: ")
    heard = [(x["t"], x["command"], x["text"]) for x in log if x["type"] == "heard"]
    assert heard == [(3.0, "end", "end workout"), (5.0, "yes", "yes")]
    prompts = [(x["t"], x["text"]) for x in log if x["type"] == "say" and x["kind"] == "prompt"]
    assert prompts[0] == (3.0, "End the workout? Say yes or no.")
    assert prompts[1][0] == 5.0
    assert not any(x["type"] == "rep" for x in log)
    assert log[-1]["type"] == "session_end" and log[-1]["completed"] is False


def test_a_synonym_from_the_settings_file_is_heard_from_the_commands_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """With `hang on: pause` in settings.yaml, {"say": "hang on"} at 2 s pauses the session
    at 2 s, and a resume key at 4 s carries on; the session then completes."""
    status, log = run_start(tmp_path, monkeypatch, [
        {"t": 2, "say": "hang on"}, {"t": 4, "command": "resume"},
    ], settings="synonyms:\n  hang on: pause\n")
    assert status == 0
    capsys.readouterr()
    heard = [(x["t"], x["command"], x["text"]) for x in log if x["type"] == "heard"]
    assert heard == [(2.0, "pause", "hang on")]
    phases = [(x["t"], x["phase"]) for x in log if x["type"] == "phase"]
    assert phases[0] == (2.0, "paused")
    assert [x["rep"] for x in log if x["type"] == "rep"] == [1, 2]
    assert log[-1]["completed"] is True


def test_commands_after_the_end_of_the_session_are_ignored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A pause scheduled long after the session ends changes nothing: it completes."""
    status, log = run_start(tmp_path, monkeypatch, [{"t": 1e9, "command": "pause"}])
    assert status == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("Session completed: ")
    assert not any(x["type"] in ("heard", "command") for x in log)
    assert log[-1]["completed"] is True and log[-1]["t"] < 60
