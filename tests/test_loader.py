"""The routine loader: the valid format into exact values, and every kind of bad input into
exact FILE:LINE:COL lines."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from assistant import loader, yamlfile
from assistant.errors import RoutineError, RoutineErrors
from assistant.loader import load_routine, load_routine_text, validate_paths
from assistant.routine import (
    DEFAULT_TEMPO,
    Cue,
    Exercise,
    Routine,
    Sides,
    Target,
    Tempo,
    TempoPhase,
    Voice,
)

FULL = """\
name: Every feature
description: >
  Tests every feature
  of the format.
safety: "  Stop if it hurts.  "
voice: {name: english, rate: 150, volume: 0.8}
checkin: pain
defaults:
  sets: 3
  rest: 1m30s
  countdown: 5
  sides: alternate
  tempo: 2.5
  hold: 1
exercises:
  - name: Walk
    duration: 1h
    sets: 1
    sides: none
    rest: 0
    cues:
      - every: 10m
        say: "{remaining} to go, {elapsed} done."
      - at: 50%
        say: Halfway there.
      - at: 12.5%
        say: Good start.
      - at: 45m
        say: "{{Fifteen}} minutes left."
    target: {days_per_week: 5}
  - name: Knees to chest
    position: seated
    instructions: Sit tall.
    reps: 10
    tempo: {raise: 2s, lower: 1.5s, pause: 0.5}
    hold: 0
  - name: Side plank
    duration: 45s
    sides: each
    sets: 1
    countdown: 0
  - name: Squat
    reps: 8
    sets: 2
    sides: none
    tempo: 3s
    rest: "20"
  - name: March
    duration: 90
  - name: Stretch
    duration: 1.5m
    rest: 1m
"""

EXPECTED_FULL = Routine(
    name="Every feature",
    description="Tests every feature of the format.",
    safety="Stop if it hurts.",
    voice=Voice(name="english", rate=150, volume=0.8),
    checkin="pain",
    source="full.yaml",
    exercises=(
        Exercise(
            name="Walk",
            duration=3600.0,
            sets=1,
            sides=Sides.NONE,
            tempo=DEFAULT_TEMPO,
            hold=0.0,
            rest=0.0,
            countdown=5,
            cues=(
                Cue(say="{remaining} to go, {elapsed} done.", every=600.0),
                Cue(say="Halfway there.", at_fraction=0.5),
                Cue(say="Good start.", at_fraction=0.125),
                Cue(say="{{Fifteen}} minutes left.", at_seconds=2700.0),
            ),
            target=Target(5),
        ),
        Exercise(
            name="Knees to chest",
            position="seated",
            instructions="Sit tall.",
            reps=10,
            sets=3,
            sides=Sides.ALTERNATE,
            tempo=Tempo(
                (TempoPhase("raise", 2.0), TempoPhase("lower", 1.5), TempoPhase("pause", 0.5))
            ),
            hold=0.0,
            rest=90.0,
            countdown=5,
        ),
        Exercise(
            name="Side plank",
            duration=45.0,
            sets=1,
            sides=Sides.EACH,
            tempo=DEFAULT_TEMPO,
            hold=0.0,
            rest=90.0,
            countdown=0,
        ),
        Exercise(
            name="Squat",
            reps=8,
            sets=2,
            sides=Sides.NONE,
            tempo=Tempo.per_rep(3.0),
            hold=1.0,
            rest=20.0,
            countdown=5,
        ),
        Exercise(
            name="March",
            duration=90.0,
            sets=3,
            sides=Sides.ALTERNATE,
            rest=90.0,
            countdown=5,
        ),
        Exercise(
            name="Stretch",
            duration=90.0,
            sets=3,
            sides=Sides.ALTERNATE,
            rest=60.0,
            countdown=5,
        ),
    ),
)


def errors_of(text: str | bytes, source: str = "r.yaml") -> list[str]:
    """The lines a bad routine gives (and fails when it loads)."""
    with pytest.raises(RoutineErrors) as caught:
        load_routine_text(text, source)
    return [str(e) for e in caught.value.errors]


def routine_with(exercise: str, top: str = "") -> str:
    """A routine of one exercise given as indented YAML lines (starting on line 4)."""
    return f"name: R\n{top}exercises:\n  - name: A\n{exercise}"


# --- the valid format -------------------------------------------------------------------


def test_every_feature_of_the_format_loads_into_exact_values() -> None:
    """Durations in every form, sides, tempo phases in file order, cues every/at%/at time,
    defaults overridden per exercise, voice and check-in all become these exact values."""
    assert load_routine_text(FULL, "full.yaml") == EXPECTED_FULL


def test_a_minimal_routine_gets_the_built_in_defaults() -> None:
    """Without defaults, an exercise gets 1 set, no sides, 3 s per rep, no hold, 30 s rest
    and a 3-second countdown; the routine gets no text, voice or check-in."""
    routine = load_routine_text("name: R\nexercises:\n  - {name: A, reps: 5}\n", "m.yaml")
    assert routine == Routine(name="R", exercises=(Exercise(name="A", reps=5),), source="m.yaml")
    assert routine.exercises[0] == Exercise(
        name="A",
        reps=5,
        sets=1,
        sides=Sides.NONE,
        tempo=Tempo.per_rep(3.0),
        hold=0.0,
        rest=30.0,
        countdown=3,
    )


def test_load_routine_reads_a_file_and_records_its_path_as_source(tmp_path: Path) -> None:
    """load_routine gives the same value as the text, with source set to the path given."""
    path = tmp_path / "full.yaml"
    path.write_text(FULL, encoding="utf-8")
    assert load_routine(path) == Routine(**{**EXPECTED_FULL.__dict__, "source": str(path)})


def test_a_utf8_byte_order_mark_and_bytes_input_are_accepted() -> None:
    """Bytes that start with a UTF-8 BOM load like the same text without it."""
    text = "name: Café\nexercises:\n  - {name: Étirement, duration: 30s}\n"
    assert load_routine_text(b"\xef\xbb\xbf" + text.encode(), "b.yaml") == load_routine_text(
        text, "b.yaml"
    )


def test_whole_numbers_written_as_floats_and_limits_are_accepted() -> None:
    """2.0 counts as the whole number 2, and every range includes both of its ends."""
    routine = load_routine_text(
        routine_with(
            "    sets: 20\n    reps: 200.0\n    tempo: 0.3\n    hold: 119.7\n"
            "    rest: 1h\n    countdown: 10\n    target: {days_per_week: 7}\n",
            top="voice: {rate: 400, volume: 0}\n",
        ),
        "r.yaml",
    )
    exercise = routine.exercises[0]
    assert (exercise.sets, exercise.reps, exercise.tempo, exercise.hold) == (
        20,
        200,
        Tempo.per_rep(0.3),
        119.7,
    )
    assert (exercise.rest, exercise.countdown, exercise.target) == (3600.0, 10, Target(7))
    assert routine.voice == Voice(rate=400, volume=0.0)


def test_the_example_of_design_section_4_loads() -> None:
    """The routine shown in DESIGN section 4 is valid and has the three exercises."""
    routine = load_routine(Path(__file__).parent.parent / "assistant/exercises/upper-back.yaml")
    assert [e.name for e in routine.exercises] == ["Brisk walk", "Knees to chest", "Bird dog"]


# --- bad input: one exact line per problem ----------------------------------------------

BAD = {
    "unknown key close to a known one suggests it": (
        routine_with("    reps: 3\n    sest: 2\n"),
        ["r.yaml:5:5: unknown key 'sest'; did you mean 'sets'?"],
    ),
    "unknown key far from all lists the allowed keys": (
        routine_with("    reps: 3\n    colour: red\n"),
        [
            "r.yaml:5:5: unknown key 'colour'; allowed keys: name, instructions, position, "
            "sets, reps, duration, sides, tempo, hold, rest, countdown, cues, target"
        ],
    ),
    "unknown top-level key suggests the close one": (
        "name: R\nexcercises:\n  - {name: A, reps: 1}\n",
        [
            "r.yaml:1:1: missing required key 'exercises'",
            "r.yaml:2:1: unknown key 'excercises'; did you mean 'exercises'?",
        ],
    ),
    "wrong type says what was expected and what was found": (
        routine_with("    reps: 3\n    sets: three\n"),
        ["r.yaml:5:11: sets: expected a whole number from 1 to 20, got 'three'"],
    ),
    "a boolean is not a number": (
        routine_with("    reps: yes\n"),
        ["r.yaml:4:11: reps: expected a whole number from 1 to 200, got yes (a true/false value)"],
    ),
    "a number is not text": (
        "name: 1984\nexercises:\n  - {name: A, reps: 1}\n",
        ["r.yaml:1:7: name: expected text, got 1984; put it in quotes"],
    ),
    "duplicate key is reported at the second one": (
        routine_with("    reps: 3\n    reps: 4\n"),
        ["r.yaml:5:5: duplicate key 'reps' (first at line 4)"],
    ),
    "values out of range": (
        routine_with(
            "    reps: 201\n    sets: 0\n    rest: 2h\n    countdown: 2.5\n    hold: -1\n"
        ),
        [
            "r.yaml:4:11: reps: expected a whole number from 1 to 200, got 201",
            "r.yaml:5:11: sets: expected a whole number from 1 to 20, got 0",
            "r.yaml:6:11: rest: expected a duration from 0s to 1h (such as 45s, 2m or 1m30s), "
            "got '2h'",
            "r.yaml:7:16: countdown: expected a whole number from 0 to 10, got 2.5",
            "r.yaml:8:11: hold: expected a duration from 0s to 2m (such as 45s, 2m or 1m30s), "
            "got -1",
        ],
    ),
    "a duration that is not one": (
        routine_with("    duration: 1m30\n"),
        [
            "r.yaml:4:15: duration: expected a duration from 1s to 4h "
            "(such as 45s, 2m or 1m30s), got '1m30'"
        ],
    ),
    "reps and duration both": (
        routine_with("    reps: 3\n    duration: 30s\n"),
        ["r.yaml:5:5: duration: an exercise has reps or a duration, not both"],
    ),
    "reps and duration neither": (
        routine_with("    sets: 2\n"),
        ["r.yaml:3:5: exercises[1]: missing 'reps' or 'duration' (one is required)"],
    ),
    "tempo and hold on a timed exercise": (
        routine_with("    duration: 30s\n    tempo: 2\n    hold: 1\n"),
        [
            "r.yaml:5:5: tempo: only exercises counted in reps have a tempo; "
            "this one has a duration",
            "r.yaml:6:5: hold: only exercises counted in reps have a hold; this one has a duration",
        ],
    ),
    "one rep longer than two minutes": (
        routine_with("    reps: 3\n    tempo: {up: 60s, down: 50s}\n    hold: 20s\n"),
        [
            "r.yaml:6:11: hold: expected one rep (tempo plus hold) of at most 2m, got 2m10s",
        ],
    ),
    "a tempo phase that is too short and a phase word that is not a word": (
        routine_with("    reps: 3\n    tempo: {up: 0.2, 2: 1s}\n"),
        [
            "r.yaml:5:17: tempo.up: expected a duration from 0.3s to 1m "
            "(such as 45s, 2m or 1m30s), got 0.2",
            "r.yaml:5:22: tempo: expected a phase word such as raise or lower "
            "(letters, at most 30), got 2",
        ],
    ),
    "unknown template name": (
        "name: R\nsafety: Do {reps_left} more.\nexercises:\n  - {name: A, reps: 1}\n",
        [
            "r.yaml:2:9: safety: unknown template name {reps_left}; use one of {elapsed}, "
            "{exercise}, {remaining}, {rep}, {reps}, {set}, {sets}, {side}"
        ],
    ),
    "templates that are not plain names": (
        routine_with("    reps: 1\n    instructions: '{set.x} {rep[0]} {rep!r} {reps:>10}'\n"),
        [
            f"r.yaml:5:19: instructions: template {{{t}}} is not a plain name; use one of "
            "{elapsed}, {exercise}, {remaining}, {rep}, {reps}, {set}, {sets}, {side}"
            for t in ("set.x", "rep[0]", "rep!r", "reps:>10")
        ],
    ),
    "unbalanced braces in a cue": (
        routine_with("    duration: 1m\n    cues:\n      - {every: 10s, say: 'a } b'}\n"),
        [
            "r.yaml:6:27: cues[1].say: bad braces in text (Single '}' encountered in format "
            "string); write {{ and }} for literal braces"
        ],
    ),
    "cue problems": (
        routine_with(
            "    duration: 1m\n    cues:\n      - {every: 2m, say: a}\n      - {at: 0%, say: a}\n"
            "      - {at: 61s, say: a}\n      - {at: 5s, every: 5s, say: a}\n"
            "      - {say: a}\n      - {at: 50%}\n      - {every: 4s, say: a}\n"
            "      - {at: half, say: a}\n"
        ),
        [
            "r.yaml:6:17: cues[1].every: expected at most the exercise's duration (1m), got 2m",
            "r.yaml:7:14: cues[2].at: expected a share of the set above 0% and up to 100%, "
            "or a duration such as 45s or 1m30s, got '0%'",
            "r.yaml:8:14: cues[3].at: expected a time within the set (1m), got 1m1s",
            "r.yaml:9:18: cues[4]: a cue has every or at, not both",
            "r.yaml:10:9: cues[5]: missing 'every' or 'at' (one is required)",
            "r.yaml:11:9: cues[6]: missing required key 'say'",
            "r.yaml:12:17: cues[7].every: expected a duration from 5s to 4h "
            "(such as 45s, 2m or 1m30s), got '4s'",
            "r.yaml:13:14: cues[8].at: expected a share of the set above 0% and up to 100%, "
            "or a duration such as 45s or 1m30s, got 'half'",
        ],
    ),
    "a cue time after the end of a set of reps": (
        routine_with("    reps: 2\n    tempo: 5s\n    cues:\n      - {at: 11s, say: a}\n"),
        ["r.yaml:7:14: cues[1].at: expected a time within the set (10s), got 11s"],
    ),
    "voice, check-in and target out of range": (
        "name: R\nvoice: {rate: 79, volume: 1.5, pitch: 2}\ncheckin: mood\n"
        "exercises:\n  - {name: A, reps: 1, target: {days_per_week: 8}}\n",
        [
            "r.yaml:2:15: voice.rate: expected a whole number from 80 to 400, got 79",
            "r.yaml:2:27: voice.volume: expected a number from 0 to 1, got 1.5",
            "r.yaml:2:32: voice: unknown key 'pitch'; allowed keys: name, rate, volume",
            "r.yaml:3:10: checkin: expected one of pain, got 'mood'",
            "r.yaml:5:48: target.days_per_week: expected a whole number from 1 to 7, got 8",
        ],
    ),
    "an exercise-only key in defaults": (
        "name: R\ndefaults: {reps: 3, rset: 1}\nexercises:\n  - {name: A, reps: 1}\n",
        [
            "r.yaml:2:12: defaults: 'reps' belongs to each exercise and cannot be a default; "
            "defaults may hold sets, sides, tempo, hold, rest, countdown",
            "r.yaml:2:21: defaults: unknown key 'rset'; did you mean 'sets'?",
        ],
    ),
    "two exercises with the same name": (
        "name: R\nexercises:\n  - {name: Bird dog, reps: 1}\n  - {name: ' bird  DOG', reps: 2}\n",
        [
            "r.yaml:4:12: name: exercise 'bird  DOG' is already in this routine (line 3); "
            "give each exercise its own name"
        ],
    ),
    "no exercises": (
        "name: R\nexercises: []\n",
        ["r.yaml:2:12: exercises: expected a list of at least one exercise, got an empty list"],
    ),
    "an exercise that is not a mapping": (
        "name: R\nexercises:\n  - Bird dog\n",
        [
            "r.yaml:3:5: exercises[1]: expected an exercise (a mapping with name and reps or "
            "duration), got 'Bird dog'"
        ],
    ),
    "empty name and missing exercise name": (
        "name: ' '\nexercises:\n  - {reps: 1}\n",
        [
            "r.yaml:1:7: name: expected text, got an empty text",
            "r.yaml:3:5: exercises[1]: missing required key 'name'",
        ],
    ),
    "a list at top level": (
        "- name: R\n- exercises: []\n",
        ["r.yaml:1:1: a routine file must be a mapping with name and exercises, got a list"],
    ),
    "plain text at top level": (
        "hello\n",
        ["r.yaml:1:1: a routine file must be a mapping with name and exercises, got 'hello'"],
    ),
    "an empty file": (
        "",
        ["r.yaml:1:1: the file is empty; a routine needs at least a name and exercises"],
    ),
    "a file of comments only": (
        "# nothing here\n",
        ["r.yaml:1:1: the file is empty; a routine needs at least a name and exercises"],
    ),
    "a python tag": (
        "name: !!python/object/apply:os.system [echo hi]\nexercises:\n  - {name: A, reps: 1}\n",
        ["r.yaml:1:7: tag !!python/object/apply:os.system is not allowed in routine files"],
    ),
    "a local tag": (
        "name: !secret R\nexercises:\n  - {name: A, reps: 1}\n",
        ["r.yaml:1:7: tag !secret is not allowed in routine files"],
    ),
    "a standard tag that does not fit its value": (
        "name: R\nexercises:\n  - {name: A, reps: !!int ten}\n",
        ["r.yaml:3:21: 'ten' is not a valid !!int"],
    ),
    "an alias": (
        "name: &n R\nexercises:\n  - {name: *n, reps: 1}\n",
        ["r.yaml:3:12: aliases (*name) are not allowed in routine files"],
    ),
    "nesting deeper than 20 levels": (
        "name: " + "[" * 30 + "]" * 30 + "\n",
        ["r.yaml:1:26: nesting is deeper than 20 levels; a routine needs 5"],
    ),
    "a huge number": (
        routine_with("    reps: " + "9" * 5000 + "\n"),
        ["r.yaml:4:11: the number 99999999999999999999... has too many digits"],
    ),
    "an infinite duration": (
        routine_with("    duration: .inf\n"),
        [
            "r.yaml:4:15: duration: expected a duration from 1s to 4h "
            "(such as 45s, 2m or 1m30s), got .inf"
        ],
    ),
    "binary junk": (
        b"\x00\x01\x02\x03PNG\x00",
        ["r.yaml:1:1: the file holds the control character U+0000; a routine file is plain text"],
    ),
    "a NUL byte in text": (
        "name: R\nsafety: a\x00b\n",
        ["r.yaml:2:10: the file holds the control character U+0000; a routine file is plain text"],
    ),
    "bytes that are not UTF-8": (
        b"name: R\nsafety: caf\xe9\n",
        ["r.yaml:2:12: the file is not UTF-8 text (byte 0xe9 cannot be read); save it as UTF-8"],
    ),
    "a lone surrogate in text": (
        "name: R\u00e9\ud800\n",
        ["r.yaml:1:9: the text holds U+D800, not valid Unicode"],
    ),
    "a control character written as an escape in a quoted string": (
        'name: "R\\x07"\nexercises:\n  - {name: A, reps: 1}\n',
        ["r.yaml:1:7: name: the text holds the control character U+0007"],
    ),
    "YAML syntax error": (
        "name: R: S\n",
        ["r.yaml:1:8: invalid YAML: mapping values are not allowed in this context"],
    ),
    "two YAML documents": (
        "name: R\nexercises:\n  - {name: A, reps: 1}\n---\nname: S\n",
        ["r.yaml:4:1: a routine file holds one YAML document; remove the second"],
    ),
    "a !!binary value": (
        "name: !!binary aGVsbG8=\nexercises:\n  - {name: A, reps: 1}\n",
        ["r.yaml:1:7: tag !!binary is not allowed in routine files"],
    ),
    "a list tagged as a mapping": (
        "name: R\nexercises: !!map\n  - {name: A, reps: 1}\n",
        ["r.yaml:2:12: a list cannot be !!map"],
    ),
    "UTF-16 text": (
        "name: R\n".encode("utf-16"),
        ["r.yaml:1:1: the file is not UTF-8 text (byte 0xff cannot be read); save it as UTF-8"],
    ),
    "a number too large for a float, and a date for a number": (
        routine_with("    reps: 1.0e+999\n    sets: 2024-01-01\n"),
        [
            "r.yaml:4:11: reps: expected a whole number from 1 to 200, got 1.0e+999",
            "r.yaml:5:11: sets: expected a whole number from 1 to 20, got '2024-01-01'",
        ],
    ),
    "a merge key and its alias": (
        "base: &b {reps: 1}\nname: R\nexercises:\n  - {<<: *b, name: A}\n",
        [
            "r.yaml:1:1: unknown key 'base'; allowed keys: name, description, safety, voice, "
            "checkin, defaults, exercises",
            "r.yaml:4:5: exercises[1]: missing 'reps' or 'duration' (one is required)",
            "r.yaml:4:6: unknown key '<<'; allowed keys: name, instructions, position, sets, "
            "reps, duration, sides, tempo, hold, rest, countdown, cues, target",
            "r.yaml:4:10: aliases (*name) are not allowed in routine files",
        ],
    ),
    "tempo phases adding up to more than two minutes, in an exercise and in defaults": (
        "name: R\ndefaults: {tempo: {a: 60, b: 60, c: 1}}\n"
        "exercises:\n  - {name: A, reps: 1, tempo: {up: 50s, down: 50s, hold: 30s}}\n",
        [
            "r.yaml:2:19: defaults.tempo: expected phases that add up to at most 2m, got 2m1s",
            "r.yaml:4:31: tempo: expected phases that add up to at most 2m, got 2m10s",
        ],
    ),
    "lists and mappings of the wrong kind": (
        "name: R\nexercises:\n  - {name: A, reps: 1, cues: {every: 5s}}\n  - null\n"
        "  - {name: B, duration: 1m, cues: [[1], {at: 2m, say: x}]}\n",
        [
            "r.yaml:3:30: cues: expected a list of cues, each with every or at, and say, "
            "got a mapping",
            "r.yaml:4:5: exercises[2]: expected an exercise (a mapping with name and reps or "
            "duration), got nothing",
            "r.yaml:5:36: cues[1]: expected a cue (a mapping with every or at, and say), "
            "got a list",
            "r.yaml:5:46: cues[2].at: expected a time within the set (1m), got 2m",
        ],
    ),
    "a mapping or a list where a duration belongs": (
        routine_with("    reps: 1\n    rest: {a: 1}\n    hold: [1]\n"),
        [
            "r.yaml:5:11: rest: expected a duration from 0s to 1h (such as 45s, 2m or 1m30s), "
            "got a mapping",
            "r.yaml:6:11: hold: expected a duration from 0s to 2m (such as 45s, 2m or 1m30s), "
            "got a list",
        ],
    ),
    "a key that is a list": (
        "name: R\n[a]: 1\nexercises:\n  - {name: A, reps: 1}\n",
        ["r.yaml:2:1: a key must be a plain name, not a list"],
    ),
}


@pytest.mark.parametrize(("text", "expected"), list(BAD.values()), ids=list(BAD))
def test_bad_input_gives_exactly_these_located_lines(
    text: str | bytes, expected: list[str]
) -> None:
    """Each kind of bad input gives exactly these FILE:LINE:COL: message lines, in order."""
    assert errors_of(text) == expected


def test_every_problem_in_a_file_is_reported_in_file_order() -> None:
    """Problems in different exercises and levels are all listed, sorted by line and column."""
    text = (
        "name: R\n"
        "exercises:\n"
        "  - {name: A, reps: 0}\n"
        "  - {name: B, duration: 1s, sides: both}\n"
        "safty: x\n"
    )
    assert errors_of(text) == [
        "r.yaml:3:21: reps: expected a whole number from 1 to 200, got 0",
        "r.yaml:4:36: sides: expected one of none, alternate, each, got 'both'",
        "r.yaml:5:1: unknown key 'safty'; did you mean 'safety'?",
    ]


def test_junk_with_thousands_of_problems_stops_after_the_limit() -> None:
    """A file with more than MAX_ERRORS problems lists MAX_ERRORS of them and then says so."""
    text = "name: R\nexercises:\n" + "".join(
        f"  - {{name: E{i:03}, reps: 1, x: 1}}\n" for i in range(150)
    )
    lines = errors_of(text)
    assert len(lines) == yamlfile.MAX_ERRORS + 1
    assert lines[-1] == f"r.yaml:{yamlfile.MAX_ERRORS + 3}:27: more than 100 problems; stopping"


def test_a_routine_with_too_many_exercises_is_refused() -> None:
    """More exercises than the schema's maxItems (200) is one problem at the exercises list."""
    most = loader.SCHEMA["properties"]["exercises"]["maxItems"]
    text = "name: R\nexercises:\n" + "".join(
        f"  - {{name: E{i}, reps: 1}}\n" for i in range(most + 1)
    )
    assert errors_of(text) == ["r.yaml:3:3: exercises: expected at most 200 exercises, got 201"]


def test_text_longer_than_the_limit_is_refused() -> None:
    """Spoken text over MAX_TEXT_CHARS characters is a problem at that text."""
    text = "name: R\nsafety: " + "a" * 2001 + "\nexercises:\n  - {name: A, reps: 1}\n"
    assert errors_of(text) == [
        "r.yaml:2:9: safety: expected text of at most 2000 characters, got 2001"
    ]


# --- files ------------------------------------------------------------------------------


def test_a_missing_file_is_one_error_at_line_1(tmp_path: Path) -> None:
    """A path that does not exist gives 'no such file' at 1:1."""
    path = tmp_path / "gone.yaml"
    with pytest.raises(RoutineErrors) as caught:
        load_routine(path)
    assert [str(e) for e in caught.value.errors] == [f"{path}:1:1: no such file"]


def test_a_directory_is_one_error_at_line_1(tmp_path: Path) -> None:
    """A directory gives 'this is a folder' at 1:1."""
    with pytest.raises(RoutineErrors) as caught:
        load_routine(tmp_path)
    assert [str(e) for e in caught.value.errors] == [
        f"{tmp_path}:1:1: this is a folder, not a routine file"
    ]


def test_an_unreadable_file_is_one_error_at_line_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file the user may not read gives 'permission denied' at 1:1."""
    path = tmp_path / "secret.yaml"
    path.write_text("name: R\n")

    def denied(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(yamlfile, "open", denied, raising=False)
    with pytest.raises(RoutineErrors) as caught:
        load_routine(path)
    assert [str(e) for e in caught.value.errors] == [
        f"{path}:1:1: permission denied: cannot read this file"
    ]


def test_a_file_over_the_size_limit_is_refused_without_parsing(tmp_path: Path) -> None:
    """A file over MAX_FILE_BYTES is one error at 1:1."""
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (loader.MAX_FILE_BYTES + 1))
    with pytest.raises(RoutineErrors) as caught:
        load_routine(path)
    assert [str(e) for e in caught.value.errors] == [
        f"{path}:1:1: the file is larger than 1 MB; a routine file is much smaller"
    ]


def test_a_device_file_is_refused() -> None:
    """Something that is not a regular file (here /dev/null) is refused at 1:1."""
    with pytest.raises(RoutineErrors) as caught:
        load_routine("/dev/null")
    assert [str(e) for e in caught.value.errors] == ["/dev/null:1:1: this is not a regular file"]


def test_validate_paths_lists_the_problems_of_every_file_in_order(tmp_path: Path) -> None:
    """validate_paths is empty for valid files and gives each bad file's lines in turn."""
    good = tmp_path / "good.yaml"
    good.write_text("name: R\nexercises:\n  - {name: A, reps: 1}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: R\nexercises:\n  - {name: A, reps: 1, sets: 99}\n")
    missing = tmp_path / "missing.yaml"
    assert validate_paths([good]) == []
    problems = validate_paths([bad, good, missing])
    assert all(isinstance(p, RoutineError) for p in problems)
    assert [str(p) for p in problems] == [
        f"{bad}:3:30: sets: expected a whole number from 1 to 20, got 99",
        f"{missing}:1:1: no such file",
    ]


# --- speed: hostile files are refused quickly ---------------------------------------------

BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
)

HOSTILE = {
    "alias bomb": BOMB,
    "a megabyte of list items": "- 1\n" * (loader.MAX_FILE_BYTES // 4 - 1),
    "a megabyte of brackets": "[" * (loader.MAX_FILE_BYTES - 1),
    "a megabyte of one word": "a" * (loader.MAX_FILE_BYTES - 1),
    "a megabyte of digits in a duration": "name: R\nexercises:\n  - {name: A, duration: '"
    + "1" * (loader.MAX_FILE_BYTES - 100)
    + "x'}\n",
    "a megabyte of text in the safety note": "name: R\nsafety: "
    + "word " * (loader.MAX_FILE_BYTES // 5 - 10)
    + "\nexercises: [{name: A, reps: 1}]\n",
}


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_files_are_refused_in_well_under_a_second(text: str) -> None:
    """An alias bomb or a megabyte of junk is refused with RoutineErrors in under 0.5 s of
    processor time (not wall time, which other processes on a busy machine lengthen)."""
    start = time.process_time()
    with pytest.raises(RoutineErrors):
        load_routine_text(text, "h.yaml")
    assert time.process_time() - start < 0.5


def test_an_alias_bomb_reports_each_alias_and_expands_nothing() -> None:
    """Each of the bomb's 72 aliases is refused at its own position."""
    lines = errors_of(BOMB)
    aliases = [
        line for line in lines if line.endswith("aliases (*name) are not allowed in routine files")
    ]
    assert len(aliases) == 72
    assert aliases[0] == "r.yaml:2:8: aliases (*name) are not allowed in routine files"
