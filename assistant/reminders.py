"""A daily reminder to exercise: a systemd user timer, or a crontab line where systemd
--user is not available.

The reminder only tells the person it is time (a desktop notification with
``notify-send``, or a printed line); it never starts a session by itself. Everything
installed is marked as ours - unit files begin with `MARKER`, the crontab line ends with
it - and `remove` deletes only what carries the mark, so a user's own units and crontab
lines are never touched.

`reminder_plan` is pure: it says exactly what `install` would write and run, so the CLI
can show it before doing anything.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from assistant.errors import AssistantError

MARKER = "# exercise-assistant reminder"
UNIT = "exercise-assistant-reminder"
TIMER_NAME = f"{UNIT}.timer"
SERVICE_NAME = f"{UNIT}.service"
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


class ReminderError(AssistantError):
    """A reminder that cannot be planned, installed or removed."""


@dataclass(frozen=True)
class PlatformInfo:
    """What the machine offers for scheduling."""

    systemd_user: bool  # a systemd user manager answers `systemctl --user`
    crontab: bool  # a `crontab` command is on PATH
    config_home: Path  # $XDG_CONFIG_HOME or ~/.config: systemd user units live below it
    python: str  # the interpreter that runs the notifier

    @property
    def unit_dir(self) -> Path:
        return self.config_home / "systemd" / "user"


def detect_platform() -> PlatformInfo:
    """This machine: systemd --user when `systemctl --user show-environment` succeeds."""
    systemd = False
    if sys.platform.startswith("linux") and shutil.which("systemctl"):
        try:
            result = subprocess.run(
                ["systemctl", "--user", "show-environment"],
                capture_output=True,
                timeout=10,
                check=False,
            )
            systemd = result.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            systemd = False
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return PlatformInfo(
        systemd_user=systemd,
        crontab=shutil.which("crontab") is not None,
        config_home=Path(config),
        python=sys.executable,
    )


@dataclass(frozen=True)
class ReminderPlan:
    """Exactly what `install` writes and runs."""

    kind: Literal["systemd", "cron", "manual"]  # manual: no scheduler this can use
    time: str  # "HH:MM", local time, every day
    routine: str
    files: tuple[tuple[Path, str], ...] = ()  # systemd: unit file paths and their text
    crontab_line: str | None = None  # cron: the line added to the user's crontab
    commands: tuple[tuple[str, ...], ...] = ()  # run after writing the files
    notifier: tuple[str, ...] = ()  # the command that reminds, run once a day

    def describe(self) -> str:
        if self.kind == "manual":
            return (
                f"A reminder every day at {self.time} for {self.routine!r}: there is no systemd"
                " user manager and no crontab here, so it cannot be installed. Have your"
                f" system's scheduler run this command every day at {self.time}:\n"
                f"  {shlex.join(self.notifier)}"
            )
        lines = [f"A reminder every day at {self.time} for {self.routine!r} ({self.kind}):"]
        for path, text in self.files:
            lines += [f"--- {path}", text.rstrip("\n")]
        if self.crontab_line is not None:
            lines += ["--- crontab line", self.crontab_line]
        lines += ["--- then run", *(shlex.join(c) for c in self.commands)]
        return "\n".join(lines)


@dataclass(frozen=True)
class ReminderStatus:
    installed: bool
    kind: Literal["systemd", "cron"] | None = None
    time: str | None = None
    routine: str | None = None

    def describe(self) -> str:
        if not self.installed:
            return "No exercise reminder is installed."
        return f"A reminder every day at {self.time} for {self.routine!r} ({self.kind})."


def parse_time(text: str) -> tuple[int, int]:
    """(hour, minute) from "HH:MM" or "H:MM" on the 24-hour clock."""
    match = _TIME.match(text.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ReminderError(f"{text!r} is not a time of day: use HH:MM, for example 07:30")
    return int(match[1]), int(match[2])


def _check_routine(routine: str) -> str:
    name = routine.strip()
    if not name or len(name) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ReminderError("the routine for a reminder must be a name or path on one line")
    return name


def _systemd_quote(word: str) -> str:
    """One word for ExecStart=: double-quoted, with specifiers and variables escaped."""
    escaped = word.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("%", "%%").replace("$", "$$") + '"'


def _cron_command(words: Sequence[str]) -> str:
    """A shell command for a crontab line: cron turns an unescaped % into a newline."""
    return " ".join(shlex.quote(w) for w in words).replace("%", "\\%")


def reminder_plan(time: str, routine: str, platform: PlatformInfo | None = None) -> ReminderPlan:
    """What would be installed for a daily reminder at `time` for `routine`: a systemd
    user timer when systemd --user is available, else a crontab line, else (kind "manual")
    only the command for the person to schedule themselves."""
    hour, minute = parse_time(time)
    clock = f"{hour:02d}:{minute:02d}"
    name = _check_routine(routine)
    platform = platform or detect_platform()
    notifier = [platform.python, "-m", "assistant.reminders", "notify", name]
    meta = json.dumps({"time": clock, "routine": name})
    if platform.systemd_user:
        header = f"{MARKER}: `exercise-assistant` installed this file and removes it.\n"
        service = (
            f"{header}# {meta}\n"
            "[Unit]\n"
            f"Description=Exercise reminder: {name.replace('%', '%%')}\n"
            "\n"
            "[Service]\n"
            "Type=oneshot\n"
            f"ExecStart={' '.join(_systemd_quote(w) for w in notifier)}\n"
        )
        timer = (
            f"{header}"
            "[Unit]\n"
            f"Description=Daily exercise reminder at {clock}\n"
            "\n"
            "[Timer]\n"
            f"OnCalendar=*-*-* {clock}:00\n"
            "Persistent=false\n"
            f"Unit={SERVICE_NAME}\n"
            "\n"
            "[Install]\n"
            "WantedBy=timers.target\n"
        )
        unit_dir = platform.unit_dir
        return ReminderPlan(
            kind="systemd", time=clock, routine=name, notifier=tuple(notifier),
            files=((unit_dir / SERVICE_NAME, service), (unit_dir / TIMER_NAME, timer)),
            commands=(
                ("systemctl", "--user", "daemon-reload"),
                ("systemctl", "--user", "enable", "--now", TIMER_NAME),
            ),
        )
    if platform.crontab:
        line = f"{minute} {hour} * * * {_cron_command(notifier)} {MARKER}"
        return ReminderPlan(kind="cron", time=clock, routine=name, crontab_line=line,
                            notifier=tuple(notifier))
    return ReminderPlan(kind="manual", time=clock, routine=name, notifier=tuple(notifier))


# --- installing and removing -------------------------------------------------------------


def _run(command: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            list(command), input=stdin, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReminderError(f"{command[0]}: {exc}") from None


def _checked(command: Sequence[str], stdin: str | None = None) -> str:
    result = _run(command, stdin)
    if result.returncode != 0:
        message = " ".join((result.stderr or result.stdout).split()) or f"exit {result.returncode}"
        raise ReminderError(f"{shlex.join(command)} failed: {message}")
    return result.stdout


def _owned(path: Path) -> bool:
    try:
        return path.read_text(encoding="utf-8").startswith(MARKER)
    except (OSError, UnicodeDecodeError):
        return False


def _read_crontab() -> str:
    result = _run(["crontab", "-l"])
    if result.returncode == 0:
        return result.stdout
    if "no crontab" in result.stderr.lower():
        return ""
    raise ReminderError(f"crontab -l failed: {' '.join(result.stderr.split())}")


def _without_ours(crontab: str) -> str:
    lines = crontab.splitlines(keepends=True)
    return "".join(line for line in lines if not line.rstrip("\n").endswith(MARKER))


def _write_crontab(text: str) -> None:
    if text.strip():
        _checked(["crontab", "-"], text)
    else:
        _run(["crontab", "-r"])  # nothing left: no crontab, as before the reminder


def install(plan: ReminderPlan) -> None:
    """Install `plan`, replacing a reminder installed before. Refuses to overwrite a file
    of the same name that is not ours."""
    if plan.kind == "manual":
        raise ReminderError(
            f"no systemd user manager and no crontab here, so nothing can be installed; have"
            f" your system's scheduler run {shlex.join(plan.notifier)} every day at {plan.time}"
        )
    if plan.kind == "systemd":
        for path, _text in plan.files:
            if path.exists() and not _owned(path):
                raise ReminderError(f"{path} exists and was not written by exercise-assistant")
        for path, text in plan.files:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        for command in plan.commands:
            _checked(command)
        return
    assert plan.crontab_line is not None
    kept = _without_ours(_read_crontab())
    if kept and not kept.endswith("\n"):
        kept += "\n"
    _write_crontab(kept + plan.crontab_line + "\n")


def remove(platform: PlatformInfo | None = None) -> list[str]:
    """Remove the reminder wherever it is installed; returns what was removed (empty when
    there was none). Files and lines without the mark are left alone."""
    platform = platform or detect_platform()
    removed: list[str] = []
    units = [platform.unit_dir / TIMER_NAME, platform.unit_dir / SERVICE_NAME]
    if any(_owned(p) for p in units):
        if platform.systemd_user:
            _run(["systemctl", "--user", "disable", "--now", TIMER_NAME])
        for path in units:
            if _owned(path):
                path.unlink()
                removed.append(str(path))
        if platform.systemd_user:
            _run(["systemctl", "--user", "daemon-reload"])
    if platform.crontab:
        crontab = _read_crontab()
        kept = _without_ours(crontab)
        if kept != crontab:
            _write_crontab(kept)
            removed.append("crontab line")
    return removed


def status(platform: PlatformInfo | None = None) -> ReminderStatus:
    """The installed reminder, read back from the unit file or the crontab line."""
    platform = platform or detect_platform()
    service = platform.unit_dir / SERVICE_NAME
    if _owned(service):
        for line in service.read_text(encoding="utf-8").splitlines():
            if line.startswith("# {"):
                meta = json.loads(line[2:])
                return ReminderStatus(True, "systemd", meta["time"], meta["routine"])
    if platform.crontab:
        for line in _read_crontab().splitlines():
            if line.endswith(MARKER):
                minute, hour, *_rest = line.split(None, 5)
                words = shlex.split(line.split(None, 5)[5].replace("\\%", "%"), comments=True)
                return ReminderStatus(True, "cron", f"{int(hour):02d}:{int(minute):02d}", words[-1])
    return ReminderStatus(False)


# --- what the reminder runs --------------------------------------------------------------


def notify(routine: str) -> str:
    """Tell the person it is time: a desktop notification when `notify-send` exists, and
    always a printed line. Returns the message. Never starts a session."""
    start = shlex.join(["exercise-assistant", "start", routine])
    message = f"Time for your exercises: {routine}. Start with: {start}"
    if shutil.which("notify-send"):
        _run(["notify-send", "--app-name=exercise-assistant", "Exercise time", message])
    print(message)
    return message


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "notify":
        print("usage: python -m assistant.reminders notify ROUTINE", file=sys.stderr)
        return 2
    notify(args[1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
