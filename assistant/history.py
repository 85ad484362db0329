"""History from the journal: weekly totals, adherence to weekly targets, streaks, pain
trend; shown in the terminal, exported as JSON or CSV, plotted as a PNG.

A day counts for an exercise when a session of its routine recorded at least one complete
set of it that day (the local day of the session's start; see `Journal.active_days`).
Weeks are ISO weeks (Monday to Sunday). Streaks never count the current week or today as
broken while they are still in progress: a week streak counts this week only once its
target is met, and a day streak ending yesterday still stands today.

The CLI's `history` command is a few lines::

    with Journal(journal_path()) as journal:
        found = routines_from_journal(journal, load_routine)
        render_terminal(report(journal, found, weeks=8), Console())
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from os import PathLike
from typing import Any

from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from assistant.errors import AssistantError
from assistant.journal import ExerciseSummary, Journal, SessionSummary
from assistant.routine import Routine, clock_duration, plural


class HistoryError(AssistantError):
    """An export file that cannot be read back."""


@dataclass(frozen=True)
class WeekTotals:
    monday: date
    sessions: int
    minutes: float  # active minutes: the session clock without pauses
    reps: int
    pain_before: float | None  # mean over the week's sessions with a check-in
    pain_after: float | None
    adherence: float | None  # mean over all targets of min(1, days / target); None: no targets

    @property
    def label(self) -> str:
        year, week, _ = self.monday.isocalendar()
        return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class ExerciseAdherence:
    exercise: str
    days_per_week: int
    days: tuple[int, ...]  # days done in each report week, oldest first
    week_streak: int  # weeks in a row meeting the target
    day_streak: int  # days in a row with the exercise done

    @property
    def this_week(self) -> int:
        return self.days[-1] if self.days else 0

    @property
    def ratio(self) -> float:
        """This week's days over the target (1.0 = target met; may exceed 1)."""
        return self.this_week / self.days_per_week


@dataclass(frozen=True)
class RoutineAdherence:
    routine: str
    known: bool  # False when the routine's file was not found: no targets known
    sessions: tuple[int, ...]  # sessions in each report week
    days: tuple[int, ...]  # days with any complete set, in each report week
    exercises: tuple[ExerciseAdherence, ...]  # exercises with a weekly target
    week_streak: int  # weeks in a row meeting every target (with no targets: active)
    day_streak: int  # days in a row with any complete set


@dataclass(frozen=True)
class HistoryReport:
    today: date
    weeks: tuple[WeekTotals, ...]  # oldest first, the current week last
    recent: tuple[SessionSummary, ...]  # sessions in those weeks, newest first
    adherence: tuple[RoutineAdherence, ...]


# --- building the report -----------------------------------------------------------------


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _mean(values: Iterable[int | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


@dataclass(frozen=True)
class _Calendar:
    """The weeks a report covers (`mondays`, oldest first) and how far back its streaks may
    reach (`first_monday`, the week of the first session ever)."""

    today: date
    mondays: tuple[date, ...]
    first_monday: date

    @property
    def span(self) -> int:
        """Weeks from the first session's to this one, both included."""
        return (self.mondays[-1] - self.first_monday).days // 7 + 1

    def week_streak(self, met: set[date]) -> int:
        """Weeks in a row (by Monday) in `met`, ending this week or, while this week is not
        met yet, the week before."""
        this_monday = self.mondays[-1]
        monday = this_monday if this_monday in met else this_monday - timedelta(weeks=1)
        streak = 0
        while monday >= self.first_monday and monday in met:
            streak += 1
            monday -= timedelta(weeks=1)
        return streak

    def day_streak(self, days: set[date]) -> int:
        day = self.today if self.today in days else self.today - timedelta(days=1)
        streak = 0
        while day in days:
            streak += 1
            day -= timedelta(days=1)
        return streak

    def per_week(self, days: Iterable[date]) -> tuple[int, ...]:
        counts = dict.fromkeys(self.mondays, 0)
        for day in days:
            monday = _monday(day)
            if monday in counts:
                counts[monday] += 1
        return tuple(counts[m] for m in self.mondays)


def report(
    journal: Journal,
    routines: Mapping[str, Routine | None],
    weeks: int = 8,
    today: date | None = None,
) -> HistoryReport:
    """The last `weeks` ISO weeks up to `today` (default: the local date). Adherence is
    reported for every routine in `routines` and every other routine seen in those weeks;
    a routine mapped to None (file not found) gets sessions and streaks but no targets."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    today = today or date.today()
    this_monday = _monday(today)
    everything = [s for s in journal.sessions() if s.day <= today]
    calendar = _Calendar(
        today,
        tuple(this_monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)),
        _monday(min((s.day for s in everything), default=today)),
    )
    recent = tuple(s for s in everything if s.day >= calendar.mondays[0])
    names = [*routines, *sorted({s.routine for s in recent} - set(routines))]
    adherence = tuple(_adherence(journal, name, routines.get(name), recent, calendar)
                      for name in names)
    targets = [e for r in adherence for e in r.exercises]
    week_rows = []
    for i, monday in enumerate(calendar.mondays):
        in_week = [s for s in recent if _monday(s.day) == monday]
        week_rows.append(
            WeekTotals(
                monday=monday,
                sessions=len(in_week),
                minutes=sum(s.active_minutes for s in in_week),
                reps=sum(s.reps for s in in_week),
                pain_before=_mean(s.pain_before for s in in_week),
                pain_after=_mean(s.pain_after for s in in_week),
                adherence=(
                    sum(min(1.0, e.days[i] / e.days_per_week) for e in targets) / len(targets)
                    if targets
                    else None
                ),
            )
        )
    return HistoryReport(today=today, weeks=tuple(week_rows), recent=recent,
                         adherence=adherence)


def _adherence(journal: Journal, name: str, routine: Routine | None,
               recent: Sequence[SessionSummary], calendar: _Calendar) -> RoutineAdherence:
    """One routine's adherence: each exercise with a weekly target against it, and the
    routine as a whole (its weeks meet every target; with no targets: it was active)."""
    exercises = []
    met_weeks: set[date] | None = None  # weeks meeting every target so far
    for exercise in routine.exercises if routine else ():
        if exercise.target is None:
            continue
        done = set(journal.active_days(name, calendar.span, calendar.today,
                                       exercise=exercise.name))
        counts = Counter(_monday(d) for d in done)
        good = {m for m, n in counts.items() if n >= exercise.target.days_per_week}
        met_weeks = good if met_weeks is None else met_weeks & good
        exercises.append(
            ExerciseAdherence(
                exercise=exercise.name,
                days_per_week=exercise.target.days_per_week,
                days=calendar.per_week(done),
                week_streak=calendar.week_streak(good),
                day_streak=calendar.day_streak(done),
            )
        )
    active = set(journal.active_days(name, calendar.span, calendar.today))
    if met_weeks is None:
        met_weeks = {_monday(d) for d in active}
    return RoutineAdherence(
        routine=name,
        known=routine is not None,
        sessions=calendar.per_week(s.day for s in recent if s.routine == name),
        days=calendar.per_week(active),
        exercises=tuple(exercises),
        week_streak=calendar.week_streak(met_weeks),
        day_streak=calendar.day_streak(active),
    )


def routines_from_journal(
    journal: Journal, load: Callable[[str], Routine]
) -> dict[str, Routine | None]:
    """Each routine name in the journal, with its definition loaded from the newest path
    it was run from (None when that file is gone or no longer loads)."""
    found: dict[str, Routine | None] = {}
    for session in journal.sessions():
        if session.routine in found:
            continue
        try:
            found[session.routine] = load(session.routine_path) if session.routine_path else None
        except (AssistantError, OSError):
            found[session.routine] = None
    return found


# --- export ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportedExercise:
    name: str
    sets_done: int
    reps_done: int
    skipped: bool


@dataclass(frozen=True)
class ExportedSession:
    """One session as exported: exactly what `to_json` and `to_csv` write."""

    routine: str
    started_at: str  # ISO 8601 with offset, as recorded
    completed: bool
    exercises: tuple[ExportedExercise, ...]
    pain_before: int | None
    pain_after: int | None


Exportable = HistoryReport | Sequence[SessionSummary] | Sequence[ExportedSession]


def exported(sessions: Exportable) -> list[ExportedSession]:
    """The export form of a report's recent sessions, or of a list of sessions."""
    items = sessions.recent if isinstance(sessions, HistoryReport) else sessions
    return [
        s if isinstance(s, ExportedSession) else ExportedSession(
            routine=s.routine,
            started_at=s.started_at.isoformat(),
            completed=s.completed,
            exercises=tuple(ExportedExercise(e.name, e.sets_done, e.reps_done, e.skipped)
                            for e in s.exercises),
            pain_before=s.pain_before,
            pain_after=s.pain_after,
        )
        for s in items
    ]


def to_json(sessions: Exportable) -> str:
    """A JSON list of sessions (each an `ExportedSession`'s fields), newest first as given."""
    return json.dumps([asdict(s) for s in exported(sessions)], indent=2) + "\n"


def from_json(text: str) -> list[ExportedSession]:
    """Sessions from `to_json` output. Raises HistoryError with one line on bad input."""
    try:
        data = json.loads(text)
        if not isinstance(data, list):
            raise TypeError("expected a list of sessions")
        return [_session(item, (_exercise(e, _int) for e in item["exercises"]))
                for item in data]
    except (ValueError, TypeError, KeyError) as exc:
        raise HistoryError(f"not a history JSON export: {_problem(exc)}") from None


CSV_COLUMNS = (
    "session",
    "routine",
    "started_at",
    "completed",
    "pain_before",
    "pain_after",
    "exercise",
    "sets_done",
    "reps_done",
    "skipped",
)


def to_csv(sessions: Exportable) -> str:
    """One row per exercise of each session (one row with empty exercise columns for a
    session with none); `session` numbers the sessions from 1, in the order given."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for number, s in enumerate(exported(sessions), start=1):
        head = [
            number,
            s.routine,
            s.started_at,
            _yes(s.completed),
            "" if s.pain_before is None else s.pain_before,
            "" if s.pain_after is None else s.pain_after,
        ]
        if not s.exercises:
            writer.writerow([*head, "", "", "", ""])
        for e in s.exercises:
            writer.writerow([*head, e.name, e.sets_done, e.reps_done, _yes(e.skipped)])
    return buffer.getvalue()


def from_csv(text: str) -> list[ExportedSession]:
    """Sessions from `to_csv` output. Raises HistoryError with one line on bad input."""
    rows = csv.DictReader(io.StringIO(text))
    if tuple(rows.fieldnames or ()) != CSV_COLUMNS:
        raise HistoryError(f"not a history CSV export: the header must be {','.join(CSV_COLUMNS)}")
    sessions: dict[str, ExportedSession] = {}
    try:
        for line, row in enumerate(rows, start=2):
            if None in row or any(v is None for v in row.values()):
                raise ValueError(f"line {line} does not have {len(CSV_COLUMNS)} columns")
            key = row["session"]
            exercises = sessions[key].exercises if key in sessions else ()
            if row["exercise"]:
                exercises += (_exercise({**row, "name": row["exercise"]}, int),)
            sessions[key] = _session(row, exercises)
    except (ValueError, TypeError) as exc:
        raise HistoryError(f"not a history CSV export: {_problem(exc)}") from None
    return list(sessions.values())


def _session(item: Mapping[str, Any], exercises: Iterable[ExportedExercise]
             ) -> ExportedSession:
    """One exported session from its fields as JSON or a CSV row has them."""
    return ExportedSession(
        routine=_str(item["routine"]),
        started_at=_str(item["started_at"]),
        completed=_bool(item["completed"]),
        exercises=tuple(exercises),
        pain_before=_pain(item["pain_before"]),
        pain_after=_pain(item["pain_after"]),
    )


def _exercise(item: Mapping[str, Any], number: Callable[[Any], int]) -> ExportedExercise:
    """One exported exercise; `number` reads its counts (strict for JSON, text for CSV)."""
    return ExportedExercise(name=_str(item["name"]), sets_done=number(item["sets_done"]),
                            reps_done=number(item["reps_done"]), skipped=_bool(item["skipped"]))


def _yes(value: bool) -> str:
    return "true" if value else "false"


def _bool(value: object) -> bool:
    if value in (True, "true"):
        return True
    if value in (False, "false"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return value


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected a whole number, got {value!r}")
    return value


def _pain(value: object) -> int | None:
    if value is None or value == "":
        return None
    number = int(value) if isinstance(value, str) else _int(value)
    if not 0 <= number <= 10:
        raise ValueError(f"pain must be 0..10, got {number}")
    return number


def _problem(exc: BaseException) -> str:
    text = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
    return " ".join(text.split())


# --- terminal ----------------------------------------------------------------------------

_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(fraction: float, width: int = 16) -> str:
    """A horizontal bar of block characters, `width` cells for 1.0, in eighths."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[part] if part else "")).ljust(width)


def _pain_text(before: float | None, after: float | None, spec: str = ".1f") -> str:
    if before is None and after is None:
        return ""
    shown = ["-" if v is None else format(v, spec) for v in (before, after)]
    return f"{shown[0]} → {shown[1]}"


def _done_text(e: ExerciseSummary) -> str:
    if e.skipped and not e.sets_done:
        return f"{e.name}: skipped"
    if e.duration_done and not e.reps_done:
        return f"{e.name}: {clock_duration(e.duration_done)}"
    return f"{e.name}: {plural(e.sets_done, 'set')}, {plural(e.reps_done, 'rep')}"


def _right(header: str) -> Column:
    return Column(header, justify="right")


def render_terminal(report: HistoryReport, console: Console) -> None:
    """Weekly adherence as a bar chart with the pain trend beside it, targets and streaks,
    and the recent sessions."""
    weeks = Table("Week", "Adherence", _right(""), "Pain before → after", _right("Sessions"),
                  _right("Minutes"), _right("Reps"),
                  title=f"The last {len(report.weeks)} weeks, to {report.today.isoformat()}")
    most = max((w.sessions for w in report.weeks), default=0) or 1
    for w in report.weeks:
        fraction = w.adherence if w.adherence is not None else w.sessions / most
        percent = "" if w.adherence is None else f"{w.adherence:.0%}"
        weeks.add_row(
            w.label,
            Text(bar(fraction), style="green" if fraction >= 1 else "cyan"),
            percent,
            _pain_text(w.pain_before, w.pain_after),
            str(w.sessions),
            f"{w.minutes:.0f}",
            str(w.reps),
        )
    console.print(weeks)

    targets = Table("Routine", "Exercise", _right("This week"), _right("Week streak"),
                    _right("Day streak"), title="Weekly targets")
    for r in report.adherence:
        routine = r.routine if r.known else f"{r.routine} (file not found)"
        targets.add_row(routine, "(any exercise)", plural(r.days[-1], "day"), str(r.week_streak),
                        str(r.day_streak))
        for e in r.exercises:
            targets.add_row(
                "",
                e.exercise,
                f"{e.this_week}/{plural(e.days_per_week, 'day')}",
                str(e.week_streak),
                str(e.day_streak),
            )
    console.print(targets)

    recent = Table("Started", "Routine", "Done", "Minutes", "Exercises", "Pain",
                   title="Recent sessions")
    for s in report.recent[:10]:
        done = "; ".join(_done_text(e) for e in s.exercises)
        recent.add_row(
            s.started_at.strftime("%a %Y-%m-%d %H:%M"),
            s.routine,
            "yes" if s.completed else "no",
            f"{s.active_minutes:.0f}",
            done,
            _pain_text(s.pain_before, s.pain_after, "d"),
        )
    console.print(recent)


# --- plot --------------------------------------------------------------------------------


def plot(report: HistoryReport, path_png: str | PathLike[str]) -> None:
    """A PNG: adherence per week (bars) above the pain trend (mean before/after)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [w.label for w in report.weeks]
    x = list(range(len(labels)))
    figure = Figure(figsize=(8, 6), dpi=100)
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True)
    if any(w.adherence is not None for w in report.weeks):
        top.bar(x, [100 * (w.adherence or 0.0) for w in report.weeks], color="tab:green")
        top.set_ylabel("adherence (%)")
        top.set_ylim(0, 105)
        top.axhline(100, color="grey", linewidth=0.8, linestyle="--")
    else:
        top.bar(x, [w.sessions for w in report.weeks], color="tab:blue")
        top.set_ylabel("sessions")
    top.set_title("Adherence to weekly targets")
    nan = float("nan")
    before = [nan if w.pain_before is None else w.pain_before for w in report.weeks]
    after = [nan if w.pain_after is None else w.pain_after for w in report.weeks]
    bottom.plot(x, before, marker="o", label="pain before")
    bottom.plot(x, after, marker="s", label="pain after")
    bottom.set_ylim(0, 10)
    bottom.set_ylabel("pain (0-10)")
    bottom.set_title("Pain trend")
    bottom.legend(loc="upper right")
    bottom.set_xticks(x, labels, rotation=45, ha="right")
    figure.tight_layout()
    try:
        figure.savefig(path_png, format="png")
    except OSError as exc:  # the folder went away or filled up after the CLI checked it
        raise AssistantError(f"cannot write the plot {path_png}: {exc.strerror or exc}") from None
