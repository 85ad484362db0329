"""A live session in a real terminal (tmux, 80 columns by 15 rows), driven by its keys as a
person without a microphone drives it: the screens are captured as the person sees them.

The session runs with no sound card (PulseAudio unreachable), so what it says is printed
above the view: the view must redraw cleanly while lines scroll past it."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")

ROOT = Path(__file__).resolve().parent.parent
ROUTINE = """\
name: Keys only
checkin: pain
exercises:
  - name: Squeeze
    instructions: Squeeze your shoulder blades together.
    reps: 4
    tempo: 1s
    countdown: 1
"""
TOP = "╭"
FOOTER = "h: help  o: it hurts  q: end"


class Terminal:
    """A tmux server of its own with one window of a fixed size, its socket in `folder`
    (not in /tmp/tmux-UID, where it would be left behind)."""

    def __init__(self, socket: str, width: int, height: int, folder: Path) -> None:
        self.socket = socket
        self.width, self.height = width, height
        self.env = {**os.environ, "TMUX_TMPDIR": str(folder)}

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, timeout=10, check=True, env=self.env).stdout

    def start(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        exports = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
        command = (f"cd {shlex.quote(str(cwd))} && env -u LINES -u COLUMNS {exports} "
                   f"{shlex.join(argv)}; sleep 600")  # pytest's LINES would win over the pty
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", str(self.width),
                  "-y", str(self.height), command)
        self.tmux("set-option", "-t", "t", "history-limit", "5000")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", "t", "-l", key)
            time.sleep(0.15)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t")

    def everything(self) -> str:
        """The screen and all that scrolled off it."""
        return self.tmux("capture-pane", "-p", "-t", "t", "-S", "-")

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=10, env=self.env)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One session through its pain check-ins, help, status and end question by keys;
    the screens at each moment, the whole terminal history and the event log."""
    tmp = tmp_path_factory.mktemp("terminal")
    (tmp / "keys.yaml").write_text(ROUTINE)
    events = tmp / "events.jsonl"
    env = {"PULSE_SERVER": "unix:/nonexistent", "XDG_DATA_HOME": str(tmp / "data"),
           "XDG_CONFIG_HOME": str(tmp / "config"), "TERM": "xterm-256color",
           "PYTHONPATH": str(ROOT)}
    term = Terminal(f"ea-test-{os.getpid()}", 80, 15, tmp)
    argv = [sys.executable, "-m", "assistant", "start", str(tmp / "keys.yaml"), "--no-listen",
            "--no-journal", "--events", str(events)]
    shots: dict[str, str] = {}
    term.start(argv, env, ROOT)
    try:
        shots["asked"] = term.wait_for("Answer: press 0-9")
        term.keys("1", "0")
        shots["ten"] = term.wait_for("You said 10. Is that right?")
        term.keys("y")
        term.wait_for("Thank you")
        term.keys("?")
        shots["status"] = term.wait_for("1 exercise to go")
        term.keys("h")
        shots["help"] = term.wait_for("Keys: space")
        term.keys("q")
        shots["end"] = term.wait_for("End the workout?")
        term.keys("x")
        shots["after"] = term.wait_for("How much pain do you have now", timeout=60)
        term.keys("2")
        term.wait_for("You said 2. Is that right?")
        term.keys("y")
        shots["done"] = term.wait_for("Session completed.", timeout=60)
        shots["everything"] = term.everything()
        shots["events"] = events.read_text()
        yield shots
    finally:
        term.close()


def panel(screen: str) -> str:
    """The lines of the view (from its top border down)."""
    lines = screen.splitlines()
    top = max(i for i, line in enumerate(lines) if line.startswith(TOP))
    return "\n".join(lines[top:])


def test_pain_check_ins_are_answered_with_digit_keys(run: dict[str, str]) -> None:
    """Keys 1 then 0 answer the first pain check-in with 10, key 2 the last with 2, and y
    confirms each: the event log records both check-ins from the keyboard."""
    records = [json.loads(line) for line in run["events"].splitlines()]
    checkins = [(r["when"], r["value"]) for r in records if r["type"] == "checkin"]
    assert checkins == [("before", 10), ("after", 2)]
    numbers = [r for r in records if r["type"] == "command" and r["command"] == "number"]
    assert [r["source"] for r in numbers] == ["key", "key"]


def test_help_and_how_many_left_are_shown_in_the_view(run: dict[str, str]) -> None:
    """"?" shows the spoken answer inside the view, and "h" shows what can be said and the
    keys, inside the view too."""
    assert "1 exercise to go." in panel(run["status"])
    # the view's lines joined, wherever the answer wrapped
    help_view = " ".join(line.strip("│ ") for line in panel(run["help"]).splitlines())
    assert "You can say: pause, resume" in help_view
    assert "Keys: space pause/resume" in help_view
    assert "h help, o it hurts, q end" in help_view


def test_end_question_shows_its_keys(run: dict[str, str]) -> None:
    """"End the workout?" is shown with its keys y and x."""
    assert "End the workout? y yes, x no" in panel(run["end"])


def test_view_redraws_cleanly_in_a_15_row_terminal(run: dict[str, str]) -> None:
    """In 15 rows, with spoken lines scrolling above it, the terminal never holds a stale copy
    of the view (one top border in its whole history), and every view shows its footer."""
    assert run["everything"].count(TOP) == 1, run["everything"]
    for name in ("asked", "ten", "status", "help", "end", "after"):
        view = panel(run[name]).splitlines()
        assert FOOTER in view[-1] or FOOTER in "\n".join(view), (name, run[name])
        assert any(line.startswith("│ said") for line in view), (name, run[name])


def test_done_view_shows_how_it_ended_and_nothing_next(run: dict[str, str]) -> None:
    """At the end the view says DONE and how the session ended, with no exercise or next."""
    view = panel(run["done"])
    assert "DONE" in view and "Session completed." in view
    assert "next" not in view and "Squeeze" not in view
