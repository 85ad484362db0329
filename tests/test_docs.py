"""The README tells the truth: its routine-format example is a valid routine, and the commands
at its top exist and can be run."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from assistant.errors import RoutineErrors
from assistant.loader import load_routine_text

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)


def blocks(language: str) -> list[str]:
    if not README.is_file():
        pytest.skip("README.md does not exist yet")
    found = [body for lang, body in FENCE.findall(README.read_text(encoding="utf-8"))
             if lang == language]
    if not found:
        pytest.skip(f"README.md has no ```{language} block yet")
    return found


def test_the_readme_routine_example_is_a_valid_routine() -> None:
    """The first ```yaml block in README.md loads with the routine loader without a problem
    and has the exercises the README describes (upper back: walk, knees to chest, bird dog)."""
    text = blocks("yaml")[0]
    try:
        routine = load_routine_text(text, "README.md")
    except RoutineErrors as exc:
        pytest.fail("README routine example is invalid:\n" + "\n".join(map(str, exc.errors)))
    assert [e.name for e in routine.exercises] == ["Brisk walk", "Knees to chest", "Bird dog"]


def test_the_first_two_readme_commands_are_executable_scripts() -> None:
    """The first two commands in the README's first ```sh block are executable files in the
    repository: scripts/start and scripts/test."""
    lines = [line.split("#", 1)[0].strip() for line in blocks("sh")[0].splitlines()]
    commands = [shlex.split(line)[0] for line in lines if line][:2]
    assert [os.path.normpath(c) for c in commands] == ["scripts/start", "scripts/test"]
    for command in commands:
        path = ROOT / command
        assert path.is_file(), f"{command} is not a file"
        assert os.access(path, os.X_OK), f"{command} is not executable"
        assert path.read_text(encoding="utf-8").startswith("#!"), f"{command} has no #! line"


def test_the_readme_key_list_names_every_key_the_view_lists() -> None:
    """Every key the live view's help names (KEY_HELP, such as `o` for it hurts) is in the
    README's key list as `KEY` followed by the same words."""
    from assistant.view import KEY_HELP

    text = " ".join(README.read_text(encoding="utf-8").split())
    pairs = KEY_HELP.removeprefix("Keys: ").rstrip(".").split(", ")
    for pair in pairs:
        key, words = pair.split(" ", 1)
        key = " " if key == "space" else key
        if key == " ":
            assert "Keys, when there is a terminal: space pause/resume" in text
            continue
        words = "end workout" if words == "end" else words
        assert f"`{key}` {words}" in text, pair
