"""The journal: what a session's record stream becomes, resume points, and bad files.

`session_records` here builds record streams the way the session emits them; the crash
and history tests import it too."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from assistant.events import Record
from assistant.journal import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    ExerciseSummary,
    Journal,
    JournalError,
    ResumePoint,
)

TZ = timezone(timedelta(hours=2))


@dataclass(frozen=True)
class Ex:
    """An exercise as the stream generator sees it."""

    name: str
    sets: int = 2
    reps: int | None = 10
    duration: float | None = None
    alternate: bool = False


UPPER_BACK = (
    Ex("Brisk walk", sets=1, reps=None, duration=1800.0),
    Ex("Knees to chest", sets=2, reps=10, alternate=True),
    Ex("Bird dog", sets=2, reps=8, alternate=True),
)


def session_records(
    started_at: datetime,
    exercises: Iterable[Ex] = UPPER_BACK,
    *,
    routine: str = "Upper back relief",
    path: str = "/routines/upper-back.yaml",
    pain: tuple[int | None, int | None] = (None, None),
    stop_after_sets: int | None = None,
    skip: Iterable[str] = (),
    short_sets: Iterable[tuple[int, int]] = (),
    pauses: Iterable[float] = (),
    tempo_changes: int = 0,
    rep_seconds: float = 4.0,
    rest: float = 30.0,
) -> list[Record]:
    """Records as the session emits them. `stop_after_sets` cuts the stream right after
    that many `set_done` records (a crash); `skip` names exercises skipped at their start;
    `short_sets` are (exercise_index, set) pairs ended early with half the reps; `pauses`
    are pause lengths (seconds) taken in the first set of the first repetition exercise."""
    out: list[Record] = []
    t = 0.0

    def emit(type_: str, **data: object) -> None:
        out.append(Record(t, type_, data))

    emit("session_start", routine=routine, path=path, started_at=started_at.isoformat())
    emit("say", text="If you do not know what causes your back pain...", kind="instruction")
    if pain[0] is not None:
        emit("say", text="How is your pain, from zero to ten?", kind="prompt")
        t += 3.0
        emit("heard", command="number", text=str(pain[0]), confidence=0.9, start=t, end=t)
        emit("checkin", when="before", value=pain[0])
    sets_done_total = 0
    skipped = set(skip)
    short = set(short_sets)
    pause_list = list(pauses)
    for index, ex in enumerate(exercises):
        emit("say", text=f"{ex.name}.", kind="instruction")
        if ex.name in skipped:
            emit("heard", command="skip", text="skip", confidence=0.8, start=t, end=t + 0.4)
            emit("command", command="skip", source="voice")
            emit("exercise_end", exercise=ex.name, exercise_index=index, sets_done=0, skipped=True)
            continue
        for number in range(1, ex.sets + 1):
            emit("phase", phase="ready")
            t += 3.0
            emit("phase", phase="work")
            complete = (index, number) not in short
            if ex.duration is not None:
                duration = ex.duration if complete else ex.duration / 2
                t += duration
                emit(
                    "set_done",
                    exercise=ex.name,
                    exercise_index=index,
                    set=number,
                    sets=ex.sets,
                    reps_done=0,
                    reps_target=0,
                    side_reps=None,
                    duration_done=duration,
                    complete=complete,
                )
            else:
                assert ex.reps is not None
                target = ex.reps * (2 if ex.alternate else 1)
                done = target if complete else target // 2
                for rep in range(1, done + 1):
                    side = ("left" if rep % 2 else "right") if ex.alternate else None
                    t += rep_seconds
                    emit("rep", exercise=ex.name, set=number, rep=rep, side=side)
                    emit("say", text=str((rep + 1) // 2 if ex.alternate else rep), kind="count")
                    while pause_list and number == 1 and rep == 2:
                        emit("heard", command="pause", text="pause", confidence=0.9, start=t, end=t)
                        emit("command", command="pause", source="voice")
                        emit("phase", phase="paused")
                        t += pause_list.pop(0)
                        emit("command", command="resume", source="voice")
                        emit("phase", phase="work")
                for _ in range(tempo_changes if index == 1 and number == 1 else 0):
                    emit("command", command="slower", source="keyboard")
                    emit("tempo", exercise=ex.name, factor=0.9)
                sides = {"left": (done + 1) // 2, "right": done // 2} if ex.alternate else None
                emit(
                    "set_done",
                    exercise=ex.name,
                    exercise_index=index,
                    set=number,
                    sets=ex.sets,
                    reps_done=done,
                    reps_target=target,
                    side_reps=sides,
                    complete=complete,
                )
            sets_done_total += 1
            if stop_after_sets is not None and sets_done_total >= stop_after_sets:
                return out
            emit("phase", phase="rest")
            t += rest
        emit(
            "exercise_end", exercise=ex.name, exercise_index=index, sets_done=ex.sets, skipped=False
        )
    if pain[1] is not None:
        t += 3.0
        emit("checkin", when="after", value=pain[1])
    emit("phase", phase="done")
    emit("say", text="Well done.", kind="instruction")
    emit("session_end", completed=True)
    return out


def feed(journal: Journal, records: Iterable[Record]) -> None:
    for record in records:
        journal.record(record)


START = datetime(2026, 3, 2, 7, 30, tzinfo=TZ)


@pytest.fixture
def journal(tmp_path: Path) -> Iterable[Journal]:
    with Journal(tmp_path / "journal.sqlite3") as j:
        yield j


def test_new_journal_is_at_the_latest_schema_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    """A new journal file is created with user_version = the number of migrations, WAL
    journal mode, and synchronous=FULL on the journal's connection."""
    path = tmp_path / "sub" / "journal.sqlite3"
    with Journal(path) as j:
        assert j.schema_version == SCHEMA_VERSION == 2
        assert j._db.execute("PRAGMA synchronous").fetchone()[0] == 2
    other = sqlite3.connect(path)
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert other.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    other.close()


def test_a_completed_session_is_summarised_exactly(journal: Journal) -> None:
    """A full upper-back session with pain check-ins, two pauses and one tempo change is
    summarised with exact sets, reps, durations, pains, pauses and times."""
    records = session_records(START, pain=(6, 4), pauses=(20.0, 10.0), tempo_changes=1)
    feed(journal, records)
    [s] = journal.sessions()
    assert (s.routine, s.routine_path, s.completed, s.abandoned) == (
        "Upper back relief",
        "/routines/upper-back.yaml",
        True,
        False,
    )
    assert s.started_at == START
    assert s.ended_at == START + timedelta(seconds=records[-1].t)
    assert s.seconds == records[-1].t
    assert (s.pauses, s.paused_seconds, s.tempo_changes) == (2, 30.0, 1)
    assert (s.pain_before, s.pain_after) == (6, 4)
    assert s.exercises == (
        ExerciseSummary(0, "Brisk walk", 1, 1, 0, 1800.0, False),
        ExerciseSummary(1, "Knees to chest", 2, 2, 40, 0.0, False),
        ExerciseSummary(2, "Bird dog", 2, 2, 32, 0.0, False),
    )
    assert s.reps == 72


def test_side_reps_and_incomplete_sets_are_stored_per_set(journal: Journal) -> None:
    """A set ended early keeps its reps done, target, per-side counts and complete=0."""
    feed(journal, session_records(START, short_sets=[(2, 2)]))
    rows = journal._db.execute(
        "SELECT exercise_index, set_number, reps_done, reps_target, left_reps, right_reps,"
        " complete FROM set_results WHERE exercise_index = 2 ORDER BY set_number"
    ).fetchall()
    assert rows == [(2, 1, 16, 16, 8, 8, 1), (2, 2, 8, 16, 4, 4, 0)]


def test_each_set_is_committed_when_its_record_arrives(journal: Journal) -> None:
    """A second connection sees a set the moment set_done is recorded, and buffered
    command/phase records only once the next durable record commits them."""
    records = session_records(START)
    first_set = next(i for i, r in enumerate(records) if r.type == "set_done")
    feed(journal, records[: first_set + 1])
    reader = sqlite3.connect(journal.path)
    assert reader.execute("SELECT count(*) FROM set_results").fetchone()[0] == 1
    events_before = reader.execute("SELECT count(*) FROM events").fetchone()[0]
    journal.record(Record(2000.0, "command", {"command": "repeat", "source": "voice"}))
    assert reader.execute("SELECT count(*) FROM events").fetchone()[0] == events_before
    journal.record(Record(2001.0, "checkin", {"when": "after", "value": 3}))
    assert reader.execute("SELECT count(*) FROM events").fetchone()[0] == events_before + 1
    reader.close()


def test_say_and_rep_records_are_not_stored_but_commands_are(journal: Journal) -> None:
    """The events table keeps command, heard, phase and tempo records and never say/rep."""
    feed(journal, session_records(START, pain=(5, 3), tempo_changes=2))
    [s] = journal.sessions()
    kinds = [r.type for r in journal.events(s.id)]
    assert set(kinds) == {"command", "heard", "phase", "tempo"}
    assert kinds.count("tempo") == 2


def test_a_record_before_session_start_is_an_error(journal: Journal) -> None:
    """Recording a set with no session started raises JournalError."""
    with pytest.raises(JournalError, match="before session_start"):
        journal.record(Record(1.0, "set_done", {"exercise_index": 0, "set": 1}))


def test_a_record_missing_its_fields_is_an_error_and_saves_nothing(journal: Journal) -> None:
    """A set_done without exercise_index raises JournalError, adds no set, and keeps the
    buffered command for the next commit."""
    feed(journal, session_records(START)[:1])
    journal.record(Record(1.0, "command", {"command": "pause", "source": "key"}))
    with pytest.raises(JournalError, match="bad 'set_done' record"):
        journal.record(Record(2.0, "set_done", {"set": 1}))
    assert journal._db.execute("SELECT count(*) FROM set_results").fetchone()[0] == 0
    assert journal._db.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    journal.record(Record(3.0, "checkin", {"when": "before", "value": 4}))
    assert [r.type for r in journal.events(1)] == ["command"]


@pytest.mark.parametrize(
    ("stop_after_sets", "short", "expected"),
    [
        (1, (), (1, 1, None)),  # the walk is done, exercise_end lost; next name unseen
        (2, (), (1, 2, "Knees to chest")),  # first set of knees-to-chest done
        (3, (), (2, 1, None)),  # all sets of knees-to-chest, no exercise_end yet
        (4, (), (2, 2, "Bird dog")),
        (4, ((2, 1),), (2, 1, "Bird dog")),  # bird dog set 1 ended early: do it again
    ],
)
def test_interrupted_session_resumes_at_the_first_set_not_completed(
    journal: Journal,
    stop_after_sets: int,
    short: tuple[tuple[int, int], ...],
    expected: tuple[int, int, str | None],
) -> None:
    """A stream cut after N sets is offered for resume at the exercise index and set
    number of the first set not completed."""
    feed(journal, session_records(START, stop_after_sets=stop_after_sets, short_sets=short))
    point = journal.interrupted_session("/routines/upper-back.yaml")
    assert point is not None
    assert (point.exercise_index, point.set, point.exercise) == expected
    assert (point.routine, point.started_at) == ("Upper back relief", START)


def test_a_session_whose_exercises_all_ended_is_not_offered_when_the_count_is_given(
    journal: Journal,
) -> None:
    """Every exercise ended but session_end lost: resume point is past the last exercise,
    so with exercises=3 nothing is offered."""
    records = session_records(START)
    cut = max(i for i, r in enumerate(records) if r.type == "exercise_end")
    feed(journal, records[: cut + 1])
    point = journal.interrupted_session("/routines/upper-back.yaml")
    assert point is not None and (point.exercise_index, point.set) == (3, 1)
    assert journal.interrupted_session("/routines/upper-back.yaml", exercises=3) is None


def test_completed_ended_and_other_routines_sessions_are_not_offered(journal: Journal) -> None:
    """Only the latest session of the same routine file is offered, and only when it did
    not end: a later completed session hides an older interrupted one."""
    feed(journal, session_records(START, stop_after_sets=2))
    feed(journal, session_records(START + timedelta(days=1)))
    assert journal.interrupted_session("/routines/upper-back.yaml") is None
    feed(journal, session_records(START + timedelta(days=2), stop_after_sets=2))
    assert journal.interrupted_session("/routines/other.yaml") is None
    assert journal.interrupted_session("/routines/upper-back.yaml") is not None


def test_declining_to_resume_marks_the_session_abandoned(journal: Journal) -> None:
    """After mark_abandoned the session is not offered again and stays not completed."""
    feed(journal, session_records(START, stop_after_sets=2))
    point = journal.interrupted_session("/routines/upper-back.yaml")
    assert point is not None
    journal.mark_abandoned(point.session_id)
    assert journal.interrupted_session("/routines/upper-back.yaml") is None
    [s] = journal.sessions()
    assert (s.completed, s.abandoned, s.ended_at) == (False, True, None)
    with pytest.raises(JournalError):
        journal.mark_abandoned(999)


def test_resuming_continues_the_same_session_row(journal: Journal) -> None:
    """resume(id) then a new run from the resume point adds its sets to the interrupted
    session, which ends completed with the session seconds of both runs."""
    first = session_records(START, stop_after_sets=2)
    feed(journal, first)
    point = journal.interrupted_session("/routines/upper-back.yaml")
    assert isinstance(point, ResumePoint)
    journal.resume(point.session_id)
    later = START + timedelta(hours=1)
    second = [r for r in session_records(later) if _from_point(r, point)]
    feed(journal, second)
    [s] = journal.sessions()
    assert s.completed and s.id == point.session_id
    assert [(e.name, e.sets_done, e.reps_done) for e in s.exercises] == [
        ("Brisk walk", 1, 0),
        ("Knees to chest", 2, 40),
        ("Bird dog", 2, 32),
    ]
    assert s.seconds == first[-1].t + second[-1].t
    assert s.ended_at == later + timedelta(seconds=second[-1].t)
    assert journal.interrupted_session("/routines/upper-back.yaml") is None


def _from_point(record: Record, point: ResumePoint) -> bool:
    """Keep the records a session started at `point` would emit (start, end, and the
    sets from the point on)."""
    index = record.data.get("exercise_index")
    if index is None:
        return True
    position = (int(index), int(record.data.get("set", 10**6)))
    return position >= (point.exercise_index, point.set)


def test_sessions_are_newest_first_and_filter_by_day_and_limit(journal: Journal) -> None:
    """sessions() orders by start, newest first; since=date keeps that local day on;
    limit keeps the newest N."""
    for day in range(5):
        feed(journal, session_records(START + timedelta(days=day)))
    starts = [s.started_at.day for s in journal.sessions()]
    assert starts == [6, 5, 4, 3, 2]
    assert [s.started_at.day for s in journal.sessions(since=date(2026, 3, 4))] == [6, 5, 4]
    assert [s.started_at.day for s in journal.sessions(limit=2)] == [6, 5]
    since = datetime(2026, 3, 5, 5, 0, tzinfo=timezone.utc)  # 07:00 local: before 07:30
    assert [s.started_at.day for s in journal.sessions(since=since)] == [6, 5]


def test_active_days_count_days_with_a_complete_set(journal: Journal) -> None:
    """active_days lists the local days in the last N ISO weeks with a complete set of the
    routine (or of one exercise), ignoring days where it was skipped."""
    feed(journal, session_records(START))  # Monday 2 March
    feed(journal, session_records(START + timedelta(days=2), skip=["Brisk walk"]))
    feed(journal, session_records(START - timedelta(days=7)))  # the week before
    today = date(2026, 3, 6)
    assert journal.active_days("Upper back relief", 1, today) == [
        date(2026, 3, 2),
        date(2026, 3, 4),
    ]
    assert journal.active_days("Upper back relief", 1, today, exercise="Brisk walk") == [
        date(2026, 3, 2)
    ]
    assert len(journal.active_days("Upper back relief", 2, today)) == 3
    assert journal.active_days("Other", 2, today) == []


# --- files that are not a readable journal ----------------------------------------------


def _assert_refused_untouched(path: Path, pattern: str) -> None:
    before = path.read_bytes()
    with pytest.raises(JournalError, match=pattern) as info:
        Journal(path)
    assert "\n" not in str(info.value)
    assert path.read_bytes() == before
    assert not Path(str(path) + "-wal").exists() or Path(str(path) + "-wal").stat().st_size == 0


def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(tmp_path: Path) -> None:
    """Text in the journal's place gives a one-line JournalError and the bytes stay."""
    path = tmp_path / "journal.sqlite3"
    path.write_text("my shopping list\n" * 100)
    _assert_refused_untouched(path, "not a readable journal")


def test_another_programs_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    """An SQLite file without the journal's application id is not migrated or changed."""
    path = tmp_path / "journal.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (text TEXT)")
    db.execute("INSERT INTO notes VALUES ('keep me')")
    db.commit()
    db.close()
    _assert_refused_untouched(path, "not an exercise-assistant journal")


def test_a_journal_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    """A journal whose user_version is above this program's schema is refused unchanged."""
    path = tmp_path / "journal.sqlite3"
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    _assert_refused_untouched(path, "newer exercise-assistant")


def test_a_damaged_journal_is_refused_and_left_untouched(tmp_path: Path) -> None:
    """A journal with a page overwritten by garbage fails the integrity check on open."""
    path = tmp_path / "journal.sqlite3"
    with Journal(path) as j:
        for day in range(30):
            feed(j, session_records(START + timedelta(days=day), pain=(5, 3)))
    size = path.stat().st_size
    assert size > 8 * 4096
    with path.open("r+b") as f:
        f.seek(3 * 4096)
        f.write(b"\xa5" * 4096)
    _assert_refused_untouched(path, "damaged|not a readable journal")


def test_a_truncated_journal_is_refused_and_left_untouched(tmp_path: Path) -> None:
    """A journal cut to half its length is refused with one line and not rewritten."""
    path = tmp_path / "journal.sqlite3"
    with Journal(path) as j:
        for day in range(30):
            feed(j, session_records(START + timedelta(days=day)))
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)
    _assert_refused_untouched(path, "damaged|not a readable journal")


def test_an_empty_file_becomes_a_new_journal(tmp_path: Path) -> None:
    """A zero-byte file (nothing to lose) is initialised as a new journal."""
    path = tmp_path / "journal.sqlite3"
    path.touch()
    with Journal(path) as j:
        assert j.schema_version == SCHEMA_VERSION


def _ended_early(t0: datetime, *, timed_out: bool) -> list[Record]:
    """Two sets done, then paused in the next set and ended: by the pause limit (a
    `timed_out` record, the exercise left open) or by the person ("end workout", yes)."""
    records = session_records(t0, stop_after_sets=2)
    t = records[-1].t + 10.0
    records.append(Record(t, "phase", {"phase": "paused"}))
    if timed_out:
        records.append(Record(t + 60.0, "timed_out", {"pause_limit": 60.0}))
    else:
        records.append(Record(t + 5.0, "exercise_end", {
            "exercise": "Knees to chest", "exercise_index": 1, "sets_done": 1,
            "skipped": False}))
    records += [Record(t + 65.0, "phase", {"phase": "done"}),
                Record(t + 65.0, "session_end", {"completed": False})]
    return records


def test_a_session_ended_by_the_pause_limit_is_offered_and_one_ended_by_the_person_is_not(
    journal: Journal,
) -> None:
    """A session that ended itself after the pause limit is offered to carry on from the
    first set not completed (as an interrupted one is); one the person ended is not."""
    feed(journal, _ended_early(START, timed_out=True))
    point = journal.interrupted_session("/routines/upper-back.yaml", exercises=3)
    assert point is not None
    assert (point.exercise_index, point.set, point.exercise) == (1, 2, "Knees to chest")
    [s] = journal.sessions()
    assert (s.completed, s.ended_at is not None) == (False, True)
    feed(journal, _ended_early(START + timedelta(days=1), timed_out=False))
    assert journal.interrupted_session("/routines/upper-back.yaml") is None


def test_a_timed_out_session_carried_on_to_the_end_is_no_longer_offered(
    journal: Journal,
) -> None:
    """Resumed after the pause limit, the session has no end time while it runs (a crash
    then still offers it); once it completes it is not offered again."""
    feed(journal, _ended_early(START, timed_out=True))
    point = journal.interrupted_session("/routines/upper-back.yaml")
    assert point is not None
    journal.resume(point.session_id)
    later = START + timedelta(hours=1)
    second = [r for r in session_records(later) if _from_point(r, point)]
    feed(journal, second[:3])  # started again, then killed
    [s] = journal.sessions()
    assert s.ended_at is None
    assert journal.interrupted_session("/routines/upper-back.yaml") == point
    journal.resume(point.session_id)
    feed(journal, second)
    [s] = journal.sessions()
    assert s.completed and s.id == point.session_id
    assert journal.interrupted_session("/routines/upper-back.yaml") is None


def test_a_version_1_journal_is_migrated_and_keeps_its_interrupted_session(
    tmp_path: Path,
) -> None:
    """A journal written before the timed_out column opens at the latest version with its
    sessions, and its interrupted session is still offered."""
    path = tmp_path / "journal.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0]:
        db.execute(statement)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO sessions (routine, routine_path, started_at, start_epoch,"
               " local_date) VALUES ('Upper back relief', '/routines/upper-back.yaml', ?, ?,"
               " '2026-03-02')", (START.isoformat(), START.timestamp()))
    db.close()
    with Journal(path) as j:
        assert j.schema_version == SCHEMA_VERSION == 2
        point = j.interrupted_session("/routines/upper-back.yaml")
        assert point is not None and (point.session_id, point.exercise_index) == (1, 0)
