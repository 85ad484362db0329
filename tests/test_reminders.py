"""Reminders: exact systemd units and crontab lines, installed and removed through fake
`crontab`, `systemctl` and `notify-send` commands put first on PATH (shell scripts the
tests write), in a temporary XDG_CONFIG_HOME."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.reminders import (
    MARKER,
    PlatformInfo,
    ReminderError,
    ReminderStatus,
    detect_platform,
    install,
    reminder_plan,
    remove,
    status,
)

ROOT = Path(__file__).resolve().parent.parent
PY = "/opt/py/bin/python3"


class Shims:
    """A directory of fake commands; each appends its arguments to `log`."""

    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        self.log = root / "commands.log"
        self.crontab_file = root / "crontab.txt"
        self.systemctl_exit = 0

    def _write(self, name: str, body: str) -> None:
        path = self.bin / name
        path.write_text(f"#!/bin/sh\necho \"{name} $*\" >> '{self.log}'\n{body}\n")
        path.chmod(0o755)

    def crontab(self) -> Shims:
        store = self.crontab_file
        self._write(
            "crontab",
            f"""case "$1" in
  -l) if [ -f '{store}' ]; then /bin/cat '{store}'
      else echo "no crontab for tester" >&2; exit 1; fi ;;
  -) /bin/cat > '{store}' ;;
  -r) /bin/rm -f '{store}' ;;
  *) exit 2 ;;
esac""",
        )
        return self

    def systemctl(self, exit_code: int = 0) -> Shims:
        self._write("systemctl", f"exit {exit_code}")
        return self

    def notify_send(self) -> Shims:
        self._write(
            "notify-send",
            f"for a in \"$@\"; do printf '[%s]\\n' \"$a\"; done >> '{self.log}'",
        )
        return self

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def shims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Shims:
    s = Shims(tmp_path)
    monkeypatch.setenv("PATH", str(s.bin))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return s


def cron_platform(tmp_path: Path) -> PlatformInfo:
    return PlatformInfo(
        systemd_user=False, crontab=True, config_home=tmp_path / "config", python=PY
    )


def systemd_platform(tmp_path: Path) -> PlatformInfo:
    return PlatformInfo(
        systemd_user=True, crontab=False, config_home=tmp_path / "config", python=PY
    )


def test_cron_plan_is_one_marked_line_that_only_notifies(tmp_path: Path) -> None:
    """Without systemd the plan is exactly one crontab line at the time, running the
    notifier (never a session), ending with the ownership mark."""
    plan = reminder_plan("7:30", "Upper back relief", cron_platform(tmp_path))
    assert (plan.kind, plan.time, plan.files, plan.commands) == ("cron", "07:30", (), ())
    assert plan.crontab_line == (
        f"30 7 * * * {PY} -m assistant.reminders notify 'Upper back relief' {MARKER}"
    )


def test_systemd_plan_is_exactly_two_marked_units(tmp_path: Path) -> None:
    """With systemd --user the plan is a oneshot notifier service and a daily timer in
    XDG_CONFIG_HOME/systemd/user, then daemon-reload and enable --now of the timer."""
    plan = reminder_plan("18:05", "Upper back relief", systemd_platform(tmp_path))
    units = tmp_path / "config" / "systemd" / "user"
    header = f"{MARKER}: `exercise-assistant` installed this file and removes it.\n"
    assert plan.files == (
        (
            units / "exercise-assistant-reminder.service",
            header + '# {"time": "18:05", "routine": "Upper back relief"}\n'
            "[Unit]\nDescription=Exercise reminder: Upper back relief\n\n"
            "[Service]\nType=oneshot\n"
            f'ExecStart="{PY}" "-m" "assistant.reminders" "notify" "Upper back relief"\n',
        ),
        (
            units / "exercise-assistant-reminder.timer",
            header + "[Unit]\nDescription=Daily exercise reminder at 18:05\n\n"
            "[Timer]\nOnCalendar=*-*-* 18:05:00\nPersistent=false\n"
            "Unit=exercise-assistant-reminder.service\n\n"
            "[Install]\nWantedBy=timers.target\n",
        ),
    )
    assert plan.commands == (
        ("systemctl", "--user", "daemon-reload"),
        ("systemctl", "--user", "enable", "--now", "exercise-assistant-reminder.timer"),
    )


def test_special_characters_are_escaped_for_systemd(tmp_path: Path) -> None:
    """%, $, quotes and backslashes in a routine name are escaped in ExecStart= so
    systemd passes the name through unchanged."""
    plan = reminder_plan("06:00", 'A 50% "hard" $day \\ x', systemd_platform(tmp_path))
    service = plan.files[0][1]
    assert "ExecStart=" in service
    assert service.splitlines()[-1].endswith('"notify" "A 50%% \\"hard\\" $$day \\\\ x"')
    assert 'Description=Exercise reminder: A 50%% "hard" $day \\ x' in service


@pytest.mark.parametrize("bad", ["24:00", "7.30", "12:60", "", "noon", "1:2"])
def test_a_time_that_is_not_hh_mm_is_refused(tmp_path: Path, bad: str) -> None:
    """Anything but a 24-hour H:MM/HH:MM time raises ReminderError."""
    with pytest.raises(ReminderError, match="not a time of day"):
        reminder_plan(bad, "Upper back relief", cron_platform(tmp_path))


def test_a_routine_name_on_two_lines_is_refused(tmp_path: Path) -> None:
    """A routine name with a newline (which would break a crontab) is refused."""
    with pytest.raises(ReminderError, match="one line"):
        reminder_plan("07:00", "a\n* * * * * rm -rf ~", cron_platform(tmp_path))


def test_with_no_scheduler_the_plan_names_the_time_and_a_command_that_works(
        tmp_path: Path) -> None:
    """With neither systemd --user nor crontab, the plan is "manual": it names the time and
    the exact notifier command (which, run as shown, reminds and exits 0), and installing
    it fails with one line saying what to do instead."""
    platform = PlatformInfo(False, False, tmp_path, sys.executable)
    plan = reminder_plan("7:30", "upper-back", platform)
    command = [sys.executable, "-m", "assistant.reminders", "notify", "upper-back"]
    assert (plan.kind, plan.time, plan.notifier) == ("manual", "07:30", tuple(command))
    assert plan.describe() == (
        "A reminder every day at 07:30 for 'upper-back': there is no systemd user manager and"
        " no crontab here, so it cannot be installed. Have your system's scheduler run this"
        f" command every day at 07:30:\n  {shlex.join(command)}")
    shown = shlex.split(plan.describe().splitlines()[1])
    ran = subprocess.run(shown, cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PATH": str(tmp_path)}, check=False)
    assert (ran.returncode, ran.stderr) == (0, "")
    assert ran.stdout == ("Time for your exercises: upper-back. "
                          "Start with: exercise-assistant start upper-back\n")
    with pytest.raises(ReminderError) as caught:
        install(plan)
    assert str(caught.value) == (
        "no systemd user manager and no crontab here, so nothing can be installed; have your"
        f" system's scheduler run {shlex.join(command)} every day at 07:30")


def test_cron_install_and_remove_round_trip_exactly(shims: Shims, tmp_path: Path) -> None:
    """Installing adds one marked line after the user's crontab; installing again
    replaces it; status reads it back; removing restores the crontab byte for byte."""
    shims.crontab()
    original = "MAILTO=me@example.org\n0 * * * * /usr/bin/backup --quiet\n# my notes\n"
    shims.crontab_file.write_text(original)
    platform = cron_platform(tmp_path)
    install(reminder_plan("07:30", "Upper back relief", platform))
    later = reminder_plan("18:05", "Desk break", platform)
    install(later)
    assert shims.crontab_file.read_text() == original + f"{later.crontab_line}\n"
    assert status(platform) == ReminderStatus(True, "cron", "18:05", "Desk break")
    assert remove(platform) == ["crontab line"]
    assert shims.crontab_file.read_text() == original
    assert status(platform) == ReminderStatus(False)
    assert remove(platform) == []
    assert shims.crontab_file.read_text() == original


def test_cron_round_trip_with_no_crontab_leaves_no_crontab(shims: Shims, tmp_path: Path) -> None:
    """A user without a crontab gets one with only the reminder, and none after removal."""
    shims.crontab()
    platform = cron_platform(tmp_path)
    plan = reminder_plan("07:30", "Upper back relief", platform)
    install(plan)
    assert shims.crontab_file.read_text() == f"{plan.crontab_line}\n"
    remove(platform)
    assert not shims.crontab_file.exists()


def test_the_cron_command_runs_the_notifier_with_the_exact_name(
    shims: Shims, tmp_path: Path
) -> None:
    """The installed crontab command, unescaped as cron does and run by sh, notifies
    with the routine name unchanged, even with %, quotes and $ in it."""
    shims.crontab().notify_send()
    name = "50% 'hard' \"day\" $HOME `x`"
    platform = PlatformInfo(False, True, tmp_path / "config", sys.executable)
    install(reminder_plan("07:30", name, platform))
    assert status(platform).routine == name
    line = shims.crontab_file.read_text().splitlines()[0]
    command = line.split(None, 5)[5].replace("\\%", "%")
    env = {"PATH": str(shims.bin), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, text=True)
    quoted = "'50% '\"'\"'hard'\"'\"' \"day\" $HOME `x`'"  # shlex.quote(name), by hand
    message = f"Time for your exercises: {name}. Start with: exercise-assistant start {quoted}"
    assert result.stdout == message + "\n"
    assert shims.calls()[-4:] == [
        f"notify-send --app-name=exercise-assistant Exercise time {message}",
        "[--app-name=exercise-assistant]",
        "[Exercise time]",
        f"[{message}]",
    ]


def test_notify_without_notify_send_only_prints(shims: Shims) -> None:
    """Where notify-send is missing, the reminder prints one line and exits 0."""
    env = {"PATH": str(shims.bin), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "assistant.reminders", "notify", "Desk break"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        "Time for your exercises: Desk break. Start with: exercise-assistant start 'Desk break'\n"
    )


def test_systemd_install_and_remove_touch_only_our_units(shims: Shims, tmp_path: Path) -> None:
    """Install writes the two planned units and enables the timer; a user's own unit in
    the same directory is untouched; remove disables, deletes ours and reloads."""
    shims.systemctl()
    platform = systemd_platform(tmp_path)
    units = platform.unit_dir
    units.mkdir(parents=True)
    mine = units / "backup.timer"
    mine.write_text("[Timer]\nOnCalendar=daily\n")
    plan = reminder_plan("07:30", "Upper back relief", platform)
    install(plan)
    for path, text in plan.files:
        assert path.read_text() == text
    assert status(platform) == ReminderStatus(True, "systemd", "07:30", "Upper back relief")
    assert remove(platform) == [
        str(units / "exercise-assistant-reminder.timer"),
        str(units / "exercise-assistant-reminder.service"),
    ]
    assert sorted(p.name for p in units.iterdir()) == ["backup.timer"]
    assert mine.read_text() == "[Timer]\nOnCalendar=daily\n"
    assert shims.calls() == [
        "systemctl --user daemon-reload",
        "systemctl --user enable --now exercise-assistant-reminder.timer",
        "systemctl --user disable --now exercise-assistant-reminder.timer",
        "systemctl --user daemon-reload",
    ]
    assert status(platform) == ReminderStatus(False)


def test_a_unit_file_that_is_not_ours_is_never_overwritten_or_removed(
    shims: Shims, tmp_path: Path
) -> None:
    """A same-named unit without the mark makes install fail, and remove leaves it."""
    shims.systemctl()
    platform = systemd_platform(tmp_path)
    platform.unit_dir.mkdir(parents=True)
    theirs = platform.unit_dir / "exercise-assistant-reminder.timer"
    theirs.write_text("[Timer]\nOnCalendar=hourly\n")
    with pytest.raises(ReminderError, match="not written by exercise-assistant"):
        install(reminder_plan("07:30", "Upper back relief", platform))
    assert remove(platform) == []
    assert theirs.read_text() == "[Timer]\nOnCalendar=hourly\n"
    assert not (platform.unit_dir / "exercise-assistant-reminder.service").exists()
    assert shims.calls() == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="systemd is Linux only")
@pytest.mark.parametrize(("exit_code", "expected"), [(0, True), (1, False)])
def test_detect_platform_asks_systemctl_and_reads_xdg_config_home(
    shims: Shims, tmp_path: Path, exit_code: int, expected: bool
) -> None:
    """systemd --user counts as available exactly when `systemctl --user
    show-environment` succeeds; crontab when it is on PATH; units go below
    XDG_CONFIG_HOME."""
    shims.systemctl(exit_code).crontab()
    platform = detect_platform()
    assert (platform.systemd_user, platform.crontab) == (expected, True)
    assert platform.config_home == tmp_path / "config"
    assert platform.unit_dir == tmp_path / "config" / "systemd" / "user"
    assert shims.calls() == ["systemctl --user show-environment"]
    assert os.environ["PATH"] == str(shims.bin)
