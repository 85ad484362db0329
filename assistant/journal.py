"""The journal: every session's results in SQLite, durable set by set.

`Journal.record` consumes the session's `Record` effects (DESIGN §6). Records that matter
for history commit in one transaction each, the moment they arrive: `session_start`,
`set_done`, `exercise_end`, `checkin`, `session_end`. Everything else is cheap: it only
updates counters in memory (`phase` paused -> pause count, `tempo` -> tempo changes) and
`command`, `heard`, `phase` and `tempo` records are buffered and written with the next
commit. `say` and `rep` are not stored (the event log file has them; reps are summed in
`set_done`).

Durability: WAL with ``synchronous=FULL``. Any committed transaction survives SIGKILL of
the process (tests/test_journal_crash.py kills a writer at random moments); FULL also
fsyncs the WAL at each commit, so a completed set survives a power cut too. A commit
happens at most once per set (tens of seconds apart), so the fsync costs nothing a person
could notice.

A file that is not a readable journal (not SQLite, damaged, another program's database, or
written by a newer version) raises `JournalError` with one line; the file is never
modified or replaced.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.events import Record

#: "EXAS" - marks the file as ours, so another program's database is never migrated.
APPLICATION_ID = 0x45584153

#: Ordered schema migrations: migration N (1-based) brings `PRAGMA user_version` to N.
#: Never edit a released migration; append a new one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            routine TEXT NOT NULL,
            routine_path TEXT NOT NULL DEFAULT '',
            started_at TEXT NOT NULL,          -- ISO 8601 local wall time with offset
            start_epoch REAL NOT NULL,         -- the same instant, for ordering and filters
            local_date TEXT NOT NULL,          -- YYYY-MM-DD of started_at, the user's day
            ended_at TEXT,                     -- NULL while running or interrupted
            completed INTEGER NOT NULL DEFAULT 0,
            abandoned INTEGER NOT NULL DEFAULT 0,
            pauses INTEGER NOT NULL DEFAULT 0,
            tempo_changes INTEGER NOT NULL DEFAULT 0,
            seconds REAL NOT NULL DEFAULT 0,   -- session clock, summed over resumed runs
            paused_seconds REAL NOT NULL DEFAULT 0,
            resumes INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX sessions_by_path ON sessions (routine_path, id)",
        "CREATE INDEX sessions_by_start ON sessions (start_epoch)",
        """CREATE TABLE set_results (
            session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            exercise_index INTEGER NOT NULL,
            set_number INTEGER NOT NULL,       -- 1-based, as in the set_done record
            exercise TEXT NOT NULL,
            sets INTEGER,
            reps_done INTEGER,
            reps_target INTEGER,
            left_reps INTEGER,
            right_reps INTEGER,
            duration_done REAL,
            complete INTEGER NOT NULL,
            t REAL NOT NULL,
            PRIMARY KEY (session_id, exercise_index, set_number)
        )""",
        """CREATE TABLE exercise_results (
            session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            exercise_index INTEGER NOT NULL,
            exercise TEXT NOT NULL,
            sets_done INTEGER NOT NULL,
            skipped INTEGER NOT NULL,
            t REAL NOT NULL,
            PRIMARY KEY (session_id, exercise_index)
        )""",
        """CREATE TABLE checkins (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            moment TEXT NOT NULL CHECK (moment IN ('before', 'after')),
            value INTEGER NOT NULL CHECK (value BETWEEN 0 AND 10),
            t REAL NOT NULL
        )""",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            t REAL NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL                 -- JSON object: the record's fields
        )""",
    ),
    (
        # 1 when the session ended itself after the pause limit ("your progress is saved"):
        # offered to carry on like an interrupted session, until resumed or abandoned
        "ALTER TABLE sessions ADD COLUMN timed_out INTEGER NOT NULL DEFAULT 0",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)

#: The sessions that the next start of their routine offers to carry on: interrupted (no
#: end time), or ended by the pause limit; neither completed nor declined.
_OPEN = "(ended_at IS NULL OR timed_out) AND NOT completed AND NOT abandoned"

#: Records written in their own transaction the moment they arrive.
DURABLE_TYPES = frozenset({"session_start", "set_done", "exercise_end", "checkin", "session_end"})
#: Records not stored at all (the event log has them).
UNSTORED_TYPES = frozenset({"say", "rep"})


class JournalError(AssistantError):
    """The journal cannot be read or written; the message is one line, fit for a person."""


@dataclass(frozen=True)
class ResumePoint:
    """Where an interrupted session continues: exercise `exercise_index` (0-based, as in
    the records) at set number `set` (1-based, as in `set_done`)."""

    session_id: int
    routine: str
    routine_path: str
    started_at: datetime
    exercise_index: int
    set: int
    exercise: str | None  # its name when the journal has seen it, else None
    sets_worked: int = 0  # sets in which something was done (reps counted or time worked)


@dataclass(frozen=True)
class ExerciseSummary:
    index: int
    name: str
    sets_done: int
    sets_complete: int
    reps_done: int
    duration_done: float
    skipped: bool


@dataclass(frozen=True)
class SessionSummary:
    id: int
    routine: str
    routine_path: str
    started_at: datetime
    ended_at: datetime | None
    completed: bool
    abandoned: bool
    pauses: int
    tempo_changes: int
    seconds: float  # on the session clock, pauses included
    paused_seconds: float
    exercises: tuple[ExerciseSummary, ...]
    pain_before: int | None
    pain_after: int | None

    @property
    def day(self) -> date:
        """The user's local calendar day of the start."""
        return self.started_at.date()

    @property
    def active_minutes(self) -> float:
        return max(0.0, self.seconds - self.paused_seconds) / 60.0

    @property
    def reps(self) -> int:
        return sum(e.reps_done for e in self.exercises)


def parse_wall_time(text: str) -> datetime:
    """An ISO-8601 time; one without an offset is taken as local time."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.astimezone()


def _normal_path(path: str | os.PathLike[str] | None) -> str:
    if path is None or str(path) == "":
        return ""
    return os.path.realpath(os.fspath(path))


class Journal:
    """The session journal in one SQLite file. Open one per process; close it (or use it
    as a context manager) when done. Safe to read from another process while a session
    writes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._session: int | None = None
        self._resume: int | None = None
        self._origin: datetime | None = None  # wall time at t = 0 of the current run
        self._base_seconds = 0.0
        self._base_paused = 0.0
        self._new_run(0.0)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=10.0)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"{self.path}: cannot open the journal ({_one_line(exc)})") from None
        try:
            self._open()
        except sqlite3.Error as exc:
            self._db.close()
            raise JournalError(
                f"{self.path}: not a readable journal ({_one_line(exc)});"
                " the file was left as it is - move it aside to start a new journal"
            ) from None
        except JournalError:
            self._db.close()
            raise

    def _new_run(self, t: float) -> None:
        """The counters of one run from session time `t` (resuming a session starts a run)."""
        self._pauses = self._tempo_changes = 0
        self._paused_since: float | None = None
        self._paused_total = 0.0
        self._last_t = t
        self._timed_out = False  # this run ended itself after the pause limit
        self._buffer: list[tuple[int, float, str, str]] = []

    # --- opening and migrations ----------------------------------------------------------

    def _open(self) -> None:
        db = self._db
        # Read-only checks first: nothing is written to a file that is not ours.
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        app_id = int(db.execute("PRAGMA application_id").fetchone()[0])
        tables = int(db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
        if app_id != APPLICATION_ID and (app_id != 0 or tables or version):
            raise JournalError(
                f"{self.path}: this is not an exercise-assistant journal; the file was left"
                " as it is"
            )
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"{self.path}: written by a newer exercise-assistant (journal version"
                f" {version}, this one reads up to {SCHEMA_VERSION}); upgrade to open it"
            )
        problems = [row[0] for row in db.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise JournalError(
                f"{self.path}: the journal is damaged ({_one_line(problems[0])});"
                " the file was left as it is - move it aside to start a new journal"
            )
        db.execute("PRAGMA busy_timeout = 10000")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
        for number in range(version + 1, SCHEMA_VERSION + 1):
            with self._transaction():
                for statement in MIGRATIONS[number - 1]:
                    db.execute(statement)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing -------------------------------------------------------------------------

    @property
    def session_id(self) -> int | None:
        """The session being recorded, if any."""
        return self._session

    def resume(self, session_id: int) -> None:
        """Continue `session_id` (from `interrupted_session`) instead of starting a new one:
        the next `session_start` record attaches to it."""
        row = self._db.execute(f"SELECT {_OPEN} FROM sessions WHERE id = ?",
                               (session_id,)).fetchone()
        if row is None or not row[0]:
            raise JournalError(f"session {session_id} is not an interrupted session")
        self._resume = session_id

    def record(self, record: Record) -> None:
        """Take one record of the session's stream (see the module docstring)."""
        try:
            self._record(record)
        except sqlite3.Error as exc:
            raise JournalError(
                f"{self.path}: could not save to the journal ({_one_line(exc)})"
            ) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise JournalError(
                f"journal got a bad {record.type!r} record ({_one_line(exc)})"
            ) from None

    def _record(self, rec: Record) -> None:
        kind, data = rec.type, rec.data
        if kind == "session_start":
            self._start(rec)
            return
        session = self._session
        if session is None:
            raise JournalError(f"journal got a {kind!r} record before session_start")
        self._last_t = max(self._last_t, rec.t)
        if kind == "phase":
            self._phase(rec.t, str(data.get("phase", "")))
        elif kind == "timed_out":
            self._timed_out = True
        elif kind == "tempo":
            self._tempo_changes += 1
        if kind in DURABLE_TYPES:
            with self._transaction() as db:
                self._flush(db)
                self._write(db, session, rec)
            self._buffer.clear()  # only once committed: a failed write keeps them
            if kind == "session_end":
                self._session = None
        elif kind not in UNSTORED_TYPES:
            self._buffer.append((session, rec.t, kind, json.dumps(dict(data), default=str)))

    def _phase(self, t: float, phase: str) -> None:
        if phase == "paused":
            if self._paused_since is None:
                self._pauses += 1
                self._paused_since = t
        elif self._paused_since is not None:
            self._paused_total += max(0.0, t - self._paused_since)
            self._paused_since = None

    def _start(self, rec: Record) -> None:
        data = rec.data
        started_text = str(data.get("started_at") or datetime.now().astimezone().isoformat())
        try:
            started = parse_wall_time(started_text)
        except ValueError:
            raise JournalError(f"session_start has a bad started_at: {started_text!r}") from None
        self._origin = started - timedelta(seconds=rec.t)
        self._new_run(rec.t)
        with self._transaction() as db:
            if self._resume is not None:
                session = self._resume
                row = db.execute(
                    "SELECT seconds, paused_seconds, pauses, tempo_changes FROM sessions"
                    " WHERE id = ?",
                    (session,),
                ).fetchone()
                self._base_seconds, self._base_paused = float(row[0]), float(row[1])
                self._pauses, self._tempo_changes = int(row[2]), int(row[3])
                self._base_seconds -= rec.t
                # running again: no end time until this run ends (or is interrupted)
                db.execute("UPDATE sessions SET resumes = resumes + 1, ended_at = NULL,"
                           " timed_out = 0 WHERE id = ?", (session,))
            else:
                self._base_seconds = -rec.t
                self._base_paused = 0.0
                cursor = db.execute(
                    "INSERT INTO sessions (routine, routine_path, started_at, start_epoch,"
                    " local_date) VALUES (?, ?, ?, ?, ?)",
                    (
                        str(data.get("routine", "")),
                        _normal_path(data.get("path")),
                        started.isoformat(),
                        started.timestamp(),
                        started.date().isoformat(),
                    ),
                )
                session = int(cursor.lastrowid or 0)
        self._resume = None
        self._session = session

    def _flush(self, db: sqlite3.Connection) -> None:
        """Write buffered events and counters; inside the caller's transaction."""
        if self._buffer:
            db.executemany(
                "INSERT INTO events (session_id, t, type, data) VALUES (?, ?, ?, ?)",
                self._buffer,
            )
        paused = self._paused_total
        if self._paused_since is not None:
            paused += max(0.0, self._last_t - self._paused_since)
        db.execute(
            "UPDATE sessions SET pauses = ?, tempo_changes = ?, seconds = ?,"
            " paused_seconds = ? WHERE id = ?",
            (
                self._pauses,
                self._tempo_changes,
                max(0.0, self._base_seconds + self._last_t),
                self._base_paused + paused,
                self._session,
            ),
        )

    def _write(self, db: sqlite3.Connection, session: int, rec: Record) -> None:
        data = rec.data
        if rec.type == "set_done":
            sides = data.get("side_reps") or {}
            db.execute(
                "INSERT OR REPLACE INTO set_results (session_id, exercise_index, set_number,"
                " exercise, sets, reps_done, reps_target, left_reps, right_reps,"
                " duration_done, complete, t) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session,
                    int(data["exercise_index"]),
                    int(data["set"]),
                    str(data.get("exercise", "")),
                    _int_or_none(data.get("sets")),
                    _int_or_none(data.get("reps_done")),
                    _int_or_none(data.get("reps_target")),
                    _int_or_none(sides.get("left")),
                    _int_or_none(sides.get("right")),
                    _float_or_none(data.get("duration_done")),
                    1 if data.get("complete") else 0,
                    rec.t,
                ),
            )
        elif rec.type == "exercise_end":
            db.execute(
                "INSERT OR REPLACE INTO exercise_results (session_id, exercise_index,"
                " exercise, sets_done, skipped, t) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    session,
                    int(data["exercise_index"]),
                    str(data.get("exercise", "")),
                    int(data.get("sets_done") or 0),
                    1 if data.get("skipped") else 0,
                    rec.t,
                ),
            )
        elif rec.type == "checkin":
            db.execute(
                "INSERT INTO checkins (session_id, moment, value, t) VALUES (?, ?, ?, ?)",
                (session, str(data["when"]), int(data["value"]), rec.t),
            )
        elif rec.type == "session_end":
            assert self._origin is not None
            ended = self._origin + timedelta(seconds=rec.t)
            db.execute(
                "UPDATE sessions SET ended_at = ?, completed = ?, timed_out = ? WHERE id = ?",
                (ended.isoformat(), 1 if data.get("completed") else 0,
                 1 if self._timed_out else 0, session),
            )

    def mark_abandoned(self, session_id: int) -> None:
        """The user declined to resume `session_id`: it is never offered again."""
        with self._transaction() as db:
            cursor = db.execute("UPDATE sessions SET abandoned = 1 WHERE id = ?", (session_id,))
        if cursor.rowcount != 1:
            raise JournalError(f"no session {session_id} in the journal")

    # --- reading -------------------------------------------------------------------------

    def interrupted_session(
        self, routine_path: str | os.PathLike[str], exercises: int | None = None
    ) -> ResumePoint | None:
        """The latest session of this routine file, when it neither ended (or ended itself
        after the pause limit) nor was abandoned (an older interrupted session is never
        offered), with where to continue: after the
        last ended exercise, at the first set not completed. Give `exercises` (the routine's
        exercise count) to get None when every exercise was already done."""
        row = self._db.execute(
            f"SELECT id, routine, routine_path, started_at, {_OPEN}"
            " FROM sessions WHERE routine_path = ? ORDER BY id DESC LIMIT 1",
            (_normal_path(routine_path),),
        ).fetchone()
        if row is None or not row[4]:
            return None
        session = int(row[0])
        ended = self._db.execute(
            "SELECT max(exercise_index) FROM exercise_results WHERE session_id = ?", (session,)
        ).fetchone()[0]
        index = 0 if ended is None else int(ended) + 1
        name: str | None = None
        set_number = 1
        while True:
            sets = self._db.execute(
                "SELECT set_number, complete, sets, exercise FROM set_results"
                " WHERE session_id = ? AND exercise_index = ? ORDER BY set_number",
                (session, index),
            ).fetchall()
            if not sets:
                break
            name = str(sets[-1][3])
            complete = {int(s[0]) for s in sets if s[1]}
            set_number = 1
            while set_number in complete:
                set_number += 1
            total = sets[-1][2]
            if total is None or set_number <= int(total):
                break
            index, set_number, name = index + 1, 1, None  # every set done; exercise_end lost
        if name is None:
            known = self._db.execute(
                "SELECT exercise FROM set_results WHERE exercise_index = ? AND session_id IN"
                " (SELECT id FROM sessions WHERE routine_path = ?) ORDER BY session_id DESC"
                " LIMIT 1",
                (index, row[2]),
            ).fetchone()
            name = None if known is None else str(known[0])
        if exercises is not None and index >= exercises:
            return None
        return ResumePoint(
            session_id=session,
            routine=str(row[1]),
            routine_path=str(row[2]),
            started_at=parse_wall_time(str(row[3])),
            exercise_index=index,
            set=set_number,
            exercise=name,
            sets_worked=int(self._db.execute(
                "SELECT count(*) FROM set_results WHERE session_id = ? AND (complete"
                " OR coalesce(reps_done, 0) > 0 OR coalesce(duration_done, 0) > 0)",
                (session,),
            ).fetchone()[0]),
        )

    def sessions(
        self, limit: int | None = None, since: date | datetime | None = None
    ) -> list[SessionSummary]:
        """Sessions, newest first. `since` is a local day (inclusive) or an instant."""
        where: str = ""
        args: list[Any] = []
        if isinstance(since, datetime):
            moment = since if since.tzinfo is not None else since.astimezone()
            where, args = "WHERE start_epoch >= ?", [moment.timestamp()]
        elif isinstance(since, date):
            where, args = "WHERE local_date >= ?", [since.isoformat()]
        query = (
            "SELECT id, routine, routine_path, started_at, ended_at, completed, abandoned,"
            f" pauses, tempo_changes, seconds, paused_seconds FROM sessions {where}"
            " ORDER BY start_epoch DESC, id DESC"
        )
        if limit is not None:
            query += " LIMIT ?"
            args.append(int(limit))
        rows = self._db.execute(query, args).fetchall()
        return [self._summary(row) for row in rows]

    def _summary(self, row: Sequence[Any]) -> SessionSummary:
        session = int(row[0])
        exercises: dict[int, dict[str, Any]] = {}
        for index, name, sets_done, complete, reps, duration in self._db.execute(
            "SELECT exercise_index, exercise, count(*), sum(complete), sum(coalesce(reps_done,"
            " 0)), sum(coalesce(duration_done, 0)) FROM set_results WHERE session_id = ?"
            " GROUP BY exercise_index",
            (session,),
        ):
            exercises[int(index)] = dict(name=name, sets_done=int(sets_done),
                                         sets_complete=int(complete or 0), reps_done=int(reps or 0),
                                         duration_done=float(duration or 0.0), skipped=False)
        for index, name, sets_done, skipped in self._db.execute(
            "SELECT exercise_index, exercise, sets_done, skipped FROM exercise_results"
            " WHERE session_id = ?",
            (session,),
        ):  # an exercise ended with no set recorded (skipped) has only this row
            entry = exercises.setdefault(int(index), dict(name=name, sets_complete=0,
                                                          reps_done=0, duration_done=0.0))
            entry.update(sets_done=int(sets_done), skipped=bool(skipped))
        # the first rating before the session, and the last one after it
        before, after = (
            self._db.execute(
                "SELECT value FROM checkins WHERE session_id = ? AND moment = ?"
                f" ORDER BY id {order} LIMIT 1",
                (session, moment),
            ).fetchone()
            for moment, order in (("before", "ASC"), ("after", "DESC"))
        )
        return SessionSummary(
            id=session,
            routine=str(row[1]),
            routine_path=str(row[2]),
            started_at=parse_wall_time(str(row[3])),
            ended_at=None if row[4] is None else parse_wall_time(str(row[4])),
            completed=bool(row[5]),
            abandoned=bool(row[6]),
            pauses=int(row[7]),
            tempo_changes=int(row[8]),
            seconds=float(row[9]),
            paused_seconds=float(row[10]),
            exercises=tuple(ExerciseSummary(index=i, **exercises[i]) for i in sorted(exercises)),
            pain_before=None if before is None else int(before[0]),
            pain_after=None if after is None else int(after[0]),
        )

    def active_days(
        self,
        routine: str,
        weeks: int,
        today: date | None = None,
        exercise: str | None = None,
    ) -> list[date]:
        """The local days, in the last `weeks` ISO weeks (this one included), on which
        `routine` (by name) was exercised: a day counts when a session recorded at least
        one complete set (of `exercise`, when given). Sorted, oldest first."""
        today = today or date.today()
        first = today - timedelta(days=today.weekday()) - timedelta(weeks=max(0, weeks - 1))
        query = (
            "SELECT DISTINCT s.local_date FROM sessions s JOIN set_results r"
            " ON r.session_id = s.id WHERE s.routine = ? AND r.complete AND s.local_date >= ?"
            " AND s.local_date <= ?"
        )
        args: list[Any] = [routine, first.isoformat(), today.isoformat()]
        if exercise is not None:
            query += " AND r.exercise = ?"
            args.append(exercise)
        return sorted(date.fromisoformat(r[0]) for r in self._db.execute(query, args))

    def events(self, session_id: int) -> Iterator[Record]:
        """The stored (non-durable) records of a session, in order."""
        for t, kind, data in self._db.execute(
            "SELECT t, type, data FROM events WHERE session_id = ? ORDER BY id", (session_id,)
        ):
            yield Record(float(t), str(kind), json.loads(data))


def _one_line(problem: object) -> str:
    return " ".join(str(problem).split())


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)
