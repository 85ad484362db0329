"""The JSON Schema is the one description of the routine format: a proper draft 2020-12
schema for editors, whose words the loader's messages are made of, and which gives the same
verdict as the loader on valid and invalid routines."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from assistant import loader
from assistant.errors import RoutineErrors
from assistant.routine import template_problems
from assistant.validation import Checker, did_you_mean, format_seconds

SCHEMA_PATH = Path(loader.__file__).with_name("routine.schema.json")
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
DEFS = SCHEMA["$defs"]
TOP = SCHEMA["properties"]
EXERCISE = DEFS["exercise"]["properties"]
BUNDLED = sorted((SCHEMA_PATH.parent / "exercises").glob("*.yaml"))


def schema_accepts(text: str) -> bool:
    return VALIDATOR.is_valid(yaml.safe_load(text))


def loader_accepts(text: str) -> bool:
    try:
        loader.load_routine_text(text, "x.yaml")
    except RoutineErrors:
        return False
    return True


def objects(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema with properties, and where it is."""
    if isinstance(node, dict):
        if "properties" in node:
            yield path, node
        for key, value in node.items():
            yield from objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from objects(value, f"{path}/{index}")


def number_bounds(subschema: dict[str, Any]) -> tuple[float, float]:
    """(minimum, maximum) of a whole-number schema or of a duration's number branch."""
    if "$ref" in subschema and "anyOf" not in subschema:
        subschema = DEFS[subschema["$ref"].split("/")[-1]]
    branch = next((b for b in subschema.get("anyOf", []) if b.get("type") == "number"), subschema)
    return branch["minimum"], branch["maximum"]


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    """The shipped file is itself a valid JSON Schema of draft 2020-12."""
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_every_mapping_refuses_unknown_keys_and_every_key_is_described() -> None:
    """Every object in the schema has additionalProperties false, and every property has a
    description for editors to show."""
    found = list(objects(SCHEMA))
    assert len(found) == 6  # routine, voice, defaults, exercise, target, cue
    for path, node in found:
        if node.get("type") == "object":
            assert node["additionalProperties"] is False, path
        for key, prop in node["properties"].items():
            assert prop.get("description"), f"{path}/{key}"


TEXT_RANGES = {
    "rest": ("  - {name: A, reps: 1, rest: '%s'}\n", EXERCISE["rest"], "rest"),
    "duration": ("  - {name: A, duration: '%s'}\n", EXERCISE["duration"], "duration"),
    "tempo": ("  - {name: A, reps: 1, tempo: '%s'}\n", DEFS["tempoSeconds"], "tempo"),
    "cue every": (
        "  - {name: A, duration: 4h, cues: [{every: '%s', say: a}]}\n",
        DEFS["cue"]["properties"]["every"],
        "cues[1].every",
    ),
}


@pytest.mark.parametrize(("line", "subschema", "label"), list(TEXT_RANGES.values()),
                         ids=list(TEXT_RANGES))
def test_a_duration_written_as_text_is_held_to_the_schemas_range(
    line: str, subschema: dict[str, Any], label: str
) -> None:
    """A pattern cannot bound a duration written as text, so the loader does, with the
    schema's own ends: both ends are accepted, a second beyond either is refused in words."""
    lo, hi = loader.CHECKER.bounds(subschema)
    for seconds in (lo, hi):
        assert loader_accepts("name: R\nexercises:\n" + line % format_seconds(seconds))
    for seconds in (hi + 1, *([lo - 0.1] if lo >= 0.1 else [])):
        text = "name: R\nexercises:\n" + line % format_seconds(seconds)
        with pytest.raises(RoutineErrors) as caught:
            loader.load_routine_text(text, "x.yaml")
        assert [e.message for e in caught.value.errors] == [
            f"{label}: expected a duration from {format_seconds(lo)} to {format_seconds(hi)} "
            f"(such as 45s, 2m or 1m30s), got '{format_seconds(seconds)}'"
        ]


EXPECTED = {
    "a whole number": (EXERCISE["sets"], "sets", "a whole number from 1 to 20"),
    "a number": (TOP["voice"]["properties"]["volume"], "voice.volume", "a number from 0 to 1"),
    "a choice": (EXERCISE["sides"], "sides", "one of none, alternate, each"),
    "a duration": (EXERCISE["rest"], "rest", "a duration from 0s to 1h (such as 45s, 2m or 1m30s)"),
    "a tempo as a value": (
        EXERCISE["tempo"], "tempo", "a duration from 0.3s to 1m (such as 45s, 2m or 1m30s)"
    ),
    "a text": (DEFS["name"], "name", "text"),
    "a mapping": (TOP["defaults"], "defaults", "a mapping"),
    "a shape the routine names": (
        TOP["exercises"], "exercises", "a list of at least one exercise"
    ),
    "an item the routine names": (
        DEFS["exercise"], "exercises[3]", "an exercise (a mapping with name and reps or duration)"
    ),
}


@pytest.mark.parametrize(("subschema", "label", "words"), list(EXPECTED.values()),
                         ids=list(EXPECTED))
def test_what_a_value_should_be_is_read_from_the_schema(
    subschema: dict[str, Any], label: str, words: str
) -> None:
    """The words after "expected" come from the schema's type, range, enum or anyOf (or, for
    the routine's lists and mappings, from its own names for them)."""
    assert loader.CHECKER.expected(subschema, label) == words


def test_labels_name_a_value_from_its_exercise() -> None:
    """A path is a dotted label with 1-based indexes; inside an exercise the routine names it
    from the exercise."""
    path = ("exercises", 0, "cues", 1, "at")
    assert Checker(SCHEMA).label(path) == "exercises[1].cues[2].at"
    assert loader.CHECKER.label(path) == "cues[2].at"
    assert loader.CHECKER.label(("voice", "rate")) == "voice.rate"


@pytest.mark.parametrize(("seconds", "text"), [(0.3, "0.3s"), (0, "0s"), (45, "45s"),
                                               (90, "1m30s"), (90.5, "1m30.5s"), (130, "2m10s"),
                                               (3600, "1h"), (3661, "1h1m1s"), (14400, "4h")])
def test_format_seconds_writes_a_duration_as_a_routine_does(seconds: float, text: str) -> None:
    """Seconds are written in hours, minutes and seconds, leaving out the parts that are 0."""
    assert format_seconds(seconds) == text


def test_did_you_mean_finds_a_close_key_only() -> None:
    """A misspelt key gets the closest allowed one; a key close to none gets None."""
    assert did_you_mean("volum", ["voice", "volume"]) == "volume"
    assert did_you_mean("colour", ["sets", "reps"]) is None


def test_not_a_number_is_not_a_number() -> None:
    """.nan passes no range check, so the schema's "number" refuses it (and true/false)."""
    text = "name: R\nvoice: {volume: .nan}\nexercises:\n  - {name: A, reps: 1}\n"
    with pytest.raises(RoutineErrors) as caught:
        loader.load_routine_text(text, "x.yaml")
    assert [str(e) for e in caught.value.errors] == [
        "x.yaml:2:17: voice.volume: expected a number from 0 to 1, got .nan"
    ]


TEMPLATES = [
    "{remaining} to go.",
    "Set {set} of {sets}, rep {rep} of {reps}, {side} side, {elapsed} done. {exercise}",
    "Literal {{braces}} are fine.",
    "{{remaining}}",
    "{reps_left}",
    "{set.x}",
    "{rep[0]}",
    "{rep!r}",
    "{reps:>10}",
    "{}",
    "a } b",
    "a { b",
    "{{{set}}}",
    "{{{set}}",
]


@pytest.mark.parametrize("text", TEMPLATES)
def test_the_spoken_text_pattern_agrees_with_template_problems(text: str) -> None:
    """The schema's pattern for spoken text accepts a text exactly when template_problems
    finds nothing wrong with it."""
    pattern = DEFS["spokenText"]["pattern"]
    assert (re.search(pattern, text) is not None) == (template_problems(text) == [])


DURATIONS = [
    "45s",
    "2m",
    "1m30s",
    "1h",
    "1.5m",
    "90",
    "1m 2s",
    "0.5s",
    "1m30",
    "x",
    "",
    "m",
    "-5",
    "1e3",
    "5S",
]


@pytest.mark.parametrize("text", DURATIONS)
def test_the_duration_pattern_accepts_what_the_loader_accepts(text: str) -> None:
    """A rest written as text (here always within 0s..1h, a range a pattern cannot check)
    is accepted by the schema exactly when the loader accepts it."""
    doc = f"name: R\nexercises:\n  - {{name: A, reps: 1, rest: {json.dumps(text)}}}\n"
    assert schema_accepts(doc) == loader_accepts(doc)


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_bundled_routines_validate_against_the_schema(path: Path) -> None:
    """Every bundled routine is valid for editors too."""
    errors = [e.message for e in VALIDATOR.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


VALID = {
    "minimal": "name: R\nexercises:\n  - {name: A, reps: 1}\n",
    "timed with cues": (
        "name: R\nexercises:\n  - name: A\n    duration: 10m\n    cues:\n"
        "      - {every: 1m, say: '{remaining} left'}\n      - {at: 50%, say: Half.}\n"
        "      - {at: 2m, say: Two.}\n      - {at: 100%, say: End.}\n"
    ),
    "named tempo, defaults, voice, checkin": (
        "name: R\nvoice: {name: en, rate: 80, volume: 1}\ncheckin: pain\n"
        "defaults: {sets: 2, sides: each, tempo: 1.5, hold: 2s, rest: 0, countdown: 0}\n"
        "exercises:\n  - {name: A, reps: 3, tempo: {up: 1s, down: 2}, target: {days_per_week: 1}}\n"
    ),
    "a whole number written as a float": "name: R\nexercises:\n  - {name: A, reps: 2.0}\n",
}

INVALID = {
    "no name": "exercises:\n  - {name: A, reps: 1}\n",
    "no exercises": "name: R\n",
    "empty exercises": "name: R\nexercises: []\n",
    "unknown top-level key": "name: R\nexercises:\n  - {name: A, reps: 1}\ncolour: red\n",
    "unknown exercise key": "name: R\nexercises:\n  - {name: A, reps: 1, sest: 2}\n",
    "exercise-only key in defaults": (
        "name: R\ndefaults: {reps: 2}\nexercises:\n  - {name: A, reps: 1}\n"
    ),
    "reps and duration": "name: R\nexercises:\n  - {name: A, reps: 1, duration: 5s}\n",
    "neither reps nor duration": "name: R\nexercises:\n  - {name: A}\n",
    "tempo on a timed exercise": "name: R\nexercises:\n  - {name: A, duration: 5s, tempo: 2}\n",
    "sets as text": "name: R\nexercises:\n  - {name: A, reps: 1, sets: three}\n",
    "sets as a boolean": "name: R\nexercises:\n  - {name: A, reps: 1, sets: true}\n",
    "sets too many": "name: R\nexercises:\n  - {name: A, reps: 1, sets: 21}\n",
    "reps a fraction": "name: R\nexercises:\n  - {name: A, reps: 1.5}\n",
    "bad sides": "name: R\nexercises:\n  - {name: A, reps: 1, sides: both}\n",
    "duration too short": "name: R\nexercises:\n  - {name: A, duration: 0.5}\n",
    "duration not a duration": "name: R\nexercises:\n  - {name: A, duration: 1m30}\n",
    "tempo phase too long": "name: R\nexercises:\n  - {name: A, reps: 1, tempo: {up: 61}}\n",
    "tempo phase word with a digit": (
        "name: R\nexercises:\n  - {name: A, reps: 1, tempo: {up2: 1}}\n"
    ),
    "empty tempo": "name: R\nexercises:\n  - {name: A, reps: 1, tempo: {}}\n",
    "countdown a fraction": "name: R\nexercises:\n  - {name: A, reps: 1, countdown: 2.5}\n",
    "cue with every and at": (
        "name: R\nexercises:\n  - {name: A, duration: 1m, cues: [{every: 5s, at: 5s, say: a}]}\n"
    ),
    "cue without say": "name: R\nexercises:\n  - {name: A, duration: 1m, cues: [{every: 5s}]}\n",
    "cue every too often": (
        "name: R\nexercises:\n  - {name: A, duration: 1m, cues: [{every: 4, say: a}]}\n"
    ),
    "cue at 0%": "name: R\nexercises:\n  - {name: A, duration: 1m, cues: [{at: 0%, say: a}]}\n",
    "cue at 101%": (
        "name: R\nexercises:\n  - {name: A, duration: 1m, cues: [{at: 101%, say: a}]}\n"
    ),
    "unknown template": "name: R\nsafety: '{foo}'\nexercises:\n  - {name: A, reps: 1}\n",
    "attribute template": "name: R\nsafety: '{set.x}'\nexercises:\n  - {name: A, reps: 1}\n",
    "blank name": "name: ' '\nexercises:\n  - {name: A, reps: 1}\n",
    "name as a number": "name: 12\nexercises:\n  - {name: A, reps: 1}\n",
    "voice rate too slow": "name: R\nvoice: {rate: 79}\nexercises:\n  - {name: A, reps: 1}\n",
    "voice volume too loud": "name: R\nvoice: {volume: 1.1}\nexercises:\n  - {name: A, reps: 1}\n",
    "unknown checkin": "name: R\ncheckin: mood\nexercises:\n  - {name: A, reps: 1}\n",
    "days per week 8": (
        "name: R\nexercises:\n  - {name: A, reps: 1, target: {days_per_week: 8}}\n"
    ),
    "a list at top level": "- name: R\n",
    "text too long": "name: R\nsafety: " + "a" * 2001 + "\nexercises:\n  - {name: A, reps: 1}\n",
}


@pytest.mark.parametrize("text", list(VALID.values()), ids=list(VALID))
def test_valid_examples_are_accepted_by_both(text: str) -> None:
    """The loader and the schema both accept this routine."""
    assert (loader_accepts(text), schema_accepts(text)) == (True, True)


@pytest.mark.parametrize("text", list(INVALID.values()), ids=list(INVALID))
def test_invalid_examples_are_rejected_by_both(text: str) -> None:
    """The loader and the schema both reject this routine."""
    assert (loader_accepts(text), schema_accepts(text)) == (False, False)
