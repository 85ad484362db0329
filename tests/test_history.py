"""History: weekly totals, adherence, streaks and pain trend from simulated sessions fed to
a real journal as the session emits them; terminal output, PNG plot, JSON/CSV round trips."""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from test_journal import TZ, Ex, feed, session_records

from assistant.events import Record
from assistant.history import (
    ExportedExercise,
    HistoryError,
    HistoryReport,
    bar,
    exported,
    from_csv,
    from_json,
    plot,
    render_terminal,
    report,
    routines_from_journal,
    to_csv,
    to_json,
)
from assistant.journal import Journal
from assistant.routine import Exercise, Routine, Sides, Target

ROUTINE = Routine(
    name="Upper back relief",
    exercises=(
        Exercise("Brisk walk", duration=1800.0, target=Target(days_per_week=5)),
        Exercise("Knees to chest", sets=2, reps=10, sides=Sides.ALTERNATE, target=Target(3)),
        Exercise("Bird dog", sets=2, reps=8, sides=Sides.ALTERNATE),
    ),
    source="/routines/upper-back.yaml",
)
TODAY = date(2026, 3, 13)  # Friday of ISO week 2026-W11


def at(day: date, hour: int = 7) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 30, tzinfo=TZ)


#: (day, hour, pain before, pain after, options) for each simulated session.
PLAN: list[tuple[date, int, int | None, int | None, dict[str, Any]]] = [
    # ISO week 9 (23 Feb - 1 Mar): the weekend only.
    (date(2026, 2, 28), 7, 7, 5, {}),
    (date(2026, 3, 1), 7, 7, 5, {}),
    # ISO week 10: Monday to Friday, every target met.
    (date(2026, 3, 2), 7, 6, 4, {}),
    (date(2026, 3, 3), 7, 6, 4, {}),
    (date(2026, 3, 4), 7, 5, 3, {}),
    (date(2026, 3, 5), 7, 5, 3, {}),
    (date(2026, 3, 6), 7, 3, 1, {}),
    # ISO week 11 to Friday: the walk skipped on Wednesday, Friday morning interrupted.
    (date(2026, 3, 9), 7, 4, 2, {}),
    (date(2026, 3, 10), 7, 4, 2, {}),
    (date(2026, 3, 11), 7, 3, 2, {"skip": ["Brisk walk"]}),
    (date(2026, 3, 12), 7, 3, 1, {}),
    (date(2026, 3, 13), 7, 4, None, {"stop_after_sets": 2}),
    (date(2026, 3, 13), 18, 6, 3, {}),
]
FULL_REPS = 2 * 20 + 2 * 16  # knees to chest and bird dog, both sides


def all_records() -> list[list[Record]]:
    streams = []
    for day, hour, before, after, options in PLAN:
        streams.append(session_records(at(day, hour), pain=(before, after), **options))
    desk = session_records(
        at(date(2026, 3, 10), 12),
        [Ex("Neck rolls", sets=1, reps=5)],
        routine="Desk break",
        path="/routines/desk-break.yaml",
    )
    streams.append(desk)
    return streams


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.sqlite3") as j:
        for stream in all_records():
            feed(j, stream)
        yield j


@pytest.fixture
def rep(journal: Journal) -> HistoryReport:
    return report(journal, {"Upper back relief": ROUTINE}, weeks=3, today=TODAY)


def test_weekly_totals_count_sessions_reps_minutes_and_mean_pain(rep: HistoryReport) -> None:
    """Each of the 3 ISO weeks has the exact sessions, reps, active minutes and mean pain
    before/after of the sessions started in it."""
    assert [w.label for w in rep.weeks] == ["2026-W09", "2026-W10", "2026-W11"]
    assert [w.monday for w in rep.weeks] == [date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 9)]
    assert [w.sessions for w in rep.weeks] == [2, 5, 7]
    # W11: 4 full sessions, Wednesday without the walk, Friday's first set of knees to
    # chest before the interruption, and 5 neck rolls.
    assert [w.reps for w in rep.weeks] == [2 * FULL_REPS, 5 * FULL_REPS, 5 * FULL_REPS + 20 + 5]
    assert [(w.pain_before, w.pain_after) for w in rep.weeks] == [
        (7.0, 5.0),
        (5.0, 3.0),
        (4.0, 2.0),
    ]
    streams = all_records()
    seconds_w10 = sum(s[-1].t for s in streams[2:7])
    assert rep.weeks[1].minutes == pytest.approx(seconds_w10 / 60, abs=1e-9)
    assert seconds_w10 == 5 * 2259.0  # 3+1800+30 walk, 2x(3+80+30), 2x(3+64+30), 3+3 pain


def test_adherence_counts_days_per_week_against_each_target(rep: HistoryReport) -> None:
    """The walk (5 days a week) was done 2, 5 and 4 days; knees to chest (3 a week) 2, 5
    and 5 days; the week's adherence is the mean over targets of min(1, days/target)."""
    upper, desk = rep.adherence
    assert (upper.routine, upper.known, desk.routine, desk.known) == (
        "Upper back relief",
        True,
        "Desk break",
        False,
    )
    walk, knees = upper.exercises
    assert (walk.exercise, walk.days_per_week, walk.days) == ("Brisk walk", 5, (2, 5, 4))
    assert (knees.exercise, knees.days_per_week, knees.days) == ("Knees to chest", 3, (2, 5, 5))
    assert (walk.this_week, walk.ratio) == (4, 0.8)
    assert upper.sessions == (2, 5, 6)
    assert upper.days == (2, 5, 5)
    assert [w.adherence for w in rep.weeks] == [
        pytest.approx((2 / 5 + 2 / 3) / 2),
        1.0,
        pytest.approx(0.9),
    ]
    assert (desk.sessions, desk.days, desk.exercises) == ((0, 0, 1), (0, 0, 1), ())


def test_streaks_of_weeks_and_days(rep: HistoryReport) -> None:
    """The walk: 1 week in a row met (W10; W11 is short but still in progress) and 2 days
    in a row (Thursday, Friday); knees to chest: 2 weeks and 5 days; the routine: 1 week
    meeting every target and 5 days with a complete set; the desk break: 1 week, no
    current day streak."""
    upper, desk = rep.adherence
    walk, knees = upper.exercises
    assert (walk.week_streak, walk.day_streak) == (1, 2)
    assert (knees.week_streak, knees.day_streak) == (2, 5)
    assert (upper.week_streak, upper.day_streak) == (1, 5)
    assert (desk.week_streak, desk.day_streak) == (1, 0)


def test_streaks_look_beyond_the_report_window(journal: Journal) -> None:
    """A one-week report still counts knees to chest's 2-week streak."""
    one = report(journal, {"Upper back relief": ROUTINE}, weeks=1, today=TODAY)
    assert len(one.weeks) == 1
    assert one.adherence[0].exercises[1].week_streak == 2


def test_a_day_streak_ending_yesterday_still_stands_today(journal: Journal) -> None:
    """On Saturday, with nothing done yet that day, the streak up to Friday is kept; on
    Sunday it is gone."""
    saturday = report(journal, {"Upper back relief": ROUTINE}, today=date(2026, 3, 14))
    sunday = report(journal, {"Upper back relief": ROUTINE}, today=date(2026, 3, 15))
    assert saturday.adherence[0].day_streak == 5
    assert sunday.adherence[0].day_streak == 0


def test_recent_sessions_are_those_in_the_window_newest_first(rep: HistoryReport) -> None:
    """The report lists the 14 sessions of the 3 weeks, Friday evening's first."""
    assert len(rep.recent) == 14
    assert rep.recent[0].started_at == at(date(2026, 3, 13), 18)
    assert rep.recent[1].completed is False
    assert rep.recent[-1].started_at == at(date(2026, 2, 28))


def test_a_routine_without_a_file_has_sessions_but_no_targets(journal: Journal) -> None:
    """A routine mapped to None is reported as unknown, with sessions and no targets."""
    rep = report(journal, {"Upper back relief": None}, weeks=2, today=TODAY)
    upper = rep.adherence[0]
    assert (upper.known, upper.exercises, upper.sessions) == (False, (), (5, 6))
    assert [w.adherence for w in rep.weeks] == [None, None]


def test_terminal_output_shows_bars_targets_and_pain(rep: HistoryReport) -> None:
    """The terminal report has a row per week with a block bar, the adherence percent and
    pain before → after; the target table shows days done over the target; a recent
    session lists what was done of each exercise and its pain ratings."""
    console = Console(file=io.StringIO(), width=140, record=True, color_system=None)
    render_terminal(rep, console)
    text = console.export_text()
    week11 = next(line for line in text.splitlines() if "2026-W11" in line)
    assert bar(0.9) in week11 and "90%" in week11 and "4.0 → 2.0" in week11
    week10 = next(line for line in text.splitlines() if "2026-W10" in line)
    assert "█" * 16 in week10 and "100%" in week10
    assert "4/5 days" in text and "5/3 days" in text
    assert "Desk break (file not found)" in text
    friday = next(line for line in text.splitlines() if "2026-03-13 07:30" in line)
    assert "Brisk walk: 30:00; Knees to chest: 1 set, 20 reps" in friday
    assert "4 → -" in friday


def test_bar_draws_eighths_of_a_cell() -> None:
    """bar() fills width*fraction cells in eighths and pads to the width."""
    assert bar(0.0, 4) == "    "
    assert bar(1.0, 4) == "████"
    assert bar(0.5, 4) == "██  "
    assert bar(0.40625, 4) == "█▋  "  # 13 eighths
    assert bar(2.0, 2) == "██"


def test_plot_writes_a_png_of_plausible_size(rep: HistoryReport, tmp_path: Path) -> None:
    """plot() writes an 800x600 PNG between 10 kB and 1 MB."""
    path = tmp_path / "history.png"
    plot(rep, path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (800, 600)
    assert 10_000 < len(data) < 1_000_000


def test_json_export_has_the_documented_shape(rep: HistoryReport) -> None:
    """Each exported session has routine, started_at, completed, exercises (name,
    sets_done, reps_done, skipped) and pain before/after, with exact values."""
    data = json.loads(to_json(rep))
    assert len(data) == 14
    assert data[0] == {
        "routine": "Upper back relief",
        "started_at": "2026-03-13T18:30:00+02:00",
        "completed": True,
        "exercises": [
            {"name": "Brisk walk", "sets_done": 1, "reps_done": 0, "skipped": False},
            {"name": "Knees to chest", "sets_done": 2, "reps_done": 40, "skipped": False},
            {"name": "Bird dog", "sets_done": 2, "reps_done": 32, "skipped": False},
        ],
        "pain_before": 6,
        "pain_after": 3,
    }
    wednesday = next(d for d in data if d["started_at"].startswith("2026-03-11"))
    assert wednesday["exercises"][0] == {
        "name": "Brisk walk",
        "sets_done": 0,
        "reps_done": 0,
        "skipped": True,
    }
    friday_morning = data[1]
    assert (friday_morning["completed"], friday_morning["pain_after"]) == (False, None)


def test_json_and_csv_exports_round_trip(rep: HistoryReport) -> None:
    """from_json(to_json(x)) and from_csv(to_csv(x)) give back the exported sessions, and
    exporting those again gives the same text."""
    sessions = exported(rep)
    assert from_json(to_json(rep)) == sessions
    assert from_csv(to_csv(rep)) == sessions
    assert to_json(from_json(to_json(rep))) == to_json(rep)
    assert to_csv(from_csv(to_csv(rep))) == to_csv(rep)
    assert ExportedExercise("Brisk walk", 0, 0, True) in sessions[3].exercises


def test_csv_has_one_row_per_exercise(rep: HistoryReport) -> None:
    """The CSV has a header and one row per exercise: 13 upper-back sessions with 3
    exercises (Friday morning's has 2) and the desk break with 1."""
    lines = to_csv(rep).splitlines()
    assert lines[0] == (
        "session,routine,started_at,completed,pain_before,pain_after,exercise,sets_done,"
        "reps_done,skipped"
    )
    assert len(lines) == 1 + 12 * 3 + 2 + 1
    assert lines[1] == (
        "1,Upper back relief,2026-03-13T18:30:00+02:00,true,6,3,Brisk walk,1,0,false"
    )


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        "[{}]",
        '[{"routine": 1}]',
        "not json",
        '[{"routine": "a", "started_at": "x",'
        ' "completed": "maybe", "exercises": [], "pain_before": null, "pain_after": null}]',
    ],
)
def test_bad_json_is_one_history_error(text: str) -> None:
    """Anything that is not a JSON export raises HistoryError with a one-line message."""
    with pytest.raises(HistoryError) as info:
        from_json(text)
    assert "\n" not in str(info.value)


def test_bad_csv_is_one_history_error() -> None:
    """A CSV with the wrong header or a non-number count raises HistoryError."""
    with pytest.raises(HistoryError, match="header"):
        from_csv("a,b\n1,2\n")
    header = to_csv([]).strip()
    with pytest.raises(HistoryError, match="invalid literal"):
        from_csv(header + "\n1,R,2026-03-01T07:00:00+02:00,true,,,Walk,many,0,false\n")


def test_routines_from_journal_loads_each_routine_once(journal: Journal) -> None:
    """Each routine name maps to its loaded definition, or None when loading fails."""

    def load(path: str) -> Routine:
        if path.endswith("upper-back.yaml"):
            return ROUTINE
        raise OSError(f"{path}: no such file")

    assert routines_from_journal(journal, load) == {
        "Upper back relief": ROUTINE,
        "Desk break": None,
    }


def test_sessions_after_today_are_ignored(journal: Journal) -> None:
    """A session dated after `today` is not counted in any week or streak."""
    feed(journal, session_records(at(date(2026, 3, 20))))
    rep = report(journal, {"Upper back relief": ROUTINE}, weeks=3, today=TODAY)
    assert [w.sessions for w in rep.weeks] == [2, 5, 7]
    assert rep.recent[0].started_at == at(date(2026, 3, 13), 18)


def test_calendar_streaks_do_not_count_this_week_or_today_as_broken_yet() -> None:
    """A week streak ending last week and a day streak ending yesterday still stand; a
    streak stops at a gap, and never reaches before the first session's week."""
    from assistant.history import _Calendar

    today = date(2026, 3, 12)  # a Thursday
    mondays = (date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 9))
    calendar = _Calendar(today, mondays, first_monday=date(2026, 2, 23))
    assert calendar.span == 3
    assert calendar.week_streak({date(2026, 2, 23), date(2026, 3, 2)}) == 2
    assert calendar.week_streak({date(2026, 2, 16), date(2026, 2, 23), date(2026, 3, 9)}) == 1
    assert calendar.week_streak({date(2026, 2, 16), date(2026, 2, 23), date(2026, 3, 2)}) == 2
    assert calendar.day_streak({date(2026, 3, 10), date(2026, 3, 11)}) == 2
    assert calendar.day_streak({date(2026, 3, 9), date(2026, 3, 12)}) == 1
    assert calendar.per_week([date(2026, 3, 2), date(2026, 3, 8), date(2026, 3, 12),
                              date(2026, 2, 1)]) == (0, 2, 1)
