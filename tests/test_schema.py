"""The JSON Schema for editors stays in step with the loader: same keys, same ranges, same
patterns, and the same verdict on valid and invalid routines."""

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


def test_allowed_and_required_keys_equal_the_loaders_at_every_level() -> None:
    """Each mapping of the schema allows exactly the keys the loader allows, and requires
    the same ones."""
    assert set(TOP) == set(loader.ROUTINE_KEYS)
    assert set(SCHEMA["required"]) == set(loader.ROUTINE_REQUIRED)
    assert set(EXERCISE) == set(loader.EXERCISE_KEYS)
    assert set(DEFS["exercise"]["required"]) == set(loader.EXERCISE_REQUIRED)
    assert set(TOP["defaults"]["properties"]) == set(loader.DEFAULTS_KEYS)
    assert set(TOP["voice"]["properties"]) == set(loader.VOICE_KEYS)
    assert set(DEFS["cue"]["properties"]) == set(loader.CUE_KEYS)
    assert set(EXERCISE["target"]["properties"]) == set(loader.TARGET_KEYS)
    assert EXERCISE["sides"]["enum"] == list(loader.SIDES)
    assert TOP["checkin"]["enum"] == list(loader.CHECKINS)


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


RANGES = {
    "sets": (EXERCISE["sets"], loader.SETS_RANGE),
    "reps": (EXERCISE["reps"], loader.REPS_RANGE),
    "duration": (EXERCISE["duration"], loader.DURATION_RANGE),
    "hold": (EXERCISE["hold"], loader.HOLD_RANGE),
    "rest": (EXERCISE["rest"], loader.REST_RANGE),
    "countdown": (EXERCISE["countdown"], loader.COUNTDOWN_RANGE),
    "tempo": (DEFS["tempoSeconds"], loader.TEMPO_RANGE),
    "cue every": (DEFS["cue"]["properties"]["every"], loader.CUE_EVERY_RANGE),
    "cue at": (DEFS["cue"]["properties"]["at"], loader.CUE_AT_RANGE),
    "days per week": (
        EXERCISE["target"]["properties"]["days_per_week"],
        loader.DAYS_PER_WEEK_RANGE,
    ),
    "voice rate": (TOP["voice"]["properties"]["rate"], loader.VOICE_RATE_RANGE),
    "voice volume": (TOP["voice"]["properties"]["volume"], loader.VOICE_VOLUME_RANGE),
}


@pytest.mark.parametrize(("subschema", "bounds"), list(RANGES.values()), ids=list(RANGES))
def test_numeric_ranges_equal_the_loaders(
    subschema: dict[str, Any], bounds: tuple[float, float]
) -> None:
    """The schema's minimum and maximum for this value are the loader's range."""
    assert number_bounds(subschema) == bounds


def test_limits_and_patterns_equal_the_loaders() -> None:
    """Counts, text lengths and the duration and phase-word patterns are the loader's."""
    assert TOP["exercises"]["maxItems"] == loader.MAX_EXERCISES
    assert EXERCISE["cues"]["maxItems"] == loader.MAX_CUES
    tempo_map = next(b for b in EXERCISE["tempo"]["anyOf"] if b.get("type") == "object")
    assert tempo_map["maxProperties"] == loader.MAX_TEMPO_PHASES
    assert tempo_map["propertyNames"] == {
        "pattern": loader.PHASE_WORD_PATTERN,
        "maxLength": loader.MAX_PHASE_WORD_CHARS,
    }
    assert DEFS["durationText"]["pattern"] == loader.DURATION_PATTERN
    assert DEFS["spokenText"]["maxLength"] == loader.MAX_TEXT_CHARS
    assert DEFS["name"]["maxLength"] == loader.MAX_NAME_CHARS


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
