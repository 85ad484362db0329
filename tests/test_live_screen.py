"""The live view in a real terminal (tmux) with no sound card, as issue 25 found it: what
the first seconds show, a sentence printed once, a terminal resized mid-session, and how the
session ended said once."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_live_terminal import Terminal

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")

ROOT = Path(__file__).resolve().parent.parent
ROUTINE = """\
name: Resize me
exercises:
  - name: Squeeze
    instructions: Squeeze your shoulder blades together.
    sets: 2
    reps: 20
    tempo: 2s
    countdown: 1
"""
TOP, BOTTOM = "╭", "╰"
INSTRUCTION = "Squeeze your shoulder blades together."


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A session started in 80x30, resized to 60x20 and then 120x40 during its first set,
    then ended by q and y; the screens at those moments and the whole history."""
    tmp = tmp_path_factory.mktemp("screen")
    (tmp / "resize.yaml").write_text(ROUTINE)
    env = {"PULSE_SERVER": "unix:/nonexistent", "XDG_DATA_HOME": str(tmp / "data"),
           "XDG_CONFIG_HOME": str(tmp / "config"), "TERM": "xterm-256color",
           "PYTHONPATH": str(ROOT)}
    term = Terminal(f"ea-screen-{os.getpid()}", 80, 30, tmp)
    argv = [sys.executable, "-m", "assistant", "start", str(tmp / "resize.yaml"), "--no-listen",
            "--no-journal"]
    shots: dict[str, str] = {}
    term.start(argv, env, ROOT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            screen = term.screen()
            if screen.strip():
                shots["first"] = screen
                break
            time.sleep(0.02)
        shots["said"] = term.wait_for(INSTRUCTION, timeout=60)
        term.wait_for("WORK", timeout=60)
        term.tmux("resize-window", "-t", "t", "-x", "60", "-y", "20")
        time.sleep(2.5)
        shots["narrow"] = term.screen()
        term.tmux("resize-window", "-t", "t", "-x", "120", "-y", "40")
        time.sleep(2.5)
        shots["wide"] = term.screen()
        term.keys("q")
        term.wait_for("End the workout?")
        term.keys("y")
        term.wait_for("Session ended early.", timeout=60)
        time.sleep(1.5)  # the program prints whatever it prints last, then sleeps
        shots["everything"] = term.everything()
        yield shots
    finally:
        term.close()


def test_the_first_screen_says_what_is_loading(run: dict[str, str]) -> None:
    """Before the view appears, the terminal says what is being loaded ("Getting ready:
    loading the voice ...") instead of staying blank."""
    assert "Getting ready: " in run["first"], run["first"]
    assert TOP not in run["first"]


def test_with_no_loudspeaker_each_sentence_is_shown_once(run: dict[str, str]) -> None:
    """With no loudspeaker the instruction is on the screen once, in the view's "said" line,
    not printed above the view as well."""
    screen = run["said"]
    assert screen.count(INSTRUCTION) == 1, screen
    [line] = [line for line in screen.splitlines() if INSTRUCTION in line]
    assert line.startswith("│ said  " + INSTRUCTION), screen


@pytest.mark.parametrize("name", ["narrow", "wide"])
def test_a_resized_terminal_shows_one_whole_view_and_no_pieces_of_old_ones(
        run: dict[str, str], name: str) -> None:
    """After the terminal is made narrower and taller, then wider, the screen holds exactly
    one view (one top and one bottom border) and no piece of an older one above it."""
    lines = run[name].splitlines()
    assert sum(line.startswith(TOP) for line in lines) == 1, run[name]
    assert sum(line.startswith(BOTTOM) for line in lines) == 1, run[name]
    top = next(i for i, line in enumerate(lines) if line.startswith(TOP))
    assert not any(line.startswith("│") or line.rstrip().endswith("│")
                   for line in lines[:top]), run[name]


def test_how_the_session_ended_is_said_once(run: dict[str, str]) -> None:
    """"Session ended early." appears once in the terminal's whole history (in the view)."""
    assert run["everything"].count("Session ended early.") == 1, run["everything"]


def test_the_last_command_heard_fades_after_a_few_seconds() -> None:
    """The view's "heard" line shows a command for HEARD_SHOWN (5) seconds, then nothing."""
    from assistant.live import HEARD_SHOWN, Fading

    line = Fading(HEARD_SHOWN)
    assert line.get(0.0) == ""
    line.set("go → resume", 10.0)
    assert (line.get(10.0), line.get(14.99), line.get(15.0)) == ("go → resume", "go → resume", "")
    assert HEARD_SHOWN == 5.0
